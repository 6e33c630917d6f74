/* payload.c -- record bodies for `sluice bench` (see payload.h).
 *
 * Cost per record: a few random draws, a few dozen bytes of hand-formatted fields, and one memcpy
 * of the body filler from a block built when the generator is created. The filler block of each
 * kind is max_size + SLACK bytes long, so a record of any size can take its filler from any
 * starting offset below SLACK without running off the end. Filler starts at a word or element
 * boundary (up to MAX_STARTS of them, spread over the first SLACK bytes); array kinds
 * (transaction lines, IoT readings) end at the last complete element, blank-padded, so every
 * record stays valid JSON. */
#include "bench/payload.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define SLACK      8192
#define MAX_STARTS 256
#define N_META     64
#define META_MAX   128
#define N_KINDS    3 /* chat, transaction, iot */

typedef struct filler {
    char *block;
    size_t len;
    uint32_t starts[MAX_STARTS]; /* word or element boundaries below SLACK */
    int n_starts;
} filler_t;

struct sl_payload_gen {
    sl_payload_spec_t s;
    int producer;
    uint64_t rnd;
    uint8_t *buf;
    char meta[N_META][META_MAX];
    uint8_t meta_len[N_META];
    filler_t fill[N_KINDS]; /* indexed by kind - SL_PAYLOAD_CHAT */
};

/* splitmix64: a full-period 64-bit generator, good enough for workload shapes and cheap. */
static uint64_t next_u64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t below(uint64_t *x, uint32_t n) {
    return (uint32_t)(((next_u64(x) >> 32) * (uint64_t)n) >> 32);
}

static double unit(uint64_t *x) {
    return (double)(next_u64(x) >> 11) * 0x1.0p-53;
}

static const char *const kind_names[] = {"fixed", "chat", "transaction", "iot", "mix"};

const char *sl_payload_kind_name(sl_payload_kind_t kind) {
    return kind_names[kind];
}

/* ---- spec ------------------------------------------------------------------------------------ */

static int parse_size(const char **pp, uint64_t *out) {
    char *end;
    const char *p = *pp;
    if (*p < '0' || *p > '9') {
        return -1;
    }
    uint64_t v = strtoull(p, &end, 10), mult = 1;
    if (*end == 'k' || *end == 'K') {
        mult = 1024;
        end++;
    } else if (*end == 'm' || *end == 'M') {
        mult = 1024 * 1024;
        end++;
    }
    *pp = end;
    *out = v > SL_PAYLOAD_MAX ? (uint64_t)SL_PAYLOAD_MAX + 1 : v * mult; /* no wrap-around */
    return 0;
}

