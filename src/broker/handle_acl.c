/* handle_acl.c -- ACLs on the broker: DescribeAcls (29), CreateAcls (30), DeleteAcls (31), all
 * v0-3 (flexible from v2; v0 has no pattern type: LITERAL in bindings, LITERAL in filters as
 * Kafka reads it), their durable form in the metadata log, and the per-request check the
 * handlers call (sl_req_allowed).
 *
 * Each created or deleted binding is one SL_META_ACL record, synced (or committed by the quorum)
 * before the answer; replay applies them in order, so the bindings survive a restart. As in
 * Kafka, CreateAcls and DeleteAcls need ALTER on the cluster and DescribeAcls DESCRIBE, and
 * without an authorizer (authorizer.class.name empty) the three answer SECURITY_DISABLED. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/metalog.h"
#include "common/log.h"
#include "proto/kerr.h"
#include "security/acl.h"

#define MAX_ITEMS 1000

void sl_broker_acl_start(sl_broker_t *b) {
    if (!b->acls) {
        b->acls = sl_acls_new();
    }
    b->authz = b->conf.authorizer_class_name[0] != '\0';
    sl_acls_set_super_users(b->acls, b->conf.super_users);
    sl_acls_set_allow_everyone(b->acls, b->conf.allow_everyone_if_no_acl);
}

void sl_broker_acl_stop(sl_broker_t *b) {
    sl_acls_free(b->acls);
    b->acls = NULL;
}

/* The client's address: the connection's peer without its port. */
static void peer_host(const sl_req_t *req, char *out, size_t cap) {
    const char *peer = req->conn ? sl_conn_peer(req->conn) : "";
    const char *colon = strrchr(peer, ':');
    size_t len = colon ? (size_t)(colon - peer) : strlen(peer);
    snprintf(out, cap, "%.*s", (int)len, peer);
}

bool sl_req_allowed(const sl_req_t *req, int8_t res_type, sl_str_t name, int8_t op) {
    const sl_broker_t *b = req->broker;
    if (!b->authz) {
        return true;
    }
    char principal[272], host[64];
    snprintf(principal, sizeof principal, "User:%s", sl_req_principal(req));
    peer_host(req, host, sizeof host);
    bool ok = sl_acls_authorize(b->acls, principal, host, res_type, name.p ? name.p : "",
                                name.p ? name.len : 0, op);
    if (!ok) {
        sl_log(SL_LOG_DEBUG, "acl", "principal=\"%s\" host=%s op=%s resource=%s:%.*s msg=denied",
               principal, host, sl_acl_op_name(op), sl_acl_res_name(res_type),
               (int)(name.p ? name.len : 0), name.p ? name.p : "");
    }
    return ok;
}

bool sl_req_allowed_cluster(const sl_req_t *req, int8_t op) {
    sl_str_t name = {SL_ACL_CLUSTER_NAME, sizeof SL_ACL_CLUSTER_NAME - 1};
    return sl_req_allowed(req, SL_RES_CLUSTER, name, op);
}

bool sl_req_allowed_any(const sl_req_t *req, int8_t res_type, int8_t op) {
    if (!req->broker->authz) {
        return true;
    }
    char principal[272], host[64];
    snprintf(principal, sizeof principal, "User:%s", sl_req_principal(req));
    peer_host(req, host, sizeof host);
    return sl_acls_authorize_any(req->broker->acls, principal, host, res_type, op);
}

/* ---- the metadata log ---- */

void sl_acl_apply_meta(sl_broker_t *b, const char *res_name, const sl_kv_t *kv, size_t n) {
    if (!b->acls) {
        b->acls = sl_acls_new();
    }
    sl_acl_binding_t a = {0};
    a.res_name = res_name;
    int rt = -1, pt = -1, op = -1, pm = -1;
    bool deleted = false;
    for (size_t i = 0; i < n; i++) {
        const char *k = kv[i].key, *v = kv[i].value ? kv[i].value : "";
        if (!strcmp(k, "resource_type")) {
            rt = sl_acl_res_parse(v);
        } else if (!strcmp(k, "pattern_type")) {
            pt = sl_acl_pattern_parse(v);
        } else if (!strcmp(k, "principal")) {
            a.principal = v;
        } else if (!strcmp(k, "host")) {
            a.host = v;
        } else if (!strcmp(k, "operation")) {
            op = sl_acl_op_parse(v);
        } else if (!strcmp(k, "permission_type")) {
            pm = sl_acl_perm_parse(v);
        } else if (!strcmp(k, "deleted")) {
            deleted = !strcmp(v, "true");
        }
    }
    a.res_type = (int8_t)rt, a.pattern = (int8_t)pt, a.op = (int8_t)op, a.perm = (int8_t)pm;
    if (sl_acl_invalid(&a)) {
        sl_log(SL_LOG_WARN, "acl", "resource=\"%s\" msg=\"malformed ACL record skipped\"",
               res_name ? res_name : "");
        return;
    }
    if (deleted) {
        (void)sl_acls_remove(b->acls, &a);
    } else {
        (void)sl_acls_add(b->acls, &a);
    }
}

