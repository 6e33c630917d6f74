/* oauth.h -- SASL OAUTHBEARER (RFC 7628) as Kafka runs it (KIP-255): the client's first message
 * carries a JWT, which the broker checks against a configured key with libjwt; no round trips to
 * an authorization server. The token's signature, expiry, audience and issuer are checked, and
 * the principal is one of its claims (`sub` unless configured). */
#ifndef SL_OAUTH_H
#define SL_OAUTH_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct sl_oauth_conf {
    const char *public_key_file; /* sasl.oauthbearer.public.key.location: PEM, RS* or ES*, or "" */
    const char *secret;          /* sasl.oauthbearer.secret: HS256 shared secret, or "" */
    int64_t clock_skew_s;        /* sasl.oauthbearer.clock.skew.seconds */
    const char *audience;        /* sasl.oauthbearer.expected.audience: comma-separated, or "" */
    const char *issuer;          /* sasl.oauthbearer.expected.issuer, or "" */
    const char *sub_claim;       /* sasl.oauthbearer.sub.claim.name */
} sl_oauth_conf_t;

typedef struct sl_oauth sl_oauth_t;

/* A validator from `c` (copied; the public key file is read now). Needs a key or a secret. NULL
 * with the reason in `err` (SL_ERRLEN bytes). Thread: main. */
sl_oauth_t *sl_oauth_new(const sl_oauth_conf_t *c, char *err);
void sl_oauth_free(sl_oauth_t *o);

/* Finds the token in an RFC 7628 client first message: gs2 header "n,[a=authzid]," (no channel
 * binding), then \x01-separated key=value pairs ending in \x01\x01, of which "auth" must be
 * "Bearer <token>"; other pairs are Kafka's SASL extensions and are ignored. SL_OK with the
 * token as a view into `msg`, SL_ERR_INVAL if the message is malformed. */
SL_MUST_USE sl_err_t sl_oauth_parse_client_msg(const uint8_t *msg, size_t len, const char **tok,
                                               size_t *tok_len);

/* Verifies a JWT (tok_len bytes, not NUL-terminated) at wall-clock time now_s: the algorithm
 * must match the configured key (HS256 with the secret; RS256/384/512 or ES256/384/512 with the
 * public key; never "none"), the signature must verify, `exp` must be present and
 * now_s < exp + skew, `nbf`/`iat` (if present) no later than now_s + skew, the audience and
 * issuer as configured, and the principal claim a non-empty string. SL_OK with the principal
 * copied into `principal` (cap bytes) and exp into *exp_s; otherwise SL_ERR_INVAL with a
 * reason in `why` (why_cap bytes) that never quotes the token. Thread: any. */
SL_MUST_USE sl_err_t sl_oauth_verify(const sl_oauth_t *o, const char *tok, size_t tok_len,
                                     int64_t now_s, char *principal, size_t cap, int64_t *exp_s,
                                     char *why, size_t why_cap);

#endif
