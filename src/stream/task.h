/* task.h -- one task of a pipeline: a sub-topology over one partition of its inputs, with its
 * state stores, watermark and windowed operators. It runs records through the fused nodes and
 * hands every output (sinks, repartition topics, late and dead-letter records) to one write
 * callback; it does no I/O itself, so the runtime decides how outputs reach Kafka (inside the
 * lane's transaction) and tests can run a task with no broker at all.
 *
 * Checkpoints: sl_stream_task_each_changed lists the state changes since the last commit (the
 * changelog records), sl_stream_task_commit makes them the committed image, and
 * sl_stream_task_abort goes back to it when the transaction aborts. Thread: the owning lane. */
#ifndef SL_STREAM_TASK_H
#define SL_STREAM_TASK_H

#include "stream/graph.h"
#include "stream/kv.h"

typedef enum sl_stream_on_error {
    SL_STREAM_ON_ERROR_DEAD_LETTER = 0, /* the input record goes to the dead-letter topic */
    SL_STREAM_ON_ERROR_SKIP,            /* counted and skipped */
    SL_STREAM_ON_ERROR_FAIL,            /* the task stops with the error */
} sl_stream_on_error_t;

typedef struct sl_stream_hdr {
    const char *name;
    sl_bytes_t value;
} sl_stream_hdr_t;

/* The stage times a sink record's header carries (SL_STREAM_HDR_TS), as numbers, so the
 * writer's metrics need not parse them back. recv_ms 0: a result fired by the watermark, which
 * has no input record (emit_ms only); in_ms < 0: the input's timestamp is unknown. */
typedef struct sl_stream_stage {
    int64_t in_ms, recv_ms, emit_ms;
} sl_stream_stage_t;

/* An output record to `partition` of `topic` (-1: the producer's partitioner, by key).
 * `key`/`value` p == NULL: null. `stage`: a sink record's stage times, NULL for any other record
 * (repartition, watermark marker, late, dead-letter). Returns SL_OK or an error that
 * stops the task (e.g. the producer failed). */
typedef sl_err_t sl_stream_write_fn(void *opaque, const char *topic, int32_t partition,
                                    sl_bytes_t key, sl_bytes_t value, int64_t ts_ms,
                                    const sl_stream_hdr_t *hdrs, size_t n_hdrs,
                                    const sl_stream_stage_t *stage);

/* Watermark markers: a task that writes a repartition topic sends its watermark to every
 * partition of it as a record with no key and no value and these headers (the upstream task's id:
 * its partition, or "<topic>/<partition>" for a task of a source over several topics; its
 * watermark; "1" when all its inputs are idle); the tasks reading that topic keep one watermark
 * per upstream task and take the minimum, so the fastest upstream task cannot make a slower one's
 * records late. A task reading several repartition topics (a join of two re-keyed streams) takes
 * the minimum over the upstream tasks of all of them. */
#define SL_STREAM_HDR_WM_TASK "sluice.wm.task"
#define SL_STREAM_HDR_WM      "sluice.wm"
#define SL_STREAM_HDR_WM_IDLE "sluice.wm.idle"

/* Stage times on every sink record, one header "in,recv,emit" (epoch ms, decimal): the input
 * record's timestamp, when the engine received it, when it emitted the output. in -> recv is
 * produce + broker + fetch, recv -> emit is processing, emit -> a consumer's receipt is the
 * output's broker + consume (the transaction commit included). Results fired by the watermark
 * have no input: ",,emit". */
#define SL_STREAM_HDR_TS "sluice.ts"

typedef struct sl_stream_task_conf {
    const char *app_id;      /* names repartition, late and dead-letter topics */
    const char *dead_letter; /* NULL: "<app_id>-dlq" */
    sl_stream_on_error_t on_error;
    sl_stream_write_fn *write;
    void *opaque;
    /* Partitions of each sub-topology's input (indexed by sub-topology): how many upstream tasks
     * send markers to a repartition topic, and how many partitions a marker goes to. NULL: no
     * markers (repartitioned records then drive the watermark by their own timestamps). */
    const int32_t *st_partitions;
    /* RocksDB stores live in <state_dir>/<st>_<partition>/<store> (NULL: none can be opened),
     * each caching about cache_bytes in memory; default_backend is default.dsl.store. */
    const char *state_dir;
    size_t cache_bytes;
    sl_stream_backend_t default_backend;
    /* Tasks of each sub-topology (indexed like st_partitions): how many upstream tasks a
     * repartition topic's readers wait for before their watermark moves. A source over several
     * topics has a task per (topic, partition). NULL: st_partitions. */
    const int32_t *st_tasks;
    /* The input topic of a task of a source over several topics (names the task in its markers);
     * NULL for tasks numbered by partition alone. */
    const char *topic;
    /* The caller's cached wall clock (epoch ms), read for the emit time of sink records instead
     * of the clock itself: the lane refreshes it every few records, so a record costs no clock
     * read. NULL: the clock is read for every sink record. */
    const int64_t *wall_ms;
} sl_stream_task_conf_t;

