/* txn_coord.c -- the transaction coordinator (see txn_coord.h).
 *
 * Log record (reclog payload, big-endian):
 *   type(int8 = 1) id(string) pid(int64) epoch(int16) prev_pid(int64) prev_epoch(int16)
 *   timeout_ms(int32) state(int8) start_ms(int64) update_ms(int64)
 *   n_parts(int32) {topic(string) partition(int32) marker(int64)}
 *   n_groups(int32) {group(string)}
 *   n_offsets(int32) {group topic (string) partition(int32) offset(int64) leader_epoch(int32)
 *                     metadata(nullable string)}
 *   type(int8 = 2) id(string): the id expired
 * Ids live in an array, indexed by two open-addressing hash tables (by transactional id and by
 * producer id; a transactional Produce looks its producer up once per batch), and the prepared
 * ones are also listed apart, so the poll after every sync touches only those. */
#include "txn/txn_coord.h"

#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/log.h"
#include "proto/kerr.h"
#include "storage/batch.h"
#include "storage/reclog.h"

enum { REC_TXN = 1, REC_TXN_DEL = 2 };

#define EPOCH_MAX 32766 /* Short.MaxValue - 1: the last epoch a producer id may reach */

struct sl_txn_coord {
    sl_txn_hooks_t hooks;
    int64_t max_timeout_ms;
    sl_reclog_t *log;
    sl_txn_t **txns;
    size_t n, cap;
    size_t appended; /* records since the last compaction */
    /* Hash indexes (linear probing; TOMB marks a removed entry): slots is a power of two, used
     * counts live and removed entries, which stay under half the slots. */
    sl_txn_t **by_id, **by_pid;
    size_t slots, used;
    sl_txn_t **prepared; /* in Prepare*: moved on after every sync */
    size_t n_prepared, cap_prepared;
};

static sl_txn_t TOMB;

static const char *const state_names[] = {"Empty",        "Ongoing",        "PrepareCommit",
                                          "PrepareAbort", "CompleteCommit", "CompleteAbort"};

const char *sl_txn_state_name(sl_txn_state_t s) {
    return (unsigned)s < sizeof state_names / sizeof *state_names ? state_names[s] : "Unknown";
}

static bool is_open(const sl_txn_t *t) {
    return t->state == SL_TXN_ONGOING || t->state == SL_TXN_PREPARE_COMMIT ||
           t->state == SL_TXN_PREPARE_ABORT;
}

static bool is_prepared(const sl_txn_t *t) {
    return t->state == SL_TXN_PREPARE_COMMIT || t->state == SL_TXN_PREPARE_ABORT;
}

/* ---- the transaction's contents ---- */

static void clear_contents(sl_txn_t *t) {
    for (size_t i = 0; i < t->n_parts; i++) {
        free(t->parts[i].topic);
    }
    t->n_parts = 0;
    for (size_t i = 0; i < t->n_groups; i++) {
        free(t->groups[i]);
    }
    free(t->groups);
    t->groups = NULL;
    t->n_groups = 0;
    for (size_t i = 0; i < t->n_offsets; i++) {
        free(t->offsets[i].group);
        free(t->offsets[i].topic);
        free(t->offsets[i].metadata);
    }
    t->n_offsets = 0;
}

static void txn_free(sl_txn_t *t) {
    clear_contents(t);
    free(t->parts);
    free(t->offsets);
    free(t->id);
    free(t);
}

void sl_txn_begin(sl_txn_t *t, int64_t now_ms) {
    if (t->state == SL_TXN_ONGOING) {
        return;
    }
    clear_contents(t);
    t->state = SL_TXN_ONGOING;
    t->start_ms = now_ms;
    t->update_ms = now_ms;
}

static void add_part(sl_txn_t *t, const char *topic, size_t topic_len, int32_t partition,
                     int64_t marker, uint64_t added_pos) {
    for (size_t i = 0; i < t->n_parts; i++) {
        if (t->parts[i].partition == partition && strlen(t->parts[i].topic) == topic_len &&
            !memcmp(t->parts[i].topic, topic, topic_len)) {
            return;
        }
    }
    if (t->n_parts == t->cap_parts) {
        t->cap_parts = t->cap_parts ? t->cap_parts * 2 : 8;
        t->parts = sl_xrealloc(t->parts, t->cap_parts * sizeof *t->parts);
    }
    sl_str_t s = {topic, topic_len};
    t->parts[t->n_parts++] = (sl_txn_part_t){sl_str_dupz(s), partition, marker, added_pos};
}

void sl_txn_add_part(sl_txn_t *t, sl_str_t topic, int32_t partition) {
    add_part(t, topic.p, topic.len, partition, -1, UINT64_MAX);
}

