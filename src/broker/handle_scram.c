/* handle_scram.c -- SCRAM credentials: DescribeUserScramCredentials (50) v0,
 * AlterUserScramCredentials (51) v0 (KIP-554), and their durable form in the metadata log.
 *
 * An upsertion carries the salt, the iteration count and the salted password (the client hashes
 * the password; it never crosses the wire); the broker keeps StoredKey and ServerKey derived from
 * it and drops the salted password. Each accepted change is one SL_META_SCRAM record, synced
 * before the answer. Per user: a user named twice in one request gets DUPLICATE_RESOURCE for all
 * its operations, an unknown mechanism UNSUPPORTED_SASL_MECHANISM, iterations outside
 * [4096, 16384] or a salted password of the wrong length UNACCEPTABLE_CREDENTIAL, deleting what
 * does not exist RESOURCE_NOT_FOUND. Until ACLs land, anyone who reaches an authenticated
 * connection (or a PLAINTEXT listener) may change credentials: docs/security.md says so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/metalog.h"
#include "common/log.h"
#include "proto/kerr.h"
#include "security/credstore.h"
#include "security/scram.h"

#define MAX_OPS 1000

void sl_sasl_apply_meta(sl_broker_t *b, const char *user, const sl_kv_t *kv, size_t n) {
    if (!b->creds) {
        b->creds = sl_credstore_new();
    }
    const char *mech = NULL, *salt = NULL, *iter = NULL, *stored = NULL, *server = NULL;
    bool deleted = false;
    for (size_t i = 0; i < n; i++) {
        const char *k = kv[i].key, *v = kv[i].value;
        if (!strcmp(k, "mechanism")) {
            mech = v;
        } else if (!strcmp(k, "salt")) {
            salt = v;
        } else if (!strcmp(k, "iterations")) {
            iter = v;
        } else if (!strcmp(k, "stored_key")) {
            stored = v;
        } else if (!strcmp(k, "server_key")) {
            server = v;
        } else if (!strcmp(k, "deleted")) {
            deleted = !strcmp(v, "true");
        }
    }
    int m = mech ? sl_scram_mech_find(mech, strlen(mech)) : -1;
    if (m < 0 || !user || !*user) {
        sl_log(SL_LOG_WARN, "auth", "msg=\"SCRAM record without a known mechanism skipped\"");
        return;
    }
    if (deleted) {
        (void)sl_credstore_delete(b->creds, user, (sl_scram_mech_t)m);
        return;
    }
    sl_scram_cred_t c = {0};
    size_t h = sl_scram_hash_len((sl_scram_mech_t)m);
    long sl = salt ? sl_b64_decode(salt, strlen(salt), c.salt, sizeof c.salt) : -1;
    long kl = stored ? sl_b64_decode(stored, strlen(stored), c.stored_key, h) : -1;
    long vl = server ? sl_b64_decode(server, strlen(server), c.server_key, h) : -1;
    c.iterations = iter ? (int32_t)atol(iter) : 0;
    if (sl <= 0 || kl != (long)h || vl != (long)h || c.iterations <= 0) {
        sl_log(SL_LOG_WARN, "auth", "user=\"%s\" msg=\"malformed SCRAM record skipped\"", user);
        return;
    }
    c.salt_len = (size_t)sl;
    sl_credstore_put(b->creds, user, (sl_scram_mech_t)m, &c);
}

/* Writes the credential (or its deletion) to the metadata log. 0 or KAFKA_STORAGE_ERROR. */
static int persist(sl_broker_t *b, const char *user, sl_scram_mech_t m, const sl_scram_cred_t *c) {
    char salt[SL_SCRAM_MAX_SALT * 2], stored[SL_SCRAM_MAX_HASH * 2], server[SL_SCRAM_MAX_HASH * 2],
        iter[16];
    sl_kv_t kv[5];
    size_t n = 0;
    kv[n++] = (sl_kv_t){"mechanism", (char *)sl_scram_mech_name(m)};
    if (c) {
        size_t h = sl_scram_hash_len(m);
        sl_b64_encode(c->salt, c->salt_len, salt, sizeof salt);
        sl_b64_encode(c->stored_key, h, stored, sizeof stored);
        sl_b64_encode(c->server_key, h, server, sizeof server);
        snprintf(iter, sizeof iter, "%d", (int)c->iterations);
        kv[n++] = (sl_kv_t){"salt", salt};
        kv[n++] = (sl_kv_t){"iterations", iter};
        kv[n++] = (sl_kv_t){"stored_key", stored};
        kv[n++] = (sl_kv_t){"server_key", server};
    } else {
        kv[n++] = (sl_kv_t){"deleted", "true"};
    }
    sl_meta_rec_t rec = {SL_META_SCRAM, user, {0}, 0, kv, n, 0};
    return sl_metalog_append(b->metalog, &rec) == SL_OK ? 0 : KERR_KAFKA_STORAGE_ERROR;
}