sl_err_t sl_payload_spec_init(sl_payload_spec_t *s, const char *kind, const char *sizes,
                              int64_t size, int64_t disorder_ms, const char *fraction,
                              uint64_t seed, char *err) {
    memset(s, 0, sizeof *s);
    int found = -1;
    for (int k = SL_PAYLOAD_FIXED; k <= SL_PAYLOAD_MIX; k++) {
        if (!strcmp(kind, kind_names[k])) {
            found = k;
        }
    }
    s->kind = (sl_payload_kind_t)SL_MAX(found, 0);
    if (found < 0) {
        snprintf(err, SL_ERRLEN, "payload must be fixed, chat, transaction, iot or mix, not '%s'",
                 kind);
        return SL_ERR_INVAL;
    }
    uint64_t min = s->kind == SL_PAYLOAD_FIXED ? SL_PAYLOAD_HDR : SL_PAYLOAD_MIN;
    uint64_t total = 0;
    if (!sizes[0]) {
        s->n_sizes = 1;
        s->size[0] = (uint32_t)SL_MAX(size, 0);
        s->cum_weight[0] = total = 1;
    }
    for (const char *p = sizes; *p;) {
        uint64_t sz, w = 1;
        if (s->n_sizes == SL_PAYLOAD_MAX_SIZES || parse_size(&p, &sz) != 0) {
            snprintf(err, SL_ERRLEN,
                     "sizes must be SIZE[:WEIGHT],... with at most %d sizes, e.g. "
                     "1024:80,10240:15,102400:5",
                     SL_PAYLOAD_MAX_SIZES);
            return SL_ERR_INVAL;
        }
        if (*p == ':') {
            char *end = (char *)++p;
            w = (*p >= '0' && *p <= '9') ? strtoull(p, &end, 10) : 0;
            p = end;
            if (w == 0 || w > 1000000) {
                snprintf(err, SL_ERRLEN, "sizes: weights are integers 1..1000000");
                return SL_ERR_INVAL;
            }
        }
        if (*p && *p != ',') {
            snprintf(err, SL_ERRLEN, "sizes: unexpected '%c' (format SIZE[:WEIGHT],...)", *p);
            return SL_ERR_INVAL;
        }
        p += *p == ',';
        if (sz > SL_PAYLOAD_MAX) {
            snprintf(err, SL_ERRLEN, "sizes: %" PRIu64 " is above %d", sz, SL_PAYLOAD_MAX);
            return SL_ERR_INVAL;
        }
        total += w;
        s->size[s->n_sizes] = (uint32_t)sz;
        s->cum_weight[s->n_sizes++] = (uint32_t)total;
    }
    for (int i = 0; i < s->n_sizes; i++) {
        if (s->size[i] < min) {
            snprintf(err, SL_ERRLEN, "record size %u is below %" PRIu64 " for payload=%s",
                     s->size[i], min, kind);
            return SL_ERR_INVAL;
        }
        s->max_size = SL_MAX(s->max_size, s->size[i]);
    }
    char *end;
    s->disorder_fraction = strtod(fraction, &end);
    if (end == fraction || *end || !(s->disorder_fraction >= 0 && s->disorder_fraction <= 1)) {
        snprintf(err, SL_ERRLEN, "disorder.fraction must be a number in [0, 1], not '%s'",
                 fraction);
        return SL_ERR_INVAL;
    }
    if (disorder_ms < 0) {
        snprintf(err, SL_ERRLEN, "disorder.ms must be >= 0");
        return SL_ERR_INVAL;
    }
    if (disorder_ms > 0 && s->kind == SL_PAYLOAD_FIXED) {
        snprintf(err, SL_ERRLEN,
                 "disorder.ms needs an event timestamp: payload=chat, transaction, iot or mix");
        return SL_ERR_INVAL;
    }
    s->disorder_ms = disorder_ms;
    s->seed = seed;
    return SL_OK;
}

/* ---- templates, built once per generator ---------------------------------------------------- */

static const char *const words[] = {
    "hey",     "are",    "we",      "still",   "on",       "for",     "the",    "deploy",
    "tonight", "i",      "think",   "so",      "just",     "pushed",  "fix",    "can",
    "you",     "review", "it",      "when",    "get",      "a",       "chance", "thanks",
    "lunch",   "at",     "noon",    "sounds",  "good",     "see",     "in",     "standup",
    "meeting", "moved",  "to",      "3pm",     "build",    "is",      "green",  "again",
    "who",     "owns",   "billing", "service", "customer", "reports", "slow",   "page",
    "load",    "my",     "laptop",  "died",    "back",     "in",      "10",     "min",
    "merged",  "ship",   "ok",      "lgtm",    "nice",     "work",    "team",   "weekend"};
static const char *const rooms[] = {"#general", "#ops",      "#eng-backend", "#support",
                                    "#random",  "#payments", "#mobile",      "#incidents"};
static const char *const regions[] = {"eu-west-1", "eu-central-1", "us-east-1",
                                      "us-west-2", "ap-south-1",   "sa-east-1"};
static const char *const apps[] = {"ios/7.4.2", "android/7.4.1", "web/2024.11",
                                   "api/v3",    "pos/1.9.0",     "gateway/4.2"};
static const char *const items[] = {
    "coffee beans 1kg", "usb-c cable",     "paper towels", "notebook a5", "phone case",
    "running socks",    "olive oil 750ml", "hdmi adapter", "desk lamp",   "green tea 50 bags"};
static const char *const currencies[] = {"EUR", "USD", "GBP", "CHF", "SEK", "JPY"};
static const char *const statuses[] = {"authorized", "captured", "settled", "refunded", "declined"};
static const char *const firmwares[] = {"2.4.1", "2.4.0", "2.3.7", "3.0.0-rc2"};

static void build_meta(sl_payload_gen_t *g) {
    for (int i = 0; i < N_META; i++) {
        int n = snprintf(
            g->meta[i], META_MAX, "region=%s;app=%s;ip=10.%u.%u.%u;trace=%016" PRIx64 ";tier=%s",
            regions[below(&g->rnd, SL_ARRAY_LEN(regions))],
            apps[below(&g->rnd, SL_ARRAY_LEN(apps))], below(&g->rnd, 256), below(&g->rnd, 256),
            below(&g->rnd, 256), next_u64(&g->rnd), below(&g->rnd, 4) ? "free" : "pro");
        g->meta_len[i] = (uint8_t)SL_MIN(n, META_MAX - 1);
    }
}

