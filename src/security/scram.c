/* scram.c -- SCRAM credentials and the server's exchange (RFC 5802 section 3 and 5).
 *
 *   client-first  = gs2-header client-first-bare      gs2-header = "n,," or "n,a=AUTHZID,"
 *   client-first-bare = "n=" saslname ",r=" c-nonce [,extensions]
 *   server-first  = "r=" c-nonce s-nonce ",s=" salt ",i=" iterations
 *   client-final  = "c=" base64(gs2-header) ",r=" nonce ",p=" base64(ClientProof)
 *   server-final  = "v=" base64(ServerSignature)
 *   AuthMessage   = client-first-bare "," server-first "," client-final-without-proof
 * Messages are parsed by length (they are not NUL-terminated on the wire); every field is
 * bounded before it is copied. */
#include "scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static const char *const mech_names[SL_SCRAM_N] = {"SCRAM-SHA-256", "SCRAM-SHA-512"};

const char *sl_scram_mech_name(sl_scram_mech_t m) {
    return m < SL_SCRAM_N ? mech_names[m] : "?";
}

int sl_scram_mech_find(const char *name, size_t len) {
    for (int m = 0; m < SL_SCRAM_N; m++) {
        if (strlen(mech_names[m]) == len && !memcmp(mech_names[m], name, len)) {
            return m;
        }
    }
    return -1;
}

int8_t sl_scram_mech_kafka_type(sl_scram_mech_t m) {
    return (int8_t)(m + 1);
}

int sl_scram_mech_from_kafka_type(int8_t t) {
    return t == 1 || t == 2 ? t - 1 : -1;
}

size_t sl_scram_hash_len(sl_scram_mech_t m) {
    return m == SL_SCRAM_SHA512 ? 64 : 32;
}

static const EVP_MD *md_of(sl_scram_mech_t m) {
    return m == SL_SCRAM_SHA512 ? EVP_sha512() : EVP_sha256();
}

sl_err_t sl_scram_salted_password(sl_scram_mech_t m, const char *pw, size_t pw_len,
                                  const uint8_t *salt, size_t salt_len, int32_t iterations,
                                  uint8_t *out) {
    if (iterations <= 0 || PKCS5_PBKDF2_HMAC(pw, (int)pw_len, salt, (int)salt_len, iterations,
                                             md_of(m), (int)sl_scram_hash_len(m), out) != 1) {
        return SL_ERR_INVAL;
    }
    return SL_OK;
}

static bool hmac(sl_scram_mech_t m, const uint8_t *key, size_t key_len, const void *msg, size_t len,
                 uint8_t *out) {
    unsigned int n = 0;
    return HMAC(md_of(m), key, (int)key_len, msg, len, out, &n) != NULL;
}

static bool digest(sl_scram_mech_t m, const uint8_t *in, size_t len, uint8_t *out) {
    unsigned int n = 0;
    return EVP_Digest(in, len, out, &n, md_of(m), NULL) == 1;
}

sl_err_t sl_scram_cred_from_salted(sl_scram_mech_t m, const uint8_t *salted, const uint8_t *salt,
                                   size_t salt_len, int32_t iterations, sl_scram_cred_t *out) {
    size_t h = sl_scram_hash_len(m);
    if (salt_len > SL_SCRAM_MAX_SALT) {
        return SL_ERR_INVAL;
    }
    memset(out, 0, sizeof *out);
    memcpy(out->salt, salt, salt_len);
    out->salt_len = salt_len;
    out->iterations = iterations;
    uint8_t client_key[SL_SCRAM_MAX_HASH];
    if (!hmac(m, salted, h, "Client Key", 10, client_key) ||
        !digest(m, client_key, h, out->stored_key) ||
        !hmac(m, salted, h, "Server Key", 10, out->server_key)) {
        return SL_ERR_INVAL;
    }
    OPENSSL_cleanse(client_key, sizeof client_key);
    return SL_OK;
}

