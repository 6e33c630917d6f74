/* coordinator.c -- consumer-group state machine, session and rebalance timers, offsets.
 *
 *   EMPTY ──join──► PREPARING_REBALANCE ──all known members rejoined, or rebalance timeout
 *                        ▲      │            (members that did not rejoin are removed)
 *                        │      ▼ complete_join: generation+1, protocol and leader chosen
 *   member joins/leaves  │   COMPLETING_REBALANCE ──leader's SyncGroup──► STABLE
 *   or session expires ──┘      (assignments stored, durable, handed to every member)
 *   last member leaves or expires ──► EMPTY (committed offsets stay)
 *
 * Transitions: prepare_rebalance, maybe_complete_join/complete_join, sl_coord_sync (leader),
 * remove_member. No transition runs inside another: one that must take members out while it runs
 * (complete_join dropping those that did not rejoin) uses drop_member, which answers their parked
 * requests and nothing else, so every request is answered exactly once. Session expiry uses one
 * timer per member that re-arms itself for the remaining time when heartbeats moved the deadline,
 * so heartbeats never touch the timer heap. Static members (group.instance.id) that rejoin with
 * unchanged metadata take their old place without a rebalance; the member id they replace is
 * fenced. */
#include "coordinator.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/log.h"
#include "proto/kerr.h"

#define COMPACT_MIN_BYTES (16 << 20)

struct sl_coord {
    sl_loop_t *loop;
    sl_coord_conf_t conf;
    sl_coord_hooks_t hooks;
    sl_group_t **groups; /* linear list; lookups are by id (see the note in the issue log) */
    size_t n_groups, cap_groups;
    sl_offset_store_t *store;
    int64_t compact_at; /* compact when the store grows past this */
    bool (*active)(void *opaque, const char *group);
    void *active_opaque;
};

void sl_coord_set_active_fn(sl_coord_t *co, bool (*active)(void *opaque, const char *group),
                            void *opaque) {
    co->active = active;
    co->active_opaque = opaque;
}

static void prepare_rebalance(sl_coord_t *co, sl_group_t *g, const char *why);
static void maybe_complete_join(sl_coord_t *co, sl_group_t *g);
static void persist_group(sl_coord_t *co, sl_group_t *g);

const char *sl_group_state_name(sl_group_state_t s) {
    switch (s) {
    case SL_GROUP_EMPTY:
        return "Empty";
    case SL_GROUP_PREPARING_REBALANCE:
        return "PreparingRebalance";
    case SL_GROUP_COMPLETING_REBALANCE:
        return "CompletingRebalance";
    case SL_GROUP_STABLE:
        return "Stable";
    case SL_GROUP_DEAD:
        return "Dead";
    }
    return "Unknown";
}

static char *dupz_or_null(sl_str_t s) {
    return s.p && s.len ? sl_str_dupz(s) : NULL;
}

static bool streq_z(const char *a, sl_str_t b) {
    return a ? sl_str_eqz(b, a) : (!b.p || b.len == 0);
}

sl_group_t *sl_coord_find(sl_coord_t *co, sl_str_t id) {
    for (size_t i = 0; i < co->n_groups; i++) {
        if (sl_str_eqz(id, co->groups[i]->id)) {
            return co->groups[i];
        }
    }
    return NULL;
}

static sl_group_t *group_create(sl_coord_t *co, const char *id) {
    sl_group_t *g = sl_xcalloc(1, sizeof *g);
    g->id = sl_xstrdup(id);
    g->state = SL_GROUP_EMPTY;
    g->coord = co;
    if (co->n_groups == co->cap_groups) {
        co->cap_groups = co->cap_groups ? co->cap_groups * 2 : 16;
        co->groups = sl_xrealloc(co->groups, co->cap_groups * sizeof *co->groups);
    }
    co->groups[co->n_groups++] = g;
    return g;
}

static void protocols_free(sl_member_t *m) {
    for (int i = 0; i < m->n_protocols; i++) {
        free(m->protocols[i].name);
        free(m->protocols[i].metadata);
    }
    free(m->protocols);
    m->protocols = NULL;
    m->n_protocols = 0;
}

static void member_free(sl_member_t *m) {
    protocols_free(m);
    free(m->member_id);
    free(m->instance_id);
    free(m->client_id);
    free(m->client_host);
    free(m->assignment);
    free(m);
}

static void offsets_free(sl_group_t *g) {
    for (size_t i = 0; i < g->n_offsets; i++) {
        free(g->offsets[i].topic);
        free(g->offsets[i].c.metadata);
    }
    free(g->offsets);
    g->offsets = NULL;
    g->n_offsets = g->cap_offsets = 0;
}

static void group_free(sl_coord_t *co, sl_group_t *g) {
    for (int i = 0; i < g->n_members; i++) {
        sl_loop_cancel(co->loop, g->members[i]->timer);
        member_free(g->members[i]);
    }
    free(g->members);
    for (int i = 0; i < g->n_pending; i++) {
        free(g->pending_ids[i]);
    }
    free(g->pending_ids);
    offsets_free(g);
    sl_loop_cancel(co->loop, g->rebalance_timer);
    free(g->id);
    free(g->protocol_type);
    free(g->protocol);
    free(g->leader);
    free(g);
}

static sl_member_t *find_member(sl_group_t *g, sl_str_t member_id) {
    for (int i = 0; i < g->n_members; i++) {
        if (sl_str_eqz(member_id, g->members[i]->member_id)) {
            return g->members[i];
        }
    }
    return NULL;
}

static sl_member_t *find_instance(sl_group_t *g, sl_str_t instance_id) {
    if (!instance_id.p || !instance_id.len) {
        return NULL;
    }
    for (int i = 0; i < g->n_members; i++) {
        if (g->members[i]->instance_id && sl_str_eqz(instance_id, g->members[i]->instance_id)) {
            return g->members[i];
        }
    }
    return NULL;
}

