/* interbroker.c -- the inter-broker listener and its client-side security (interbroker.h). */
#include "interbroker.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

static const char *skip_ws(const char *s) {
    while (*s && isspace((unsigned char)*s)) {
        s++;
    }
    return s;
}

static bool bare_char(char c) {
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-' || c == '$' || c == '/' ||
           c == ':' || c == '@' || c == '+';
}

/* Reads a bare token or a quoted string at *s into out (cap bytes); advances *s. False when
 * there is none, a quote is not closed or the value does not fit. */
static bool token(const char **s, char *out, size_t cap, bool allow_quoted) {
    const char *p = skip_ws(*s);
    size_t n = 0;
    if (allow_quoted && *p == '"') {
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && p[1]) {
                p++;
            }
            if (n + 1 >= cap) {
                return false;
            }
            out[n++] = *p;
        }
        if (*p != '"') {
            return false;
        }
        p++;
    } else {
        while (bare_char(*p)) {
            if (n + 1 >= cap) {
                return false;
            }
            out[n++] = *p++;
        }
        if (n == 0) {
            return false;
        }
    }
    out[n] = '\0';
    *s = p;
    return true;
}

sl_err_t sl_jaas_parse(const char *jaas, char *user, size_t user_cap, char *pass, size_t pass_cap,
                       char *err) {
    const char *s = jaas;
    char module[SL_CONF_STR_MAX], flag[32];
    bool have_user = false, have_pass = false;
    if (!token(&s, module, sizeof module, false) || !token(&s, flag, sizeof flag, false)) {
        snprintf(err, SL_ERRLEN, "expected 'LoginModule required key=\"value\" ...;'");
        return SL_ERR_INVAL;
    }
    if (strcasecmp(flag, "required") && strcasecmp(flag, "requisite") &&
        strcasecmp(flag, "sufficient") && strcasecmp(flag, "optional")) {
        snprintf(err, SL_ERRLEN,
                 "login module flag '%s' is not required, requisite, sufficient or "
                 "optional",
                 flag);
        return SL_ERR_INVAL;
    }
    for (;;) {
        s = skip_ws(s);
        if (*s == ';') {
            break;
        }
        char key[64], value[SL_CONF_STR_MAX];
        if (!token(&s, key, sizeof key, false)) {
            if (*s) {
                snprintf(err, SL_ERRLEN, "expected key=value at '%.20s'", s);
            } else {
                snprintf(err, SL_ERRLEN, "missing ';' at the end");
            }
            return SL_ERR_INVAL;
        }
        s = skip_ws(s);
        if (*s != '=') {
            snprintf(err, SL_ERRLEN, "expected '=' after %s", key);
            return SL_ERR_INVAL;
        }
        s++;
        if (!token(&s, value, sizeof value, true)) {
            snprintf(err, SL_ERRLEN, "bad value for %s (unclosed quote or too long)", key);
            return SL_ERR_INVAL;
        }
        if (!strcmp(key, "username")) {
            have_user = snprintf(user, user_cap, "%s", value) < (int)user_cap && value[0];
        } else if (!strcmp(key, "password")) {
            have_pass = snprintf(pass, pass_cap, "%s", value) < (int)pass_cap;
        }
    }
    if (*skip_ws(s + 1)) {
        snprintf(err, SL_ERRLEN, "one login module only (text after ';')");
        return SL_ERR_INVAL;
    }
    if (!have_user || !have_pass) {
        snprintf(err, SL_ERRLEN, "needs username=\"...\" and password=\"...\"");
        return SL_ERR_INVAL;
    }
    return SL_OK;
}

/* Whether comma-separated `list` holds `name` (spaces around items ignored). */
static bool list_has(const char *list, const char *name) {
    size_t nl = strlen(name);
    for (const char *s = list; *s;) {
        s = skip_ws(s);
        size_t len = strcspn(s, ",");
        size_t t = len;
        while (t > 0 && isspace((unsigned char)s[t - 1])) {
            t--;
        }
        if (t == nl && !strncasecmp(s, name, nl)) {
            return true;
        }
        s += len;
        s += *s == ',';
    }
    return false;
}

