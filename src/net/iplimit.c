/* iplimit.c -- per-address connection counts (iplimit.h): a chained hash table of entries that
 * exist only while their address has a connection open, so an attacker cycling through the
 * addresses of 127.0.0.0/8 leaves nothing behind. */
#include "iplimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define N_BUCKETS 4096 /* power of two */

struct sl_ipcount {
    sl_ipcount_t *next;
    size_t count;
    char ip[64];
};

static sl_ipcount_t *buckets[N_BUCKETS];

static size_t bucket_of(const char *ip) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)ip; *p; p++) {
        h = (h ^ *p) * 16777619u;
    }
    return h & (N_BUCKETS - 1);
}

static sl_ipcount_t *find(const char *ip) {
    for (sl_ipcount_t *e = buckets[bucket_of(ip)]; e; e = e->next) {
        if (!strcmp(e->ip, ip)) {
            return e;
        }
    }
    return NULL;
}

size_t sl_ip_count(const char *ip) {
    sl_ipcount_t *e = find(ip);
    return e ? e->count : 0;
}

sl_ipcount_t *sl_ip_acquire(const char *ip) {
    sl_ipcount_t *e = find(ip);
    if (!e) {
        e = sl_xcalloc(1, sizeof *e);
        snprintf(e->ip, sizeof e->ip, "%s", ip);
        size_t b = bucket_of(e->ip);
        e->next = buckets[b];
        buckets[b] = e;
    }
    e->count++;
    return e;
}

void sl_ip_release(sl_ipcount_t *ent) {
    if (!ent) {
        return;
    }
    SL_ASSERT(ent->count > 0);
    if (--ent->count > 0) {
        return;
    }
    sl_ipcount_t **pp = &buckets[bucket_of(ent->ip)];
    while (*pp != ent) {
        pp = &(*pp)->next;
    }
    *pp = ent->next;
    free(ent);
}

sl_err_t sl_ip_parse_overrides(const char *s, sl_ip_override_t *out, size_t cap, size_t *n_out,
                               char *err) {
    size_t n = 0;
    const char *p = s;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[128];
        if (len == 0 || len >= sizeof item) {
            snprintf(err, SL_ERRLEN, "max.connections.per.ip.overrides: bad entry '%.*s'",
                     (int)SL_MIN(len, (size_t)64), p);
            return SL_ERR_INVAL;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        char *colon = strrchr(item, ':');
        char *num_end = NULL;
        long long v = colon ? strtoll(colon + 1, &num_end, 10) : -1;
        if (!colon || colon == item || colon - item >= (long)sizeof out->ip || !colon[1] ||
            *num_end || v < 0) {
            snprintf(err, SL_ERRLEN, "max.connections.per.ip.overrides: expected ADDR:N, got '%s'",
                     item);
            return SL_ERR_INVAL;
        }
        if (n == cap) {
            snprintf(err, SL_ERRLEN, "max.connections.per.ip.overrides: more than %zu entries",
                     cap);
            return SL_ERR_INVAL;
        }
        *colon = '\0';
        snprintf(out[n].ip, sizeof out[n].ip, "%s", item);
        out[n].max = (size_t)v;
        n++;
        p += len;
        if (*p == ',') {
            p++;
        }
    }
    *n_out = n;
    return SL_OK;
}