static char *new_member_id(sl_str_t client_id, sl_str_t instance_id) {
    uint8_t r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        uint64_t t = sl_mono_ns();
        memcpy(r, &t, 8);
        memcpy(r + 8, &t, 8);
    }
    sl_str_t prefix = instance_id.p && instance_id.len ? instance_id : client_id;
    char buf[512];
    snprintf(buf, sizeof buf,
             "%.*s-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             (int)SL_MIN(prefix.len, 200), prefix.p ? prefix.p : "", r[0], r[1], r[2], r[3], r[4],
             r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
    return sl_xstrdup(buf);
}

/* ---- session timers ---- */

static void remove_member(sl_coord_t *co, sl_group_t *g, sl_member_t *m, const char *why);

static void on_session(sl_loop_t *loop, uint64_t id, void *data) {
    (void)id;
    sl_member_t *m = data;
    uint64_t now = sl_mono_ms();
    if (now < m->deadline_ms) {
        m->timer = sl_loop_timer(loop, m->deadline_ms - now, on_session, m);
        return;
    }
    /* Kafka keeps a member that waits in JoinGroup or SyncGroup alive past its session (it
     * cannot heartbeat meanwhile). Doing the same here made librdkafka 2.0.2's cooperative-sticky
     * consumers leave a partition unfetched after a rebalance that waited for a dead member
     * (about half of test_groups runs under ASan), so the session still applies to them until
     * that is understood. */
    m->timer = 0;
    remove_member(m->group->coord, m->group, m, "session timeout");
}

static void touch(sl_coord_t *co, sl_member_t *m) {
    m->deadline_ms = sl_mono_ms() + (uint64_t)m->session_timeout_ms;
    if (!m->timer) {
        m->timer = sl_loop_timer(co->loop, (uint64_t)m->session_timeout_ms, on_session, m);
    }
}

/* ---- membership ---- */

/* Takes m out of g and frees it, answering its parked requests with UNKNOWN_MEMBER_ID. Makes no
 * state transition: callers that are themselves inside a transition (complete_join, a JoinGroup
 * refused before the member ever counted) use this, so no transition re-enters another. */
static void drop_member(sl_coord_t *co, sl_group_t *g, sl_member_t *m, const char *why) {
    sl_log(SL_LOG_INFO, "group", "group=%s member=%s msg=\"removed: %s\"", g->id, m->member_id,
           why);
    if (m->join_req) {
        void *r = m->join_req;
        m->join_req = NULL;
        co->hooks.join_done(r, g, m, KERR_UNKNOWN_MEMBER_ID);
    }
    if (m->sync_req) {
        void *r = m->sync_req;
        m->sync_req = NULL;
        co->hooks.sync_done(r, g, m, KERR_UNKNOWN_MEMBER_ID);
    }
    if (m->timer) {
        sl_loop_cancel(co->loop, m->timer);
    }
    for (int i = 0; i < g->n_members; i++) {
        if (g->members[i] == m) {
            g->members[i] = g->members[--g->n_members];
            break;
        }
    }
    bool was_leader = g->leader && !strcmp(g->leader, m->member_id);
    member_free(m);
    if (was_leader) {
        free(g->leader);
        g->leader = NULL;
    }
}

/* The last member is gone: the group is Empty and its generation moves on. */
static void become_empty(sl_coord_t *co, sl_group_t *g) {
    if (g->state == SL_GROUP_EMPTY) {
        return;
    }
    g->state = SL_GROUP_EMPTY;
    g->generation++;
    sl_loop_cancel(co->loop, g->rebalance_timer);
    g->rebalance_timer = 0;
    persist_group(co, g);
}

/* A member leaves (LeaveGroup, session expiry): the transition its absence calls for follows. Never
 * called from inside another transition (see drop_member). */
static void remove_member(sl_coord_t *co, sl_group_t *g, sl_member_t *m, const char *why) {
    drop_member(co, g, m, why);
    if (g->n_members == 0) {
        become_empty(co, g);
    } else if (g->state == SL_GROUP_STABLE || g->state == SL_GROUP_COMPLETING_REBALANCE) {
        prepare_rebalance(co, g, why);
    } else if (g->state == SL_GROUP_PREPARING_REBALANCE) {
        maybe_complete_join(co, g);
    }
}

/* The protocol every member supports that most members list first. */
static const char *choose_protocol(sl_group_t *g) {
    const char *best = NULL;
    int best_votes = -1;
    sl_member_t *first = g->members[0];
    for (int p = 0; p < first->n_protocols; p++) {
        const char *name = first->protocols[p].name;
        bool everyone = true;
        int votes = 0;
        for (int i = 0; i < g->n_members && everyone; i++) {
            sl_member_t *m = g->members[i];
            bool has = false;
            for (int q = 0; q < m->n_protocols; q++) {
                if (!strcmp(m->protocols[q].name, name)) {
                    has = true;
                    break;
                }
            }
            everyone = has;
            if (has) {
                /* A member votes for the first of its protocols that everyone supports. */
                for (int q = 0; q < m->n_protocols; q++) {
                    bool all = true;
                    for (int k = 0; k < g->n_members && all; k++) {
                        bool h = false;
                        for (int z = 0; z < g->members[k]->n_protocols; z++) {
                            h = h ||
                                !strcmp(g->members[k]->protocols[z].name, m->protocols[q].name);
                        }
                        all = h;
                    }
                    if (all) {
                        votes += !strcmp(m->protocols[q].name, name);
                        break;
                    }
                }
            }
        }
        if (everyone && votes > best_votes) {
            best = name;
            best_votes = votes;
        }
    }
    return best;
}

