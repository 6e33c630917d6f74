/* oauth.c -- OAUTHBEARER: the RFC 7628 client message and JWT validation (libjwt for the
 * signature, jansson for the header and claims).
 *
 * The algorithm a token may use is decided by the key that is configured, never by the token
 * alone: HS256 only against sasl.oauthbearer.secret, RS and ES algorithms only against the public
 * key, so a token signed with the public key as an HMAC secret (the classic confusion) or with
 * "alg":"none" is refused before libjwt sees it. */
#include "oauth.h"

#include <jansson.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/util.h"

#define MAX_TOKEN   16384
#define MAX_KEY_PEM 65536

struct sl_oauth {
    char *secret;   /* NULL if not configured */
    char *pub_pem;  /* NULL if not configured */
    bool pub_is_ec; /* the PEM holds an EC key (ES*), else RSA (RS*) */
    int64_t skew_s;
    char audience[SL_CONF_STR_MAX];
    char issuer[SL_CONF_STR_MAX];
    char sub_claim[SL_CONF_STR_MAX];
};

static char *read_pem(const char *path, char *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, SL_ERRLEN, "sasl.oauthbearer.public.key.location: cannot open %s", path);
        return NULL;
    }
    char *buf = sl_xmalloc(MAX_KEY_PEM + 1);
    size_t n = fread(buf, 1, MAX_KEY_PEM + 1, f);
    fclose(f);
    if (n == 0 || n > MAX_KEY_PEM || !strstr(buf, "-----BEGIN ")) {
        snprintf(err, SL_ERRLEN, "sasl.oauthbearer.public.key.location: %s is not a PEM key", path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

sl_oauth_t *sl_oauth_new(const sl_oauth_conf_t *c, char *err) {
    if (!*c->secret && !*c->public_key_file) {
        snprintf(err, SL_ERRLEN,
                 "OAUTHBEARER needs sasl.oauthbearer.public.key.location or "
                 "sasl.oauthbearer.secret");
        return NULL;
    }
    if (!*c->sub_claim) {
        snprintf(err, SL_ERRLEN, "sasl.oauthbearer.sub.claim.name is empty");
        return NULL;
    }
    sl_oauth_t *o = sl_xcalloc(1, sizeof *o);
    if (*c->public_key_file) {
        if (!(o->pub_pem = read_pem(c->public_key_file, err))) {
            free(o);
            return NULL;
        }
        /* The key's type decides which algorithms may use it; a file OpenSSL cannot read as a
         * public key is a start-up error rather than a refusal of every token. */
        BIO *bio = BIO_new_mem_buf(o->pub_pem, -1);
        EVP_PKEY *pk = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
        int type = pk ? EVP_PKEY_base_id(pk) : EVP_PKEY_NONE;
        EVP_PKEY_free(pk);
        BIO_free(bio);
        if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
            snprintf(err, SL_ERRLEN,
                     "sasl.oauthbearer.public.key.location: %s is not an RSA or EC public key "
                     "(PEM, BEGIN PUBLIC KEY)",
                     c->public_key_file);
            free(o->pub_pem);
            free(o);
            return NULL;
        }
        o->pub_is_ec = type == EVP_PKEY_EC;
    }
    if (*c->secret) {
        o->secret = sl_xstrdup(c->secret);
    }
    o->skew_s = c->clock_skew_s;
    snprintf(o->audience, sizeof o->audience, "%s", c->audience);
    snprintf(o->issuer, sizeof o->issuer, "%s", c->issuer);
    snprintf(o->sub_claim, sizeof o->sub_claim, "%s", c->sub_claim);
    return o;
}

void sl_oauth_free(sl_oauth_t *o) {
    if (o) {
        free(o->secret);
        free(o->pub_pem);
        free(o);
    }
}

sl_err_t sl_oauth_parse_client_msg(const uint8_t *msg, size_t len, const char **tok,
                                   size_t *tok_len) {
    const char *p = (const char *)msg, *end = p + len;
    /* gs2-header: "n," or "y," (never "p=": no channel binding), optional "a=authzid", ",". */
    if (len < 3 || (p[0] != 'n' && p[0] != 'y') || p[1] != ',') {
        return SL_ERR_INVAL;
    }
    p += 2;
    const char *comma = memchr(p, ',', (size_t)(end - p));
    if (!comma || (comma != p && (comma - p < 2 || p[0] != 'a' || p[1] != '='))) {
        return SL_ERR_INVAL;
    }
    p = comma + 1;
    /* \x01 kvpair \x01 kvpair ... \x01 \x01 */
    if (end - p < 2 || p[0] != 0x01 || end[-1] != 0x01 || end[-2] != 0x01) {
        return SL_ERR_INVAL;
    }
    p++;
    *tok = NULL;
    while (p < end - 1) {
        const char *sep = memchr(p, 0x01, (size_t)(end - p));
        const char *eq = memchr(p, '=', (size_t)(sep - p));
        if (!eq || eq == p) {
            return SL_ERR_INVAL;
        }
        for (const char *k = p; k < eq; k++) {
            if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z'))) {
                return SL_ERR_INVAL;
            }
        }
        if (eq - p == 4 && !memcmp(p, "auth", 4)) {
            const char *v = eq + 1;
            if (*tok || sep - v < 8 || strncasecmp(v, "Bearer ", 7) != 0) {
                return SL_ERR_INVAL;
            }
            v += 7;
            while (v < sep && *v == ' ') {
                v++;
            }
            *tok = v;
            *tok_len = (size_t)(sep - v);
        }
        p = sep + 1;
    }
    return *tok && *tok_len ? SL_OK : SL_ERR_INVAL;
}

