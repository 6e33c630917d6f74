/* handle_sasl.c -- SASL on the Kafka listeners: SaslHandshake (17) v1, SaslAuthenticate (36)
 * v0-2 with PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER, and the SCRAM credential APIs
 * DescribeUserScramCredentials (50) and AlterUserScramCredentials (51).
 *
 * A connection on a SASL listener moves START -(SaslHandshake)-> HANDSHAKEN -(SaslAuthenticate,
 * one round for PLAIN and OAUTHBEARER, two for SCRAM)-> AUTHENTICATED. Before that, any other
 * request than ApiVersions, SaslHandshake and SaslAuthenticate closes the connection unanswered, as
 * Kafka does (sl_broker_sasl_gate): no request reaches a handler unauthenticated. A SaslHandshake
 * out of turn or SaslAuthenticate before a handshake answers ILLEGAL_SASL_STATE, an unknown or
 * disabled mechanism UNSUPPORTED_SASL_MECHANISM (with the enabled list), and a wrong password,
 * unknown user or malformed SASL message SASL_AUTHENTICATION_FAILED; each then closes the
 * connection once the answer is sent. A failed authentication is answered only after
 * connection.failed.authentication.delay.ms, doubled for each further failure from the same
 * address within a minute (at most 32 times), and the connection reads nothing meanwhile, so a
 * password guesser gets one try per delay and address. Re-authentication (KIP-368): an
 * authenticated client may run the exchange again; it must name the same principal.
 * OAUTHBEARER (RFC 7628, KIP-255): the first message carries a JWT checked by security/oauth.c;
 * the session ends when the token expires (or connections.max.reauth.ms, if sooner), and a
 * refused token is answered with RFC 7628's error JSON as the server message.
 *
 * Credentials: SCRAM credentials only (salt, iterations, StoredKey, ServerKey), durable in the
 * metadata log as SL_META_SCRAM records and replayed into b->creds at start-up; PLAIN passwords
 * are checked against the same credentials, so no password is stored anywhere. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/metalog.h"
#include "common/clock.h"
#include "common/log.h"
#include "proto/apis.h"
#include "proto/kerr.h"
#include "security/credstore.h"
#include "security/oauth.h"
#include "security/scram.h"

#define MAX_SASL_BYTES  4096  /* a SASL message larger than this is malformed, */
#define MAX_OAUTH_BYTES 16384 /* except an OAUTHBEARER one (identity providers' JWTs run long) */
#define FAIL_WINDOW_MS  60000
#define FAIL_MAX_SHIFT  5
#define FAIL_TABLE_SIZE 256

static const char *const mech_names[SL_SASL_N] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512",
                                                  "OAUTHBEARER"};

static int mech_find(const char *name, size_t len) {
    for (int m = 0; m < SL_SASL_N; m++) {
        if (strlen(mech_names[m]) == len && !memcmp(mech_names[m], name, len)) {
            return m;
        }
    }
    return -1;
}

static sl_scram_mech_t scram_of(sl_sasl_mech_t m) {
    return m == SL_SASL_SCRAM_SHA512 ? SL_SCRAM_SHA512 : SL_SCRAM_SHA256;
}

/* The mechanisms in a sasl.enabled.mechanisms value, as bits; SL_ERR_INVAL names a bad one. */
static sl_err_t parse_mechs(const char *list, const char *key, unsigned *out, char *err) {
    *out = 0;
    for (const char *s = list; *s;) {
        size_t len = strcspn(s, ",");
        while (len && s[0] == ' ') {
            s++, len--;
        }
        int m = mech_find(s, len);
        if (m < 0) {
            snprintf(err, SL_ERRLEN,
                     "%s: unknown mechanism '%.*s' (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, "
                     "OAUTHBEARER)",
                     key, (int)len, s);
            return SL_ERR_INVAL;
        }
        *out |= 1u << m;
        s += len;
        s += *s == ',';
    }
    return SL_OK;
}

