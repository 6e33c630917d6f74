/* acl.c -- ACL bindings and the authorization decision (the rules are in acl.h).
 *
 * The bindings live in one array in the order they were added (what DescribeAcls lists). The
 * index beside it holds pointers to the LITERAL ones sorted by (type, name), searched by
 * bisection, and to the PREFIXED ones grouped by type; it is rebuilt after every change. */
#include "security/acl.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

#define MAX_SUPER 64

typedef struct owned {
    sl_acl_binding_t b; /* strings below are heap copies */
} owned_t;

/* An index entry: the binding and its name's length, so lookups never call strlen. */
typedef struct ent {
    const sl_acl_binding_t *b;
    size_t len;
} ent_t;

struct sl_acls {
    owned_t *v;
    size_t n, cap;
    ent_t *lit; /* literal bindings sorted by (type, name) */
    size_t n_lit;
    ent_t *pre; /* prefixed bindings sorted by (type, name) */
    size_t n_pre;
    char *super[MAX_SUPER];
    size_t n_super;
    bool allow_everyone;
    bool stale; /* bindings changed since the index was built */
};

sl_acls_t *sl_acls_new(void) {
    return sl_xcalloc(1, sizeof(sl_acls_t));
}

static void owned_free(owned_t *o) {
    free((char *)o->b.res_name);
    free((char *)o->b.principal);
    free((char *)o->b.host);
}

void sl_acls_clear(sl_acls_t *a) {
    for (size_t i = 0; i < a->n; i++) {
        owned_free(&a->v[i]);
    }
    a->n = 0;
    a->n_lit = a->n_pre = 0;
    a->stale = false;
}

void sl_acls_free(sl_acls_t *a) {
    if (!a) {
        return;
    }
    sl_acls_clear(a);
    for (size_t i = 0; i < a->n_super; i++) {
        free(a->super[i]);
    }
    free(a->v);
    free(a->lit);
    free(a->pre);
    free(a);
}

void sl_acls_set_super_users(sl_acls_t *a, const char *list) {
    for (size_t i = 0; i < a->n_super; i++) {
        free(a->super[i]);
    }
    a->n_super = 0;
    const char *p = list ? list : "";
    while (*p && a->n_super < MAX_SUPER) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *s = p;
        while (len && (*s == ' ' || *s == '\t')) {
            s++, len--;
        }
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
            len--;
        }
        if (len) {
            a->super[a->n_super++] = sl_str_dupz((sl_str_t){s, len});
        }
        p = end ? end + 1 : p + strlen(p);
    }
}

void sl_acls_set_allow_everyone(sl_acls_t *a, bool allow) {
    a->allow_everyone = allow;
}

const char *sl_acl_invalid(const sl_acl_binding_t *b) {
    if (b->res_type == SL_RES_DELEGATION_TOKEN) {
        return "DELEGATION_TOKEN resources are not supported (there are no delegation tokens)";
    }
    if (b->res_type != SL_RES_TOPIC && b->res_type != SL_RES_GROUP &&
        b->res_type != SL_RES_CLUSTER && b->res_type != SL_RES_TRANSACTIONAL_ID) {
        return "resource type must be TOPIC, GROUP, CLUSTER or TRANSACTIONAL_ID";
    }
    if (b->pattern != SL_PAT_LITERAL && b->pattern != SL_PAT_PREFIXED) {
        return "pattern type must be LITERAL or PREFIXED";
    }
    if (!b->res_name || !*b->res_name) {
        return "resource name must not be empty";
    }
    if (b->res_type == SL_RES_CLUSTER &&
        (strcmp(b->res_name, SL_ACL_CLUSTER_NAME) || b->pattern != SL_PAT_LITERAL)) {
        return "the cluster resource is the LITERAL name kafka-cluster";
    }
    if (!b->principal || strncmp(b->principal, "User:", 5) || !b->principal[5]) {
        return "principal must be User:<name> or User:*";
    }
    if (!b->host || !*b->host) {
        return "host must be * or an address";
    }
    if (b->op < SL_ACL_ALL || b->op > SL_ACL_IDEMPOTENT_WRITE) {
        return "operation must be one of ALL, READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, "
               "CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE";
    }
    if (b->perm != SL_PERM_ALLOW && b->perm != SL_PERM_DENY) {
        return "permission type must be ALLOW or DENY";
    }
    return NULL;
}

