/* policy.c -- the gateway's configuration file, API keys, JWT checks and permissions (see
 * policy.h). JWT signatures are verified by libjwt; this file picks the key by the token's
 * "alg" header, then insists that libjwt verified with exactly that algorithm (so "none" and
 * an RS256 key used as an HMAC secret are refused), and checks exp, nbf and aud itself. */
#include "gateway/policy.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/util.h"
#include "gateway/b64.h"
#include "gateway/breaker.h"

#define S(f) offsetof(sl_gw_settings_t, f)
const sl_conf_def_t sl_gw_conf_defs[] = {
    {"max.request.bytes", SL_CONF_INT, "1048576", 1, 1 << 30, S(max_request_bytes), 0,
     "request bodies larger than this are answered 413"},
    {"produce.timeout.ms", SL_CONF_INT, "5000", 100, 300000, S(produce_timeout_ms), 0,
     "how long a produce waits for the acknowledgement (librdkafka message.timeout.ms)"},
    {"breaker.failure.threshold", SL_CONF_INT, "5", 1, SL_GW_BREAKER_MAX_THRESHOLD,
     S(breaker_threshold), 0,
     "broker failures within breaker.window.ms that open the circuit breaker"},
    {"breaker.window.ms", SL_CONF_INT, "10000", 1, 3600000, S(breaker_window_ms), 0,
     "window in which failures are counted"},
    {"breaker.slow.ms", SL_CONF_INT, "3000", 0, 3600000, S(breaker_slow_ms), 0,
     "a produce slower than this counts as a failure (0: never)"},
    {"breaker.open.ms", SL_CONF_INT, "2000", 1, 3600000, S(breaker_open_ms), 0,
     "how long the breaker stays open before one probe request"},
    {"consumer.instance.timeout.ms", SL_CONF_INT, "300000", 1000, 86400000, S(consumer_idle_ms), 0,
     "an idle consumer instance is deleted after this long"},
    {"route.produce.rate", SL_CONF_INT, "0", 0, 100000000, S(route_rate[SL_GW_ROUTE_PRODUCE]), 0,
     "produce requests/s over all keys (0: unlimited)"},
    {"route.produce.burst", SL_CONF_INT, "0", 0, 100000000, S(route_burst[SL_GW_ROUTE_PRODUCE]), 0,
     "produce bucket size (0: equal to the rate)"},
    {"route.consume.rate", SL_CONF_INT, "0", 0, 100000000, S(route_rate[SL_GW_ROUTE_CONSUME]), 0,
     "consumer requests/s over all keys (0: unlimited)"},
    {"route.consume.burst", SL_CONF_INT, "0", 0, 100000000, S(route_burst[SL_GW_ROUTE_CONSUME]), 0,
     "consumer bucket size (0: equal to the rate)"},
    {"default.rate", SL_CONF_INT, "0", 0, 100000000, S(default_rate), 0,
     "requests/s per principal that sets no rate (0: unlimited)"},
    {"default.burst", SL_CONF_INT, "0", 0, 100000000, S(default_burst), 0,
     "bucket size per principal that sets no burst (0: equal to the rate)"},
    {"jwt.hs256.secret", SL_CONF_STR, "", 0, 0, S(jwt_secret), 0,
     "shared secret for HS256 bearer tokens (empty: HS256 refused)"},
    {"jwt.rs256.public.key.file", SL_CONF_STR, "", 0, 0, S(jwt_key_file), 0,
     "PEM public key for RS256 bearer tokens (empty: RS256 refused)"},
    {"jwt.audience", SL_CONF_STR, "", 0, 0, S(jwt_audience), 0,
     "audience a token's aud claim must contain (empty: not checked)"},
    {"jwt.principal.claim", SL_CONF_STR, "sub", 0, 0, S(jwt_claim), 0,
     "claim whose value names the token's principal"},
    {"ssl.certificate.location", SL_CONF_STR, "", 0, 0, S(ssl_cert), 0,
     "(start) PEM certificate chain of the listener; set = TLS (HTTP/1.1 and h2 by ALPN)"},
    {"ssl.key.location", SL_CONF_STR, "", 0, 0, S(ssl_key), 0,
     "(start) PEM private key of ssl.certificate.location"},
    {"ssl.key.password", SL_CONF_STR, "", 0, 0, S(ssl_key_password), 0,
     "(start) passphrase of ssl.key.location, if it is encrypted"},
    {"ssl.ca.location", SL_CONF_STR, "", 0, 0, S(ssl_ca), 0,
     "(start) PEM CAs that sign client certificates (mutual TLS)"},
    {"ssl.client.auth", SL_CONF_STR, "none", 0, 0, S(ssl_client_auth), 0,
     "(start) none, requested or required: client certificates; a verified one's CN is the "
     "principal of a request without a key or token"},
    {"authorization", SL_CONF_STR, "policy", 0, 0, S(authorization), 0,
     "policy: permissions from principal.<name>.topics/operations; acl: from the brokers' ACLs "
     "for User:<principal> (DescribeAcls, cached acl.cache.ms)"},
    {"acl.cache.ms", SL_CONF_INT, "5000", 0, 3600000, S(acl_cache_ms), 0,
     "authorization=acl: how long the brokers' ACLs are used before they are asked again"},
};
#undef S
const size_t sl_gw_conf_ndefs = sizeof sl_gw_conf_defs / sizeof sl_gw_conf_defs[0];

