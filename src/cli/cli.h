/* cli.h -- client subcommands (librdkafka), shared option handling and error reporting.
 * Each command takes argv with argv[0] = its own name, prints data to stdout and diagnostics to
 * stderr (`sluice: <what failed>: <why>`), and returns 0 (ok), 1 (failure) or 2 (usage). */
#ifndef SL_CLI_H
#define SL_CLI_H

#include <librdkafka/rdkafka.h>

int sl_cmd_topic(int argc, char **argv);
int sl_cmd_produce(int argc, char **argv);
int sl_cmd_consume(int argc, char **argv);
int sl_cmd_broker(int argc, char **argv);
int sl_cmd_group(int argc, char **argv);
int sl_cmd_bench(int argc, char **argv);
int sl_cmd_run(int argc, char **argv);
int sl_cmd_sql(int argc, char **argv);

/* librdkafka configuration shared by the commands: bootstrap servers plus -X overrides. */
typedef struct sl_client_opts {
    const char *brokers;
    const char *props[64]; /* "key=value" */
    int n_props;
} sl_client_opts_t;

/* Handles the options common to every client command: -b/--brokers HOST:PORT and -X key=value.
 * Returns 1 if `opt` (a getopt result) was consumed. */
int sl_client_opt(sl_client_opts_t *o, int opt, const char *arg);
/* Builds an rd_kafka_conf_t from the options. NULL (error printed) on a bad -X property. */
rd_kafka_conf_t *sl_client_conf(const sl_client_opts_t *o);
/* Prints "sluice: <what>: <why>" to stderr. */
void sl_cli_error(const char *what, const char *why);

#endif
