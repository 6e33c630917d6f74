/* main.c -- the `sluice` command: a table of subcommands that also generates --help and the
 * bash completion script (`sluice completion bash`). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
    const char *verbs; /* the first words it takes, for completion; NULL: none */
} cmd_t;

static const cmd_t cmds[] = {
    {"broker", sl_cmd_broker, "run the Kafka-protocol broker", NULL},
    {"topic", sl_cmd_topic,
     "create | list | describe | delete | alter-config | add-partitions | trim-prefix topics",
     "create list describe delete alter-config add-partitions trim-prefix"},
    {"produce", sl_cmd_produce, "produce records from stdin to a topic (lines, --format, JSON)",
     NULL},
    {"consume", sl_cmd_consume, "print records of a topic (or as a group member) to stdout", NULL},
    {"group", sl_cmd_group, "list | describe | lag | seek | reset-offsets | delete consumer groups",
     "list describe lag seek reset-offsets delete"},
    {"txn", sl_cmd_txn, "list | describe transactions", "list describe"},
    {"acl", sl_cmd_acl, "add | list | remove ACLs (authorization)", "add list remove"},
    {"cluster", sl_cmd_cluster,
     "info | health | config | logdirs | status | reassign | elect-leaders",
     "info health config logdirs status reassign elect-leaders"},
    {"quota", sl_cmd_quota, "set | describe client quotas (byte rates, request %, connections)",
     "set describe"},
    {"user", sl_cmd_user, "add | list | delete SCRAM users (SASL/SCRAM and SASL/PLAIN)",
     "add list delete"},
    {"cert", sl_cmd_cert, "init | ca | broker | client: test CA and TLS certificates (PEM)",
     "init ca broker client"},
    {"bench", sl_cmd_bench, "benchmark a broker (kafka, redis) or the batch baseline", NULL},
    {"run", sl_cmd_run, "run a stream pipeline (a shared library; see examples/) or a .sql file",
     NULL},
    {"sql", sl_cmd_sql, "the streaming SQL shell (docs/sql.md)", NULL},
    {"gateway", sl_cmd_gateway, "HTTP front door: REST produce/consume, keys, limits, breaker",
     NULL},
    {"sink", sl_cmd_sink, "deliver a topic to PostgreSQL or a webhook (docs/sinks.md)", NULL},
};

/* Prints a bash completion script: commands, then each command's verbs; options after that are
 * left to the shell's file completion. */
static void completion_bash(void) {
    printf("# sluice bash completion: source <(sluice completion bash)\n"
           "_sluice() {\n"
           "    local cur=${COMP_WORDS[COMP_CWORD]} words=\n"
           "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
           "        words=\"");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        printf("%s ", cmds[i].name);
    }
    printf("completion --help --version\"\n"
           "    elif [ \"$COMP_CWORD\" -eq 2 ]; then\n"
           "        case ${COMP_WORDS[1]} in\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (cmds[i].verbs) {
            printf("        %s) words=\"%s --help\" ;;\n", cmds[i].name, cmds[i].verbs);
        }
    }
    printf("        completion) words=bash ;;\n"
           "        *) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
           "        esac\n"
           "    else\n"
           "        COMPREPLY=($(compgen -f -- \"$cur\")); return\n"
           "    fi\n"
           "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
           "}\n"
           "complete -o default -F _sluice sluice\n");
}

static void usage(FILE *f) {
    fprintf(f, "usage: sluice <command> [options]   (sluice <command> --help for more)\n"
               "       sluice --version\n"
               "       sluice completion bash   (source <(sluice completion bash))\n\n");
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
    if (!strcmp(argv[1], "completion")) {
        if (argc != 3 || strcmp(argv[2], "bash")) {
            fprintf(stderr, "usage: sluice completion bash\n");
            return 2;
        }
        completion_bash();
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
