/* quota.c -- client quotas: configured entities, per-client rates, throttle times (quota.h).
 *
 * Configured entities are a short list (an operator sets a handful); a client's quota is found by
 * trying the eight precedence levels against it. Rates ("sensors", as Kafka calls them) live in a
 * hash table keyed by the quota entity they were resolved to, and are freed after an idle hour. */
#include "quota.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "proto/kerr.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S  1000000000ull
#define UNUSED    UINT64_MAX

static const char *const key_names[SL_QK_N] = {"producer_byte_rate", "consumer_byte_rate",
                                               "request_percentage", "connection_creation_rate"};
static const char *const etype_names[SL_QE_N] = {"user", "client-id", "ip"};

const char *sl_quota_key_name(sl_quota_key_t k) {
    return k < SL_QK_N ? key_names[k] : "?";
}

int sl_quota_key_find(sl_str_t name) {
    for (int i = 0; i < SL_QK_N; i++) {
        if (sl_str_eqz(name, key_names[i])) {
            return i;
        }
    }
    return -1;
}

const char *sl_quota_etype_name(sl_quota_etype_t t) {
    return t < SL_QE_N ? etype_names[t] : "?";
}

int sl_quota_etype_find(sl_str_t name) {
    for (int i = 0; i < SL_QE_N; i++) {
        if (sl_str_eqz(name, etype_names[i])) {
            return i;
        }
    }
    return -1;
}

/* ---- rates ---- */

static int clamp_samples(int n) {
    return n < 2 ? 2 : n > SL_QUOTA_MAX_SAMPLES ? SL_QUOTA_MAX_SAMPLES : n;
}

void sl_rate_init(sl_rate_t *r, int samples, uint64_t window_ns) {
    r->n = clamp_samples(samples);
    r->cur = 0;
    r->window_ns = window_ns ? window_ns : NS_PER_S;
    for (int i = 0; i < r->n; i++) {
        r->start_ns[i] = UNUSED;
        r->val[i] = 0;
    }
}

/* Forgets samples that ended more than n windows ago (Kafka's purgeObsoleteSamples). */
static void rate_purge(sl_rate_t *r, uint64_t now_ns) {
    uint64_t span = (uint64_t)r->n * r->window_ns;
    for (int i = 0; i < r->n; i++) {
        if (r->start_ns[i] != UNUSED && now_ns - r->start_ns[i] >= span && i != r->cur) {
            r->start_ns[i] = UNUSED;
            r->val[i] = 0;
        }
    }
    if (r->start_ns[r->cur] != UNUSED && now_ns - r->start_ns[r->cur] >= span) {
        r->start_ns[r->cur] = UNUSED;
        r->val[r->cur] = 0;
    }
}

void sl_rate_record(sl_rate_t *r, double v, uint64_t now_ns) {
    if (r->start_ns[r->cur] == UNUSED) {
        r->start_ns[r->cur] = now_ns;
    } else if (now_ns - r->start_ns[r->cur] >= r->window_ns) {
        r->cur = (r->cur + 1) % r->n;
        r->start_ns[r->cur] = now_ns;
        r->val[r->cur] = 0;
    }
    r->val[r->cur] += v;
}

uint64_t sl_rate_window_ns(sl_rate_t *r, uint64_t now_ns) {
    rate_purge(r, now_ns);
    uint64_t oldest = now_ns;
    for (int i = 0; i < r->n; i++) {
        if (r->start_ns[i] != UNUSED && r->start_ns[i] < oldest) {
            oldest = r->start_ns[i];
        }
    }
    uint64_t elapsed = now_ns - oldest;
    uint64_t full = elapsed / r->window_ns, min_full = (uint64_t)r->n - 1;
    if (full < min_full) {
        elapsed += (min_full - full) * r->window_ns;
    }
    return elapsed;
}

double sl_rate_measure(sl_rate_t *r, uint64_t now_ns) {
    uint64_t w = sl_rate_window_ns(r, now_ns);
    double sum = 0;
    for (int i = 0; i < r->n; i++) {
        sum += r->val[i];
    }
    return sum / ((double)w / (double)NS_PER_S);
}

