/* cmd_produce.c -- `sluice produce TOPIC`: one record per stdin line, delivery reports awaited. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f) {
    fprintf(f, "usage: sluice produce TOPIC [-p PARTITION] [-K SEP] [--acks 0|1|all]\n"
               "                            [-z none|gzip|snappy|lz4|zstd] [-H key=value ...]\n"
               "Reads lines from stdin, one record each. With -K SEP, the text before the first\n"
               "SEP is the key. Exits 1 if any record was not acknowledged.\n"
               "options: -b HOST:PORT (default 127.0.0.1:9092), -X librdkafka.key=value\n");
}

static long failed, delivered;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    if (m->err) {
        if (failed++ < 5) {
            sl_cli_error("delivery", rd_kafka_err2str(m->err));
        }
    } else {
        delivered++;
    }
}

int sl_cmd_produce(int argc, char **argv) {
    static const struct option opts[] = {
        {"brokers", required_argument, 0, 'b'},
        {"partition", required_argument, 0, 'p'},
        {"key-sep", required_argument, 0, 'K'},
        {"acks", required_argument, 0, 'a'},
        {"compression", required_argument, 0, 'z'},
        {"header", required_argument, 0, 'H'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    sl_client_opts_t co = {0};
    int32_t partition = RD_KAFKA_PARTITION_UA;
    const char *sep = NULL, *acks = "all", *codec = "none";
    char *headers[32];
    int n_headers = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:X:p:K:a:z:H:h", opts, NULL)) != -1) {
        if (sl_client_opt(&co, c, optarg)) {
            continue;
        }
        switch (c) {
        case 'p':
            partition = atoi(optarg);
            break;
        case 'K':
            sep = optarg;
            break;
        case 'a':
            acks = optarg;
            break;
        case 'z':
            codec = optarg;
            break;
        case 'H':
            if (n_headers < 32) {
                headers[n_headers++] = optarg;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc || (sep && !*sep)) {
        usage(stderr);
        return 2;
    }
    const char *topic = argv[optind];
    rd_kafka_conf_t *conf = sl_client_conf(&co);
    if (!conf) {
        return 2;
    }
    char errstr[512];
    if (rd_kafka_conf_set(conf, "acks", acks, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "compression.codec", codec, errstr, sizeof errstr)) {
        sl_cli_error("produce", errstr);
        rd_kafka_conf_destroy(conf);
        return 2;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        sl_cli_error("client", errstr);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long sent = 0;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        if (len > 0 && line[len - 1] == '\n') {
            line[--len] = '\0';
        }
        const char *key = NULL, *val = line;
        size_t klen = 0, vlen = (size_t)len;
        if (sep) {
            char *s = strstr(line, sep);
            if (s) {
                key = line;
                klen = (size_t)(s - line);
                val = s + strlen(sep);
                vlen = (size_t)len - klen - strlen(sep);
            }
        }
        rd_kafka_headers_t *hdrs = NULL;
        if (n_headers) {
            hdrs = rd_kafka_headers_new((size_t)n_headers);
            for (int i = 0; i < n_headers; i++) {
                char *eq = strchr(headers[i], '=');
                size_t nlen = eq ? (size_t)(eq - headers[i]) : strlen(headers[i]);
                rd_kafka_header_add(hdrs, headers[i], (ssize_t)nlen, eq ? eq + 1 : NULL, -1);
            }
        }
        for (;;) {
            rd_kafka_resp_err_t err = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, klen),
                RD_KAFKA_V_VALUE((void *)val, vlen), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 100);
                continue;
            }
            if (err) {
                sl_cli_error("produce", rd_kafka_err2str(err));
                if (hdrs) {
                    rd_kafka_headers_destroy(hdrs);
                }
                failed++;
            } else {
                sent++;
            }
            break;
        }
        rd_kafka_poll(rk, 0);
    }
    free(line);
    while (rd_kafka_outq_len(rk) > 0 && rd_kafka_flush(rk, 1000) == RD_KAFKA_RESP_ERR__TIMED_OUT) {
    }
    rd_kafka_destroy(rk);
    if (failed) {
        fprintf(stderr, "sluice: produce: %ld of %ld records not acknowledged\n", failed,
                sent + failed);
        return 1;
    }
    return 0;
}
