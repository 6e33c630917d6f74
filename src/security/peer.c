/* peer.c -- blocking client connections with TLS and SASL (peer.h).
 *
 * A connection is: TCP (sl_sock_dial: blocking, every read and write bounded by io_ms), then
 * with TLS the handshake on that socket (OpenSSL's blocking mode; a read that times out fails
 * the call), then with SASL SaslHandshake v1 naming the mechanism and one (PLAIN) or two (SCRAM)
 * SaslAuthenticate v1 rounds. Only then is the first real request sent, so a broker's listener
 * sees exactly what it sees from a Kafka client. */
#include "peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/sock.h"
#include "common/util.h"
#include "proto/kerr.h"
#include "security/scram_client.h"
#include "security/tls.h"

#define API_SASL_HANDSHAKE    17
#define API_SASL_AUTHENTICATE 36
#define SASL_MAX_RESP         (64u << 10)

typedef enum { MECH_PLAIN, MECH_SCRAM_256, MECH_SCRAM_512 } mech_t;

struct sl_peer_sec {
    SSL_CTX *tls; /* NULL: no TLS */
    bool verify_host;
    bool sasl;
    mech_t mech;
    char mech_name[32];
    char user[256];
    char pass[256];
    char what[96]; /* sl_peer_sec_describe */
};

sl_peer_sec_t *sl_peer_sec_new(const sl_peer_sec_conf_t *c, char *err) {
    sl_peer_sec_t *s = sl_xcalloc(1, sizeof *s);
    s->verify_host = c->verify_host;
    s->sasl = c->sasl;
    if (c->sasl) {
        const char *m = c->mechanism ? c->mechanism : "";
        if (!strcmp(m, "PLAIN")) {
            s->mech = MECH_PLAIN;
        } else if (!strcmp(m, "SCRAM-SHA-256")) {
            s->mech = MECH_SCRAM_256;
        } else if (!strcmp(m, "SCRAM-SHA-512")) {
            s->mech = MECH_SCRAM_512;
        } else {
            snprintf(err, SL_ERRLEN,
                     "SASL mechanism '%s' cannot be used by a broker as a client (PLAIN, "
                     "SCRAM-SHA-256 or SCRAM-SHA-512)",
                     m);
            goto fail;
        }
        if (!c->username || !*c->username || strlen(c->username) >= sizeof s->user ||
            !c->password || strlen(c->password) >= sizeof s->pass) {
            snprintf(err, SL_ERRLEN, "SASL needs a user name and a password (under 256 bytes)");
            goto fail;
        }
        snprintf(s->mech_name, sizeof s->mech_name, "%s", m);
        snprintf(s->user, sizeof s->user, "%s", c->username);
        snprintf(s->pass, sizeof s->pass, "%s", c->password);
    }
    if (c->tls) {
        s->tls = SSL_CTX_new(TLS_client_method());
        if (!s->tls) {
            sl_tls_err(err, "SSL_CTX_new", NULL);
            goto fail;
        }
        SSL_CTX_set_min_proto_version(s->tls, TLS1_2_VERSION);
        SSL_CTX_set_options(s->tls, SSL_OP_NO_RENEGOTIATION);
        SSL_CTX_set_mode(s->tls, SSL_MODE_AUTO_RETRY);
        SSL_CTX_set_verify(s->tls, SSL_VERIFY_PEER, NULL);
        const char *ca = c->ca_file ? c->ca_file : "";
        if (*ca ? SSL_CTX_load_verify_locations(s->tls, ca, NULL) != 1
                : SSL_CTX_set_default_verify_paths(s->tls) != 1) {
            sl_tls_err(err, "ssl.ca.location", ca);
            goto fail;
        }
        if (c->cert_file && *c->cert_file && c->key_file && *c->key_file) {
            if (c->key_password && *c->key_password) {
                SSL_CTX_set_default_passwd_cb(s->tls, sl_tls_key_password_cb);
                SSL_CTX_set_default_passwd_cb_userdata(s->tls, (void *)c->key_password);
            }
            if (SSL_CTX_use_certificate_chain_file(s->tls, c->cert_file) != 1) {
                sl_tls_err(err, "ssl.certificate.location", c->cert_file);
                goto fail;
            }
            if (SSL_CTX_use_PrivateKey_file(s->tls, c->key_file, SSL_FILETYPE_PEM) != 1 ||
                SSL_CTX_check_private_key(s->tls) != 1) {
                sl_tls_err(err, "ssl.key.location", c->key_file);
                goto fail;
            }
            /* The passphrase was needed only to load the key. */
            SSL_CTX_set_default_passwd_cb(s->tls, NULL);
            SSL_CTX_set_default_passwd_cb_userdata(s->tls, NULL);
        }
    }
    snprintf(s->what, sizeof s->what, "%s%s%s%s%s", s->tls ? "TLS" : "plaintext",
             s->sasl ? ", SASL " : "", s->sasl ? s->mech_name : "", s->sasl ? " as " : "",
             s->sasl ? s->user : "");
    return s;
fail:
    sl_peer_sec_free(s);
    return NULL;
}