static void complete_join(sl_coord_t *co, sl_group_t *g) {
    sl_loop_cancel(co->loop, g->rebalance_timer);
    g->rebalance_timer = 0;
    /* Members that did not rejoin in time are gone. */
    for (int i = 0; i < g->n_members;) {
        sl_member_t *m = g->members[i];
        if (m->join_req) {
            i++;
            continue;
        }
        drop_member(co, g, m, "did not rejoin within the rebalance timeout"); /* moves one in */
    }
    if (g->n_members == 0) {
        become_empty(co, g);
        return;
    }
    g->generation++;
    free(g->protocol);
    const char *proto = choose_protocol(g);
    g->protocol = proto ? sl_xstrdup(proto) : NULL;
    if (!g->leader || !find_member(g, (sl_str_t){g->leader, strlen(g->leader)})) {
        free(g->leader);
        g->leader = sl_xstrdup(g->members[0]->member_id);
    }
    g->state = SL_GROUP_COMPLETING_REBALANCE;
    sl_log(SL_LOG_INFO, "group", "group=%s generation=%d members=%d protocol=%s leader=%s", g->id,
           g->generation, g->n_members, g->protocol ? g->protocol : "-", g->leader);
    for (int i = 0; i < g->n_members; i++) {
        sl_member_t *m = g->members[i];
        void *req = m->join_req;
        m->join_req = NULL;
        touch(co, m);
        co->hooks.join_done(req, g, m, KERR_NONE);
    }
}

static void on_rebalance_timeout(sl_loop_t *loop, uint64_t id, void *data) {
    (void)loop;
    (void)id;
    sl_group_t *g = data;
    g->rebalance_timer = 0;
    if (g->state == SL_GROUP_PREPARING_REBALANCE) {
        complete_join(g->coord, g);
    }
}

static void maybe_complete_join(sl_coord_t *co, sl_group_t *g) {
    (void)co;
    if (g->state != SL_GROUP_PREPARING_REBALANCE) {
        return;
    }
    /* A new group waits out group.initial.rebalance.delay.ms for more members to arrive. */
    if (sl_mono_ms() < g->rebalance_deadline_ms) {
        return;
    }
    for (int i = 0; i < g->n_members; i++) {
        if (!g->members[i]->join_req) {
            return;
        }
    }
    complete_join(co, g);
}

static void prepare_rebalance(sl_coord_t *co, sl_group_t *g, const char *why) {
    if (g->state == SL_GROUP_COMPLETING_REBALANCE) {
        for (int i = 0; i < g->n_members; i++) {
            sl_member_t *m = g->members[i];
            if (m->sync_req) {
                co->hooks.sync_done(m->sync_req, g, m, KERR_REBALANCE_IN_PROGRESS);
                m->sync_req = NULL;
            }
        }
    }
    bool from_empty = g->state == SL_GROUP_EMPTY;
    g->state = SL_GROUP_PREPARING_REBALANCE;
    int32_t timeout = 0;
    for (int i = 0; i < g->n_members; i++) {
        timeout = SL_MAX(timeout, g->members[i]->rebalance_timeout_ms);
    }
    uint64_t delay =
        from_empty ? (uint64_t)SL_MIN(co->conf.initial_rebalance_delay_ms, timeout) : 0;
    uint64_t wait = delay > 0 ? delay : (uint64_t)timeout;
    g->rebalance_deadline_ms = sl_mono_ms() + delay;
    sl_loop_cancel(co->loop, g->rebalance_timer);
    g->rebalance_timer = sl_loop_timer(co->loop, wait, on_rebalance_timeout, g);
    sl_log(SL_LOG_DEBUG, "group", "group=%s msg=\"rebalance: %s\"", g->id, why);
}

static bool same_protocols(const sl_member_t *m, const sl_join_args_t *a) {
    if (m->n_protocols != a->n_protocols) {
        return false;
    }
    for (int i = 0; i < a->n_protocols; i++) {
        if (!sl_str_eqz(a->proto_names[i], m->protocols[i].name) ||
            a->proto_metadata[i].len != m->protocols[i].metadata_len ||
            (a->proto_metadata[i].len &&
             memcmp(a->proto_metadata[i].p, m->protocols[i].metadata, a->proto_metadata[i].len))) {
            return false;
        }
    }
    return true;
}

static void set_protocols(sl_member_t *m, const sl_join_args_t *a) {
    protocols_free(m);
    m->protocols = sl_xcalloc((size_t)a->n_protocols + 1, sizeof *m->protocols);
    m->n_protocols = a->n_protocols;
    for (int i = 0; i < a->n_protocols; i++) {
        m->protocols[i].name = sl_str_dupz(a->proto_names[i]);
        m->protocols[i].metadata_len = a->proto_metadata[i].len;
        m->protocols[i].metadata = sl_xmalloc(a->proto_metadata[i].len + 1);
        if (a->proto_metadata[i].len) {
            memcpy(m->protocols[i].metadata, a->proto_metadata[i].p, a->proto_metadata[i].len);
        }
    }
}

static sl_member_t *add_member(sl_coord_t *co, sl_group_t *g, char *id_owned,
                               const sl_join_args_t *a) {
    sl_member_t *m = sl_xcalloc(1, sizeof *m);
    m->member_id = id_owned;
    m->instance_id = dupz_or_null(a->instance_id);
    m->client_id = sl_str_dupz(a->client_id);
    m->client_host = sl_str_dupz(a->client_host);
    m->session_timeout_ms = a->session_timeout_ms;
    m->rebalance_timeout_ms = a->rebalance_timeout_ms;
    m->group = g;
    set_protocols(m, a);
    g->members = sl_xrealloc(g->members, (size_t)(g->n_members + 1) * sizeof *g->members);
    g->members[g->n_members++] = m;
    if (!g->protocol_type) {
        g->protocol_type = sl_str_dupz(a->protocol_type);
    }
    touch(co, m);
    return m;
}