bool sl_scram_check_password(sl_scram_mech_t m, const sl_scram_cred_t *cred, const char *pw,
                             size_t pw_len) {
    uint8_t salted[SL_SCRAM_MAX_HASH];
    sl_scram_cred_t c;
    bool ok = sl_scram_salted_password(m, pw, pw_len, cred->salt, cred->salt_len, cred->iterations,
                                       salted) == SL_OK &&
              sl_scram_cred_from_salted(m, salted, cred->salt, cred->salt_len, cred->iterations,
                                        &c) == SL_OK &&
              CRYPTO_memcmp(c.stored_key, cred->stored_key, sl_scram_hash_len(m)) == 0;
    OPENSSL_cleanse(salted, sizeof salted);
    OPENSSL_cleanse(&c, sizeof c);
    return ok;
}

size_t sl_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap) {
    if (cap < 4 * ((n + 2) / 3) + 1) {
        if (cap) {
            out[0] = '\0';
        }
        return 0;
    }
    return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

long sl_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap) {
    if (n % 4 != 0 || n / 4 * 3 > cap + 2) {
        return -1;
    }
    uint8_t tmp[1024];
    if (n / 4 * 3 > sizeof tmp) {
        return -1;
    }
    int r = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)n);
    if (r < 0) {
        return -1;
    }
    /* EVP_DecodeBlock keeps the padding's zero bytes: take them off. */
    size_t len = (size_t)r;
    if (n >= 1 && in[n - 1] == '=') {
        len--;
    }
    if (n >= 2 && in[n - 2] == '=') {
        len--;
    }
    if (len > cap) {
        return -1;
    }
    memcpy(out, tmp, len);
    return (long)len;
}

void sl_scram_server_init(sl_scram_server_t *s, sl_scram_mech_t m) {
    memset(s, 0, sizeof *s);
    s->mech = m;
}

void sl_scram_server_fini(sl_scram_server_t *s) {
    free(s->auth_msg);
    OPENSSL_cleanse(s, sizeof *s);
}

/* A field "X=value" at *p within [*p, end): its value and length; advances past a comma. */
static bool field(const char **p, const char *end, char name, const char **val, size_t *len) {
    if (end - *p < 2 || (*p)[0] != name || (*p)[1] != '=') {
        return false;
    }
    const char *v = *p + 2, *comma = memchr(v, ',', (size_t)(end - v));
    const char *stop = comma ? comma : end;
    *val = v;
    *len = (size_t)(stop - v);
    *p = comma ? comma + 1 : end;
    return true;
}

/* saslname: "=2C" is ',', "=3D" is '=', any other '=' is an error (RFC 5802 5.1). */
static bool decode_saslname(const char *in, size_t n, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '=') {
            if (n - i >= 3 && in[i + 1] == '2' && in[i + 2] == 'C') {
                c = ',';
            } else if (n - i >= 3 && in[i + 1] == '3' && in[i + 2] == 'D') {
                c = '=';
            } else {
                return false;
            }
            i += 2;
        } else if (c == '\0') {
            return false;
        }
        if (o + 1 >= cap) {
            return false;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return o > 0;
}

static bool printable_nonce(const char *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (v[i] < 0x21 || v[i] > 0x7e || v[i] == ',') {
            return false;
        }
    }
    return n > 0;
}

static sl_scram_rc_t bad(char *why, size_t cap, const char *what) {
    snprintf(why, cap, "%s", what);
    return SL_SCRAM_BAD;
}

