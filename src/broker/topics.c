/* topics.c -- the topic table: creation, deletion, partition growth and config changes.
 *
 * Config changes and deletions are first made durable in the metadata log, then applied. New
 * partitions (a topic's or added ones) go the other way round: their logs are opened first and the
 * record is written only once every one of them exists, so the metadata log never names a
 * partition the next start cannot find; on any failure the new ones are closed and removed and
 * nothing is recorded. The broker's partition count is capped (max.partitions), and a request over
 * it is refused with POLICY_VIOLATION before anything is touched.
 * At start-up the metadata log is replayed into the table and every partition log is opened
 * (recovering an unclean tail if needed). Topics live in a chained hash table keyed by name. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/cluster.h"
#include "broker/dynconf.h"
#include "broker/metalog.h"
#include "broker/offsets_topic.h"
#include "broker/replica.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/os.h"
#include "proto/kerr.h"
#include "storage/batch.h"
#include "txn/pstate.h"

#define MAX_PARTITIONS 100000

static uint64_t hash_name(sl_str_t s) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < s.len; i++) {
        h = (h ^ (uint8_t)s.p[i]) * 1099511628211ull;
    }
    return h;
}

static sl_str_t zstr(const char *z) {
    sl_str_t s = {z, strlen(z)};
    return s;
}

sl_topic_t *sl_topic_find(sl_broker_t *b, sl_str_t name) {
    if (!b->topic_tab_size || !name.p) {
        return NULL;
    }
    sl_topic_t *t = b->topic_tab[hash_name(name) % b->topic_tab_size];
    for (; t; t = t->next) {
        if (sl_str_eqz(name, t->name)) {
            return t;
        }
    }
    return NULL;
}

static void tab_insert(sl_broker_t *b, sl_topic_t *t) {
    if (b->n_topics + 1 > b->topic_tab_size) {
        size_t n = b->topic_tab_size ? b->topic_tab_size * 2 : 64;
        sl_topic_t **tab = sl_xcalloc(n, sizeof *tab);
        for (size_t i = 0; i < b->topic_tab_size; i++) {
            sl_topic_t *x = b->topic_tab[i];
            while (x) {
                sl_topic_t *next = x->next;
                size_t h = hash_name(zstr(x->name)) % n;
                x->next = tab[h];
                tab[h] = x;
                x = next;
            }
        }
        free(b->topic_tab);
        b->topic_tab = tab;
        b->topic_tab_size = n;
    }
    size_t h = hash_name(zstr(t->name)) % b->topic_tab_size;
    t->next = b->topic_tab[h];
    b->topic_tab[h] = t;
    b->n_topics++;
}

static void tab_remove(sl_broker_t *b, sl_topic_t *t) {
    sl_topic_t **pp = &b->topic_tab[hash_name(zstr(t->name)) % b->topic_tab_size];
    while (*pp != t) {
        pp = &(*pp)->next;
    }
    *pp = t->next;
    b->n_topics--;
}

void sl_topics_each(sl_broker_t *b, void (*fn)(sl_topic_t *t, void *opaque), void *opaque) {
    for (size_t i = 0; i < b->topic_tab_size; i++) {
        for (sl_topic_t *t = b->topic_tab[i]; t; t = t->next) {
            fn(t, opaque);
        }
    }
}

bool sl_topic_name_valid(sl_str_t name) {
    if (!name.p || name.len == 0 || name.len > 249) {
        return false;
    }
    if ((name.len == 1 && name.p[0] == '.') || (name.len == 2 && !memcmp(name.p, "..", 2))) {
        return false;
    }
    for (size_t i = 0; i < name.len; i++) {
        char c = name.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

sl_partition_t *sl_partition_get(sl_broker_t *b, sl_str_t topic, int32_t index) {
    sl_topic_t *t = sl_topic_find(b, topic);
    if (!t || index < 0 || index >= t->n_partitions) {
        return NULL;
    }
    return t->parts[index];
}

static void part_dir(sl_broker_t *b, const char *topic, int32_t index, char *out, size_t n) {
    snprintf(out, n, "%s/%s-%d", b->conf.data_dir, topic, index);
}

static bool replay_pstate(const sl_batch_info_t *info, int control, void *opaque) {
    sl_pstate_replay(opaque, info, control);
    return true;
}

/* Producer state: the snapshot plus the batches after it, or else the last two segments. */
static sl_pstate_t *load_pstate(sl_partition_t *p, const char *dir) {
    int64_t snap = -1;
    sl_pstate_t *ps = sl_pstate_load(dir, &snap);
    if (ps && snap >= sl_plog_start_offset(p->plog) && snap <= sl_plog_end_offset(p->plog)) {
        if (sl_plog_walk_from(p->plog, snap, replay_pstate, ps) == SL_OK) {
            p->snapshot_offset = snap;
            p->snapshot_segs = sl_plog_segment_count(p->plog);
            return ps;
        }
    }
    sl_pstate_free(ps);
    ps = sl_pstate_new();
    if (sl_plog_walk_tail(p->plog, 2, replay_pstate, ps) != SL_OK) {
        sl_log(SL_LOG_WARN, "storage", "topic=%s partition=%d msg=\"producer state not rebuilt\"",
               p->topic->name, p->index);
    }
    p->snapshot_offset = -1;
    return ps;
}

