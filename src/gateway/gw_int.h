/* gw_int.h -- what the gateway's files share: the server state, one request and its answer. */
#ifndef SL_GW_INT_H
#define SL_GW_INT_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/hist.h"
#include "gateway/acl.h"
#include "gateway/breaker.h"
#include "gateway/gateway.h"
#include "gateway/policy.h"

#define SL_GW_MAX_SEGS      8
#define SL_GW_MAX_RECORDS   10000 /* records in one produce request */
#define SL_GW_METADATA_TTL  5000  /* ms a metadata snapshot answers "does topic t exist" */
#define SL_GW_MAX_CONSUMERS 256   /* consumer instances alive at once */

typedef struct sl_gw_consumer sl_gw_consumer_t;
typedef struct sl_gw_front sl_gw_front_t;

/* A name and value (HTTP/2 request headers and query arguments). */
typedef struct sl_gw_kv {
    const char *name, *value;
} sl_gw_kv_t;

/* Metric rows: the routes that count requests. */
enum { SL_GW_M_PRODUCE, SL_GW_M_CONSUMER, SL_GW_M_OTHER, SL_GW_M_N };

struct sl_gw {
    struct MHD_Daemon *mhd; /* HTTP/1.1: connections handed over by front.c */
    sl_gw_front_t *front;   /* the listener: TLS, ALPN, HTTP/2 (front.c, h2.c) */
    int port;
    char *brokers;
    char *config_path;
    const char **props;
    int n_props;
    sl_gw_settings_t start; /* settings read at start-up (policy.h marks them) */
    rd_kafka_t *producer;
    pthread_t poller; /* serves delivery reports and errors */
    pthread_t reaper; /* deletes idle consumer instances */
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping; /* the poller and reaper end */
    bool ws_stop;  /* WebSocket streams end (they close first, before the daemon) */
    int n_ws;      /* WebSocket streams alive, under stop_mu */
    sl_gw_breaker_t breaker;
    sl_gw_acls_t acls;      /* authorization=acl: the brokers' ACLs, cached */
    pthread_mutex_t pol_mu; /* the current policy pointer and every policy's refs */
    sl_gw_policy_t *policy;
    pthread_mutex_t md_mu; /* metadata snapshot */
    const struct rd_kafka_metadata *md;
    uint64_t md_at;
    char *cluster_id;        /* the brokers' cluster id once known (under md_mu) */
    pthread_mutex_t cons_mu; /* the consumer instance list */
    sl_gw_consumer_t *consumers;
    int n_consumers;
    uint64_t next_instance;
    pthread_mutex_t m_mu;            /* metrics */
    uint64_t requests[SL_GW_M_N][6]; /* by status class: [1] 1xx .. [5] 5xx */
    sl_hist_t *latency[SL_GW_M_N];   /* microseconds */
    uint64_t reloads, reload_errors;
};

typedef struct sl_gw_req {
    sl_gw_t *gw;
    struct MHD_Connection *conn; /* HTTP/1.1; NULL for HTTP/2, which fills hdr and arg */
    const sl_gw_kv_t *hdr, *arg;
    int nhdr, narg;
    const char *peer_cn; /* HTTP/2 over TLS: the verified client certificate's CN, or NULL */
    const char *method;
    char *segs[SL_GW_MAX_SEGS]; /* path split on '/' */
    int nseg;
    const char *body; /* NULL when empty; not NUL-terminated */
    size_t body_len;
    sl_gw_policy_t *policy; /* held for the request */
    sl_gw_principal_t *principal;
} sl_gw_req_t;

typedef struct sl_gw_resp {
    int status;
    sl_buf_t body;
    const char *content_type;
    uint64_t retry_after_s;       /* > 0: a Retry-After header */
    struct MHD_Response *upgrade; /* a WebSocket upgrade (status 101) queued instead of body */
} sl_gw_resp_t;

