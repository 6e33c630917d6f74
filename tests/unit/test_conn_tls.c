/* test_conn_tls.c -- TLS under the connection layer: a client thread handshakes over a socketpair
 * and pipelines a thousand one-record requests, more than one iteration's share. With OpenSSL
 * reading ahead, records it holds when reading stops are invisible to epoll; each one must still
 * be handled, in order (tls_drain; without it a few hundred are left waiting). Also: garbage
 * instead of a ClientHello closes the connection without a frame. The certificate is made here with
 * OpenSSL, in memory. */
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "harness.h"
#include "net/conn.h"
#include "net/loop.h"

#define N_REQS 1000

static sl_loop_t *loop;
static int handled, out_of_order, closed;
static int32_t last_corr;

static sl_err_t on_frame(sl_conn_t *conn, const uint8_t *f, size_t len, void *opaque) {
    (void)conn;
    (void)len;
    (void)opaque;
    handled++;
    int32_t corr = (int32_t)sl_load_be32(f + 4);
    out_of_order += corr != last_corr + 1;
    last_corr = corr;
    return SL_OK;
}

static void on_close(sl_conn_t *conn, void *opaque) {
    (void)conn;
    (void)opaque;
    closed++;
}

static void before_sleep(sl_loop_t *l, void *data) {
    (void)data;
    sl_conn_reap();
    if (handled == N_REQS || closed) {
        sl_loop_stop(l);
    }
}

static void give_up(sl_loop_t *l, uint64_t id, void *data) {
    (void)id;
    (void)data;
    sl_loop_stop(l);
}

static int fcntl_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* A server context with a fresh self-signed certificate. */
static SSL_CTX *server_ctx(void) {
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    if (!key || !cert) {
        return NULL;
    }
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"test", -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_sign(cert, key, EVP_sha256());
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx, cert);
    SSL_CTX_use_PrivateKey(ctx, key);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, 1); /* as security/tls.c sets it */
    X509_free(cert);
    EVP_PKEY_free(key);
    return ctx;
}

/* The client: handshake (blocking), then every request in its own TLS record, then wait for the
 * server to hang up (the test closes the connection when done). */
static void *client(void *arg) {
    int fd = *(int *)arg;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
        /* Encrypt every record into memory, then send them in one write: the server's first
         * reads then leave records inside OpenSSL with the socket drained. */
        BIO *mem = BIO_new(BIO_s_mem());
        BIO_up_ref(SSL_get_wbio(ssl));
        BIO *sock = SSL_get_wbio(ssl);
        SSL_set0_wbio(ssl, mem);
        for (int i = 1; i <= N_REQS; i++) {
            uint8_t fr[14] = {0};
            sl_store_be32(fr, 10);
            fr[5] = 18;
            sl_store_be32(fr + 8, (uint32_t)i);
            if (SSL_write(ssl, fr, sizeof fr) != (int)sizeof fr) {
                break;
            }
        }
        char *data;
        long n = BIO_get_mem_data(mem, &data);
        for (long off = 0; off < n;) {
            ssize_t w = write(fd, data + off, (size_t)(n - off));
            if (w <= 0) {
                break;
            }
            off += w;
        }
        SSL_set0_wbio(ssl, sock);
        char c;
        (void)SSL_read(ssl, &c, 1);
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return NULL;
}

TEST(pipelined_records_held_by_openssl_are_all_handled) {
    signal(SIGPIPE, SIG_IGN); /* as the broker runs */
    handled = out_of_order = closed = 0;
    last_corr = 0;
    loop = sl_loop_new();
    SSL_CTX *ctx = server_ctx();
    CHECK(loop && ctx);
    sl_loop_before_sleep(loop, before_sleep, NULL);
    int sp[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
    CHECK(fcntl_nonblock(sp[0]) == 0);
    sl_conn_hooks_t hooks = {on_frame, on_close, NULL, 1 << 20, 1 << 30, 1000000, ctx, NULL};
    sl_conn_t *conn = sl_conn_new(loop, sp[0], &hooks, "tls-client");
    CHECK(conn != NULL);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, client, &sp[1]) == 0);
    (void)sl_loop_timer(loop, 15000, give_up, NULL);
    CHECK(sl_loop_run(loop) == SL_OK);
    int got = handled;
    sl_conn_close_all(); /* the client's SSL_read returns and its thread ends */
    shutdown(sp[1], SHUT_RDWR);
    pthread_join(th, NULL);
    close(sp[1]);
    sl_loop_free(loop);
    SSL_CTX_free(ctx);
    CHECK_EQ_INT(got, N_REQS);
    CHECK_EQ_INT(out_of_order, 0);
}

TEST(garbage_instead_of_a_client_hello_closes) {
    signal(SIGPIPE, SIG_IGN);
    handled = out_of_order = closed = 0;
    loop = sl_loop_new();
    SSL_CTX *ctx = server_ctx();
    CHECK(loop && ctx);
    sl_loop_before_sleep(loop, before_sleep, NULL);
    int sp[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp) == 0);
    static const uint8_t junk[] = "\x00\x00\x00\x0e\x00\x12\x00\x00\x00\x00\x00\x01\x00\x00GET /";
    CHECK(write(sp[1], junk, sizeof junk) == (ssize_t)sizeof junk);
    sl_conn_hooks_t hooks = {on_frame, on_close, NULL, 1 << 20, 1 << 30, 1000000, ctx, NULL};
    CHECK(sl_conn_new(loop, sp[0], &hooks, "junk") != NULL);
    (void)sl_loop_timer(loop, 10000, give_up, NULL);
    CHECK(sl_loop_run(loop) == SL_OK);
    CHECK_EQ_INT(closed, 1);
    CHECK_EQ_INT(handled, 0);
    sl_conn_close_all();
    close(sp[1]);
    sl_loop_free(loop);
    SSL_CTX_free(ctx);
}