int sl_coord_join(sl_coord_t *co, const sl_join_args_t *a, void *req, sl_member_t **member_out,
                  sl_group_t **group_out) {
    *member_out = NULL;
    *group_out = NULL;
    if (!a->group_id.p || a->group_id.len == 0) {
        return KERR_INVALID_GROUP_ID;
    }
    if (a->session_timeout_ms < co->conf.min_session_timeout_ms ||
        a->session_timeout_ms > co->conf.max_session_timeout_ms) {
        return KERR_INVALID_SESSION_TIMEOUT;
    }
    if (a->n_protocols == 0 || !a->protocol_type.p || a->protocol_type.len == 0) {
        return KERR_INCONSISTENT_GROUP_PROTOCOL;
    }
    sl_group_t *g = sl_coord_find(co, a->group_id);
    if (!g) {
        char *id = sl_str_dupz(a->group_id);
        g = group_create(co, id);
        free(id);
    }
    *group_out = g;
    if (g->n_members > 0 && g->protocol_type && !sl_str_eqz(a->protocol_type, g->protocol_type)) {
        return KERR_INCONSISTENT_GROUP_PROTOCOL;
    }
    if (g->n_members == 0) {
        free(g->protocol_type);
        g->protocol_type = sl_str_dupz(a->protocol_type);
    }
    sl_member_t *m = NULL;
    bool known = false, replaced = false;
    bool is_static = a->instance_id.p && a->instance_id.len;
    if (!a->member_id.p || a->member_id.len == 0) {
        sl_member_t *old = find_instance(g, a->instance_id);
        if (old) {
            /* A restarted static member takes over its old place; the old id is fenced. */
            bool unchanged = same_protocols(old, a);
            bool was_leader = g->leader && !strcmp(g->leader, old->member_id);
            free(old->member_id);
            old->member_id = new_member_id(a->client_id, a->instance_id);
            if (was_leader) {
                free(g->leader);
                g->leader = sl_xstrdup(old->member_id);
            }
            old->session_timeout_ms = a->session_timeout_ms;
            old->rebalance_timeout_ms = a->rebalance_timeout_ms;
            touch(co, old);
            m = old;
            if (g->state == SL_GROUP_STABLE && unchanged) {
                persist_group(co, g);
                *member_out = m;
                m->join_version = a->version;
                co->hooks.join_done(req, g, m, KERR_NONE);
                return -1;
            }
            /* Otherwise a rebalance: its metadata changed (a cooperative-sticky member owns
             * nothing after a restart), or the group is completing a rebalance whose leader
             * assigns to the id just replaced (Kafka rebalances then too), or one runs. */
            set_protocols(m, a);
            known = true;
            replaced = true;
        } else if (a->version >= 4 && !is_static) {
            char *nid = new_member_id(a->client_id, a->instance_id);
            g->pending_ids =
                sl_xrealloc(g->pending_ids, (size_t)(g->n_pending + 1) * sizeof *g->pending_ids);
            g->pending_ids[g->n_pending++] = nid;
            m = sl_xcalloc(1, sizeof *m);
            m->member_id = sl_xstrdup(nid);
            *member_out = m; /* temporary: the handler reads the id, then frees it */
            return KERR_MEMBER_ID_REQUIRED;
        } else {
            m = add_member(co, g, new_member_id(a->client_id, a->instance_id), a);
        }
    } else {
        m = find_member(g, a->member_id);
        if (m) {
            if (is_static && (!m->instance_id || !sl_str_eqz(a->instance_id, m->instance_id))) {
                return KERR_FENCED_INSTANCE_ID;
            }
            known = true;
        } else {
            if (is_static && find_instance(g, a->instance_id)) {
                return KERR_FENCED_INSTANCE_ID;
            }
            int pi = -1;
            for (int i = 0; i < g->n_pending; i++) {
                if (sl_str_eqz(a->member_id, g->pending_ids[i])) {
                    pi = i;
                }
            }
            if (pi < 0) {
                return KERR_UNKNOWN_MEMBER_ID;
            }
            char *id = g->pending_ids[pi];
            g->pending_ids[pi] = g->pending_ids[--g->n_pending];
            m = add_member(co, g, id, a);
        }
    }
    /* Protocol overlap with the other members. */
    if (g->n_members > 1) {
        bool any = false;
        for (int p = 0; p < a->n_protocols && !any; p++) {
            bool all = true;
            for (int i = 0; i < g->n_members && all; i++) {
                sl_member_t *o = g->members[i];
                if (o == m) {
                    continue;
                }
                bool has = false;
                for (int q = 0; q < o->n_protocols; q++) {
                    has = has || sl_str_eqz(a->proto_names[p], o->protocols[q].name);
                }
                all = has;
            }
            any = all;
        }
        if (!any) {
            if (!known) {
                drop_member(co, g, m, "inconsistent protocols"); /* it never counted */
            }
            return KERR_INCONSISTENT_GROUP_PROTOCOL;
        }
    }
    bool unchanged = known && !replaced && same_protocols(m, a);
    m->session_timeout_ms = a->session_timeout_ms;
    m->rebalance_timeout_ms = a->rebalance_timeout_ms;
    m->join_version = a->version;
    touch(co, m);
    if (known && !unchanged) {
        set_protocols(m, a);
    }
    if (m->join_req) {
        co->hooks.join_done(m->join_req, g, m, KERR_REBALANCE_IN_PROGRESS);
    }
    m->join_req = req;
    *member_out = m;
    bool is_leader = g->leader && !strcmp(g->leader, m->member_id);
    if (known && unchanged && !is_leader &&
        (g->state == SL_GROUP_STABLE || g->state == SL_GROUP_COMPLETING_REBALANCE)) {
        /* A follower resending its join: hand back the current generation, no rebalance. */
        m->join_req = NULL;
        co->hooks.join_done(req, g, m, KERR_NONE);
        return -1;
    }
    if (g->state != SL_GROUP_PREPARING_REBALANCE) {
        prepare_rebalance(co, g, known ? "member rejoined" : "member joined");
    }
    maybe_complete_join(co, g);
    return -1;
}

