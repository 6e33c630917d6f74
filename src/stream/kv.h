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
 * budget.
 *
 * A disk store (sl_kv_open) keeps its committed image in RocksDB instead, for state larger than
 * memory: the table then holds only the changes since the commit and a cache of entries read,
 * dropped at a commit once it passes the cache budget. A commit writes the changes in one atomic
 * RocksDB batch together with the changelog offset the image covers (sl_kv_cover), so a restart
 * restores from its local image plus the changelog's tail instead of the whole changelog. Keys
 * starting with a zero byte are the store's own. Thread: the owning lane only. */
#ifndef SL_STREAM_KV_H
#define SL_STREAM_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

typedef struct sl_kv sl_kv_t;

sl_kv_t *sl_kv_new(void);
/* A disk store in directory `dir` (created if missing, reopened with its committed image if it
 * exists), caching at most about cache_bytes between commits. NULL with the reason in errbuf. */
sl_kv_t *sl_kv_open(const char *dir, size_t cache_bytes, char *errbuf, size_t errlen);
void sl_kv_free(sl_kv_t *kv);

/* Finds `key`; *val views the stored value until the next change to the store (a disk store
 * may read it from disk into its cache). */
bool sl_kv_get(sl_kv_t *kv, sl_bytes_t key, sl_bytes_t *val);
/* Sets key to a copy of val (key and val may point into the store's own value: they are copied
 * before anything is freed). */
void sl_kv_put(sl_kv_t *kv, sl_bytes_t key, sl_bytes_t val);
/* A writable view of key's value, for changing it in place: the key must exist and its value
 * be exactly vlen bytes long, else NULL (the caller puts instead). The key counts as changed
 * (listed by sl_kv_each_changed, undone by sl_kv_abort) as after a put; the first change since
 * a commit copies the entry, later ones write the same copy, so a key updated many times per
 * checkpoint costs one lookup each and no allocation. The view is unaligned and valid until the
 * next change to the store. */
uint8_t *sl_kv_modify(sl_kv_t *kv, sl_bytes_t key, size_t vlen);
/* Removes key; false if it was not there. */
bool sl_kv_del(sl_kv_t *kv, sl_bytes_t key);

size_t sl_kv_count(const sl_kv_t *kv);
/* Bytes held in memory: entries, the table, and the committed copies kept for an abort (a disk
 * store's RocksDB memory, bounded by its own settings, is not counted). */
size_t sl_kv_bytes(const sl_kv_t *kv);

typedef void sl_kv_each_fn(sl_bytes_t key, const sl_bytes_t *val /* NULL: deleted */, void *arg);
/* Calls fn for every key changed since the last commit, in first-change order, with its current
 * value or NULL for a key that no longer exists. A key changed and changed back is still listed
 * (the changelog upsert is harmless); a key created and deleted again is listed as deleted. */
void sl_kv_each_changed(const sl_kv_t *kv, sl_kv_each_fn *fn, void *arg);
size_t sl_kv_changed_count(const sl_kv_t *kv);
/* The current image becomes the committed one. A disk store writes it to disk first; SL_ERR_IO
 * (reason in sl_kv_error) when that, or a read since the last commit, failed: the store's disk
 * image is then behind and the task must stop (a restart restores it from the changelog). */
SL_MUST_USE sl_err_t sl_kv_commit(sl_kv_t *kv);
/* Back to the committed image: every change since the last commit is undone. */
void sl_kv_abort(sl_kv_t *kv);

/* Calls fn for every entry (unspecified order). The store must not change during the walk. */
void sl_kv_each(sl_kv_t *kv, sl_kv_each_fn *fn, void *arg);

bool sl_kv_on_disk(const sl_kv_t *kv);
/* The changelog offset from which a restore must read: everything before it is in the disk
 * store's committed image. -1 for memory stores and fresh disk stores (read from the start). */
int64_t sl_kv_covered(const sl_kv_t *kv);
/* The changelog offset the next commit's image will cover (the offset after the last changelog
 * record of the state being committed). */
void sl_kv_cover(sl_kv_t *kv, int64_t next_offset);
/* Empties the store, committed image included (a disk image that does not match its changelog). */
SL_MUST_USE sl_err_t sl_kv_wipe(sl_kv_t *kv);
/* The last disk error, or NULL. */
const char *sl_kv_error(const sl_kv_t *kv);

#endif