void sl_txn_add_group(sl_txn_t *t, sl_str_t group) {
    for (size_t i = 0; i < t->n_groups; i++) {
        if (sl_str_eqz(group, t->groups[i])) {
            return;
        }
    }
    t->groups = sl_xrealloc(t->groups, (t->n_groups + 1) * sizeof *t->groups);
    t->groups[t->n_groups++] = sl_str_dupz(group);
}

void sl_txn_add_offset(sl_txn_t *t, sl_str_t group, sl_str_t topic, int32_t partition,
                       int64_t offset, int32_t leader_epoch, sl_str_t metadata) {
    sl_txn_offset_t *o = NULL;
    for (size_t i = 0; i < t->n_offsets && !o; i++) {
        sl_txn_offset_t *x = &t->offsets[i];
        if (x->partition == partition && sl_str_eqz(group, x->group) &&
            sl_str_eqz(topic, x->topic)) {
            o = x;
            free(o->metadata);
        }
    }
    if (!o) {
        if (t->n_offsets == t->cap_offsets) {
            t->cap_offsets = t->cap_offsets ? t->cap_offsets * 2 : 8;
            t->offsets = sl_xrealloc(t->offsets, t->cap_offsets * sizeof *t->offsets);
        }
        o = &t->offsets[t->n_offsets++];
        o->group = sl_str_dupz(group);
        o->topic = sl_str_dupz(topic);
        o->partition = partition;
    }
    o->offset = offset;
    o->leader_epoch = leader_epoch;
    o->metadata = metadata.p ? sl_str_dupz(metadata) : NULL;
    o->metadata_len = metadata.len;
}

/* ---- the log ---- */

static void encode(const sl_txn_t *t, sl_writer_t *wr) {
    sl_wr_i8(wr, REC_TXN);
    sl_wr_strz(wr, false, t->id);
    sl_wr_i64(wr, t->pid);
    sl_wr_i16(wr, t->epoch);
    sl_wr_i64(wr, t->prev_pid);
    sl_wr_i16(wr, t->prev_epoch);
    sl_wr_i32(wr, t->timeout_ms);
    sl_wr_i8(wr, (int8_t)t->state);
    sl_wr_i64(wr, t->start_ms);
    sl_wr_i64(wr, t->update_ms);
    sl_wr_i32(wr, (int32_t)t->n_parts);
    for (size_t i = 0; i < t->n_parts; i++) {
        sl_wr_strz(wr, false, t->parts[i].topic);
        sl_wr_i32(wr, t->parts[i].partition);
        sl_wr_i64(wr, t->parts[i].marker);
    }
    sl_wr_i32(wr, (int32_t)t->n_groups);
    for (size_t i = 0; i < t->n_groups; i++) {
        sl_wr_strz(wr, false, t->groups[i]);
    }
    sl_wr_i32(wr, (int32_t)t->n_offsets);
    for (size_t i = 0; i < t->n_offsets; i++) {
        const sl_txn_offset_t *o = &t->offsets[i];
        sl_wr_strz(wr, false, o->group);
        sl_wr_strz(wr, false, o->topic);
        sl_wr_i32(wr, o->partition);
        sl_wr_i64(wr, o->offset);
        sl_wr_i32(wr, o->leader_epoch);
        sl_wr_str(wr, false, (sl_str_t){o->metadata, o->metadata_len});
    }
}

static sl_err_t write_rec(sl_reclog_t *log, const sl_txn_t *t) {
    sl_buf_t buf = {0};
    sl_writer_t wr = sl_reclog_begin(&buf);
    encode(t, &wr);
    return sl_reclog_append(log, &buf);
}

void sl_txn_encode(const sl_txn_t *t, sl_buf_t *out) {
    sl_writer_t wr = {out};
    encode(t, &wr);
}

/* Cluster mode: the same record into the id's replicated partition. */
static sl_err_t replicate_rec(sl_txn_coord_t *tc, sl_txn_t *t) {
    if (!tc->hooks.replicate) {
        return SL_OK;
    }
    sl_buf_t buf = {0};
    sl_txn_encode(t, &buf);
    int64_t end = 0;
    int rc = tc->hooks.replicate(tc->hooks.opaque, t->id, buf.data, buf.len, &end);
    sl_buf_fini(&buf);
    if (rc) {
        t->repl_end = INT64_MAX; /* never counts as replicated: a decision waits for a reload */
        return SL_ERR_IO;
    }
    t->repl_end = end;
    return SL_OK;
}