int64_t sl_partition_lso(const sl_partition_t *p) {
    int64_t first = sl_pstate_first_unstable(p->pstate);
    return first >= 0 ? first : sl_plog_end_offset(p->plog);
}

sl_err_t sl_partition_write_marker(sl_broker_t *b, sl_partition_t *p, int64_t pid, int16_t epoch,
                                   int type, int64_t *offset_out) {
    sl_buf_t buf = {0};
    int64_t now = sl_wall_ms();
    sl_batch_build_control(&buf, pid, epoch, (int16_t)type, 0, now);
    int64_t base = -1;
    sl_replica_stamp(p, buf.data, buf.len);
    sl_err_t rc = sl_plog_append(p->plog, buf.data, buf.len, now, &base);
    sl_buf_fini(&buf);
    if (rc != SL_OK) {
        return rc;
    }
    sl_replica_appended(b, p, base);
    sl_pstate_txn_end(p->pstate, pid, epoch, type, base);
    sl_otopic_marker(b, p, pid, type); /* cluster: transactional offsets held for it */
    sl_broker_mark_dirty(b, p);
    b->data_arrived = true; /* read_committed fetches parked behind the LSO may go on */
    *offset_out = base;
    return SL_OK;
}

void sl_partition_snapshot(sl_broker_t *b, sl_partition_t *p) {
    if (sl_plog_failed(p->plog) || sl_plog_sync(p->plog) != SL_OK) {
        return;
    }
    char dir[4096];
    part_dir(b, p->topic->name, p->index, dir, sizeof dir);
    sl_pstate_trim(p->pstate, sl_plog_start_offset(p->plog));
    int64_t end = sl_plog_end_offset(p->plog);
    if (sl_pstate_save(p->pstate, dir, end) == SL_OK) {
        p->snapshot_offset = end;
        p->snapshot_segs = sl_plog_segment_count(p->plog);
    }
}

/* Opens partitions [from, to) of `t`. On failure `t->n_partitions` is the count that opened,
 * unless `offline_ok` (start-up): a partition that cannot be opened is then logged and served
 * offline (an offline placeholder log: Metadata, Produce, Fetch and ListOffsets answer
 * KAFKA_STORAGE_ERROR for it) and the others open as usual. */
