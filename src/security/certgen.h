/* certgen.h -- test and development certificates with OpenSSL's C API (`sluice cert`): a CA, and
 * broker and client certificates it signs, as PEM files the broker's ssl.* keys and librdkafka
 * read. Keys are EC P-256; certificates are X.509 v3 signed with SHA-256. */
#ifndef SL_CERTGEN_H
#define SL_CERTGEN_H

#include "common/err.h"

typedef enum sl_cert_kind {
    SL_CERT_CA,     /* self-signed; basicConstraints CA:TRUE, keyCertSign */
    SL_CERT_SERVER, /* serverAuth, subjectAltName from `san` */
    SL_CERT_CLIENT, /* clientAuth; the subject is the client's principal on an SSL listener */
} sl_cert_kind_t;

typedef struct sl_cert_req {
    sl_cert_kind_t kind;
    const char *cn;  /* subject CN */
    const char *org; /* subject O, or "" */
    const char
        *san; /* SERVER: comma-separated IP addresses and DNS names ("127.0.0.1,localhost") */
    int days; /* validity from five minutes ago */
} sl_cert_req_t;

/* Makes a key and a certificate for `r`, signed by the CA in ca_cert/ca_key (PEM files; both
 * NULL for SL_CERT_CA, which signs itself), and writes them to out_cert and out_key (the key
 * mode 0600, created anew: an existing key file is an error, so a CA key is never overwritten).
 * SL_OK, or an error with the reason in `err` (SL_ERRLEN bytes). Thread: any. */
SL_MUST_USE sl_err_t sl_cert_make(const sl_cert_req_t *r, const char *ca_cert, const char *ca_key,
                                  const char *out_cert, const char *out_key, char *err);

#endif
