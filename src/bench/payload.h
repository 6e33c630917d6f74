/* payload.h -- record bodies for `sluice bench`: the design's data set (id, event timestamp, user
 * id, metadata and a chat / transaction / IoT body) rendered as compact JSON after the harness's
 * 24-byte header, at sizes drawn from a weighted mix, with optional event-time disorder; and the
 * consumer-side count of out-of-order event timestamps.
 *
 * Record layout (the header is written by run.c and never touched here):
 *   [0, 24)   magic "SLB1", producer index, sequence, intended send time (see run.c)
 *   [24, n)   payload=fixed: 'a'..'z' repeated (the harness's original filler), or
 *             {"ts":EVENT_MS,"id":"P-SEQ","user":"uK","meta":"k=v;k=v;...","body":{"kind":...}}
 *             padded with blanks inside the body so that the record is exactly n bytes.
 * The event timestamp is always the first field, so consumers find it at a fixed offset.
 * Deterministic: the same spec and seed give the same records. */
#ifndef SL_BENCH_PAYLOAD_H
#define SL_BENCH_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

#define SL_PAYLOAD_HDR       24  /* the harness's header, before any payload byte */
#define SL_PAYLOAD_MIN       512 /* smallest record a rendered kind fits in */
#define SL_PAYLOAD_MAX       (16 << 20)
#define SL_PAYLOAD_MAX_SIZES 16

typedef enum sl_payload_kind {
    SL_PAYLOAD_FIXED, /* header + a-z filler: the harness's original records */
    SL_PAYLOAD_CHAT,
    SL_PAYLOAD_TRANSACTION,
    SL_PAYLOAD_IOT,
    SL_PAYLOAD_MIX /* chat, transaction and iot in equal shares */
} sl_payload_kind_t;

typedef struct sl_payload_spec {
    sl_payload_kind_t kind;
    int n_sizes;
    uint32_t size[SL_PAYLOAD_MAX_SIZES];
    uint32_t cum_weight[SL_PAYLOAD_MAX_SIZES]; /* running sum of the weights */
    uint32_t max_size;
    int64_t disorder_ms;      /* 0 = event time is the intended send time */
    double disorder_fraction; /* share of records whose event time is moved back 1..ms */
    uint64_t seed;
} sl_payload_spec_t;

/* Builds a spec from the bench settings: kind "fixed|chat|transaction|iot|mix"; sizes
 * "SIZE[:WEIGHT],..." (SIZE may end in k = 1024; weight defaults to 1), or "" for every record
 * at `size`; disorder_ms >= 0; fraction a decimal in [0, 1]. Returns SL_OK or SL_ERR_INVAL with
 * the reason in err (SL_ERRLEN bytes). Thread: any. */
SL_MUST_USE sl_err_t sl_payload_spec_init(sl_payload_spec_t *s, const char *kind, const char *sizes,
                                          int64_t size, int64_t disorder_ms, const char *fraction,
                                          uint64_t seed, char *err);
/* The kind's name as accepted by sl_payload_spec_init. */
const char *sl_payload_kind_name(sl_payload_kind_t kind);

/* One generator per producer thread: it owns a record buffer of spec->max_size bytes and the
 * templates, built once here; sl_payload_next allocates nothing. */
typedef struct sl_payload_gen sl_payload_gen_t;
sl_payload_gen_t *sl_payload_gen_new(const sl_payload_spec_t *s, int producer);
void sl_payload_gen_free(sl_payload_gen_t *g);
/* The record buffer: the caller writes the 24-byte header into its first bytes. */
uint8_t *sl_payload_buf(sl_payload_gen_t *g);

/* Picks the next record's size and kind and renders its body after the header. `due_ms` is the
 * intended send time on the wall clock (ms); the event timestamp written is due_ms, or for a
 * disordered record due_ms minus 1..disorder_ms, and is returned in *event_ms_out (may be NULL).
 * `user` is the record's key index. Returns the record length (header included). Thread: the
 * generator's owner. */
size_t sl_payload_next(sl_payload_gen_t *g, uint64_t seq, int64_t due_ms, uint64_t user,
                       int64_t *event_ms_out);

/* The event timestamp of a received record, or -1 when it has none (payload=fixed, or not a
 * rendered record). Reads only the first bytes after the header. Thread: any. */
int64_t sl_payload_event_ms(const void *rec, size_t n);

/* Out-of-order accounting on the consumer side: a record is out of order when a record received
 * earlier from the same producer and the same partition (the drivers send a producer's records
 * round robin, so its sequence number gives the partition) carries a later event timestamp.
 * (The raw --connections driver rotates partitions per request instead, so there reordering in
 * transit counts too.) One per consumer thread; merged by adding the counts. */
typedef struct sl_disorder {
    int64_t *max_ms; /* latest event time seen, per producer and partition */
    int producers, partitions;
    uint64_t seen, late;
} sl_disorder_t;

void sl_disorder_init(sl_disorder_t *d, int producers, int partitions);
void sl_disorder_fini(sl_disorder_t *d);
/* Counts one (non-duplicate) record; producers out of range are ignored. */
void sl_disorder_note(sl_disorder_t *d, int producer, uint64_t seq, int64_t event_ms);

/* Prints the payload part of the summary (one line) to `f`, or its JSON members (starting with a
 * comma) when json != 0. `bytes`/`records` are what the producers sent. Nothing for fixed
 * records of one size with no disorder, so the original output is unchanged. */
void sl_payload_report(FILE *f, int json, const sl_payload_spec_t *s, const sl_disorder_t *d,
                       uint64_t bytes, uint64_t records);

#endif
