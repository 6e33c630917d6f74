/* dispatch.c -- from a frame to a handler: request header, version check, response header.
 *
 * Request header v1: api_key i16, api_version i16, correlation_id i32, client_id nullable string
 * (always a non-compact string). Header v2 (flexible versions) adds a tagged-field section.
 * Response header v0: correlation_id; v1 adds tagged fields — except ApiVersions, whose response
 * header is always v0 so that a client can read it before it knows what the broker speaks.
 * An unknown API key or an unsupported version closes the connection, as Kafka does, except for
 * ApiVersions, which answers UNSUPPORTED_VERSION in a v0 body (KIP-511). */
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/cluster.h"
#include "common/clock.h"
#include "common/log.h"
#include "proto/apis.h"
#include "proto/kerr.h"

typedef struct api_entry {
    const char *name;
    int16_t key, min, max, flex;
    sl_err_t (*handle)(sl_req_t *req);
    sl_counter_t *m_requests;
    sl_counter_t *m_errors;
    sl_histo_t *m_latency;
} api_entry_t;

#define SL_API_ROW(name, key, min, max, flex) {#name, key, min, max, flex, sl_handle_##name},
static api_entry_t api_table[] = {SL_APIS(SL_API_ROW)};
#undef SL_API_ROW

static api_entry_t *by_key[128];

static void init_table(void) {
    static bool done;
    if (done) {
        return;
    }
    done = true;
    for (size_t i = 0; i < SL_ARRAY_LEN(api_table); i++) {
        api_entry_t *e = &api_table[i];
        by_key[e->key] = e;
        char labels[64];
        snprintf(labels, sizeof labels, "api=\"%s\"", e->name);
        e->m_requests =
            sl_metrics_counter("sluice_requests_total", labels, "Kafka requests handled, by API");
        e->m_errors = sl_metrics_counter("sluice_request_errors_total", labels,
                                         "Requests that closed the connection as malformed");
        e->m_latency = sl_metrics_histogram("sluice_request_duration_seconds", labels,
                                            "Time from request decoded to response queued");
    }
}

/* Writes the ApiVersions body listing the table; shared by the normal and the fallback paths. */
void sl_write_api_versions(sl_writer_t *wr, bool flex);
void sl_write_api_versions(sl_writer_t *wr, bool flex) {
    sl_wr_array_len(wr, flex, (int32_t)SL_ARRAY_LEN(api_table));
    for (size_t i = 0; i < SL_ARRAY_LEN(api_table); i++) {
        sl_wr_i16(wr, api_table[i].key);
        sl_wr_i16(wr, api_table[i].min);
        sl_wr_i16(wr, api_table[i].max);
        sl_wr_tags(wr, flex);
    }
}

/* request_percentage: a throttled client is told so in throttle_time_ms (Kafka reports the
 * larger of the request and the bandwidth throttles), whichever API it called. */
static void report_throttle(sl_req_t *req) {
    sl_buf_t *buf = req->wr.buf;
    int at = sl_throttle_field_at(req->api_key, req->api_version);
    if (!req->throttle_ms || at == -1 || !buf || !req->body_at) {
        return;
    }
    size_t pos = req->body_at + (size_t)at;
    if (at == SL_THROTTLE_LAST) {
        size_t tail = 4 + (req->flex ? 1 : 0); /* flexible: an empty tagged-field section */
        if (buf->len < req->body_at + tail || (req->flex && buf->data[buf->len - 1] != 0)) {
            return;
        }
        pos = buf->len - tail;
    }
    if (pos + 4 > buf->len) {
        return;
    }
    const uint8_t *p = buf->data + pos;
    uint32_t cur = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    if (cur < req->throttle_ms) {
        sl_wr_patch_i32(&req->wr, pos, (int32_t)req->throttle_ms);
    }
}

void sl_req_finish(sl_req_t *req) {
    report_throttle(req);
    api_entry_t *e = by_key[req->api_key];
    if (e) {
        sl_histo_observe_us(e->m_latency, (sl_mono_ns() - req->start_ns) / 1000);
    }
    sl_resp_finish(req->resp);
    req->resp = NULL;
}

static void log_bad(sl_conn_t *conn, sl_req_t *req, const char *what) {
    sl_log(SL_LOG_WARN, "proto",
           "conn=%llu peer=%s api=%d v=%d corr=%d offset=%zu err=\"%s\" msg=\"%s\"",
           (unsigned long long)sl_conn_id(conn), sl_conn_peer(conn), req->api_key, req->api_version,
           req->correlation_id, sl_rd_pos(&req->rd), sl_err_str(req->rd.err), what);
}

sl_err_t sl_broker_on_frame(sl_conn_t *conn, const uint8_t *frame, size_t len, void *opaque) {
    sl_broker_t *b = opaque;
    if (sl_defer_blocked(b, conn)) {
        /* An earlier request of this connection waits (defer.c): this one waits behind it. */
        return sl_defer_push(b, conn, frame, len) ? SL_OK : SL_ERR_INVAL;
    }
    return sl_broker_handle_frame(b, conn, frame, len, false);
}

