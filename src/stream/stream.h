/* stream.h -- sluice's stream engine: declare a pipeline as a graph of nodes, then run it.
 *
 * A pipeline reads topics, passes each record through stateless nodes (map, filter and flat-map
 * are one node type: a callback that emits zero or more records), re-keys, aggregates in windows,
 * and writes topics. Nodes belong to the builder; node calls never return NULL: the builder keeps
 * the first mistake (a stateful node without a key, an empty name, a bad window) and reports it
 * once, from sl_stream_graph_check, so a chain of calls needs one error check.
 *
 * Lifetimes: a record handed to a callback, and the bytes it views, live until the callback
 * returns. sl_stream_emit runs the downstream nodes before it returns, so emitted bytes need only
 * live for the call. sl_stream_scratch memory lives until the input record is done. Objects
 * handed to sl_stream_own are freed exactly once, with the builder.
 *
 * Errors from callbacks: a callback returning non-SL_OK (or calling sl_stream_fail) sends the
 * *input* record to the pipeline's dead-letter topic with headers naming the error, the node, the
 * source topic, partition and offset (on.error=dead-letter), skips it (skip), or stops the task
 * (fail). Emits already made stand.
 *
 * Threads: a task runs on one lane, each input in offset order (a task with several inputs, a
 * join's, takes the record with the smallest event time among those it has fetched); tasks run
 * in parallel, so `user` pointers must be read-only once the pipeline runs, and mutable data
 * belongs in state. */
#ifndef SL_STREAM_H
#define SL_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/util.h"

typedef struct sl_stream_builder sl_stream_builder_t;
typedef struct sl_stream_node sl_stream_node_t;
typedef struct sl_stream_ctx sl_stream_ctx_t;

typedef struct sl_stream_rec { /* borrowed: valid until the callback returns */
    sl_bytes_t key, value;     /* p == NULL: null key / null value (tombstone) */
    int64_t ts_ms;             /* event time */
    const char *topic;         /* the input record's topic */
    int32_t partition;
    int64_t offset;
} sl_stream_rec_t;

/* map / filter / flat-map: 0..n sl_stream_emit calls. */
typedef sl_err_t sl_stream_fn(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user);
/* branch: the index of the output to take, or -1 to drop the record. */
typedef int sl_stream_route_fn(const sl_stream_rec_t *rec, void *user);
/* re-key: the new key, which may view rec's bytes or sl_stream_scratch memory. */
typedef sl_err_t sl_stream_key_fn(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user,
                                  sl_bytes_t *key_out);
/* event time from the record (e.g. a JSON field). */
typedef sl_err_t sl_stream_ts_fn(const sl_stream_rec_t *rec, void *user, int64_t *ts_ms_out);

typedef struct sl_stream_agg { /* copied at registration */
    size_t state_bytes;        /* zeroed by the engine; no pointers (it goes to the changelog) */
    sl_err_t (*step)(sl_stream_ctx_t *ctx, void *state, const sl_stream_rec_t *rec, void *user);
    void (*merge)(void *into, const void *from, void *user);                 /* session windows */
    sl_err_t (*result)(sl_stream_ctx_t *ctx, const void *state, void *user); /* emits */
    void *user;
} sl_stream_agg_t;

typedef enum sl_stream_win_kind {
    SL_STREAM_TUMBLING = 1,
    SL_STREAM_HOPPING,
    SL_STREAM_SESSION
} sl_stream_win_kind_t;

/* A join's callback: `left` is the stream record (stream-table joins) or the left side's record
 * (windowed joins), `right` the table's current value for the key (its ts: the record that set
 * it) or the right side's record; NULL for the side that did not match (left and outer joins).
 * It emits 0..n records with sl_stream_emit; sl_stream_ctx_key gives the join key. The output
 * time is the later of the two records' times. */
typedef sl_err_t sl_stream_join_fn(sl_stream_ctx_t *ctx, const sl_stream_rec_t *left,
                                   const sl_stream_rec_t *right, void *user);