sl_err_t sl_broker_sasl_start(sl_broker_t *b, char *err) {
    if (!b->creds) {
        b->creds = sl_credstore_new();
    }
    if (parse_mechs(b->conf.sasl_enabled_mechanisms, "sasl.enabled.mechanisms", &b->sasl_mechs,
                    err) != SL_OK) {
        return SL_ERR_INVAL;
    }
    /* Per listener: listener.name.<name>.sasl.enabled.mechanisms, else the global list. */
    unsigned any = 0;
    for (size_t i = 0; i < b->n_listeners; i++) {
        sl_blistener_t *l = &b->listeners[i];
        char buf[SL_CONF_STR_MAX], key[SL_LISTENER_NAME_MAX + 64];
        const char *v = sl_listener_conf(b->conf.listener_props, l, "sasl.enabled.mechanisms",
                                         b->conf.sasl_enabled_mechanisms, buf);
        snprintf(key, sizeof key, "listener.name.%s.sasl.enabled.mechanisms", l->name);
        if (parse_mechs(v, v == buf ? key : "sasl.enabled.mechanisms", &l->sasl_mechs, err) !=
            SL_OK) {
            return SL_ERR_INVAL;
        }
        if (sl_secproto_sasl(l->proto)) {
            if (!l->sasl_mechs) {
                snprintf(err, SL_ERRLEN, "SASL listener %s needs sasl.enabled.mechanisms", l->name);
                return SL_ERR_INVAL;
            }
            any |= l->sasl_mechs;
        }
    }
    if ((any | b->sasl_mechs) & (1u << SL_SASL_OAUTHBEARER)) {
        const sl_broker_conf_t *c = &b->conf;
        sl_oauth_conf_t oc = {c->oauth_public_key, c->oauth_secret, c->oauth_clock_skew_s,
                              c->oauth_audience,   c->oauth_issuer, c->oauth_sub_claim};
        sl_oauth_free(b->oauth);
        if (!(b->oauth = sl_oauth_new(&oc, err))) {
            return SL_ERR_INVAL;
        }
    }
    return SL_OK;
}

static void session_free(sl_session_t *s) {
    if (s && s->scram) {
        sl_scram_server_fini(s->scram);
        free(s->scram);
        s->scram = NULL;
    }
    free(s);
}

void sl_broker_sasl_drop(sl_conn_t *conn) {
    session_free(sl_conn_session(conn));
    sl_conn_set_session(conn, NULL);
}

/* Copies a client-supplied name for a log line: printable ASCII, quotes and backslashes
 * replaced, at most 64 characters. */
static void log_safe(char *out, size_t cap, const char *in, size_t len) {
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < cap && i < 64; i++) {
        char c = in[i];
        out[o++] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? c : '?';
    }
    out[o] = '\0';
}

static bool is_sasl_listener(const sl_conn_t *conn) {
    const sl_blistener_t *l = sl_conn_listener(conn);
    return l && sl_secproto_sasl(l->proto);
}

bool sl_broker_sasl_gate(sl_req_t *req) {
    sl_conn_t *conn = req->conn;
    sl_session_t *s = sl_conn_session(conn);
    if (!s) {
        const char *subject = sl_conn_tls_subject(conn);
        if (!is_sasl_listener(conn) && !*subject) {
            return true; /* PLAINTEXT, or SSL without a client certificate: ANONYMOUS */
        }
        s = sl_xcalloc(1, sizeof *s);
        if (!is_sasl_listener(conn)) {
            /* SSL with a verified client certificate: its subject is the principal. */
            snprintf(s->principal, sizeof s->principal, "%s", subject);
            s->state = SL_SESS_AUTHENTICATED;
            sl_log(SL_LOG_DEBUG, "auth", "conn=%llu peer=%s principal=\"User:%s\" via=ssl",
                   (unsigned long long)sl_conn_id(conn), sl_conn_peer(conn), s->principal);
        }
        sl_conn_set_session(conn, s);
    }
    bool sasl_api = req->api_key == SL_API_ApiVersions || req->api_key == SL_API_SaslHandshake ||
                    req->api_key == SL_API_SaslAuthenticate;
    if (sasl_api) {
        return true;
    }
    if (s->state == SL_SESS_AUTHENTICATED && s->expires_ms && sl_mono_ms() >= s->expires_ms) {
        sl_log(SL_LOG_INFO, "auth",
               "conn=%llu peer=%s principal=\"User:%s\" api=%d msg=\"session expired "
               "(connections.max.reauth.ms or the token's exp) without re-authentication, "
               "closing\"",
               (unsigned long long)sl_conn_id(conn), sl_conn_peer(conn), s->principal,
               req->api_key);
        return false;
    }
    if (s->state == SL_SESS_AUTHENTICATED) {
        return true;
    }
    sl_log(SL_LOG_WARN, "auth",
           "conn=%llu peer=%s api=%d err=ILLEGAL_SASL_STATE msg=\"request before SASL "
           "authentication, closing\"",
           (unsigned long long)sl_conn_id(conn), sl_conn_peer(conn), req->api_key);
    return false;
}

