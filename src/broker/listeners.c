/* listeners.c -- parsing `listeners`, `advertised.listeners` and
 * `listener.security.protocol.map` (Kafka's syntax: a listener is named by its protocol,
 * PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL, or by a name the map gives a protocol), and the
 * per-listener `listener.name.<name>.<key>` settings. */
#include "listeners.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
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

/* Keys that may be set per listener (listener.name.<name>.<key>). */
static const char *const per_listener_keys[] = {
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.key.password",
    "ssl.ca.location",
    "ssl.client.auth",
    "sasl.enabled.mechanisms",
    "ssl.endpoint.identification.algorithm",
    "plain.sasl.jaas.config", /* the broker's own credentials (interbroker.h) */
    "scram-sha-256.sasl.jaas.config",
    "scram-sha-512.sasl.jaas.config",
};

static int proto_find(const char *s, size_t len) {
    for (int p = 0; p < SL_SEC_N; p++) {
        if (strlen(names[p]) == len && !strncasecmp(s, names[p], len)) {
            return p;
        }
    }
    return -1;
}

/* The protocol `protocol_map` gives listener name `name` (len bytes), or -1. */
static int map_find(const char *map, const char *name, size_t len) {
    for (const char *s = map; *s;) {
        size_t ilen = strcspn(s, ",");
        const char *colon = memchr(s, ':', ilen);
        if (colon && (size_t)(colon - s) == len && !strncasecmp(s, name, len)) {
            return proto_find(colon + 1, ilen - (size_t)(colon - s) - 1);
        }
        s += ilen;
        s += *s == ',';
    }
    return -1;
}

static sl_err_t check_map(const char *map, char *err) {
    for (const char *s = map; *s;) {
        size_t ilen = strcspn(s, ",");
        const char *colon = memchr(s, ':', ilen);
        if (!colon || colon == s || proto_find(colon + 1, ilen - (size_t)(colon - s) - 1) < 0) {
            snprintf(err, SL_ERRLEN,
                     "listener.security.protocol.map: expected NAME:PROTOCOL with PROTOCOL one of "
                     "PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL, got '%.*s'",
                     (int)ilen, s);
            return SL_ERR_INVAL;
        }
        s += ilen;
        s += *s == ',';
    }
    return SL_OK;
}

/* One entry "NAME://HOST:PORT" or "HOST:PORT" (name "") of `len` bytes. */
static sl_err_t parse_one(const char *s, size_t len, char *name, char *host, int *port,
                          const char *key, char *err) {
    char item[SL_CONF_STR_MAX];
    if (len >= sizeof item) {
        snprintf(err, SL_ERRLEN, "%s: entry too long", key);
        return SL_ERR_INVAL;
    }
    memcpy(item, s, len);
    item[len] = '\0';
    const char *hp = item;
    name[0] = '\0';
    const char *sep = strstr(item, "://");
    if (sep) {
        size_t nl = (size_t)(sep - item);
        bool ok = nl > 0 && nl < SL_LISTENER_NAME_MAX;
        for (size_t i = 0; i < nl && ok; i++) {
            char c = item[i];
            ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-';
        }
        if (!ok) {
            snprintf(err, SL_ERRLEN, "%s: bad listener name in '%s'", key, item);
            return SL_ERR_INVAL;
        }
        for (size_t i = 0; i < nl; i++) {
            char c = item[i];
            name[i] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
        }
        name[nl] = '\0';
        hp = sep + 3;
    }
    if (sl_parse_hostport(hp, host, SL_CONF_STR_MAX, port) != SL_OK) {
        snprintf(err, SL_ERRLEN, "%s: expected [NAME://]HOST:PORT, got '%s'", key, item);
        return SL_ERR_INVAL;
    }
    return SL_OK;
}