sl_err_t sl_txn_persist(sl_txn_coord_t *tc, sl_txn_t *t) {
    tc->appended++;
    sl_err_t rc = write_rec(tc->log, t);
    if (rc == SL_OK) {
        rc = replicate_rec(tc, t);
    }
    if (rc != SL_OK) {
        return rc;
    }
    uint64_t pos = 0;
    for (size_t i = 0; i < t->n_parts; i++) {
        if (t->parts[i].added_pos == UINT64_MAX) {
            pos = pos ? pos : sl_reclog_want_sync(tc->log);
            t->parts[i].added_pos = pos;
        }
    }
    return SL_OK;
}

/* ---- indexes ---- */

static size_t id_home(const sl_txn_coord_t *tc, const char *p, size_t len) {
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
    }
    return (size_t)h & (tc->slots - 1);
}

static size_t pid_home(const sl_txn_coord_t *tc, int64_t pid) {
    uint64_t x = (uint64_t)pid; /* splitmix64's finaliser */
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return (size_t)(x ^ (x >> 31)) & (tc->slots - 1);
}

static void put_at(sl_txn_t **tab, size_t slots, size_t i, sl_txn_t *t) {
    while (tab[i] && tab[i] != &TOMB) {
        i = (i + 1) & (slots - 1);
    }
    tab[i] = t;
}

/* Marks t's entry found by probing from i removed. */
static void drop_at(sl_txn_t **tab, size_t slots, size_t i, const sl_txn_t *t) {
    for (; tab[i]; i = (i + 1) & (slots - 1)) {
        if (tab[i] == t) {
            tab[i] = &TOMB;
            return;
        }
    }
}

static void index_rebuild(sl_txn_coord_t *tc) {
    free(tc->by_id);
    free(tc->by_pid);
    tc->slots = 16;
    while (tc->slots < 4 * (tc->n + 1)) {
        tc->slots *= 2;
    }
    tc->by_id = sl_xcalloc(tc->slots, sizeof *tc->by_id);
    tc->by_pid = sl_xcalloc(tc->slots, sizeof *tc->by_pid);
    tc->used = 0;
    for (size_t i = 0; i < tc->n; i++) {
        sl_txn_t *t = tc->txns[i];
        put_at(tc->by_id, tc->slots, id_home(tc, t->id, strlen(t->id)), t);
        if (t->pid >= 0) {
            put_at(tc->by_pid, tc->slots, pid_home(tc, t->pid), t);
        }
        tc->used++;
    }
}

/* Room for one more entry in each table (rebuilding drops the removed ones). */
static bool index_room(sl_txn_coord_t *tc) {
    if (2 * (tc->used + 1) > tc->slots) {
        index_rebuild(tc);
        return false; /* the rebuild indexed everything in txns already */
    }
    tc->used++;
    return true;
}

/* t's producer id changed from old_pid (-1: it had none). */
static void index_pid_moved(sl_txn_coord_t *tc, sl_txn_t *t, int64_t old_pid) {
    if (old_pid == t->pid) {
        return;
    }
    if (old_pid >= 0) {
        drop_at(tc->by_pid, tc->slots, pid_home(tc, old_pid), t);
    }
    if (t->pid >= 0 && index_room(tc)) {
        put_at(tc->by_pid, tc->slots, pid_home(tc, t->pid), t);
    }
}

static sl_txn_t *find_id(const sl_txn_coord_t *tc, sl_str_t id) {
    if (!tc->slots || !id.p) {
        return NULL;
    }
    for (size_t i = id_home(tc, id.p, id.len); tc->by_id[i]; i = (i + 1) & (tc->slots - 1)) {
        sl_txn_t *t = tc->by_id[i];
        if (t != &TOMB && sl_str_eqz(id, t->id)) {
            return t;
        }
    }
    return NULL;
}

static sl_txn_t *find_pid(const sl_txn_coord_t *tc, int64_t pid) {
    if (!tc->slots || pid < 0) {
        return NULL;
    }
    for (size_t i = pid_home(tc, pid); tc->by_pid[i]; i = (i + 1) & (tc->slots - 1)) {
        sl_txn_t *t = tc->by_pid[i];
        if (t != &TOMB && t->pid == pid) {
            return t;
        }
    }
    return NULL;
}

/* ---- the prepared list ---- */

static void prepared_add(sl_txn_coord_t *tc, sl_txn_t *t) {
    if (tc->n_prepared == tc->cap_prepared) {
        tc->cap_prepared = tc->cap_prepared ? tc->cap_prepared * 2 : 16;
        tc->prepared = sl_xrealloc(tc->prepared, tc->cap_prepared * sizeof *tc->prepared);
    }
    tc->prepared[tc->n_prepared++] = t;
}