/* ---- failures: delayed per address ---- */

typedef struct fail_rec {
    char ip[64];
    uint64_t last_ms;
    uint32_t fails;
} fail_rec_t;

static fail_rec_t fail_tab[FAIL_TABLE_SIZE];

/* The delay before answering this failure from `peer` ("ip:port"): the configured delay, doubled
 * per earlier failure from the address in the last minute. */
static uint64_t failure_delay(sl_broker_t *b, const char *peer) {
    uint64_t base = (uint64_t)b->conf.auth_failed_delay_ms;
    if (base == 0) {
        return 0;
    }
    char ip[64];
    snprintf(ip, sizeof ip, "%s", peer);
    char *colon = strrchr(ip, ':');
    if (colon) {
        *colon = '\0';
    }
    uint64_t now = sl_mono_ms();
    fail_rec_t *r = NULL, *oldest = &fail_tab[0];
    for (size_t i = 0; i < FAIL_TABLE_SIZE && !r; i++) {
        if (!strcmp(fail_tab[i].ip, ip)) {
            r = &fail_tab[i];
        } else if (fail_tab[i].last_ms < oldest->last_ms) {
            oldest = &fail_tab[i];
        }
    }
    if (!r) {
        r = oldest;
        memset(r, 0, sizeof *r);
        snprintf(r->ip, sizeof r->ip, "%s", ip);
    }
    if (now - r->last_ms > FAIL_WINDOW_MS) {
        r->fails = 0;
    }
    r->last_ms = now;
    uint32_t shift = r->fails < FAIL_MAX_SHIFT ? r->fails : FAIL_MAX_SHIFT;
    r->fails++;
    return base << shift;
}

typedef struct fail_ctx {
    struct fail_ctx *prev, *next; /* on fail_waits until its timer fires */
    uint64_t timer;
    sl_req_t *req;
    bool raw; /* a bare-token exchange: the failure is the closed connection, no answer */
    char why[160];
} fail_ctx_t;

static fail_ctx_t *fail_waits; /* failures waiting for their delay (freed at shutdown) */

static void fail_unlink(fail_ctx_t *f) {
    if (f->prev) {
        f->prev->next = f->next;
    } else {
        fail_waits = f->next;
    }
    if (f->next) {
        f->next->prev = f->prev;
    }
}

static void on_fail_due(sl_loop_t *loop, uint64_t id, void *data) {
    (void)loop;
    (void)id;
    fail_ctx_t *f = data;
    fail_unlink(f);
    sl_conn_t *conn = sl_resp_conn(f->req->resp);
    if (f->raw) {
        sl_resp_discard(f->req->resp);
    } else {
        sl_req_finish(f->req);
    }
    if (conn) {
        sl_conn_close_after_flush(conn, f->why);
    }
    free(f->req);
    free(f);
}

/* Ends an exchange that failed: the response already written in req->wr goes out after the
 * failure delay (the connection reads nothing meanwhile), then the connection closes. Logged
 * with the peer, mechanism and claimed user. Returns SL_AGAIN (the request is kept). */
