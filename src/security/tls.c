/* tls.c -- TLS server contexts: protocol floor, certificate and key, client verification.
 * The record layer itself runs in net/conn.c on the non-blocking sockets. */
#include "tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

void sl_tls_err(char *err, const char *what, const char *file) {
    unsigned long code = ERR_get_error();
    char text[160] = "unknown error";
    if (code) {
        ERR_error_string_n(code, text, sizeof text);
    }
    ERR_clear_error();
    snprintf(err, SL_ERRLEN, "%s %s: %s", what, file ? file : "", text);
}

int sl_tls_key_password_cb(char *buf, int size, int rwflag, void *userdata) {
    (void)rwflag;
    const char *pw = userdata;
    size_t n = strlen(pw);
    if (n >= (size_t)size) {
        return 0;
    }
    memcpy(buf, pw, n);
    return (int)n;
}

struct ssl_ctx_st *sl_tls_server_ctx(const sl_tls_conf_t *tc, char *err) {
    int verify;
    if (!strcmp(tc->client_auth, "none")) {
        verify = SSL_VERIFY_NONE;
    } else if (!strcmp(tc->client_auth, "requested")) {
        verify = SSL_VERIFY_PEER;
    } else if (!strcmp(tc->client_auth, "required")) {
        verify = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    } else {
        snprintf(err, SL_ERRLEN, "ssl.client.auth: expected none, requested or required, got '%s'",
                 tc->client_auth);
        return NULL;
    }
    if (!*tc->cert_file || !*tc->key_file) {
        snprintf(err, SL_ERRLEN,
                 "an SSL listener needs ssl.certificate.location and ssl.key.location");
        return NULL;
    }
    if (verify != SSL_VERIFY_NONE && !*tc->ca_file) {
        snprintf(err, SL_ERRLEN, "ssl.client.auth=%s needs ssl.ca.location", tc->client_auth);
        return NULL;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        sl_tls_err(err, "SSL_CTX_new", NULL);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Read-ahead: one read(2) takes as many records as have arrived, instead of two per record
     * (header, then body); conn.c drains what it leaves buffered. */
    SSL_CTX_set_read_ahead(ctx, 1);
    if (tc->key_password && *tc->key_password) {
        SSL_CTX_set_default_passwd_cb(ctx, sl_tls_key_password_cb);
        SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)tc->key_password);
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, tc->cert_file) != 1) {
        sl_tls_err(err, "ssl.certificate.location", tc->cert_file);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, tc->key_file, SSL_FILETYPE_PEM) != 1) {
        sl_tls_err(err, "ssl.key.location", tc->key_file);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        sl_tls_err(err, "ssl.key.location does not match the certificate", tc->key_file);
        goto fail;
    }
    if (*tc->ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, tc->ca_file, NULL) != 1) {
            sl_tls_err(err, "ssl.ca.location", tc->ca_file);
            goto fail;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(tc->ca_file);
        if (names) {
            SSL_CTX_set_client_CA_list(ctx, names);
        }
    }
    static const unsigned char sid_ctx[] = "sluice";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    SSL_CTX_set_verify(ctx, verify, NULL);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

void sl_tls_ctx_free(struct ssl_ctx_st *ctx) {
    SSL_CTX_free(ctx);
}