uint32_t sl_quota_throttle_ms(double rate, double bound, uint64_t window_ns, uint32_t max_ms) {
    if (!(bound > 0) || !(rate > bound)) {
        return 0;
    }
    double ms = (rate - bound) / bound * ((double)window_ns / (double)NS_PER_MS);
    if (!(ms < (double)max_ms)) {
        return max_ms;
    }
    return (uint32_t)llround(ms);
}

/* ---- configured entities ---- */

typedef struct entry {
    struct entry *next;
    bool has[SL_QE_N];
    char *name[SL_QE_N];
    unsigned mask;
    double vals[SL_QK_N];
} entry_t;

typedef struct sensor {
    struct sensor *next;
    char *key;
    size_t key_len;
    uint64_t last_ns;
    sl_rate_t rate;
} sensor_t;

#define SENSOR_BUCKETS 1024

struct sl_quotas {
    int samples;
    uint64_t window_ns;
    double defaults[SL_QK_N]; /* broker config defaults (as a default client-id), <= 0: none */
    entry_t *entries;
    size_t n_entries;
    sensor_t *buckets[SENSOR_BUCKETS];
    size_t n_sensors;
};

sl_quotas_t *sl_quotas_new(int samples, uint64_t window_ms, double producer_default,
                           double consumer_default) {
    sl_quotas_t *q = sl_xcalloc(1, sizeof *q);
    q->samples = clamp_samples(samples);
    q->window_ns = (window_ms ? window_ms : 1000) * NS_PER_MS;
    q->defaults[SL_QK_PRODUCER_BYTE_RATE] = producer_default;
    q->defaults[SL_QK_CONSUMER_BYTE_RATE] = consumer_default;
    return q;
}

static void entry_free(entry_t *e) {
    for (int t = 0; t < SL_QE_N; t++) {
        free(e->name[t]);
    }
    free(e);
}

void sl_quotas_free(sl_quotas_t *q) {
    if (!q) {
        return;
    }
    while (q->entries) {
        entry_t *e = q->entries;
        q->entries = e->next;
        entry_free(e);
    }
    for (size_t i = 0; i < SENSOR_BUCKETS; i++) {
        while (q->buckets[i]) {
            sensor_t *s = q->buckets[i];
            q->buckets[i] = s->next;
            free(s->key);
            free(s);
        }
    }
    free(q);
}

int sl_quota_check_entity(const sl_quota_entity_t *e, char *err) {
    int n = 0;
    for (int t = 0; t < SL_QE_N; t++) {
        n += e->has[t];
    }
    if (n == 0) {
        snprintf(err, SL_ERRLEN, "an entity needs at least one entity type");
        return KERR_INVALID_REQUEST;
    }
    if (e->has[SL_QE_IP] && n > 1) {
        snprintf(err, SL_ERRLEN, "ip quotas cannot be combined with user or client-id");
        return KERR_INVALID_REQUEST;
    }
    if (e->has[SL_QE_IP] && e->name[SL_QE_IP] && !*e->name[SL_QE_IP]) {
        snprintf(err, SL_ERRLEN, "an ip entity needs an address");
        return KERR_INVALID_REQUEST;
    }
    return 0;
}

int sl_quota_check_op(const sl_quota_entity_t *e, sl_str_t key, double value, bool remove,
                      char *err) {
    int k = sl_quota_key_find(key);
    if (k < 0) {
        snprintf(err, SL_ERRLEN, "unknown quota key %.*s", (int)SL_MIN(key.len, 100),
                 key.p ? key.p : "");
        return KERR_INVALID_REQUEST;
    }
    bool ip = e->has[SL_QE_IP];
    if (ip != (k == SL_QK_CONNECTION_CREATION_RATE)) {
        snprintf(err, SL_ERRLEN, "%s is not a quota of %s entities", key_names[k],
                 ip ? "ip" : "user and client-id");
        return KERR_INVALID_REQUEST;
    }
    if (remove) {
        return 0;
    }
    if (!isfinite(value) || value <= 0) {
        snprintf(err, SL_ERRLEN, "%s must be greater than 0", key_names[k]);
        return KERR_INVALID_CONFIG;
    }
    if (k != SL_QK_REQUEST_PERCENTAGE && (value != floor(value) || value > 9.2e18)) {
        snprintf(err, SL_ERRLEN, "%s must be a whole number", key_names[k]);
        return KERR_INVALID_CONFIG;
    }
    return 0;
}