static sl_err_t fail_later(sl_req_t *req, sl_session_t *s, const char *err_name, const char *user,
                           const char *why) {
    sl_broker_t *b = req->broker;
    s->state = SL_SESS_FAILED;
    uint64_t delay = failure_delay(b, sl_conn_peer(req->conn));
    sl_log(SL_LOG_WARN, "auth",
           "conn=%llu peer=%s mechanism=%s principal=\"User:%s\" err=%s reason=\"%s\" "
           "delay_ms=%llu",
           (unsigned long long)sl_conn_id(req->conn), sl_conn_peer(req->conn), mech_names[s->mech],
           user, err_name, why, (unsigned long long)delay);
    fail_ctx_t *f = sl_xcalloc(1, sizeof *f);
    f->req = req;
    f->raw = s->raw;
    snprintf(f->why, sizeof f->why, "%s: %s", err_name, why);
    if (delay) {
        sl_conn_throttle(req->conn, (uint32_t)delay + 1000);
    }
    f->next = fail_waits;
    if (fail_waits) {
        fail_waits->prev = f;
    }
    fail_waits = f;
    f->timer = sl_loop_timer(b->loop, delay, on_fail_due, f);
    return SL_AGAIN;
}

/* ---- SaslHandshake ---- */

SL_HANDLER(SaslHandshake) {
    sl_broker_t *b = req->broker;
    sl_str_t mech = sl_rd_str(&req->rd, false);
    if (req->rd.err || !mech.p) {
        return SL_ERR_INVAL;
    }
    sl_session_t *s = sl_conn_session(req->conn);
    const sl_blistener_t *l = sl_conn_listener(req->conn);
    unsigned mechs = l ? l->sasl_mechs : b->sasl_mechs;
    int m = mech_find(mech.p, mech.len);
    int16_t err = KERR_NONE;
    char name[80];
    log_safe(name, sizeof name, mech.p, mech.len);
    if (!is_sasl_listener(req->conn) || !s ||
        (s->state != SL_SESS_START && s->state != SL_SESS_AUTHENTICATED)) {
        err = KERR_ILLEGAL_SASL_STATE;
    } else if (m < 0 || !(mechs & (1u << m))) {
        err = KERR_UNSUPPORTED_SASL_MECHANISM;
    }
    sl_wr_i16(&req->wr, err);
    int32_t n = 0;
    for (int k = 0; k < SL_SASL_N; k++) {
        n += (mechs >> k) & 1;
    }
    sl_wr_array_len(&req->wr, false, n);
    for (int k = 0; k < SL_SASL_N; k++) {
        if (mechs & (1u << k)) {
            sl_wr_strz(&req->wr, false, mech_names[k]);
        }
    }
    if (err) {
        sl_log(SL_LOG_WARN, "auth", "conn=%llu peer=%s mechanism=\"%s\" err=%s",
               (unsigned long long)sl_conn_id(req->conn), sl_conn_peer(req->conn), name,
               err == KERR_ILLEGAL_SASL_STATE ? "ILLEGAL_SASL_STATE"
                                              : "UNSUPPORTED_SASL_MECHANISM");
        if (s) {
            s->state = SL_SESS_FAILED;
        }
        sl_conn_t *conn = req->conn;
        sl_req_finish(req);
        sl_conn_close_after_flush(conn, err == KERR_ILLEGAL_SASL_STATE
                                            ? "SaslHandshake out of turn"
                                            : "unsupported SASL mechanism");
        return SL_OK;
    }
    s->reauth = s->state == SL_SESS_AUTHENTICATED;
    s->state = SL_SESS_HANDSHAKEN;
    s->mech = (sl_sasl_mech_t)m;
    if (req->api_version == 0) {
        /* v0 (pre-KIP-152 clients): the tokens follow as bare size-prefixed frames. */
        s->raw = true;
        sl_conn_set_raw_frames(req->conn, true);
    }
    return SL_OK;
}

/* ---- SaslAuthenticate ---- */