static void prepared_del(sl_txn_coord_t *tc, const sl_txn_t *t) {
    for (size_t i = 0; i < tc->n_prepared; i++) {
        if (tc->prepared[i] == t) {
            tc->prepared[i] = tc->prepared[--tc->n_prepared];
            return;
        }
    }
}

/* ---- ids ---- */

static sl_txn_t *add_id(sl_txn_coord_t *tc, sl_str_t id) {
    if (tc->n == tc->cap) {
        tc->cap = tc->cap ? tc->cap * 2 : 16;
        tc->txns = sl_xrealloc(tc->txns, tc->cap * sizeof *tc->txns);
    }
    sl_txn_t *t = sl_xcalloc(1, sizeof *t);
    t->id = sl_str_dupz(id);
    t->pid = t->prev_pid = -1;
    t->prev_epoch = -1;
    t->at = tc->n;
    tc->txns[tc->n++] = t;
    if (index_room(tc)) {
        put_at(tc->by_id, tc->slots, id_home(tc, t->id, id.len), t);
    }
    return t;
}

static void remove_txn(sl_txn_coord_t *tc, sl_txn_t *t) {
    drop_at(tc->by_id, tc->slots, id_home(tc, t->id, strlen(t->id)), t);
    if (t->pid >= 0) {
        drop_at(tc->by_pid, tc->slots, pid_home(tc, t->pid), t);
    }
    if (is_prepared(t)) {
        prepared_del(tc, t);
    }
    size_t i = t->at;
    tc->txns[i] = tc->txns[--tc->n];
    tc->txns[i]->at = i;
    txn_free(t);
}

static sl_err_t replay(void *opaque, const uint8_t *p, size_t len) {
    sl_txn_coord_t *tc = opaque;
    sl_reader_t rd = sl_reader_init(p, len);
    int type = sl_rd_i8(&rd);
    sl_str_t id = sl_rd_str(&rd, false);
    if (rd.err || !id.p) {
        return SL_ERR_CORRUPT;
    }
    sl_txn_t *old = find_id(tc, id);
    if (type == REC_TXN_DEL) {
        if (old) {
            remove_txn(tc, old);
        }
        return SL_OK;
    }
    if (type != REC_TXN) {
        return SL_ERR_CORRUPT;
    }
    sl_txn_t tmp = {0};
    tmp.pid = sl_rd_i64(&rd);
    tmp.epoch = sl_rd_i16(&rd);
    tmp.prev_pid = sl_rd_i64(&rd);
    tmp.prev_epoch = sl_rd_i16(&rd);
    tmp.timeout_ms = sl_rd_i32(&rd);
    tmp.state = (sl_txn_state_t)sl_rd_i8(&rd);
    tmp.start_ms = sl_rd_i64(&rd);
    tmp.update_ms = sl_rd_i64(&rd);
    int32_t np = sl_rd_i32(&rd);
    for (int32_t i = 0; i < np && !rd.err; i++) {
        sl_str_t topic = sl_rd_str(&rd, false);
        int32_t part = sl_rd_i32(&rd);
        int64_t marker = sl_rd_i64(&rd);
        if (!rd.err && topic.p) {
            add_part(&tmp, topic.p, topic.len, part, marker, 0);
        }
    }
    int32_t ng = sl_rd_i32(&rd);
    for (int32_t i = 0; i < ng && !rd.err; i++) {
        sl_str_t g = sl_rd_str(&rd, false);
        if (!rd.err && g.p) {
            sl_txn_add_group(&tmp, g);
        }
    }
    int32_t no = sl_rd_i32(&rd);
    for (int32_t i = 0; i < no && !rd.err; i++) {
        sl_str_t g = sl_rd_str(&rd, false), topic = sl_rd_str(&rd, false);
        int32_t part = sl_rd_i32(&rd);
        int64_t off = sl_rd_i64(&rd);
        int32_t le = sl_rd_i32(&rd);
        sl_str_t md = sl_rd_str(&rd, false);
        if (!rd.err && g.p && topic.p) {
            sl_txn_add_offset(&tmp, g, topic, part, off, le, md);
        }
    }
    if (rd.err || np < 0 || ng < 0 || no < 0 || tmp.state > SL_TXN_COMPLETE_ABORT) {
        clear_contents(&tmp);
        free(tmp.parts);
        free(tmp.offsets);
        return SL_ERR_CORRUPT;
    }
    sl_txn_t *t = old ? old : add_id(tc, id);
    if (is_prepared(t)) {
        prepared_del(tc, t);
    }
    if (is_prepared(&tmp)) {
        prepared_add(tc, t);
    }
    clear_contents(t);
    free(t->parts);
    free(t->offsets);
    char *keep = t->id;
    size_t at = t->at;
    int64_t old_pid = t->pid;
    *t = tmp;
    t->id = keep;
    t->at = at;
    index_pid_moved(tc, t, old_pid);
    return SL_OK;
}

