/* scram.h -- SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677): credentials and the server's
 * side of the exchange, as Kafka runs it inside SaslAuthenticate. No channel binding (Kafka has
 * none); the only extension accepted is Kafka's `tokenauth`, which is refused (no tokens here).
 *
 * A credential is what the broker stores: salt, iteration count, StoredKey = H(ClientKey) and
 * ServerKey, never the password. */
#ifndef SL_SCRAM_H
#define SL_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef enum sl_scram_mech { SL_SCRAM_SHA256, SL_SCRAM_SHA512, SL_SCRAM_N } sl_scram_mech_t;

#define SL_SCRAM_MAX_HASH 64
#define SL_SCRAM_MAX_SALT 128
#define SL_SCRAM_MIN_ITER 4096 /* Kafka's bounds */
#define SL_SCRAM_MAX_ITER 16384
#define SL_SCRAM_MAX_USER 256

typedef struct sl_scram_cred {
    uint8_t salt[SL_SCRAM_MAX_SALT];
    size_t salt_len;
    int32_t iterations;
    uint8_t stored_key[SL_SCRAM_MAX_HASH]; /* sl_scram_hash_len bytes */
    uint8_t server_key[SL_SCRAM_MAX_HASH];
} sl_scram_cred_t;

/* "SCRAM-SHA-256" / "SCRAM-SHA-512". */
const char *sl_scram_mech_name(sl_scram_mech_t m);
/* The mechanism named `name` (len bytes), or -1. */
int sl_scram_mech_find(const char *name, size_t len);
/* Kafka's ScramMechanism enum value (1, 2) and back (-1 for others). */
int8_t sl_scram_mech_kafka_type(sl_scram_mech_t m);
int sl_scram_mech_from_kafka_type(int8_t t);
size_t sl_scram_hash_len(sl_scram_mech_t m);

/* SaltedPassword = Hi(password, salt, iterations) (PBKDF2 with the mechanism's HMAC) into
 * `out` (sl_scram_hash_len bytes). */
SL_MUST_USE sl_err_t sl_scram_salted_password(sl_scram_mech_t m, const char *pw, size_t pw_len,
                                              const uint8_t *salt, size_t salt_len,
                                              int32_t iterations, uint8_t *out);
/* The stored credential from a salted password (what AlterUserScramCredentials carries). */
SL_MUST_USE sl_err_t sl_scram_cred_from_salted(sl_scram_mech_t m, const uint8_t *salted,
                                               const uint8_t *salt, size_t salt_len,
                                               int32_t iterations, sl_scram_cred_t *out);
/* Whether `pw` is the password `cred` was made from (constant-time compare): SASL/PLAIN checks
 * its passwords against the same store. */
bool sl_scram_check_password(sl_scram_mech_t m, const sl_scram_cred_t *cred, const char *pw,
                             size_t pw_len);

/* Base64 (RFC 4648, padded). encode writes a NUL-terminated string and returns its length;
 * decode returns the byte count, or -1 for bad input or more than `cap` bytes. */
size_t sl_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap);
long sl_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap);

/* ---- the server's exchange ---- */

/* Finds `user`'s credential for `m`; false if there is none. */
typedef bool sl_scram_lookup_fn(void *opaque, const char *user, sl_scram_mech_t m,
                                sl_scram_cred_t *out);

typedef struct sl_scram_server {
    sl_scram_mech_t mech;
    int step; /* 0: expects client-first, 1: expects client-final, 2: done */
    char user[SL_SCRAM_MAX_USER];
    char nonce[160]; /* client nonce + server nonce */
    char gs2[SL_SCRAM_MAX_USER + 8];
    char *auth_msg; /* client-first-bare "," server-first (heap) */
    sl_scram_cred_t cred;
    const char *fixed_nonce; /* NULL: a random server nonce; set by tests to replay RFC vectors */
} sl_scram_server_t;

typedef enum sl_scram_rc {
    SL_SCRAM_CONTINUE, /* send `out` and wait for the next message */
    SL_SCRAM_DONE,     /* authenticated: send `out` (server-final) */
    SL_SCRAM_FAIL,     /* wrong credentials (or unknown user): `why` says which, for the log */
    SL_SCRAM_BAD,      /* malformed message: `why` */
} sl_scram_rc_t;

void sl_scram_server_init(sl_scram_server_t *s, sl_scram_mech_t m);
void sl_scram_server_fini(sl_scram_server_t *s);
/* Takes the client's next message; writes the answer into out (NUL-terminated, at most `cap`
 * bytes) and its length in *out_len. */
sl_scram_rc_t sl_scram_server_step(sl_scram_server_t *s, const uint8_t *msg, size_t len,
                                   sl_scram_lookup_fn *lookup, void *opaque, char *out, size_t cap,
                                   size_t *out_len, char *why, size_t why_cap);

#endif
