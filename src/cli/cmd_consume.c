/* cmd_consume.c -- `sluice consume TOPIC`: print records, either of assigned partitions (no
 * group, nothing committed) or as a member of a consumer group (-g, offsets committed). Output is
 * the value per line, key SEP value with -K, a kcat-style --format string, or one JSON object
 * per line with --json. Records written by `sluice bench` (and so `make run`'s demo) start with
 * the bench's 24-byte binary header: it is dropped and the JSON body printed on one line,
 * unless --raw. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/payload.h"
#include "cli/cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: sluice consume TOPIC [-p PARTITION] [-o WHERE] [-c COUNT] [-e] [-g GROUP]\n"
            "                            [-K SEP | -f FORMAT | --json] [--raw]\n"
            "Prints each record's value on its own line (key SEP value with -K).\n"
            "  -o  where to start: beginning, end (default), an OFFSET, -N (N before the end),\n"
            "      or @MS (the first record at or after a Unix timestamp in ms; kcat's s@MS too)\n"
            "  -c  exit after COUNT records;  -e  exit at the end of every partition\n"
            "  -g  consume as a member of GROUP and commit its offsets; -o beginning|end then\n"
            "      only applies where the group has no committed offset (-p, OFFSET, -N, @MS\n"
            "      cannot be combined with -g)\n"
            "  -f  kcat-style format: %%t topic, %%p partition, %%o offset, %%k key, %%s value,\n"
            "      %%K key length, %%S value length, %%T timestamp (ms), %%h headers (k=v,...),\n"
            "      \\n \\t; e.g. -f '%%p:%%o %%k=%%s\\n'\n"
            "  --json  one object per line: topic, partition, offset, timestamp, key, value,\n"
            "      headers\n"
            "  --raw   print the bytes of `sluice bench` records as stored (default: their JSON "
            "body)\n"
            "options: -b HOST:PORT (default $SLUICE_BROKERS, else 127.0.0.1:9092), "
            "-X librdkafka.key=value\n");
}

static volatile sig_atomic_t stop;
static void on_sig(int sig) {
    (void)sig;
    stop = 1;
}

/* The value to show: a `sluice bench` record's body without its header, re-encoded on one line
 * when it is JSON (the bench pads it with blanks); otherwise the bytes as they are. `*tmp` is
 * freed by the caller. */
static const char *shown_value(const rd_kafka_message_t *m, bool raw, size_t *len, char **tmp) {
    const char *p = m->payload;
    *len = p ? m->len : 0;
    *tmp = NULL;
    if (raw || !p || m->len < SL_PAYLOAD_HDR || memcmp(p, "SLB1", 4)) {
        return p;
    }
    p += SL_PAYLOAD_HDR;
    *len = m->len - SL_PAYLOAD_HDR;
    json_t *j = json_loadb(p, *len, 0, NULL);
    if (j) {
        *tmp = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
        if (*tmp) {
            *len = strlen(*tmp);
            return *tmp;
        }
    }
    return p;
}

/* A JSON string of `len` bytes; bytes that are not valid UTF-8 become "\xNN" text. */
static json_t *json_bytes(const void *data, size_t len) {
    if (!data) {
        return json_null();
    }
    json_t *s = json_stringn(data, len);
    if (s) {
        return s;
    }
    char *buf = malloc(len * 4 + 1);
    size_t o = 0;
    for (size_t i = 0; buf && i < len; i++) {
        unsigned char ch = ((const unsigned char *)data)[i];
        if (ch < 0x80) {
            buf[o++] = (char)ch;
        } else {
            o += (size_t)snprintf(buf + o, 5, "\\x%02x", ch);
        }
    }
    s = buf ? json_stringn(buf, o) : json_null();
    free(buf);
    return s;
}

static void print_headers(const rd_kafka_message_t *m, json_t *obj) {
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) || !h) {
        return;
    }
    const char *name;
    const void *val;
    size_t vlen;
    for (size_t i = 0; rd_kafka_header_get_all(h, i, &name, &val, &vlen) == 0; i++) {
        if (obj) {
            json_object_set_new(obj, name, json_bytes(val, vlen));
        } else {
            printf("%s%s=", i ? "," : "", name);
            fwrite(val ? val : "", 1, val ? vlen : 0, stdout);
        }
    }
}