typedef enum sl_stream_join_kind {
    SL_STREAM_JOIN_INNER = 1, /* matches only */
    SL_STREAM_JOIN_LEFT,      /* every left record: matched, or alone (right NULL) */
    SL_STREAM_JOIN_OUTER      /* windowed joins: unmatched records of either side, alone */
} sl_stream_join_kind_t;

typedef struct sl_stream_window {
    sl_stream_win_kind_t kind;
    int64_t size_ms, advance_ms, gap_ms;
    int64_t grace_ms;    /* hold the final result back this long past the window's end */
    int64_t lateness_ms; /* keep the window this much longer; late records re-fire it */
    bool emit_changes;   /* a result per update instead of one at the close */
} sl_stream_window_t;

typedef enum sl_stream_time {
    SL_STREAM_TIME_RECORD = 0, /* the record's timestamp (CreateTime or LogAppendTime) */
    SL_STREAM_TIME_PROCESSING  /* the clock when the record is processed (not replay-safe) */
} sl_stream_time_t;

typedef struct sl_stream_source_opts {
    sl_stream_time_t time;
    sl_stream_ts_fn *ts_fn; /* overrides `time` */
    void *ts_user;
    int64_t watermark_delay_ms; /* bounded disorder */
    int64_t idle_ms;            /* idle.timeout.ms for this source's partitions (0: never) */
} sl_stream_source_opts_t;

/* ---- building ---- */

sl_stream_builder_t *sl_stream_builder_new(void);
/* Frees the builder, its nodes and every object given to sl_stream_own. */
void sl_stream_builder_free(sl_stream_builder_t *b);
/* Frees p with free_fn when the builder goes; returns p. */
void *sl_stream_own(sl_stream_builder_t *b, void *p, void (*free_fn)(void *p));

/* Records of `topic`; opts may be NULL (record time, no disorder, never idle). */
sl_stream_node_t *sl_stream_source(sl_stream_builder_t *b, const char *topic,
                                   const sl_stream_source_opts_t *opts);
/* Records of every topic in topics[0..n) (Kafka Streams' stream(Collection<String>)), or of
 * every topic whose whole name matches the POSIX extended regular expression `pattern` (its
 * stream(Pattern)), topics created while the job runs included: librdkafka finds them when it
 * refreshes its metadata (topic.metadata.refresh.interval.ms, -X) and the group rebalances.
 * The job's own internal, sink, late and dead-letter topics and "__" topics never match. Each
 * (topic, partition) is a task with its own watermark, and a repartition topic after it carries
 * every one's markers, so a windowed operator behind a rekey waits for the slowest partition of
 * every topic. The topics' keys need not share partitioning, so stateful nodes need a
 * sl_stream_rekey after such a source. A pattern needs at least one matching topic when the job
 * starts (it sizes the repartition topics: the largest partition count). opts as for
 * sl_stream_source; a list of one topic is sl_stream_source. */
sl_stream_node_t *sl_stream_source_topics(sl_stream_builder_t *b, const char *const *topics,
                                          size_t n, const sl_stream_source_opts_t *opts);
sl_stream_node_t *sl_stream_source_pattern(sl_stream_builder_t *b, const char *pattern,
                                           const sl_stream_source_opts_t *opts);
sl_stream_node_t *sl_stream_map(sl_stream_node_t *in, const char *name, sl_stream_fn *fn,
                                void *user);
/* A terminal node: fn sees every record and emits nothing (e.g. a shell printing rows, a metric).
 * Its side effects are outside the checkpoint's transaction: after a crash, records since the last
 * checkpoint are seen again (at least once). */
void sl_stream_foreach(sl_stream_node_t *in, const char *name, sl_stream_fn *fn, void *user);
/* Routes each record to one of n new nodes written to outs[0..n). */
void sl_stream_branch(sl_stream_node_t *in, const char *name, sl_stream_route_fn *fn, void *user,
                      size_t n, sl_stream_node_t **outs);
