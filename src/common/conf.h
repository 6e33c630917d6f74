/* conf.h -- table-driven configuration: one table gives each key's type, default, bounds, target
 * field and help text; parsing, range checks, defaults, --help and docs all come from it. */
#ifndef SL_CONF_H
#define SL_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SL_CONF_STR_MAX 256
#define SL_CONF_MAP_MAX 4096

typedef enum sl_conf_type {
    SL_CONF_INT,     /* int64_t field; value is a decimal integer */
    SL_CONF_BOOL,    /* bool field; true/false */
    SL_CONF_STR,     /* char[SL_CONF_STR_MAX] field */
    SL_CONF_IGNORED, /* a Kafka key accepted for compatibility and ignored (logged once) */
    SL_CONF_PREFIX   /* every key starting with `name` (Kafka's "listener.name."): char
                      * [SL_CONF_MAP_MAX] field of "rest=value\n" lines, later ones winning; its
                      * def is NULL (no default, not listed by DescribeConfigs) */
} sl_conf_type_t;

typedef struct sl_conf_def {
    const char *name;
    sl_conf_type_t type;
    const char *def; /* default as text; NULL for aliases */
    int64_t min, max;
    size_t offset;      /* of the target field */
    int64_t multiplier; /* aliases in other units: the value is multiplied (0 = 1) */
    const char *help;
} sl_conf_def_t;

/* Writes every default into `target`. Aliases (def == NULL) are skipped. */
void sl_conf_defaults(const sl_conf_def_t *defs, size_t n, void *target);
/* Sets one key. Returns SL_OK, SL_ERR_NOTFOUND (unknown key) or SL_ERR_INVAL (bad value or out of
 * range); `err` (SL_ERRLEN bytes) names the key and the reason. */
SL_MUST_USE sl_err_t sl_conf_set(const sl_conf_def_t *defs, size_t n, void *target, const char *key,
                                 const char *value, char *err);
/* Parses "key=value" and sets it. */
SL_MUST_USE sl_err_t sl_conf_set_kv(const sl_conf_def_t *defs, size_t n, void *target,
                                    const char *kv, char *err);
/* Loads a Java-style properties file (key=value or key: value, # and ! comments). */
SL_MUST_USE sl_err_t sl_conf_load_file(const sl_conf_def_t *defs, size_t n, void *target,
                                       const char *path, char *err);
/* The value of `rest` (the key after the prefix) in a SL_CONF_PREFIX field, or NULL. Keys
 * compare case-insensitively up to the first '.' after which they compare exactly (so the
 * listener name in "listener.name.ssl.ssl.client.auth" may be upper or lower case). */
const char *sl_conf_map_get(const char *field, const char *rest, char *out, size_t cap);
/* Finds a key's definition (an exact name, else a SL_CONF_PREFIX def that prefixes it); NULL if
 * unknown. */
const sl_conf_def_t *sl_conf_find(const sl_conf_def_t *defs, size_t n, const char *key);
/* Formats a key's current value from `target` into out (SL_CONF_STR_MAX bytes). */
void sl_conf_format(const sl_conf_def_t *def, const void *target, char *out);

#endif
