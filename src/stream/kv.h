/* kv.h -- the in-memory keyed state store of one task: byte keys to byte values, with the
 * transaction a checkpoint needs.
 *
 * Every change since the last sl_kv_commit is remembered once per key (the value the key had at
 * the commit), so the store can
 *   - list the keys changed since the commit, with their new value or a tombstone: the changelog
 *     records of the next checkpoint (one per key touched, however often it changed);
 *   - sl_kv_abort back to the committed image when the checkpoint's Kafka transaction aborts,
 *     without reading anything back from Kafka.
 * Open addressing with linear probing and backward-shift deletion; each entry is one allocation
 * holding its key and value. Memory in use is counted (sl_kv_bytes) so the engine can enforce a
 * budget. Thread: the owning lane only. */
#ifndef SL_STREAM_KV_H
#define SL_STREAM_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

typedef struct sl_kv sl_kv_t;

sl_kv_t *sl_kv_new(void);
void sl_kv_free(sl_kv_t *kv);

/* Finds `key`; *val views the stored value until the next change to the store. */
bool sl_kv_get(const sl_kv_t *kv, sl_bytes_t key, sl_bytes_t *val);
/* Sets key to a copy of val (key and val may point into the store's own value: they are copied
 * before anything is freed). */
void sl_kv_put(sl_kv_t *kv, sl_bytes_t key, sl_bytes_t val);
/* Removes key; false if it was not there. */
bool sl_kv_del(sl_kv_t *kv, sl_bytes_t key);

size_t sl_kv_count(const sl_kv_t *kv);
/* Bytes held: entries, the table, and the committed copies kept for an abort. */
size_t sl_kv_bytes(const sl_kv_t *kv);

typedef void sl_kv_each_fn(sl_bytes_t key, const sl_bytes_t *val /* NULL: deleted */, void *arg);
/* Calls fn for every key changed since the last commit, in first-change order, with its current
 * value or NULL for a key that no longer exists. A key changed and changed back is still listed
 * (the changelog upsert is harmless); a key created and deleted again is listed as deleted. */
void sl_kv_each_changed(const sl_kv_t *kv, sl_kv_each_fn *fn, void *arg);
size_t sl_kv_changed_count(const sl_kv_t *kv);
/* The current image becomes the committed one. */
void sl_kv_commit(sl_kv_t *kv);
/* Back to the committed image: every change since the last commit is undone. */
void sl_kv_abort(sl_kv_t *kv);

/* Calls fn for every entry (unspecified order). The store must not change during the walk. */
void sl_kv_each(const sl_kv_t *kv, sl_kv_each_fn *fn, void *arg);

#endif
