/* cmd_sink.c -- `sluice sink postgres|webhook`: options for the sinks in src/sink/. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "sink/pg.h"
#include "sink/webhook.h"

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: sluice sink postgres --topic T --group G --dsn DSN --table TABLE\n"
        "                            --map 'col=field,col2=a.b,...' [--upsert-key COL]\n"
        "                            [--batch-size N] [--linger-ms MS] [common options]\n"
        "       sluice sink webhook  --topic T --group G --url URL [--batch N]\n"
        "                            [--max-retries N] [--timeout-ms MS] [--backoff-ms MS]\n"
        "                            [--backoff-max-ms MS] [--retry-after-max-ms MS]\n"
        "                            [--breaker-failures N] [--breaker-cooldown-ms MS]\n"
        "                            [--linger-ms MS] [common options]\n"
        "Delivers the JSON records of a topic from a consumer group (run more instances for\n"
        "more throughput). docs/sinks.md has the details.\n"
        "  postgres  rows of TABLE, exactly once: offsets are kept in sluice_sink_offsets in\n"
        "            the same transaction; --upsert-key (a column with a unique index)\n"
        "            updates the row with that key instead of inserting; one transaction per\n"
        "            --batch-size records (default 500) or --linger-ms (default 100)\n"
        "  webhook   POSTs each record (or a JSON array of --batch N records) to URL, at least\n"
        "            once; 2xx delivered, 408/429/5xx/timeouts retried with backoff and full\n"
        "            jitter (Retry-After honoured), other answers dead-lettered; a circuit\n"
        "            breaker opens after --breaker-failures (5) failures in a row\n"
        "common options:\n"
        "  --dlq-topic T   dead letters (default TOPIC.dlq; it must exist), with headers\n"
        "                  dlq.reason, dlq.error, dlq.topic, dlq.partition, dlq.offset\n"
        "  --admin H:P     serve /metrics (Prometheus) and /health on H:P\n"
        "  --log-every-ms MS  a stats line on stderr every MS (default 10000, 0 = never)\n"
        "  -b HOST:PORT (default $SLUICE_BROKERS, else 127.0.0.1:9092), -X librdkafka.key=value\n");
}

enum {
    O_TOPIC = 256,
    O_GROUP,
    O_DLQ,
    O_ADMIN,
    O_LOG,
    O_DSN,
    O_TABLE,
    O_MAP,
    O_UPSERT,
    O_BATCH_SIZE,
    O_LINGER,
    O_URL,
    O_BATCH,
    O_RETRIES,
    O_TIMEOUT,
    O_BACKOFF,
    O_BACKOFF_MAX,
    O_RA_MAX,
    O_BRK_N,
    O_BRK_COOL,
};

int sl_cmd_sink(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *kind = argv[1];
    bool is_pg = !strcmp(kind, "postgres"), is_wh = !strcmp(kind, "webhook");
    if (!is_pg && !is_wh) {
        fprintf(stderr, "sluice: sink: unknown kind '%s' (postgres or webhook)\n", kind);
        return 2;
    }
    static const struct option opts[] = {
        {"topic", required_argument, NULL, O_TOPIC},
        {"group", required_argument, NULL, O_GROUP},
        {"dlq-topic", required_argument, NULL, O_DLQ},
        {"admin", required_argument, NULL, O_ADMIN},
        {"log-every-ms", required_argument, NULL, O_LOG},
        {"dsn", required_argument, NULL, O_DSN},
        {"table", required_argument, NULL, O_TABLE},
        {"map", required_argument, NULL, O_MAP},
        {"upsert-key", required_argument, NULL, O_UPSERT},
        {"batch-size", required_argument, NULL, O_BATCH_SIZE},
        {"linger-ms", required_argument, NULL, O_LINGER},
        {"url", required_argument, NULL, O_URL},
        {"batch", required_argument, NULL, O_BATCH},
        {"max-retries", required_argument, NULL, O_RETRIES},
        {"timeout-ms", required_argument, NULL, O_TIMEOUT},
        {"backoff-ms", required_argument, NULL, O_BACKOFF},
        {"backoff-max-ms", required_argument, NULL, O_BACKOFF_MAX},
        {"retry-after-max-ms", required_argument, NULL, O_RA_MAX},
        {"breaker-failures", required_argument, NULL, O_BRK_N},
        {"breaker-cooldown-ms", required_argument, NULL, O_BRK_COOL},
        {"brokers", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    sl_client_opts_t co = {0};
    sl_sink_config_t cfg = {.batch_max = is_pg ? 500 : 1, .linger_ms = 100, .log_every_ms = 10000};
    sl_pg_sink_t pg = {0};
    sl_webhook_sink_t wh = {.max_retries = 8,
                            .timeout_ms = 5000,
                            .backoff_ms = 100,
                            .backoff_max_ms = 10000,
                            .retry_after_max_ms = 60000};
    int64_t brk_n = 5, brk_cool = 2000, v;
    const char *map = NULL;
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "b:X:h", opts, NULL)) != -1) {
        if (sl_client_opt(&co, c, optarg)) {
            continue;
        }
        bool ok = true;
        switch (c) {
        case O_TOPIC:
            cfg.topic = optarg;
            break;
        case O_GROUP:
            cfg.group = optarg;
            break;
        case O_DLQ:
            cfg.dlq_topic = optarg;
            break;
        case O_ADMIN:
            cfg.admin = optarg;
            break;
        case O_LOG:
            ok = sl_cli_parse_i64("--log-every-ms", optarg, 0, 86400000, &v);
            cfg.log_every_ms = (int)v;
            break;
        case O_DSN:
            pg.dsn = optarg;
            break;
        case O_TABLE:
            pg.table = optarg;
            break;
        case O_MAP:
            map = optarg;
            break;
        case O_UPSERT:
            pg.upsert_key = optarg;
            break;
        case O_BATCH_SIZE:
        case O_BATCH:
            ok = sl_cli_parse_i64(c == O_BATCH ? "--batch" : "--batch-size", optarg, 1, 100000, &v);
            cfg.batch_max = (int)v;
            wh.always_array = c == O_BATCH;
            break;
        case O_LINGER:
            ok = sl_cli_parse_i64("--linger-ms", optarg, 0, 60000, &v);
            cfg.linger_ms = (int)v;
            break;
        case O_URL:
            wh.url = optarg;
            break;
        case O_RETRIES:
            ok = sl_cli_parse_i64("--max-retries", optarg, 0, 1000000, &v);
            wh.max_retries = (int)v;
            break;
        case O_TIMEOUT:
            ok = sl_cli_parse_i64("--timeout-ms", optarg, 1, 3600000, &wh.timeout_ms);
            break;
        case O_BACKOFF:
            ok = sl_cli_parse_i64("--backoff-ms", optarg, 1, 3600000, &wh.backoff_ms);
            break;
        case O_BACKOFF_MAX:
            ok = sl_cli_parse_i64("--backoff-max-ms", optarg, 1, 3600000, &wh.backoff_max_ms);
            break;
        case O_RA_MAX:
            ok = sl_cli_parse_i64("--retry-after-max-ms", optarg, 0, 3600000,
                                  &wh.retry_after_max_ms);
            break;
        case O_BRK_N:
            ok = sl_cli_parse_i64("--breaker-failures", optarg, 1, 1000000, &brk_n);
            break;
        case O_BRK_COOL:
            ok = sl_cli_parse_i64("--breaker-cooldown-ms", optarg, 0, 3600000, &brk_cool);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (!ok) {
            return 2;
        }
    }
    if (optind < argc || !cfg.topic || !cfg.group) {
        sl_cli_error("sink", "--topic and --group are required (and no other arguments)");
        return 2;
    }
    rd_kafka_conf_t *conf = NULL;
    int rc;
    if (is_pg) {
        char err[256];
        if (!pg.dsn || !pg.table || !map) {
            sl_cli_error("sink postgres", "--dsn, --table and --map are required");
            return 2;
        }
        if (!sl_sink_map_parse(&pg.map, map, err)) {
            sl_cli_error("--map", err);
            return 2;
        }
        if (!(conf = sl_client_conf(&co))) {
            sl_pg_sink_fini(&pg);
            return 2;
        }
        rc = sl_sink_run(&cfg, conf, &sl_pg_backend, &pg);
        sl_pg_sink_fini(&pg);
        return rc;
    }
    if (!wh.url) {
        sl_cli_error("sink webhook", "--url is required");
        return 2;
    }
    sl_breaker_init(&wh.breaker, (int)brk_n, brk_cool);
    if (!(conf = sl_client_conf(&co))) {
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = sl_sink_run(&cfg, conf, &sl_webhook_backend, &wh);
    sl_webhook_sink_fini(&wh);
    curl_global_cleanup();
    return rc;
}
