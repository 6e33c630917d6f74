/* cmd_produce.c -- `sluice produce TOPIC`: one record per stdin line, delivery reports awaited.
 * A line is the value, or is split by -K SEP into key and value, by a kcat/rpk-style --format
 * string into fields, or read as a JSON object with --json. Every record is counted once: it is
 * either acknowledged, or failed (not enqueued, or a failed delivery report). */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define MAX_HEADERS 32
#define MAX_TOKENS  32

static void usage(FILE *f) {
    fprintf(f,
            "usage: sluice produce TOPIC [-p PARTITION] [-K SEP | -f FORMAT | --json]\n"
            "                            [--acks 0|1|all] [-z none|gzip|snappy|lz4|zstd]\n"
            "                            [-H key=value ...]\n"
            "Reads lines from stdin, one record each (an empty line is an empty record).\n"
            "  -K SEP     the text before the first SEP is the key, the rest the value\n"
            "  -f FORMAT  fields of a line: %%k key, %%v (or %%s) value, %%p partition,\n"
            "             %%T timestamp (ms); other text must match, e.g. -f '%%k:%%v'\n"
            "  --json     each line is {\"key\":..,\"value\":..,\"partition\":N,\"timestamp\":MS,\n"
            "             \"headers\":{\"k\":\"v\"}} (all optional; a non-string value is sent\n"
            "             as its JSON text)\n"
            "Exits 1 if any record was not acknowledged.\n"
            "options: -b HOST:PORT (default $SLUICE_BROKERS, else 127.0.0.1:9092), "
            "-X librdkafka.key=value\n");
}

static long delivery_failed, delivered;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    if (m->err) {
        if (delivery_failed++ < 5) {
            sl_cli_error("delivery", rd_kafka_err2str(m->err));
        }
    } else {
        delivered++;
    }
}

/* A parsed --format: literal text and fields, alternating as written. */
typedef struct token {
    char field; /* 'k', 'v', 'p', 'T', or 0 for literal text */
    char text[128];
} token_t;

static int parse_format(const char *fmt, token_t *tok) {
    int n = 0;
    for (const char *s = fmt; *s;) {
        if (n >= MAX_TOKENS) {
            return -1;
        }
        if (s[0] == '%' && s[1] && s[1] != '%') {
            char f = s[1] == 's' ? 'v' : s[1];
            if (!strchr("kvpT", f)) {
                return -1;
            }
            tok[n].field = f;
            tok[n++].text[0] = '\0';
            s += 2;
            continue;
        }
        size_t l = 0;
        tok[n].field = 0;
        while (*s && !(s[0] == '%' && s[1] && s[1] != '%') && l + 1 < sizeof tok[n].text) {
            if (s[0] == '%') { /* "%%" */
                s++;
            } else if (s[0] == '\\' && (s[1] == 't' || s[1] == 'n')) {
                tok[n].text[l++] = s[1] == 't' ? '\t' : '\n';
                s += 2;
                continue;
            }
            tok[n].text[l++] = *s++;
        }
        tok[n].text[l] = '\0';
        /* A trailing newline in the format stands for the end of the line. */
        if (l > 0 && tok[n].text[l - 1] == '\n' && !*s) {
            tok[n].text[--l] = '\0';
        }
        if (l > 0) {
            n++;
        }
    }
    for (int i = 1; i < n; i++) {
        if (tok[i].field && tok[i - 1].field) {
            return -1; /* two fields in a row cannot be told apart */
        }
    }
    return n;
}

typedef struct rec {
    const char *key, *val;
    size_t klen, vlen;
    int32_t partition;
    int64_t ts;
    rd_kafka_headers_t *hdrs;
} rec_t;

/* Splits `line` by the format into `r`. False (error printed) if it does not match. */
static bool apply_format(const token_t *tok, int n, char *line, size_t len, long lineno, rec_t *r) {
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        if (!tok[i].field) {
            size_t l = strlen(tok[i].text);
            if (len - at < l || memcmp(line + at, tok[i].text, l)) {
                fprintf(stderr, "sluice: line %ld: expected '%s' at column %zu\n", lineno,
                        tok[i].text, at + 1);
                return false;
            }
            at += l;
            continue;
        }
        size_t end = len;
        if (i + 1 < n) {
            char *hit = memmem(line + at, len - at, tok[i + 1].text, strlen(tok[i + 1].text));
            if (!hit) {
                fprintf(stderr, "sluice: line %ld: expected '%s' after column %zu\n", lineno,
                        tok[i + 1].text, at + 1);
                return false;
            }
            end = (size_t)(hit - line);
        }
        char what[32];
        snprintf(what, sizeof what, "line %ld: %%%c", lineno, tok[i].field);
        if (tok[i].field == 'k') {
            r->key = line + at;
            r->klen = end - at;
        } else if (tok[i].field == 'v') {
            r->val = line + at;
            r->vlen = end - at;
        } else {
            char num[32];
            snprintf(num, sizeof num, "%.*s", (int)(end - at < 31 ? end - at : 31), line + at);
            int64_t v;
            if (!sl_cli_parse_i64(what, num, 0, tok[i].field == 'p' ? INT32_MAX : INT64_MAX, &v)) {
                return false;
            }
            if (tok[i].field == 'p') {
                r->partition = (int32_t)v;
            } else {
                r->ts = v;
            }
        }
        at = end;
    }
    if (at != len) {
        fprintf(stderr, "sluice: line %ld: unexpected text at column %zu\n", lineno, at + 1);
        return false;
    }
    return true;
}

