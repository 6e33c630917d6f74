/* cgroup.c -- KIP-848 consumer groups: member epochs, server-side target assignment and
 * reconciliation (see cgroup.h for the epochs and the one-owner rule).
 *
 * A member's path through one heartbeat (reconcile):
 *
 *   epoch < assignment epoch ──target drops some assigned partitions──► UNREVOKED
 *        │                       (answered with assigned ∩ target; epoch unchanged)
 *        │ nothing to revoke           │ its heartbeat's owned partitions no longer hold any
 *        ▼                             ▼ of `revoking` (or it leaves, or the rebalance times out)
 *   epoch := assignment epoch, gets target partitions no other member holds ──► STABLE
 *        │ some still held by others                      ▲
 *        ▼                                                │ the holders released them
 *   UNRELEASED ───────────────────────────────────────────┘
 *
 * Group epoch bumps (bump): a member joins or is removed, its subscription or requested assignor
 * changes, a subscribed topic appears, disappears or gains partitions (meta_hash, checked on every
 * heartbeat). The target is recomputed on the next heartbeat that sees epoch > assignment epoch. */
#include "cgroup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/log.h"
#include "proto/kerr.h"

#define MAX_ASSIGNORS 4

struct sl_cgroups {
    sl_cg_conf_t conf;
    sl_cg_topics_t topics;
    const char *assignors[MAX_ASSIGNORS]; /* configured, first = default */
    int n_assignors;
    char *assignor_buf;
    sl_cgroup_t **groups;
    int n_groups;
};

sl_cgroups_t *sl_cgroups_new(const sl_cg_conf_t *conf, const sl_cg_topics_t *topics, char *err) {
    sl_cgroups_t *cgs = sl_xcalloc(1, sizeof *cgs);
    cgs->conf = *conf;
    cgs->topics = *topics;
    cgs->assignor_buf = sl_xstrndup(conf->assignors, strlen(conf->assignors));
    char *save = NULL;
    for (char *tok = strtok_r(cgs->assignor_buf, ", ", &save); tok;
         tok = strtok_r(NULL, ", ", &save)) {
        if (!sl_assignor_find(tok) || cgs->n_assignors == MAX_ASSIGNORS) {
            snprintf(err, SL_ERRLEN,
                     "group.consumer.assignors: unknown assignor '%s' (known: uniform, range)",
                     tok);
            sl_cgroups_free(cgs);
            return NULL;
        }
        cgs->assignors[cgs->n_assignors++] = tok;
    }
    if (cgs->n_assignors == 0) {
        snprintf(err, SL_ERRLEN, "group.consumer.assignors: empty");
        sl_cgroups_free(cgs);
        return NULL;
    }
    cgs->conf.assignors = NULL;
    return cgs;
}

static void member_free(sl_cg_member_t *m) {
    free(m->id);
    free(m->instance_id);
    free(m->rack_id);
    free(m->client_id);
    free(m->client_host);
    for (int i = 0; i < m->n_topics; i++) {
        free(m->topics[i]);
    }
    free(m->topics);
    if (m->regex) {
        regfree(&m->re);
        free(m->regex);
    }
    free(m->assignor);
    sl_tpset_free(&m->assigned);
    sl_tpset_free(&m->revoking);
    sl_tpset_free(&m->target);
    free(m);
}

static void group_free(sl_cgroup_t *g) {
    for (int i = 0; i < g->n_members; i++) {
        member_free(g->members[i]);
    }
    free(g->members);
    free(g->id);
    free(g);
}

void sl_cgroups_free(sl_cgroups_t *cgs) {
    if (!cgs) {
        return;
    }
    for (int i = 0; i < cgs->n_groups; i++) {
        group_free(cgs->groups[i]);
    }
    free(cgs->groups);
    free(cgs->assignor_buf);
    free(cgs);
}

int64_t sl_cg_heartbeat_interval_ms(const sl_cgroups_t *cgs) {
    return cgs->conf.heartbeat_interval_ms;
}

sl_cgroup_t *sl_cg_find(sl_cgroups_t *cgs, sl_str_t id) {
    for (int i = 0; i < cgs->n_groups; i++) {
        if (sl_str_eqz(id, cgs->groups[i]->id)) {
            return cgs->groups[i];
        }
    }
    return NULL;
}

