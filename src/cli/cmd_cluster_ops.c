/* cmd_cluster_ops.c -- `sluice cluster reassign` and `sluice cluster elect-leaders`: partition
 * reassignment (AlterPartitionReassignments 45 and ListPartitionReassignments 46, v0) and leader
 * election (ElectLeaders 43, v2) on a plain socket, as Kafka's kafka-reassign-partitions.sh and
 * kafka-leader-election.sh do (librdkafka 2.0 has no call for them). Work against Kafka too.
 *
 *   sluice cluster reassign TOPIC:PARTITION --replicas 2,3 [--wait]
 *   sluice cluster reassign TOPIC:PARTITION --cancel
 *   sluice cluster reassign --list [TOPIC:PARTITION]
 *   sluice cluster elect-leaders [--election-type preferred|unclean]
 *                                (--topic T --partition P | --all-topic-partitions) */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/codec.h"
#include "common/util.h"

#define API_ELECT  43
#define API_ALTER  45
#define API_LIST   46
#define MAX_REPS   16
#define WAIT_MS    100
#define TOPIC_MAXC 250

static void usage(FILE *f) {
    fprintf(f, "usage: sluice cluster reassign TOPIC:PARTITION --replicas ID,ID,... [--wait]\n"
               "       sluice cluster reassign TOPIC:PARTITION --cancel\n"
               "       sluice cluster reassign --list [TOPIC:PARTITION]\n"
               "       sluice cluster elect-leaders [--election-type preferred|unclean]\n"
               "                                    (--topic T --partition P | "
               "--all-topic-partitions)\n"
               "reassign moves a partition's replicas to the brokers listed (the first one is the\n"
               "preferred leader): the new ones catch up, then the old ones are dropped; --wait\n"
               "returns once the move is done. elect-leaders makes the first replica the leader\n"
               "(preferred) or, when no in-sync replica is live, any live replica if the topic\n"
               "allows it (unclean, unclean.leader.election.enable=true).\n"
               "options: -b HOST:PORT of a PLAINTEXT listener (default $SLUICE_BROKERS, else "
               "127.0.0.1:9092)\n");
}

static const char *ename(int16_t code) {
    return rd_kafka_err2name((rd_kafka_resp_err_t)code);
}

/* "TOPIC:PARTITION" into topic (at most TOPIC_MAXC characters) and *part. */
static bool parse_tp(const char *s, char *topic, int32_t *part) {
    const char *colon = strrchr(s, ':');
    int64_t p;
    if (!colon || colon == s || (size_t)(colon - s) > TOPIC_MAXC ||
        !sl_cli_parse_i64("PARTITION", colon + 1, 0, INT32_MAX, &p)) {
        sl_cli_error("cluster", "expected TOPIC:PARTITION");
        return false;
    }
    memcpy(topic, s, (size_t)(colon - s));
    topic[colon - s] = '\0';
    *part = (int32_t)p;
    return true;
}

static bool parse_ids(const char *s, int32_t *ids, int32_t *n) {
    *n = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int64_t v;
        if (*n == MAX_REPS || !sl_cli_parse_i64("--replicas", tok, 0, INT32_MAX, &v)) {
            return false;
        }
        ids[(*n)++] = (int32_t)v;
    }
    if (*n == 0) {
        sl_cli_error("cluster", "--replicas needs at least one broker id");
    }
    return *n > 0;
}

static void print_ids(const char *label, sl_reader_t *rd) {
    int32_t n = sl_rd_count(rd, true, 4);
    printf(" %s=", label);
    for (int32_t i = 0; i < n && !rd->err; i++) {
        printf("%s%d", i ? "," : "", (int)sl_rd_i32(rd));
    }
}

/* The topics array of a request for one partition, up to its index (the caller writes the
 * partition's other fields and the tagged fields that close it and its topic). */
static void write_one_part(sl_writer_t *w, const char *topic, int32_t part) {
    sl_wr_array_len(w, true, 1);
    sl_wr_strz(w, true, topic);
    sl_wr_array_len(w, true, 1);
    sl_wr_i32(w, part);
}

/* Sends the request in `req` (freed) and reads the answer: false (error printed, `resp` freed)
 * on failure, else `rd` is left after the response header. */
static bool exchange(int fd, sl_buf_t *req, sl_buf_t *resp, sl_reader_t *rd) {
    bool ok = sl_cli_roundtrip(fd, req, true, resp, rd);
    sl_buf_fini(req);
    if (!ok) {
        sl_buf_fini(resp);
    }
    return ok;
}

/* The top of a reassignment response (both APIs'): throttle time (skipped), the error code
 * (returned) and its message. */
static int16_t read_top(sl_reader_t *rd, sl_str_t *msg) {
    (void)sl_rd_i32(rd);
    int16_t err = sl_rd_i16(rd);
    *msg = sl_rd_str(rd, true);
    return err;
}

