/* main.c -- the `sluice` command: a table of subcommands that also generates --help. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
} cmd_t;

static const cmd_t cmds[] = {
    {"broker", sl_cmd_broker, "run the Kafka-protocol broker"},
    {"topic", sl_cmd_topic,
     "create | list | describe | delete | alter-config | add-partitions | trim-prefix topics"},
    {"produce", sl_cmd_produce, "produce records from stdin to a topic (lines, --format, JSON)"},
    {"consume", sl_cmd_consume, "print records of a topic (or as a group member) to stdout"},
    {"group", sl_cmd_group,
     "list | describe | lag | seek | reset-offsets | delete consumer groups"},
    {"txn", sl_cmd_txn, "list | describe transactions"},
    {"acl", sl_cmd_acl, "add | list | remove ACLs (authorization)"},
    {"cluster", sl_cmd_cluster, "info | health | config | status | reassign | elect-leaders"},
    {"quota", sl_cmd_quota, "set | describe client quotas (byte rates, request %, connections)"},
    {"user", sl_cmd_user, "add | list | delete SCRAM users (SASL/SCRAM and SASL/PLAIN)"},
    {"cert", sl_cmd_cert, "init | ca | broker | client: test CA and TLS certificates (PEM)"},
    {"bench", sl_cmd_bench, "benchmark a broker (kafka, redis) or the batch baseline"},
    {"run", sl_cmd_run, "run a stream pipeline (a shared library; see examples/) or a .sql file"},
    {"sql", sl_cmd_sql, "the streaming SQL shell (docs/sql.md)"},
    {"gateway", sl_cmd_gateway, "HTTP front door: REST produce/consume, keys, limits, breaker"},
    {"sink", sl_cmd_sink, "deliver a topic to PostgreSQL or a webhook (docs/sinks.md)"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: sluice <command> [options]   (sluice <command> --help for more)\n"
               "       sluice --version\n\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].usage);
    }
    fprintf(f, "\nClient commands talk to -b HOST:PORT, else $SLUICE_BROKERS, else %s.\n",
            SL_CLI_DEFAULT_BROKERS);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") || !strcmp(argv[1], "version")) {
        printf("sluice %s (librdkafka %s)\n", SL_CLI_VERSION, rd_kafka_version_str());
        return 0;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (!strcmp(argv[1], cmds[i].name)) {
            return cmds[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "sluice: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