void sl_cg_each(sl_cgroups_t *cgs, void (*fn)(sl_cgroup_t *g, void *opaque), void *opaque) {
    for (int i = 0; i < cgs->n_groups; i++) {
        fn(cgs->groups[i], opaque);
    }
}

void sl_cg_delete(sl_cgroups_t *cgs, sl_cgroup_t *g) {
    for (int i = 0; i < cgs->n_groups; i++) {
        if (cgs->groups[i] == g) {
            cgs->groups[i] = cgs->groups[--cgs->n_groups];
            group_free(g);
            return;
        }
    }
}

sl_cg_member_t *sl_cg_member(sl_cgroup_t *g, sl_str_t member_id) {
    for (int i = 0; member_id.len && i < g->n_members; i++) {
        if (sl_str_eqz(member_id, g->members[i]->id)) {
            return g->members[i];
        }
    }
    return NULL;
}

static sl_cg_member_t *find_instance(sl_cgroup_t *g, sl_str_t instance_id) {
    for (int i = 0; instance_id.len && i < g->n_members; i++) {
        const char *iid = g->members[i]->instance_id;
        if (iid && sl_str_eqz(instance_id, iid)) {
            return g->members[i];
        }
    }
    return NULL;
}

const char *sl_cg_state_name(const sl_cgroup_t *g) {
    if (g->n_members == 0) {
        return "Empty";
    }
    if (g->epoch > g->assignment_epoch) {
        return "Assigning";
    }
    for (int i = 0; i < g->n_members; i++) {
        const sl_cg_member_t *m = g->members[i];
        if (m->epoch != g->assignment_epoch || m->state != SL_CGM_STABLE) {
            return "Reconciling";
        }
    }
    return "Stable";
}

bool sl_cg_member_subscribes(const sl_cg_member_t *m, const char *name) {
    for (int i = 0; i < m->n_topics; i++) {
        if (!strcmp(m->topics[i], name)) {
            return true;
        }
    }
    return m->regex && m->regex_resolved && regexec(&m->re, name, 0, NULL, 0) == 0;
}

static void bump(sl_cgroup_t *g) {
    g->epoch++;
}

static void remove_member(sl_cgroup_t *g, int i, const char *why) {
    sl_cg_member_t *m = g->members[i];
    sl_log(SL_LOG_INFO, "group", "group=%s member=%s epoch=%d msg=\"consumer member removed: %s\"",
           g->id, m->id, m->epoch, why);
    g->members[i] = g->members[--g->n_members];
    member_free(m);
    bump(g); /* its partitions are free now: the target is computed again */
}

/* ---- subscriptions and the target assignment ---- */

typedef struct collect_ctx {
    sl_cgroup_t *g;
    sl_asg_topic_t *topics;
    const char **names; /* topics[i]'s name, valid while the topic table is unchanged */
    int n, cap;
    uint64_t hash;
} collect_ctx_t;

static bool any_subscribes(const sl_cgroup_t *g, const char *name) {
    for (int i = 0; i < g->n_members; i++) {
        if (sl_cg_member_subscribes(g->members[i], name)) {
            return true;
        }
    }
    return false;
}

static void collect_one(const sl_cg_topic_t *t, void *arg) {
    collect_ctx_t *c = arg;
    if (!any_subscribes(c->g, t->name)) {
        return;
    }
    if (c->topics) {
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 8;
            c->topics = sl_xrealloc(c->topics, (size_t)c->cap * sizeof *c->topics);
            c->names = sl_xrealloc(c->names, (size_t)c->cap * sizeof *c->names);
        }
        c->names[c->n] = t->name;
        memcpy(c->topics[c->n].id, t->id, 16);
        c->topics[c->n].n_partitions = t->n_partitions;
    }
    c->n++;
    /* Order-independent: the topic table's iteration order may change as topics come and go. */
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < 16; i++) {
        h = (h ^ t->id[i]) * 1099511628211ULL;
    }
    h = (h ^ (uint64_t)(uint32_t)t->n_partitions) * 1099511628211ULL;
    c->hash += h;
}

/* The assignor of the target: the one most members ask for, else the configured default. */
static const char *pick_assignor(sl_cgroups_t *cgs, const sl_cgroup_t *g) {
    int best = 0, best_n = 0;
    for (int a = 0; a < cgs->n_assignors; a++) {
        int n = 0;
        for (int i = 0; i < g->n_members; i++) {
            n += g->members[i]->assignor && !strcmp(g->members[i]->assignor, cgs->assignors[a]);
        }
        if (n > best_n) {
            best = a;
            best_n = n;
        }
    }
    return cgs->assignors[best];
}