void sl_peer_sec_free(sl_peer_sec_t *s) {
    if (s) {
        SSL_CTX_free(s->tls);
        OPENSSL_cleanse(s->pass, sizeof s->pass);
        free(s);
    }
}

const char *sl_peer_sec_describe(const sl_peer_sec_t *s) {
    return s ? s->what : "plaintext";
}

sl_peer_t sl_peer_init(const char *client_id) {
    return (sl_peer_t){.fd = -1, .ssl = NULL, .corr = 1, .client_id = client_id};
}

bool sl_peer_set_timeout(sl_peer_t *p, int io_ms) {
    struct timeval tv = {io_ms / 1000, (io_ms % 1000) * 1000};
    return p->fd >= 0 && setsockopt(p->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
           setsockopt(p->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0;
}

void sl_peer_close(sl_peer_t *p) {
    if (p->ssl) {
        SSL_free(p->ssl); /* no close_notify: the peer is about to see the socket close */
        p->ssl = NULL;
    }
    if (p->fd >= 0) {
        close(p->fd);
        p->fd = -1;
    }
}

static bool write_all(sl_peer_t *p, const uint8_t *b, size_t n) {
    if (!p->ssl) {
        return sl_sock_write_all(p->fd, b, n);
    }
    while (n > 0) {
        int k = SSL_write(p->ssl, b, (int)SL_MIN(n, (size_t)1 << 30));
        if (k <= 0) {
            ERR_clear_error();
            return false;
        }
        b += k;
        n -= (size_t)k;
    }
    return true;
}

static bool read_all(sl_peer_t *p, uint8_t *b, size_t n) {
    if (!p->ssl) {
        return sl_sock_read_all(p->fd, b, n);
    }
    while (n > 0) {
        int k = SSL_read(p->ssl, b, (int)SL_MIN(n, (size_t)1 << 30));
        if (k <= 0) {
            ERR_clear_error();
            return false;
        }
        b += k;
        n -= (size_t)k;
    }
    return true;
}

sl_err_t sl_peer_call(sl_peer_t *p, int16_t key, int16_t version, const uint8_t *body, size_t len,
                      sl_buf_t *resp, uint32_t max_resp, char *err) {
    char dummy[SL_ERRLEN];
    err = err ? err : dummy;
    if (p->fd < 0) {
        snprintf(err, SL_ERRLEN, "not connected");
        return SL_ERR_IO;
    }
    int32_t corr = p->corr;
    p->corr = corr == INT32_MAX ? 1 : corr + 1;
    sl_buf_t out = {0};
    sl_writer_t wr = {&out};
    size_t at = sl_wr_i32(&wr, 0);
    sl_wr_i16(&wr, key);
    sl_wr_i16(&wr, version);
    sl_wr_i32(&wr, corr);
    sl_wr_strz(&wr, false, p->client_id);
    sl_wr_raw(&wr, body, len);
    sl_wr_patch_i32(&wr, at, (int32_t)(out.len - 4));
    bool sent = write_all(p, out.data, out.len);
    sl_buf_fini(&out);
    if (!sent) {
        snprintf(err, SL_ERRLEN, "send: %s", errno ? strerror(errno) : "connection closed");
        return SL_ERR_IO;
    }
    uint8_t hdr[8];
    if (!read_all(p, hdr, sizeof hdr)) {
        snprintf(err, SL_ERRLEN, "no answer (%s)", errno ? strerror(errno) : "connection closed");
        return SL_ERR_IO;
    }
    uint32_t n = sl_load_be32(hdr);
    if (n < 4 || n - 4 > max_resp || (int32_t)sl_load_be32(hdr + 4) != corr) {
        snprintf(err, SL_ERRLEN, "bad answer (size %u, correlation id %d, expected %d)", n,
                 (int)(int32_t)sl_load_be32(hdr + 4), (int)corr);
        return SL_ERR_IO;
    }
    resp->len = 0;
    sl_buf_reserve(resp, n - 4);
    if (!read_all(p, resp->data, n - 4)) {
        snprintf(err, SL_ERRLEN, "short answer");
        return SL_ERR_IO;
    }
    resp->len = n - 4;
    return SL_OK;
}

/* The TLS handshake on p->fd. */
static sl_err_t tls_connect(sl_peer_t *p, const sl_peer_sec_t *s, const char *host, int port,
                            char *err) {
    p->ssl = SSL_new(s->tls);
    if (!p->ssl || SSL_set_fd(p->ssl, p->fd) != 1) {
        sl_tls_err(err, "SSL_new", NULL);
        return SL_ERR_IO;
    }
    unsigned char addr[16];
    bool ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    if (!ip) {
        (void)SSL_set_tlsext_host_name(p->ssl, host); /* SNI is for names only */
    }
    if (s->verify_host && (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(p->ssl), host) != 1
                              : SSL_set1_host(p->ssl, host) != 1)) {
        sl_tls_err(err, "host name check for", host);
        return SL_ERR_IO;
    }
    int r = SSL_connect(p->ssl);
    if (r != 1) {
        long v = SSL_get_verify_result(p->ssl);
        bool refused = v != X509_V_OK || SSL_get_error(p->ssl, r) == SSL_ERROR_SSL;
        if (v != X509_V_OK) {
            snprintf(err, SL_ERRLEN, "TLS handshake with %s:%d: certificate verify failed: %s",
                     host, port, X509_verify_cert_error_string(v));
            ERR_clear_error();
        } else {
            char what[300];
            snprintf(what, sizeof what, "TLS handshake with %s:%d", host, port);
            sl_tls_err(err, what, NULL);
        }
        /* A protocol failure (certificate, alert) is refused; a reset or timeout is I/O. */
        return refused ? SL_ERR_INVAL : SL_ERR_IO;
    }
    return SL_OK;
}

/* One SaslAuthenticate v1 round: sends `msg`, returns the server's bytes in *out (a view into
 * resp). A refusal comes back as SL_ERR_IO with the broker's message. */
static sl_err_t authenticate(sl_peer_t *p, const sl_peer_sec_t *s, const void *msg, size_t len,
                             sl_buf_t *scratch, sl_buf_t *resp, sl_bytes_t *out, char *err) {
    scratch->len = 0;
    sl_writer_t wr = {scratch};
    sl_wr_bytes(&wr, false, (sl_bytes_t){msg, len});
    char why[SL_ERRLEN];
    if (sl_peer_call(p, API_SASL_AUTHENTICATE, 1, scratch->data, scratch->len, resp, SASL_MAX_RESP,
                     why) != SL_OK) {
        snprintf(err, SL_ERRLEN, "SASL authentication as %s: %s", s->user, why);
        return SL_ERR_IO;
    }
    sl_reader_t rd = sl_reader_init(resp->data, resp->len);
    int16_t code = sl_rd_i16(&rd);
    sl_str_t emsg = sl_rd_str(&rd, false);
    *out = sl_rd_bytes(&rd, false);
    if (rd.err) {
        snprintf(err, SL_ERRLEN, "SASL authentication as %s: malformed SaslAuthenticate answer",
                 s->user);
        return SL_ERR_IO;
    }
    if (code != KERR_NONE) {
        snprintf(err, SL_ERRLEN, "SASL authentication as %s failed: error %d%s%.*s", s->user,
                 (int)code, emsg.p ? ": " : "", emsg.p ? (int)SL_MIN(emsg.len, 160) : 0,
                 emsg.p ? emsg.p : "");
        return SL_ERR_INVAL;
    }
    return SL_OK;
}

static sl_err_t sasl(sl_peer_t *p, const sl_peer_sec_t *s, char *err) {
    sl_buf_t req = {0}, resp = {0};
    sl_writer_t wr = {&req};
    sl_wr_strz(&wr, false, s->mech_name);
    char why[SL_ERRLEN];
    sl_err_t rc = SL_ERR_IO;
    if (sl_peer_call(p, API_SASL_HANDSHAKE, 1, req.data, req.len, &resp, SASL_MAX_RESP, why) !=
        SL_OK) {
        snprintf(err, SL_ERRLEN, "SaslHandshake: %s", why);
        goto done;
    }
    sl_reader_t rd = sl_reader_init(resp.data, resp.len);
    int16_t code = sl_rd_i16(&rd);
    if (rd.err || code != KERR_NONE) {
        snprintf(err, SL_ERRLEN, "SaslHandshake for %s: %s", s->mech_name,
                 code == KERR_UNSUPPORTED_SASL_MECHANISM
                     ? "the listener does not offer this SASL mechanism"
                     : "refused or malformed answer");
        rc = SL_ERR_INVAL;
        goto done;
    }
    sl_bytes_t got;
    if (s->mech == MECH_PLAIN) {
        /* authzid NUL authcid NUL passwd (RFC 4616) */
        size_t ul = strlen(s->user), pl = strlen(s->pass);
        uint8_t msg[1 + 256 + 1 + 256];
        msg[0] = '\0';
        memcpy(msg + 1, s->user, ul);
        msg[1 + ul] = '\0';
        memcpy(msg + 2 + ul, s->pass, pl);
        rc = authenticate(p, s, msg, 2 + ul + pl, &req, &resp, &got, err);
        OPENSSL_cleanse(msg, sizeof msg);
        goto done;
    }
    sl_scram_client_t sc;
    char msg[1024];
    size_t mlen;
    sl_scram_mech_t m = s->mech == MECH_SCRAM_512 ? SL_SCRAM_SHA512 : SL_SCRAM_SHA256;
    rc = SL_ERR_INVAL;
    if (sl_scram_client_first(&sc, m, s->user, NULL, msg, sizeof msg, &mlen) != SL_OK) {
        snprintf(err, SL_ERRLEN, "SCRAM: cannot start the exchange for '%s'", s->user);
        goto done;
    }
    if ((rc = authenticate(p, s, msg, mlen, &req, &resp, &got, err)) != SL_OK) {
        goto done;
    }
    rc = SL_ERR_INVAL;
    if (sl_scram_client_final(&sc, s->pass, got.p ? got.p : (const uint8_t *)"", got.len, msg,
                              sizeof msg, &mlen, why, sizeof why) != SL_OK) {
        snprintf(err, SL_ERRLEN, "SCRAM as %s: %s", s->user, why);
        goto done;
    }
    if ((rc = authenticate(p, s, msg, mlen, &req, &resp, &got, err)) != SL_OK) {
        goto done;
    }
    rc = SL_ERR_INVAL;
    if (sl_scram_client_verify(&sc, got.p ? got.p : (const uint8_t *)"", got.len, why,
                               sizeof why) != SL_OK) {
        snprintf(err, SL_ERRLEN, "SCRAM as %s: %s", s->user, why);
        goto done;
    }
    rc = SL_OK;
done:
    sl_buf_fini(&req);
    sl_buf_fini(&resp);
    return rc;
}

sl_err_t sl_peer_dial(sl_peer_t *p, const sl_peer_sec_t *sec, const char *host, int port,
                      int connect_ms, int io_ms, char *err) {
    sl_peer_close(p);
    p->fd = sl_sock_dial(host, port, connect_ms, io_ms, err, SL_ERRLEN);
    if (p->fd < 0) {
        return SL_ERR_IO;
    }
    sl_err_t rc = sec && sec->tls ? tls_connect(p, sec, host, port, err) : SL_OK;
    if (rc == SL_OK && sec && sec->sasl) {
        char why[SL_ERRLEN];
        rc = sasl(p, sec, why);
        if (rc != SL_OK) {
            snprintf(err, SL_ERRLEN, "%s:%d: %.200s", host, port, why);
        }
    }
    if (rc != SL_OK) {
        sl_peer_close(p);
    }
    return rc;
}