const char *sl_acl_filter_invalid(const sl_acl_filter_t *f) {
    if (f->res_type < SL_RES_ANY || f->res_type > SL_RES_DELEGATION_TOKEN) {
        return "unknown resource type";
    }
    if (f->pattern < SL_PAT_ANY || f->pattern > SL_PAT_PREFIXED) {
        return "unknown pattern type";
    }
    if (f->op < SL_ACL_ANY || f->op > SL_ACL_IDEMPOTENT_WRITE) {
        return "unknown operation";
    }
    if (f->perm < SL_PERM_ANY || f->perm > SL_PERM_ALLOW) {
        return "unknown permission type";
    }
    return NULL;
}

static bool str_same(const char *a, const char *b) {
    return !strcmp(a, b);
}

static bool same(const sl_acl_binding_t *a, const sl_acl_binding_t *b) {
    return a->res_type == b->res_type && a->pattern == b->pattern && a->op == b->op &&
           a->perm == b->perm && str_same(a->res_name, b->res_name) &&
           str_same(a->principal, b->principal) && str_same(a->host, b->host);
}

static int cmp_type_name(const ent_t *e, int8_t type, const char *name, size_t len) {
    if (e->b->res_type != type) {
        return e->b->res_type < type ? -1 : 1;
    }
    int c = memcmp(e->b->res_name, name, SL_MIN(e->len, len));
    if (c) {
        return c;
    }
    return e->len < len ? -1 : e->len > len ? 1 : 0;
}

static int cmp_ent(const void *x, const void *y) {
    const ent_t *a = x, *b = y;
    return cmp_type_name(a, b->b->res_type, b->b->res_name, b->len);
}

static void reindex(sl_acls_t *a) {
    if (!a->stale) {
        return;
    }
    a->stale = false;
    a->lit = sl_xrealloc(a->lit, (a->n + 1) * sizeof *a->lit);
    a->pre = sl_xrealloc(a->pre, (a->n + 1) * sizeof *a->pre);
    a->n_lit = a->n_pre = 0;
    for (size_t i = 0; i < a->n; i++) {
        const sl_acl_binding_t *b = &a->v[i].b;
        ent_t e = {b, strlen(b->res_name)};
        if (b->pattern == SL_PAT_LITERAL) {
            a->lit[a->n_lit++] = e;
        } else {
            a->pre[a->n_pre++] = e;
        }
    }
    qsort(a->lit, a->n_lit, sizeof *a->lit, cmp_ent);
    qsort(a->pre, a->n_pre, sizeof *a->pre, cmp_ent);
}

bool sl_acls_add(sl_acls_t *a, const sl_acl_binding_t *b) {
    for (size_t i = 0; i < a->n; i++) {
        if (same(&a->v[i].b, b)) {
            return false;
        }
    }
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->v = sl_xrealloc(a->v, a->cap * sizeof *a->v);
    }
    owned_t *o = &a->v[a->n++];
    o->b = *b;
    o->b.res_name = sl_xstrdup(b->res_name);
    o->b.principal = sl_xstrdup(b->principal);
    o->b.host = sl_xstrdup(b->host);
    a->stale = true;
    return true;
}

bool sl_acls_remove(sl_acls_t *a, const sl_acl_binding_t *b) {
    for (size_t i = 0; i < a->n; i++) {
        if (same(&a->v[i].b, b)) {
            owned_free(&a->v[i]);
            memmove(&a->v[i], &a->v[i + 1], (a->n - i - 1) * sizeof *a->v);
            a->n--;
            a->stale = true;
            return true;
        }
    }
    return false;
}

size_t sl_acls_count(const sl_acls_t *a) {
    return a->n;
}

const sl_acl_binding_t *sl_acls_get(const sl_acls_t *a, size_t i) {
    return &a->v[i].b;
}