sl_err_t sl_ib_conf_build(const sl_broker_conf_t *conf, const sl_blistener_t *l, size_t n,
                          sl_ib_conf_t *out, char *err) {
    memset(out, 0, sizeof *out);
    out->listener = -1;
    if (!conf->inter_broker_listener_name[0]) {
        out->listener = n > 0 ? 0 : -1;
    }
    for (size_t i = 0; i < n && out->listener < 0; i++) {
        if (!strcasecmp(l[i].name, conf->inter_broker_listener_name)) {
            out->listener = (int)i;
        }
    }
    if (out->listener < 0) {
        snprintf(err, SL_ERRLEN, "inter.broker.listener.name: no listener named '%s' in listeners",
                 conf->inter_broker_listener_name);
        return SL_ERR_INVAL;
    }
    const sl_blistener_t *ib = &l[out->listener];
    const char *props = conf->listener_props;
    char buf[SL_CONF_STR_MAX];
    sl_peer_sec_conf_t *sec = &out->sec;
    sec->tls = sl_secproto_tls(ib->proto);
    sec->sasl = sl_secproto_sasl(ib->proto);
    if (sec->tls) {
        const char *alg = sl_listener_conf(props, ib, "ssl.endpoint.identification.algorithm",
                                           conf->ssl_endpoint_identification_algorithm, buf);
        if (*alg && strcasecmp(alg, "https")) {
            snprintf(err, SL_ERRLEN,
                     "ssl.endpoint.identification.algorithm: expected https or empty, got '%s'",
                     alg);
            return SL_ERR_INVAL;
        }
        sec->verify_host = *alg != '\0';
        snprintf(out->ca, sizeof out->ca, "%s",
                 sl_listener_conf(props, ib, "ssl.ca.location", conf->ssl_ca_location, buf));
        snprintf(out->cert, sizeof out->cert, "%s",
                 sl_listener_conf(props, ib, "ssl.certificate.location",
                                  conf->ssl_certificate_location, buf));
        snprintf(out->key, sizeof out->key, "%s",
                 sl_listener_conf(props, ib, "ssl.key.location", conf->ssl_key_location, buf));
        snprintf(out->key_password, sizeof out->key_password, "%s",
                 sl_listener_conf(props, ib, "ssl.key.password", conf->ssl_key_password, buf));
    }
    sec->ca_file = out->ca;
    sec->cert_file = out->cert;
    sec->key_file = out->key;
    sec->key_password = out->key_password;
    sec->mechanism = out->mechanism;
    sec->username = out->user;
    sec->password = out->password;
    if (!sec->sasl) {
        return SL_OK;
    }
    const char *mech = conf->sasl_mechanism_inter_broker_protocol;
    if (strcmp(mech, "PLAIN") && strcmp(mech, "SCRAM-SHA-256") && strcmp(mech, "SCRAM-SHA-512")) {
        snprintf(err, SL_ERRLEN,
                 "sasl.mechanism.inter.broker.protocol: '%s' is not PLAIN, SCRAM-SHA-256 or "
                 "SCRAM-SHA-512 (a broker cannot be an OAUTHBEARER client)",
                 mech);
        return SL_ERR_INVAL;
    }
    snprintf(out->mechanism, sizeof out->mechanism, "%s", mech);
    const char *enabled =
        sl_listener_conf(props, ib, "sasl.enabled.mechanisms", conf->sasl_enabled_mechanisms, buf);
    if (!list_has(enabled, mech)) {
        snprintf(err, SL_ERRLEN,
                 "sasl.mechanism.inter.broker.protocol: %s is not in the sasl.enabled.mechanisms "
                 "of listener %s",
                 mech, ib->name);
        return SL_ERR_INVAL;
    }
    /* listener.name.<listener, lower case>.<mechanism, lower case>.sasl.jaas.config */
    char key[64];
    size_t k = 0;
    for (const char *m = mech; *m && k + 1 < sizeof key; m++) {
        key[k++] = (char)tolower((unsigned char)*m);
    }
    snprintf(key + k, sizeof key - k, ".sasl.jaas.config");
    char lname[SL_LISTENER_NAME_MAX];
    for (k = 0; ib->name[k] && k + 1 < sizeof lname; k++) {
        lname[k] = (char)tolower((unsigned char)ib->name[k]);
    }
    lname[k] = '\0';
    const char *jaas = sl_listener_conf(props, ib, key, NULL, buf);
    if (!jaas) {
        snprintf(err, SL_ERRLEN,
                 "inter-broker listener %s is %s: set listener.name.%s.%s to the broker's own "
                 "credentials (... required username=\"...\" password=\"...\";)",
                 ib->name, sl_secproto_name(ib->proto), lname, key);
        return SL_ERR_INVAL;
    }
    char why[SL_ERRLEN];
    if (sl_jaas_parse(jaas, out->user, sizeof out->user, out->password, sizeof out->password,
                      why) != SL_OK) {
        snprintf(err, SL_ERRLEN, "listener.name.%s.%s: %s", lname, key, why);
        return SL_ERR_INVAL;
    }
    return SL_OK;
}