/* A new key; downstream stateful nodes group by it. The records cross a repartition topic
 * `<application.id>-<name>-repartition` so that every key lands in one task. */
sl_stream_node_t *sl_stream_rekey(sl_stream_node_t *in, const char *name, sl_stream_key_fn *fn,
                                  void *user);
/* Aggregates per key, in windows (w != NULL) or running (w == NULL: a result per update). Needs
 * a key: after a source (the record key) or a rekey; not after a map, which may change keys. */
sl_stream_node_t *sl_stream_aggregate(sl_stream_node_t *in, const char *name,
                                      const sl_stream_window_t *w, const sl_stream_agg_t *agg);
/* Ready-made aggregates, for sl_stream_aggregate. Each record's number is its value as decimal
 * text, or top-level JSON field `field` (NULL: the value itself); integers stay exact in int64
 * (a sum that would overflow goes on in double). Results are decimal text keyed by the group key.
 * COUNT counts records (field unused); COUNT_DISTINCT counts distinct values (the field's text or
 * the value's bytes): exact up to 255 per group, estimated beyond (k-minimum values over 256
 * hashes, about 6% error). A record without a readable number or field goes to on.error. All
 * merge, so they work in session windows. */
typedef enum sl_stream_builtin {
    SL_STREAM_COUNT = 1,
    SL_STREAM_SUM,
    SL_STREAM_MIN,
    SL_STREAM_MAX,
    SL_STREAM_AVG,
    SL_STREAM_COUNT_DISTINCT
} sl_stream_builtin_t;
sl_stream_agg_t sl_stream_builtin(sl_stream_builder_t *b, sl_stream_builtin_t kind,
                                  const char *field);

/* reduce: combines the running value `acc` with a new record's value into out[0..cap) (*out_len
 * bytes), as Kafka Streams' Reducer; it must be associative (sessions merge with it). The first
 * record's value is the initial one. */
typedef sl_err_t sl_stream_reduce_fn(sl_bytes_t acc, sl_bytes_t value, void *user, uint8_t *out,
                                     size_t cap, size_t *out_len);
#define SL_STREAM_REDUCE_MAX (1u << 20)
/* A reduce per key, in windows (w != NULL) or running; values up to max_bytes (at most
 * SL_STREAM_REDUCE_MAX: it is the state size of every key and window). Emits the reduced bytes. */
sl_stream_node_t *sl_stream_reduce(sl_stream_node_t *in, const char *name,
                                   const sl_stream_window_t *w, sl_stream_reduce_fn *fn, void *user,
                                   size_t max_bytes);

/* A table over `topic` (usually compacted): the latest value per key, a null value deletes the
 * key, a null key is ignored. Its store is restored from `<application.id>-<topic>-changelog`
 * (one record per key changed in a checkpoint). A table only feeds joins: records do not flow
 * from it. opts as for sl_stream_source (the time only decides the processing order). */
sl_stream_node_t *sl_stream_table(sl_stream_builder_t *b, const char *topic,
                                  const sl_stream_source_opts_t *opts);
/* For each record of `stream`, looks its key up in `table` and calls `joiner` (right = the table
 * value, or NULL in a left join when the key is absent; inner joins skip such records). Table
 * updates do not emit. The stream and the table must be co-partitioned (same partition count,
 * same key partitioning; checked when the job starts), and `stream` must carry its key (after a
 * source or a rekey). Kind: SL_STREAM_JOIN_INNER or SL_STREAM_JOIN_LEFT. */
sl_stream_node_t *sl_stream_join_table(sl_stream_node_t *stream, sl_stream_node_t *table,
                                       const char *name, sl_stream_join_fn *joiner, void *user,
                                       sl_stream_join_kind_t kind);
/* Joins the records of `left` and `right` with the same key and |ts_left - ts_right| <=
 * within_ms, each pair once. Both sides are buffered in the node's store until the watermark
 * passes ts + within_ms + grace_ms; then left (left/outer) or right (outer) records that never
 * matched are emitted alone. A record with ts <= watermark - grace_ms is late: it goes to the
 * late topic (`<application.id>-<name>-late`, or sl_stream_late_topic) and joins nothing. Both
 * sides must carry their key and be co-partitioned; records with a null key are errors. */