static sl_err_t open_parts_ex(sl_broker_t *b, sl_topic_t *t, int32_t from, int32_t to,
                              bool offline_ok, char *err) {
    t->parts = sl_xrealloc(t->parts, (size_t)to * sizeof *t->parts);
    sl_plog_conf_t pc;
    sl_topic_conf_to_plog(&t->conf, &pc);
    for (int32_t i = from; i < to; i++) {
        char dir[4096];
        part_dir(b, t->name, i, dir, sizeof dir);
        sl_partition_t *p = sl_xcalloc(1, sizeof *p);
        p->topic = t;
        p->index = i;
        char perr[SL_ERRLEN];
        sl_err_t rc = sl_plog_open(dir, &pc, sl_wall_ms(), &p->plog, perr);
        if (rc != SL_OK && offline_ok) {
            sl_log(SL_LOG_ERROR, "broker", "topic=%s partition=%d msg=\"%s; serving it offline\"",
                   t->name, i, perr);
            p->plog = sl_plog_open_offline(dir, &pc);
            rc = SL_OK;
        }
        if (rc != SL_OK) {
            snprintf(err, SL_ERRLEN, "partition %s-%d: %s", t->name, i, perr);
            free(p);
            t->n_partitions = i;
            b->n_partitions_total += i - from;
            return rc;
        }
        char labels[512];
        snprintf(labels, sizeof labels, "topic=\"%s\",partition=\"%d\"", t->name, i);
        p->m_bytes_in = sl_metrics_counter("sluice_partition_bytes_in_total", labels,
                                           "Record batch bytes appended, per partition");
        p->m_records_in = sl_metrics_counter("sluice_partition_records_in_total", labels,
                                             "Records appended, per partition");
        p->pstate = sl_plog_offline(p->plog) ? sl_pstate_new() : load_pstate(p, dir);
        t->parts[i] = p;
    }
    t->n_partitions = to;
    b->n_partitions_total += to - from;
    return SL_OK;
}

static sl_err_t open_parts(sl_broker_t *b, sl_topic_t *t, int32_t from, int32_t to, char *err) {
    return open_parts_ex(b, t, from, to, false, err);
}

/* Closes partitions [from, n_partitions) of `t`; `keep` (shutdown, not deletion) snapshots
 * producer state first. */
static void close_parts_from(sl_broker_t *b, sl_topic_t *t, int32_t from, bool keep) {
    for (int32_t i = from; i < t->n_partitions; i++) {
        sl_partition_t *p = t->parts[i];
        if (p->dirty) {
            /* Unlink from the dirty list; the topic goes away before the next group commit. */
            sl_partition_t **pp = &b->dirty;
            while (*pp && *pp != p) {
                pp = &(*pp)->next_dirty;
            }
            if (*pp) {
                *pp = p->next_dirty;
            }
        }
        if (keep && (sl_pstate_count(p->pstate) || sl_pstate_aborted_count(p->pstate) ||
                     p->snapshot_offset >= 0)) {
            sl_partition_snapshot(b, p); /* the next start replays nothing */
        }
        if (!keep) { /* deleted (or never created): its series leave /metrics */
            sl_metrics_counter_remove(p->m_bytes_in);
            sl_metrics_counter_remove(p->m_records_in);
        }
        if (keep) {
            sl_plog_close(p->plog);
        } else {
            sl_plog_discard(p->plog); /* its files go next: no sync, no clean marker */
        }
        sl_pstate_free(p->pstate);
        sl_replica_part_free(p);
        free(p);
    }
    b->n_partitions_total -= t->n_partitions - from;
    t->n_partitions = from;
    if (from == 0) {
        free(t->parts);
        t->parts = NULL;
    }
}

static void close_parts(sl_broker_t *b, sl_topic_t *t, bool keep) {
    close_parts_from(b, t, 0, keep);
}

/* Removes partition directories [from, to) of topic `name`. */
static void remove_part_dirs(sl_broker_t *b, const char *name, int32_t from, int32_t to) {
    for (int32_t i = from; i < to; i++) {
        char dir[4096];
        part_dir(b, name, i, dir, sizeof dir);
        if (access(dir, F_OK) == 0 && sl_plog_remove_dir(dir) != SL_OK) {
            sl_log(SL_LOG_WARN, "storage", "dir=%s msg=\"could not remove partition directory\"",
                   dir);
        }
    }
}