void sl_gw_settings_defaults(sl_gw_settings_t *s) {
    memset(s, 0, sizeof *s);
    sl_conf_defaults(sl_gw_conf_defs, sl_gw_conf_ndefs, s);
}

static sl_gw_principal_t *principal(sl_gw_policy_t *p, const char *name, size_t len) {
    for (int i = 0; i < p->n_principals; i++) {
        if (strlen(p->principals[i].name) == len && !memcmp(p->principals[i].name, name, len)) {
            return &p->principals[i];
        }
    }
    p->principals =
        sl_xrealloc(p->principals, (size_t)(p->n_principals + 1) * sizeof *p->principals);
    sl_gw_principal_t *pr = &p->principals[p->n_principals++];
    memset(pr, 0, sizeof *pr);
    pr->name = sl_xstrndup(name, len);
    pr->rate = pr->burst = -1;
    return pr;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) {
        s++;
    }
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) {
        s[--n] = '\0';
    }
    return s;
}

static bool parse_count(const char *v, int64_t *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < 0 || x > 100000000) {
        return false;
    }
    *out = x;
    return true;
}

/* principal.<name>.<field>=value. The name may contain dots: the field is after the last one. */
static sl_err_t set_principal(sl_gw_policy_t *p, const char *key, char *value, char *err) {
    const char *name = key + strlen("principal.");
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) {
        snprintf(err, SL_ERRLEN, "%s: expected principal.<name>.<field>", key);
        return SL_ERR_INVAL;
    }
    const char *field = dot + 1;
    sl_gw_principal_t *pr = principal(p, name, (size_t)(dot - name));
    if (!strcmp(field, "topics")) {
        for (char *save = NULL, *t = strtok_r(value, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
            t = trim(t);
            if (*t) {
                pr->topics = sl_xrealloc(pr->topics, (size_t)(pr->n_topics + 1) * sizeof(char *));
                pr->topics[pr->n_topics++] = sl_xstrdup(t);
            }
        }
        return SL_OK;
    }
    if (!strcmp(field, "operations")) {
        for (char *save = NULL, *t = strtok_r(value, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
            t = trim(t);
            if (!strcmp(t, "produce")) {
                pr->ops |= SL_GW_OP_PRODUCE;
            } else if (!strcmp(t, "consume")) {
                pr->ops |= SL_GW_OP_CONSUME;
            } else if (*t) {
                snprintf(err, SL_ERRLEN, "%s: unknown operation '%s' (produce, consume)", key, t);
                return SL_ERR_INVAL;
            }
        }
        return SL_OK;
    }
    if (!strcmp(field, "rate") || !strcmp(field, "burst")) {
        if (!parse_count(value, field[0] == 'r' ? &pr->rate : &pr->burst)) {
            snprintf(err, SL_ERRLEN, "%s: expected an integer in [0, 100000000]", key);
            return SL_ERR_INVAL;
        }
        return SL_OK;
    }
    snprintf(err, SL_ERRLEN, "%s: unknown field '%s' (topics, operations, rate, burst)", key,
             field);
    return SL_ERR_INVAL;
}

static sl_err_t set_line(sl_gw_policy_t *p, char *line, char *err) {
    char *sep = strpbrk(line, "=:");
    if (!sep) {
        snprintf(err, SL_ERRLEN, "expected key=value");
        return SL_ERR_INVAL;
    }
    *sep = '\0';
    char *key = trim(line), *value = trim(sep + 1);
    sl_err_t rc = sl_conf_set(sl_gw_conf_defs, sl_gw_conf_ndefs, &p->s, key, value, err);
    if (rc != SL_ERR_NOTFOUND) {
        return rc;
    }
    if (!strncmp(key, "key.", 4) && key[4]) {
        if (!*value) {
            snprintf(err, SL_ERRLEN, "%s: empty principal", key);
            return SL_ERR_INVAL;
        }
        p->keys = sl_xrealloc(p->keys, (size_t)(p->n_keys + 1) * sizeof *p->keys);
        sl_gw_principal_t *pr = principal(p, value, strlen(value));
        p->keys[p->n_keys++] = (sl_gw_key_t){sl_xstrdup(key + 4), (int)(pr - p->principals)};
        return SL_OK;
    }
    if (!strncmp(key, "principal.", 10)) {
        return set_principal(p, key, value, err);
    }
    snprintf(err, SL_ERRLEN, "unknown key '%s'", key);
    return SL_ERR_NOTFOUND;
}

static char *read_file(const char *path, char *err) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, SL_ERRLEN, "%s: %s", path, strerror(errno));
        return NULL;
    }
    sl_buf_t b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (1u << 20)) {
        sl_buf_append(&b, chunk, n);
    }
    fclose(f);
    sl_buf_append(&b, "", 1);
    return (char *)b.data;
}