/* Reads one --json line into `r`; strings point into `j` (or `*text`, freed by the caller). */
static bool apply_json(json_t *j, long lineno, rec_t *r, char **text) {
    if (!json_is_object(j)) {
        fprintf(stderr, "sluice: line %ld: expected a JSON object\n", lineno);
        return false;
    }
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) {
        if (!strcmp(k, "key") && json_is_string(v)) {
            r->key = json_string_value(v);
            r->klen = json_string_length(v);
        } else if (!strcmp(k, "key") && json_is_null(v)) {
            r->key = NULL;
        } else if (!strcmp(k, "value") && json_is_string(v)) {
            r->val = json_string_value(v);
            r->vlen = json_string_length(v);
        } else if (!strcmp(k, "value") && json_is_null(v)) {
            r->val = NULL;
            r->vlen = 0;
        } else if (!strcmp(k, "value")) {
            *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
            r->val = *text;
            r->vlen = *text ? strlen(*text) : 0;
        } else if (!strcmp(k, "partition") && json_is_integer(v) && json_integer_value(v) >= 0 &&
                   json_integer_value(v) <= INT32_MAX) {
            r->partition = (int32_t)json_integer_value(v);
        } else if (!strcmp(k, "timestamp") && json_is_integer(v) && json_integer_value(v) >= 0) {
            r->ts = json_integer_value(v);
        } else if (!strcmp(k, "headers") && json_is_object(v)) {
            const char *hk;
            json_t *hv;
            json_object_foreach(v, hk, hv) {
                if (!json_is_string(hv) && !json_is_null(hv)) {
                    fprintf(stderr, "sluice: line %ld: header %s: expected a string\n", lineno, hk);
                    return false;
                }
                if (!r->hdrs) {
                    r->hdrs = rd_kafka_headers_new(8);
                }
                rd_kafka_header_add(r->hdrs, hk, -1, json_string_value(hv),
                                    hv && json_is_string(hv) ? (ssize_t)json_string_length(hv)
                                                             : -1);
            }
        } else {
            fprintf(stderr, "sluice: line %ld: unexpected or invalid field '%s'\n", lineno, k);
            return false;
        }
    }
    return true;
}

/* True if `topic` exists, after asking the broker to create it when `create` (a topic-specific
 * metadata request, which the broker answers by creating the topic if its
 * auto.create.topics.enable allows). Otherwise false with an error, instead of every record
 * waiting out message.timeout.ms. */