static void write_auth_resp(sl_req_t *req, int16_t err, const char *msg, const void *bytes,
                            size_t len) {
    const sl_session_t *s = sl_conn_session(req->conn);
    if (s && s->raw) {
        if (!err) {
            sl_wr_raw(&req->wr, bytes, len); /* a bare token; a failure answers nothing */
        }
        return;
    }
    sl_wr_i16(&req->wr, err);
    sl_wr_strz(&req->wr, req->flex, msg);
    /* auth_bytes is not nullable: an empty token is zero bytes, never null. */
    sl_wr_bytes(&req->wr, req->flex, (sl_bytes_t){bytes ? bytes : (const void *)"", len});
    if (req->api_version >= 1) {
        /* session_lifetime_ms: KIP-368 clients re-authenticate before it runs out. */
        sl_wr_i64(&req->wr, err || !s ? 0 : s->lifetime_ms);
    }
    sl_wr_tags(&req->wr, req->flex);
}

static bool lookup(void *opaque, const char *user, sl_scram_mech_t m, sl_scram_cred_t *out) {
    sl_broker_t *b = opaque;
    return sl_credstore_get(b->creds, user, m, out);
}

/* Authenticated as `user`: the principal is set (re-authentication must keep it). The session
 * lasts connections.max.reauth.ms, or less when `limit_ms` (> 0: a token's remaining life) is
 * shorter. */
static bool authenticated(sl_req_t *req, sl_session_t *s, const char *user, int64_t limit_ms) {
    if (s->reauth && strcmp(s->principal, user) != 0) {
        return false;
    }
    snprintf(s->principal, sizeof s->principal, "%s", user);
    s->state = SL_SESS_AUTHENTICATED;
    int64_t life = req->broker->conf.reauth_ms;
    if (limit_ms > 0 && (life <= 0 || limit_ms < life)) {
        life = limit_ms;
    }
    s->lifetime_ms = life > 0 ? life : 0;
    s->expires_ms = life > 0 ? sl_mono_ms() + (uint64_t)life : 0;
    sl_log(SL_LOG_INFO, "auth", "conn=%llu peer=%s mechanism=%s principal=\"User:%s\"%s",
           (unsigned long long)sl_conn_id(req->conn), sl_conn_peer(req->conn), mech_names[s->mech],
           user, s->reauth ? " reauthenticated" : "");
    return true;
}

static const char failed_msg[] = "Authentication failed: Invalid username or password";

static sl_err_t auth_plain(sl_req_t *req, sl_session_t *s, sl_bytes_t tok) {
    /* authzid NUL authcid NUL passwd */
    const uint8_t *p = tok.p, *end = tok.p + tok.len;
    const uint8_t *z1 = memchr(p, 0, tok.len);
    const uint8_t *z2 = z1 ? memchr(z1 + 1, 0, (size_t)(end - z1 - 1)) : NULL;
    char user[SL_SCRAM_MAX_USER] = "";
    if (!z2 || memchr(z2 + 1, 0, (size_t)(end - z2 - 1)) || z2 == z1 + 1 ||
        (size_t)(z2 - z1 - 1) >= sizeof user) {
        write_auth_resp(req, KERR_SASL_AUTHENTICATION_FAILED,
                        "Authentication failed: malformed PLAIN message", NULL, 0);
        return fail_later(req, s, "SASL_AUTHENTICATION_FAILED", "", "malformed PLAIN message");
    }
    memcpy(user, z1 + 1, (size_t)(z2 - z1 - 1));
    char shown[80];
    log_safe(shown, sizeof shown, user, strlen(user));
    size_t authz_len = (size_t)(z1 - p);
    if (authz_len && (authz_len != strlen(user) || memcmp(p, user, authz_len) != 0)) {
        write_auth_resp(req, KERR_SASL_AUTHENTICATION_FAILED,
                        "Authentication failed: authorization id differs from the user", NULL, 0);
        return fail_later(req, s, "SASL_AUTHENTICATION_FAILED", shown,
                          "authorization id differs from the user");
    }
    const char *pw = (const char *)z2 + 1;
    size_t pw_len = (size_t)(end - z2 - 1);
    sl_scram_cred_t cred;
    bool known = false, ok = false;
    for (int m = 0; m < SL_SCRAM_N && !known; m++) {
        if (sl_credstore_get(req->broker->creds, user, (sl_scram_mech_t)m, &cred)) {
            known = true;
            ok = sl_scram_check_password((sl_scram_mech_t)m, &cred, pw, pw_len);
        }
    }
    if (!ok || !authenticated(req, s, user, 0)) {
        write_auth_resp(req, KERR_SASL_AUTHENTICATION_FAILED, failed_msg, NULL, 0);
        return fail_later(req, s, "SASL_AUTHENTICATION_FAILED", shown,
                          !known ? "unknown user"
                          : !ok  ? "wrong password"
                                 : "re-authenticated as another principal");
    }
    write_auth_resp(req, KERR_NONE, NULL, NULL, 0);
    return SL_OK;
}