sl_stream_node_t *sl_stream_join_window(sl_stream_node_t *left, sl_stream_node_t *right,
                                        const char *name, int64_t within_ms, int64_t grace_ms,
                                        sl_stream_join_fn *joiner, void *user,
                                        sl_stream_join_kind_t kind);
/* Writes the node's records to `topic`. */
void sl_stream_to(sl_stream_node_t *in, const char *topic);
/* Where a stateful node keeps its state. Memory (the default, unless the run sets
 * default.dsl.store=rocksDB): a hash table, fastest, bounded by RAM. RocksDB: on disk under the
 * run's state directory, for state larger than memory; only changes since the last checkpoint
 * and a bounded cache (statestore.cache.max.bytes) stay in memory, and a restart restores from the
 * local committed image plus the changelog's tail. Both have a changelog topic. */
typedef enum sl_stream_backend {
    SL_STREAM_BACKEND_DEFAULT = 0, /* the run's default.dsl.store */
    SL_STREAM_MEMORY,
    SL_STREAM_ROCKSDB
} sl_stream_backend_t;
void sl_stream_state_backend(sl_stream_node_t *stateful, sl_stream_backend_t backend);
/* Records later than their windows allow go to `topic` (headers: sluice.late.reason,
 * sluice.watermark, sluice.window.end) instead of being counted and dropped. For a windowed
 * aggregate or a windowed join. */
void sl_stream_late_topic(sl_stream_node_t *aggregate, const char *topic);

/* The first building error, or NULL when the graph is well formed. */
const char *sl_stream_graph_check(sl_stream_builder_t *b);

/* ---- in callbacks (thread: the calling lane) ---- */

/* Passes a record (the current timestamp, the given key and value) to every downstream node. */
SL_MUST_USE sl_err_t sl_stream_emit(sl_stream_ctx_t *ctx, sl_bytes_t key, sl_bytes_t value);
/* sl_stream_emit with event time ts_ms instead of the current record's (a windowed aggregate
 * downstream assigns the record to windows by it). A time behind the watermark of the task that
 * receives it makes the record late there. */
SL_MUST_USE sl_err_t sl_stream_emit_at(sl_stream_ctx_t *ctx, int64_t ts_ms, sl_bytes_t key,
                                       sl_bytes_t value);
/* n zeroed bytes that live until the input record is done. */
void *sl_stream_scratch(sl_stream_ctx_t *ctx, size_t n);
/* Records a message for the dead-letter headers; returns SL_ERR_INVAL for the callback to return.
 */
sl_err_t sl_stream_fail(sl_stream_ctx_t *ctx, const char *fmt, ...) SL_PRINTF(2, 3);
/* In an aggregate's result callback: the group key and the window ([start, end) for time
 * windows, [first, last] record times for sessions; 0, 0 for running aggregates). */
sl_bytes_t sl_stream_ctx_key(const sl_stream_ctx_t *ctx);
void sl_stream_window_bounds(const sl_stream_ctx_t *ctx, int64_t *start_ms, int64_t *end_ms);

/* ---- JSON records (top-level fields; Jansson underneath) ---- */

/* The value of top-level `field` of the JSON object `doc`: a string's characters (unescaped), or
 * the text of a number, boolean or null; in sl_stream_scratch memory. SL_ERR_NOTFOUND when the
 * field is missing, SL_ERR_INVAL when doc is not a JSON object or the field is an object/array. */
SL_MUST_USE sl_err_t sl_stream_json_get(sl_stream_ctx_t *ctx, sl_bytes_t doc, const char *field,
                                        sl_bytes_t *out);
/* The integer value of top-level `field` (a JSON integer, or a string holding one). */
SL_MUST_USE sl_err_t sl_stream_json_i64(sl_bytes_t doc, const char *field, int64_t *out);

#endif
