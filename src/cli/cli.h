/* cli.h -- client subcommands (librdkafka), shared option handling and error reporting.
 * Each command takes argv with argv[0] = its own name, prints data to stdout and diagnostics to
 * stderr (`sluice: <what failed>: <why>`), and returns 0 (ok), 1 (failure) or 2 (usage). */
#ifndef SL_CLI_H
#define SL_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "common/codec.h"

#define SL_CLI_VERSION "0.1.0"
/* Default broker address when neither -b nor SLUICE_BROKERS is given. */
#define SL_CLI_DEFAULT_BROKERS "127.0.0.1:9092"
/* How long a command waits for the broker to answer, ms. */
#define SL_CLI_TIMEOUT_MS 15000
/* How long a command waits to reach the broker at all before giving up, ms. */
#define SL_CLI_CONNECT_MS 5000

int sl_cmd_topic(int argc, char **argv);
int sl_cmd_produce(int argc, char **argv);
int sl_cmd_consume(int argc, char **argv);
int sl_cmd_broker(int argc, char **argv);
int sl_cmd_group(int argc, char **argv);
int sl_cmd_cluster(int argc, char **argv);
int sl_cmd_txn(int argc, char **argv);
int sl_cmd_acl(int argc, char **argv);
int sl_cmd_quota(int argc, char **argv);
int sl_cmd_user(int argc, char **argv);
int sl_cmd_cert(int argc, char **argv);
int sl_cmd_bench(int argc, char **argv);
int sl_cmd_run(int argc, char **argv);
int sl_cmd_sql(int argc, char **argv);
int sl_cmd_gateway(int argc, char **argv);
int sl_cmd_sink(int argc, char **argv);
/* `sluice cluster reassign|elect-leaders` (cmd_cluster_ops.c): argv[0] is the verb; `brokers`
 * the default -b. */
int sl_cmd_cluster_ops(const char *brokers, int argc, char **argv);

/* librdkafka configuration shared by the commands: bootstrap servers plus -X overrides. */
typedef struct sl_client_opts {
    const char *brokers;
    const char *props[64]; /* "key=value" */
    int n_props;
} sl_client_opts_t;

/* Handles the options common to every client command: -b/--brokers HOST:PORT and -X key=value.
 * Returns 1 if `opt` (a getopt result) was consumed. */
int sl_client_opt(sl_client_opts_t *o, int opt, const char *arg);
/* The options of a listing command: -b, -X, --json and --help. Returns -1 to go on with optind
 * at the first operand, else the exit code (0 after --help, 2 after a bad option, both with
 * usage printed). */
int sl_cli_listing_opts(int argc, char **argv, sl_client_opts_t *co, bool *json,
                        void (*usage)(FILE *f));
/* The broker address: -b if given, else $SLUICE_BROKERS if set and non-empty, else the default. */
const char *sl_client_brokers(const sl_client_opts_t *o);
/* Builds an rd_kafka_conf_t from the options. NULL (error printed) on a bad -X property. */
rd_kafka_conf_t *sl_client_conf(const sl_client_opts_t *o);
/* sl_client_conf for the interactive commands (topic, group, cluster, produce, consume): also
 * never lets a metadata request create a topic (allow.auto.create.topics=false), routes
 * librdkafka's own log lines to nowhere (SLUICE_DEBUG=1 shows them) and records client errors
 * for sl_cli_new. -X still overrides any of these. */
rd_kafka_conf_t *sl_cli_conf(const sl_client_opts_t *o);
/* Creates a client from a conf made by sl_cli_conf (consumed in every case) and waits up to
 * SL_CLI_CONNECT_MS for the broker to answer a metadata request. NULL (error printed, naming
 * the address and the cause) if it cannot be reached. */
rd_kafka_t *sl_cli_new(const sl_client_opts_t *o, rd_kafka_type_t type, rd_kafka_conf_t *conf);
/* Prints "sluice: <what>: <why>" to stderr. */
void sl_cli_error(const char *what, const char *why);

/* Parses all of `s` as a base-10 integer in [min, max]. Returns false (error naming `what` and
 * the text printed) on anything else: empty, trailing characters, out of range. */
bool sl_cli_parse_i64(const char *what, const char *s, int64_t min, int64_t max, int64_t *out);

/* Waits up to SL_CLI_TIMEOUT_MS for an admin result event of `type` on `q`. NULL (error printed)
 * on timeout or when the event carries a request-level error. */
rd_kafka_event_t *sl_cli_wait(rd_kafka_queue_t *q, rd_kafka_event_type_t type);
/* Metadata of every topic (never creates one). NULL (error printed) on failure. */
const struct rd_kafka_metadata *sl_cli_metadata(rd_kafka_t *rk);
/* The topic `name` in `md`, or NULL (error "topic NAME does not exist" printed). */
const struct rd_kafka_metadata_topic *sl_cli_find_topic(const struct rd_kafka_metadata *md,
                                                        const char *name);
/* Partition count of an existing topic, or -1 (error printed). */
int sl_cli_partition_count(rd_kafka_t *rk, const char *topic);

/* Describes the configs of a resource (a topic, or broker "0"): "configs:" then
 * "  key=value" lines with "  (set)" after non-defaults, or, with `obj`, key: value members
 * added to it. Returns 0, or 1 (error printed). */
int sl_cli_print_configs(rd_kafka_t *rk, rd_kafka_ResourceType_t type, const char *name,
                         json_t *obj);
/* Prints `j` (consumed) as indented JSON and a newline. */
void sl_cli_print_json(json_t *j);

/* kwire.c: Kafka requests without librdkafka. */
/* Connects to host:port (receive and send time out after SL_CLI_TIMEOUT_MS); -1 (error
 * printed) on failure. */
int sl_cli_dial(const char *host, int port);
/* sl_cli_dial to the first HOST:PORT of a -b list; -1 (error printed, as `cmd`'s) on failure. */
int sl_cli_dial_first(const char *brokers, const char *cmd);
/* Starts a request in `w` (empty buffer): size placeholder, header v1, or v2 when `flex`;
 * correlation id 1, client id "sluice-cli". */
void sl_cli_req_begin(sl_writer_t *w, int16_t api, int16_t version, bool flex);
/* Sends the request in `buf` and reads the whole response into `resp` (caller sl_buf_fini's
 * it); `rd` is left after the response header. False (error printed) on any failure. */
bool sl_cli_roundtrip(int fd, sl_buf_t *buf, bool flex, sl_buf_t *resp, sl_reader_t *rd);
/* 1 if every broker in the metadata lists API `api` in ApiVersions, 0 if one does not, -1 (error
 * printed) if that cannot be found out. */
int sl_cli_has_api(rd_kafka_t *rk, int16_t api);

#endif