/* Decodes base64url (no padding) of `len` bytes into out (cap bytes); returns the length, or -1. */
static long b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap) {
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        int v = c >= 'A' && c <= 'Z'   ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a' + 26
                : c >= '0' && c <= '9' ? c - '0' + 52
                : c == '-'             ? 62
                : c == '_'             ? 63
                                       : -1;
        if (v < 0) {
            return c == '=' ? (long)n : -1;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap) {
                return -1;
            }
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return (long)n;
}

/* The token's "alg" header, or JWT_ALG_INVAL. */
static jwt_alg_t header_alg(const char *tok, size_t len) {
    const char *dot = memchr(tok, '.', len);
    uint8_t hdr[1024];
    long n = dot ? b64url_decode(tok, (size_t)(dot - tok), hdr, sizeof hdr) : -1;
    if (n <= 0) {
        return JWT_ALG_INVAL;
    }
    json_t *j = json_loadb((const char *)hdr, (size_t)n, 0, NULL);
    const char *alg = json_string_value(json_object_get(j, "alg"));
    jwt_alg_t a = alg ? jwt_str_alg(alg) : JWT_ALG_INVAL;
    json_decref(j);
    return a;
}

/* A NumericDate claim: SL_OK with the value, SL_ERR_NOTFOUND if absent, SL_ERR_INVAL if not a
 * number. */
static sl_err_t num_claim(json_t *claims, const char *name, int64_t *out) {
    json_t *v = json_object_get(claims, name);
    if (!v) {
        return SL_ERR_NOTFOUND;
    }
    if (!json_is_number(v)) {
        return SL_ERR_INVAL;
    }
    double d = json_number_value(v);
    if (!(d > -1e15 && d < 1e15)) {
        return SL_ERR_INVAL;
    }
    *out = (int64_t)d;
    return SL_OK;
}

/* Whether one of the comma-separated names in `list` equals s. */
static bool in_list(const char *list, const char *s) {
    size_t n = strlen(s);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        const char *q = p;
        size_t l = len;
        while (l && *q == ' ') {
            q++, l--;
        }
        while (l && q[l - 1] == ' ') {
            l--;
        }
        if (l == n && !memcmp(q, s, n)) {
            return true;
        }
        p += len;
        p += *p == ',';
    }
    return false;
}

static bool audience_ok(const char *want, json_t *aud) {
    if (json_is_string(aud)) {
        return in_list(want, json_string_value(aud));
    }
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v) {
        if (json_is_string(v) && in_list(want, json_string_value(v))) {
            return true;
        }
    }
    return false;
}