static bool name_eq(const char *a, const char *b) {
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static entry_t *find_exact(const sl_quotas_t *q, const sl_quota_entity_t *e) {
    for (entry_t *x = q->entries; x; x = x->next) {
        bool same = true;
        for (int t = 0; t < SL_QE_N && same; t++) {
            same = x->has[t] == e->has[t] && (!x->has[t] || name_eq(x->name[t], e->name[t]));
        }
        if (same) {
            return x;
        }
    }
    return NULL;
}

unsigned sl_quotas_get(const sl_quotas_t *q, const sl_quota_entity_t *e, double vals[SL_QK_N]) {
    entry_t *x = find_exact(q, e);
    if (!x) {
        return 0;
    }
    memcpy(vals, x->vals, sizeof x->vals);
    return x->mask;
}

void sl_quotas_put(sl_quotas_t *q, const sl_quota_entity_t *e, unsigned mask,
                   const double vals[SL_QK_N]) {
    entry_t *x = find_exact(q, e);
    if (!mask) {
        if (x) {
            entry_t **pp = &q->entries;
            while (*pp != x) {
                pp = &(*pp)->next;
            }
            *pp = x->next;
            entry_free(x);
            q->n_entries--;
        }
        return;
    }
    if (!x) {
        x = sl_xcalloc(1, sizeof *x);
        for (int t = 0; t < SL_QE_N; t++) {
            x->has[t] = e->has[t];
            x->name[t] = e->has[t] && e->name[t] ? sl_xstrdup(e->name[t]) : NULL;
        }
        x->next = q->entries;
        q->entries = x;
        q->n_entries++;
    }
    x->mask = mask;
    for (int k = 0; k < SL_QK_N; k++) {
        x->vals[k] = (mask & (1u << k)) ? vals[k] : 0;
    }
}

void sl_quotas_each(const sl_quotas_t *q,
                    void (*fn)(const sl_quota_entity_t *e, unsigned mask, const double *vals,
                               void *opaque),
                    void *opaque) {
    for (entry_t *x = q->entries; x; x = x->next) {
        sl_quota_entity_t e = {{0}, {0}};
        for (int t = 0; t < SL_QE_N; t++) {
            e.has[t] = x->has[t];
            e.name[t] = x->name[t];
        }
        fn(&e, x->mask, x->vals, opaque);
    }
}

/* ---- enforcement ---- */

/* Whether entry x names the user `u` (NULL: the default user; absent when !has_u) and the
 * client-id `c` likewise, with no ip. */
static bool entry_is(const entry_t *x, bool has_u, const char *u, bool has_c, const sl_str_t *c) {
    if (x->has[SL_QE_IP] || x->has[SL_QE_USER] != has_u || x->has[SL_QE_CLIENT] != has_c) {
        return false;
    }
    if (has_u && !name_eq(x->name[SL_QE_USER], u)) {
        return false;
    }
    if (has_c) {
        const char *xn = x->name[SL_QE_CLIENT];
        if (!c) {
            return xn == NULL;
        }
        return xn && sl_str_eqz(*c, xn);
    }
    return true;
}

static const entry_t *find_level(const sl_quotas_t *q, bool has_u, const char *u, bool has_c,
                                 const sl_str_t *c, int key) {
    for (const entry_t *x = q->entries; x; x = x->next) {
        if ((x->mask & (1u << key)) && entry_is(x, has_u, u, has_c, c)) {
            return x;
        }
    }
    return NULL;
}

/* Finds the quota for (user, client) and `key`: its bound and whether the rate it is measured
 * by is keyed by user and by client-id. False when no quota applies. */
static bool resolve(const sl_quotas_t *q, const char *user, const sl_str_t *client, int key,
                    double *bound, bool *by_user, bool *by_client) {
    static const struct {
        bool has_u, named_u, has_c, named_c;
    } levels[] = {
        {true, true, true, true},   {true, true, true, false},   {true, true, false, false},
        {true, false, true, true},  {true, false, true, false},  {true, false, false, false},
        {false, false, true, true}, {false, false, true, false},
    };
    if (q->n_entries) {
        for (size_t i = 0; i < SL_ARRAY_LEN(levels); i++) {
            const entry_t *x = find_level(q, levels[i].has_u, levels[i].named_u ? user : NULL,
                                          levels[i].has_c, levels[i].named_c ? client : NULL, key);
            if (x) {
                *bound = x->vals[key];
                *by_user = levels[i].has_u;
                *by_client = levels[i].has_c;
                return true;
            }
        }
    }
    if (q->defaults[key] > 0) {
        *bound = q->defaults[key];
        *by_user = false;
        *by_client = true;
        return true;
    }
    return false;
}

static uint64_t hash_bytes(const char *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
    }
    return h;
}

