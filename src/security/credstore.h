/* credstore.h -- SCRAM credentials by user and mechanism, in memory. The broker fills it from the
 * metadata log (SL_META_SCRAM records) and keeps it in step with AlterUserScramCredentials.
 * Users are kept in a flat array searched linearly: credentials are looked up once per
 * authentication, and a broker has tens of users, not millions. */
#ifndef SL_CREDSTORE_H
#define SL_CREDSTORE_H

#include <stdbool.h>
#include <stddef.h>

#include "security/scram.h"

typedef struct sl_credstore sl_credstore_t;

sl_credstore_t *sl_credstore_new(void);
void sl_credstore_free(sl_credstore_t *st);
/* Sets (adds or replaces) `user`'s credential for `m`. */
void sl_credstore_put(sl_credstore_t *st, const char *user, sl_scram_mech_t m,
                      const sl_scram_cred_t *cred);
/* Removes it; false if there was none. A user left with no credential is forgotten. */
bool sl_credstore_delete(sl_credstore_t *st, const char *user, sl_scram_mech_t m);
/* Copies `user`'s credential for `m` into *out; false if there is none. */
bool sl_credstore_get(const sl_credstore_t *st, const char *user, sl_scram_mech_t m,
                      sl_scram_cred_t *out);
/* Users with at least one credential, in the order first added; `i` < sl_credstore_users. */
size_t sl_credstore_users(const sl_credstore_t *st);
const char *sl_credstore_user(const sl_credstore_t *st, size_t i);
/* Whether user `i` has a credential for `m`, and its iteration count. */
bool sl_credstore_user_has(const sl_credstore_t *st, size_t i, sl_scram_mech_t m,
                           int32_t *iterations);

#endif
