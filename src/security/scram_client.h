/* scram_client.h -- the client's side of SCRAM-SHA-256/512 (RFC 5802, RFC 7677), as a broker runs
 * it inside SaslAuthenticate when it authenticates to another broker (inter-broker SASL). The
 * server's side is in scram.h. */
#ifndef SL_SCRAM_CLIENT_H
#define SL_SCRAM_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "security/scram.h"

typedef struct sl_scram_client {
    sl_scram_mech_t mech;
    char nonce[64];                              /* the client's nonce (printable) */
    char first_bare[3 * SL_SCRAM_MAX_USER + 96]; /* "n=" saslname ",r=" nonce */
    uint8_t server_sig[SL_SCRAM_MAX_HASH];       /* the ServerSignature server-final must carry */
    int step;                                    /* 0 new, 1 first sent, 2 final sent */
} sl_scram_client_t;

/* Starts an exchange for `user` and writes client-first ("n,,n=USER,r=NONCE", NUL-terminated)
 * into out (`cap` bytes), its length in *out_len. `fixed_nonce` NULL draws a random nonce; tests
 * pass the RFC's. SL_ERR_INVAL for an empty or overlong user name or a short buffer. */
SL_MUST_USE sl_err_t sl_scram_client_first(sl_scram_client_t *c, sl_scram_mech_t m,
                                           const char *user, const char *fixed_nonce, char *out,
                                           size_t cap, size_t *out_len);
/* Takes server-first (`len` bytes, not NUL-terminated), derives the keys from `password` and
 * writes client-final into out. SL_ERR_INVAL with the reason in `why` when server-first is
 * malformed, does not extend our nonce, or asks for an iteration count outside Kafka's bounds
 * (4096..16384: a server cannot make us spin). */
SL_MUST_USE sl_err_t sl_scram_client_final(sl_scram_client_t *c, const char *password,
                                           const uint8_t *msg, size_t len, char *out, size_t cap,
                                           size_t *out_len, char *why, size_t why_cap);
/* Checks server-final: SL_OK when it proves the server knew our credential; SL_ERR_INVAL with
 * the reason in `why` for an error ("e=..."), a wrong signature or a malformed message. */
SL_MUST_USE sl_err_t sl_scram_client_verify(const sl_scram_client_t *c, const uint8_t *msg,
                                            size_t len, char *why, size_t why_cap);

#endif
