/* cmd_broker.c -- `sluice broker`: parse flags and properties, start the broker, run it. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "cli/cli.h"
#include "common/log.h"

void sl_broker_write_port_file(sl_broker_t *b, const char *path, char *err);

static void usage(FILE *f) {
    fprintf(
        f, "usage: sluice broker [options]\n"
           "  --data-dir DIR          data directory (default ./data)\n"
           "  --listen HOST:PORT      Kafka protocol listener (default 127.0.0.1:9092; port 0 =\n"
           "                          any free port); several, with TLS or SASL: --set\n"
           "                          listeners=PLAINTEXT://H:P,SSL://H:P,SASL_SSL://H:P\n"
           "                          (docs/security.md)\n"
           "  --admin-listen HOST:PORT  admin HTTP: /health /ready /metrics (default\n"
           "                          127.0.0.1:9644; 'none' disables)\n"
           "  --advertise HOST:PORT   address given to clients (default: the bound listener;\n"
           "                          per listener: advertised.listeners=SSL://H:P,...)\n"
           "  --config FILE           Kafka-style properties file\n"
           "  --set KEY=VALUE         set one property (repeatable; overrides --config)\n"
           "  --port-file FILE        write the bound ports (kafka=N, kafka.NAME=N per\n"
           "                          listener, admin=N) atomically\n"
           "  --node-id N             this broker's id (node.id)\n"
           "  --controller-quorum ID@HOST:PORT,...  join a cluster whose Raft metadata quorum\n"
           "                          is these voters (controller.quorum.voters; docs/cluster.md)\n"
           "  --help-config           list every property with its default\n");
}

static void help_config(void) {
    for (size_t i = 0; i < sl_broker_conf_n_defs; i++) {
        const sl_conf_def_t *d = &sl_broker_conf_defs[i];
        const char *def = d->def ? d->def : d->type == SL_CONF_PREFIX ? "(prefix)" : "(alias)";
        printf("%-42s %-22s %s\n", d->name, def, d->help);
    }
}

int sl_cmd_broker(int argc, char **argv) {
    static const struct option opts[] = {
        {"data-dir", required_argument, 0, 'd'},
        {"listen", required_argument, 0, 'l'},
        {"admin-listen", required_argument, 0, 'a'},
        {"advertise", required_argument, 0, 'A'},
        {"config", required_argument, 0, 'c'},
        {"set", required_argument, 0, 's'},
        {"port-file", required_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'},
        {"help-config", no_argument, 0, 'H'},
        {"node-id", required_argument, 0, 'n'},
        {"controller-quorum", required_argument, 0, 'q'},
        {0, 0, 0, 0},
    };
    sl_broker_conf_t conf;
    sl_conf_defaults(sl_broker_conf_defs, sl_broker_conf_n_defs, &conf);
    const char *config_file = NULL, *port_file = NULL;
    /* Properties first (lowest priority after defaults), then flags, so scan twice. */
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'c') {
            config_file = optarg;
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else if (c == 'H') {
            help_config();
            return 0;
        } else if (c == '?') {
            usage(stderr);
            return 2;
        }
    }
    char err[SL_ERRLEN];
    if (config_file &&
        sl_conf_load_file(sl_broker_conf_defs, sl_broker_conf_n_defs, &conf, config_file, err)) {
        fprintf(stderr, "sluice: config: %s\n", err);
        return 2;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        const char *key = NULL;
        switch (c) {
        case 'd':
            key = "data.dir";
            break;
        case 'l':
            key = "listeners";
            break;
        case 'a':
            key = "admin.listen";
            break;
        case 'A':
            key = "advertised.listeners";
            break;
        case 'n':
            key = "node.id";
            break;
        case 'q':
            key = "controller.quorum.voters";
            break;
        case 'p':
            port_file = optarg;
            break;
        case 's':
            if (sl_conf_set_kv(sl_broker_conf_defs, sl_broker_conf_n_defs, &conf, optarg, err)) {
                fprintf(stderr, "sluice: --set: %s\n", err);
                return 2;
            }
            break;
        default:
            break;
        }
        if (key &&
            sl_conf_set(sl_broker_conf_defs, sl_broker_conf_n_defs, &conf, key, optarg, err)) {
            fprintf(stderr, "sluice: %s\n", err);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sluice: broker: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    sl_broker_t *b = sl_broker_new(&conf, err);
    if (!b) {
        fprintf(stderr, "sluice: broker: %s\n", err);
        return 1;
    }
    if (port_file) {
        err[0] = '\0';
        sl_broker_write_port_file(b, port_file, err);
        if (err[0]) {
            fprintf(stderr, "sluice: broker: %s\n", err);
            sl_broker_free(b);
            return 1;
        }
    }
    sl_err_t rc = sl_broker_run(b);
    sl_broker_free(b);
    sl_log(SL_LOG_INFO, "broker", "msg=\"stopped cleanly\"");
    return rc == SL_OK ? 0 : 1;
}