static bool topic_ready(rd_kafka_t *rk, const char *topic, bool create) {
    for (int attempt = 0; attempt < 2; attempt++) {
        const struct rd_kafka_metadata *md = sl_cli_metadata(rk);
        if (!md) {
            return false;
        }
        bool found = false;
        for (int i = 0; i < md->topic_cnt; i++) {
            found |= !strcmp(md->topics[i].topic, topic) && !md->topics[i].err;
        }
        rd_kafka_metadata_destroy(md);
        if (found) {
            return true;
        }
        if (!create || attempt > 0) {
            break;
        }
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        if (rd_kafka_metadata(rk, 0, rkt, &md, SL_CLI_TIMEOUT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_metadata_destroy(md);
        }
        rd_kafka_topic_destroy(rkt);
    }
    fprintf(stderr, "sluice: topic %s does not exist%s\n", topic,
            create ? " and the broker did not create it" : "");
    return false;
}

int sl_cmd_produce(int argc, char **argv) {
    static const struct option opts[] = {
        {"brokers", required_argument, 0, 'b'},
        {"partition", required_argument, 0, 'p'},
        {"key-sep", required_argument, 0, 'K'},
        {"format", required_argument, 0, 'f'},
        {"json", no_argument, 0, 'J'},
        {"acks", required_argument, 0, 'a'},
        {"compression", required_argument, 0, 'z'},
        {"header", required_argument, 0, 'H'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    sl_client_opts_t co = {0};
    int64_t partition = RD_KAFKA_PARTITION_UA;
    const char *sep = NULL, *acks = "all", *codec = "none", *fmt = NULL;
    bool json = false;
    char *headers[MAX_HEADERS];
    int n_headers = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:X:p:K:f:Ja:z:H:h", opts, NULL)) != -1) {
        if (sl_client_opt(&co, c, optarg)) {
            continue;
        }
        switch (c) {
        case 'p':
            if (!sl_cli_parse_i64("-p", optarg, 0, INT32_MAX, &partition)) {
                return 2;
            }
            break;
        case 'K':
            sep = optarg;
            break;
        case 'f':
            fmt = optarg;
            break;
        case 'J':
            json = true;
            break;
        case 'a':
            acks = optarg;
            break;
        case 'z':
            codec = optarg;
            break;
        case 'H':
            if (n_headers >= MAX_HEADERS) {
                sl_cli_error("-H", "too many headers");
                return 2;
            }
            headers[n_headers++] = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc || (sep && !*sep) || (!!sep + !!fmt + json) > 1) {
        if ((!!sep + !!fmt + json) > 1) {
            sl_cli_error("produce", "-K, --format and --json exclude each other");
        }
        usage(stderr);
        return 2;
    }
    token_t tok[MAX_TOKENS];
    int n_tok = 0;
    if (fmt && (n_tok = parse_format(fmt, tok)) <= 0) {
        fprintf(stderr,
                "sluice: --format: cannot use '%s' (fields %%k %%v %%s %%p %%T, separated by "
                "text)\n",
                fmt);
        return 2;
    }
    const char *topic = argv[optind];
    rd_kafka_conf_t *conf = sl_cli_conf(&co);
    if (!conf) {
        return 2;
    }
    char errstr[512];
    /* Producing may create the topic where the broker allows it (as kcat and rpk do); a record
     * that cannot be delivered fails after 30 s, not librdkafka's default 300 s. -X still wins. */
    bool ok = true;
    for (int i = 0; i < co.n_props; i++) {
        ok &= strncmp(co.props[i], "message.timeout.ms=", 19) != 0;
    }
    if (rd_kafka_conf_set(conf, "acks", acks, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "compression.codec", codec, errstr, sizeof errstr) ||
        (ok && rd_kafka_conf_set(conf, "message.timeout.ms", "30000", errstr, sizeof errstr))) {
        sl_cli_error("produce", errstr);
        rd_kafka_conf_destroy(conf);
        return 2;
    }
    bool auto_create = true;
    for (int i = 0; i < co.n_props; i++) {
        auto_create &= strncmp(co.props[i], "allow.auto.create.topics=", 25) != 0;
    }
    if (auto_create) {
        rd_kafka_conf_set(conf, "allow.auto.create.topics", "true", errstr, sizeof errstr);
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = sl_cli_new(&co, RD_KAFKA_PRODUCER, conf);
    if (!rk) {
        return 1;
    }
    if (!topic_ready(rk, topic, auto_create)) {
        rd_kafka_destroy(rk);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long enqueued = 0, not_enqueued = 0, lineno = 0;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        if (len > 0 && line[len - 1] == '\n') {
            line[--len] = '\0';
        }
        rec_t r = {.val = line, .vlen = (size_t)len, .partition = (int32_t)partition};
        json_t *j = NULL;
        char *text = NULL;
        bool good = true;
        if (sep) {
            char *s = strstr(line, sep);
            if (s) {
                r.key = line;
                r.klen = (size_t)(s - line);
                r.val = s + strlen(sep);
                r.vlen = (size_t)len - r.klen - strlen(sep);
            }
        } else if (fmt) {
            r.val = NULL;
            r.vlen = 0;
            good = apply_format(tok, n_tok, line, (size_t)len, lineno, &r);
        } else if (json) {
            json_error_t jerr;
            r.val = NULL;
            r.vlen = 0;
            j = json_loadb(line, (size_t)len, 0, &jerr);
            if (!j) {
                fprintf(stderr, "sluice: line %ld: %s\n", lineno, jerr.text);
                good = false;
            } else {
                good = apply_json(j, lineno, &r, &text);
            }
        }
        if (good && n_headers) {
            if (!r.hdrs) {
                r.hdrs = rd_kafka_headers_new((size_t)n_headers);
            }
            for (int i = 0; i < n_headers; i++) {
                char *eq = strchr(headers[i], '=');
                size_t nlen = eq ? (size_t)(eq - headers[i]) : strlen(headers[i]);
                rd_kafka_header_add(r.hdrs, headers[i], (ssize_t)nlen, eq ? eq + 1 : NULL, -1);
            }
        }
        for (; good;) {
            rd_kafka_resp_err_t err = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(r.partition),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(r.key, r.klen),
                RD_KAFKA_V_VALUE((void *)r.val, r.vlen), RD_KAFKA_V_TIMESTAMP(r.ts),
                RD_KAFKA_V_HEADERS(r.hdrs), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 100);
                continue;
            }
            if (err) {
                sl_cli_error("produce", rd_kafka_err2str(err));
                good = false;
            } else {
                r.hdrs = NULL; /* owned by the message now */
                enqueued++;
            }
            break;
        }
        if (!good) {
            not_enqueued++;
        }
        if (r.hdrs) {
            rd_kafka_headers_destroy(r.hdrs);
        }
        free(text);
        json_decref(j);
        rd_kafka_poll(rk, 0);
    }
    free(line);
    while (rd_kafka_outq_len(rk) > 0 && rd_kafka_flush(rk, 1000) == RD_KAFKA_RESP_ERR__TIMED_OUT) {
    }
    rd_kafka_destroy(rk);
    long failed = not_enqueued + delivery_failed;
    if (failed) {
        fprintf(stderr, "sluice: produce: %ld of %ld records not acknowledged\n", failed,
                enqueued + not_enqueued);
        return 1;
    }
    return 0;
}