typedef struct op {
    sl_str_t user;
    int8_t mech;
    bool upsert;
    int32_t iterations;
    sl_bytes_t salt, salted;
} op_t;

typedef struct result {
    sl_str_t user;
    int16_t err;
    const char *msg;
} result_t;

static result_t *result_for(result_t *res, size_t *n, sl_str_t user) {
    for (size_t i = 0; i < *n; i++) {
        if (sl_str_eq(res[i].user, user)) {
            return &res[i];
        }
    }
    res[*n] = (result_t){user, KERR_NONE, NULL};
    return &res[(*n)++];
}

/* Checks one operation; 0 or the error for its user, with a message. */
static int16_t check_op(sl_broker_t *b, const op_t *o, const char **msg) {
    int m = sl_scram_mech_from_kafka_type(o->mech);
    if (m < 0) {
        *msg = "Unknown SCRAM mechanism";
        return KERR_UNSUPPORTED_SASL_MECHANISM;
    }
    if (o->user.len == 0 || o->user.len >= SL_SCRAM_MAX_USER) {
        *msg = "A user name must have 1 to 255 bytes";
        return KERR_UNACCEPTABLE_CREDENTIAL;
    }
    if (!o->upsert) {
        char name[SL_SCRAM_MAX_USER];
        snprintf(name, sizeof name, "%.*s", (int)o->user.len, o->user.p);
        sl_scram_cred_t c;
        if (!sl_credstore_get(b->creds, name, (sl_scram_mech_t)m, &c)) {
            *msg = "No such credential";
            return KERR_RESOURCE_NOT_FOUND;
        }
        return KERR_NONE;
    }
    if (o->iterations < SL_SCRAM_MIN_ITER || o->iterations > SL_SCRAM_MAX_ITER) {
        *msg = "Iterations must be between 4096 and 16384";
        return KERR_UNACCEPTABLE_CREDENTIAL;
    }
    if (!o->salt.p || o->salt.len == 0 || o->salt.len > SL_SCRAM_MAX_SALT || !o->salted.p ||
        o->salted.len != sl_scram_hash_len((sl_scram_mech_t)m)) {
        *msg = "Bad salt or salted password";
        return KERR_UNACCEPTABLE_CREDENTIAL;
    }
    return KERR_NONE;
}