static void bucket_for(const sl_gw_policy_t *p, sl_gw_principal_t *pr, uint64_t now) {
    int64_t rate = pr->rate >= 0 ? pr->rate : p->s.default_rate;
    int64_t burst = pr->burst >= 0 ? pr->burst : p->s.default_burst;
    sl_gw_bucket_init(&pr->bucket, (double)rate, (double)(burst ? burst : rate), now);
}

sl_gw_policy_t *sl_gw_policy_load(const char *path, char *err) {
    sl_gw_policy_t *p = sl_xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    sl_gw_settings_defaults(&p->s);
    if (path) {
        FILE *f = fopen(path, "r");
        if (!f) {
            snprintf(err, SL_ERRLEN, "%s: %s", path, strerror(errno));
            goto fail;
        }
        char line[2048], sub[SL_ERRLEN];
        int lineno = 0;
        while (fgets(line, sizeof line, f)) {
            lineno++;
            char *s = trim(line);
            if (!*s || *s == '#' || *s == '!') {
                continue;
            }
            if (set_line(p, s, sub) != SL_OK) {
                snprintf(err, SL_ERRLEN, "%s:%d: %.200s", path, lineno, sub);
                fclose(f);
                goto fail;
            }
        }
        fclose(f);
    }
    if (!strcmp(p->s.authorization, "acl")) {
        p->acl = true;
    } else if (strcmp(p->s.authorization, "policy")) {
        snprintf(err, SL_ERRLEN, "%s: authorization must be policy or acl, not '%.100s'",
                 path ? path : "settings", p->s.authorization);
        goto fail;
    }
    for (int i = 0; p->acl && i < p->n_principals; i++) {
        if (p->principals[i].n_topics || p->principals[i].ops) {
            snprintf(err, SL_ERRLEN,
                     "%s: principal.%.100s.topics/operations have no effect with "
                     "authorization=acl (the brokers' ACLs decide)",
                     path ? path : "settings", p->principals[i].name);
            goto fail;
        }
    }
    if (p->s.jwt_key_file[0] && !(p->rsa_pem = read_file(p->s.jwt_key_file, err))) {
        goto fail;
    }
    p->auth_required = p->n_keys || p->s.jwt_secret[0] || p->rsa_pem;
    uint64_t now = sl_mono_ms();
    /* With ACLs, Kafka's name for a client without credentials. */
    p->anonymous.name = sl_xstrdup(p->acl ? "ANONYMOUS" : "anonymous");
    p->anonymous.ops = SL_GW_OP_PRODUCE | SL_GW_OP_CONSUME;
    p->anonymous.rate = p->anonymous.burst = -1;
    p->anonymous.topics = sl_xcalloc(1, sizeof(char *));
    p->anonymous.topics[0] = sl_xstrdup("*");
    p->anonymous.n_topics = 1;
    bucket_for(p, &p->anonymous, now);
    for (int i = 0; i < p->n_principals; i++) {
        bucket_for(p, &p->principals[i], now);
    }
    for (int r = 0; r < SL_GW_N_ROUTES; r++) {
        int64_t rate = p->s.route_rate[r], burst = p->s.route_burst[r];
        sl_gw_bucket_init(&p->route_bucket[r], (double)rate, (double)(burst ? burst : rate), now);
    }
    return p;
fail:
    sl_gw_policy_free(p);
    return NULL;
}