sl_err_t sl_broker_handle_frame(sl_broker_t *b, sl_conn_t *conn, const uint8_t *frame, size_t len,
                                bool retrying) {
    init_table();
    const sl_session_t *sess = sl_conn_session(conn);
    if (sess && sess->raw) {
        return sl_broker_sasl_raw(b, conn, frame, len);
    }
    sl_req_t *req = sl_xcalloc(1, sizeof *req);
    req->broker = b;
    req->conn = conn;
    req->start_ns = sl_mono_ns();
    req->rd = sl_reader_init(frame, len);
    req->api_key = sl_rd_i16(&req->rd);
    req->api_version = sl_rd_i16(&req->rd);
    req->correlation_id = sl_rd_i32(&req->rd);
    req->client_id = sl_rd_str(&req->rd, false);
    if (!req->rd.err && req->api_key == SL_CLUSTER_API_KEY && b->cluster) {
        /* Between brokers of a cluster (cluster.h): header v1, response header v0. On a SASL
         * listener it needs an authenticated connection like any other request (the cluster
         * handler checks the principal's ACLs). */
        if (!sl_broker_sasl_gate(req)) {
            free(req);
            return SL_ERR_INVAL;
        }
        req->resp = sl_conn_resp_new(conn);
        req->wr.buf = sl_resp_buf(req->resp);
        sl_wr_i32(&req->wr, req->correlation_id);
        sl_err_t rc = sl_cluster_handle(req);
        if (rc != SL_OK) {
            log_bad(conn, req, "malformed cluster request");
            sl_resp_discard(req->resp);
            free(req);
            return SL_ERR_INVAL;
        }
        sl_resp_finish(req->resp);
        free(req);
        return SL_OK;
    }
    api_entry_t *e = (req->api_key >= 0 && req->api_key < 128) ? by_key[req->api_key] : NULL;
    if (req->rd.err || !e) {
        log_bad(conn, req, req->rd.err ? "bad request header" : "unknown api key");
        free(req);
        return SL_ERR_INVAL;
    }
    sl_counter_add(e->m_requests, 1);
    if (req->api_version < e->min || req->api_version > e->max) {
        if (req->api_key == SL_API_ApiVersions) {
            /* KIP-511: answer in v0 so the client can retry with a version we list. */
            req->resp = sl_conn_resp_new(conn);
            req->wr.buf = sl_resp_buf(req->resp);
            sl_wr_i32(&req->wr, req->correlation_id);
            sl_wr_i16(&req->wr, KERR_UNSUPPORTED_VERSION);
            sl_write_api_versions(&req->wr, false);
            sl_req_finish(req);
            free(req);
            return SL_OK;
        }
        log_bad(conn, req, "unsupported api version");
        free(req);
        return SL_ERR_INVAL;
    }
    req->flex = req->api_version >= e->flex;
    sl_rd_tags(&req->rd, req->flex);
    req->body_off = sl_rd_pos(&req->rd);
    req->resp = sl_conn_resp_new(conn);
    req->wr.buf = sl_resp_buf(req->resp);
    sl_wr_i32(&req->wr, req->correlation_id);
    if (req->api_key != SL_API_ApiVersions) {
        sl_wr_tags(&req->wr, req->flex);
    }
    if (!sl_broker_sasl_gate(req)) {
        sl_resp_discard(req->resp);
        free(req);
        return SL_ERR_INVAL;
    }
    if (req->api_key == SL_API_Produce && sl_defer_produce_needs_files(b, req)) {
        /* Fresh partitions: their files are being made off the loop (defer.c). */
        sl_resp_discard(req->resp);
        free(req);
        if (retrying) {
            return SL_AGAIN;
        }
        return sl_defer_push(b, conn, frame, len) ? SL_OK : SL_ERR_INVAL;
    }
    sl_str_t client_id = req->client_id; /* in the frame; req may be gone after SL_AGAIN */
    const char *user = sl_req_principal(req);
    uint64_t t0 = sl_mono_ns();
    /* request_percentage: the loop time this client's requests take. A response answered later
     * (SL_AGAIN) reports the throttle its client owed when the request came in; one answered
     * now, the throttle after counting this request too (sl_req_finish writes it). */
    req->body_at = sl_wr_pos(&req->wr);
    req->throttle_ms = sl_quota_record(b->quotas, user, client_id, SL_QK_REQUEST_PERCENTAGE, 0, t0);
    sl_err_t rc = e->handle(req);
    uint32_t req_ms = sl_quota_record(b->quotas, user, client_id, SL_QK_REQUEST_PERCENTAGE,
                                      (double)(sl_mono_ns() - t0), sl_mono_ns());
    if (req_ms) {
        sl_conn_throttle(conn, req_ms);
        sl_counter_add(b->m_quota_throttled_request, 1);
    }
    if (rc != SL_AGAIN && req_ms > req->throttle_ms) {
        req->throttle_ms = req_ms;
    }
    if (rc == SL_AGAIN) {
        return SL_OK; /* the handler keeps the request and answers later */
    }
    if (rc != SL_OK) {
        sl_counter_add(e->m_errors, 1);
        log_bad(conn, req, "malformed request body");
        if (req->resp) {
            sl_resp_discard(req->resp);
        }
        free(req);
        return SL_ERR_INVAL;
    }
    if (req->resp) {
        sl_req_finish(req);
    }
    free(req);
    return SL_OK;
}

void sl_broker_on_close(sl_conn_t *conn, void *opaque) {
    sl_defer_drop_conn(opaque, conn);
    sl_admin_drop_conn(opaque, conn);
    sl_fetch_waits_drop_conn(opaque, conn);
    sl_broker_sasl_drop(conn);
}
