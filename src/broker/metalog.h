/* metalog.h -- the metadata log: topics, partition counts and topic configs as an append-only
 * record file, replayed at start-up. With replication it becomes the controller's Raft log. */
#ifndef SL_METALOG_H
#define SL_METALOG_H

#include <stddef.h>
#include <stdint.h>

#include "broker/config.h"
#include "common/err.h"

typedef enum sl_meta_type {
    SL_META_TOPIC_CREATE = 1,   /* name, id, partitions, configs */
    SL_META_TOPIC_DELETE = 2,   /* name */
    SL_META_PARTITIONS = 3,     /* name, partitions */
    SL_META_CONFIGS = 4,        /* name, configs (replaces all overrides) */
    SL_META_PID_BLOCK = 5,      /* value: producer ids below it have been handed out */
    SL_META_QUOTA = 6,          /* configs: a client-quota entity and its values (handle_quota.c) */
    SL_META_BROKER_CONFIGS = 7, /* name ("" cluster default, or a node id), configs (replaces
                                   that scope's dynamic broker configs: dynconf.h) */
    SL_META_SCRAM = 8,          /* name: a user; configs: mechanism and its salted credential
                                   (salt, iterations, stored_key, server_key in base64), or
                                   mechanism and deleted=true (handle_sasl.c) */
} sl_meta_type_t;

typedef struct sl_meta_rec {
    sl_meta_type_t type;
    const char *name;
    uint8_t id[16];
    int32_t partitions;
    const sl_kv_t *configs;
    size_t n_configs;
    int64_t value; /* SL_META_PID_BLOCK only */
} sl_meta_rec_t;

typedef struct sl_metalog sl_metalog_t;
typedef void sl_meta_apply_fn(const sl_meta_rec_t *rec, void *opaque);

/* Opens <dir>/__metadata.log, replays every intact record through `apply` (in order), and
 * truncates a torn or corrupt tail. NULL on failure with the reason in err. */
sl_metalog_t *sl_metalog_open(const char *dir, sl_meta_apply_fn *apply, void *opaque, char *err);
/* Appends a record and fdatasyncs it before returning (metadata changes are rare and must be
 * durable before they are acknowledged). SL_OK or SL_ERR_IO/SL_ERR_NOSPACE. */
SL_MUST_USE sl_err_t sl_metalog_append(sl_metalog_t *ml, const sl_meta_rec_t *rec);
void sl_metalog_close(sl_metalog_t *ml);

#endif