SL_HANDLER(AlterUserScramCredentials) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    op_t *ops = NULL;
    size_t n_ops = 0;
    sl_err_t rc = SL_OK;
    for (int pass = 0; pass < 2 && !rd->err; pass++) {
        int32_t n = sl_rd_count(rd, true, pass == 0 ? 3 : 10);
        if (rd->err || n_ops + (size_t)n > MAX_OPS) {
            rc = SL_ERR_INVAL;
            break;
        }
        ops = sl_xrealloc(ops, (n_ops + (size_t)n + 1) * sizeof *ops);
        for (int32_t i = 0; i < n && !rd->err; i++) {
            op_t *o = &ops[n_ops++];
            memset(o, 0, sizeof *o);
            o->upsert = pass == 1;
            o->user = sl_rd_str(rd, true);
            o->mech = sl_rd_i8(rd);
            if (o->upsert) {
                o->iterations = sl_rd_i32(rd);
                o->salt = sl_rd_bytes(rd, true);
                o->salted = sl_rd_bytes(rd, true);
            }
            sl_rd_tags(rd, true);
        }
    }
    sl_rd_tags(rd, true);
    if (rc != SL_OK || rd->err) {
        free(ops);
        return SL_ERR_INVAL;
    }
    result_t *res = sl_xcalloc(n_ops + 1, sizeof *res);
    size_t n_res = 0;
    /* Kafka's rule: ALTER on the cluster. A user named twice: DUPLICATE_RESOURCE for the user,
     * none of its operations applied. */
    bool may = sl_req_allowed_cluster(req, SL_ACL_ALTER);
    for (size_t i = 0; i < n_ops; i++) {
        result_t *r = result_for(res, &n_res, ops[i].user);
        if (!may) {
            r->err = KERR_CLUSTER_AUTHORIZATION_FAILED;
            r->msg = "AlterUserScramCredentials needs ALTER on the cluster";
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (sl_str_eq(ops[j].user, ops[i].user) && ops[j].mech == ops[i].mech) {
                r->err = KERR_DUPLICATE_RESOURCE;
                r->msg = "A user and mechanism may appear once per request";
            }
        }
        const char *msg = NULL;
        int16_t e = r->err ? KERR_NONE : check_op(b, &ops[i], &msg);
        if (e) {
            r->err = e;
            r->msg = msg;
        }
    }
    for (size_t i = 0; i < n_ops; i++) {
        result_t *r = result_for(res, &n_res, ops[i].user);
        if (r->err) {
            continue;
        }
        char name[SL_SCRAM_MAX_USER];
        snprintf(name, sizeof name, "%.*s", (int)ops[i].user.len, ops[i].user.p);
        sl_scram_mech_t m = (sl_scram_mech_t)sl_scram_mech_from_kafka_type(ops[i].mech);
        sl_scram_cred_t c;
        int e;
        if (ops[i].upsert) {
            if (sl_scram_cred_from_salted(m, ops[i].salted.p, ops[i].salt.p, ops[i].salt.len,
                                          ops[i].iterations, &c) != SL_OK) {
                r->err = KERR_UNACCEPTABLE_CREDENTIAL;
                r->msg = "Cannot derive the credential";
                continue;
            }
            e = persist(b, name, m, &c);
            if (!e) {
                sl_credstore_put(b->creds, name, m, &c);
            }
        } else {
            e = persist(b, name, m, NULL);
            if (!e) {
                (void)sl_credstore_delete(b->creds, name, m);
            }
        }
        if (e) {
            r->err = (int16_t)e;
            r->msg = "Cannot write the metadata log";
        } else {
            sl_log(SL_LOG_INFO, "auth",
                   "conn=%llu peer=%s principal=\"User:%s\" op=%s "
                   "user=\"%s\" mechanism=%s",
                   (unsigned long long)sl_conn_id(req->conn), sl_conn_peer(req->conn),
                   sl_req_principal(req), ops[i].upsert ? "upsert" : "delete", name,
                   sl_scram_mech_name(m));
        }
    }
    sl_wr_i32(&req->wr, 0); /* throttle_time_ms */
    sl_wr_array_len(&req->wr, true, (int32_t)n_res);
    for (size_t i = 0; i < n_res; i++) {
        sl_wr_str(&req->wr, true, res[i].user);
        sl_wr_i16(&req->wr, res[i].err);
        sl_wr_strz(&req->wr, true, res[i].err ? res[i].msg : NULL);
        sl_wr_tags(&req->wr, true);
    }
    sl_wr_tags(&req->wr, true);
    free(res);
    free(ops);
    return SL_OK;
}

