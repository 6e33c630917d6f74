/* client.c -- options and configuration shared by the librdkafka-based commands. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int sl_client_opt(sl_client_opts_t *o, int opt, const char *arg) {
    if (opt == 'b') {
        o->brokers = arg;
        return 1;
    }
    if (opt == 'X') {
        if (o->n_props < (int)(sizeof o->props / sizeof o->props[0])) {
            o->props[o->n_props++] = arg;
        }
        return 1;
    }
    return 0;
}

void sl_cli_error(const char *what, const char *why) {
    fprintf(stderr, "sluice: %s: %s\n", what, why);
}

rd_kafka_conf_t *sl_client_conf(const sl_client_opts_t *o) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[512];
    if (rd_kafka_conf_set(conf, "bootstrap.servers", o->brokers ? o->brokers : "127.0.0.1:9092",
                          errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        sl_cli_error("bootstrap.servers", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    for (int i = 0; i < o->n_props; i++) {
        char kv[1024];
        snprintf(kv, sizeof kv, "%s", o->props[i]);
        char *eq = strchr(kv, '=');
        if (!eq) {
            sl_cli_error("-X", "expected key=value");
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
        *eq = '\0';
        if (rd_kafka_conf_set(conf, kv, eq + 1, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
            sl_cli_error(kv, errstr);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    return conf;
}
