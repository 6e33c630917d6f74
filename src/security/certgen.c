/* certgen.c -- X.509 certificates for tests and development (certgen.h), with OpenSSL 3's EVP
 * and X509 calls: no openssl command line, no config file. */
#include "certgen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_SAN 1024

static sl_err_t ossl_fail(char *err, const char *what) {
    unsigned long code = ERR_get_error();
    char text[160] = "unknown error";
    if (code) {
        ERR_error_string_n(code, text, sizeof text);
    }
    ERR_clear_error();
    snprintf(err, SL_ERRLEN, "%s: %s", what, text);
    return SL_ERR_INVAL;
}

/* "127.0.0.1,localhost,::1" -> "IP:127.0.0.1,DNS:localhost,IP:::1". Names may hold letters,
 * digits, '-', '.' and a leading "*." only, so nothing can smuggle another extension field. */
static sl_err_t san_value(const char *san, char *out, size_t cap, char *err) {
    size_t o = 0;
    out[0] = '\0';
    for (const char *s = san; *s;) {
        size_t len = strcspn(s, ",");
        char item[256];
        if (len == 0 || len >= sizeof item) {
            snprintf(err, SL_ERRLEN, "--san: empty or overlong entry in '%s'", san);
            return SL_ERR_INVAL;
        }
        memcpy(item, s, len);
        item[len] = '\0';
        unsigned char addr[16];
        bool ip = inet_pton(AF_INET, item, addr) == 1 || inet_pton(AF_INET6, item, addr) == 1;
        for (size_t i = 0; i < len && !ip; i++) {
            char c = item[i];
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || (c == '*' && i == 0 && item[1] == '.');
            if (!ok) {
                snprintf(err, SL_ERRLEN, "--san: '%s' is neither an IP address nor a DNS name",
                         item);
                return SL_ERR_INVAL;
            }
        }
        int n = snprintf(out + o, cap - o, "%s%s:%s", o ? "," : "", ip ? "IP" : "DNS", item);
        if (n < 0 || (size_t)n >= cap - o) {
            snprintf(err, SL_ERRLEN, "--san: too many names");
            return SL_ERR_INVAL;
        }
        o += (size_t)n;
        s += len;
        s += *s == ',';
    }
    return SL_OK;
}

static bool add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value) {
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    bool ok = e && X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok;
}

static X509 *read_cert(const char *path, char *err) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, SL_ERRLEN, "%s: %s", path, strerror(errno));
        return NULL;
    }
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!x) {
        ossl_fail(err, path);
    }
    return x;
}

static EVP_PKEY *read_key(const char *path, char *err) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, SL_ERRLEN, "%s: %s", path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!k) {
        ossl_fail(err, path);
    }
    return k;
}

/* Writes the key (new file, mode 0600) and the certificate. */
static sl_err_t write_pair(X509 *x, EVP_PKEY *k, const char *out_cert, const char *out_key,
                           char *err) {
    int fd = open(out_key, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        snprintf(err, SL_ERRLEN, "%s: %s", out_key, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return SL_ERR_IO;
    }
    bool ok = PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        snprintf(err, SL_ERRLEN, "%s: write failed", out_key);
        return SL_ERR_IO;
    }
    f = fopen(out_cert, "w");
    if (!f) {
        snprintf(err, SL_ERRLEN, "%s: %s", out_cert, strerror(errno));
        return SL_ERR_IO;
    }
    ok = PEM_write_X509(f, x) == 1;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        snprintf(err, SL_ERRLEN, "%s: write failed", out_cert);
        return SL_ERR_IO;
    }
    return SL_OK;
}

sl_err_t sl_cert_make(const sl_cert_req_t *r, const char *ca_cert, const char *ca_key,
                      const char *out_cert, const char *out_key, char *err) {
    char san[MAX_SAN] = "";
    if (!r->cn || !*r->cn || strlen(r->cn) > 64) {
        snprintf(err, SL_ERRLEN, "the subject CN must be 1 to 64 characters");
        return SL_ERR_INVAL;
    }
    if (r->days < 1 || r->days > 36500) {
        snprintf(err, SL_ERRLEN, "--days: %d is outside [1, 36500]", r->days);
        return SL_ERR_INVAL;
    }
    if (r->kind == SL_CERT_SERVER && san_value(r->san ? r->san : "", san, sizeof san, err)) {
        return SL_ERR_INVAL;
    }
    if ((r->kind == SL_CERT_CA) != (ca_cert == NULL)) {
        snprintf(err, SL_ERRLEN, "a CA signs itself; other certificates need --ca");
        return SL_ERR_INVAL;
    }
    sl_err_t rc = SL_ERR_INVAL;
    X509 *issuer = NULL, *x = NULL;
    EVP_PKEY *signer = NULL, *key = NULL;
    BIGNUM *serial = NULL;
    if (ca_cert && (!(issuer = read_cert(ca_cert, err)) || !(signer = read_key(ca_key, err)))) {
        goto done;
    }
    if (issuer && X509_check_private_key(issuer, signer) != 1) {
        snprintf(err, SL_ERRLEN, "%s does not belong to %s", ca_key, ca_cert);
        goto done;
    }
    if (!(key = EVP_EC_gen("P-256")) || !(x = X509_new())) {
        ossl_fail(err, "key generation");
        goto done;
    }
    X509_NAME *name = X509_get_subject_name(x);
    serial = BN_new();
    bool ok = serial && BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
              BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) && X509_set_version(x, 2) == 1 &&
              X509_gmtime_adj(X509_getm_notBefore(x), -300) &&
              X509_gmtime_adj(X509_getm_notAfter(x), (long)r->days * 86400) &&
              X509_set_pubkey(x, key) == 1;
    if (ok && r->org && *r->org) {
        ok = X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)r->org, -1,
                                        -1, 0) == 1;
    }
    ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)r->cn,
                                          -1, -1, 0) == 1;
    ok = ok && X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) == 1;
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    ok = ok && add_ext(x, &ctx, NID_subject_key_identifier, "hash");
    if (r->kind == SL_CERT_CA) {
        ok = ok && add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") &&
             add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        ok = ok && add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") &&
             add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
             add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
             add_ext(x, &ctx, NID_ext_key_usage,
                     r->kind == SL_CERT_SERVER ? "serverAuth" : "clientAuth");
        if (ok && r->kind == SL_CERT_SERVER && san[0]) {
            ok = add_ext(x, &ctx, NID_subject_alt_name, san);
        }
    }
    if (!ok || X509_sign(x, signer ? signer : key, EVP_sha256()) <= 0) {
        ossl_fail(err, "building the certificate");
        goto done;
    }
    rc = write_pair(x, key, out_cert, out_key, err);
done:
    BN_free(serial);
    X509_free(x);
    X509_free(issuer);
    EVP_PKEY_free(key);
    EVP_PKEY_free(signer);
    return rc;
}
