/* handle_quota.c -- AlterClientQuotas and DescribeClientQuotas (KIP-546), and the metadata-log
 * records that keep quotas across restarts.
 *
 * AlterClientQuotas v0-1 (flexible v1): entries {entity {entity_type, entity_name (null: the
 *   default)}, ops {key, value (float64), remove}}, validate_only
 *   -> throttle_time_ms, entries {error_code, error_message, entity {entity_type, entity_name}}
 * DescribeClientQuotas v0-1 (flexible v1): components {entity_type, match_type (0 exact name,
 *   1 default, 2 any name), match}, strict
 *   -> throttle_time_ms, error_code, error_message, entries (null on error) {entity {entity_type,
 *      entity_name}, values {key, value (float64)}}
 *
 * Entity types are user, client-id and ip. Each entry is judged on its own, as Kafka does: an
 * unknown entity type or key, a type given twice, ip mixed with user or client-id, or a key the
 * entity cannot have is INVALID_REQUEST; a value that is not positive (or not whole, for the byte
 * and connection rates) is INVALID_CONFIG. A filter component of type 2 matches the default
 * entity too. An accepted entry is one SL_META_QUOTA record holding every value the entity then
 * has (none: the entity is gone), synced before the answer.
 * Metadata record: name "", configs = the entity's types ("user", "client-id", "ip"; value =
 * name, null = default) followed by its quota keys (value printed with %.17g). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/metalog.h"
#include "common/log.h"
#include "proto/kerr.h"

#define MAX_OPS 16 /* more ops than keys on one entity is an error anyway */