sl_err_t sl_listeners_parse_map(const char *listeners, const char *advertised,
                                const char *protocol_map, sl_blistener_t *out, size_t *n,
                                char *err) {
    *n = 0;
    if (check_map(protocol_map, err) != SL_OK) {
        return SL_ERR_INVAL;
    }
    for (const char *s = listeners; *s;) {
        size_t len = strcspn(s, ",");
        sl_blistener_t l = {0};
        if (len == 0 || parse_one(s, len, l.name, l.host, &l.port, "listeners", err) != SL_OK) {
            if (len == 0) {
                snprintf(err, SL_ERRLEN, "listeners: empty entry in '%s'", listeners);
            }
            return SL_ERR_INVAL;
        }
        if (!l.name[0]) {
            snprintf(l.name, sizeof l.name, "%s", names[SL_SEC_PLAINTEXT]);
        }
        int proto = map_find(protocol_map, l.name, strlen(l.name));
        if (proto < 0) {
            proto = proto_find(l.name, strlen(l.name));
        }
        if (proto < 0) {
            snprintf(err, SL_ERRLEN,
                     "listeners: %s is neither a protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, "
                     "SASL_SSL) nor named in listener.security.protocol.map",
                     l.name);
            return SL_ERR_INVAL;
        }
        l.proto = (sl_secproto_t)proto;
        for (size_t i = 0; i < *n; i++) {
            if (!strcmp(out[i].name, l.name)) {
                snprintf(err, SL_ERRLEN, "listeners: %s given twice", l.name);
                return SL_ERR_INVAL;
            }
        }
        if (*n == SL_MAX_LISTENERS) {
            snprintf(err, SL_ERRLEN, "listeners: more than %d", SL_MAX_LISTENERS);
            return SL_ERR_INVAL;
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
        int port;
        char host[SL_CONF_STR_MAX], name[SL_LISTENER_NAME_MAX];
        if (len == 0 ||
            parse_one(s, len, name, host, &port, "advertised.listeners", err) != SL_OK) {
            if (len == 0) {
                snprintf(err, SL_ERRLEN, "advertised.listeners: empty entry in '%s'", advertised);
            }
            return SL_ERR_INVAL;
        }
        sl_blistener_t *l = !name[0] ? &out[0] : NULL;
        for (size_t i = 0; i < *n && !l; i++) {
            if (!strcmp(out[i].name, name)) {
                l = &out[i];
            }
        }
        if (!l) {
            snprintf(err, SL_ERRLEN, "advertised.listeners: no %s listener to advertise", name);
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

sl_err_t sl_listeners_parse(const char *listeners, const char *advertised, sl_blistener_t *out,
                            size_t *n, char *err) {
    return sl_listeners_parse_map(listeners, advertised, "", out, n, err);
}

sl_err_t sl_listeners_check_props(const char *props, const sl_blistener_t *l, size_t n, char *err) {
    for (const char *line = props; *line;) {
        const char *nl = strchr(line, '\n');
        const char *dot = memchr(line, '.', (size_t)(nl - line));
        const char *eq = memchr(line, '=', (size_t)(nl - line));
        bool listener = false, key = false;
        if (dot && eq && dot < eq) {
            size_t nlen = (size_t)(dot - line), klen = (size_t)(eq - dot - 1);
            for (size_t i = 0; i < n && !listener; i++) {
                listener = strlen(l[i].name) == nlen && !strncasecmp(l[i].name, line, nlen);
            }
            for (size_t k = 0; k < SL_ARRAY_LEN(per_listener_keys) && !key; k++) {
                key = strlen(per_listener_keys[k]) == klen &&
                      !memcmp(per_listener_keys[k], dot + 1, klen);
            }
        }
        if (!listener || !key) {
            int klen = (int)((eq ? eq : nl) - line);
            snprintf(err, SL_ERRLEN,
                     !listener ? "listener.name.%.*s: no such listener in listeners"
                               : "listener.name.%.*s: not a per-listener key "
                                 "(ssl.{certificate,key,ca}.location, ssl.key.password, "
                                 "ssl.client.auth, ssl.endpoint.identification.algorithm, "
                                 "sasl.enabled.mechanisms, <mechanism>.sasl.jaas.config)",
                     klen, line);
            return SL_ERR_INVAL;
        }
        line = nl + 1;
    }
    return SL_OK;
}

const char *sl_listener_conf(const char *props, const sl_blistener_t *l, const char *key,
                             const char *global, char *buf) {
    char rest[SL_LISTENER_NAME_MAX + 64];
    snprintf(rest, sizeof rest, "%s.%s", l->name, key);
    const char *v = sl_conf_map_get(props, rest, buf, SL_CONF_STR_MAX);
    return v ? v : global;
}