static void describe_user(sl_writer_t *wr, const sl_credstore_t *st, size_t i) {
    sl_wr_strz(wr, true, sl_credstore_user(st, i));
    sl_wr_i16(wr, KERR_NONE);
    sl_wr_strz(wr, true, NULL);
    int32_t n = 0, it;
    for (int m = 0; m < SL_SCRAM_N; m++) {
        n += sl_credstore_user_has(st, i, (sl_scram_mech_t)m, &it);
    }
    sl_wr_array_len(wr, true, n);
    for (int m = 0; m < SL_SCRAM_N; m++) {
        if (sl_credstore_user_has(st, i, (sl_scram_mech_t)m, &it)) {
            sl_wr_i8(wr, sl_scram_mech_kafka_type((sl_scram_mech_t)m));
            sl_wr_i32(wr, it);
            sl_wr_tags(wr, true);
        }
    }
    sl_wr_tags(wr, true);
}

SL_HANDLER(DescribeUserScramCredentials) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    int32_t n = sl_rd_array_len(rd, true, 2); /* null: every user */
    if (rd->err || n > MAX_OPS) {
        return SL_ERR_INVAL;
    }
    sl_str_t *names = n > 0 ? sl_xcalloc((size_t)n, sizeof *names) : NULL;
    for (int32_t i = 0; i < n && !rd->err; i++) {
        names[i] = sl_rd_str(rd, true);
        sl_rd_tags(rd, true);
    }
    sl_rd_tags(rd, true);
    if (rd->err) {
        free(names);
        return SL_ERR_INVAL;
    }
    sl_wr_i32(&req->wr, 0);
    if (!sl_req_allowed_cluster(req, SL_ACL_DESCRIBE)) { /* Kafka's rule */
        sl_wr_i16(&req->wr, KERR_CLUSTER_AUTHORIZATION_FAILED);
        sl_wr_strz(&req->wr, true, "DescribeUserScramCredentials needs DESCRIBE on the cluster");
        sl_wr_array_len(&req->wr, true, 0);
        sl_wr_tags(&req->wr, true);
        free(names);
        return SL_OK;
    }
    sl_wr_i16(&req->wr, KERR_NONE);
    sl_wr_strz(&req->wr, true, NULL);
    const sl_credstore_t *st = b->creds;
    if (n < 0) {
        size_t users = sl_credstore_users(st);
        sl_wr_array_len(&req->wr, true, (int32_t)users);
        for (size_t i = 0; i < users; i++) {
            describe_user(&req->wr, st, i);
        }
    } else {
        sl_wr_array_len(&req->wr, true, n);
        for (int32_t k = 0; k < n; k++) {
            size_t users = sl_credstore_users(st), i;
            for (i = 0; i < users; i++) {
                const char *u = sl_credstore_user(st, i);
                if (strlen(u) == names[k].len && !memcmp(u, names[k].p, names[k].len)) {
                    break;
                }
            }
            bool dup = false;
            for (int32_t j = 0; j < k; j++) {
                dup = dup || sl_str_eq(names[j], names[k]);
            }
            if (i < users && !dup) {
                describe_user(&req->wr, st, i);
                continue;
            }
            sl_wr_str(&req->wr, true, names[k]);
            sl_wr_i16(&req->wr, dup ? KERR_DUPLICATE_RESOURCE : KERR_RESOURCE_NOT_FOUND);
            sl_wr_strz(&req->wr, true, dup ? "User named twice" : "No credentials for the user");
            sl_wr_array_len(&req->wr, true, 0);
            sl_wr_tags(&req->wr, true);
        }
    }
    sl_wr_tags(&req->wr, true);
    free(names);
    return SL_OK;
}