static double rd_f64(sl_reader_t *rd) {
    uint64_t bits = (uint64_t)sl_rd_i64(rd);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static void wr_f64(sl_writer_t *wr, double d) {
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    sl_wr_i64(wr, (int64_t)bits);
}

static void wr_entity(sl_writer_t *wr, bool flex, const sl_quota_entity_t *e) {
    int n = 0;
    for (int t = 0; t < SL_QE_N; t++) {
        n += e->has[t];
    }
    sl_wr_array_len(wr, flex, n);
    for (int t = 0; t < SL_QE_N; t++) {
        if (e->has[t]) {
            sl_wr_strz(wr, flex, sl_quota_etype_name((sl_quota_etype_t)t));
            sl_wr_strz(wr, flex, e->name[t]);
            sl_wr_tags(wr, flex);
        }
    }
}

/* ---- persistence ---- */

void sl_quota_apply_meta(sl_broker_t *b, const sl_kv_t *kv, size_t n) {
    sl_quota_entity_t e = {{0}, {0}};
    double vals[SL_QK_N] = {0};
    unsigned mask = 0;
    for (size_t i = 0; i < n; i++) {
        sl_str_t k = {kv[i].key, strlen(kv[i].key)};
        int t = sl_quota_etype_find(k), q = sl_quota_key_find(k);
        if (t >= 0) {
            e.has[t] = true;
            e.name[t] = kv[i].value;
        } else if (q >= 0 && kv[i].value) {
            vals[q] = strtod(kv[i].value, NULL);
            mask |= 1u << q;
        } else {
            sl_log(SL_LOG_WARN, "broker", "key=%s msg=\"unknown quota record field ignored\"",
                   kv[i].key);
        }
    }
    sl_quotas_put(b->quotas, &e, mask, vals);
}

/* Writes the entity's values durably; 0 or KAFKA_STORAGE_ERROR. */
static int persist(sl_broker_t *b, const sl_quota_entity_t *e, unsigned mask, const double *vals) {
    sl_kv_t kv[SL_QE_N + SL_QK_N];
    char num[SL_QK_N][32];
    size_t n = 0;
    for (int t = 0; t < SL_QE_N; t++) {
        if (e->has[t]) {
            kv[n++] =
                (sl_kv_t){(char *)sl_quota_etype_name((sl_quota_etype_t)t), (char *)e->name[t]};
        }
    }
    for (int k = 0; k < SL_QK_N; k++) {
        if (mask & (1u << k)) {
            snprintf(num[k], sizeof num[k], "%.17g", vals[k]);
            kv[n++] = (sl_kv_t){(char *)sl_quota_key_name((sl_quota_key_t)k), num[k]};
        }
    }
    sl_meta_rec_t rec = {SL_META_QUOTA, "", {0}, 0, kv, n, 0};
    return sl_metalog_append(b->metalog, &rec) == SL_OK ? 0 : KERR_KAFKA_STORAGE_ERROR;
}

/* ---- AlterClientQuotas ---- */

typedef struct op {
    sl_str_t key;
    double value;
    bool remove;
} op_t;

typedef struct alter_entry {
    sl_quota_entity_t e;
    char *names[SL_QE_N]; /* owned copies behind e.name */
    op_t ops[MAX_OPS];
    int32_t n_ops;
    int error;
    char msg[SL_ERRLEN];
} alter_entry_t;

/* Reads one entity; a problem with it is recorded in `a` (the request stays well formed). */
static void read_entity(sl_reader_t *rd, bool flex, alter_entry_t *a) {
    int32_t n = sl_rd_count(rd, flex, 2);
    for (int32_t i = 0; i < n && !rd->err; i++) {
        sl_str_t type = sl_rd_str(rd, flex), name = sl_rd_str(rd, flex);
        sl_rd_tags(rd, flex);
        if (rd->err || a->error) {
            continue;
        }
        int t = sl_quota_etype_find(type);
        if (t < 0) {
            a->error = KERR_INVALID_REQUEST;
            snprintf(a->msg, sizeof a->msg, "unknown entity type %.*s", (int)SL_MIN(type.len, 64),
                     type.p ? type.p : "");
        } else if (a->e.has[t]) {
            a->error = KERR_INVALID_REQUEST;
            snprintf(a->msg, sizeof a->msg, "entity type %s given twice",
                     sl_quota_etype_name((sl_quota_etype_t)t));
        } else {
            a->e.has[t] = true;
            a->names[t] = name.p ? sl_str_dupz(name) : NULL;
            a->e.name[t] = a->names[t];
        }
    }
}

static bool valid_ip(const char *s) {
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Validates the entry and, unless validate_only, applies it. */
static void alter_one(sl_broker_t *b, alter_entry_t *a, bool validate_only) {
    if (a->error) {
        return;
    }
    if ((a->error = sl_quota_check_entity(&a->e, a->msg)) != 0) {
        return;
    }
    if (a->e.has[SL_QE_IP] && a->e.name[SL_QE_IP] && !valid_ip(a->e.name[SL_QE_IP])) {
        a->error = KERR_INVALID_REQUEST;
        snprintf(a->msg, sizeof a->msg, "%s is not an IP address", a->e.name[SL_QE_IP]);
        return;
    }
    double vals[SL_QK_N];
    unsigned mask = sl_quotas_get(b->quotas, &a->e, vals), seen = 0;
    for (int32_t i = 0; i < a->n_ops; i++) {
        op_t *o = &a->ops[i];
        if ((a->error = sl_quota_check_op(&a->e, o->key, o->value, o->remove, a->msg)) != 0) {
            return;
        }
        int k = sl_quota_key_find(o->key);
        if (seen & (1u << k)) {
            a->error = KERR_INVALID_REQUEST;
            snprintf(a->msg, sizeof a->msg, "%s given twice", sl_quota_key_name((sl_quota_key_t)k));
            return;
        }
        seen |= 1u << k;
        if (o->remove) {
            mask &= ~(1u << k);
        } else {
            mask |= 1u << k;
            vals[k] = o->value;
        }
    }
    if (validate_only) {
        return;
    }
    if ((a->error = persist(b, &a->e, mask, vals)) != 0) {
        snprintf(a->msg, sizeof a->msg, "the metadata log could not be written");
        return;
    }
    sl_quotas_put(b->quotas, &a->e, mask, vals);
}

SL_HANDLER(AlterClientQuotas) {
    sl_reader_t *rd = &req->rd;
    bool flex = req->flex;
    int32_t n = sl_rd_count(rd, flex, 2);
    alter_entry_t *entries = n > 0 ? sl_xcalloc((size_t)n, sizeof *entries) : NULL;
    for (int32_t i = 0; i < n && !rd->err; i++) {
        alter_entry_t *a = &entries[i];
        read_entity(rd, flex, a);
        int32_t n_ops = sl_rd_count(rd, flex, 10);
        for (int32_t j = 0; j < n_ops && !rd->err; j++) {
            op_t o; /* one field at a time: initializers are not sequenced */
            o.key = sl_rd_str(rd, flex);
            o.value = rd_f64(rd);
            o.remove = sl_rd_bool(rd);
            sl_rd_tags(rd, flex);
            if (a->n_ops < MAX_OPS) {
                a->ops[a->n_ops++] = o;
            } else if (!a->error) {
                a->error = KERR_INVALID_REQUEST;
                snprintf(a->msg, sizeof a->msg, "too many operations on one entity");
            }
        }
        sl_rd_tags(rd, flex);
    }
    bool validate_only = sl_rd_bool(rd);
    sl_rd_tags(rd, flex);
    sl_err_t rc = rd->err;
    if (!rc) {
        sl_writer_t *wr = &req->wr;
        sl_wr_i32(wr, 0); /* throttle_time_ms */
        sl_wr_array_len(wr, flex, n);
        bool may = sl_req_allowed_cluster(req, SL_ACL_ALTER_CONFIGS); /* Kafka's rule */
        for (int32_t i = 0; i < n; i++) {
            alter_entry_t *a = &entries[i];
            if (!may) {
                a->error = KERR_CLUSTER_AUTHORIZATION_FAILED;
                snprintf(a->msg, sizeof a->msg,
                         "AlterClientQuotas needs ALTER_CONFIGS on the cluster");
            } else {
                alter_one(req->broker, a, validate_only);
            }
            sl_wr_i16(wr, (int16_t)a->error);
            sl_wr_strz(wr, flex, a->error ? a->msg : NULL);
            wr_entity(wr, flex, &a->e);
            sl_wr_tags(wr, flex);
        }
        sl_wr_tags(wr, flex);
    }
    for (int32_t i = 0; i < n; i++) {
        for (int t = 0; t < SL_QE_N; t++) {
            free(entries[i].names[t]);
        }
    }
    free(entries);
    return rc;
}

/* ---- DescribeClientQuotas ---- */

typedef struct component {
    int type;
    int8_t match_type;
    sl_str_t match;
} component_t;

typedef struct describe_ctx {
    component_t comps[SL_QE_N];
    int n;
    bool strict;
    sl_writer_t *wr;
    bool flex;
    int32_t count;
    bool write;
} describe_ctx_t;

static bool matches(const describe_ctx_t *c, const sl_quota_entity_t *e) {
    bool named[SL_QE_N] = {false};
    for (int i = 0; i < c->n; i++) {
        const component_t *p = &c->comps[i];
        const char *name = e->name[p->type];
        named[p->type] = true;
        if (!e->has[p->type]) {
            return false;
        }
        if (p->match_type == 0 && !(name && sl_str_eqz(p->match, name))) {
            return false;
        }
        if (p->match_type == 1 && name) {
            return false;
        }
    }
    for (int t = 0; c->strict && t < SL_QE_N; t++) {
        if (e->has[t] && !named[t]) {
            return false;
        }
    }
    return true;
}

static void describe_each(const sl_quota_entity_t *e, unsigned mask, const double *vals,
                          void *opaque) {
    describe_ctx_t *c = opaque;
    if (!matches(c, e)) {
        return;
    }
    c->count++;
    if (!c->write) {
        return;
    }
    wr_entity(c->wr, c->flex, e);
    int nv = __builtin_popcount(mask);
    sl_wr_array_len(c->wr, c->flex, nv);
    for (int k = 0; k < SL_QK_N; k++) {
        if (mask & (1u << k)) {
            sl_wr_strz(c->wr, c->flex, sl_quota_key_name((sl_quota_key_t)k));
            wr_f64(c->wr, vals[k]);
            sl_wr_tags(c->wr, c->flex);
        }
    }
    sl_wr_tags(c->wr, c->flex);
}

SL_HANDLER(DescribeClientQuotas) {
    sl_reader_t *rd = &req->rd;
    bool flex = req->flex;
    describe_ctx_t c = {.wr = &req->wr, .flex = flex};
    int error = 0;
    char msg[SL_ERRLEN] = "";
    int32_t n = sl_rd_count(rd, flex, 4);
    for (int32_t i = 0; i < n && !rd->err; i++) {
        sl_str_t type = sl_rd_str(rd, flex);
        int8_t mt = sl_rd_i8(rd);
        sl_str_t match = sl_rd_str(rd, flex);
        sl_rd_tags(rd, flex);
        if (rd->err || error) {
            continue;
        }
        int t = sl_quota_etype_find(type);
        bool dup = false;
        for (int j = 0; j < c.n && t >= 0; j++) {
            dup |= c.comps[j].type == t;
        }
        if (t < 0) {
            error = KERR_INVALID_REQUEST;
            snprintf(msg, sizeof msg, "unknown entity type %.*s", (int)SL_MIN(type.len, 64),
                     type.p ? type.p : "");
        } else if (dup) {
            error = KERR_INVALID_REQUEST;
            snprintf(msg, sizeof msg, "entity type %s given twice",
                     sl_quota_etype_name((sl_quota_etype_t)t));
        } else if (mt < 0 || mt > 2 || (mt == 0 && !match.p)) {
            error = KERR_INVALID_REQUEST;
            snprintf(msg, sizeof msg, "bad match type %d for %s", mt,
                     sl_quota_etype_name((sl_quota_etype_t)t));
        } else {
            c.comps[c.n++] = (component_t){t, mt, match};
        }
    }
    c.strict = sl_rd_bool(rd);
    sl_rd_tags(rd, flex);
    if (rd->err) {
        return rd->err;
    }
    bool ip = false, other = false;
    for (int i = 0; i < c.n; i++) {
        ip |= c.comps[i].type == SL_QE_IP;
        other |= c.comps[i].type != SL_QE_IP;
    }
    if (!error && !sl_req_allowed_cluster(req, SL_ACL_DESCRIBE_CONFIGS)) { /* Kafka's rule */
        error = KERR_CLUSTER_AUTHORIZATION_FAILED;
        snprintf(msg, sizeof msg, "DescribeClientQuotas needs DESCRIBE_CONFIGS on the cluster");
    }
    if (!error && ip && other) {
        error = KERR_INVALID_REQUEST;
        snprintf(msg, sizeof msg, "ip cannot be filtered together with user or client-id");
    }
    sl_writer_t *wr = &req->wr;
    sl_wr_i32(wr, 0); /* throttle_time_ms */
    sl_wr_i16(wr, (int16_t)error);
    sl_wr_strz(wr, flex, error ? msg : NULL);
    if (error) {
        sl_wr_array_len(wr, flex, -1);
    } else {
        sl_quotas_each(req->broker->quotas, describe_each, &c); /* count first */
        sl_wr_array_len(wr, flex, c.count);
        c.write = true;
        sl_quotas_each(req->broker->quotas, describe_each, &c);
    }
    sl_wr_tags(wr, flex);
    return SL_OK;
}