/* Opens partitions [t->n_partitions, to) of `t`, which are not in the metadata log: leftovers of
 * an earlier life of the same name (a crash before the record) are removed first. On failure the
 * ones opened are closed and removed again, and `t` is as before. */
static sl_err_t open_new_parts(sl_broker_t *b, sl_topic_t *t, int32_t to, char *err) {
    int32_t from = t->n_partitions;
    remove_part_dirs(b, t->name, from, to);
    sl_err_t rc = open_parts(b, t, from, to, err);
    if (rc != SL_OK) {
        sl_log(SL_LOG_ERROR, "broker", "topic=%s msg=\"%s; nothing recorded\"", t->name, err);
        close_parts_from(b, t, from, false);
        remove_part_dirs(b, t->name, from, to);
    }
    return rc;
}

/* POLICY_VIOLATION with a message when `more` partitions would take the broker over its
 * max.partitions limit; KERR_NONE otherwise. */
static int check_partition_limit(sl_broker_t *b, int64_t more, char *err) {
    /* Partitions of creations still opening count as held already (topicwork.c). */
    if (b->n_partitions_total + b->n_partitions_pending + more <= b->partition_limit) {
        return KERR_NONE;
    }
    snprintf(err, SL_ERRLEN,
             "The broker holds %" PRId64 " partitions; %" PRId64 " more would exceed its limit of "
             "%" PRId64 " (max.partitions)",
             b->n_partitions_total + b->n_partitions_pending, more, b->partition_limit);
    return KERR_POLICY_VIOLATION;
}

static void topic_free(sl_topic_t *t) {
    sl_kv_list_free(t->configs, t->n_configs);
    free(t->name);
    free(t);
}

int sl_topic_create_begin(sl_broker_t *b, sl_str_t name, int32_t n_partitions,
                          const sl_kv_t *configs, size_t n_configs, bool validate_only,
                          sl_topic_t **out, char *err) {
    *out = NULL;
    if (!sl_topic_name_valid(name)) {
        snprintf(err, SL_ERRLEN, "Topic name is illegal");
        return KERR_INVALID_TOPIC_EXCEPTION;
    }
    if (sl_topic_find(b, name) || sl_topicwork_creating(b, name)) {
        snprintf(err, SL_ERRLEN, "Topic '%.*s' already exists.", (int)name.len, name.p);
        return KERR_TOPIC_ALREADY_EXISTS;
    }
    if (b->cluster && !sl_cluster_caught_up(b)) {
        snprintf(err, SL_ERRLEN,
                 "This broker is still replaying the cluster's metadata; try again shortly");
        return KERR_NOT_CONTROLLER;
    }
    if (n_partitions == -1) {
        n_partitions = (int32_t)b->conf.num_partitions;
    }
    if (n_partitions <= 0 || n_partitions > MAX_PARTITIONS) {
        snprintf(err, SL_ERRLEN, "Number of partitions must be in [1, %d]", MAX_PARTITIONS);
        return KERR_INVALID_PARTITIONS;
    }
    sl_topic_conf_t tc;
    if (sl_topic_conf_build(&b->conf, configs, n_configs, &tc, err) != SL_OK) {
        return KERR_INVALID_CONFIG;
    }
    int limit = check_partition_limit(b, n_partitions, err);
    if (limit != KERR_NONE || validate_only) {
        return limit;
    }
    /* An earlier topic of this name still being deleted: its directories go first (inline). */
    sl_topicwork_settle(b, name);
    sl_topic_t *t = sl_xcalloc(1, sizeof *t);
    t->name = sl_str_dupz(name);
    if (getrandom(t->id, sizeof t->id, 0) != (ssize_t)sizeof t->id) {
        for (size_t i = 0; i < 16; i++) {
            t->id[i] = (uint8_t)(hash_name(name) >> (i % 8 * 8)) ^ (uint8_t)i;
        }
    }
    t->configs = sl_kv_list_dup(configs, n_configs);
    t->n_configs = n_configs;
    t->conf = tc;
    t->create_target = n_partitions;
    *out = t;
    return KERR_NONE;
}

