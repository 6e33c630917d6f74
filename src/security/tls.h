/* tls.h -- TLS server contexts for the Kafka listeners, from PEM files (OpenSSL). */
#ifndef SL_TLS_H
#define SL_TLS_H

#include "common/err.h"

struct ssl_ctx_st;

typedef struct sl_tls_conf {
    const char *cert_file;    /* ssl.certificate.location: the broker's certificate chain (PEM) */
    const char *key_file;     /* ssl.key.location: its private key (PEM, unencrypted) */
    const char *key_password; /* ssl.key.password, or "" */
    const char *ca_file;      /* ssl.ca.location: CAs that sign client certificates, or "" */
    const char *client_auth;  /* ssl.client.auth: none, requested or required */
} sl_tls_conf_t;

/* A server context: TLS 1.2 and 1.3 only, no renegotiation, the certificate and key checked to
 * match. With client_auth "required" a client must present a certificate the CAs verify;
 * "requested" verifies one if presented; either way a certificate that fails verification (another
 * CA, expired) fails the handshake. NULL with the reason in `err` (SL_ERRLEN bytes). */
struct ssl_ctx_st *sl_tls_server_ctx(const sl_tls_conf_t *tc, char *err);

/* Writes `what`, `file` and OpenSSL's first queued error into err (SL_ERRLEN), and clears the
 * queue. */
void sl_tls_err(char *err, const char *what, const char *file);

/* OpenSSL's pem_password_cb for an encrypted key: userdata is the NUL-terminated password. */
int sl_tls_key_password_cb(char *buf, int size, int rwflag, void *userdata);
void sl_tls_ctx_free(struct ssl_ctx_st *ctx);

#endif
