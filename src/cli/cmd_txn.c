/* cmd_txn.c -- `sluice txn list|describe`: the transactions a cluster knows. librdkafka 2.0 has
 * no admin call for them, so this speaks the Kafka protocol itself over a blocking socket:
 *   list:     Metadata (through librdkafka) for the brokers, then ListTransactions v0 (API 66)
 *             to each: state_filters [], producer_id_filters [] -> error_code,
 *             transaction_states [transactional_id, producer_id, transaction_state]
 *   describe: FindCoordinator v1 (API 10, key_type 1) at the bootstrap broker, then
 *             DescribeTransactions v0 (API 65) at the coordinator -> error_code, state, timeout,
 *             start time, producer id and epoch, topics [name, partitions].
 * The requests go through kwire.c; a response must decode to its last byte, and a malformed
 * answer is an error, never a crash. */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/codec.h"
#include "proto/kerr.h"

static void usage(FILE *f) {
    fprintf(f, "usage: sluice txn list [--json]\n"
               "       sluice txn describe TRANSACTIONAL_ID [--json]\n"
               "A transactional id the coordinator does not know is an error (exit 1).\n"
               "options: -b HOST:PORT (default $SLUICE_BROKERS, else 127.0.0.1:9092), "
               "-X librdkafka.key=value\n");
}

static const char *kerr_text(int16_t code) {
    return rd_kafka_err2str((rd_kafka_resp_err_t)code);
}

static int txn_list(rd_kafka_t *rk, bool json) {
    const struct rd_kafka_metadata *md = sl_cli_metadata(rk);
    if (!md) {
        return 1;
    }
    json_t *arr = json_array();
    int rc = 0;
    for (int b = 0; b < md->broker_cnt && !rc; b++) {
        int fd = sl_cli_dial(md->brokers[b].host, md->brokers[b].port);
        if (fd < 0) {
            rc = 1;
            break;
        }
        sl_buf_t req = {0}, resp = {0};
        sl_writer_t w = {&req};
        sl_cli_req_begin(&w, 66, 0, true);
        sl_wr_array_len(&w, true, 0); /* state_filters */
        sl_wr_array_len(&w, true, 0); /* producer_id_filters */
        sl_wr_tags(&w, true);
        sl_reader_t rd;
        if (!sl_cli_roundtrip(fd, &req, true, &resp, &rd)) {
            rc = 1;
        } else {
            sl_rd_i32(&rd); /* throttle */
            int16_t ec = sl_rd_i16(&rd);
            int32_t nu = sl_rd_count(&rd, true, 1);
            for (int32_t i = 0; i < nu && !rd.err; i++) {
                sl_rd_str(&rd, true);
            }
            int32_t n = sl_rd_count(&rd, true, 11);
            for (int32_t i = 0; i < n && !rd.err; i++) {
                sl_str_t id = sl_rd_str(&rd, true);
                int64_t pid = sl_rd_i64(&rd);
                sl_str_t st = sl_rd_str(&rd, true);
                sl_rd_tags(&rd, true);
                if (!rd.err && id.p && st.p) {
                    json_array_append_new(arr, json_pack("{s:s%, s:I, s:s%}", "transactional_id",
                                                         id.p, id.len, "producer_id",
                                                         (json_int_t)pid, "state", st.p, st.len));
                }
            }
            sl_rd_tags(&rd, true);
            if (rd.err || sl_rd_left(&rd)) {
                sl_cli_error("ListTransactions", "malformed response");
                rc = 1;
            } else if (ec) {
                sl_cli_error("ListTransactions", kerr_text(ec));
                rc = 1;
            }
        }
        sl_buf_fini(&req);
        sl_buf_fini(&resp);
        close(fd);
    }
    rd_kafka_metadata_destroy(md);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    if (json) {
        sl_cli_print_json(arr);
        return 0;
    }
    printf("%-40s %14s  %s\n", "TRANSACTIONAL-ID", "PRODUCER-ID", "STATE");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *t = json_array_get(arr, i);
        printf("%-40s %14" JSON_INTEGER_FORMAT "  %s\n",
               json_string_value(json_object_get(t, "transactional_id")),
               json_integer_value(json_object_get(t, "producer_id")),
               json_string_value(json_object_get(t, "state")));
    }
    json_decref(arr);
    return 0;
}