int sl_topic_create_step(sl_broker_t *b, sl_topic_t *t, int32_t upto, char *err) {
    if (open_new_parts(b, t, upto, err) != SL_OK) {
        sl_topic_create_abort(b, t);
        return KERR_KAFKA_STORAGE_ERROR;
    }
    return KERR_NONE;
}

void sl_topic_create_abort(sl_broker_t *b, sl_topic_t *t) {
    /* Its partitions were never written (the topic was in no table): nothing on disk. */
    close_parts(b, t, false);
    topic_free(t);
}

int sl_topic_create_finish(sl_broker_t *b, sl_topic_t *t, char *err) {
    int32_t n_partitions = t->n_partitions;
    sl_meta_rec_t rec = {SL_META_TOPIC_CREATE, t->name,    {0},
                         n_partitions,         t->configs, t->n_configs};
    memcpy(rec.id, t->id, 16);
    sl_err_t mrc = sl_metalog_append(b->metalog, &rec);
    if (mrc != SL_OK) {
        /* Cluster: SL_ERR_EXISTS when another broker's create of the name committed first; its
         * topic reaches this table from the log, so this copy goes. */
        int code = mrc == SL_ERR_EXISTS ? KERR_TOPIC_ALREADY_EXISTS : KERR_KAFKA_STORAGE_ERROR;
        if (mrc == SL_ERR_EXISTS) {
            snprintf(err, SL_ERRLEN, "Topic '%s' already exists.", t->name);
        } else {
            snprintf(err, SL_ERRLEN, "metadata log write failed");
        }
        close_parts(b, t, false);
        remove_part_dirs(b, t->name, 0, n_partitions);
        topic_free(t);
        return code;
    }
    tab_insert(b, t);
    sl_log(SL_LOG_INFO, "broker", "topic=%s partitions=%d msg=\"created\"", t->name, n_partitions);
    return KERR_NONE;
}

int sl_topic_create(sl_broker_t *b, sl_str_t name, int32_t n_partitions, const sl_kv_t *configs,
                    size_t n_configs, bool validate_only, char *err) {
    sl_topic_t *t;
    int rc =
        sl_topic_create_begin(b, name, n_partitions, configs, n_configs, validate_only, &t, err);
    if (rc != KERR_NONE || !t) {
        return rc;
    }
    rc = sl_topic_create_step(b, t, t->create_target, err);
    return rc != KERR_NONE ? rc : sl_topic_create_finish(b, t, err);
}

static void drop_topic(sl_broker_t *b, sl_topic_t *t);

int sl_topic_delete(sl_broker_t *b, sl_topic_t *t) {
    sl_meta_rec_t rec = {SL_META_TOPIC_DELETE, t->name, {0}, 0, NULL, 0};
    memcpy(rec.id, t->id, 16); /* which incarnation of the name (cluster.c applies it late) */
    if (sl_metalog_append(b->metalog, &rec) != SL_OK) {
        return KERR_KAFKA_STORAGE_ERROR;
    }
    if (b->cluster) {
        drop_topic(b, t);
        return KERR_NONE;
    }
    /* Single node: the name leaves the table now; its partitions close and their directories
     * move to the trash a slice per loop iteration (topicwork.c). */
    sl_broker_flush(b);
    tab_remove(b, t);
    sl_log(SL_LOG_INFO, "broker", "topic=%s partitions=%d msg=\"deleted\"", t->name,
           t->n_partitions);
    sl_topicwork_drop(b, t);
    return KERR_NONE;
}