/* Whether binding `b` applies to resource (type, name) by rule 2 of acl.h. */
static bool applies(const sl_acl_binding_t *b, int8_t type, const char *name, size_t len) {
    if (b->res_type != type) {
        return false;
    }
    size_t bl = strlen(b->res_name);
    if (b->pattern == SL_PAT_PREFIXED) {
        return bl <= len && !memcmp(b->res_name, name, bl);
    }
    return (bl == len && !memcmp(b->res_name, name, len)) || str_same(b->res_name, "*");
}

bool sl_acl_filter_matches(const sl_acl_filter_t *f, const sl_acl_binding_t *b) {
    if (f->res_type != SL_RES_ANY && f->res_type != b->res_type) {
        return false;
    }
    if (f->pattern == SL_PAT_MATCH) {
        if (f->res_name && !applies(b, b->res_type, f->res_name, strlen(f->res_name))) {
            return false;
        }
    } else {
        if (f->pattern != SL_PAT_ANY && f->pattern != b->pattern) {
            return false;
        }
        if (f->res_name && !str_same(f->res_name, b->res_name)) {
            return false;
        }
    }
    if (f->principal && !str_same(f->principal, b->principal)) {
        return false;
    }
    if (f->host && !str_same(f->host, b->host)) {
        return false;
    }
    if (f->op != SL_ACL_ANY && f->op != b->op) {
        return false;
    }
    return f->perm == SL_PERM_ANY || f->perm == b->perm;
}

/* Whether an ALLOW of `have` grants `want` (rule 5). */
static bool implies(int8_t have, int8_t want) {
    if (have == want || have == SL_ACL_ALL) {
        return true;
    }
    if (want == SL_ACL_DESCRIBE) {
        return have == SL_ACL_READ || have == SL_ACL_WRITE || have == SL_ACL_DELETE ||
               have == SL_ACL_ALTER;
    }
    return want == SL_ACL_DESCRIBE_CONFIGS && have == SL_ACL_ALTER_CONFIGS;
}

typedef struct verdict {
    bool any;   /* some binding applies to the resource */
    bool allow; /* a counting ALLOW grants the operation */
    bool deny;  /* a counting DENY refuses it */
} verdict_t;

static void weigh(const sl_acl_binding_t *b, const char *principal, const char *host, int8_t op,
                  verdict_t *v) {
    v->any = true;
    if (!str_same(b->principal, "User:*") && !str_same(b->principal, principal)) {
        return;
    }
    if (!str_same(b->host, "*") && !str_same(b->host, host)) {
        return;
    }
    if (b->perm == SL_PERM_DENY) {
        v->deny |= b->op == op || b->op == SL_ACL_ALL;
    } else {
        v->allow |= implies(b->op, op);
    }
}

/* Index of the first entry of v[0..n) not before (type, name). */
static size_t lower_bound(const ent_t *v, size_t n, int8_t type, const char *name, size_t len) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_type_name(&v[mid], type, name, len) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static void weigh_literal(const sl_acls_t *a, const char *principal, const char *host, int8_t type,
                          const char *name, size_t len, int8_t op, verdict_t *v) {
    for (size_t i = lower_bound(a->lit, a->n_lit, type, name, len);
         i < a->n_lit && !cmp_type_name(&a->lit[i], type, name, len); i++) {
        weigh(a->lit[i].b, principal, host, op, v);
    }
}

bool sl_acls_authorize(sl_acls_t *a, const char *principal, const char *host, int8_t res_type,
                       const char *name, size_t len, int8_t op) {
    reindex(a);
    for (size_t i = 0; i < a->n_super; i++) {
        if (str_same(a->super[i], principal)) {
            return true;
        }
    }
    verdict_t v = {0};
    weigh_literal(a, principal, host, res_type, name, len, op, &v);
    if (!(len == 1 && name[0] == '*')) {
        weigh_literal(a, principal, host, res_type, "*", 1, op, &v);
    }
    /* The prefixed ones of this type sort together, and a prefix of `name` sorts no later than
     * it: scan from the type's first entry up to `name`. */
    size_t end = lower_bound(a->pre, a->n_pre, res_type, name, len);
    for (size_t i = lower_bound(a->pre, a->n_pre, res_type, "", 0); i < a->n_pre; i++) {
        const ent_t *e = &a->pre[i];
        if (i >= end && cmp_type_name(e, res_type, name, len) > 0) {
            break;
        }
        if (e->len <= len && e->b->res_name[0] == name[0] &&
            !memcmp(e->b->res_name, name, e->len)) {
            weigh(e->b, principal, host, op, &v);
        }
    }
    if (v.deny) {
        return false;
    }
    return v.allow || (!v.any && a->allow_everyone);
}

