/* sink.h -- `sluice sink`: deliver a topic's records to an external system from a consumer group.
 *
 * The runner (runner.c) is a librdkafka consumer in a group, so it works against any Kafka cluster
 * and more instances share the partitions. It polls records into a batch (at most batch_max
 * records, or what arrived within linger_ms), hands the batch to a backend and waits until the
 * backend has delivered or dead-lettered every record, then stores the offsets. One batch is in
 * flight at a time, so the memory a sink holds is one batch plus librdkafka's prefetch (bounded by
 * queued.max.messages.kbytes). While a backend waits (target down, backoff, open breaker) it calls
 * sl_sink_wait, which pauses every assigned partition and keeps serving the group.
 *
 * Backends: postgres (pg.c, exactly-once through an offsets table in the target database) and
 * webhook (webhook.c, at-least-once). Retry and breaker arithmetic is in policy.c. */
#ifndef SL_SINK_H
#define SL_SINK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

typedef struct sl_sink sl_sink_t;

/* What a backend does for the runner. `self` is the backend's own state. */
typedef struct sl_sink_backend {
    const char *name;
    /* Partitions are being assigned: the backend may set each element's offset to where delivery
     * must resume (its own durable record); elements it leaves alone resume from the group's
     * committed offset. May be NULL. */
    void (*assign)(void *self, sl_sink_t *s, rd_kafka_topic_partition_list_t *parts);
    /* Delivers recs[0..n) (records of one topic, in partition order as consumed). Returns true
     * when every record was delivered or dead-lettered (the runner then stores their offsets),
     * false when it gave up because sl_sink_wait said so (revoked partitions or stopping): the
     * runner drops the batch and the records are consumed again by whoever owns them. */
    bool (*deliver)(void *self, sl_sink_t *s, rd_kafka_message_t **recs, int n);
    /* True when the group's offsets must be committed by the runner after each batch (webhook);
     * false when the backend's own record is the truth and the commit is only a hint. */
    bool commit_sync;
} sl_sink_backend_t;

/* Breaker states, as exposed in sluice_sink_breaker_state. */
enum { SL_BREAKER_CLOSED = 0, SL_BREAKER_OPEN = 1, SL_BREAKER_HALF_OPEN = 2 };

/* Counters shown on /metrics and in the periodic log line. Written by the sink thread only. */
typedef struct sl_sink_stats {
    atomic_llong delivered;     /* records written to the target */
    atomic_llong retried;       /* failed attempts that were retried */
    atomic_llong dead_lettered; /* records sent to the dead-letter topic */
    atomic_llong skipped;       /* records already applied (postgres: below the stored offset) */
    atomic_llong batches;       /* batches completed */
    atomic_llong lag;           /* high watermark - position, summed over assigned partitions */
    atomic_llong breaker_opens; /* times the breaker opened */
    atomic_int breaker_state;   /* SL_BREAKER_* */
    atomic_int assigned;        /* partitions assigned */
} sl_sink_stats_t;

typedef struct sl_sink_config {
    const char *topic;
    const char *group;
    const char *dlq_topic; /* NULL: "<topic>.dlq" */
    int batch_max;         /* records per batch */
    int linger_ms;         /* longest a partial batch waits for more records */
    const char *admin;     /* "HOST:PORT" for /metrics, or NULL */
    int log_every_ms;      /* periodic stats line on stderr; 0 = never */
} sl_sink_config_t;

/* Runs the sink until SIGINT/SIGTERM. `conf` (from sl_client_conf, consumed) gives the brokers
 * and -X overrides. Returns the process exit code (0 after a clean stop, 1 on a setup error). */
int sl_sink_run(const sl_sink_config_t *cfg, rd_kafka_conf_t *conf, const sl_sink_backend_t *be,
                void *self);

/* For backends, on the sink thread. */
/* Waits `ms` while keeping the group membership alive, with every assigned partition paused (so
 * nothing more is fetched). Returns false, at once, if partitions were revoked or a stop was
 * asked since the current batch began: the backend must give up the batch. */
bool sl_sink_wait(sl_sink_t *s, int64_t ms);
/* True when the current batch is still to be delivered (no revoke, no stop). */
bool sl_sink_live(const sl_sink_t *s);
/* Queues `m` for the dead-letter topic with headers dlq.reason (a short code), dlq.error (text),
 * dlq.topic, dlq.partition and dlq.offset; its key and value are kept. */
void sl_sink_dead_letter(sl_sink_t *s, const rd_kafka_message_t *m, const char *reason,
                         const char *detail);
/* Waits until every queued dead letter is acknowledged. False if that failed or was cut short
 * (the batch must then be retried or dropped). */
bool sl_sink_dlq_flush(sl_sink_t *s);
/* Stops the sink with exit code 1 after printing `why`: for errors no retry can fix. */
void sl_sink_fail(sl_sink_t *s, const char *why);
sl_sink_stats_t *sl_sink_stats(sl_sink_t *s);
const sl_sink_config_t *sl_sink_config(const sl_sink_t *s);
/* Milliseconds on the monotonic clock. */
int64_t sl_sink_now_ms(void);

/* policy.c: retry and breaker arithmetic (pure; unit-tested). */
/* Exponential backoff with full jitter: a uniform pick in [0, min(cap, base * 2^attempt)], from
 * the random number `rnd`. attempt 0 is the first retry. */
int64_t sl_backoff_ms(int64_t base_ms, int64_t cap_ms, int attempt, uint64_t rnd);

/* A circuit breaker for one endpoint: `threshold` consecutive failures open it; after
 * `cooldown_ms` one probe is let through (half-open); its success closes the breaker, its failure
 * opens it again. */
typedef struct sl_breaker {
    int threshold;
    int64_t cooldown_ms;
    int state; /* SL_BREAKER_* */
    int failures;
    int64_t opened_at;
    int64_t opens;
} sl_breaker_t;
void sl_breaker_init(sl_breaker_t *b, int threshold, int64_t cooldown_ms);
/* 0 when an attempt may go now (moving open to half-open once the cooldown has passed), else
 * the milliseconds until it may. */
int64_t sl_breaker_wait_ms(sl_breaker_t *b, int64_t now);
void sl_breaker_record(sl_breaker_t *b, bool ok, int64_t now);

/* A column mapping "col=field,col2=a.b": column names and JSON paths (dots go into objects). */
typedef struct sl_sink_map {
    int n;
    char *col[64];
    char *path[64];
} sl_sink_map_t;
/* Parses `spec`. False with a reason in err (256 bytes) on an empty spec, an entry without '=',
 * an empty name or path, a duplicate column, or more than 64 entries. */
bool sl_sink_map_parse(sl_sink_map_t *m, const char *spec, char *err);
void sl_sink_map_free(sl_sink_map_t *m);
/* The value at dotted `path` in `root`, or NULL when a step is missing or not an object. */
json_t *sl_sink_json_path(json_t *root, const char *path);

/* Column kinds the postgres sink checks JSON values against before sending them. */
enum { SL_COL_TEXT, SL_COL_INT, SL_COL_NUM, SL_COL_BOOL, SL_COL_JSON };
/* The kind for a PostgreSQL type name as regtype prints it ("integer", "jsonb", ...). */
int sl_sink_col_kind(const char *pg_type);
/* Renders `v` as the text of a parameter for a column of `kind`: *out is malloc'd (caller frees)
 * or NULL for JSON null (SQL NULL). False with a reason in err (256 bytes) when the JSON type
 * does not fit (a string into an integer column, a fraction into an integer, ...). */
bool sl_sink_render(const json_t *v, int kind, char **out, char *err);

#endif