/* Appends words (chat) or JSON objects joined by commas until the block is `want` bytes long. */
static void build_filler(filler_t *f, size_t want, uint64_t *rnd, sl_payload_kind_t kind) {
    f->block = sl_xmalloc(want + 256);
    f->len = 0;
    f->n_starts = 0;
    uint32_t t = 0;
    while (f->len < want) {
        char u[192];
        int n = 0;
        if (kind != SL_PAYLOAD_CHAT && f->len > 0) {
            f->block[f->len++] = ',';
        }
        if (f->len < SLACK && f->n_starts < MAX_STARTS &&
            (f->n_starts == 0 || f->len >= f->starts[f->n_starts - 1] + SLACK / MAX_STARTS)) {
            f->starts[f->n_starts++] = (uint32_t)f->len;
        }
        if (kind == SL_PAYLOAD_CHAT) {
            uint32_t r = below(rnd, 16);
            n = snprintf(u, sizeof u, "%s%s", words[below(rnd, SL_ARRAY_LEN(words))],
                         r == 0   ? ". "
                         : r == 1 ? "? "
                         : r == 2 ? ", "
                                  : " ");
        } else {
            if (kind == SL_PAYLOAD_TRANSACTION) {
                n = snprintf(u, sizeof u,
                             "{\"sku\":\"SKU-%05u\",\"desc\":\"%s\",\"qty\":%u,"
                             "\"unit_price\":\"%u.%02u\"}",
                             below(rnd, 100000), items[below(rnd, SL_ARRAY_LEN(items))],
                             1 + below(rnd, 5), 1 + below(rnd, 200), below(rnd, 100));
            } else {
                t += 100 + below(rnd, 900);
                n = snprintf(u, sizeof u,
                             "{\"t\":%u,\"temp_c\":%u.%u,\"rh\":%u.%u,\"pm25\":%u,"
                             "\"vbat\":3.%03u}",
                             t, 15 + below(rnd, 15), below(rnd, 10), 30 + below(rnd, 40),
                             below(rnd, 10), below(rnd, 60), 600 + below(rnd, 400));
            }
        }
        memcpy(f->block + f->len, u, (size_t)n);
        f->len += (size_t)n;
    }
}

sl_payload_gen_t *sl_payload_gen_new(const sl_payload_spec_t *s, int producer) {
    sl_payload_gen_t *g = sl_xcalloc(1, sizeof *g);
    g->s = *s;
    g->producer = producer;
    g->rnd = s->seed ^ ((uint64_t)(producer + 1) * 0xd1b54a32d192ed03ull);
    (void)next_u64(&g->rnd);
    g->buf = sl_xcalloc(1, s->max_size);
    for (size_t i = SL_PAYLOAD_HDR; i < s->max_size; i++) {
        g->buf[i] = (uint8_t)('a' + i % 26); /* payload=fixed: the original filler */
    }
    if (s->kind == SL_PAYLOAD_FIXED) {
        return g;
    }
    build_meta(g);
    for (int k = SL_PAYLOAD_CHAT; k <= SL_PAYLOAD_IOT; k++) {
        if ((int)s->kind == k || s->kind == SL_PAYLOAD_MIX) {
            build_filler(&g->fill[k - SL_PAYLOAD_CHAT], (size_t)s->max_size + SLACK, &g->rnd,
                         (sl_payload_kind_t)k);
        }
    }
    return g;
}

void sl_payload_gen_free(sl_payload_gen_t *g) {
    if (!g) {
        return;
    }
    for (int k = 0; k < N_KINDS; k++) {
        free(g->fill[k].block);
    }
    free(g->buf);
    free(g);
}

uint8_t *sl_payload_buf(sl_payload_gen_t *g) {
    return g->buf;
}

/* ---- per record: hand-formatted, no snprintf ------------------------------------------------ */

static uint8_t *put(uint8_t *p, const char *s) {
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v) {
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) {
        *p++ = (uint8_t)tmp[--n];
    }
    return p;
}