int32_t sl_topic_drop_slice(sl_broker_t *b, sl_topic_t *t, int32_t max) {
    int32_t n = t->n_partitions;
    int32_t from = n > max ? n - max : 0;
    close_parts_from(b, t, from, false);
    /* The directories move into the trash (one rename each); a thread removes the files. */
    for (int32_t i = from; i < n; i++) {
        char dir[4096];
        part_dir(b, t->name, i, dir, sizeof dir);
        if (!sl_trash_move(b, dir) && sl_plog_remove_dir(dir) != SL_OK) {
            sl_log(SL_LOG_WARN, "storage", "dir=%s msg=\"could not remove deleted partition\"",
                   dir);
        }
    }
    if (from > 0) {
        return from;
    }
    sl_trash_empty(b);
    topic_free(t);
    return 0;
}

/* Removes a topic whose deletion is recorded: its partitions close and their directories go. */
static void drop_topic(sl_broker_t *b, sl_topic_t *t) {
    /* Finish running syncs and pending acks=all produces: they hold pointers to these
     * partitions. */
    sl_broker_flush(b);
    tab_remove(b, t);
    sl_log(SL_LOG_INFO, "broker", "topic=%s msg=\"deleted\"", t->name);
    (void)sl_topic_drop_slice(b, t, INT32_MAX);
}

int sl_topic_add_partitions(sl_broker_t *b, sl_topic_t *t, int32_t new_total, bool validate_only,
                            char *err) {
    if (new_total <= t->n_partitions) {
        snprintf(err, SL_ERRLEN,
                 "Topic currently has %d partitions, which is higher than or equal "
                 "to the requested %d.",
                 t->n_partitions, new_total);
        return KERR_INVALID_PARTITIONS;
    }
    if (new_total > MAX_PARTITIONS) {
        snprintf(err, SL_ERRLEN, "Number of partitions must be at most %d", MAX_PARTITIONS);
        return KERR_INVALID_PARTITIONS;
    }
    int limit = check_partition_limit(b, new_total - t->n_partitions, err);
    if (limit != KERR_NONE || validate_only) {
        return limit;
    }
    int32_t old_total = t->n_partitions;
    if (open_new_parts(b, t, new_total, err) != SL_OK) {
        return KERR_KAFKA_STORAGE_ERROR;
    }
    sl_meta_rec_t rec = {SL_META_PARTITIONS, t->name, {0}, new_total, NULL, 0};
    rec.value = old_total; /* cluster: ignored if the count changed meanwhile (mstate.c) */
    sl_err_t mrc = sl_metalog_append(b->metalog, &rec);
    if (mrc != SL_OK) {
        /* Cluster: SL_ERR_EXISTS when another broker's CreatePartitions of the topic committed
         * first; its partitions reach this table from the log once these are closed. */
        if (mrc == SL_ERR_EXISTS) {
            snprintf(err, SL_ERRLEN,
                     "The topic's partition count changed from %d while this request ran (a "
                     "concurrent CreatePartitions); retry against the new count.",
                     old_total);
        } else {
            snprintf(err, SL_ERRLEN, "metadata log write failed");
        }
        close_parts_from(b, t, old_total, false);
        remove_part_dirs(b, t->name, old_total, new_total);
        return mrc == SL_ERR_EXISTS ? KERR_INVALID_PARTITIONS : KERR_KAFKA_STORAGE_ERROR;
    }
    return KERR_NONE;
}

static void set_configs(sl_topic_t *t, const sl_kv_t *configs, size_t n, const sl_topic_conf_t *tc);

int sl_topic_set_configs(sl_broker_t *b, sl_topic_t *t, const sl_kv_t *configs, size_t n,
                         bool validate_only, char *err) {
    sl_topic_conf_t tc;
    if (sl_topic_conf_build(&b->conf, configs, n, &tc, err) != SL_OK) {
        return KERR_INVALID_CONFIG;
    }
    if (validate_only) {
        return KERR_NONE;
    }
    sl_meta_rec_t rec = {SL_META_CONFIGS, t->name, {0}, 0, configs, n};
    if (sl_metalog_append(b->metalog, &rec) != SL_OK) {
        snprintf(err, SL_ERRLEN, "metadata log write failed");
        return KERR_KAFKA_STORAGE_ERROR;
    }
    set_configs(t, configs, n, &tc);
    return KERR_NONE;
}