static void compute_target(sl_cgroups_t *cgs, sl_cgroup_t *g) {
    collect_ctx_t c = {g, NULL, NULL, 0, 0, 0};
    c.topics = sl_xcalloc(1, sizeof *c.topics);
    c.names = sl_xcalloc(1, sizeof *c.names);
    c.cap = 1;
    cgs->topics.each(cgs->topics.opaque, collect_one, &c);
    int nm = g->n_members;
    sl_asg_member_t *am = sl_xcalloc((size_t)nm + 1, sizeof *am);
    bool *subs = sl_xcalloc((size_t)nm * (size_t)c.n + 1, sizeof *subs);
    for (int i = 0; i < nm; i++) {
        sl_cg_member_t *m = g->members[i];
        for (int t = 0; t < c.n; t++) {
            subs[i * c.n + t] = sl_cg_member_subscribes(m, c.names[t]);
        }
        am[i].id = m->id;
        am[i].subscribed = &subs[i * c.n];
        am[i].prev = &m->target;
    }
    g->assignor = pick_assignor(cgs, g);
    sl_assignor_find(g->assignor)(c.topics, c.n, am, nm);
    for (int i = 0; i < nm; i++) {
        sl_tpset_free(&g->members[i]->target);
        g->members[i]->target = am[i].out;
    }
    g->assignment_epoch = g->epoch;
    g->meta_hash = c.hash;
    sl_log(SL_LOG_INFO, "group",
           "group=%s epoch=%d members=%d topics=%d assignor=%s msg=\"consumer group target "
           "assignment computed\"",
           g->id, g->epoch, nm, c.n, g->assignor);
    free(subs);
    free(am);
    free(c.names);
    free(c.topics);
}

/* Bumps the group epoch when a subscribed topic appeared, vanished or changed its partitions. */
static void check_metadata(sl_cgroups_t *cgs, sl_cgroup_t *g) {
    collect_ctx_t c = {g, NULL, NULL, 0, 0, 0};
    cgs->topics.each(cgs->topics.opaque, collect_one, &c);
    if (c.hash != g->meta_hash && g->epoch == g->assignment_epoch) {
        bump(g);
    }
}

/* ---- reconciliation ---- */

/* Whether a member other than `self` holds tp (assigned or still revoking). */
static bool held_by_other(const sl_cgroup_t *g, const sl_cg_member_t *self, const sl_tp_t *tp) {
    for (int i = 0; i < g->n_members; i++) {
        const sl_cg_member_t *o = g->members[i];
        if (o != self && (sl_tpset_has(&o->assigned, tp) || sl_tpset_has(&o->revoking, tp))) {
            return true;
        }
    }
    return false;
}

static void reconcile(sl_cgroup_t *g, sl_cg_member_t *m, const sl_tpset_t *owned, int64_t now) {
    if (m->state == SL_CGM_UNREVOKED) {
        if (!owned || sl_tpset_overlaps(owned, &m->revoking)) {
            return; /* still owns some: wait (the rebalance timeout bounds the wait) */
        }
        sl_tpset_clear(&m->revoking);
        m->state = SL_CGM_STABLE;
    }
    if (m->epoch == g->assignment_epoch && m->state == SL_CGM_STABLE) {
        return;
    }
    sl_tpset_t keep = {0}, rev = {0};
    sl_tpset_and(&keep, &m->assigned, &m->target);
    sl_tpset_minus(&rev, &m->assigned, &m->target);
    if (rev.n > 0) {
        sl_tpset_free(&m->assigned);
        sl_tpset_free(&m->revoking);
        m->assigned = keep;
        m->revoking = rev; /* moved */
        rev = (sl_tpset_t){0};
        m->state = SL_CGM_UNREVOKED;
        m->revoke_deadline_ms = now + m->rebalance_timeout_ms;
        if (!owned || sl_tpset_overlaps(owned, &m->revoking)) {
            return;
        }
        /* It has already let them go (its report is for this very heartbeat). */
        sl_tpset_clear(&m->revoking);
        m->state = SL_CGM_STABLE;
    } else {
        sl_tpset_free(&keep);
    }
    sl_tpset_free(&rev);
    if (m->epoch != g->assignment_epoch) {
        m->prev_epoch = m->epoch;
        m->epoch = g->assignment_epoch;
    }
    bool all = true;
    for (int i = 0; i < m->target.n; i++) {
        const sl_tp_t *tp = &m->target.v[i];
        if (sl_tpset_has(&m->assigned, tp)) {
            continue;
        }
        if (held_by_other(g, m, tp)) {
            all = false;
        } else {
            sl_tpset_add(&m->assigned, tp->topic, tp->partition);
        }
    }
    m->state = all ? SL_CGM_STABLE : SL_CGM_UNRELEASED;
}

