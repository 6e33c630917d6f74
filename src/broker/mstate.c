/* mstate.c -- the metadata image the controller quorum replicates (see mstate.h).
 *
 * Topics are a plain list: metadata is small (thousands of topics at most on this slice) and
 * changes rarely. Client-quota records are kept in order as they came, because their meaning
 * (set or remove keys of one entity) is the quota module's; they are few and operator-made.
 *
 * Two brokers may create the same name at once (each proposes before it has applied the other's
 * create): the first create in the log wins, and a later one, with the placement its command
 * carries, is ignored on every node alike. Its proposer learns that it lost from the image
 * (sl_mstate_topic_id) and gives up its own copy (cluster.c). */
#include "mstate.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "net/listener.h"

typedef struct mtopic {
    struct mtopic *next;
    char *name;
    uint8_t id[16];
    int32_t n_partitions;
    sl_kv_t *configs;
    size_t n_configs;
    sl_meta_assign_t *assign; /* n_assign entries, partition i at i */
    int32_t n_assign;
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
    int64_t placed;  /* partitions placed so far: where round-robin starts next */
    bool dup_create; /* the record before was a create of a name the image has: its placement
                      * (the next record of the same command) is ignored too */
};

static void topic_free(mtopic_t *t) {
    free(t->name);
    sl_kv_list_free(t->configs, t->n_configs);
    free(t->assign);
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
        if (t && rec->partitions > t->n_partitions) {
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
        char host[256];
        int port = 0;
        if (sl_parse_hostport(rec->name, host, sizeof host, &port) == SL_OK) {
            snprintf(b->host, sizeof b->host, "%s", host);
            b->port = port;
        }
        /* A registration is a new incarnation: what it led moves on as if it had been fenced
         * (its unsynced tail may be gone), then it is live again and leads what only it can. */
        b->fenced = true;
        elect_without(ms, b->id);
        b->fenced = false;
        elect_returning(ms, b->id);
        return;
    }
    case SL_META_BROKER_FENCE: {
        sl_mbroker_t *b = find_broker(ms, rec->value);
        if (b) {
            b->fenced = true;
            elect_without(ms, b->id);
        }
        return;
    }
    case SL_META_ISR:
        if (rec->n_assign == 1) {
            set_isr(t, rec->partitions, rec->value, rec->assign);
        }
        return;
    case SL_META_PLACEMENT:
        if (t && !dup_before) {
            set_assign(t, rec->partitions, rec->assign, rec->n_assign);
            ms->placed += (int64_t)rec->n_assign;
        }
        return;
    }
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
    for (size_t i = 0; i < ms->n_brokers; i++) {
        const sl_mbroker_t *b = &ms->brokers[i];
        char addr[300];
        snprintf(addr, sizeof addr, "%s:%d", b->host, (int)b->port);
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