static void principal_fini(sl_gw_principal_t *pr) {
    for (int t = 0; t < pr->n_topics; t++) {
        free(pr->topics[t]);
    }
    free(pr->topics);
    free(pr->name);
}

void sl_gw_policy_free(sl_gw_policy_t *p) {
    if (!p) {
        return;
    }
    for (int i = 0; i < p->n_principals; i++) {
        principal_fini(&p->principals[i]);
    }
    free(p->principals);
    for (int i = 0; i < p->n_keys; i++) {
        free(p->keys[i].key);
    }
    free(p->keys);
    free(p->rsa_pem);
    principal_fini(&p->anonymous);
    while (p->dyn) {
        sl_gw_principal_t *next = p->dyn->next;
        principal_fini(p->dyn);
        free(p->dyn);
        p->dyn = next;
    }
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* Compares without an early exit, so the time taken does not tell how much of a key matched. */
static bool same_secret(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    unsigned char diff = na != nb;
    for (size_t i = 0; i < nb; i++) {
        diff |= (unsigned char)(a[i % (na ? na : 1)] ^ b[i]);
    }
    return !diff && na == nb;
}

/* The "alg" of a token's header (base64url JSON before the first dot) into out[16]. */
static bool token_alg(const char *tok, char out[16]) {
    const char *dot = strchr(tok, '.');
    if (!dot || dot == tok || dot - tok > 4096) {
        return false;
    }
    size_t n = (size_t)(dot - tok);
    char std[4100];
    for (size_t i = 0; i < n; i++) {
        std[i] = tok[i] == '-' ? '+' : tok[i] == '_' ? '/' : tok[i];
    }
    while (n % 4) {
        std[n++] = '=';
    }
    sl_buf_t hdr = {0};
    bool ok = sl_gw_b64_decode(&hdr, std, n);
    json_t *j = ok ? json_loadb((const char *)hdr.data, hdr.len, 0, NULL) : NULL;
    sl_buf_fini(&hdr);
    const char *alg = json_string_value(json_object_get(j, "alg"));
    ok = alg && strlen(alg) < 16;
    if (ok) {
        strcpy(out, alg);
    }
    json_decref(j);
    return ok;
}

static bool has_audience(jwt_t *jwt, const char *want) {
    const char *one = jwt_get_grant(jwt, "aud");
    if (one) {
        return !strcmp(one, want);
    }
    char *js = jwt_get_grants_json(jwt, "aud");
    json_t *arr = js ? json_loads(js, 0, NULL) : NULL;
    free(js);
    bool found = false;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (json_is_string(v) && !strcmp(json_string_value(v), want)) {
            found = true;
        }
    }
    json_decref(arr);
    return found;
}