sl_txn_coord_t *sl_txn_coord_new(const char *data_dir, int64_t max_timeout_ms,
                                 const sl_txn_hooks_t *hooks, char *err) {
    sl_txn_coord_t *tc = sl_xcalloc(1, sizeof *tc);
    tc->hooks = *hooks;
    tc->max_timeout_ms = max_timeout_ms;
    char path[4096];
    snprintf(path, sizeof path, "%s/__transaction_state.log", data_dir);
    tc->log = sl_reclog_open(path, replay, tc, err);
    if (!tc->log) {
        sl_txn_coord_free(tc);
        return NULL;
    }
    return tc;
}

void sl_txn_coord_free(sl_txn_coord_t *tc) {
    if (!tc) {
        return;
    }
    sl_reclog_close(tc->log);
    for (size_t i = 0; i < tc->n; i++) {
        txn_free(tc->txns[i]);
    }
    free(tc->txns);
    free(tc->by_id);
    free(tc->by_pid);
    free(tc->prepared);
    free(tc);
}

/* ---- deciding and completing ---- */

/* Prepare* with every marker (and, for a commit, its offsets) durable -> Complete*. */
static void try_complete(sl_txn_coord_t *tc, sl_txn_t *t, int64_t now_ms) {
    if (!is_prepared(t) || !t->applied) {
        return;
    }
    if (t->offsets_pos && !tc->hooks.offsets_durable(tc->hooks.opaque, t->offsets_pos)) {
        return;
    }
    for (size_t i = 0; i < t->n_parts; i++) {
        const sl_txn_part_t *p = &t->parts[i];
        if (p->marker >= 0 &&
            !tc->hooks.durable(tc->hooks.opaque, p->topic, p->partition, p->marker)) {
            return;
        }
    }
    bool commit = t->state == SL_TXN_PREPARE_COMMIT;
    prepared_del(tc, t);
    t->state = commit ? SL_TXN_COMPLETE_COMMIT : SL_TXN_COMPLETE_ABORT;
    t->update_ms = now_ms;
    /* No sync: if this record is lost, recovery finds Prepare* and finds nothing left to do. */
    if (sl_txn_persist(tc, t) != SL_OK) {
        sl_log(SL_LOG_ERROR, "txn", "id=%s msg=\"completion not recorded\"", t->id);
    }
    uint64_t now_ns = sl_mono_ns();
    if (tc->hooks.completed) {
        tc->hooks.completed(tc->hooks.opaque, t, commit,
                            t->end_ns && now_ns > t->end_ns ? (now_ns - t->end_ns) / 1000 : 0);
    }
    t->end_ns = 0;
}

/* Writes the markers (and, for a commit, the offsets) of a prepared transaction. Partitions
 * that already hold the marker are skipped by the hook, so this is safe to repeat. */
static int apply(sl_txn_coord_t *tc, sl_txn_t *t) {
    bool commit = t->state == SL_TXN_PREPARE_COMMIT;
    int err = KERR_NONE;
    for (size_t i = 0; i < t->n_parts; i++) {
        sl_txn_part_t *p = &t->parts[i];
        int64_t off = -1;
        int rc = tc->hooks.write_marker(tc->hooks.opaque, p->topic, p->partition, t->pid, t->epoch,
                                        commit ? SL_CONTROL_COMMIT : SL_CONTROL_ABORT, &off);
        if (rc) {
            err = rc;
            sl_log(SL_LOG_ERROR, "txn", "id=%s topic=%s partition=%d msg=\"marker not written\"",
                   t->id, p->topic, p->partition);
        } else if (off >= 0) {
            p->marker = off;
        }
    }
    t->offsets_pos = 0;
    if (commit && t->n_offsets) {
        int rc = tc->hooks.commit_offsets(tc->hooks.opaque, t, &t->offsets_pos);
        if (rc) {
            err = rc;
        }
    }
    return err;
}

/* A prepared transaction whose decision has become durable gets its markers; one whose markers
 * have become durable completes. */
static void advance(sl_txn_coord_t *tc, sl_txn_t *t, int64_t now_ms) {
    if (is_prepared(t) && !t->applied && sl_reclog_durable(tc->log, t->decision_pos) &&
        (!tc->hooks.replicated || tc->hooks.replicated(tc->hooks.opaque, t->id, t->decision_end))) {
        t->apply_err = apply(tc, t);
        t->applied = true;
    }
    try_complete(tc, t, now_ms);
}