static sl_err_t check_claims(const sl_oauth_t *o, json_t *claims, int64_t now_s, char *principal,
                             size_t cap, int64_t *exp_s, char *why, size_t why_cap) {
    int64_t exp = 0, t = 0;
    sl_err_t rc = num_claim(claims, "exp", &exp);
    if (rc != SL_OK) {
        snprintf(why, why_cap,
                 rc == SL_ERR_NOTFOUND ? "token has no exp claim" : "token's exp is not a number");
        return SL_ERR_INVAL;
    }
    if (now_s >= exp + o->skew_s) {
        snprintf(why, why_cap, "token expired %lld s ago", (long long)(now_s - exp));
        return SL_ERR_INVAL;
    }
    rc = num_claim(claims, "nbf", &t);
    if (rc == SL_ERR_INVAL || (rc == SL_OK && t > now_s + o->skew_s)) {
        snprintf(why, why_cap, "token not valid yet (nbf)");
        return SL_ERR_INVAL;
    }
    rc = num_claim(claims, "iat", &t);
    if (rc == SL_ERR_INVAL || (rc == SL_OK && t > now_s + o->skew_s)) {
        snprintf(why, why_cap, "token issued in the future (iat)");
        return SL_ERR_INVAL;
    }
    if (*o->audience && !audience_ok(o->audience, json_object_get(claims, "aud"))) {
        snprintf(why, why_cap, "token audience is not %.100s", o->audience);
        return SL_ERR_INVAL;
    }
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    if (*o->issuer && (!iss || strcmp(iss, o->issuer) != 0)) {
        snprintf(why, why_cap, "token issuer is not %.100s", o->issuer);
        return SL_ERR_INVAL;
    }
    const char *who = json_string_value(json_object_get(claims, o->sub_claim));
    if (!who || !*who || strlen(who) >= cap) {
        snprintf(why, why_cap, "token has no usable %.64s claim", o->sub_claim);
        return SL_ERR_INVAL;
    }
    for (const char *c = who; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            snprintf(why, why_cap, "token's %.64s claim has control characters", o->sub_claim);
            return SL_ERR_INVAL;
        }
    }
    snprintf(principal, cap, "%s", who);
    *exp_s = exp;
    return SL_OK;
}

sl_err_t sl_oauth_verify(const sl_oauth_t *o, const char *tok, size_t tok_len, int64_t now_s,
                         char *principal, size_t cap, int64_t *exp_s, char *why, size_t why_cap) {
    if (tok_len == 0 || tok_len > MAX_TOKEN || memchr(tok, 0, tok_len)) {
        snprintf(why, why_cap, "malformed token");
        return SL_ERR_INVAL;
    }
    jwt_alg_t alg = header_alg(tok, tok_len);
    const char *key = NULL;
    if (alg == JWT_ALG_HS256) {
        key = o->secret;
    } else if (alg == JWT_ALG_RS256 || alg == JWT_ALG_RS384 || alg == JWT_ALG_RS512) {
        key = o->pub_is_ec ? NULL : o->pub_pem;
    } else if (alg == JWT_ALG_ES256 || alg == JWT_ALG_ES384 || alg == JWT_ALG_ES512) {
        key = o->pub_is_ec ? o->pub_pem : NULL;
    }
    if (!key) {
        snprintf(why, why_cap,
                 alg == JWT_ALG_INVAL ? "malformed token" : "token algorithm %s is not accepted",
                 jwt_alg_str(alg));
        return SL_ERR_INVAL;
    }
    char *z = sl_xmalloc(tok_len + 1);
    memcpy(z, tok, tok_len);
    z[tok_len] = '\0';
    jwt_t *jwt = NULL;
    int rc = jwt_decode(&jwt, z, (const unsigned char *)key, (int)strlen(key));
    free(z);
    if (rc != 0 || !jwt || jwt_get_alg(jwt) != alg) {
        jwt_free(jwt);
        snprintf(why, why_cap, "token signature does not verify");
        return SL_ERR_INVAL;
    }
    char *js = jwt_get_grants_json(jwt, NULL);
    jwt_free(jwt);
    json_t *claims = js ? json_loads(js, 0, NULL) : NULL;
    free(js);
    sl_err_t r;
    if (!json_is_object(claims)) {
        snprintf(why, why_cap, "token claims are not a JSON object");
        r = SL_ERR_INVAL;
    } else {
        r = check_claims(o, claims, now_s, principal, cap, exp_s, why, why_cap);
    }
    json_decref(claims);
    return r;
}
