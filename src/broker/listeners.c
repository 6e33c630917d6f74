/* listeners.c -- parsing `listeners` and `advertised.listeners` (Kafka's syntax, with the
 * protocol as the listener name: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL). */
#include "listeners.h"

#include <stdio.h>
#include <string.h>

#include "net/listener.h"

static const char *const names[SL_SEC_N] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};

const char *sl_secproto_name(sl_secproto_t p) {
    return p < SL_SEC_N ? names[p] : "?";
}

bool sl_secproto_tls(sl_secproto_t p) {
    return p == SL_SEC_SSL || p == SL_SEC_SASL_SSL;
}

bool sl_secproto_sasl(sl_secproto_t p) {
    return p == SL_SEC_SASL_PLAINTEXT || p == SL_SEC_SASL_SSL;
}

/* One entry "PROTO://HOST:PORT" or "HOST:PORT" (proto -1) of `len` bytes. */
static sl_err_t parse_one(const char *s, size_t len, int *proto, char *host, int *port,
                          const char *key, char *err) {
    char item[SL_CONF_STR_MAX];
    if (len >= sizeof item) {
        snprintf(err, SL_ERRLEN, "%s: entry too long", key);
        return SL_ERR_INVAL;
    }
    memcpy(item, s, len);
    item[len] = '\0';
    const char *hp = item;
    *proto = -1;
    const char *sep = strstr(item, "://");
    if (sep) {
        size_t nl = (size_t)(sep - item);
        for (int p = 0; p < SL_SEC_N; p++) {
            if (strlen(names[p]) == nl && !strncmp(item, names[p], nl)) {
                *proto = p;
            }
        }
        if (*proto < 0) {
            snprintf(err, SL_ERRLEN,
                     "%s: unknown protocol in '%s' (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)", key,
                     item);
            return SL_ERR_INVAL;
        }
        hp = sep + 3;
    }
    if (sl_parse_hostport(hp, host, SL_CONF_STR_MAX, port) != SL_OK) {
        snprintf(err, SL_ERRLEN, "%s: expected [PROTOCOL://]HOST:PORT, got '%s'", key, item);
        return SL_ERR_INVAL;
    }
    return SL_OK;
}

sl_err_t sl_listeners_parse(const char *listeners, const char *advertised, sl_blistener_t *out,
                            size_t *n, char *err) {
    *n = 0;
    for (const char *s = listeners; *s;) {
        size_t len = strcspn(s, ",");
        int proto;
        sl_blistener_t l = {0};
        if (len == 0 || parse_one(s, len, &proto, l.host, &l.port, "listeners", err) != SL_OK) {
            if (len == 0) {
                snprintf(err, SL_ERRLEN, "listeners: empty entry in '%s'", listeners);
            }
            return SL_ERR_INVAL;
        }
        l.proto = proto < 0 ? SL_SEC_PLAINTEXT : (sl_secproto_t)proto;
        for (size_t i = 0; i < *n; i++) {
            if (out[i].proto == l.proto) {
                snprintf(err, SL_ERRLEN, "listeners: %s given twice", names[l.proto]);
                return SL_ERR_INVAL;
            }
        }
        out[(*n)++] = l;
        s += len;
        s += *s == ',';
    }
    if (*n == 0) {
        snprintf(err, SL_ERRLEN, "listeners: none given");
        return SL_ERR_INVAL;
    }
    for (const char *s = advertised; *s;) {
        size_t len = strcspn(s, ",");
        int proto, port;
        char host[SL_CONF_STR_MAX];
        if (len == 0 ||
            parse_one(s, len, &proto, host, &port, "advertised.listeners", err) != SL_OK) {
            if (len == 0) {
                snprintf(err, SL_ERRLEN, "advertised.listeners: empty entry in '%s'", advertised);
            }
            return SL_ERR_INVAL;
        }
        sl_blistener_t *l = proto < 0 ? &out[0] : NULL;
        for (size_t i = 0; i < *n && !l; i++) {
            if ((int)out[i].proto == proto) {
                l = &out[i];
            }
        }
        if (!l) {
            snprintf(err, SL_ERRLEN, "advertised.listeners: no %s listener to advertise",
                     names[proto]);
            return SL_ERR_INVAL;
        }
        snprintf(l->adv_host, sizeof l->adv_host, "%s", host);
        l->adv_port = port;
        l->adv_given = true;
        s += len;
        s += *s == ',';
    }
    return SL_OK;
}