/* Ongoing -> Prepare*: the decision must be durable before any marker is written, so the markers
 * wait for the log's next sync (sl_txn_coord_poll). */
static int decide(sl_txn_coord_t *tc, sl_txn_t *t, bool commit, int64_t now_ms) {
    t->state = commit ? SL_TXN_PREPARE_COMMIT : SL_TXN_PREPARE_ABORT;
    t->update_ms = now_ms;
    t->end_ns = sl_mono_ns();
    t->applied = false;
    t->apply_err = KERR_NONE;
    t->offsets_pos = 0;
    prepared_add(tc, t);
    if (sl_txn_persist(tc, t) != SL_OK) {
        return KERR_KAFKA_STORAGE_ERROR;
    }
    t->decision_pos = sl_reclog_want_sync(tc->log);
    t->decision_end = t->repl_end;
    advance(tc, t, now_ms);
    return KERR_NONE;
}

/* Raises the epoch (or, when it is exhausted, takes a new producer id). */
static int bump(sl_txn_coord_t *tc, sl_txn_t *t) {
    t->prev_pid = t->pid;
    t->prev_epoch = t->epoch;
    if (t->pid < 0 || t->epoch >= EPOCH_MAX) {
        int64_t pid;
        int rc = tc->hooks.alloc_pid(tc->hooks.opaque, &pid);
        if (rc) {
            return rc;
        }
        int64_t old_pid = t->pid;
        t->pid = pid;
        t->epoch = 0;
        index_pid_moved(tc, t, old_pid);
    } else {
        t->epoch++;
    }
    return KERR_NONE;
}

/* Aborts an open transaction from the coordinator's side (timeout, fencing, recovery): with a
 * bumped epoch, so the producer that ran it is fenced. */
static int abort_open(sl_txn_coord_t *tc, sl_txn_t *t, int64_t now_ms, const char *why) {
    int rc = bump(tc, t);
    if (rc) {
        return rc;
    }
    sl_log(SL_LOG_INFO, "txn", "id=%s pid=%lld epoch=%d parts=%zu msg=\"aborting: %s\"", t->id,
           (long long)t->pid, t->epoch, t->n_parts, why);
    return decide(tc, t, false, now_ms);
}

void sl_txn_coord_recover(sl_txn_coord_t *tc, int64_t now_ms) {
    sl_txn_coord_recover_some(tc, now_ms, NULL, NULL);
}

void sl_txn_coord_recover_some(sl_txn_coord_t *tc, int64_t now_ms,
                               bool (*match)(const char *id, void *opaque), void *opaque) {
    /* What is acted on must be durable: a decision read back after kill -9 may be in the page
     * cache only. */
    bool synced = sl_reclog_sync(tc->log) == SL_OK;
    for (size_t i = 0; i < tc->n; i++) {
        sl_txn_t *t = tc->txns[i];
        if (match && !match(t->id, opaque)) {
            continue;
        }
        if (t->state == SL_TXN_ONGOING) {
            /* Kept, as Kafka keeps it across a coordinator failover: everything its producer
             * was told it added is durable, so the producer carries on and ends it, or the
             * timeout aborts it. */
            sl_log(SL_LOG_INFO, "txn",
                   "id=%s pid=%lld epoch=%d parts=%zu msg=\"open at start-up: kept; aborted if "
                   "not ended within its timeout (%d ms from its start)\"",
                   t->id, (long long)t->pid, t->epoch, t->n_parts, t->timeout_ms);
        } else if (is_prepared(t) && synced) {
            sl_log(SL_LOG_INFO, "txn", "id=%s state=%s msg=\"completing at start-up\"", t->id,
                   sl_txn_state_name(t->state));
            t->decision_pos = 0;
            t->decision_end = 0; /* read back from a log: nothing more to wait for */
            advance(tc, t, now_ms);
        }
    }
}

sl_err_t sl_txn_coord_replay(sl_txn_coord_t *tc, const uint8_t *rec, size_t len) {
    return replay(tc, rec, len);
}

void sl_txn_coord_forget(sl_txn_coord_t *tc, bool (*match)(const char *id, void *opaque),
                         void *opaque) {
    for (size_t i = 0; i < tc->n;) {
        sl_txn_t *t = tc->txns[i];
        if (match(t->id, opaque)) {
            remove_txn(tc, t); /* the last one moves into slot i */
        } else {
            i++;
        }
    }
}

void sl_txn_coord_poll(sl_txn_coord_t *tc, int64_t now_ms) {
    for (size_t i = 0; i < tc->n_prepared;) {
        sl_txn_t *t = tc->prepared[i];
        advance(tc, t, now_ms);
        i += i < tc->n_prepared && tc->prepared[i] == t; /* else it left the list: i has another */
    }
}