/* Writes a binding's creation or deletion: 0 or KAFKA_STORAGE_ERROR. */
static int persist(sl_broker_t *b, const sl_acl_binding_t *a, bool deleted) {
    sl_kv_t kv[7] = {
        {"resource_type", (char *)sl_acl_res_name(a->res_type)},
        {"pattern_type", (char *)sl_acl_pattern_name(a->pattern)},
        {"principal", (char *)a->principal},
        {"host", (char *)a->host},
        {"operation", (char *)sl_acl_op_name(a->op)},
        {"permission_type", (char *)sl_acl_perm_name(a->perm)},
        {"deleted", "true"},
    };
    sl_meta_rec_t rec = {SL_META_ACL, a->res_name, {0}, 0, kv, deleted ? 7 : 6, 0};
    return sl_metalog_append(b->metalog, &rec) == SL_OK ? 0 : KERR_KAFKA_STORAGE_ERROR;
}

/* ---- decoding ---- */

/* Reads one binding or filter (the two have the same fields); strings are copied into *own
 * (freed by the caller), and null ones stay NULL. */
static void read_binding(sl_req_t *req, sl_acl_binding_t *a, char **own) {
    sl_reader_t *rd = &req->rd;
    a->res_type = sl_rd_i8(rd);
    sl_str_t name = sl_rd_str(rd, req->flex);
    a->pattern = req->api_version >= 1 ? sl_rd_i8(rd) : (int8_t)SL_PAT_LITERAL;
    sl_str_t principal = sl_rd_str(rd, req->flex);
    sl_str_t host = sl_rd_str(rd, req->flex);
    a->op = sl_rd_i8(rd);
    a->perm = sl_rd_i8(rd);
    sl_rd_tags(rd, req->flex);
    own[0] = name.p ? sl_str_dupz(name) : NULL;
    own[1] = principal.p ? sl_str_dupz(principal) : NULL;
    own[2] = host.p ? sl_str_dupz(host) : NULL;
    a->res_name = own[0], a->principal = own[1], a->host = own[2];
}

static void free_owned(char **own, size_t n) {
    for (size_t i = 0; i < n * 3; i++) {
        free(own[i]);
    }
    free(own);
}

/* Reads the array of bindings (CreateAcls) or filters (DeleteAcls) that is the whole request,
 * its closing tags included: *v_out (n entries) and the strings they point at, *own_out, are the
 * caller's to free (free, free_owned). SL_ERR_INVAL, with nothing left allocated, on a truncated
 * request or more than MAX_ITEMS entries. */
static sl_err_t read_bindings(sl_req_t *req, sl_acl_binding_t **v_out, char ***own_out,
                              int32_t *n_out) {
    int32_t n = sl_rd_count(&req->rd, req->flex, 8);
    if (req->rd.err || n > MAX_ITEMS) {
        return SL_ERR_INVAL;
    }
    sl_acl_binding_t *v = sl_xcalloc((size_t)n + 1, sizeof *v);
    char **own = sl_xcalloc((size_t)n * 3 + 1, sizeof *own);
    for (int32_t i = 0; i < n && !req->rd.err; i++) {
        read_binding(req, &v[i], &own[i * 3]);
    }
    sl_rd_tags(&req->rd, req->flex);
    if (req->rd.err) {
        free(v);
        free_owned(own, (size_t)n);
        return SL_ERR_INVAL;
    }
    *v_out = v, *own_out = own, *n_out = n;
    return SL_OK;
}

/* One INFO line per binding created or deleted (`what`), naming who did it. */
static void log_change(const sl_req_t *req, const sl_acl_binding_t *a, const char *what) {
    sl_log(SL_LOG_INFO, "acl",
           "principal=\"User:%s\" msg=\"ACL %s\" resource=%s:%s:%s acl=\"%s %s %s from %s\"",
           sl_req_principal(req), what, sl_acl_res_name(a->res_type),
           sl_acl_pattern_name(a->pattern), a->res_name, a->principal, sl_acl_perm_name(a->perm),
           sl_acl_op_name(a->op), a->host);
}

