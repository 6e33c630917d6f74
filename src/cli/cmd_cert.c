/* cmd_cert.c -- `sluice cert`: a test CA and the broker and client certificates it signs, as PEM
 * files for the broker's ssl.* keys and for librdkafka/kcat (security/certgen.c; OpenSSL's C
 * API, no openssl command line).
 *
 *   sluice cert init DIR [--san LIST] [--days N]      ca, broker and client ("CN=client") in DIR
 *   sluice cert ca DIR [--cn NAME] [--days N]         DIR/ca.pem, DIR/ca.key
 *   sluice cert broker DIR [--ca CADIR] [--cn NAME] [--san LIST] [--days N]
 *                                                     DIR/broker.pem, DIR/broker.key
 *   sluice cert client NAME DIR [--ca CADIR] [--org ORG] [--days N]
 *                                                     DIR/NAME.pem, DIR/NAME.key (CN=NAME)
 * CADIR (default DIR) holds ca.pem and ca.key. Key files are created with mode 0600 and never
 * overwritten. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "security/certgen.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: sluice cert init DIR [--san LIST] [--days N]\n"
            "       sluice cert ca DIR [--cn NAME] [--days N]\n"
            "       sluice cert broker DIR [--ca CADIR] [--cn NAME] [--san LIST] [--days N]\n"
            "       sluice cert client NAME DIR [--ca CADIR] [--org ORG] [--days N]\n"
            "Test and development certificates (EC P-256, SHA-256) as PEM files:\n"
            "  ca      a self-signed CA: DIR/ca.pem, DIR/ca.key\n"
            "  broker  a server certificate signed by CADIR's CA (default DIR): DIR/broker.pem,\n"
            "          DIR/broker.key, with subjectAltName LIST (default 127.0.0.1,localhost)\n"
            "  client  a client certificate CN=NAME (the principal User:CN=NAME on an SSL\n"
            "          listener): DIR/NAME.pem, DIR/NAME.key\n"
            "  init    ca, broker and client \"client\" in DIR\n"
            "  --days N  validity (default 365)\n"
            "Then: ssl.certificate.location=DIR/broker.pem ssl.key.location=DIR/broker.key\n"
            "ssl.ca.location=DIR/ca.pem (docs/security.md). Key files are mode 0600 and are never\n"
            "overwritten.\n");
}

static int make(const char *dir, const char *base, const sl_cert_req_t *r, const char *ca_dir) {
    char cert[4096], key[4096], ca_cert[4096], ca_key[4096];
    snprintf(cert, sizeof cert, "%s/%s.pem", dir, base);
    snprintf(key, sizeof key, "%s/%s.key", dir, base);
    snprintf(ca_cert, sizeof ca_cert, "%s/ca.pem", ca_dir);
    snprintf(ca_key, sizeof ca_key, "%s/ca.key", ca_dir);
    char err[SL_ERRLEN];
    bool ca = r->kind == SL_CERT_CA;
    if (sl_cert_make(r, ca ? NULL : ca_cert, ca ? NULL : ca_key, cert, key, err) != SL_OK) {
        sl_cli_error("cert", err);
        return 1;
    }
    printf("%s %s\n", cert, key);
    return 0;
}

int sl_cmd_cert(int argc, char **argv) {
    static const struct option opts[] = {
        {"ca", required_argument, 0, 'c'},
        {"cn", required_argument, 0, 'n'},
        {"org", required_argument, 0, 'o'},
        {"san", required_argument, 0, 's'},
        {"days", required_argument, 0, 'd'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *ca_dir = NULL, *cn = NULL, *org = "", *san = "127.0.0.1,localhost";
    int64_t days = 365;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            ca_dir = optarg;
            break;
        case 'n':
            cn = optarg;
            break;
        case 'o':
            org = optarg;
            break;
        case 's':
            san = optarg;
            break;
        case 'd':
            if (!sl_cli_parse_i64("--days", optarg, 1, 36500, &days)) {
                return 2;
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
    const char *verb = optind < argc ? argv[optind] : "";
    int nargs = argc - optind - 1;
    bool client = !strcmp(verb, "client");
    bool known = !strcmp(verb, "init") || !strcmp(verb, "ca") || !strcmp(verb, "broker") || client;
    if (!known || nargs != (client ? 2 : 1)) {
        usage(stderr);
        return 2;
    }
    const char *name = client ? argv[optind + 1] : NULL;
    const char *dir = argv[optind + nargs];
    if (client && (!*name || strchr(name, '/') || name[0] == '.')) {
        sl_cli_error("cert", "client NAME must be a plain file name");
        return 2;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        char why[SL_ERRLEN];
        snprintf(why, sizeof why, "%s: %s", dir, strerror(errno));
        sl_cli_error("cert", why);
        return 1;
    }
    if (!ca_dir) {
        ca_dir = dir;
    }
    sl_cert_req_t r = {.org = org, .san = san, .days = (int)days};
    int rc = 0;
    if (!strcmp(verb, "ca") || !strcmp(verb, "init")) {
        r.kind = SL_CERT_CA;
        r.cn = cn ? cn : "sluice-test-ca";
        rc = make(dir, "ca", &r, dir);
    }
    if (!rc && (!strcmp(verb, "broker") || !strcmp(verb, "init"))) {
        r.kind = SL_CERT_SERVER;
        r.cn = cn && strcmp(verb, "init") ? cn : "localhost";
        rc = make(dir, "broker", &r, ca_dir);
    }
    if (!rc && (client || !strcmp(verb, "init"))) {
        r.kind = SL_CERT_CLIENT;
        r.cn = client ? name : "client";
        rc = make(dir, client ? name : "client", &r, ca_dir);
    }
    return rc;
}