/* A name a token or certificate may give a principal made on first use: 1-255 printable ASCII
 * characters without '"' or '\\' (it ends up in /metrics labels and log lines). */
static bool dyn_name_ok(const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < n; i++) {
        if (name[i] < 0x20 || name[i] > 0x7e || name[i] == '"' || name[i] == '\\') {
            return false;
        }
    }
    return n > 0 && n < 256;
}

/* The principal called `name`: one of the file's; with authorization=acl, else one made on
 * first use (the brokers' ACLs decide what it may do; it gets the default rate limit). NULL when
 * there is none. */
static sl_gw_principal_t *by_name(sl_gw_policy_t *p, const char *name) {
    for (int i = 0; i < p->n_principals; i++) {
        if (!strcmp(p->principals[i].name, name)) {
            return &p->principals[i];
        }
    }
    if (!p->acl || !dyn_name_ok(name)) {
        return NULL;
    }
    pthread_mutex_lock(&p->mu);
    sl_gw_principal_t *pr = p->dyn;
    while (pr && strcmp(pr->name, name)) {
        pr = pr->next;
    }
    if (!pr && p->n_dyn < SL_GW_MAX_DYN_PRINCIPALS) {
        pr = sl_xcalloc(1, sizeof *pr);
        pr->name = sl_xstrdup(name);
        pr->rate = pr->burst = -1;
        bucket_for(p, pr, sl_mono_ms());
        pr->next = p->dyn;
        p->dyn = pr;
        p->n_dyn++;
    }
    pthread_mutex_unlock(&p->mu);
    return pr;
}

static sl_gw_principal_t *from_jwt(sl_gw_policy_t *p, const char *tok, int64_t now_s, int *status,
                                   char *why) {
    *status = 401;
    char alg[16];
    if (!token_alg(tok, alg)) {
        snprintf(why, SL_ERRLEN, "malformed bearer token");
        return NULL;
    }
    const unsigned char *key;
    size_t key_len;
    jwt_alg_t want;
    if (!strcmp(alg, "HS256") && p->s.jwt_secret[0]) {
        key = (const unsigned char *)p->s.jwt_secret;
        key_len = strlen(p->s.jwt_secret);
        want = JWT_ALG_HS256;
    } else if (!strcmp(alg, "RS256") && p->rsa_pem) {
        key = (const unsigned char *)p->rsa_pem;
        key_len = strlen(p->rsa_pem);
        want = JWT_ALG_RS256;
    } else {
        snprintf(why, SL_ERRLEN, "token algorithm %s is not accepted", alg);
        return NULL;
    }
    jwt_t *jwt = NULL;
    if (jwt_decode(&jwt, tok, key, (int)key_len) != 0 || !jwt || jwt_get_alg(jwt) != want) {
        jwt_free(jwt);
        snprintf(why, SL_ERRLEN, "token signature does not verify");
        return NULL;
    }
    sl_gw_principal_t *pr = NULL;
    errno = 0;
    long exp = jwt_get_grant_int(jwt, "exp");
    bool has_exp = errno == 0;
    errno = 0;
    long nbf = jwt_get_grant_int(jwt, "nbf");
    bool has_nbf = errno == 0;
    const char *who = jwt_get_grant(jwt, p->s.jwt_claim);
    if (!has_exp) {
        snprintf(why, SL_ERRLEN, "token has no exp claim");
    } else if (now_s >= exp) {
        snprintf(why, SL_ERRLEN, "token expired");
    } else if (has_nbf && now_s < nbf) {
        snprintf(why, SL_ERRLEN, "token not valid yet (nbf)");
    } else if (p->s.jwt_audience[0] && !has_audience(jwt, p->s.jwt_audience)) {
        snprintf(why, SL_ERRLEN, "token audience does not include %s", p->s.jwt_audience);
    } else if (!who || !*who) {
        snprintf(why, SL_ERRLEN, "token has no %s claim", p->s.jwt_claim);
    } else if (!(pr = by_name(p, who))) {
        *status = 403;
        snprintf(why, SL_ERRLEN,
                 p->acl ? "principal %.100s: not a usable name, or too many principals"
                        : "principal %.100s has no permissions here",
                 who);
    }
    jwt_free(jwt);
    return pr;
}