static sl_err_t auth_scram(sl_req_t *req, sl_session_t *s, sl_bytes_t tok) {
    if (!s->scram) {
        s->scram = sl_xcalloc(1, sizeof *s->scram);
        sl_scram_server_init(s->scram, scram_of(s->mech));
    }
    char out[512], why[128] = "";
    size_t out_len = 0;
    sl_scram_rc_t rc = sl_scram_server_step(s->scram, tok.p, tok.len, lookup, req->broker, out,
                                            sizeof out, &out_len, why, sizeof why);
    char shown[80];
    log_safe(shown, sizeof shown, s->scram->user, strlen(s->scram->user));
    if (rc == SL_SCRAM_DONE && !authenticated(req, s, s->scram->user, 0)) {
        rc = SL_SCRAM_FAIL;
        snprintf(why, sizeof why, "re-authenticated as another principal");
    }
    if (rc == SL_SCRAM_FAIL || rc == SL_SCRAM_BAD) {
        write_auth_resp(req, KERR_SASL_AUTHENTICATION_FAILED,
                        rc == SL_SCRAM_BAD ? "Authentication failed: malformed SCRAM message"
                                           : "Authentication failed during authentication due to "
                                             "invalid credentials with SASL mechanism SCRAM",
                        NULL, 0);
        sl_err_t r = fail_later(req, s, "SASL_AUTHENTICATION_FAILED", shown, why);
        sl_scram_server_fini(s->scram);
        free(s->scram);
        s->scram = NULL;
        return r;
    }
    write_auth_resp(req, KERR_NONE, NULL, out, out_len);
    if (rc == SL_SCRAM_DONE) {
        sl_scram_server_fini(s->scram);
        free(s->scram);
        s->scram = NULL;
    } else {
        s->state = SL_SESS_EXCHANGE;
    }
    return SL_OK;
}

/* RFC 7628 section 3.2.2: a refused token gets {"status":"invalid_token"} as the server's message
 * (plus the scope the client should ask for, when one is configured; none is here). */
static const char oauth_error_json[] = "{\"status\":\"invalid_token\"}";

static sl_err_t auth_oauth(sl_req_t *req, sl_session_t *s, sl_bytes_t tok) {
    const char *jwt;
    size_t jwt_len;
    char user[sizeof s->principal] = "", why[160] = "";
    int64_t exp_s = 0, now_ms = sl_wall_ms();
    bool ok = false;
    if (sl_oauth_parse_client_msg(tok.p, tok.len, &jwt, &jwt_len) != SL_OK) {
        snprintf(why, sizeof why, "malformed OAUTHBEARER message");
    } else if (sl_oauth_verify(req->broker->oauth, jwt, jwt_len, now_ms / 1000, user, sizeof user,
                               &exp_s, why, sizeof why) == SL_OK) {
        /* The session ends with the token (its exp is in the future, within the skew). */
        int64_t left = exp_s * 1000 - now_ms;
        ok = authenticated(req, s, user, left > 0 ? left : 1);
        if (!ok) {
            snprintf(why, sizeof why, "re-authenticated as another principal");
        }
    }
    char shown[80];
    log_safe(shown, sizeof shown, user, strlen(user));
    if (!ok) {
        char msg[200];
        snprintf(msg, sizeof msg, "Authentication failed: %s", why);
        write_auth_resp(req, KERR_SASL_AUTHENTICATION_FAILED, msg, oauth_error_json,
                        sizeof oauth_error_json - 1);
        return fail_later(req, s, "SASL_AUTHENTICATION_FAILED", shown, why);
    }
    write_auth_resp(req, KERR_NONE, NULL, NULL, 0);
    return SL_OK;
}

