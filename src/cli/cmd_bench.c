/* cmd_bench.c -- `sluice bench`: the benchmark harness (src/bench/). Settings come from the
 * defaults, then a workload file (properties files in bench/workloads/), then flags. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/nexmark.h"
#include "cli/cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: sluice bench [--workload FILE] [--driver kafka|redis|batch] [-b BROKERS]\n"
            "                    [--rate MSG_PER_S] [--size BYTES] [--duration S] [--warmup S]\n"
            "                    [--topic NAME] [--partitions N] [--producers N] [--consumers N]\n"
            "                    [--keys uniform|zipf:S|hot:FRACTION] [--burst FACTORxSECONDS]\n"
            "                    [--acks 0|1|all] [--json FILE] [--set key=value ...]\n"
            "                    [--payload fixed|chat|transaction|iot|mix] [--sizes SIZE:W,...]\n"
            "                    [--disorder MS]\n"
            "                    [--connections N]\n"
            "       sluice bench --nexmark [-b BROKERS] [--topic NAME] [--partitions N]\n"
            "                    [--rate EVENTS_PER_S] [--count N | --duration S] [--set k=v ...]\n"
            "Open-loop producers send at the given rate; latency is measured from each record's\n"
            "intended send time to its receipt; lost and duplicated records are counted from\n"
            "per-producer sequence numbers. --payload renders each record as the design's data\n"
            "(id, event time, user, metadata, a chat/transaction/iot body); --sizes draws each\n"
            "record's size from a weighted mix (e.g. 1k:80,10k:15,100k:5; overrides --size);\n"
            "--disorder moves the event time of a share (disorder.fraction, default 0.1) of\n"
            "records back by 1..MS ms, and consumers report the share seen out of order.\n"
            "--connections N (kafka driver) spreads the producers' records round-robin over N\n"
            "client connections of raw Produce v7 requests on epoll (tens of thousands from one\n"
            "process; against a loopback broker, from source addresses 127.0.0.2, .3, ..., each\n"
            "taking 40%% of the ephemeral port range, at most 20,000); the summary and the JSON\n"
            "add connect time, connections up and records failed.\n"
            "--nexmark produces Nexmark's person/auction/bid events as flat JSON objects with\n"
            "Nexmark's field names and an event_type (0 person, 1 auction, 2 bid) into one topic\n"
            "(default nexmark), 1:3:46, keyed by person id (people) or auction id (auctions,\n"
            "bids), the record timestamp being the event's dateTime; --rate paces it (event time\n"
            "follows the clock), --rate 0 sends as fast as possible with event time advancing at\n"
            "nexmark.event.rate (with --count: ending now); payload.seed repeats the events.\n"
            "--help-config lists every setting.\n");
}

int sl_cmd_bench(int argc, char **argv) {
    static const struct option opts[] = {
        {"workload", required_argument, 0, 'w'},
        {"driver", required_argument, 0, 'd'},
        {"brokers", required_argument, 0, 'b'},
        {"rate", required_argument, 0, 'r'},
        {"size", required_argument, 0, 's'},
        {"duration", required_argument, 0, 'D'},
        {"warmup", required_argument, 0, 'W'},
        {"topic", required_argument, 0, 't'},
        {"partitions", required_argument, 0, 'p'},
        {"producers", required_argument, 0, 'P'},
        {"consumers", required_argument, 0, 'C'},
        {"keys", required_argument, 0, 'k'},
        {"burst", required_argument, 0, 'B'},
        {"acks", required_argument, 0, 'a'},
        {"json", required_argument, 0, 'j'},
        {"payload", required_argument, 0, 'y'}, /* record bodies: src/bench/payload.h */
        {"sizes", required_argument, 0, 'z'},
        {"disorder", required_argument, 0, 'o'},
        {"connections", required_argument, 0, 'n'},
        {"nexmark", no_argument, 0, 'N'},
        {"count", required_argument, 0, 'c'},
        {"set", required_argument, 0, 'S'},
        {"help", no_argument, 0, 'h'},
        {"help-config", no_argument, 0, 'H'},
        {0, 0, 0, 0},
    };
    static const char *keys['z' + 1] = {
        ['d'] = "driver",      ['b'] = "brokers",     ['r'] = "rate",    ['s'] = "size",
        ['D'] = "duration",    ['W'] = "warmup",      ['t'] = "topic",   ['p'] = "partitions",
        ['P'] = "producers",   ['C'] = "consumers",   ['k'] = "keys",    ['B'] = "burst",
        ['a'] = "acks",        ['j'] = "json",        ['y'] = "payload", ['z'] = "sizes",
        ['o'] = "disorder.ms", ['n'] = "connections", ['c'] = "count",
    };
    sl_bench_conf_t c;
    sl_conf_defaults(sl_bench_conf_defs, sl_bench_conf_n_defs, &c);
    bool nexmark_topic = false; /* --nexmark's topic defaults to "nexmark" */
    char err[SL_ERRLEN];
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "b:h", opts, NULL)) != -1) {
        if (o == 'w' &&
            sl_conf_load_file(sl_bench_conf_defs, sl_bench_conf_n_defs, &c, optarg, err) != SL_OK) {
            fprintf(stderr, "sluice: bench: %s\n", err);
            return 2;
        }
        if (o == 'h') {
            usage(stdout);
            return 0;
        }
        if (o == 'H') {
            for (size_t i = 0; i < sl_bench_conf_n_defs; i++) {
                printf("%-16s %-16s %s\n", sl_bench_conf_defs[i].name, sl_bench_conf_defs[i].def,
                       sl_bench_conf_defs[i].help);
            }
            return 0;
        }
        if (o == '?') {
            usage(stderr);
            return 2;
        }
    }
    optind = 1;
    while ((o = getopt_long(argc, argv, "b:h", opts, NULL)) != -1) {
        sl_err_t rc = SL_OK;
        if (o == 'S') {
            rc = sl_conf_set_kv(sl_bench_conf_defs, sl_bench_conf_n_defs, &c, optarg, err);
            nexmark_topic |= strncmp(optarg, "topic=", 6) == 0;
        } else if (o == 'N') {
            rc = sl_conf_set(sl_bench_conf_defs, sl_bench_conf_n_defs, &c, "nexmark", "true", err);
        } else if (o >= 0 && o <= 'z' && keys[o]) {
            nexmark_topic |= o == 't';
            rc = sl_conf_set(sl_bench_conf_defs, sl_bench_conf_n_defs, &c, keys[o], optarg, err);
        }
        if (rc != SL_OK) {
            fprintf(stderr, "sluice: bench: %s\n", err);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    if (c.nexmark) {
        if (!nexmark_topic) {
            snprintf(c.topic, sizeof c.topic, "nexmark");
        }
        return sl_nexmark_run(&c);
    }
    return sl_bench_run(&c);
}