/* The transaction coordinator of `id`: host (static storage) and port, via the bootstrap. */
static bool find_coordinator(const sl_client_opts_t *co, const char *id, char *host, size_t hcap,
                             int *port) {
    char boot[256];
    snprintf(boot, sizeof boot, "%s", sl_client_brokers(co));
    char *comma = strchr(boot, ',');
    if (comma) {
        *comma = '\0';
    }
    char *colon = strrchr(boot, ':');
    int64_t bport = 9092;
    if (colon) {
        *colon = '\0';
        if (!sl_cli_parse_i64("broker port", colon + 1, 1, 65535, &bport)) {
            return false;
        }
    }
    int fd = sl_cli_dial(boot, (int)bport);
    if (fd < 0) {
        return false;
    }
    sl_buf_t req = {0}, resp = {0};
    sl_writer_t w = {&req};
    sl_cli_req_begin(&w, 10, 1, false);
    sl_wr_strz(&w, false, id);
    sl_wr_i8(&w, 1); /* key_type: transaction */
    sl_reader_t rd;
    bool ok = sl_cli_roundtrip(fd, &req, false, &resp, &rd);
    if (ok) {
        sl_rd_i32(&rd);
        int16_t ec = sl_rd_i16(&rd);
        sl_rd_str(&rd, false);
        sl_rd_i32(&rd); /* node id */
        sl_str_t h = sl_rd_str(&rd, false);
        *port = sl_rd_i32(&rd);
        if (rd.err || !h.p || sl_rd_left(&rd)) {
            sl_cli_error("FindCoordinator", "malformed response");
            ok = false;
        } else if (ec) {
            sl_cli_error("FindCoordinator", kerr_text(ec));
            ok = false;
        } else {
            snprintf(host, hcap, "%.*s", (int)h.len, h.p);
        }
    }
    sl_buf_fini(&req);
    sl_buf_fini(&resp);
    close(fd);
    return ok;
}