/* A JSON error body {"error_code": code, "message": ...} with HTTP `status`. */
void sl_gw_error(sl_gw_resp_t *r, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets the body to `j` serialized (j is consumed). */
void sl_gw_json(sl_gw_resp_t *r, int status, json_t *j);
/* Header value of the request, or NULL. */
const char *sl_gw_header(const sl_gw_req_t *q, const char *name);
/* Query argument of the request, or NULL. */
const char *sl_gw_arg(const sl_gw_req_t *q, const char *name);
/* Content-Type is JSON (application/json, or a vnd.kafka...+json type when `kafka_types`). */
bool sl_gw_is_json(const sl_gw_req_t *q, bool kafka_types);

/* Partition count of `topic` from a snapshot at most SL_GW_METADATA_TTL old (refreshed once
 * when the topic is missing). Returns the count, 0 when the topic does not exist, -1 when the
 * brokers did not answer (why says so). */
int sl_gw_partitions(sl_gw_t *gw, const char *topic, char *why);

/* May principal `pr` of policy `p` consume or produce (`op`) on `topic`, or (topic NULL) use
 * the consumer routes of `group`? With authorization=policy the file decides (for a group: the
 * consume operation); with authorization=acl the brokers' ACLs for User:<name> do: WRITE on the
 * topic to produce, READ on the topic to consume, READ on the group for the consumer routes.
 * 1 allowed, 0 refused, -1 the brokers did not answer DescribeAcls (why says so). */
int sl_gw_may(sl_gw_t *gw, sl_gw_policy_t *p, const sl_gw_principal_t *pr, unsigned op,
              const char *topic, const char *group, char *why);
/* sl_gw_may for request q; false with r answered (403 40301 or 503 50303) when not allowed. */
bool sl_gw_check(sl_gw_req_t *q, sl_gw_resp_t *r, unsigned op, const char *topic,
                 const char *group);

/* Another reference on policy p (held by a request), and its release (the last one frees it). */
void sl_gw_policy_hold(sl_gw_t *gw, sl_gw_policy_t *p);
void sl_gw_policy_release(sl_gw_t *gw, sl_gw_policy_t *p);

/* Routes, authenticates, rate-limits and answers one complete request (both protocols): `path`
 * is the request path without its query; q has gw, method, body and conn or hdr/arg set. */
void sl_gw_serve(sl_gw_req_t *q, const char *path, sl_gw_resp_t *r);

/* front.c: owns the listening socket. Plain connections are sniffed (the HTTP/2 preface goes
 * to h2.c, anything else is handed to MHD as is); TLS connections are terminated here and
 * ALPN picks h2 or HTTP/1.1 (bytes pumped to MHD over a socket pair). */
sl_gw_front_t *sl_gw_front_start(sl_gw_t *gw, const char *host, int port, char *err);
int sl_gw_front_port(const sl_gw_front_t *f);
/* Stops accepting and ends every connection thread (bounded wait). */
void sl_gw_front_stop(sl_gw_front_t *f);
void sl_gw_front_free(sl_gw_front_t *f);
/* The verified client certificate CN of the TLS connection whose MHD side is `fd`; false when
 * none. */
bool sl_gw_front_peer_cn(sl_gw_front_t *f, int fd, char *cn, size_t cap);
/* h2.c: serves one HTTP/2 connection until it ends (ssl may be NULL: h2c prior knowledge). */
struct ssl_st;
void sl_gw_h2_serve(sl_gw_t *gw, int fd, struct ssl_st *ssl, const char *peer_cn);
/* front.c's transport, shared with h2.c: nonblocking reads and writes on a socket or over TLS.
 * Returns the bytes moved (> 0); 0 when it would block, with *want the poll event (POLLIN or
 * POLLOUT) to wait for; -1 when the connection is closed or failed. */
ssize_t sl_gw_io_read(int fd, struct ssl_st *ssl, void *buf, size_t cap, short *want);
ssize_t sl_gw_io_write(int fd, struct ssl_st *ssl, const void *buf, size_t len, short *want);
/* True while the gateway serves (front threads end when it turns false). */
bool sl_gw_running(sl_gw_t *gw);

/* The brokers' cluster id (cached after the first answer) into id (cap bytes): true, or false
 * with the reason in why when the brokers did not tell it. */
bool sl_gw_cluster_id(sl_gw_t *gw, char *id, size_t cap, char *why);

/* Route handlers (produce.c, consume.c). */
void sl_gw_produce(sl_gw_req_t *q, sl_gw_resp_t *r, const char *topic);
void sl_gw_consumers(sl_gw_req_t *q, sl_gw_resp_t *r);
void sl_gw_ws(sl_gw_req_t *q, sl_gw_resp_t *r, const char *topic);
/* A WebSocket produce frame on `topic` (produce.c): `text` is one JSON record
 * {"key","value","headers","partition","id"} or an array of them, keys, values and header values
 * in the stream's format ('b' base64, 's' string, 'j' any JSON value). Checks every record, then
 * produces as the REST route does (breaker, acknowledgement) and returns the answer frame's text
 * (malloc'd): {"type":"ack","topic","partition","offset","timestamp"} (an array gets
 * {"type":"ack","results":[...]}) or {"type":"error","error_code","message"}; "id" is echoed. The
 * caller checks the permission and rate limit. */
char *sl_gw_ws_produce(sl_gw_t *gw, const char *topic, char format, const char *text, size_t n);
void sl_gw_consumers_reap(sl_gw_t *gw, bool all);
void sl_gw_consumers_metrics(sl_gw_t *gw, sl_buf_t *out);
/* A librdkafka conf with bootstrap.servers and the -X overrides; NULL (why) on a bad property. */
rd_kafka_conf_t *sl_gw_kconf(sl_gw_t *gw, char *why);

#endif