/* "sluice: WHAT: ERROR_NAME[: message]" on stderr. */
static void print_error(const char *what, int16_t err, sl_str_t msg) {
    fprintf(stderr, "sluice: %s: %s%s%.*s\n", what, ename(err), msg.p ? ": " : "",
            msg.p ? (int)msg.len : 0, msg.p ? msg.p : "");
}

/* ListPartitionReassignments; prints them (all, or topic/part when topic is set). Sets *found
 * when that partition is listed. 0, or 1 (error printed). */
static int list(int fd, const char *topic, int32_t part, bool print, bool *found) {
    sl_buf_t req = {0}, resp = {0};
    sl_writer_t w = {&req};
    sl_cli_req_begin(&w, API_LIST, 0, true);
    sl_wr_i32(&w, SL_CLI_TIMEOUT_MS);
    if (topic) {
        write_one_part(&w, topic, part);
        sl_wr_tags(&w, true);
    } else {
        sl_wr_array_len(&w, true, -1);
    }
    sl_wr_tags(&w, true);
    sl_reader_t rd;
    *found = false;
    if (!exchange(fd, &req, &resp, &rd)) {
        return 1;
    }
    sl_str_t msg;
    int16_t err = read_top(&rd, &msg);
    int32_t nt = sl_rd_count(&rd, true, 3);
    int rc = 0, shown = 0;
    if (err) {
        print_error("cluster reassign --list", err, msg);
        rc = 1;
    }
    for (int32_t i = 0; i < nt && !rd.err; i++) {
        sl_str_t name = sl_rd_str(&rd, true);
        int32_t np = sl_rd_count(&rd, true, 4);
        for (int32_t j = 0; j < np && !rd.err; j++) {
            int32_t idx = sl_rd_i32(&rd);
            *found = true;
            if (print) {
                printf("%.*s:%d", (int)name.len, name.p ? name.p : "", (int)idx);
                print_ids("replicas", &rd);
                print_ids("adding", &rd);
                print_ids("removing", &rd);
                printf("\n");
                shown++;
            } else {
                for (int k = 0; k < 3; k++) {
                    int32_t m = sl_rd_count(&rd, true, 4);
                    for (int32_t x = 0; x < m && !rd.err; x++) {
                        (void)sl_rd_i32(&rd);
                    }
                }
            }
            sl_rd_tags(&rd, true);
        }
        sl_rd_tags(&rd, true);
    }
    if (rd.err) {
        sl_cli_error("cluster reassign --list", "malformed response");
        rc = 1;
    } else if (print && !rc && shown == 0) {
        printf("no reassignment in progress\n");
    }
    sl_buf_fini(&resp);
    return rc;
}

/* AlterPartitionReassignments of one partition (n < 0: cancel). 0, or 1 (error printed). */
static int alter(int fd, const char *topic, int32_t part, const int32_t *ids, int32_t n) {
    sl_buf_t req = {0}, resp = {0};
    sl_writer_t w = {&req};
    sl_cli_req_begin(&w, API_ALTER, 0, true);
    sl_wr_i32(&w, SL_CLI_TIMEOUT_MS);
    write_one_part(&w, topic, part);
    sl_wr_array_len(&w, true, n);
    for (int32_t i = 0; i < n; i++) {
        sl_wr_i32(&w, ids[i]);
    }
    sl_wr_tags(&w, true);
    sl_wr_tags(&w, true);
    sl_wr_tags(&w, true);
    sl_reader_t rd;
    if (!exchange(fd, &req, &resp, &rd)) {
        return 1;
    }
    sl_str_t msg;
    int16_t err = read_top(&rd, &msg);
    if (!err && sl_rd_count(&rd, true, 3) == 1) {
        (void)sl_rd_str(&rd, true);
        if (sl_rd_count(&rd, true, 4) == 1) {
            (void)sl_rd_i32(&rd);
            err = sl_rd_i16(&rd);
            msg = sl_rd_str(&rd, true);
        }
    }
    int rc = 0;
    if (rd.err) {
        sl_cli_error("cluster reassign", "malformed response");
        rc = 1;
    } else if (err) {
        char what[TOPIC_MAXC + 40];
        snprintf(what, sizeof what, "cluster reassign %s:%d", topic, (int)part);
        print_error(what, err, msg);
        rc = 1;
    } else {
        printf("%s:%d: %s\n", topic, (int)part,
               n < 0 ? "reassignment cancelled" : "reassignment started");
    }
    sl_buf_fini(&resp);
    return rc;
}