sl_gw_principal_t *sl_gw_authenticate(sl_gw_policy_t *p, const char *api_key, const char *authz,
                                      int64_t now_s, int *status, char *why) {
    if (!p->auth_required) {
        return &p->anonymous;
    }
    *status = 401;
    const char *bearer = NULL;
    if (authz) {
        if (strncasecmp(authz, "Bearer ", 7)) {
            snprintf(why, SL_ERRLEN, "Authorization must be a Bearer token");
            return NULL;
        }
        bearer = authz + 7;
        while (*bearer == ' ') {
            bearer++;
        }
    }
    /* A bearer with two dots is a JWT; anything else given as a bearer is an API key. */
    if (bearer && strchr(bearer, '.') && strchr(strchr(bearer, '.') + 1, '.')) {
        return from_jwt(p, bearer, now_s, status, why);
    }
    const char *key = api_key ? api_key : bearer;
    if (!key) {
        snprintf(why, SL_ERRLEN, "credentials required (X-API-Key or Authorization: Bearer)");
        return NULL;
    }
    for (int i = 0; i < p->n_keys; i++) {
        if (same_secret(p->keys[i].key, key)) {
            return &p->principals[p->keys[i].principal];
        }
    }
    snprintf(why, SL_ERRLEN, "unknown API key");
    return NULL;
}

sl_gw_principal_t *sl_gw_authenticate_cert(sl_gw_policy_t *p, const char *cn, int *status,
                                           char *why) {
    if (!p->auth_required) {
        return &p->anonymous;
    }
    sl_gw_principal_t *pr = by_name(p, cn);
    if (!pr) {
        *status = 403;
        snprintf(why, SL_ERRLEN,
                 p->acl ? "client certificate CN=%.100s: not a usable name, or too many principals"
                        : "client certificate CN=%.100s names no principal here",
                 cn);
    }
    return pr;
}

static bool topic_matches(const char *pat, const char *topic) {
    size_t n = strlen(pat);
    if (n && pat[n - 1] == '*') {
        return !strncmp(pat, topic, n - 1);
    }
    return !strcmp(pat, topic);
}

bool sl_gw_authorize(const sl_gw_principal_t *pr, unsigned op, const char *topic) {
    if (!(pr->ops & op)) {
        return false;
    }
    for (int i = 0; i < pr->n_topics; i++) {
        if (topic_matches(pr->topics[i], topic)) {
            return true;
        }
    }
    return false;
}

uint64_t sl_gw_rate_take(sl_gw_policy_t *p, sl_gw_principal_t *pr, sl_gw_route_t route,
                         uint64_t now_ms) {
    pthread_mutex_lock(&p->mu);
    uint64_t wait = sl_gw_bucket_take(&pr->bucket, now_ms);
    if (!wait) {
        wait = sl_gw_bucket_take(&p->route_bucket[route], now_ms);
        if (wait) { /* give the principal's token back: the request is not served */
            pr->bucket.tokens += 1.0;
        }
    }
    if (wait) {
        pr->limited++;
    } else {
        pr->admitted++;
    }
    pthread_mutex_unlock(&p->mu);
    return wait;
}