int sl_coord_sync(sl_coord_t *co, const sl_sync_args_t *a, void *req, sl_member_t **member_out) {
    *member_out = NULL;
    sl_group_t *g = sl_coord_find(co, a->group_id);
    sl_member_t *m = g ? find_member(g, a->member_id) : NULL;
    if (!m) {
        return g && find_instance(g, a->instance_id) ? KERR_FENCED_INSTANCE_ID
                                                     : KERR_UNKNOWN_MEMBER_ID;
    }
    if (a->instance_id.p && a->instance_id.len && !streq_z(m->instance_id, a->instance_id)) {
        return KERR_FENCED_INSTANCE_ID;
    }
    if (a->generation != g->generation) {
        return KERR_ILLEGAL_GENERATION;
    }
    touch(co, m);
    if (g->state == SL_GROUP_PREPARING_REBALANCE) {
        return KERR_REBALANCE_IN_PROGRESS;
    }
    if (g->state == SL_GROUP_STABLE) {
        *member_out = m;
        return KERR_NONE;
    }
    if (g->state != SL_GROUP_COMPLETING_REBALANCE) {
        return KERR_UNKNOWN_MEMBER_ID;
    }
    if (m->sync_req) {
        co->hooks.sync_done(m->sync_req, g, m, KERR_REBALANCE_IN_PROGRESS);
    }
    m->sync_req = req;
    if (g->leader && !strcmp(g->leader, m->member_id)) {
        for (int i = 0; i < g->n_members; i++) {
            free(g->members[i]->assignment);
            g->members[i]->assignment = NULL;
            g->members[i]->assignment_len = 0;
        }
        for (int i = 0; i < a->n_assignments; i++) {
            sl_member_t *t = find_member(g, a->assign_members[i]);
            if (!t) {
                continue;
            }
            t->assignment = sl_xmalloc(a->assign_data[i].len + 1);
            t->assignment_len = a->assign_data[i].len;
            if (a->assign_data[i].len) {
                memcpy(t->assignment, a->assign_data[i].p, a->assign_data[i].len);
            }
        }
        g->state = SL_GROUP_STABLE;
        persist_group(co, g);
        for (int i = 0; i < g->n_members; i++) {
            sl_member_t *t = g->members[i];
            if (t->sync_req) {
                void *r = t->sync_req;
                t->sync_req = NULL;
                co->hooks.sync_done(r, g, t, KERR_NONE);
            }
        }
    }
    return -1;
}

int sl_coord_heartbeat(sl_coord_t *co, sl_str_t group_id, int32_t generation, sl_str_t member_id,
                       sl_str_t instance_id) {
    sl_group_t *g = sl_coord_find(co, group_id);
    sl_member_t *m = g ? find_member(g, member_id) : NULL;
    if (!m) {
        return g && find_instance(g, instance_id) ? KERR_FENCED_INSTANCE_ID
                                                  : KERR_UNKNOWN_MEMBER_ID;
    }
    if (instance_id.p && instance_id.len && !streq_z(m->instance_id, instance_id)) {
        return KERR_FENCED_INSTANCE_ID;
    }
    touch(co, m);
    if (g->state == SL_GROUP_PREPARING_REBALANCE) {
        return KERR_REBALANCE_IN_PROGRESS;
    }
    if (generation != g->generation) {
        return KERR_ILLEGAL_GENERATION;
    }
    return KERR_NONE;
}

int sl_coord_leave(sl_coord_t *co, sl_str_t group_id, sl_str_t member_id, sl_str_t instance_id) {
    sl_group_t *g = sl_coord_find(co, group_id);
    if (!g) {
        return KERR_UNKNOWN_MEMBER_ID;
    }
    sl_member_t *m =
        member_id.p && member_id.len ? find_member(g, member_id) : find_instance(g, instance_id);
    if (!m) {
        return KERR_UNKNOWN_MEMBER_ID;
    }
    if (instance_id.p && instance_id.len && !streq_z(m->instance_id, instance_id)) {
        return KERR_FENCED_INSTANCE_ID;
    }
    remove_member(co, g, m, "left the group");
    return KERR_NONE;
}

int sl_coord_expire_due(sl_coord_t *co, sl_group_t *g, uint64_t now_ms) {
    int removed = 0;
    /* One at a time, scanning afresh: a removal can complete a join, which drops the members
     * that did not rejoin, so the member array changes under each call. */
    for (;;) {
        sl_member_t *due = NULL;
        for (int i = 0; i < g->n_members && !due; i++) {
            due = now_ms >= g->members[i]->deadline_ms ? g->members[i] : NULL;
        }
        if (!due) {
            return removed;
        }
        remove_member(co, g, due, "session timeout");
        removed++;
    }
}

int sl_coord_check_commit(sl_coord_t *co, sl_str_t group_id, int32_t generation, sl_str_t member_id,
                          sl_str_t instance_id) {
    if (!group_id.p || !group_id.len) {
        return KERR_INVALID_GROUP_ID;
    }
    sl_group_t *g = sl_coord_find(co, group_id);
    bool simple = generation < 0 && (!member_id.p || member_id.len == 0);
    if (!g || g->n_members == 0) {
        /* Generation -1 into an empty group: a consumer without group management (or an admin
         * tool), whatever member id it sends, as Kafka allows. */
        return generation < 0 || (g && generation == g->generation) ? KERR_NONE
                                                                    : KERR_ILLEGAL_GENERATION;
    }
    if (simple) {
        return KERR_UNKNOWN_MEMBER_ID; /* a live group's offsets belong to its members */
    }
    sl_member_t *m = find_member(g, member_id);
    if (!m) {
        return find_instance(g, instance_id) ? KERR_FENCED_INSTANCE_ID : KERR_UNKNOWN_MEMBER_ID;
    }
    if (instance_id.p && instance_id.len && !streq_z(m->instance_id, instance_id)) {
        return KERR_FENCED_INSTANCE_ID;
    }
    if (generation != g->generation) {
        return KERR_ILLEGAL_GENERATION;
    }
    if (g->state == SL_GROUP_COMPLETING_REBALANCE) {
        return KERR_REBALANCE_IN_PROGRESS;
    }
    touch(co, m);
    return KERR_NONE;
}