/* The rate of quota key `key` for the entity (u, c): either may be absent (NULL p). */
static sensor_t *sensor_get(sl_quotas_t *q, int key, sl_str_t u, sl_str_t c, uint64_t now_ns) {
    char stack[512];
    size_t len = 1 + 4 + u.len + 4 + c.len;
    char *k = len <= sizeof stack ? stack : sl_xmalloc(len);
    k[0] = (char)key;
    uint32_t ul = (uint32_t)u.len, cl = (uint32_t)c.len;
    memcpy(k + 1, &ul, 4);
    if (u.len) {
        memcpy(k + 5, u.p, u.len);
    }
    memcpy(k + 5 + u.len, &cl, 4);
    if (c.len) {
        memcpy(k + 9 + u.len, c.p, c.len);
    }
    size_t b = hash_bytes(k, len) % SENSOR_BUCKETS;
    sensor_t *s = q->buckets[b];
    while (s && (s->key_len != len || memcmp(s->key, k, len))) {
        s = s->next;
    }
    if (!s) {
        s = sl_xcalloc(1, sizeof *s);
        s->key = sl_xmalloc(len);
        memcpy(s->key, k, len);
        s->key_len = len;
        sl_rate_init(&s->rate, q->samples, q->window_ns);
        s->next = q->buckets[b];
        q->buckets[b] = s;
        q->n_sensors++;
    }
    if (k != stack) {
        free(k);
    }
    s->last_ns = now_ns;
    return s;
}

uint32_t sl_quota_record(sl_quotas_t *q, const char *user, sl_str_t client_id, sl_quota_key_t key,
                         double amount, uint64_t now_ns) {
    if (!q->n_entries && !(q->defaults[key] > 0)) {
        return 0;
    }
    sl_str_t client = client_id.p ? client_id : (sl_str_t){"", 0}; /* null client-id: "" */
    double bound;
    bool by_user, by_client;
    if (!resolve(q, user, &client, key, &bound, &by_user, &by_client)) {
        return 0;
    }
    sl_str_t u = by_user ? (sl_str_t){user, strlen(user)} : (sl_str_t){NULL, 0};
    sl_str_t c = by_client ? client : (sl_str_t){NULL, 0};
    sensor_t *s = sensor_get(q, key, u, c, now_ns);
    sl_rate_record(&s->rate, amount, now_ns);
    if (key == SL_QK_REQUEST_PERCENTAGE) {
        bound = bound / 100.0 * (double)NS_PER_S; /* ns of loop time per second */
    }
    double rate = sl_rate_measure(&s->rate, now_ns);
    return sl_quota_throttle_ms(rate, bound, sl_rate_window_ns(&s->rate, now_ns),
                                (uint32_t)(q->window_ns / NS_PER_MS));
}

bool sl_quota_conn_admit(sl_quotas_t *q, const char *ip, uint64_t now_ns) {
    if (!q->n_entries) {
        return true;
    }
    const entry_t *hit = NULL;
    for (int pass = 0; pass < 2 && !hit; pass++) {
        for (const entry_t *x = q->entries; x && !hit; x = x->next) {
            if (x->has[SL_QE_IP] && (x->mask & (1u << SL_QK_CONNECTION_CREATION_RATE)) &&
                (pass == 0 ? x->name[SL_QE_IP] && !strcmp(x->name[SL_QE_IP], ip)
                           : !x->name[SL_QE_IP])) {
                hit = x;
            }
        }
    }
    if (!hit) {
        return true;
    }
    sensor_t *s = sensor_get(q, SL_QK_CONNECTION_CREATION_RATE, (sl_str_t){NULL, 0},
                             (sl_str_t){ip, strlen(ip)}, now_ns);
    /* Judge the rate this connection would make; refused ones are not counted, so the admitted
     * rate converges to the quota. */
    sl_rate_t trial = s->rate;
    sl_rate_record(&trial, 1, now_ns);
    if (sl_rate_measure(&trial, now_ns) > hit->vals[SL_QK_CONNECTION_CREATION_RATE]) {
        return false;
    }
    s->rate = trial;
    return true;
}

