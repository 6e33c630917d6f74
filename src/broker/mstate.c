/* mstate.c -- the metadata image the controller quorum replicates (see mstate.h).
 *
 * Topics are a plain list: metadata is small (thousands of topics at most on this slice) and
 * changes rarely. Client-quota records are kept in order as they came, because their meaning
 * (set or remove keys of one entity) is the quota module's; they are few and operator-made.
 *
 * Two brokers may create the same name at once (each proposes before it has applied the other's
 * create): the first create in the log wins, and a later one, with the placement its command
 * carries, is ignored on every node alike. Its proposer learns that it lost from the image
 * (sl_mstate_topic_id) and gives up its own copy (cluster.c). New partitions follow the same
 * rule: a PARTITIONS record names the count it was checked against, and one whose count is no
 * longer the image's is ignored with its placement (sl_mstate_partitions tells its proposer). */
#include "mstate.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "net/listener.h"
#include "proto/kerr.h"

typedef struct mtopic {
    struct mtopic *next;
    char *name;
    uint8_t id[16];
    int32_t n_partitions;
    sl_kv_t *configs;
    size_t n_configs;
    sl_meta_assign_t *assign; /* n_assign entries, partition i at i */
    int32_t n_assign;
    sl_mreassign_t *ra; /* NULL, or n_assign entries: reassignments in progress */
} mtopic_t;

typedef struct scoped {
    struct scoped *next;
    char *name;   /* dynamic broker configs: the scope */
    sl_buf_t rec; /* the framed record */
} scoped_t;

struct sl_mstate {
    pthread_mutex_t mu;
    sl_mbroker_t brokers[SL_MSTATE_MAX_BROKERS];
    size_t n_brokers;
    mtopic_t *topics;
    scoped_t *broker_configs;
    sl_buf_t quotas; /* framed quota records, in order */
    int64_t pid_block;
    char cluster_id[32]; /* SL_META_CLUSTER_ID: the first one committed ("" none yet) */
    int64_t placed;      /* partitions placed so far: where round-robin starts next */
    bool dup_create;     /* the record before was a create of a name the image has, or new
                          * partitions counted from a stale base: its placement (the next record of
                          * the same command) is ignored too */
};

static void topic_free(mtopic_t *t) {
    free(t->name);
    sl_kv_list_free(t->configs, t->n_configs);
    free(t->assign);
    free(t->ra);
    free(t);
}

static void clear(sl_mstate_t *ms) {
    while (ms->topics) {
        mtopic_t *t = ms->topics;
        ms->topics = t->next;
        topic_free(t);
    }
    while (ms->broker_configs) {
        scoped_t *s = ms->broker_configs;
        ms->broker_configs = s->next;
        free(s->name);
        sl_buf_fini(&s->rec);
        free(s);
    }
    sl_buf_fini(&ms->quotas);
    ms->quotas = (sl_buf_t){0};
    ms->n_brokers = 0;
    ms->pid_block = 0;
    ms->cluster_id[0] = '\0';
    ms->placed = 0;
}

sl_mstate_t *sl_mstate_new(void) {
    sl_mstate_t *ms = sl_xcalloc(1, sizeof *ms);
    pthread_mutex_init(&ms->mu, NULL);
    return ms;
}

void sl_mstate_free(sl_mstate_t *ms) {
    if (!ms) {
        return;
    }
    clear(ms);
    pthread_mutex_destroy(&ms->mu);
    free(ms);
}

static mtopic_t *find(sl_mstate_t *ms, const char *name) {
    for (mtopic_t *t = ms->topics; t; t = t->next) {
        if (!strcmp(t->name, name)) {
            return t;
        }
    }
    return NULL;
}

static sl_mbroker_t *find_broker(sl_mstate_t *ms, int64_t id) {
    for (size_t i = 0; i < ms->n_brokers; i++) {
        if (ms->brokers[i].id == id) {
            return &ms->brokers[i];
        }
    }
    return NULL;
}

static bool has_id(const int32_t *ids, int32_t n, int32_t id) {
    for (int32_t i = 0; i < n; i++) {
        if (ids[i] == id) {
            return true;
        }
    }
    return false;
}

static bool live(sl_mstate_t *ms, int32_t id) {
    sl_mbroker_t *b = find_broker(ms, id);
    return b && !b->fenced;
}

/* Broker `gone` lost its lease (or restarted: its unsynced tail may be gone). It leaves every
 * ISR it is in unless it is the last member (Kafka keeps the last one, so that it, and only
 * it, can lead again); each partition it led gets a new leader from the rest of the ISR that
 * is live, in replica order, with the epoch bumped, or none (leader -1, epoch bumped) when no
 * one else is in sync: an out-of-sync replica never leads (unclean.leader.election.enable is
 * false). Deterministic: every node applies it to the same image. */