sl_err_t sl_txn_coord_flush(sl_txn_coord_t *tc, int64_t now_ms) {
    sl_err_t rc = sl_reclog_sync(tc->log);
    sl_txn_coord_poll(tc, now_ms);
    return rc;
}

sl_reclog_t *sl_txn_coord_log(sl_txn_coord_t *tc) {
    return tc->log;
}

static sl_err_t emit_all(sl_reclog_t *fresh, void *opaque) {
    const sl_txn_coord_t *tc = opaque;
    for (size_t i = 0; i < tc->n; i++) {
        sl_err_t rc = write_rec(fresh, tc->txns[i]);
        if (rc != SL_OK) {
            return rc;
        }
    }
    return SL_OK;
}

int sl_txn_coord_tick(sl_txn_coord_t *tc, int64_t now_ms, int64_t id_expiration_ms) {
    int aborted = 0;
    for (size_t i = 0; i < tc->n; i++) {
        sl_txn_t *t = tc->txns[i];
        advance(tc, t, now_ms);
        if (t->state == SL_TXN_ONGOING && now_ms - t->start_ms > t->timeout_ms) {
            if (abort_open(tc, t, now_ms, "transaction timed out") == KERR_NONE) {
                aborted++;
            }
        } else if (!is_open(t) && id_expiration_ms > 0 &&
                   now_ms - t->update_ms > id_expiration_ms) {
            sl_buf_t buf = {0};
            sl_writer_t wr = sl_reclog_begin(&buf);
            sl_wr_i8(&wr, REC_TXN_DEL);
            sl_wr_strz(&wr, false, t->id);
            if (sl_reclog_append(tc->log, &buf) == SL_OK) {
                tc->appended++;
                if (tc->hooks.replicate) {
                    /* Also in the replicated partition, or a new leader would load it back. */
                    sl_buf_t del = {0};
                    sl_writer_t dw = {&del};
                    sl_wr_i8(&dw, REC_TXN_DEL);
                    sl_wr_strz(&dw, false, t->id);
                    int64_t end;
                    (void)tc->hooks.replicate(tc->hooks.opaque, t->id, del.data, del.len, &end);
                    sl_buf_fini(&del);
                }
                remove_txn(tc, t);
                i--;
            }
        }
    }
    /* Compaction: the file keeps one record per id after a rewrite. */
    if (tc->appended > 1000 + 4 * tc->n && sl_reclog_sync(tc->log) == SL_OK &&
        sl_reclog_compact(tc->log, emit_all, tc) == SL_OK) {
        tc->appended = 0;
    }
    return aborted;
}

/* ---- requests ---- */

int sl_txn_init_pid(sl_txn_coord_t *tc, sl_str_t id, int32_t timeout_ms, int64_t req_pid,
                    int16_t req_epoch, int64_t now_ms, int64_t *pid_out, int16_t *epoch_out,
                    uint64_t *durable_pos) {
    *durable_pos = 0;
    if (timeout_ms <= 0 || timeout_ms > tc->max_timeout_ms) {
        return KERR_INVALID_TRANSACTION_TIMEOUT;
    }
    sl_txn_t *t = find_id(tc, id);
    if (!t) {
        if (req_pid >= 0) {
            return KERR_INVALID_PRODUCER_ID_MAPPING;
        }
        t = add_id(tc, id);
    } else {
        advance(tc, t, now_ms);
        if (is_prepared(t)) {
            return KERR_CONCURRENT_TRANSACTIONS;
        }
        if (req_pid >= 0) {
            bool current = req_pid == t->pid && req_epoch == t->epoch;
            bool retried = req_pid == t->prev_pid && req_epoch == t->prev_epoch;
            if (retried && t->state != SL_TXN_ONGOING) {
                *pid_out = t->pid; /* the answer to this request was lost: give it again */
                *epoch_out = t->epoch;
                *durable_pos = sl_reclog_want_sync(tc->log);
                return KERR_NONE;
            }
            if (!current) {
                return KERR_PRODUCER_FENCED;
            }
        }
        if (t->state == SL_TXN_ONGOING) {
            /* A new instance (or a restarted one) takes over: abort what the old one left open;
             * the client retries and then gets the next epoch. */
            int rc = abort_open(tc, t, now_ms, "fenced by a new producer instance");
            return rc ? rc : KERR_CONCURRENT_TRANSACTIONS;
        }
    }
    int rc = bump(tc, t);
    if (rc) {
        return rc;
    }
    clear_contents(t);
    t->state = SL_TXN_EMPTY;
    t->timeout_ms = timeout_ms;
    t->update_ms = now_ms;
    if (sl_txn_persist(tc, t) != SL_OK) {
        return KERR_KAFKA_STORAGE_ERROR;
    }
    *durable_pos = sl_reclog_want_sync(tc->log);
    *pid_out = t->pid;
    *epoch_out = t->epoch;
    return KERR_NONE;
}

