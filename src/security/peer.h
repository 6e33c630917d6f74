/* peer.h -- blocking client connections to a Kafka listener with its security: TLS (OpenSSL,
 * the peer verified against a CA, its host name or address optionally checked) and SASL (PLAIN,
 * SCRAM-SHA-256/512 through SaslHandshake v1 and SaslAuthenticate v1, as a Kafka client runs
 * them). The brokers' own calls to each other (replica fetches, calls to the quorum leader, on
 * inter.broker.listener.name) and `sluice cluster status` use it: one request at a time, every
 * read and write bounded by a timeout. Without TLS or SASL it is sl_sock_dial's plain TCP. */
#ifndef SL_PEER_H
#define SL_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* What to speak; the strings are copied by sl_peer_sec_new. */
typedef struct sl_peer_sec_conf {
    bool tls;
    const char *ca_file;      /* CAs the peer's certificate must chain to; "": the system's */
    const char *cert_file;    /* our certificate for a listener that asks for one, or "" */
    const char *key_file;     /* its key, or "" */
    const char *key_password; /* its passphrase, or "" */
    bool verify_host;         /* ssl.endpoint.identification.algorithm=https: the certificate
                                 must name the host (DNS name or IP address) we dialled */
    bool sasl;
    const char *mechanism; /* PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 */
    const char *username;
    const char *password;
} sl_peer_sec_conf_t;

typedef struct sl_peer_sec sl_peer_sec_t;

/* Builds the shared, read-only client side (the TLS context loads the files now). NULL with the
 * reason in err (SL_ERRLEN bytes): unreadable files, an unknown mechanism, SASL without a user.
 * Thread: any; the result may be used by many threads at once. */
sl_peer_sec_t *sl_peer_sec_new(const sl_peer_sec_conf_t *c, char *err);
void sl_peer_sec_free(sl_peer_sec_t *s);
/* "SASL_SSL/SCRAM-SHA-512 as broker" and the like, for log lines. */
const char *sl_peer_sec_describe(const sl_peer_sec_t *s);

typedef struct sl_peer {
    int fd;             /* -1: not connected */
    struct ssl_st *ssl; /* NULL without TLS */
    int32_t corr;       /* the next correlation id */
    const char *client_id;
} sl_peer_t;

/* A peer that is not connected, naming itself `client_id` in request headers (a static
 * string). */
sl_peer_t sl_peer_init(const char *client_id);

/* Connects to host:port, runs the TLS handshake and the SASL exchange `sec` asks for (NULL:
 * plain TCP), each step bounded by connect_ms / io_ms. SL_OK; SL_ERR_IO when the peer could not
 * be reached or talked to (connect, reset, timeout: worth retrying soon); SL_ERR_INVAL when it
 * refused us (certificate verification, a TLS alert, a SASL mechanism it does not offer, wrong
 * credentials, a SCRAM server that does not prove it knows them: retrying will not help until
 * a configuration changes). Either way a readable reason is in err (SL_ERRLEN bytes) saying
 * which step failed ("connect ...", "TLS handshake with ...: certificate verify failed: ...",
 * "SASL authentication as USER failed: error 58: <the broker's message>") and the peer is
 * closed. */
SL_MUST_USE sl_err_t sl_peer_dial(sl_peer_t *p, const sl_peer_sec_t *sec, const char *host,
                                  int port, int connect_ms, int io_ms, char *err);
/* One request: header v1 (key, version, correlation id, client id) then `body`; the response
 * body after its correlation id (checked) goes into resp, at most max_resp bytes. SL_OK, or
 * SL_ERR_IO with the reason in err (SL_ERRLEN bytes; may be NULL); the connection is then of no
 * further use (close it). */
SL_MUST_USE sl_err_t sl_peer_call(sl_peer_t *p, int16_t key, int16_t version, const uint8_t *body,
                                  size_t len, sl_buf_t *resp, uint32_t max_resp, char *err);
/* Bounds every later read and write of a connected peer by io_ms. False (errno set) if the
 * socket refuses the option. */
bool sl_peer_set_timeout(sl_peer_t *p, int io_ms);
/* Closes the connection (a no-op when closed); the peer may be dialled again. */
void sl_peer_close(sl_peer_t *p);

#endif