static void elect_without(sl_mstate_t *ms, int32_t gone) {
    for (mtopic_t *t = ms->topics; t; t = t->next) {
        for (int32_t p = 0; p < t->n_assign; p++) {
            sl_meta_assign_t *a = &t->assign[p];
            if (has_id(a->isr, a->n_isr, gone) && a->n_isr > 1) {
                int32_t n = 0;
                for (int32_t i = 0; i < a->n_isr; i++) {
                    if (a->isr[i] != gone) {
                        a->isr[n++] = a->isr[i];
                    }
                }
                a->n_isr = n;
            }
            if (a->leader != gone) {
                continue;
            }
            a->leader = -1;
            a->epoch++;
            for (int32_t r = 0; r < a->n_replicas; r++) {
                int32_t id = a->replicas[r];
                if (id != gone && has_id(a->isr, a->n_isr, id) && live(ms, id)) {
                    a->leader = id;
                    break;
                }
            }
        }
    }
}

/* Broker `back` registered: partitions with no leader whose ISR names it get it as leader. */
static void elect_returning(sl_mstate_t *ms, int32_t back) {
    for (mtopic_t *t = ms->topics; t; t = t->next) {
        for (int32_t p = 0; p < t->n_assign; p++) {
            sl_meta_assign_t *a = &t->assign[p];
            if (a->leader < 0 && has_id(a->isr, a->n_isr, back)) {
                a->leader = back;
                a->epoch++;
            }
        }
    }
}

static void set_assign(mtopic_t *t, int32_t first, const sl_meta_assign_t *a, size_t n) {
    if (first < 0 || n > INT32_MAX || (int64_t)first + (int64_t)n > INT32_MAX) {
        return;
    }
    int32_t end = first + (int32_t)n;
    if (end > t->n_assign) {
        t->assign = sl_xrealloc(t->assign, (size_t)end * sizeof *t->assign);
        if (t->ra) {
            t->ra = sl_xrealloc(t->ra, (size_t)end * sizeof *t->ra);
            memset(t->ra + t->n_assign, 0, (size_t)(end - t->n_assign) * sizeof *t->ra);
        }
        for (int32_t i = t->n_assign; i < end; i++) {
            t->assign[i] = (sl_meta_assign_t){.leader = -1};
        }
        t->n_assign = end;
    }
    memcpy(t->assign + first, a, n * sizeof *a);
    for (size_t i = 0; i < n; i++) {
        sl_meta_assign_t *x = &t->assign[first + (int32_t)i];
        x->n_isr = x->n_replicas; /* a new placement starts with every replica in sync */
        memcpy(x->isr, x->replicas, sizeof x->isr);
    }
}

/* An ISR change (or a leader change decided elsewhere) made under `epoch`: stale ones are
 * ignored. The ISR keeps only replicas of the partition and never drops the leader. */
static void set_isr(mtopic_t *t, int32_t p, int64_t epoch, const sl_meta_assign_t *in) {
    if (!t || p < 0 || p >= t->n_assign || t->assign[p].epoch != epoch || in->n_replicas < 1) {
        return;
    }
    sl_meta_assign_t *a = &t->assign[p];
    if (in->leader >= 0 && !has_id(a->replicas, a->n_replicas, in->leader)) {
        return;
    }
    int32_t isr[SL_META_MAX_REPLICAS], n = 0;
    for (int32_t i = 0; i < in->n_replicas; i++) {
        if (has_id(a->replicas, a->n_replicas, in->replicas[i]) &&
            !has_id(isr, n, in->replicas[i])) {
            isr[n++] = in->replicas[i];
        }
    }
    if (in->leader >= 0 && !has_id(isr, n, in->leader)) {
        return;
    }
    memcpy(a->isr, isr, (size_t)n * sizeof *isr);
    a->n_isr = n;
    a->leader = in->leader;
    a->epoch = in->epoch;
}

/* ---- reassignments and elections (AlterPartitionReassignments, ElectLeaders) ----
 *
 * A reassignment keeps Kafka's three sets: the origin replicas, the target replicas and, while
 * it runs, the partition's replicas = target followed by the origin replicas not in it (the
 * adding ones fetch and catch up like any follower). Once every target replica is in the ISR
 * the partition switches to the target set; every change of the replica set bumps the leader
 * epoch, so every broker rebuilds its followers and fetchers from the image. */

static sl_mreassign_t *ra_of(mtopic_t *t, int32_t p) {
    if (!t->ra) {
        t->ra = sl_xcalloc((size_t)t->n_assign + 1, sizeof *t->ra);
    }
    return &t->ra[p];
}

static bool ra_active(const mtopic_t *t, int32_t p) {
    return t->ra && t->ra[p].n_target > 0;
}

/* Keeps in `ids` only those in `keep`; returns the new count. */
static int32_t keep_only(int32_t *ids, int32_t n, const int32_t *keep, int32_t n_keep) {
    int32_t k = 0;
    for (int32_t i = 0; i < n; i++) {
        if (has_id(keep, n_keep, ids[i])) {
            ids[k++] = ids[i];
        }
    }
    return k;
}