static sl_offset_entry_t *offset_slot(sl_group_t *g, const char *topic, size_t topic_len,
                                      int32_t partition, bool create) {
    for (size_t i = 0; i < g->n_offsets; i++) {
        sl_offset_entry_t *e = &g->offsets[i];
        if (e->partition == partition && strlen(e->topic) == topic_len &&
            !memcmp(e->topic, topic, topic_len)) {
            return e;
        }
    }
    if (!create) {
        return NULL;
    }
    if (g->n_offsets == g->cap_offsets) {
        g->cap_offsets = g->cap_offsets ? g->cap_offsets * 2 : 16;
        g->offsets = sl_xrealloc(g->offsets, g->cap_offsets * sizeof *g->offsets);
    }
    sl_offset_entry_t *e = &g->offsets[g->n_offsets++];
    memset(e, 0, sizeof *e);
    e->topic = sl_xstrndup(topic, topic_len);
    e->partition = partition;
    return e;
}

const sl_offset_entry_t *sl_coord_committed(sl_coord_t *co, sl_group_t *g, sl_str_t topic,
                                            int32_t partition) {
    (void)co;
    return g && topic.p ? offset_slot(g, topic.p, topic.len, partition, false) : NULL;
}

static sl_err_t snapshot(sl_offset_store_t *fresh, void *opaque);

static sl_err_t commit(sl_coord_t *co, bool to_file, sl_str_t group_id, sl_str_t topic,
                       int32_t partition, int64_t offset, int32_t leader_epoch, sl_str_t metadata,
                       int64_t now_ms) {
    sl_group_t *g = sl_coord_find(co, group_id);
    if (!g) {
        char *id = sl_str_dupz(group_id);
        g = group_create(co, id);
        free(id);
    }
    sl_committed_t c = {offset, leader_epoch, metadata.p ? sl_str_dupz(metadata) : NULL,
                        metadata.len, now_ms};
    char *t = sl_str_dupz(topic);
    sl_err_t rc = to_file ? sl_offset_store_put(co->store, g->id, t, partition, &c) : SL_OK;
    if (rc == SL_OK) {
        sl_offset_entry_t *e = offset_slot(g, topic.p, topic.len, partition, true);
        free(e->c.metadata);
        e->c = c;
    } else {
        free(c.metadata);
    }
    free(t);
    return rc;
}

sl_err_t sl_coord_commit(sl_coord_t *co, sl_str_t group_id, sl_str_t topic, int32_t partition,
                         int64_t offset, int32_t leader_epoch, sl_str_t metadata, int64_t now_ms) {
    return commit(co, true, group_id, topic, partition, offset, leader_epoch, metadata, now_ms);
}

void sl_coord_commit_mem(sl_coord_t *co, sl_str_t group_id, sl_str_t topic, int32_t partition,
                         int64_t offset, int32_t leader_epoch, sl_str_t metadata, int64_t now_ms) {
    (void)commit(co, false, group_id, topic, partition, offset, leader_epoch, metadata, now_ms);
}

sl_err_t sl_coord_sync_store(sl_coord_t *co) {
    sl_err_t rc = sl_offset_store_sync(co->store);
    if (rc == SL_OK) {
        sl_coord_maybe_compact(co);
    }
    return rc;
}

void sl_coord_maybe_compact(sl_coord_t *co) {
    if (sl_offset_store_size(co->store) > co->compact_at &&
        sl_offset_store_compact(co->store, snapshot, co) == SL_OK) {
        co->compact_at = SL_MAX(COMPACT_MIN_BYTES, 4 * sl_offset_store_size(co->store));
    }
}

sl_reclog_t *sl_coord_log(sl_coord_t *co) {
    return sl_offset_store_log(co->store);
}

int sl_coord_delete_offset(sl_coord_t *co, sl_group_t *g, sl_str_t topic, int32_t partition) {
    sl_offset_entry_t *e = offset_slot(g, topic.p, topic.len, partition, false);
    if (!e) {
        return KERR_NONE;
    }
    if (sl_offset_store_del(co->store, g->id, e->topic, partition) != SL_OK ||
        sl_offset_store_sync(co->store) != SL_OK) {
        return KERR_KAFKA_STORAGE_ERROR;
    }
    free(e->topic);
    free(e->c.metadata);
    *e = g->offsets[--g->n_offsets];
    return KERR_NONE;
}

int sl_coord_delete_group(sl_coord_t *co, sl_str_t group_id) {
    for (size_t i = 0; i < co->n_groups; i++) {
        sl_group_t *g = co->groups[i];
        if (!sl_str_eqz(group_id, g->id)) {
            continue;
        }
        if (g->n_members > 0) {
            return KERR_NON_EMPTY_GROUP;
        }
        if (sl_offset_store_group_del(co->store, g->id) != SL_OK ||
            sl_offset_store_sync(co->store) != SL_OK) {
            return KERR_KAFKA_STORAGE_ERROR;
        }
        co->groups[i] = co->groups[--co->n_groups];
        group_free(co, g);
        return KERR_NONE;
    }
    return KERR_GROUP_ID_NOT_FOUND;
}