static size_t max_message(const sl_session_t *s) {
    return s->mech == SL_SASL_OAUTHBEARER ? MAX_OAUTH_BYTES : MAX_SASL_BYTES;
}

SL_HANDLER(SaslAuthenticate) {
    sl_bytes_t tok = sl_rd_bytes(&req->rd, req->flex);
    sl_rd_tags(&req->rd, req->flex);
    if (req->rd.err) {
        return SL_ERR_INVAL;
    }
    sl_session_t *s = sl_conn_session(req->conn);
    if (!s || (s->state != SL_SESS_HANDSHAKEN && s->state != SL_SESS_EXCHANGE)) {
        write_auth_resp(req, KERR_ILLEGAL_SASL_STATE,
                        "SaslAuthenticate before a SaslHandshake chose a mechanism", NULL, 0);
        sl_log(SL_LOG_WARN, "auth", "conn=%llu peer=%s err=ILLEGAL_SASL_STATE msg=\"%s\"",
               (unsigned long long)sl_conn_id(req->conn), sl_conn_peer(req->conn),
               "SaslAuthenticate before SaslHandshake");
        if (s) {
            s->state = SL_SESS_FAILED;
        }
        sl_conn_t *conn = req->conn;
        sl_req_finish(req);
        sl_conn_close_after_flush(conn, "SaslAuthenticate out of turn");
        return SL_OK;
    }
    if (!tok.p || tok.len > max_message(s)) {
        write_auth_resp(req, KERR_SASL_AUTHENTICATION_FAILED,
                        "Authentication failed: malformed SASL message", NULL, 0);
        return fail_later(req, s, "SASL_AUTHENTICATION_FAILED", "", "malformed SASL message");
    }
    if (s->mech == SL_SASL_PLAIN) {
        return auth_plain(req, s, tok);
    }
    if (s->mech == SL_SASL_OAUTHBEARER) {
        return auth_oauth(req, s, tok);
    }
    return auth_scram(req, s, tok);
}

sl_err_t sl_broker_sasl_raw(sl_broker_t *b, sl_conn_t *conn, const uint8_t *frame, size_t len) {
    sl_session_t *s = sl_conn_session(conn);
    sl_req_t *req = sl_xcalloc(1, sizeof *req);
    req->broker = b;
    req->conn = conn;
    req->api_key = SL_API_SaslAuthenticate;
    req->start_ns = sl_mono_ns();
    req->resp = sl_conn_resp_new(conn);
    req->wr.buf = sl_resp_buf(req->resp);
    sl_bytes_t tok = {frame, len};
    sl_err_t rc;
    if (len > max_message(s)) {
        rc = fail_later(req, s, "SASL_AUTHENTICATION_FAILED", "", "malformed SASL message");
    } else if (s->mech == SL_SASL_PLAIN) {
        rc = auth_plain(req, s, tok);
    } else if (s->mech == SL_SASL_OAUTHBEARER) {
        rc = auth_oauth(req, s, tok);
    } else {
        rc = auth_scram(req, s, tok);
    }
    if (rc == SL_AGAIN) {
        return SL_OK;
    }
    if (s->state == SL_SESS_AUTHENTICATED) {
        s->raw = false; /* Kafka requests from here on */
        sl_conn_set_raw_frames(conn, false);
    }
    sl_req_finish(req);
    free(req);
    return rc;
}

void sl_broker_sasl_stop(sl_broker_t *b) {
    /* Failures still waiting out their delay at shutdown: their connections are gone. */
    while (fail_waits) {
        fail_ctx_t *f = fail_waits;
        fail_unlink(f);
        sl_loop_cancel(b->loop, f->timer);
        sl_resp_discard(f->req->resp);
        free(f->req);
        free(f);
    }
    sl_credstore_free(b->creds);
    b->creds = NULL;
    sl_oauth_free(b->oauth);
    b->oauth = NULL;
}