typedef struct sl_stream_task_stats {
    uint64_t in, out, late, dead_lettered, skipped;
} sl_stream_task_stats_t;

typedef struct sl_stream_task sl_stream_task_t;

/* The task of sub-topology `st` for `partition`; its inputs are the sub-topology's roots, in
 * declaration order (sl_graph_roots). The builder must have passed sl_stream_graph_check and
 * outlive the task. */
sl_stream_task_t *sl_stream_task_new(sl_stream_builder_t *b, int st, int32_t partition,
                                     const sl_stream_task_conf_t *conf, uint64_t now_ms);
/* Why the task cannot run (a state store could not be opened or written), or NULL. */
const char *sl_stream_task_error(const sl_stream_task_t *t);
void sl_stream_task_free(sl_stream_task_t *t);

/* Runs one record of input `input` (an index into the roots) through the task. SL_OK also when
 * the record was dead-lettered or skipped; an error only when the task must stop. */
SL_MUST_USE sl_err_t sl_stream_task_process(sl_stream_task_t *t, size_t input,
                                            const sl_stream_rec_t *rec, uint64_t now_ms);
/* A watermark marker from upstream task `upstream` (its id as the marker's header gives it)
 * arrived on input `input` (a repartition topic). A partition number beyond the upstream's task
 * count is ignored; a "<topic>/<partition>" id not heard of before takes the next upstream task
 * not heard of yet, or joins the minimum as a new one (a topic created since the start). */
void sl_stream_task_marker(sl_stream_task_t *t, size_t input, const char *upstream, int64_t wm,
                           bool idle, uint64_t now_ms);
/* Input `input` reached the end of its partition (for idleness). */
void sl_stream_task_caught_up(sl_stream_task_t *t, size_t input);
/* Advances the watermark to what the inputs allow at `now_ms` and fires due windows. */
SL_MUST_USE sl_err_t sl_stream_task_tick(sl_stream_task_t *t, uint64_t now_ms);
int64_t sl_stream_task_watermark(const sl_stream_task_t *t);
int32_t sl_stream_task_partition(const sl_stream_task_t *t);

/* The state changes since the last commit, per stateful node (store name = node name). */
typedef void sl_stream_change_fn(const char *store, sl_bytes_t key, const sl_bytes_t *val,
                                 void *arg);
void sl_stream_task_each_changed(const sl_stream_task_t *t, sl_stream_change_fn *fn, void *arg);
/* Before listing the changes of a checkpoint: records the task's watermark in its stores, so the
 * checkpoint carries it and a restore never moves it back. */
void sl_stream_task_prepare_checkpoint(sl_stream_task_t *t);
/* SL_ERR_IO when a disk store could not write its image (sl_stream_task_error says why). */
SL_MUST_USE sl_err_t sl_stream_task_commit(sl_stream_task_t *t);
void sl_stream_task_abort(sl_stream_task_t *t);
/* The names of the task's state stores (its aggregates), at most cap; returns how many. */
size_t sl_stream_task_stores(const sl_stream_task_t *t, const char **out, size_t cap);
/* Where the restore of `store` starts in its changelog partition: the offset its local disk
 * image covers, or -1 (from the beginning). */
int64_t sl_stream_task_store_covered(const sl_stream_task_t *t, const char *store);
/* Empties `store`, disk image included: its image is ahead of its changelog (a recreated topic). */
SL_MUST_USE sl_err_t sl_stream_task_store_wipe(sl_stream_task_t *t, const char *store);
/* The changelog offset after the last record of `store` in the checkpoint being committed. */
void sl_stream_task_store_cover(sl_stream_task_t *t, const char *store, int64_t next_offset);
/* Puts changelog record `offset` back into store `store` (restore); unknown stores are ignored.
 * Disk stores commit every few thousand records, so a restore needs little memory and an
 * interrupted one resumes where it stopped. */
SL_MUST_USE sl_err_t sl_stream_task_restore(sl_stream_task_t *t, const char *store, sl_bytes_t key,
                                            const sl_bytes_t *val, int64_t offset);
/* Call once restore is over: commits it and rebuilds the firing queues from the stores. */
SL_MUST_USE sl_err_t sl_stream_task_restored(sl_stream_task_t *t);
/* A task that sat unrun (a standby copy fed by sl_stream_task_restore) starts running at
 * `now_ms`: its inputs' idle clocks start there (watermark.h: sl_wm_resume) and its next tick
 * tells downstream tasks its watermark again, as a new task's would. */
void sl_stream_task_resume(sl_stream_task_t *t, uint64_t now_ms);
/* Whether any of the task's stores keeps its image on disk (RocksDB, under its state_dir). */
bool sl_stream_task_on_disk(const sl_stream_task_t *t);

const sl_stream_task_stats_t *sl_stream_task_stats(const sl_stream_task_t *t);
/* Entries and bytes held by the task's state stores (sl_kv_count, sl_kv_bytes summed). */
void sl_stream_task_state_size(const sl_stream_task_t *t, size_t *entries, size_t *bytes);

#endif