static sl_scram_rc_t client_first(sl_scram_server_t *s, const char *msg, size_t len,
                                  sl_scram_lookup_fn *lookup, void *opaque, char *out, size_t cap,
                                  size_t *out_len, char *why, size_t why_cap) {
    const char *p = msg, *end = msg + len;
    /* gs2-header: cbind flag, optional authzid, then the bare message. */
    if (len < 3 || (p[0] != 'n' && p[0] != 'y') || p[1] != ',') {
        return bad(why, why_cap, "client-first: channel binding is not supported");
    }
    const char *authz_end = memchr(p + 2, ',', (size_t)(end - p - 2));
    if (!authz_end) {
        return bad(why, why_cap, "client-first: no gs2 header");
    }
    size_t gs2_len = (size_t)(authz_end + 1 - p);
    if (gs2_len >= sizeof s->gs2) {
        return bad(why, why_cap, "client-first: gs2 header too long");
    }
    memcpy(s->gs2, p, gs2_len);
    s->gs2[gs2_len] = '\0';
    const char *bare = authz_end + 1;
    p = bare;
    const char *v, *cn;
    size_t vn, cnn;
    if (!field(&p, end, 'n', &v, &vn) || !decode_saslname(v, vn, s->user, sizeof s->user)) {
        return bad(why, why_cap, "client-first: bad user name");
    }
    if (authz_end > msg + 2) {
        /* An authzid must name the same user (Kafka's rule). */
        char authz[SL_SCRAM_MAX_USER];
        if (authz_end - msg < 4 || msg[2] != 'a' || msg[3] != '=' ||
            !decode_saslname(msg + 4, (size_t)(authz_end - msg - 4), authz, sizeof authz) ||
            strcmp(authz, s->user) != 0) {
            return bad(why, why_cap, "client-first: authorization id differs from the user");
        }
    }
    if (!field(&p, end, 'r', &cn, &cnn) || !printable_nonce(cn, cnn) || cnn > 64) {
        return bad(why, why_cap, "client-first: bad nonce");
    }
    while (p < end) { /* extensions: only Kafka's tokenauth is known, and tokens are not */
        const char *e = p;
        const char *comma = memchr(p, ',', (size_t)(end - p));
        p = comma ? comma + 1 : end;
        const char *eq = memchr(e, '=', (size_t)((comma ? comma : end) - e));
        if (!eq || eq == e) {
            return bad(why, why_cap, "client-first: malformed extension");
        }
        if ((size_t)(end - e) >= 10 && !memcmp(e, "tokenauth=", 10)) {
            snprintf(why, why_cap, "delegation tokens are not supported");
            return SL_SCRAM_FAIL;
        }
    }
    if (!lookup(opaque, s->user, s->mech, &s->cred)) {
        snprintf(why, why_cap, "unknown user");
        return SL_SCRAM_FAIL;
    }
    uint8_t rnd[24];
    char snonce[40];
    if (s->fixed_nonce) {
        snprintf(snonce, sizeof snonce, "%s", s->fixed_nonce);
    } else if (RAND_bytes(rnd, sizeof rnd) == 1) {
        sl_b64_encode(rnd, sizeof rnd, snonce, sizeof snonce);
    } else {
        return bad(why, why_cap, "no random bytes");
    }
    snprintf(s->nonce, sizeof s->nonce, "%.*s%s", (int)cnn, cn, snonce);
    char salt[SL_SCRAM_MAX_SALT * 2];
    sl_b64_encode(s->cred.salt, s->cred.salt_len, salt, sizeof salt);
    int n = snprintf(out, cap, "r=%s,s=%s,i=%d", s->nonce, salt, (int)s->cred.iterations);
    if (n < 0 || (size_t)n >= cap) {
        return bad(why, why_cap, "server-first too long");
    }
    *out_len = (size_t)n;
    size_t bare_len = (size_t)(end - bare);
    s->auth_msg = sl_xcalloc(1, bare_len + 1 + (size_t)n + 1);
    memcpy(s->auth_msg, bare, bare_len);
    s->auth_msg[bare_len] = ',';
    memcpy(s->auth_msg + bare_len + 1, out, (size_t)n);
    s->step = 1;
    return SL_SCRAM_CONTINUE;
}