/* ---- heartbeat ---- */

static char *new_member_id(void) {
    uint8_t r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        static uint64_t seq;
        memset(r, 0, sizeof r);
        memcpy(r, &(uint64_t){++seq}, sizeof seq);
    }
    /* 22 characters of URL-safe base64, like Kafka's Uuid.toString(). */
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *id = sl_xcalloc(23, 1);
    for (int i = 0; i < 22; i++) {
        int bit = i * 6, byte = bit / 8, off = bit % 8;
        unsigned v = (unsigned)r[byte] << 8 | (byte + 1 < 16 ? r[byte + 1] : 0);
        id[i] = b64[(v >> (10 - off)) & 63];
    }
    return id;
}

static bool same_topics(const sl_cg_member_t *m, const sl_cg_hb_t *hb) {
    if (m->n_topics != hb->n_topics) {
        return false;
    }
    for (int i = 0; i < hb->n_topics; i++) {
        if (!sl_str_eqz(hb->topics[i], m->topics[i])) {
            return false;
        }
    }
    return true;
}

/* Applies the subscription fields a heartbeat carries; true when the assignment inputs changed.
 * An empty regex means none (librdkafka sends "" in every full heartbeat of a member that
 * subscribes by name): it changes nothing for a member without one.
 * Returns -1 (and changes nothing) for a regex that does not compile. */
/* Whether another member of the group has `regex` resolved already. */
static bool regex_known(const sl_cgroup_t *g, const sl_cg_member_t *self, const char *regex) {
    for (int i = 0; i < g->n_members; i++) {
        const sl_cg_member_t *o = g->members[i];
        if (o != self && o->regex && o->regex_resolved && !strcmp(o->regex, regex)) {
            return true;
        }
    }
    return false;
}

static int update_subscription(const sl_cgroup_t *g, sl_cg_member_t *m, const sl_cg_hb_t *hb) {
    bool changed = false;
    bool same_regex =
        m->regex ? hb->regex.len > 0 && sl_str_eqz(hb->regex, m->regex) : hb->regex.len == 0;
    if (hb->regex.p && !same_regex) {
        regex_t re;
        char *z = sl_str_dupz(hb->regex);
        if (hb->regex.len > 0 && regcomp(&re, z, REG_EXTENDED | REG_NOSUB) != 0) {
            free(z);
            return -1;
        }
        if (m->regex) {
            regfree(&m->re);
            free(m->regex);
            m->regex = NULL;
        }
        if (hb->regex.len > 0) {
            m->regex = z;
            m->re = re;
            m->regex_resolved = regex_known(g, m, z); /* else at the next tick */
        } else {
            free(z);
        }
        changed = true;
    }
    if (hb->n_topics >= 0 && !same_topics(m, hb)) {
        for (int i = 0; i < m->n_topics; i++) {
            free(m->topics[i]);
        }
        free(m->topics);
        m->topics = sl_xcalloc((size_t)hb->n_topics + 1, sizeof *m->topics);
        for (int i = 0; i < hb->n_topics; i++) {
            m->topics[i] = sl_str_dupz(hb->topics[i]);
        }
        m->n_topics = hb->n_topics;
        changed = true;
    }
    if (hb->server_assignor.p && !(m->assignor && sl_str_eqz(hb->server_assignor, m->assignor))) {
        free(m->assignor);
        m->assignor = sl_str_dupz(hb->server_assignor);
        changed = true;
    }
    return changed;
}

static void set_str(char **dst, sl_str_t s) {
    if (s.p) {
        free(*dst);
        *dst = sl_str_dupz(s);
    }
}