/* Sets the replica set (and shrinks the ISR to it); the leader stays if it is in `pref` order's
 * set and live, else the first of `pref` that is live and in sync, else the first live ISR
 * member in replica order, else none. The epoch is bumped. */
static void set_replicas(sl_mstate_t *ms, sl_meta_assign_t *a, const int32_t *ids, int32_t n,
                         const int32_t *pref, int32_t n_pref) {
    int32_t isr[SL_META_MAX_REPLICAS];
    memcpy(isr, a->isr, sizeof isr);
    int32_t n_isr = keep_only(isr, a->n_isr, ids, n);
    if (n_isr == 0) {
        return; /* nothing in sync would be left: keep the partition as it is */
    }
    memcpy(a->replicas, ids, (size_t)n * sizeof *ids);
    a->n_replicas = n;
    memcpy(a->isr, isr, sizeof isr);
    a->n_isr = n_isr;
    a->epoch++;
    if (a->leader >= 0 && has_id(ids, n, a->leader) && live(ms, a->leader) &&
        has_id(isr, n_isr, a->leader)) {
        return;
    }
    a->leader = -1;
    for (int32_t i = 0; i < n_pref && a->leader < 0; i++) {
        if (has_id(isr, n_isr, pref[i]) && live(ms, pref[i])) {
            a->leader = pref[i];
        }
    }
    for (int32_t i = 0; i < n && a->leader < 0; i++) {
        if (has_id(isr, n_isr, ids[i]) && live(ms, ids[i])) {
            a->leader = ids[i];
        }
    }
}

/* Completes partition p's reassignment once every target replica is in sync. */
static void reassign_step(sl_mstate_t *ms, mtopic_t *t, int32_t p) {
    if (!ra_active(t, p)) {
        return;
    }
    sl_mreassign_t *r = &t->ra[p];
    sl_meta_assign_t *a = &t->assign[p];
    for (int32_t i = 0; i < r->n_target; i++) {
        if (!has_id(a->isr, a->n_isr, r->target[i])) {
            return;
        }
    }
    set_replicas(ms, a, r->target, r->n_target, r->target, r->n_target);
    memset(r, 0, sizeof *r);
}

static void reassign_progress(sl_mstate_t *ms, mtopic_t *t) {
    for (int32_t p = 0; t && t->ra && p < t->n_assign; p++) {
        reassign_step(ms, t, p);
    }
}

static void reassign_progress_all(sl_mstate_t *ms) {
    for (mtopic_t *t = ms->topics; t; t = t->next) {
        reassign_progress(ms, t);
    }
}

/* Whether `ids` can be a replica list: 1..SL_META_MAX_REPLICAS distinct live brokers. */
static bool valid_target(sl_mstate_t *ms, const int32_t *ids, int32_t n) {
    if (n < 1 || n > SL_META_MAX_REPLICAS) {
        return false;
    }
    for (int32_t i = 0; i < n; i++) {
        if (!live(ms, ids[i]) || has_id(ids, i, ids[i])) {
            return false;
        }
    }
    return true;
}

static void apply_reassign(sl_mstate_t *ms, mtopic_t *t, const sl_meta_rec_t *rec) {
    int32_t p = rec->partitions;
    if (!t || p < 0 || p >= t->n_assign || rec->n_assign < 1) {
        return;
    }
    const sl_meta_assign_t *in = &rec->assign[0];
    sl_meta_assign_t *a = &t->assign[p];
    if (rec->n_assign == 2) { /* a snapshot's state, restored as it was */
        sl_mreassign_t *r = ra_of(t, p);
        r->n_target = in->n_replicas;
        memcpy(r->target, in->replicas, sizeof r->target);
        r->n_origin = rec->assign[1].n_replicas;
        memcpy(r->origin, rec->assign[1].replicas, sizeof r->origin);
        return;
    }
    if (in->n_replicas == 0) { /* cancel: back to the origin replicas */
        if (ra_active(t, p)) {
            sl_mreassign_t *r = &t->ra[p];
            set_replicas(ms, a, r->origin, r->n_origin, r->origin, r->n_origin);
            memset(r, 0, sizeof *r);
        }
        return;
    }
    if (!valid_target(ms, in->replicas, in->n_replicas)) {
        return;
    }
    int32_t origin[SL_META_MAX_REPLICAS], n_origin;
    if (ra_active(t, p)) {
        n_origin = t->ra[p].n_origin;
        memcpy(origin, t->ra[p].origin, sizeof origin);
    } else {
        n_origin = a->n_replicas;
        memcpy(origin, a->replicas, sizeof origin);
    }
    bool same = n_origin == in->n_replicas &&
                !memcmp(origin, in->replicas, (size_t)n_origin * sizeof *origin);
    if (same) { /* the target is where it started: a move in progress is cancelled */
        if (ra_active(t, p)) {
            set_replicas(ms, a, origin, n_origin, origin, n_origin);
            memset(&t->ra[p], 0, sizeof t->ra[p]);
        }
        return;
    }
    int32_t full[2 * SL_META_MAX_REPLICAS], n_full = 0;
    for (int32_t i = 0; i < in->n_replicas; i++) {
        full[n_full++] = in->replicas[i];
    }
    for (int32_t i = 0; i < n_origin; i++) {
        if (!has_id(full, n_full, origin[i])) {
            full[n_full++] = origin[i];
        }
    }
    if (n_full > SL_META_MAX_REPLICAS) {
        return; /* refused before it was proposed (sl_mstate_check_reassign) */
    }
    sl_meta_assign_t before = *a;
    set_replicas(ms, a, full, n_full, origin, n_origin);
    if (a->epoch == before.epoch) {
        return; /* nothing in sync would have been left */
    }
    sl_mreassign_t *r = ra_of(t, p);
    r->n_target = in->n_replicas;
    memset(r->target, 0, sizeof r->target);
    memcpy(r->target, in->replicas, (size_t)in->n_replicas * sizeof *r->target);
    r->n_origin = n_origin;
    memset(r->origin, 0, sizeof r->origin);
    memcpy(r->origin, origin, (size_t)n_origin * sizeof *origin);
    reassign_step(ms, t, p); /* a target already in sync completes at once */
}