size_t sl_coord_expire_offsets(sl_coord_t *co, int64_t now_ms) {
    size_t dropped = 0;
    for (size_t i = 0; i < co->n_groups;) {
        sl_group_t *g = co->groups[i];
        if (g->n_members > 0 || g->state != SL_GROUP_EMPTY ||
            (co->active && co->active(co->active_opaque, g->id))) {
            i++;
            continue;
        }
        int64_t last = 0;
        for (size_t k = 0; k < g->n_offsets; k++) {
            last = SL_MAX(last, g->offsets[k].c.commit_ms);
        }
        if (now_ms - last < co->conf.offsets_retention_ms) {
            i++;
            continue;
        }
        /* The group's tombstone removes its offsets and state on replay as well. */
        if (sl_offset_store_group_del(co->store, g->id) != SL_OK ||
            sl_offset_store_sync(co->store) != SL_OK) {
            return dropped;
        }
        sl_log(SL_LOG_INFO, "group", "group=%s offsets=%zu msg=\"expired by offsets.retention\"",
               g->id, g->n_offsets);
        dropped += g->n_offsets;
        co->groups[i] = co->groups[--co->n_groups];
        group_free(co, g);
    }
    return dropped;
}

void sl_coord_each(sl_coord_t *co, void (*fn)(sl_group_t *g, void *opaque), void *opaque) {
    for (size_t i = 0; i < co->n_groups; i++) {
        fn(co->groups[i], opaque);
    }
}

bool sl_group_subscribes(const sl_group_t *g, sl_str_t topic) {
    if (!g->protocol_type || strcmp(g->protocol_type, "consumer") != 0) {
        return false;
    }
    for (int i = 0; i < g->n_members; i++) {
        const sl_member_t *m = g->members[i];
        for (int p = 0; p < m->n_protocols; p++) {
            sl_reader_t rd = sl_reader_init(m->protocols[p].metadata, m->protocols[p].metadata_len);
            (void)sl_rd_i16(&rd); /* ConsumerProtocolSubscription version */
            int32_t n = sl_rd_array_len(&rd, false, 2);
            for (int32_t k = 0; k < n && !rd.err; k++) {
                if (sl_str_eq(sl_rd_str(&rd, false), topic)) {
                    return true;
                }
            }
        }
    }
    return false;
}

/* ---- durable group state ----
 * Blob: state i8, generation i32, protocol_type, protocol, leader (nullable strings), then members
 * [member_id, instance_id, client_id, client_host, session_timeout i32, rebalance_timeout i32,
 *  protocol name, protocol metadata bytes, assignment bytes]. */

static void encode_group(const sl_group_t *g, sl_buf_t *out) {
    sl_writer_t wr = {out};
    sl_wr_i8(&wr, (int8_t)(g->n_members ? SL_GROUP_STABLE : SL_GROUP_EMPTY));
    sl_wr_i32(&wr, g->generation);
    sl_wr_strz(&wr, false, g->protocol_type);
    sl_wr_strz(&wr, false, g->protocol);
    sl_wr_strz(&wr, false, g->leader);
    sl_wr_i32(&wr, g->n_members);
    for (int i = 0; i < g->n_members; i++) {
        const sl_member_t *m = g->members[i];
        sl_wr_strz(&wr, false, m->member_id);
        sl_wr_strz(&wr, false, m->instance_id);
        sl_wr_strz(&wr, false, m->client_id);
        sl_wr_strz(&wr, false, m->client_host);
        sl_wr_i32(&wr, m->session_timeout_ms);
        sl_wr_i32(&wr, m->rebalance_timeout_ms);
        const sl_protocol_t *p = NULL;
        for (int k = 0; k < m->n_protocols; k++) {
            if (g->protocol && !strcmp(m->protocols[k].name, g->protocol)) {
                p = &m->protocols[k];
            }
        }
        sl_wr_strz(&wr, false, p ? p->name : "");
        sl_bytes_t md = {p ? p->metadata : (const uint8_t *)"", p ? p->metadata_len : 0};
        sl_wr_bytes(&wr, false, md);
        sl_bytes_t as = {m->assignment ? m->assignment : (const uint8_t *)"", m->assignment_len};
        sl_wr_bytes(&wr, false, as);
    }
}

static void persist_group(sl_coord_t *co, sl_group_t *g) {
    sl_buf_t buf = {0};
    encode_group(g, &buf);
    if (sl_offset_store_group(co->store, g->id, buf.data, buf.len) != SL_OK ||
        sl_offset_store_sync(co->store) != SL_OK) {
        sl_log(SL_LOG_ERROR, "group", "group=%s msg=\"group state not persisted\"", g->id);
    }
    sl_buf_fini(&buf);
}

static void replay_offset(void *opaque, const char *group, const char *topic, int32_t partition,
                          const sl_committed_t *c) {
    sl_coord_t *co = opaque;
    sl_str_t gid = {group, strlen(group)};
    sl_group_t *g = sl_coord_find(co, gid);
    if (!g) {
        g = group_create(co, group);
    }
    sl_offset_entry_t *e = offset_slot(g, topic, strlen(topic), partition, true);
    free(e->c.metadata);
    e->c = *c;
    e->c.metadata = c->metadata ? sl_str_dupz((sl_str_t){c->metadata, c->metadata_len}) : NULL;
}

static void replay_offset_delete(void *opaque, const char *group, const char *topic,
                                 int32_t partition) {
    sl_coord_t *co = opaque;
    sl_str_t gid = {group, strlen(group)};
    sl_group_t *g = sl_coord_find(co, gid);
    sl_offset_entry_t *e = g ? offset_slot(g, topic, strlen(topic), partition, false) : NULL;
    if (e) {
        free(e->topic);
        free(e->c.metadata);
        *e = g->offsets[--g->n_offsets];
    }
}

