/* scram_client.c -- SCRAM's client side (scram_client.h): client-first, client-final with the
 * proof, and the check of the server's signature, in the message forms scram.c describes.
 *   SaltedPassword  = Hi(password, salt, i)     ClientKey = HMAC(SaltedPassword, "Client Key")
 *   StoredKey       = H(ClientKey)              ClientSignature = HMAC(StoredKey, AuthMessage)
 *   ClientProof     = ClientKey XOR ClientSignature
 *   ServerSignature = HMAC(HMAC(SaltedPassword, "Server Key"), AuthMessage) */
#include "scram_client.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

static const EVP_MD *md_of(sl_scram_mech_t m) {
    return m == SL_SCRAM_SHA512 ? EVP_sha512() : EVP_sha256();
}

static bool hmac(sl_scram_mech_t m, const uint8_t *key, size_t key_len, const void *msg, size_t len,
                 uint8_t *out) {
    unsigned int n = 0;
    return HMAC(md_of(m), key, (int)key_len, msg, len, out, &n) != NULL;
}

static sl_err_t fail(char *why, size_t cap, const char *what) {
    snprintf(why, cap, "%s", what);
    return SL_ERR_INVAL;
}

sl_err_t sl_scram_client_first(sl_scram_client_t *c, sl_scram_mech_t m, const char *user,
                               const char *fixed_nonce, char *out, size_t cap, size_t *out_len) {
    memset(c, 0, sizeof *c);
    c->mech = m;
    size_t ulen = strlen(user);
    if (ulen == 0 || ulen >= SL_SCRAM_MAX_USER) {
        return SL_ERR_INVAL;
    }
    if (fixed_nonce) {
        if (strlen(fixed_nonce) >= sizeof c->nonce) {
            return SL_ERR_INVAL;
        }
        snprintf(c->nonce, sizeof c->nonce, "%s", fixed_nonce);
    } else {
        uint8_t rnd[24];
        if (RAND_bytes(rnd, sizeof rnd) != 1) {
            return SL_ERR_INVAL;
        }
        (void)sl_b64_encode(rnd, sizeof rnd, c->nonce, sizeof c->nonce);
    }
    /* saslname: ',' and '=' are escaped (RFC 5802 section 5.1). */
    size_t n = (size_t)snprintf(c->first_bare, sizeof c->first_bare, "n=");
    for (const char *s = user; *s; s++) {
        const char *esc = *s == ',' ? "=2C" : *s == '=' ? "=3D" : NULL;
        n += (size_t)snprintf(c->first_bare + n, sizeof c->first_bare - n, "%s",
                              esc ? esc : (char[]){*s, '\0'});
    }
    n += (size_t)snprintf(c->first_bare + n, sizeof c->first_bare - n, ",r=%s", c->nonce);
    if (n >= sizeof c->first_bare) {
        return SL_ERR_INVAL;
    }
    int w = snprintf(out, cap, "n,,%s", c->first_bare);
    if (w < 0 || (size_t)w >= cap) {
        return SL_ERR_INVAL;
    }
    *out_len = (size_t)w;
    c->step = 1;
    return SL_OK;
}

/* The value of attribute `name` ("r", "s", "i") in a comma-separated message; false if absent.
 * The view points into msg. */
static bool attr(const char *msg, size_t len, char name, const char **val, size_t *vlen) {
    const char *p = msg, *end = msg + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        if (stop - p >= 2 && p[0] == name && p[1] == '=') {
            *val = p + 2;
            *vlen = (size_t)(stop - p - 2);
            return true;
        }
        p = comma ? comma + 1 : end;
    }
    return false;
}