static bool topic_allows_unclean(const mtopic_t *t) {
    for (size_t i = 0; i < t->n_configs; i++) {
        if (!strcmp(t->configs[i].key, "unclean.leader.election.enable")) {
            return t->configs[i].value && !strcasecmp(t->configs[i].value, "true");
        }
    }
    return false;
}

/* ElectLeaders' decision for one partition (the same check before proposing and when
 * applying): KERR_NONE with the new leader in *leader, or the error Kafka answers. */
static int16_t elect_decide(sl_mstate_t *ms, const mtopic_t *t, int32_t p, int64_t type,
                            int32_t *leader, char *msg) {
    *leader = -1;
    if (!t || p < 0 || p >= t->n_assign) {
        snprintf(msg, SL_ERRLEN, "The partition does not exist.");
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    const sl_meta_assign_t *a = &t->assign[p];
    if (type == SL_ELECT_PREFERRED) {
        int32_t pref = a->n_replicas > 0 ? a->replicas[0] : -1;
        if (pref >= 0 && a->leader == pref) {
            snprintf(msg, SL_ERRLEN, "Leader election not needed for topic partition.");
            return KERR_ELECTION_NOT_NEEDED;
        }
        if (pref < 0 || !live(ms, pref) || !has_id(a->isr, a->n_isr, pref)) {
            snprintf(msg, SL_ERRLEN,
                     "Failed to elect leader for partition %s-%d under strategy "
                     "PreferredReplicaPartitionLeaderElectionStrategy",
                     t->name, (int)p);
            return KERR_PREFERRED_LEADER_NOT_AVAILABLE;
        }
        *leader = pref;
        return KERR_NONE;
    }
    if (type != SL_ELECT_UNCLEAN) {
        snprintf(msg, SL_ERRLEN, "Unknown election type %lld.", (long long)type);
        return KERR_INVALID_REQUEST;
    }
    if (a->leader >= 0 && live(ms, a->leader)) {
        snprintf(msg, SL_ERRLEN, "Leader election not needed for topic partition.");
        return KERR_ELECTION_NOT_NEEDED;
    }
    for (int32_t i = 0; i < a->n_replicas; i++) {
        if (has_id(a->isr, a->n_isr, a->replicas[i]) && live(ms, a->replicas[i])) {
            *leader = a->replicas[i]; /* an in-sync replica first: a clean election */
            return KERR_NONE;
        }
    }
    if (!topic_allows_unclean(t)) {
        snprintf(msg, SL_ERRLEN,
                 "No in-sync replica of %s-%d is live and the topic does not allow unclean "
                 "leader election (unclean.leader.election.enable=false).",
                 t->name, (int)p);
        return KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE;
    }
    for (int32_t i = 0; i < a->n_replicas; i++) {
        if (live(ms, a->replicas[i])) {
            *leader = a->replicas[i];
            return KERR_NONE;
        }
    }
    snprintf(msg, SL_ERRLEN, "No replica of %s-%d is live.", t->name, (int)p);
    return KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE;
}

static void apply_elect(sl_mstate_t *ms, mtopic_t *t, int32_t p, int64_t type) {
    char msg[SL_ERRLEN];
    int32_t leader;
    if (elect_decide(ms, t, p, type, &leader, msg) != KERR_NONE) {
        return;
    }
    sl_meta_assign_t *a = &t->assign[p];
    if (!has_id(a->isr, a->n_isr, leader)) { /* unclean: it alone is in sync now */
        a->isr[0] = leader;
        a->n_isr = 1;
    }
    a->leader = leader;
    a->epoch++;
}

static void snapshot_reassign(const mtopic_t *t, sl_buf_t *out) {
    for (int32_t p = 0; p < t->n_assign; p++) {
        if (!ra_active(t, p)) {
            continue;
        }
        sl_meta_assign_t two[2] = {{.n_replicas = t->ra[p].n_target},
                                   {.n_replicas = t->ra[p].n_origin}};
        memcpy(two[0].replicas, t->ra[p].target, sizeof two[0].replicas);
        memcpy(two[1].replicas, t->ra[p].origin, sizeof two[1].replicas);
        sl_meta_rec_t rec = {.type = SL_META_REASSIGN,
                             .name = t->name,
                             .partitions = p,
                             .assign = two,
                             .n_assign = 2};
        sl_meta_encode(&rec, out);
    }
}

/* One record. Malformed values (ids out of range) are ignored, the same way on every node. */
static void apply_rec(const sl_meta_rec_t *rec, void *opaque) {
    sl_mstate_t *ms = opaque;
    mtopic_t *t = rec->name ? find(ms, rec->name) : NULL;
    bool dup_before = ms->dup_create;
    ms->dup_create = false;
    switch (rec->type) {
    case SL_META_TOPIC_CREATE:
        ms->dup_create = t != NULL; /* a second create of the name: ignored, and so is its
                                     * placement, which would move the first one's partitions */
        if (!t && rec->name && *rec->name) {
            t = sl_xcalloc(1, sizeof *t);
            t->name = sl_xstrdup(rec->name);
            memcpy(t->id, rec->id, 16);
            t->n_partitions = rec->partitions;
            t->configs = sl_kv_list_dup(rec->configs, rec->n_configs);
            t->n_configs = rec->n_configs;
            t->next = ms->topics;
            ms->topics = t;
        }
        return;
    case SL_META_TOPIC_DELETE:
        for (mtopic_t **pp = &ms->topics; *pp; pp = &(*pp)->next) {
            if (*pp == t && sl_meta_names_topic(rec, t->id)) {
                *pp = t->next;
                topic_free(t);
                break;
            }
        }
        return;
    case SL_META_PARTITIONS:
        /* Counted from another count than the image's (a concurrent CreatePartitions came
         * first): ignored with its placement, which would move the other one's partitions. */
        if (t && rec->value > 0 && rec->value != t->n_partitions) {
            ms->dup_create = true;
        } else if (t && rec->partitions > t->n_partitions) {
            t->n_partitions = rec->partitions;
        }
        return;
    case SL_META_CONFIGS:
        if (t) {
            sl_kv_list_free(t->configs, t->n_configs);
            t->configs = sl_kv_list_dup(rec->configs, rec->n_configs);
            t->n_configs = rec->n_configs;
        }
        return;
    case SL_META_PID_BLOCK:
        ms->pid_block = SL_MAX(ms->pid_block, rec->value);
        return;
    case SL_META_QUOTA:
    case SL_META_ACL:
    case SL_META_SCRAM: /* kept whole, in order, as quotas are: a later record overrides */
        sl_meta_encode(rec, &ms->quotas);
        return;
    case SL_META_BROKER_CONFIGS: {
        scoped_t *s = ms->broker_configs;
        while (s && strcmp(s->name, rec->name ? rec->name : "")) {
            s = s->next;
        }
        if (!s) {
            s = sl_xcalloc(1, sizeof *s);
            s->name = sl_xstrdup(rec->name ? rec->name : "");
            s->next = ms->broker_configs;
            ms->broker_configs = s;
        }
        s->rec.len = 0;
        sl_meta_encode(rec, &s->rec);
        return;
    }
    case SL_META_BROKER_REG: {
        if (rec->value < 0 || rec->value > INT32_MAX || !rec->name) {
            return;
        }
        sl_mbroker_t *b = find_broker(ms, rec->value);
        if (!b) {
            if (ms->n_brokers == SL_MSTATE_MAX_BROKERS) {
                return;
            }
            /* kept sorted by id */
            size_t at = 0;
            while (at < ms->n_brokers && ms->brokers[at].id < rec->value) {
                at++;
            }
            memmove(ms->brokers + at + 1, ms->brokers + at,
                    (ms->n_brokers - at) * sizeof *ms->brokers);
            ms->n_brokers++;
            b = &ms->brokers[at];
            memset(b, 0, sizeof *b);
            b->id = (int32_t)rec->value;
        }
        (void)sl_mbroker_parse_addr(b, rec->name);
        /* A registration is a new incarnation: what it led moves on as if it had been fenced
         * (its unsynced tail may be gone), then it is live again and leads what only it can. */
        b->fenced = true;
        elect_without(ms, b->id);
        b->fenced = false;
        elect_returning(ms, b->id);
        reassign_progress_all(ms);
        return;
    }
    case SL_META_BROKER_FENCE: {
        sl_mbroker_t *b = find_broker(ms, rec->value);
        if (b) {
            b->fenced = true;
            elect_without(ms, b->id);
            reassign_progress_all(ms);
        }
        return;
    }
    case SL_META_ISR:
        if (rec->n_assign == 1) {
            set_isr(t, rec->partitions, rec->value, rec->assign);
            reassign_progress(ms, t);
        }
        return;
    case SL_META_REASSIGN:
        apply_reassign(ms, t, rec);
        return;
    case SL_META_ELECT:
        apply_elect(ms, t, rec->partitions, rec->value);
        return;
    case SL_META_PLACEMENT:
        if (t && !dup_before) {
            set_assign(t, rec->partitions, rec->assign, rec->n_assign);
            ms->placed += (int64_t)rec->n_assign;
        }
        return;
    case SL_META_CLUSTER_ID:
        /* Leaders that proposed one each before seeing the other's: the first one holds. */
        if (!ms->cluster_id[0] && rec->name && *rec->name &&
            strlen(rec->name) < sizeof ms->cluster_id) {
            snprintf(ms->cluster_id, sizeof ms->cluster_id, "%s", rec->name);
        }
        return;
    }
}

void sl_mbroker_addr(const sl_mbroker_t *b, char *out, size_t cap) {
    if (strcmp(b->host, b->ib_host) != 0 || b->port != b->ib_port) {
        snprintf(out, cap, "%s:%d,%s:%d", b->host, (int)b->port, b->ib_host, (int)b->ib_port);
    } else {
        snprintf(out, cap, "%s:%d", b->host, (int)b->port);
    }
}

bool sl_mbroker_parse_addr(sl_mbroker_t *b, const char *addr) {
    char first[300], host[256], ib_host[256];
    int port = 0, ib_port = 0;
    size_t n = strcspn(addr, ",");
    if (n >= sizeof first) {
        return false;
    }
    memcpy(first, addr, n);
    first[n] = '\0';
    if (sl_parse_hostport(first, host, sizeof host, &port) != SL_OK) {
        return false;
    }
    if (addr[n] == ',') {
        if (sl_parse_hostport(addr + n + 1, ib_host, sizeof ib_host, &ib_port) != SL_OK) {
            return false;
        }
    } else {
        snprintf(ib_host, sizeof ib_host, "%s", host);
        ib_port = port;
    }
    snprintf(b->host, sizeof b->host, "%s", host);
    b->port = port;
    snprintf(b->ib_host, sizeof b->ib_host, "%s", ib_host);
    b->ib_port = ib_port;
    return true;
}

sl_err_t sl_mstate_apply(sl_mstate_t *ms, const uint8_t *cmd, size_t len) {
    pthread_mutex_lock(&ms->mu);
    ms->dup_create = false;
    sl_err_t rc = sl_meta_each(cmd, len, apply_rec, ms);
    pthread_mutex_unlock(&ms->mu);
    return rc;
}

void sl_mstate_snapshot(sl_mstate_t *ms, sl_buf_t *out) {
    pthread_mutex_lock(&ms->mu);
    if (ms->cluster_id[0]) {
        sl_meta_rec_t rec = {.type = SL_META_CLUSTER_ID, .name = ms->cluster_id};
        sl_meta_encode(&rec, out);
    }
    for (size_t i = 0; i < ms->n_brokers; i++) {
        const sl_mbroker_t *b = &ms->brokers[i];
        char addr[600];
        sl_mbroker_addr(b, addr, sizeof addr);
        sl_meta_rec_t rec = {.type = SL_META_BROKER_REG, .name = addr, .value = b->id};
        sl_meta_encode(&rec, out);
        if (b->fenced) {
            sl_meta_rec_t f = {.type = SL_META_BROKER_FENCE, .name = "", .value = b->id};
            sl_meta_encode(&f, out);
        }
    }
    /* Oldest topic first, so a restore rebuilds the list (and `placed`) in the same order. */
    size_t n = 0;
    for (mtopic_t *t = ms->topics; t; t = t->next) {
        n++;
    }
    mtopic_t **order = sl_xcalloc(n + 1, sizeof *order);
    size_t i = n;
    for (mtopic_t *t = ms->topics; t; t = t->next) {
        order[--i] = t;
    }
    for (i = 0; i < n; i++) {
        mtopic_t *t = order[i];
        sl_meta_rec_t rec = {SL_META_TOPIC_CREATE, t->name,    {0},
                             t->n_partitions,      t->configs, t->n_configs};
        memcpy(rec.id, t->id, 16);
        sl_meta_encode(&rec, out);
        if (t->n_assign > 0) {
            sl_meta_rec_t pl = {.type = SL_META_PLACEMENT,
                                .name = t->name,
                                .partitions = 0,
                                .assign = t->assign,
                                .n_assign = (size_t)t->n_assign};
            sl_meta_encode(&pl, out);
            for (int32_t p = 0; p < t->n_assign; p++) {
                sl_meta_assign_t a = t->assign[p];
                a.n_replicas = a.n_isr;
                memcpy(a.replicas, a.isr, sizeof a.replicas);
                sl_meta_rec_t isr = {.type = SL_META_ISR,
                                     .name = t->name,
                                     .partitions = p,
                                     .value = a.epoch,
                                     .assign = &a,
                                     .n_assign = 1};
                sl_meta_encode(&isr, out);
            }
            snapshot_reassign(t, out);
        }
    }
    free(order);
    for (scoped_t *s = ms->broker_configs; s; s = s->next) {
        sl_buf_append(out, s->rec.data, s->rec.len);
    }
    if (ms->quotas.len) {
        sl_buf_append(out, ms->quotas.data, ms->quotas.len);
    }
    if (ms->pid_block) {
        sl_meta_rec_t rec = {.type = SL_META_PID_BLOCK, .name = "", .value = ms->pid_block};
        sl_meta_encode(&rec, out);
    }
    pthread_mutex_unlock(&ms->mu);
}

sl_err_t sl_mstate_restore(sl_mstate_t *ms, const uint8_t *p, size_t len) {
    pthread_mutex_lock(&ms->mu);
    clear(ms);
    ms->dup_create = false;
    sl_err_t rc = sl_meta_each(p, len, apply_rec, ms);
    if (rc != SL_OK) {
        clear(ms);
    }
    pthread_mutex_unlock(&ms->mu);
    return rc;
}

bool sl_mstate_cluster_id(sl_mstate_t *ms, char *out, size_t cap) {
    pthread_mutex_lock(&ms->mu);
    bool known = ms->cluster_id[0] != '\0';
    snprintf(out, cap, "%s", ms->cluster_id);
    pthread_mutex_unlock(&ms->mu);
    return known;
}

size_t sl_mstate_brokers(sl_mstate_t *ms, sl_mbroker_t *out, size_t max) {
    pthread_mutex_lock(&ms->mu);
    size_t n = ms->n_brokers;
    memcpy(out, ms->brokers, SL_MIN(n, max) * sizeof *out);
    pthread_mutex_unlock(&ms->mu);
    return n;
}

bool sl_mstate_broker(sl_mstate_t *ms, int32_t id, sl_mbroker_t *out) {
    pthread_mutex_lock(&ms->mu);
    sl_mbroker_t *b = find_broker(ms, id);
    if (b) {
        *out = *b;
    }
    pthread_mutex_unlock(&ms->mu);
    return b != NULL;
}

bool sl_mstate_assign(sl_mstate_t *ms, const char *topic, int32_t partition,
                      sl_meta_assign_t *out) {
    pthread_mutex_lock(&ms->mu);
    mtopic_t *t = find(ms, topic);
    bool ok = t && partition >= 0 && partition < t->n_assign;
    if (ok) {
        *out = t->assign[partition];
    }
    pthread_mutex_unlock(&ms->mu);
    return ok;
}

bool sl_mstate_topic_id(sl_mstate_t *ms, const char *topic, uint8_t id[16]) {
    pthread_mutex_lock(&ms->mu);
    mtopic_t *t = find(ms, topic);
    if (t) {
        memcpy(id, t->id, 16);
    }
    pthread_mutex_unlock(&ms->mu);
    return t != NULL;
}

static int32_t live_ids(sl_mstate_t *ms, int32_t *ids) {
    int32_t n = 0;
    for (size_t i = 0; i < ms->n_brokers; i++) {
        if (!ms->brokers[i].fenced) {
            ids[n++] = ms->brokers[i].id;
        }
    }
    return n;
}

int32_t sl_mstate_live(sl_mstate_t *ms) {
    int32_t ids[SL_MSTATE_MAX_BROKERS];
    pthread_mutex_lock(&ms->mu);
    int32_t n = live_ids(ms, ids);
    pthread_mutex_unlock(&ms->mu);
    return n;
}

int32_t sl_mstate_partitions(sl_mstate_t *ms, const char *topic) {
    pthread_mutex_lock(&ms->mu);
    mtopic_t *t = find(ms, topic);
    int32_t n = t ? t->n_partitions : -1;
    pthread_mutex_unlock(&ms->mu);
    return n;
}

sl_err_t sl_mstate_place(sl_mstate_t *ms, int32_t first, int32_t count, int32_t rf,
                         sl_meta_assign_t *out, int32_t *live) {
    int32_t ids[SL_MSTATE_MAX_BROKERS];
    pthread_mutex_lock(&ms->mu);
    int32_t n = live_ids(ms, ids);
    int64_t start = ms->placed;
    pthread_mutex_unlock(&ms->mu);
    *live = n;
    if (rf < 1 || rf > n || rf > SL_META_MAX_REPLICAS) {
        return SL_ERR_LIMIT;
    }
    (void)first;
    for (int32_t p = 0; p < count; p++) {
        sl_meta_assign_t *a = &out[p];
        memset(a, 0, sizeof *a);
        int64_t at = (start + p) % n;
        for (int32_t r = 0; r < rf; r++) {
            a->replicas[r] = ids[(at + r) % n];
        }
        a->n_replicas = rf;
        a->leader = a->replicas[0];
        a->epoch = 0;
    }
    return SL_OK;
}

void sl_mstate_each_offline(sl_mstate_t *ms, sl_mstate_part_fn *fn, void *opaque) {
    pthread_mutex_lock(&ms->mu);
    for (mtopic_t *t = ms->topics; t; t = t->next) {
        for (int32_t p = 0; p < t->n_partitions; p++) {
            sl_meta_assign_t none = {.leader = -1};
            const sl_meta_assign_t *a = p < t->n_assign ? &t->assign[p] : &none;
            sl_mbroker_t *b = a->leader >= 0 ? find_broker(ms, a->leader) : NULL;
            if (!b || b->fenced) {
                fn(t->name, p, a, opaque);
            }
        }
    }
    pthread_mutex_unlock(&ms->mu);
}

void sl_mstate_each_partition(sl_mstate_t *ms, sl_mstate_part_fn *fn, void *opaque) {
    pthread_mutex_lock(&ms->mu);
    for (mtopic_t *t = ms->topics; t; t = t->next) {
        for (int32_t p = 0; p < t->n_assign; p++) {
            fn(t->name, p, &t->assign[p], opaque);
        }
    }
    pthread_mutex_unlock(&ms->mu);
}

int16_t sl_mstate_check_reassign(sl_mstate_t *ms, const char *topic, int32_t partition,
                                 const int32_t *target, int32_t n, bool cancel, char *msg) {
    pthread_mutex_lock(&ms->mu);
    mtopic_t *t = find(ms, topic);
    int16_t err = KERR_NONE;
    msg[0] = '\0';
    if (!t || partition < 0 || partition >= t->n_assign) {
        snprintf(msg, SL_ERRLEN, "The partition does not exist.");
        err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
    } else if (cancel) {
        if (!ra_active(t, partition)) {
            snprintf(msg, SL_ERRLEN, "No reassignment is in progress for %s-%d.", topic,
                     (int)partition);
            err = KERR_NO_REASSIGNMENT_IN_PROGRESS;
        }
    } else if (n < 1) {
        snprintf(msg, SL_ERRLEN, "The replica list is empty.");
        err = KERR_INVALID_REPLICA_ASSIGNMENT;
    } else if (!valid_target(ms, target, n)) {
        snprintf(msg, SL_ERRLEN,
                 "The replica list must name distinct live brokers (at most %d): a broker is "
                 "duplicated, unknown or fenced.",
                 SL_META_MAX_REPLICAS);
        err = KERR_INVALID_REPLICA_ASSIGNMENT;
    } else {
        const sl_mreassign_t *r = ra_active(t, partition) ? &t->ra[partition] : NULL;
        const int32_t *origin = r ? r->origin : t->assign[partition].replicas;
        int32_t n_origin = r ? r->n_origin : t->assign[partition].n_replicas, n_full = n;
        for (int32_t i = 0; i < n_origin; i++) {
            n_full += !has_id(target, n, origin[i]);
        }
        if (n_full > SL_META_MAX_REPLICAS) {
            snprintf(msg, SL_ERRLEN,
                     "The target and the current replicas together exceed %d brokers.",
                     SL_META_MAX_REPLICAS);
            err = KERR_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    pthread_mutex_unlock(&ms->mu);
    return err;
}

bool sl_mstate_reassignment(sl_mstate_t *ms, const char *topic, int32_t partition,
                            sl_meta_assign_t *a, sl_mreassign_t *r) {
    pthread_mutex_lock(&ms->mu);
    mtopic_t *t = find(ms, topic);
    bool ok = t && partition >= 0 && partition < t->n_assign && ra_active(t, partition);
    if (ok) {
        *a = t->assign[partition];
        *r = t->ra[partition];
    }
    pthread_mutex_unlock(&ms->mu);
    return ok;
}

void sl_mstate_each_reassign(sl_mstate_t *ms, sl_mstate_ra_fn *fn, void *opaque) {
    pthread_mutex_lock(&ms->mu);
    for (mtopic_t *t = ms->topics; t; t = t->next) {
        for (int32_t p = 0; p < t->n_assign; p++) {
            if (ra_active(t, p)) {
                fn(t->name, p, &t->assign[p], &t->ra[p], opaque);
            }
        }
    }
    pthread_mutex_unlock(&ms->mu);
}

int16_t sl_mstate_check_elect(sl_mstate_t *ms, const char *topic, int32_t partition, int64_t type,
                              char *msg) {
    pthread_mutex_lock(&ms->mu);
    int32_t leader;
    msg[0] = '\0';
    int16_t err = elect_decide(ms, find(ms, topic), partition, type, &leader, msg);
    pthread_mutex_unlock(&ms->mu);
    return err;
}
