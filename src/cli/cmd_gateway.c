/* cmd_gateway.c -- `sluice gateway`: the HTTP front door (src/gateway) in front of any
 * Kafka-protocol cluster. SIGHUP re-reads --config; SIGINT/SIGTERM stop it. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/log.h"
#include "gateway/gateway.h"
#include "gateway/policy.h"

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: sluice gateway [options]\n"
        "  -b, --brokers HOST:PORT  bootstrap servers (else $SLUICE_BROKERS, else %s)\n"
        "  --listen HOST:PORT       listener: HTTP/1.1 and h2c, or with ssl.* keys TLS with h2\n"
        "                           by ALPN (default 0.0.0.0:8080; port 0 = any)\n"
        "  --config FILE            keys, permissions, limits and settings (below);\n"
        "                           SIGHUP re-reads it without a restart\n"
        "  --port-file FILE         write the bound port (http=N) once listening\n"
        "  -X key=value             librdkafka property for every client\n"
        "  -h, --help\n\nConfiguration keys (docs/gateway.md has the rest):\n",
        SL_CLI_DEFAULT_BROKERS);
    for (size_t i = 0; i < sl_gw_conf_ndefs; i++) {
        fprintf(f, "  %-30s %s (default %s)\n", sl_gw_conf_defs[i].name, sl_gw_conf_defs[i].help,
                sl_gw_conf_defs[i].def[0] ? sl_gw_conf_defs[i].def : "empty");
    }
    fprintf(f, "  key.<api-key>=<principal>\n"
               "  principal.<name>.topics|operations|rate|burst\n");
}

static int write_port_file(const char *path, int port) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        return -1;
    }
    fprintf(f, "http=%d\n", port);
    if (fclose(f) != 0) {
        return -1;
    }
    return rename(tmp, path);
}

int sl_cmd_gateway(int argc, char **argv) {
    static const struct option opts[] = {
        {"brokers", required_argument, 0, 'b'}, {"listen", required_argument, 0, 'l'},
        {"config", required_argument, 0, 'c'},  {"port-file", required_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    sl_client_opts_t co = {0};
    const char *listen = "0.0.0.0:8080", *config = NULL, *port_file = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "b:X:h", opts, NULL)) != -1) {
        if (sl_client_opt(&co, c, optarg)) {
            continue;
        }
        switch (c) {
        case 'l':
            listen = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'p':
            port_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    char host[256];
    const char *colon = strrchr(listen, ':');
    int64_t port;
    if (!colon || (size_t)(colon - listen) >= sizeof host ||
        !sl_cli_parse_i64("--listen port", colon + 1, 0, 65535, &port)) {
        sl_cli_error("--listen", "expected HOST:PORT");
        return 2;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';

    /* Every thread the gateway starts inherits this mask; only sigwait below sees the signals. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    sl_gw_opts_t o = {.host = host,
                      .port = (int)port,
                      .brokers = sl_client_brokers(&co),
                      .config_path = config,
                      .props = co.props,
                      .n_props = co.n_props};
    char err[SL_ERRLEN];
    sl_gw_t *gw = sl_gw_start(&o, err);
    if (!gw) {
        sl_cli_error("gateway", err);
        return 1;
    }
    sl_log(SL_LOG_INFO, "gateway", "listening=%s:%d brokers=%s", host, sl_gw_port(gw), o.brokers);
    if (port_file && write_port_file(port_file, sl_gw_port(gw)) != 0) {
        sl_cli_error(port_file, "cannot write the port file");
        sl_gw_stop(gw);
        return 1;
    }
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) {
            continue;
        }
        if (sig != SIGHUP) {
            break;
        }
        if (sl_gw_reload(gw, err) == SL_OK) {
            sl_log(SL_LOG_INFO, "gateway", "config=reloaded");
        } else {
            sl_log(SL_LOG_WARN, "gateway", "config=kept reason=\"%s\"", err);
        }
    }
    sl_gw_stop(gw);
    return 0;
}