void sl_quotas_expire(sl_quotas_t *q, uint64_t now_ns, uint64_t idle_ms) {
    for (size_t i = 0; i < SENSOR_BUCKETS; i++) {
        sensor_t **pp = &q->buckets[i];
        while (*pp) {
            sensor_t *s = *pp;
            if (now_ns - s->last_ns >= idle_ms * NS_PER_MS) {
                *pp = s->next;
                free(s->key);
                free(s);
                q->n_sensors--;
            } else {
                pp = &s->next;
            }
        }
    }
}

size_t sl_quotas_n_sensors(const sl_quotas_t *q) {
    return q->n_sensors;
}

/* {api key, first version with throttle_time_ms, its offset in the body}. */
static const struct {
    int16_t key, since, at;
} throttle_fields[] = {
    {0, 1, SL_THROTTLE_LAST}, /* Produce: after the responses */
    {1, 1, 0},                /* Fetch */
    {2, 2, 0},                /* ListOffsets */
    {3, 3, 0},                /* Metadata */
    {8, 3, 0},                /* OffsetCommit */
    {9, 3, 0},                /* OffsetFetch */
    {10, 1, 0},               /* FindCoordinator */
    {11, 2, 0},               /* JoinGroup */
    {12, 1, 0},               /* Heartbeat */
    {13, 1, 0},               /* LeaveGroup */
    {14, 1, 0},               /* SyncGroup */
    {15, 1, 0},               /* DescribeGroups */
    {16, 1, 0},               /* ListGroups */
    {19, 2, 0},               /* CreateTopics */
    {20, 1, 0},               /* DeleteTopics */
    {21, 0, 0},               /* DeleteRecords */
    {22, 0, 0},               /* InitProducerId */
    {24, 0, 0},               /* AddPartitionsToTxn */
    {25, 0, 0},               /* AddOffsetsToTxn */
    {26, 0, 0},               /* EndTxn */
    {28, 0, 0},               /* TxnOffsetCommit */
    {29, 0, 0},               /* DescribeAcls */
    {30, 0, 0},               /* CreateAcls */
    {31, 0, 0},               /* DeleteAcls */
    {32, 0, 0},               /* DescribeConfigs */
    {33, 0, 0},               /* AlterConfigs */
    {35, 0, 0},               /* DescribeLogDirs */
    {37, 0, 0},               /* CreatePartitions */
    {42, 0, 0},               /* DeleteGroups */
    {43, 0, 0},               /* ElectLeaders */
    {44, 0, 0},               /* IncrementalAlterConfigs */
    {45, 0, 0},               /* AlterPartitionReassignments */
    {46, 0, 0},               /* ListPartitionReassignments */
    {47, 0, 2},               /* OffsetDelete: after error_code */
    {48, 0, 0},               /* DescribeClientQuotas */
    {49, 0, 0},               /* AlterClientQuotas */
    {50, 0, 0},               /* DescribeUserScramCredentials */
    {51, 0, 0},               /* AlterUserScramCredentials */
    {60, 0, 0},               /* DescribeCluster */
    {61, 0, 0},               /* DescribeProducers */
    {65, 0, 0},               /* DescribeTransactions */
    {66, 0, 0},               /* ListTransactions */
    {68, 0, 0},               /* ConsumerGroupHeartbeat */
    {69, 0, 0},               /* ConsumerGroupDescribe */
};

int sl_throttle_field_at(int16_t api_key, int16_t version) {
    for (size_t i = 0; i < sizeof throttle_fields / sizeof throttle_fields[0]; i++) {
        if (throttle_fields[i].key == api_key) {
            return version >= throttle_fields[i].since ? throttle_fields[i].at : -1;
        }
    }
    return -1;
}
