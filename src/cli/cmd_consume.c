/* cmd_consume.c -- `sluice consume TOPIC`: print records (by partition assignment, no group). */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f) {
    fprintf(f, "usage: sluice consume TOPIC [-p PARTITION] [-o beginning|end|OFFSET|-N]\n"
               "                            [-c COUNT] [-e] [-K SEP]\n"
               "Prints each record's value on its own line (key SEP value with -K).\n"
               "  -o  where to start: beginning, end (default), an offset, or -N (N before end)\n"
               "  -c  exit after COUNT records;  -e  exit at the end of every partition\n"
               "options: -b HOST:PORT (default 127.0.0.1:9092), -X librdkafka.key=value\n");
}

static volatile sig_atomic_t stop;
static void on_sig(int sig) {
    (void)sig;
    stop = 1;
}

int sl_cmd_consume(int argc, char **argv) {
    static const struct option opts[] = {
        {"brokers", required_argument, 0, 'b'}, {"partition", required_argument, 0, 'p'},
        {"offset", required_argument, 0, 'o'},  {"count", required_argument, 0, 'c'},
        {"exit", no_argument, 0, 'e'},          {"key-sep", required_argument, 0, 'K'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
    };
    sl_client_opts_t co = {0};
    int32_t partition = -1;
    int64_t start = RD_KAFKA_OFFSET_END;
    long count = -1;
    bool exit_eof = false;
    const char *sep = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:X:p:o:c:eK:h", opts, NULL)) != -1) {
        if (sl_client_opt(&co, c, optarg)) {
            continue;
        }
        switch (c) {
        case 'p':
            partition = atoi(optarg);
            break;
        case 'o':
            if (!strcmp(optarg, "beginning")) {
                start = RD_KAFKA_OFFSET_BEGINNING;
            } else if (!strcmp(optarg, "end")) {
                start = RD_KAFKA_OFFSET_END;
            } else {
                char *end;
                long long v = strtoll(optarg, &end, 10);
                if (*end) {
                    usage(stderr);
                    return 2;
                }
                start = v < 0 ? RD_KAFKA_OFFSET_TAIL(-v) : v;
            }
            break;
        case 'c':
            count = atol(optarg);
            break;
        case 'e':
            exit_eof = true;
            break;
        case 'K':
            sep = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    const char *topic = argv[optind];
    rd_kafka_conf_t *conf = sl_client_conf(&co);
    if (!conf) {
        return 2;
    }
    char errstr[512];
    /* group.id is required by the consumer API even without a group; nothing is committed. */
    if (rd_kafka_conf_set(conf, "group.id", "sluice-consume", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof errstr)) {
        sl_cli_error("consume", errstr);
        rd_kafka_conf_destroy(conf);
        return 2;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        sl_cli_error("client", errstr);
        return 1;
    }
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (err || md->topic_cnt != 1 || md->topics[0].err) {
        sl_cli_error(topic, rd_kafka_err2str(err ? err : md->topics[0].err));
        if (!err) {
            rd_kafka_metadata_destroy(md);
        }
        rd_kafka_destroy(rk);
        return 1;
    }
    int n_parts = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_t *tpl = rd_kafka_topic_partition_list_new(n_parts);
    for (int p = 0; p < n_parts; p++) {
        if (partition < 0 || partition == p) {
            rd_kafka_topic_partition_list_add(tpl, topic, p)->offset = start;
        }
    }
    int assigned = tpl->cnt;
    if (assigned == 0) {
        sl_cli_error(topic, "no such partition");
        rd_kafka_topic_partition_list_destroy(tpl);
        rd_kafka_destroy(rk);
        return 1;
    }
    err = rd_kafka_assign(rk, tpl);
    rd_kafka_topic_partition_list_destroy(tpl);
    if (err) {
        sl_cli_error("assign", rd_kafka_err2str(err));
        rd_kafka_destroy(rk);
        return 1;
    }
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    int eofs = 0, rc = 0;
    long got = 0;
    while (!stop && (count < 0 || got < count) && (!exit_eof || eofs < assigned)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) {
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (m->err) {
            sl_cli_error("consume", rd_kafka_message_errstr(m));
            rc = 1;
            if (m->err != RD_KAFKA_RESP_ERR__TRANSPORT) {
                stop = 1;
            }
        } else {
            if (sep) {
                fwrite(m->key ? m->key : "", 1, m->key ? m->key_len : 0, stdout);
                fputs(sep, stdout);
            }
            fwrite(m->payload ? m->payload : "", 1, m->len, stdout);
            fputc('\n', stdout);
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    fflush(stdout);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