static void fail(sl_cg_hb_result_t *out, int16_t err, const char *msg) {
    out->err = err;
    out->message = msg;
}

static bool assignor_known(const sl_cgroups_t *cgs, sl_str_t name) {
    for (int i = 0; i < cgs->n_assignors; i++) {
        if (sl_str_eqz(name, cgs->assignors[i])) {
            return true;
        }
    }
    return false;
}

void sl_cg_heartbeat(sl_cgroups_t *cgs, const sl_cg_hb_t *hb, int64_t now, sl_cg_hb_result_t *out) {
    memset(out, 0, sizeof *out);
    out->epoch = hb->member_epoch;
    int32_t ep = hb->member_epoch;
    if (!hb->group_id.len) {
        return fail(out, KERR_INVALID_REQUEST, "GroupId can't be empty.");
    }
    if (ep < -2 || (ep == -2 && !hb->instance_id.len)) {
        return fail(out, KERR_INVALID_REQUEST, "MemberEpoch is invalid.");
    }
    if (ep == 0 && hb->rebalance_timeout_ms < 0) {
        return fail(out, KERR_INVALID_REQUEST,
                    "RebalanceTimeoutMs must be provided in first request.");
    }
    if (ep == 0 && hb->n_topics < 0 && !hb->regex.p) {
        return fail(out, KERR_INVALID_REQUEST,
                    "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.");
    }
    if (ep > 0 && !hb->member_id.len) {
        return fail(out, KERR_UNKNOWN_MEMBER_ID, "MemberId can't be empty.");
    }
    if (hb->server_assignor.p && !assignor_known(cgs, hb->server_assignor)) {
        return fail(out, KERR_UNSUPPORTED_ASSIGNOR, "ServerAssignor is not supported.");
    }
    if (hb->regex.len) { /* checked before anything changes */
        regex_t re;
        char *z = sl_str_dupz(hb->regex);
        int bad = regcomp(&re, z, REG_EXTENDED | REG_NOSUB);
        free(z);
        if (bad) {
            return fail(out, KERR_INVALID_REGULAR_EXPRESSION, "Invalid regular expression.");
        }
        regfree(&re);
    }
    sl_cgroup_t *g = sl_cg_find(cgs, hb->group_id);
    sl_cg_member_t *m = g ? sl_cg_member(g, hb->member_id) : NULL;
    bool changed = false; /* the group epoch grows once per heartbeat at most */

    if (ep < 0) { /* leave */
        if (!m && g && hb->instance_id.len) {
            m = find_instance(g, hb->instance_id);
        }
        if (!m) {
            return fail(out, KERR_UNKNOWN_MEMBER_ID, NULL);
        }
        out->member_id = m->id;
        if (ep == -2 && m->instance_id) {
            /* Keeps its partitions for a session timeout, waiting for the instance to return. */
            m->left_static = true;
            m->session_deadline_ms = now + cgs->conf.session_timeout_ms;
            return;
        }
        for (int i = 0; i < g->n_members; i++) {
            if (g->members[i] == m) {
                out->member_id = NULL; /* freed below */
                remove_member(g, i, "left");
                break;
            }
        }
        return;
    }
    if (ep > 0 && (!m || m->left_static)) {
        return fail(out, KERR_UNKNOWN_MEMBER_ID, NULL);
    }
    if (ep > 0 && ep != m->epoch) {
        bool owned_ok = !hb->owned;
        if (hb->owned) {
            sl_tpset_t extra = {0};
            sl_tpset_minus(&extra, hb->owned, &m->assigned);
            owned_ok = extra.n == 0;
            sl_tpset_free(&extra);
        }
        if (ep > m->epoch || ep != m->prev_epoch || !owned_ok) {
            return fail(out, KERR_FENCED_MEMBER_EPOCH,
                        "The consumer group member has a stale member epoch.");
        }
    }
    if (ep == 0) {
        if (!g) {
            g = sl_xcalloc(1, sizeof *g);
            g->id = sl_str_dupz(hb->group_id);
            cgs->groups =
                sl_xrealloc(cgs->groups, (size_t)(cgs->n_groups + 1) * sizeof *cgs->groups);
            cgs->groups[cgs->n_groups++] = g;
        }
        sl_cg_member_t *prior = find_instance(g, hb->instance_id);
        if (prior && prior != m && !prior->left_static) {
            return fail(out, KERR_UNRELEASED_INSTANCE_ID,
                        "Static member with this instance id is still active.");
        }
        if (prior && prior != m) {
            /* The static member returns under a new member id: same epoch and partitions. */
            free(prior->id);
            prior->id = hb->member_id.len ? sl_str_dupz(hb->member_id) : new_member_id();
            prior->left_static = false;
            m = prior;
        } else if (m) {
            /* A known member joining again has lost its partitions: start it over. */
            sl_tpset_clear(&m->assigned);
            sl_tpset_clear(&m->revoking);
            m->state = SL_CGM_STABLE;
            m->epoch = 0;
            m->prev_epoch = 0;
            changed = true;
        } else {
            if (g->n_members >= cgs->conf.max_size) {
                return fail(out, KERR_GROUP_MAX_SIZE_REACHED,
                            "The consumer group has reached its maximum capacity.");
            }
            m = sl_xcalloc(1, sizeof *m);
            m->id = hb->member_id.len ? sl_str_dupz(hb->member_id) : new_member_id();
            m->instance_id = hb->instance_id.len ? sl_str_dupz(hb->instance_id) : NULL;
            g->members = sl_xrealloc(g->members, (size_t)(g->n_members + 1) * sizeof *g->members);
            g->members[g->n_members++] = m;
            sl_log(SL_LOG_INFO, "group", "group=%s member=%s msg=\"consumer member joined\"", g->id,
                   m->id);
            changed = true;
        }
    }
    int sub = update_subscription(g, m, hb);
    if (sub < 0) {
        return fail(out, KERR_INVALID_REGULAR_EXPRESSION, "Invalid regular expression.");
    }
    if (changed || sub > 0) {
        bump(g);
    }
    if (hb->rebalance_timeout_ms >= 0) {
        m->rebalance_timeout_ms = hb->rebalance_timeout_ms;
    }
    set_str(&m->rack_id, hb->rack_id);
    set_str(&m->client_id, hb->client_id);
    set_str(&m->client_host, hb->client_host);
    m->session_deadline_ms = now + cgs->conf.session_timeout_ms;
    check_metadata(cgs, g);
    if (g->epoch > g->assignment_epoch) {
        compute_target(cgs, g);
    }
    reconcile(g, m, hb->owned, now);
    out->member_id = m->id;
    out->epoch = m->epoch;
    out->assignment = &m->assigned;
}