static int txn_describe(const sl_client_opts_t *co, const char *id, bool json) {
    char host[256];
    int port;
    if (!find_coordinator(co, id, host, sizeof host, &port)) {
        return 1;
    }
    int fd = sl_cli_dial(host, port);
    if (fd < 0) {
        return 1;
    }
    sl_buf_t req = {0}, resp = {0};
    sl_writer_t w = {&req};
    sl_cli_req_begin(&w, 65, 0, true);
    sl_wr_array_len(&w, true, 1);
    sl_wr_strz(&w, true, id);
    sl_wr_tags(&w, true);
    sl_reader_t rd;
    int rc = 1;
    if (sl_cli_roundtrip(fd, &req, true, &resp, &rd)) {
        sl_rd_i32(&rd);
        int32_t n = sl_rd_count(&rd, true, 1);
        json_t *o = NULL;
        int16_t ec = 0;
        for (int32_t i = 0; i < n && !rd.err; i++) {
            ec = sl_rd_i16(&rd);
            sl_str_t tid = sl_rd_str(&rd, true);
            sl_str_t st = sl_rd_str(&rd, true);
            int32_t timeout = sl_rd_i32(&rd);
            int64_t start = sl_rd_i64(&rd);
            int64_t pid = sl_rd_i64(&rd);
            int16_t epoch = sl_rd_i16(&rd);
            json_t *topics = json_array();
            int32_t nt = sl_rd_count(&rd, true, 3);
            for (int32_t t = 0; t < nt && !rd.err; t++) {
                sl_str_t tn = sl_rd_str(&rd, true);
                json_t *parts = json_array();
                int32_t np = sl_rd_count(&rd, true, 4);
                for (int32_t p = 0; p < np && !rd.err; p++) {
                    json_array_append_new(parts, json_integer(sl_rd_i32(&rd)));
                }
                sl_rd_tags(&rd, true);
                json_array_append_new(topics, json_pack("{s:s%, s:o}", "topic", tn.p ? tn.p : "",
                                                        tn.p ? tn.len : 0, "partitions", parts));
            }
            sl_rd_tags(&rd, true);
            if (!rd.err && !o) {
                o = json_pack("{s:s%, s:s%, s:I, s:i, s:i, s:I, s:o}", "transactional_id",
                              tid.p ? tid.p : "", tid.p ? tid.len : 0, "state", st.p ? st.p : "",
                              st.p ? st.len : 0, "producer_id", (json_int_t)pid, "producer_epoch",
                              epoch, "timeout_ms", timeout, "start_time_ms", (json_int_t)start,
                              "partitions", topics);
            } else {
                json_decref(topics);
            }
        }
        sl_rd_tags(&rd, true);
        if (rd.err || n != 1 || !o || sl_rd_left(&rd)) {
            sl_cli_error("DescribeTransactions", "malformed response");
        } else if (ec == KERR_TRANSACTIONAL_ID_NOT_FOUND) {
            fprintf(stderr, "sluice: transaction %s does not exist\n", id);
        } else if (ec) {
            sl_cli_error(id, kerr_text(ec));
        } else if (json) {
            sl_cli_print_json(json_incref(o));
            rc = 0;
        } else {
            printf("transaction %s: state %s, producer id %" JSON_INTEGER_FORMAT
                   ", epoch %" JSON_INTEGER_FORMAT ", timeout %" JSON_INTEGER_FORMAT
                   " ms, started at %" JSON_INTEGER_FORMAT "\n",
                   id, json_string_value(json_object_get(o, "state")),
                   json_integer_value(json_object_get(o, "producer_id")),
                   json_integer_value(json_object_get(o, "producer_epoch")),
                   json_integer_value(json_object_get(o, "timeout_ms")),
                   json_integer_value(json_object_get(o, "start_time_ms")));
            json_t *ts = json_object_get(o, "partitions");
            for (size_t t = 0; t < json_array_size(ts); t++) {
                json_t *e = json_array_get(ts, t), *ps = json_object_get(e, "partitions");
                for (size_t p = 0; p < json_array_size(ps); p++) {
                    printf("  %s-%" JSON_INTEGER_FORMAT "\n",
                           json_string_value(json_object_get(e, "topic")),
                           json_integer_value(json_array_get(ps, p)));
                }
            }
            rc = 0;
        }
        json_decref(o);
    }
    sl_buf_fini(&req);
    sl_buf_fini(&resp);
    close(fd);
    return rc;
}

int sl_cmd_txn(int argc, char **argv) {
    sl_client_opts_t co = {0};
    bool json = false;
    int early = sl_cli_listing_opts(argc, argv, &co, &json, usage);
    if (early >= 0) {
        return early;
    }
    const char *verb = optind < argc ? argv[optind] : "";
    bool list = !strcmp(verb, "list"), desc = !strcmp(verb, "describe");
    if ((!list && !desc) || optind + (list ? 1 : 2) != argc) {
        if (!list && !desc && *verb) {
            fprintf(stderr, "sluice: txn: unknown subcommand '%s'\n", verb);
        }
        usage(stderr);
        return 2;
    }
    /* The librdkafka client checks that the broker is reachable and finds the brokers. */
    rd_kafka_conf_t *conf = sl_cli_conf(&co);
    if (!conf) {
        return 2;
    }
    rd_kafka_t *rk = sl_cli_new(&co, RD_KAFKA_PRODUCER, conf);
    if (!rk) {
        return 1;
    }
    int rc = list ? txn_list(rk, json) : txn_describe(&co, argv[optind + 1], json);
    rd_kafka_destroy(rk);
    return rc;
}