static bool counts_for(const sl_acl_binding_t *b, const char *principal, const char *host) {
    return (str_same(b->principal, "User:*") || str_same(b->principal, principal)) &&
           (str_same(b->host, "*") || str_same(b->host, host));
}

bool sl_acls_authorize_any(sl_acls_t *a, const char *principal, const char *host, int8_t res_type,
                           int8_t op) {
    for (size_t i = 0; i < a->n_super; i++) {
        if (str_same(a->super[i], principal)) {
            return true;
        }
    }
    bool any = false;
    for (size_t i = 0; i < a->n; i++) {
        const sl_acl_binding_t *b = &a->v[i].b;
        if (b->res_type != res_type) {
            continue;
        }
        any = true;
        if (b->perm != SL_PERM_ALLOW || !implies(b->op, op) || !counts_for(b, principal, host)) {
            continue;
        }
        bool covered = false;
        for (size_t j = 0; j < a->n && !covered; j++) {
            const sl_acl_binding_t *d = &a->v[j].b;
            covered = d->res_type == res_type && d->perm == SL_PERM_DENY &&
                      (d->op == op || d->op == SL_ACL_ALL) && counts_for(d, principal, host) &&
                      (b->pattern == SL_PAT_LITERAL || d->pattern == SL_PAT_PREFIXED ||
                       str_same(d->res_name, "*")) &&
                      applies(d, res_type, b->res_name, strlen(b->res_name));
        }
        if (!covered) {
            return true;
        }
    }
    return !any && a->allow_everyone;
}

/* ---- names ---- */

static const char *const res_names[] = {
    "UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID", "DELEGATION_TOKEN"};
static const char *const pat_names[] = {"UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED"};
static const char *const op_names[] = {"UNKNOWN",
                                       "ANY",
                                       "ALL",
                                       "READ",
                                       "WRITE",
                                       "CREATE",
                                       "DELETE",
                                       "ALTER",
                                       "DESCRIBE",
                                       "CLUSTER_ACTION",
                                       "DESCRIBE_CONFIGS",
                                       "ALTER_CONFIGS",
                                       "IDEMPOTENT_WRITE"};
static const char *const perm_names[] = {"UNKNOWN", "ANY", "DENY", "ALLOW"};

static const char *name_of(const char *const *v, size_t n, int8_t c) {
    return c >= 0 && (size_t)c < n ? v[c] : "UNKNOWN";
}

static int parse_in(const char *const *v, size_t n, const char *s) {
    for (size_t i = 1; i < n; i++) {
        if (!strcasecmp(v[i], s)) {
            return (int)i;
        }
    }
    return -1;
}

const char *sl_acl_res_name(int8_t t) {
    return name_of(res_names, SL_ARRAY_LEN(res_names), t);
}
const char *sl_acl_pattern_name(int8_t p) {
    return name_of(pat_names, SL_ARRAY_LEN(pat_names), p);
}
const char *sl_acl_op_name(int8_t op) {
    return name_of(op_names, SL_ARRAY_LEN(op_names), op);
}
const char *sl_acl_perm_name(int8_t p) {
    return name_of(perm_names, SL_ARRAY_LEN(perm_names), p);
}
int sl_acl_res_parse(const char *s) {
    return parse_in(res_names, SL_ARRAY_LEN(res_names), s);
}
int sl_acl_pattern_parse(const char *s) {
    return parse_in(pat_names, SL_ARRAY_LEN(pat_names), s);
}
int sl_acl_op_parse(const char *s) {
    return parse_in(op_names, SL_ARRAY_LEN(op_names), s);
}
int sl_acl_perm_parse(const char *s) {
    return parse_in(perm_names, SL_ARRAY_LEN(perm_names), s);
}