/* Installs recorded config overrides and their effective values, down to every partition. */
static void set_configs(sl_topic_t *t, const sl_kv_t *configs, size_t n,
                        const sl_topic_conf_t *tc) {
    sl_kv_list_free(t->configs, t->n_configs);
    t->configs = sl_kv_list_dup(configs, n);
    t->n_configs = n;
    t->conf = *tc;
    sl_plog_conf_t pc;
    sl_topic_conf_to_plog(tc, &pc);
    for (int32_t i = 0; i < t->n_partitions; i++) {
        sl_plog_set_conf(t->parts[i]->plog, &pc);
    }
}

/* Replay: build the table in memory; partitions are opened afterwards. */
static void apply_rec(const sl_meta_rec_t *rec, void *opaque) {
    sl_broker_t *b = opaque;
    sl_str_t name = zstr(rec->name);
    sl_topic_t *t = sl_topic_find(b, name);
    char err[SL_ERRLEN];
    switch (rec->type) {
    case SL_META_TOPIC_CREATE:
        if (t) {
            return;
        }
        t = sl_xcalloc(1, sizeof *t);
        t->name = sl_xstrdup(rec->name);
        memcpy(t->id, rec->id, 16);
        t->configs = sl_kv_list_dup(rec->configs, rec->n_configs);
        t->n_configs = rec->n_configs;
        t->n_partitions = rec->partitions;
        if (sl_topic_conf_build(&b->conf, t->configs, t->n_configs, &t->conf, err) != SL_OK) {
            sl_log(SL_LOG_WARN, "broker", "topic=%s msg=\"stored config rejected: %s\"", t->name,
                   err);
            SL_ASSERT(sl_topic_conf_build(&b->conf, NULL, 0, &t->conf, err) == SL_OK);
        }
        tab_insert(b, t);
        return;
    case SL_META_TOPIC_DELETE:
        if (t) {
            tab_remove(b, t);
            topic_free(t);
        }
        return;
    case SL_META_PARTITIONS:
        if (t && rec->partitions > t->n_partitions) {
            t->n_partitions = rec->partitions;
        }
        return;
    case SL_META_QUOTA:
        sl_quota_apply_meta(b, rec->configs, rec->n_configs);
        return;
    case SL_META_BROKER_CONFIGS:
        sl_dynconf_replay(b, rec);
        return;
    case SL_META_SCRAM:
        sl_sasl_apply_meta(b, rec->name, rec->configs, rec->n_configs);
        return;
    case SL_META_ACL:
        sl_acl_apply_meta(b, rec->name, rec->configs, rec->n_configs);
        return;
    case SL_META_PID_BLOCK:
        b->pid_block_end = SL_MAX(b->pid_block_end, rec->value);
        return;
    case SL_META_CONFIGS:
        if (t) {
            sl_kv_list_free(t->configs, t->n_configs);
            t->configs = sl_kv_list_dup(rec->configs, rec->n_configs);
            t->n_configs = rec->n_configs;
            if (sl_topic_conf_build(&b->conf, t->configs, t->n_configs, &t->conf, err) != SL_OK) {
                SL_ASSERT(sl_topic_conf_build(&b->conf, NULL, 0, &t->conf, err) == SL_OK);
            }
        }
        return;
    case SL_META_BROKER_REG:
    case SL_META_BROKER_FENCE:
    case SL_META_PLACEMENT:
    case SL_META_ISR:
    case SL_META_REASSIGN:
    case SL_META_ELECT:
    case SL_META_CLUSTER_ID:
        return; /* cluster records: the quorum's image holds them (mstate.c) */
    }
}