static void replay_group(void *opaque, const char *group, const uint8_t *blob, size_t len) {
    sl_coord_t *co = opaque;
    sl_str_t gid = {group, strlen(group)};
    sl_group_t *g = sl_coord_find(co, gid);
    if (!g) {
        g = group_create(co, group);
    }
    for (int i = 0; i < g->n_members; i++) {
        sl_loop_cancel(co->loop, g->members[i]->timer);
        member_free(g->members[i]);
    }
    g->n_members = 0;
    sl_reader_t rd = sl_reader_init(blob, len);
    int state = sl_rd_i8(&rd);
    g->generation = sl_rd_i32(&rd);
    free(g->protocol_type);
    free(g->protocol);
    free(g->leader);
    sl_str_t pt = sl_rd_str(&rd, false), pr = sl_rd_str(&rd, false), ld = sl_rd_str(&rd, false);
    g->protocol_type = pt.p ? sl_str_dupz(pt) : NULL;
    g->protocol = pr.p ? sl_str_dupz(pr) : NULL;
    g->leader = ld.p ? sl_str_dupz(ld) : NULL;
    int32_t n = sl_rd_array_len(&rd, false, 8);
    for (int32_t i = 0; i < n && !rd.err; i++) {
        sl_str_t mid = sl_rd_str(&rd, false), iid = sl_rd_str(&rd, false);
        sl_str_t cid = sl_rd_str(&rd, false), host = sl_rd_str(&rd, false);
        int32_t st = sl_rd_i32(&rd), rt = sl_rd_i32(&rd);
        sl_str_t pname = sl_rd_str(&rd, false);
        sl_bytes_t md = sl_rd_bytes(&rd, false), as = sl_rd_bytes(&rd, false);
        if (rd.err) {
            break;
        }
        sl_join_args_t a = {0};
        a.instance_id = iid;
        a.client_id = cid;
        a.client_host = host;
        a.session_timeout_ms = st;
        a.rebalance_timeout_ms = rt;
        a.n_protocols = 1;
        a.proto_names = &pname;
        a.proto_metadata = &md;
        a.protocol_type = pt;
        sl_member_t *m = add_member(co, g, sl_str_dupz(mid), &a);
        m->assignment = sl_xmalloc(as.len + 1);
        m->assignment_len = as.len;
        if (as.len) {
            memcpy(m->assignment, as.p, as.len);
        }
    }
    g->state = g->n_members && state == SL_GROUP_STABLE ? SL_GROUP_STABLE : SL_GROUP_EMPTY;
    if (rd.err) {
        sl_log(SL_LOG_WARN, "group", "group=%s msg=\"stored group state unreadable\"", group);
    }
}

static void replay_group_delete(void *opaque, const char *group) {
    sl_coord_t *co = opaque;
    for (size_t i = 0; i < co->n_groups; i++) {
        if (!strcmp(co->groups[i]->id, group)) {
            sl_group_t *g = co->groups[i];
            co->groups[i] = co->groups[--co->n_groups];
            group_free(co, g);
            return;
        }
    }
}

static sl_err_t snapshot(sl_offset_store_t *fresh, void *opaque) {
    sl_coord_t *co = opaque;
    for (size_t i = 0; i < co->n_groups; i++) {
        sl_group_t *g = co->groups[i];
        sl_buf_t buf = {0};
        encode_group(g, &buf);
        sl_err_t rc = sl_offset_store_group(fresh, g->id, buf.data, buf.len);
        sl_buf_fini(&buf);
        for (size_t k = 0; rc == SL_OK && k < g->n_offsets; k++) {
            rc = sl_offset_store_put(fresh, g->id, g->offsets[k].topic, g->offsets[k].partition,
                                     &g->offsets[k].c);
        }
        if (rc != SL_OK) {
            return rc;
        }
    }
    return SL_OK;
}

void sl_coord_replay_fns(sl_coord_t *co, sl_offset_replay_t *out) {
    *out = (sl_offset_replay_t){replay_offset, replay_offset_delete, replay_group,
                                replay_group_delete, co};
}

void sl_coord_forget_offsets(sl_coord_t *co, bool (*match)(const char *group, void *opaque),
                             void *opaque) {
    for (size_t i = 0; i < co->n_groups; i++) {
        sl_group_t *g = co->groups[i];
        if (match(g->id, opaque)) {
            offsets_free(g);
        }
    }
}

sl_coord_t *sl_coord_new(sl_loop_t *loop, const char *data_dir, const sl_coord_conf_t *conf,
                         const sl_coord_hooks_t *hooks, char *err) {
    sl_coord_t *co = sl_xcalloc(1, sizeof *co);
    co->loop = loop;
    co->conf = *conf;
    co->hooks = *hooks;
    sl_offset_replay_t r = {replay_offset, replay_offset_delete, replay_group, replay_group_delete,
                            co};
    co->store = sl_offset_store_open(data_dir, &r, err);
    if (!co->store) {
        sl_coord_free(co);
        return NULL;
    }
    co->compact_at = SL_MAX(COMPACT_MIN_BYTES, 4 * sl_offset_store_size(co->store));
    return co;
}

void sl_coord_free(sl_coord_t *co) {
    if (!co) {
        return;
    }
    for (size_t i = 0; i < co->n_groups; i++) {
        sl_group_t *g = co->groups[i];
        for (int k = 0; k < g->n_members; k++) {
            sl_member_t *m = g->members[k];
            if (m->join_req) {
                co->hooks.join_done(m->join_req, g, m, KERR_COORDINATOR_NOT_AVAILABLE);
                m->join_req = NULL;
            }
            if (m->sync_req) {
                co->hooks.sync_done(m->sync_req, g, m, KERR_COORDINATOR_NOT_AVAILABLE);
                m->sync_req = NULL;
            }
        }
        group_free(co, g);
    }
    free(co->groups);
    sl_offset_store_close(co->store);
    free(co);
}