static void print_record(const rd_kafka_message_t *m, const char *sep, const char *fmt, bool json,
                         bool raw) {
    size_t vlen;
    char *tmp;
    const char *val = shown_value(m, raw, &vlen, &tmp);
    int64_t ts = rd_kafka_message_timestamp(m, NULL);
    const char *topic = rd_kafka_topic_name(m->rkt);
    if (json) {
        json_t *h = json_object();
        print_headers(m, h);
        json_t *o = json_pack("{s:s, s:i, s:I, s:I, s:o, s:o, s:o}", "topic", topic, "partition",
                              m->partition, "offset", (json_int_t)m->offset, "timestamp",
                              (json_int_t)ts, "key", json_bytes(m->key, m->key_len), "value",
                              json_bytes(val, vlen), "headers", h);
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (s) {
            puts(s);
            free(s);
        }
        json_decref(o);
    } else if (fmt) {
        for (const char *f = fmt; *f; f++) {
            if (f[0] == '\\' && f[1]) {
                f++;
                putchar(*f == 'n' ? '\n' : *f == 't' ? '\t' : *f);
                continue;
            }
            if (f[0] != '%' || !f[1]) {
                putchar(*f);
                continue;
            }
            f++;
            switch (*f) {
            case 't':
                fputs(topic, stdout);
                break;
            case 'p':
                printf("%d", (int)m->partition);
                break;
            case 'o':
                printf("%" PRId64, (int64_t)m->offset);
                break;
            case 'k':
                fwrite(m->key ? m->key : "", 1, m->key ? m->key_len : 0, stdout);
                break;
            case 's':
                fwrite(val ? val : "", 1, vlen, stdout);
                break;
            case 'K':
                printf("%zd", m->key ? (ssize_t)m->key_len : (ssize_t)-1);
                break;
            case 'S':
                printf("%zd", val ? (ssize_t)vlen : (ssize_t)-1);
                break;
            case 'T':
                printf("%" PRId64, ts);
                break;
            case 'h':
                print_headers(m, NULL);
                break;
            default:
                putchar('%');
                putchar(*f);
            }
        }
    } else {
        if (sep) {
            fwrite(m->key ? m->key : "", 1, m->key ? m->key_len : 0, stdout);
            fputs(sep, stdout);
        }
        fwrite(val ? val : "", 1, vlen, stdout);
        fputc('\n', stdout);
    }
    free(tmp);
}

/* Parses -o. Sets *start (an offset or a librdkafka logical offset) or *ts_ms for @MS. */
static bool parse_offset(const char *s, int64_t *start, int64_t *ts_ms, bool *explicit_off) {
    *explicit_off = true;
    if (!strcmp(s, "beginning") || !strcmp(s, "earliest") || !strcmp(s, "start")) {
        *start = RD_KAFKA_OFFSET_BEGINNING;
        *explicit_off = false;
        return true;
    }
    if (!strcmp(s, "end") || !strcmp(s, "latest")) {
        *start = RD_KAFKA_OFFSET_END;
        *explicit_off = false;
        return true;
    }
    if (s[0] == '@' || (s[0] == 's' && s[1] == '@')) {
        return sl_cli_parse_i64("-o @timestamp", s + (s[0] == '@' ? 1 : 2), 0, INT64_MAX, ts_ms);
    }
    int64_t v;
    if (!sl_cli_parse_i64("-o", s, -INT64_MAX, INT64_MAX, &v)) {
        fprintf(stderr, "sluice: -o: expected beginning, end, OFFSET, -N or @MS\n");
        return false;
    }
    *start = v < 0 ? RD_KAFKA_OFFSET_TAIL(-v) : v;
    return true;
}