static int reassign(const char *brokers, int argc, char **argv) {
    static const struct option opts[] = {
        {"replicas", required_argument, 0, 'r'},
        {"cancel", no_argument, 0, 'c'},
        {"list", no_argument, 0, 'l'},
        {"wait", no_argument, 0, 'w'},
        {"brokers", required_argument, 0, 'b'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int32_t ids[MAX_REPS], n = -2;
    bool cancel = false, do_list = false, wait = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (!parse_ids(optarg, ids, &n)) {
                return 2;
            }
            break;
        case 'c':
            cancel = true;
            break;
        case 'l':
            do_list = true;
            break;
        case 'w':
            wait = true;
            break;
        case 'b':
            brokers = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    char topic[TOPIC_MAXC + 1];
    int32_t part = 0;
    bool has_tp = optind + 1 == argc;
    if (optind + 1 < argc || (has_tp && !parse_tp(argv[optind], topic, &part)) ||
        (do_list ? (cancel || n != -2) : (!has_tp || cancel == (n != -2)))) {
        usage(stderr);
        return 2;
    }
    int fd = sl_cli_dial_first(brokers, "cluster");
    if (fd < 0) {
        return 1;
    }
    bool found;
    int rc;
    if (do_list) {
        rc = list(fd, has_tp ? topic : NULL, part, true, &found);
    } else {
        rc = alter(fd, topic, part, ids, cancel ? -1 : n);
        while (rc == 0 && wait && !cancel) {
            if ((rc = list(fd, topic, part, false, &found)) != 0 || !found) {
                break;
            }
            struct timespec ts = {0, WAIT_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (rc == 0 && wait && !cancel) {
            printf("%s:%d: reassignment done\n", topic, (int)part);
        }
    }
    close(fd);
    return rc;
}

static int elect(const char *brokers, int argc, char **argv) {
    static const struct option opts[] = {
        {"election-type", required_argument, 0, 'e'},
        {"topic", required_argument, 0, 't'},
        {"partition", required_argument, 0, 'p'},
        {"all-topic-partitions", no_argument, 0, 'a'},
        {"brokers", required_argument, 0, 'b'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int8_t type = 0;
    const char *topic = NULL;
    int64_t part = -1;
    bool all = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:h", opts, NULL)) != -1) {
        switch (c) {
        case 'e':
            if (!strcasecmp(optarg, "preferred")) {
                type = 0;
            } else if (!strcasecmp(optarg, "unclean")) {
                type = 1;
            } else {
                sl_cli_error("cluster elect-leaders", "--election-type: preferred or unclean");
                return 2;
            }
            break;
        case 't':
            topic = optarg;
            break;
        case 'p':
            if (!sl_cli_parse_i64("--partition", optarg, 0, INT32_MAX, &part)) {
                return 2;
            }
            break;
        case 'a':
            all = true;
            break;
        case 'b':
            brokers = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || all == (topic != NULL) || (topic && part < 0) || (!topic && part >= 0) ||
        (topic && strlen(topic) > TOPIC_MAXC)) {
        usage(stderr);
        return 2;
    }
    int fd = sl_cli_dial_first(brokers, "cluster");
    if (fd < 0) {
        return 1;
    }
    sl_buf_t req = {0}, resp = {0};
    sl_writer_t w = {&req};
    sl_cli_req_begin(&w, API_ELECT, 2, true);
    sl_wr_i8(&w, type);
    if (all) {
        sl_wr_array_len(&w, true, -1);
    } else {
        write_one_part(&w, topic, (int32_t)part);
        sl_wr_tags(&w, true);
    }
    sl_wr_i32(&w, SL_CLI_TIMEOUT_MS);
    sl_wr_tags(&w, true);
    sl_reader_t rd;
    int rc = 0;
    if (!exchange(fd, &req, &resp, &rd)) {
        close(fd);
        return 1;
    }
    (void)sl_rd_i32(&rd);
    int16_t top = sl_rd_i16(&rd);
    if (top) {
        fprintf(stderr, "sluice: cluster elect-leaders: %s\n", ename(top));
        rc = 1;
    }
    int32_t nt = sl_rd_count(&rd, true, 3), shown = 0;
    for (int32_t i = 0; i < nt && !rd.err; i++) {
        sl_str_t name = sl_rd_str(&rd, true);
        int32_t np = sl_rd_count(&rd, true, 7);
        for (int32_t j = 0; j < np && !rd.err; j++) {
            int32_t idx = sl_rd_i32(&rd);
            int16_t err = sl_rd_i16(&rd);
            sl_str_t msg = sl_rd_str(&rd, true);
            sl_rd_tags(&rd, true);
            if (rd.err) {
                break;
            }
            shown++;
            /* Kafka's tool counts "not needed" as done, not as a failure */
            printf("%.*s:%d: %s%s%.*s\n", (int)name.len, name.p ? name.p : "", (int)idx,
                   err ? ename(err) : "leader elected", err && msg.p ? ": " : "",
                   err && msg.p ? (int)msg.len : 0, err && msg.p ? msg.p : "");
            if (err && err != 84 /* ELECTION_NOT_NEEDED */) {
                rc = 1;
            }
        }
        sl_rd_tags(&rd, true);
    }
    if (rd.err) {
        sl_cli_error("cluster elect-leaders", "malformed response");
        rc = 1;
    } else if (shown == 0 && !top) {
        printf("no partition needed an election\n");
    }
    sl_buf_fini(&resp);
    close(fd);
    return rc;
}

int sl_cmd_cluster_ops(const char *brokers, int argc, char **argv) {
    if (!strcmp(argv[0], "reassign")) {
        return reassign(brokers, argc, argv);
    }
    return elect(brokers, argc, argv);
}