sl_err_t sl_topics_load(sl_broker_t *b, char *err) {
    sl_trash_start(b);
    b->metalog = sl_metalog_open(b->conf.data_dir, apply_rec, b, err);
    if (!b->metalog) {
        return SL_ERR_IO;
    }
    for (size_t i = 0; i < b->topic_tab_size; i++) {
        for (sl_topic_t *t = b->topic_tab[i]; t; t = t->next) {
            int32_t n = t->n_partitions;
            t->n_partitions = 0;
            sl_err_t rc = open_parts_ex(b, t, 0, n, true, err);
            if (rc != SL_OK) {
                return rc;
            }
        }
    }
    return SL_OK;
}

void sl_topics_close(sl_broker_t *b) {
    sl_topicwork_stop(b); /* before the table goes: deletions finish, creations are abandoned */
    for (size_t i = 0; i < b->topic_tab_size; i++) {
        sl_topic_t *t = b->topic_tab[i];
        while (t) {
            sl_topic_t *next = t->next;
            close_parts(b, t, true);
            topic_free(t);
            t = next;
        }
    }
    free(b->topic_tab);
    b->topic_tab = NULL;
    b->topic_tab_size = b->n_topics = 0;
    sl_metalog_close(b->metalog);
    b->metalog = NULL;
}

/* Cluster mode. A committed record this broker did not make itself (or made and has applied
 * already: every case is idempotent) takes effect on the live table: partitions open or close
 * as on the broker that proposed it. */
void sl_topics_apply_live(sl_broker_t *b, const sl_meta_rec_t *rec) {
    sl_topic_t *t = rec->name ? sl_topic_find(b, zstr(rec->name)) : NULL;
    char err[SL_ERRLEN];
    switch (rec->type) {
    case SL_META_TOPIC_CREATE:
        if (!t) {
            apply_rec(rec, b);
            t = sl_topic_find(b, zstr(rec->name));
            int32_t n = t->n_partitions;
            t->n_partitions = 0;
            if (open_parts_ex(b, t, 0, n, true, err) != SL_OK) {
                sl_log(SL_LOG_ERROR, "cluster", "topic=%s msg=\"%s\"", t->name, err);
            }
            sl_log(SL_LOG_INFO, "cluster", "topic=%s partitions=%d msg=\"created by the quorum\"",
                   t->name, n);
        }
        return;
    case SL_META_TOPIC_DELETE:
        /* Only the incarnation it names: this broker may have deleted the topic and created it
         * again before its own deletion came back through the log. */
        if (t && sl_meta_names_topic(rec, t->id)) {
            drop_topic(b, t);
        }
        return;
    case SL_META_PARTITIONS:
        /* One counted from a base that is no longer the count lost to a concurrent change and
         * is ignored (mstate.c); this broker's own, already opened, is not larger. */
        if (t && rec->partitions > t->n_partitions && rec->partitions <= MAX_PARTITIONS &&
            (rec->value <= 0 || rec->value == t->n_partitions) &&
            open_new_parts(b, t, rec->partitions, err) != SL_OK) {
            sl_log(SL_LOG_ERROR, "cluster", "topic=%s msg=\"%s\"", t->name, err);
        }
        return;
    case SL_META_CONFIGS:
        if (t) {
            sl_topic_conf_t tc;
            if (sl_topic_conf_build(&b->conf, rec->configs, rec->n_configs, &tc, err) != SL_OK) {
                SL_ASSERT(sl_topic_conf_build(&b->conf, NULL, 0, &tc, err) == SL_OK);
            }
            set_configs(t, rec->configs, rec->n_configs, &tc);
        }
        return;
    case SL_META_PID_BLOCK:
        /* A block reserved (this broker's or another's): pidblocks.h. */
        b->pid_block_end = SL_MAX(b->pid_block_end, rec->value);
        sl_pidblocks_committed(&b->pids, rec->value);
        return;
    default:
        apply_rec(rec, b);
        return;
    }
}

void sl_topic_drop(sl_broker_t *b, sl_topic_t *t) {
    drop_topic(b, t);
}

sl_err_t sl_topics_load_cluster(sl_broker_t *b, void *metalog) {
    sl_trash_start(b);
    b->metalog = metalog;
    return SL_OK;
}