/* Zero-padded to `width` digits. */
static uint8_t *put_u64w(uint8_t *p, uint64_t v, int width) {
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (uint8_t)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

static uint8_t *put_hex(uint8_t *p, uint64_t v) {
    for (int i = 15; i >= 0; i--) {
        p[i] = (uint8_t) "0123456789abcdef"[v & 15];
        v >>= 4;
    }
    return p + 16;
}

static uint32_t pick_size(sl_payload_gen_t *g) {
    const sl_payload_spec_t *s = &g->s;
    if (s->n_sizes == 1) {
        return s->size[0];
    }
    uint32_t w = below(&g->rnd, s->cum_weight[s->n_sizes - 1]);
    int i = 0;
    while (s->cum_weight[i] <= w) {
        i++;
    }
    return s->size[i];
}

size_t sl_payload_next(sl_payload_gen_t *g, uint64_t seq, int64_t due_ms, uint64_t user,
                       int64_t *event_ms_out) {
    const sl_payload_spec_t *s = &g->s;
    uint32_t size = pick_size(g);
    if (s->kind == SL_PAYLOAD_FIXED) {
        if (event_ms_out) {
            *event_ms_out = due_ms;
        }
        return size;
    }
    sl_payload_kind_t kind = s->kind;
    if (kind == SL_PAYLOAD_MIX) {
        kind = (sl_payload_kind_t)(SL_PAYLOAD_CHAT + below(&g->rnd, N_KINDS));
    }
    int64_t ev = due_ms;
    if (s->disorder_ms > 0 && unit(&g->rnd) < s->disorder_fraction) {
        ev -= 1 + (int64_t)below(&g->rnd, (uint32_t)s->disorder_ms);
    }
    if (event_ms_out) {
        *event_ms_out = ev;
    }
    uint8_t *p = g->buf + SL_PAYLOAD_HDR;
    p = put(p, "{\"ts\":");
    p = put_u64(p, (uint64_t)SL_MAX(ev, 0));
    p = put(p, ",\"id\":\"");
    p = put_u64(p, (uint64_t)g->producer);
    *p++ = '-';
    p = put_u64(p, seq);
    p = put(p, "\",\"user\":\"u");
    p = put_u64(p, user);
    p = put(p, "\",\"meta\":\"");
    uint32_t m = below(&g->rnd, N_META);
    memcpy(p, g->meta[m], g->meta_len[m]);
    p += g->meta_len[m];
    p = put(p, "\",\"body\":{\"kind\":\"");
    p = put(p, kind_names[kind]);
    const char *close;
    if (kind == SL_PAYLOAD_CHAT) {
        p = put(p, "\",\"room\":\"");
        p = put(p, rooms[below(&g->rnd, SL_ARRAY_LEN(rooms))]);
        p = put(p, "\",\"lang\":\"en\",\"text\":\"");
        close = "\"}}";
    } else if (kind == SL_PAYLOAD_TRANSACTION) {
        uint32_t cents = below(&g->rnd, 100000) * (1 + below(&g->rnd, 10));
        p = put(p, "\",\"txn\":\"tx-");
        p = put_hex(p, next_u64(&g->rnd));
        p = put(p, "\",\"from\":\"acct-");
        p = put_u64w(p, user % 100000000, 8);
        p = put(p, "\",\"to\":\"acct-");
        p = put_u64w(p, below(&g->rnd, 100000000), 8);
        p = put(p, "\",\"amount\":\"");
        p = put_u64(p, cents / 100);
        *p++ = '.';
        p = put_u64w(p, cents % 100, 2);
        p = put(p, "\",\"currency\":\"");
        p = put(p, currencies[below(&g->rnd, SL_ARRAY_LEN(currencies))]);
        p = put(p, "\",\"status\":\"");
        p = put(p, statuses[below(&g->rnd, SL_ARRAY_LEN(statuses))]);
        p = put(p, "\",\"lines\":[");
        close = "]}}";
    } else {
        p = put(p, "\",\"device\":\"dev-");
        p = put_u64w(p, user % 100000, 5);
        p = put(p, "\",\"fw\":\"");
        p = put(p, firmwares[below(&g->rnd, SL_ARRAY_LEN(firmwares))]);
        p = put(p, "\",\"battery\":");
        p = put_u64(p, below(&g->rnd, 101));
        p = put(p, ",\"readings\":[");
        close = "]}}";
    }
    size_t used = (size_t)(p - g->buf), nclose = strlen(close);
    SL_ASSERT(used + nclose <= size); /* sizes are >= SL_PAYLOAD_MIN (spec) */
    size_t rem = size - used - nclose;
    const filler_t *f = &g->fill[kind - SL_PAYLOAD_CHAT];
    memcpy(p, f->block + f->starts[below(&g->rnd, (uint32_t)f->n_starts)], rem);
    if (kind != SL_PAYLOAD_CHAT) {
        size_t keep = rem; /* up to the end of the last complete element */
        while (keep > 0 && p[keep - 1] != '}') {
            keep--;
        }
        memset(p + keep, ' ', rem - keep);
    }
    memcpy(p + rem, close, nclose);
    return size;
}

int64_t sl_payload_event_ms(const void *rec, size_t n) {
    const uint8_t *p = rec;
    size_t at = SL_PAYLOAD_HDR + 6;
    if (n < at + 2 || memcmp(p + SL_PAYLOAD_HDR, "{\"ts\":", 6) != 0) {
        return -1;
    }
    int64_t v = 0;
    size_t i = at;
    for (; i < n && i < at + 18 && p[i] >= '0' && p[i] <= '9'; i++) {
        v = v * 10 + (p[i] - '0');
    }
    return i > at && i < n && p[i] == ',' ? v : -1;
}

/* ---- consumer-side disorder ----------------------------------------------------------------- */

void sl_disorder_init(sl_disorder_t *d, int producers, int partitions) {
    memset(d, 0, sizeof *d);
    d->producers = producers;
    /* One slot per producer and partition; past a million slots, one per producer. */
    d->partitions = (int64_t)producers * partitions <= (1 << 20) ? partitions : 1;
    size_t n = (size_t)producers * (size_t)d->partitions;
    d->max_ms = sl_xmalloc(n * sizeof *d->max_ms);
    for (size_t i = 0; i < n; i++) {
        d->max_ms[i] = INT64_MIN;
    }
}

void sl_disorder_fini(sl_disorder_t *d) {
    free(d->max_ms);
    d->max_ms = NULL;
}

void sl_disorder_note(sl_disorder_t *d, int producer, uint64_t seq, int64_t event_ms) {
    if (producer < 0 || producer >= d->producers) {
        return;
    }
    /* The drivers send record `seq` of producer i to partition (i + seq) % partitions. */
    size_t part = (size_t)(((uint64_t)producer + seq) % (uint64_t)d->partitions);
    int64_t *max = &d->max_ms[(size_t)producer * (size_t)d->partitions + part];
    d->seen++;
    if (event_ms < *max) {
        d->late++;
    } else {
        *max = event_ms;
    }
}

/* ---- report --------------------------------------------------------------------------------- */

void sl_payload_report(FILE *f, int json, const sl_payload_spec_t *s, const sl_disorder_t *d,
                       uint64_t bytes, uint64_t records) {
    double mean = records ? (double)bytes / (double)records : 0;
    double frac = d->seen ? (double)d->late / (double)d->seen : 0;
    if (json) {
        fprintf(f, ",\"payload\":\"%s\",\"sizes\":[", kind_names[s->kind]);
        for (int i = 0; i < s->n_sizes; i++) {
            uint32_t w = s->cum_weight[i] - (i ? s->cum_weight[i - 1] : 0);
            fprintf(f, "%s[%u,%u]", i ? "," : "", s->size[i], w);
        }
        fprintf(f,
                "],\"mean_size\":%.1f,\"disorder_ms\":%" PRId64 ",\"disorder_fraction\":%g,"
                "\"event_records\":%" PRIu64 ",\"out_of_order\":%" PRIu64,
                mean, s->disorder_ms, s->disorder_fraction, d->seen, d->late);
        if (d->seen) {
            fprintf(f, ",\"out_of_order_fraction\":%.6f", frac);
        } else {
            fprintf(f, ",\"out_of_order_fraction\":null");
        }
        return;
    }
    if (s->kind == SL_PAYLOAD_FIXED && s->n_sizes == 1) {
        return;
    }
    fprintf(f, "payload %s sizes ", kind_names[s->kind]);
    for (int i = 0; i < s->n_sizes; i++) {
        uint32_t w = s->cum_weight[i] - (i ? s->cum_weight[i - 1] : 0);
        fprintf(f, "%s%u:%u", i ? "," : "", s->size[i], w);
    }
    fprintf(f, " mean %.0f B", mean);
    if (s->kind != SL_PAYLOAD_FIXED) {
        fprintf(f,
                "; event time out of order %.2f%% (%" PRIu64 " of %" PRIu64
                " records; disorder.ms=%" PRId64 " disorder.fraction=%g)",
                100 * frac, d->late, d->seen, s->disorder_ms, s->disorder_fraction);
    }
    fprintf(f, "\n");
}