const sl_txn_t *sl_txn_get(sl_txn_coord_t *tc, sl_str_t id) {
    return find_id(tc, id);
}

sl_txn_t *sl_txn_find(sl_txn_coord_t *tc, sl_str_t id, int64_t pid, int16_t epoch, int *err) {
    sl_txn_t *t = find_id(tc, id);
    if (!t || t->pid != pid) {
        *err = KERR_INVALID_PRODUCER_ID_MAPPING;
        return NULL;
    }
    if (epoch != t->epoch) {
        *err = KERR_PRODUCER_FENCED;
        return NULL;
    }
    advance(tc, t, sl_wall_ms());
    *err = KERR_NONE;
    return t;
}

sl_txn_t *sl_txn_find_to_add(sl_txn_coord_t *tc, sl_str_t id, int64_t pid, int16_t epoch,
                             int *err) {
    sl_txn_t *t = sl_txn_find(tc, id, pid, epoch, err);
    if (t && is_prepared(t)) {
        *err = KERR_CONCURRENT_TRANSACTIONS;
        return NULL;
    }
    return t;
}

bool sl_txn_prepared(const sl_txn_t *t) {
    return is_prepared(t);
}

int sl_txn_end(sl_txn_coord_t *tc, sl_txn_t *t, bool commit, int64_t now_ms) {
    switch (t->state) {
    case SL_TXN_ONGOING:
        return decide(tc, t, commit, now_ms);
    case SL_TXN_PREPARE_COMMIT:
    case SL_TXN_COMPLETE_COMMIT:
        return commit ? KERR_NONE : KERR_INVALID_TXN_STATE; /* a retry of the same decision */
    case SL_TXN_PREPARE_ABORT:
    case SL_TXN_COMPLETE_ABORT:
        return commit ? KERR_INVALID_TXN_STATE : KERR_NONE;
    case SL_TXN_EMPTY:
    default:
        return KERR_INVALID_TXN_STATE;
    }
}

int sl_txn_check_produce(sl_txn_coord_t *tc, int64_t pid, int16_t epoch, sl_str_t topic,
                         int32_t partition) {
    const sl_txn_t *t = find_pid(tc, pid);
    if (!t) {
        return KERR_INVALID_PRODUCER_ID_MAPPING;
    }
    if (epoch != t->epoch) {
        return KERR_INVALID_PRODUCER_EPOCH;
    }
    if (t->state != SL_TXN_ONGOING) {
        return KERR_INVALID_TXN_STATE;
    }
    for (size_t i = 0; i < t->n_parts; i++) {
        if (t->parts[i].partition == partition && sl_str_eqz(topic, t->parts[i].topic)) {
            /* Not before AddPartitionsToTxn is answered (its record durable). */
            return sl_reclog_durable(tc->log, t->parts[i].added_pos) ? KERR_NONE
                                                                     : KERR_INVALID_TXN_STATE;
        }
    }
    return KERR_INVALID_TXN_STATE; /* AddPartitionsToTxn first */
}

const sl_txn_t *sl_txn_of_pid(sl_txn_coord_t *tc, int64_t pid) {
    const sl_txn_t *t = find_pid(tc, pid);
    return t && is_open(t) ? t : NULL;
}

bool sl_txn_offset_pending(sl_txn_coord_t *tc, sl_str_t group, sl_str_t topic, int32_t partition) {
    for (size_t i = 0; i < tc->n; i++) {
        const sl_txn_t *t = tc->txns[i];
        if (t->state != SL_TXN_ONGOING && t->state != SL_TXN_PREPARE_COMMIT) {
            continue;
        }
        for (size_t k = 0; k < t->n_offsets; k++) {
            const sl_txn_offset_t *o = &t->offsets[k];
            if (o->partition == partition && sl_str_eqz(group, o->group) &&
                sl_str_eqz(topic, o->topic)) {
                return true;
            }
        }
    }
    return false;
}

size_t sl_txn_open_count(const sl_txn_coord_t *tc) {
    size_t n = 0;
    for (size_t i = 0; i < tc->n; i++) {
        n += is_open(tc->txns[i]);
    }
    return n;
}

size_t sl_txn_count(const sl_txn_coord_t *tc) {
    return tc->n;
}

const sl_txn_t *sl_txn_at(const sl_txn_coord_t *tc, size_t i) {
    return i < tc->n ? tc->txns[i] : NULL;
}