int sl_cg_tick(sl_cgroups_t *cgs, int64_t now) {
    int removed = 0;
    for (int k = 0; k < cgs->n_groups; k++) {
        sl_cgroup_t *g = cgs->groups[k];
        bool resolved = false;
        for (int i = 0; i < g->n_members; i++) {
            sl_cg_member_t *m = g->members[i];
            if (m->regex && !m->regex_resolved) {
                m->regex_resolved = true;
                resolved = true;
                sl_log(SL_LOG_INFO, "group",
                       "group=%s member=%s regex=\"%s\" msg=\"consumer subscription regex "
                       "resolved\"",
                       g->id, m->id, m->regex);
            }
        }
        if (resolved) {
            bump(g); /* the next heartbeat computes a target with the regexes' topics */
        }
        for (int i = 0; i < g->n_members;) {
            sl_cg_member_t *m = g->members[i];
            if (now >= m->session_deadline_ms) {
                remove_member(g, i, "session timeout (group.consumer.session.timeout.ms)");
            } else if (m->state == SL_CGM_UNREVOKED && now >= m->revoke_deadline_ms) {
                remove_member(g, i, "partitions not revoked within the rebalance timeout");
            } else {
                i++;
                continue;
            }
            removed++;
        }
    }
    return removed;
}

int sl_cg_check_commit(sl_cgroups_t *cgs, sl_cgroup_t *g, sl_str_t member_id, int32_t epoch) {
    (void)cgs;
    if (!member_id.len && epoch < 0) {
        return g->n_members == 0 ? KERR_NONE : KERR_UNKNOWN_MEMBER_ID;
    }
    sl_cg_member_t *m = sl_cg_member(g, member_id);
    if (!m || m->left_static) {
        return KERR_UNKNOWN_MEMBER_ID;
    }
    return epoch == m->epoch ? KERR_NONE : KERR_ILLEGAL_GENERATION;
}