int sl_cmd_consume(int argc, char **argv) {
    static const struct option opts[] = {
        {"brokers", required_argument, 0, 'b'}, {"partition", required_argument, 0, 'p'},
        {"offset", required_argument, 0, 'o'},  {"count", required_argument, 0, 'c'},
        {"exit", no_argument, 0, 'e'},          {"key-sep", required_argument, 0, 'K'},
        {"group", required_argument, 0, 'g'},   {"format", required_argument, 0, 'f'},
        {"json", no_argument, 0, 'J'},          {"raw", no_argument, 0, 'R'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
    };
    sl_client_opts_t co = {0};
    int64_t partition = -1, start = RD_KAFKA_OFFSET_END, ts_ms = -1, count = -1;
    bool exit_eof = false, json = false, raw = false, explicit_off = false;
    const char *sep = NULL, *group = NULL, *fmt = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:X:p:o:c:eK:g:f:Jh", opts, NULL)) != -1) {
        if (sl_client_opt(&co, c, optarg)) {
            continue;
        }
        bool ok = true;
        switch (c) {
        case 'p':
            ok = sl_cli_parse_i64("-p", optarg, 0, INT32_MAX, &partition);
            break;
        case 'o':
            ok = parse_offset(optarg, &start, &ts_ms, &explicit_off);
            break;
        case 'c':
            ok = sl_cli_parse_i64("-c", optarg, 1, INT64_MAX, &count);
            break;
        case 'e':
            exit_eof = true;
            break;
        case 'K':
            sep = optarg;
            break;
        case 'g':
            group = optarg;
            break;
        case 'f':
            fmt = optarg;
            break;
        case 'J':
            json = true;
            break;
        case 'R':
            raw = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (!ok) {
            return 2;
        }
    }
    const char *why = NULL;
    if (optind + 1 != argc) {
        why = optind >= argc ? "give the topic" : "too many arguments";
    } else if (!!sep + !!fmt + json > 1) {
        why = "-K, --format and --json exclude each other";
    } else if (group && (partition >= 0 || explicit_off)) {
        why = "-g takes -o beginning|end only, and no -p";
    }
    if (why) {
        sl_cli_error("consume", why);
        usage(stderr);
        return 2;
    }
    const char *topic = argv[optind];
    rd_kafka_conf_t *conf = sl_cli_conf(&co);
    if (!conf) {
        return 2;
    }
    char errstr[512];
    /* Without -g, group.id is still required by the consumer API; nothing is committed. */
    if (rd_kafka_conf_set(conf, "group.id", group ? group : "sluice-consume", errstr,
                          sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", group ? "true" : "false", errstr,
                          sizeof errstr) ||
        rd_kafka_conf_set(conf, "auto.offset.reset",
                          start == RD_KAFKA_OFFSET_BEGINNING ? "earliest" : "latest", errstr,
                          sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof errstr)) {
        sl_cli_error("consume", errstr);
        rd_kafka_conf_destroy(conf);
        return 2;
    }
    rd_kafka_t *rk = sl_cli_new(&co, RD_KAFKA_CONSUMER, conf);
    if (!rk) {
        return 1;
    }
    int n_parts = sl_cli_partition_count(rk, topic);
    if (n_parts < 0) {
        rd_kafka_destroy(rk);
        return 1;
    }
    if (partition >= n_parts) {
        fprintf(stderr, "sluice: topic %s has no partition %" PRId64 "\n", topic, partition);
        rd_kafka_destroy(rk);
        return 1;
    }
    rd_kafka_resp_err_t err;
    rd_kafka_topic_partition_list_t *tpl = rd_kafka_topic_partition_list_new(n_parts);
    if (group) {
        rd_kafka_topic_partition_list_add(tpl, topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_poll_set_consumer(rk);
        err = rd_kafka_subscribe(rk, tpl);
    } else {
        for (int p = 0; p < n_parts; p++) {
            if (partition < 0 || partition == p) {
                rd_kafka_topic_partition_list_add(tpl, topic, p)->offset =
                    ts_ms >= 0 ? ts_ms : start;
            }
        }
        err = ts_ms >= 0 ? rd_kafka_offsets_for_times(rk, tpl, SL_CLI_TIMEOUT_MS)
                         : RD_KAFKA_RESP_ERR_NO_ERROR;
        for (int i = 0; !err && ts_ms >= 0 && i < tpl->cnt; i++) {
            err = tpl->elems[i].err;
            if (!err && tpl->elems[i].offset < 0) { /* nothing at or after the timestamp */
                tpl->elems[i].offset = RD_KAFKA_OFFSET_END;
            }
        }
        if (!err) {
            err = rd_kafka_assign(rk, tpl);
        }
    }
    rd_kafka_topic_partition_list_destroy(tpl);
    if (err) {
        sl_cli_error(topic, rd_kafka_err2str(err));
        rd_kafka_destroy(rk);
        return 1;
    }
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    bool *at_eof = calloc((size_t)n_parts, sizeof *at_eof);
    int rc = 0;
    int64_t got = 0;
    while (!stop && (count < 0 || got < count)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) {
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < n_parts) {
                at_eof[m->partition] = true;
            }
            if (exit_eof) {
                /* Done when every partition assigned to us is at its end. */
                rd_kafka_topic_partition_list_t *as = NULL;
                bool all = rd_kafka_assignment(rk, &as) == 0 && as && as->cnt > 0;
                for (int i = 0; all && i < as->cnt; i++) {
                    int32_t p = as->elems[i].partition;
                    all = p >= 0 && p < n_parts && at_eof[p];
                }
                if (as) {
                    rd_kafka_topic_partition_list_destroy(as);
                }
                stop = all;
            }
        } else if (m->err) {
            sl_cli_error(topic, rd_kafka_message_errstr(m));
            rc = 1;
            if (m->err != RD_KAFKA_RESP_ERR__TRANSPORT) {
                stop = 1;
            }
        } else {
            if (m->partition >= 0 && m->partition < n_parts) {
                at_eof[m->partition] = false;
            }
            print_record(m, sep, fmt, json, raw);
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    free(at_eof);
    fflush(stdout);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