static void write_binding_tail(sl_req_t *req, const sl_acl_binding_t *a) {
    sl_wr_strz(&req->wr, req->flex, a->principal);
    sl_wr_strz(&req->wr, req->flex, a->host);
    sl_wr_i8(&req->wr, a->op);
    sl_wr_i8(&req->wr, a->perm);
}

/* ---- CreateAcls ---- */

SL_HANDLER(CreateAcls) {
    sl_broker_t *b = req->broker;
    sl_acl_binding_t *v;
    char **own;
    int32_t n;
    if (read_bindings(req, &v, &own, &n) != SL_OK) {
        return SL_ERR_INVAL;
    }
    bool disabled = !b->authz, may = disabled || sl_req_allowed_cluster(req, SL_ACL_ALTER);
    sl_wr_i32(&req->wr, 0); /* throttle_time_ms */
    sl_wr_array_len(&req->wr, req->flex, n);
    for (int32_t i = 0; i < n; i++) {
        int16_t err = KERR_NONE;
        const char *msg = NULL;
        if (disabled) {
            err = KERR_SECURITY_DISABLED, msg = "No authorizer is configured";
        } else if (!may) {
            err = KERR_CLUSTER_AUTHORIZATION_FAILED, msg = "CreateAcls needs ALTER on the cluster";
        } else if ((msg = sl_acl_invalid(&v[i]))) {
            err = KERR_INVALID_REQUEST;
        } else if (sl_acls_add(b->acls, &v[i])) {
            if ((err = (int16_t)persist(b, &v[i], false))) {
                (void)sl_acls_remove(b->acls, &v[i]);
                msg = "metadata log write failed";
            } else {
                log_change(req, &v[i], "created");
            }
        }
        sl_wr_i16(&req->wr, err);
        sl_wr_strz(&req->wr, req->flex, msg);
        sl_wr_tags(&req->wr, req->flex);
    }
    sl_wr_tags(&req->wr, req->flex);
    free(v);
    free_owned(own, (size_t)n);
    return SL_OK;
}

/* ---- DescribeAcls ---- */

static bool same_resource(const sl_acl_binding_t *a, const sl_acl_binding_t *c) {
    return a->res_type == c->res_type && a->pattern == c->pattern &&
           !strcmp(a->res_name, c->res_name);
}

/* Whether binding i is a match (`hit`) and the first match of its resource pattern. */
static bool first_of_resource(const sl_acls_t *acls, const bool *hit, size_t i) {
    if (!hit[i]) {
        return false;
    }
    const sl_acl_binding_t *a = sl_acls_get(acls, i);
    for (size_t j = 0; j < i; j++) {
        if (hit[j] && same_resource(sl_acls_get(acls, j), a)) {
            return false;
        }
    }
    return true;
}

SL_HANDLER(DescribeAcls) {
    sl_broker_t *b = req->broker;
    sl_acl_filter_t f;
    char *own[3];
    read_binding(req, &f, own); /* the request is one struct: its tags end the binding */
    if (req->rd.err) {
        free(own[0]), free(own[1]), free(own[2]);
        return SL_ERR_INVAL;
    }
    int16_t err = KERR_NONE;
    const char *msg = NULL;
    if (!b->authz) {
        err = KERR_SECURITY_DISABLED, msg = "No authorizer is configured";
    } else if (!sl_req_allowed_cluster(req, SL_ACL_DESCRIBE)) {
        err = KERR_CLUSTER_AUTHORIZATION_FAILED, msg = "DescribeAcls needs DESCRIBE on the cluster";
    } else if ((msg = sl_acl_filter_invalid(&f))) {
        err = KERR_INVALID_REQUEST;
    }
    sl_wr_i32(&req->wr, 0);
    sl_wr_i16(&req->wr, err);
    sl_wr_strz(&req->wr, req->flex, msg);
    size_t total = err ? 0 : sl_acls_count(b->acls);
    bool *hit = sl_xcalloc(total + 1, sizeof *hit);
    int32_t n_res = 0;
    for (size_t i = 0; i < total; i++) {
        hit[i] = sl_acl_filter_matches(&f, sl_acls_get(b->acls, i));
        n_res += first_of_resource(b->acls, hit, i);
    }
    sl_wr_array_len(&req->wr, req->flex, n_res);
    for (size_t i = 0; i < total; i++) {
        if (!first_of_resource(b->acls, hit, i)) {
            continue;
        }
        const sl_acl_binding_t *a = sl_acls_get(b->acls, i);
        sl_wr_i8(&req->wr, a->res_type);
        sl_wr_strz(&req->wr, req->flex, a->res_name);
        if (req->api_version >= 1) {
            sl_wr_i8(&req->wr, a->pattern);
        }
        int32_t n_acl = 0;
        for (size_t j = i; j < total; j++) {
            n_acl += hit[j] && same_resource(sl_acls_get(b->acls, j), a);
        }
        sl_wr_array_len(&req->wr, req->flex, n_acl);
        for (size_t j = i; j < total; j++) {
            const sl_acl_binding_t *c = sl_acls_get(b->acls, j);
            if (hit[j] && same_resource(c, a)) {
                write_binding_tail(req, c);
                sl_wr_tags(&req->wr, req->flex);
            }
        }
        sl_wr_tags(&req->wr, req->flex);
    }
    sl_wr_tags(&req->wr, req->flex);
    free(hit);
    free(own[0]), free(own[1]), free(own[2]);
    return SL_OK;
}