sl_err_t sl_scram_client_final(sl_scram_client_t *c, const char *password, const uint8_t *msg,
                               size_t len, char *out, size_t cap, size_t *out_len, char *why,
                               size_t why_cap) {
    const char *sf = (const char *)msg;
    const char *r, *s, *i;
    size_t rlen, slen, ilen;
    if (c->step != 1) {
        return fail(why, why_cap, "server-first out of order");
    }
    if (len > 1024 || memchr(sf, '\0', len)) {
        return fail(why, why_cap, "server-first malformed");
    }
    if (len >= 2 && sf[0] == 'e' && sf[1] == '=') {
        snprintf(why, why_cap, "server refused: %.*s", (int)SL_MIN(len - 2, 200), sf + 2);
        return SL_ERR_INVAL;
    }
    if (!attr(sf, len, 'r', &r, &rlen) || !attr(sf, len, 's', &s, &slen) ||
        !attr(sf, len, 'i', &i, &ilen) || r != sf + 2) {
        return fail(why, why_cap, "server-first malformed");
    }
    size_t cn = strlen(c->nonce);
    if (rlen <= cn || memcmp(r, c->nonce, cn) != 0 || memchr(r, ',', rlen)) {
        return fail(why, why_cap, "server nonce does not extend ours");
    }
    long iters = 0;
    for (size_t k = 0; k < ilen && iters <= SL_SCRAM_MAX_ITER; k++) {
        if (i[k] < '0' || i[k] > '9') {
            return fail(why, why_cap, "server-first malformed");
        }
        iters = iters * 10 + (i[k] - '0');
    }
    if (ilen == 0 || iters < SL_SCRAM_MIN_ITER || iters > SL_SCRAM_MAX_ITER) {
        return fail(why, why_cap, "iteration count out of bounds (4096..16384)");
    }
    uint8_t salt[SL_SCRAM_MAX_SALT];
    long saltn = sl_b64_decode(s, slen, salt, sizeof salt);
    if (saltn <= 0) {
        return fail(why, why_cap, "bad salt");
    }
    size_t h = sl_scram_hash_len(c->mech);
    uint8_t salted[SL_SCRAM_MAX_HASH], ckey[SL_SCRAM_MAX_HASH], stored[SL_SCRAM_MAX_HASH],
        csig[SL_SCRAM_MAX_HASH], skey[SL_SCRAM_MAX_HASH];
    char without_proof[256];
    int wp = snprintf(without_proof, sizeof without_proof, "c=biws,r=%.*s", (int)rlen, r);
    if (wp < 0 || (size_t)wp >= sizeof without_proof) {
        return fail(why, why_cap, "server nonce too long");
    }
    /* AuthMessage = client-first-bare "," server-first "," client-final-without-proof */
    char auth[2048];
    int an = snprintf(auth, sizeof auth, "%s,%.*s,%s", c->first_bare, (int)len, sf, without_proof);
    unsigned int dn = 0;
    if (an < 0 || (size_t)an >= sizeof auth ||
        sl_scram_salted_password(c->mech, password, strlen(password), salt, (size_t)saltn,
                                 (int32_t)iters, salted) != SL_OK ||
        !hmac(c->mech, salted, h, "Client Key", 10, ckey) ||
        EVP_Digest(ckey, h, stored, &dn, md_of(c->mech), NULL) != 1 ||
        !hmac(c->mech, stored, h, auth, (size_t)an, csig) ||
        !hmac(c->mech, salted, h, "Server Key", 10, skey) ||
        !hmac(c->mech, skey, h, auth, (size_t)an, c->server_sig)) {
        return fail(why, why_cap, "key derivation failed");
    }
    uint8_t proof[SL_SCRAM_MAX_HASH];
    for (size_t k = 0; k < h; k++) {
        proof[k] = ckey[k] ^ csig[k];
    }
    char proof64[2 * SL_SCRAM_MAX_HASH];
    (void)sl_b64_encode(proof, h, proof64, sizeof proof64);
    OPENSSL_cleanse(salted, sizeof salted);
    OPENSSL_cleanse(ckey, sizeof ckey);
    int w = snprintf(out, cap, "%s,p=%s", without_proof, proof64);
    if (w < 0 || (size_t)w >= cap) {
        return fail(why, why_cap, "client-final does not fit");
    }
    *out_len = (size_t)w;
    c->step = 2;
    return SL_OK;
}

sl_err_t sl_scram_client_verify(const sl_scram_client_t *c, const uint8_t *msg, size_t len,
                                char *why, size_t why_cap) {
    const char *sf = (const char *)msg;
    if (c->step != 2) {
        return fail(why, why_cap, "server-final out of order");
    }
    if (len >= 2 && sf[0] == 'e' && sf[1] == '=') {
        snprintf(why, why_cap, "server refused: %.*s", (int)SL_MIN(len - 2, 200), sf + 2);
        return SL_ERR_INVAL;
    }
    const char *v;
    size_t vlen;
    uint8_t sig[SL_SCRAM_MAX_HASH + 4];
    size_t h = sl_scram_hash_len(c->mech);
    if (len > 1024 || !attr(sf, len, 'v', &v, &vlen) || v != sf + 2) {
        return fail(why, why_cap, "server-final malformed");
    }
    long n = sl_b64_decode(v, vlen, sig, sizeof sig);
    if (n != (long)h || CRYPTO_memcmp(sig, c->server_sig, h) != 0) {
        return fail(why, why_cap, "server signature does not match: not the broker we know");
    }
    return SL_OK;
}