static sl_scram_rc_t client_final(sl_scram_server_t *s, const char *msg, size_t len, char *out,
                                  size_t cap, size_t *out_len, char *why, size_t why_cap) {
    const char *p = msg, *end = msg + len, *v;
    size_t vn;
    uint8_t gs2[sizeof s->gs2];
    if (!field(&p, end, 'c', &v, &vn)) {
        return bad(why, why_cap, "client-final: no channel binding field");
    }
    long gn = sl_b64_decode(v, vn, gs2, sizeof gs2);
    if (gn < 0 || (size_t)gn != strlen(s->gs2) || memcmp(gs2, s->gs2, (size_t)gn) != 0) {
        return bad(why, why_cap, "client-final: channel binding differs from client-first");
    }
    /* The nonce must end with the one sent in server-first: Kafka's rule (ScramSaslServer checks
     * endsWith), which librdkafka relies on, since it sends its own nonce before the whole
     * server nonce. The AuthMessage uses the message as received, so the proof still binds it. */
    size_t nl = strlen(s->nonce);
    if (!field(&p, end, 'r', &v, &vn) || vn < nl || memcmp(v + vn - nl, s->nonce, nl) != 0) {
        return bad(why, why_cap, "client-final: nonce differs");
    }
    /* Extensions may follow the nonce; the proof is last. */
    const char *proof_at = NULL;
    for (const char *q = p; q < end;) {
        if (end - q >= 2 && q[0] == 'p' && q[1] == '=') {
            proof_at = q;
            break;
        }
        const char *comma = memchr(q, ',', (size_t)(end - q));
        q = comma ? comma + 1 : end;
    }
    if (!proof_at) {
        return bad(why, why_cap, "client-final: no proof");
    }
    size_t without_proof = (size_t)(proof_at - 1 - msg);
    p = proof_at;
    if (!field(&p, end, 'p', &v, &vn) || p != end) {
        return bad(why, why_cap, "client-final: bad proof");
    }
    size_t h = sl_scram_hash_len(s->mech);
    uint8_t proof[SL_SCRAM_MAX_HASH], sig[SL_SCRAM_MAX_HASH], key[SL_SCRAM_MAX_HASH],
        stored[SL_SCRAM_MAX_HASH];
    if (sl_b64_decode(v, vn, proof, sizeof proof) != (long)h) {
        return bad(why, why_cap, "client-final: proof of the wrong length");
    }
    size_t am_len = strlen(s->auth_msg) + 1 + without_proof;
    char *am = sl_xcalloc(1, am_len + 1);
    snprintf(am, am_len + 1, "%s,%.*s", s->auth_msg, (int)without_proof, msg);
    bool ok = hmac(s->mech, s->cred.stored_key, h, am, am_len, sig);
    for (size_t i = 0; i < h; i++) {
        key[i] = proof[i] ^ sig[i];
    }
    ok = ok && digest(s->mech, key, h, stored) && CRYPTO_memcmp(stored, s->cred.stored_key, h) == 0;
    uint8_t server_sig[SL_SCRAM_MAX_HASH];
    ok = ok && hmac(s->mech, s->cred.server_key, h, am, am_len, server_sig);
    free(am);
    OPENSSL_cleanse(key, sizeof key);
    s->step = 2;
    if (!ok) {
        snprintf(why, why_cap, "wrong password");
        return SL_SCRAM_FAIL;
    }
    char b64[SL_SCRAM_MAX_HASH * 2];
    sl_b64_encode(server_sig, h, b64, sizeof b64);
    int n = snprintf(out, cap, "v=%s", b64);
    if (n < 0 || (size_t)n >= cap) {
        return bad(why, why_cap, "server-final too long");
    }
    *out_len = (size_t)n;
    return SL_SCRAM_DONE;
}

sl_scram_rc_t sl_scram_server_step(sl_scram_server_t *s, const uint8_t *msg, size_t len,
                                   sl_scram_lookup_fn *lookup, void *opaque, char *out, size_t cap,
                                   size_t *out_len, char *why, size_t why_cap) {
    *out_len = 0;
    if (len > 4096) {
        return bad(why, why_cap, "SCRAM message too long");
    }
    if (s->step == 0) {
        return client_first(s, (const char *)msg, len, lookup, opaque, out, cap, out_len, why,
                            why_cap);
    }
    if (s->step == 1) {
        return client_final(s, (const char *)msg, len, out, cap, out_len, why, why_cap);
    }
    return bad(why, why_cap, "SCRAM exchange already complete");
}