/* ---- DeleteAcls ---- */

/* Deletes what filter `f` matches and writes its FilterResult. */
static void delete_matching(sl_req_t *req, const sl_acl_filter_t *f, int16_t err, const char *msg) {
    sl_broker_t *b = req->broker;
    if (!err && (msg = sl_acl_filter_invalid(f))) {
        err = KERR_INVALID_REQUEST;
    }
    /* Copies of the matches: removing them reshapes the store. */
    size_t total = err ? 0 : sl_acls_count(b->acls), n = 0;
    sl_acl_binding_t *m = sl_xcalloc(total + 1, sizeof *m);
    int16_t *merr = sl_xcalloc(total + 1, sizeof *merr);
    for (size_t i = 0; i < total; i++) {
        const sl_acl_binding_t *a = sl_acls_get(b->acls, i);
        if (sl_acl_filter_matches(f, a)) {
            m[n] = *a;
            m[n].res_name = sl_xstrdup(a->res_name);
            m[n].principal = sl_xstrdup(a->principal);
            m[n].host = sl_xstrdup(a->host);
            n++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        merr[i] = (int16_t)persist(b, &m[i], true);
        if (!merr[i]) {
            (void)sl_acls_remove(b->acls, &m[i]);
            log_change(req, &m[i], "deleted");
        }
    }
    sl_wr_i16(&req->wr, err);
    sl_wr_strz(&req->wr, req->flex, msg);
    sl_wr_array_len(&req->wr, req->flex, (int32_t)n);
    for (size_t i = 0; i < n; i++) {
        sl_wr_i16(&req->wr, merr[i]);
        sl_wr_strz(&req->wr, req->flex, merr[i] ? "metadata log write failed" : NULL);
        sl_wr_i8(&req->wr, m[i].res_type);
        sl_wr_strz(&req->wr, req->flex, m[i].res_name);
        if (req->api_version >= 1) {
            sl_wr_i8(&req->wr, m[i].pattern);
        }
        write_binding_tail(req, &m[i]);
        sl_wr_tags(&req->wr, req->flex);
        free((char *)m[i].res_name), free((char *)m[i].principal), free((char *)m[i].host);
    }
    sl_wr_tags(&req->wr, req->flex);
    free(m);
    free(merr);
}

SL_HANDLER(DeleteAcls) {
    sl_broker_t *b = req->broker;
    sl_acl_filter_t *v;
    char **own;
    int32_t n;
    if (read_bindings(req, &v, &own, &n) != SL_OK) {
        return SL_ERR_INVAL;
    }
    int16_t err = KERR_NONE;
    const char *msg = NULL;
    if (!b->authz) {
        err = KERR_SECURITY_DISABLED, msg = "No authorizer is configured";
    } else if (!sl_req_allowed_cluster(req, SL_ACL_ALTER)) {
        err = KERR_CLUSTER_AUTHORIZATION_FAILED, msg = "DeleteAcls needs ALTER on the cluster";
    }
    sl_wr_i32(&req->wr, 0);
    sl_wr_array_len(&req->wr, req->flex, n);
    for (int32_t i = 0; i < n; i++) {
        delete_matching(req, &v[i], err, msg);
    }
    sl_wr_tags(&req->wr, req->flex);
    free(v);
    free_owned(own, (size_t)n);
    return SL_OK;
}
