/* group_rebalance.c -- how long a consumer group takes to consume again after a member joins
 * or dies, and consumer throughput of a group versus a single consumer.
 *
 *   group_rebalance -b HOST:PORT -n MEMBERS [-p PARTITIONS] [-r ROUNDS] [-a ASSIGNOR]
 *     prints, over ROUNDS: time from a new member's subscribe to every member holding its
 *     partitions (join), and from a member being killed (it stops polling and heartbeating) to
 *     the others holding all partitions again (death; includes the session timeout, reported
 *     separately). Median and max.
 *   group_rebalance -b HOST:PORT -T RECORDS -n MEMBERS   consumer throughput of a group
 *
 * Each member is an rd_kafka_t consumer polled by its own thread; assignments are tracked in the
 * rebalance callback (eager protocol: assign/revoke of whole assignments). The member that dies
 * runs in a child process (this program with -M) and is killed with SIGKILL, since librdkafka
 * keeps heartbeating from its own threads while an application merely stops polling. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#define MAX_MEMBERS 64

typedef struct member {
    rd_kafka_t *rk;
    pthread_t th;
    atomic_int stop;  /* 1: close cleanly, 2: just stop (simulated crash) */
    atomic_int owned; /* partitions currently assigned */
    atomic_long consumed;
} member_t;

static const char *brokers = "127.0.0.1:9092", *topic = "rebalance", *assignor = "range";
static char group[64];
static int session_ms = 6000;

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    member_t *m = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_assign(rk, parts);
        atomic_store(&m->owned, parts->cnt);
    } else {
        rd_kafka_assign(rk, NULL);
        atomic_store(&m->owned, 0);
    }
}

static void *run(void *arg) {
    member_t *m = arg;
    while (!atomic_load(&m->stop)) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(m->rk, 20);
        if (msg) {
            if (!msg->err) {
                atomic_fetch_add(&m->consumed, 1);
            }
            rd_kafka_message_destroy(msg);
        }
    }
    return NULL;
}

static member_t *start_member(void) {
    member_t *m = calloc(1, sizeof *m);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char s[32];
    conf_set(c, "bootstrap.servers", brokers);
    conf_set(c, "group.id", group);
    conf_set(c, "partition.assignment.strategy", assignor);
    snprintf(s, sizeof s, "%d", session_ms);
    conf_set(c, "session.timeout.ms", s);
    conf_set(c, "heartbeat.interval.ms", "100");
    conf_set(c, "auto.offset.reset", "earliest");
    conf_set(c, "enable.auto.commit", "false");
    rd_kafka_conf_set_rebalance_cb(c, rebalance_cb);
    rd_kafka_conf_set_opaque(c, m);
    char err[256];
    m->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    rd_kafka_poll_set_consumer(m->rk);
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(m->rk, t);
    rd_kafka_topic_partition_list_destroy(t);
    pthread_create(&m->th, NULL, run, m);
    return m;
}

static void stop_member(member_t *m, bool crash) {
    atomic_store(&m->stop, crash ? 2 : 1);
    pthread_join(m->th, NULL);
    if (!crash) {
        rd_kafka_consumer_close(m->rk);
    }
    rd_kafka_destroy(m->rk); /* a crashed member's session is left to expire */
    free(m);
}

/* Waits until every live member owns at least one partition and all `parts` are owned. */
static double wait_settled(member_t **ms, int n, int parts, double t0, double limit) {
    for (;;) {
        int sum = 0, empty = 0;
        for (int i = 0; i < n; i++) {
            int o = atomic_load(&ms[i]->owned);
            sum += o;
            empty += o == 0;
        }
        if (sum == parts && (empty == 0 || n > parts)) {
            return now_s() - t0;
        }
        if (now_s() - t0 > limit) {
            return -1;
        }
        usleep(1000);
    }
}

extern char **environ;

/* Runs this program as a lone member (-M) in a child process; returns its pid. */
static pid_t spawn_member(const char *self) {
    char s[16];
    snprintf(s, sizeof s, "%d", session_ms);
    char *args[] = {(char *)self, "-M", "-b", (char *)brokers,  "-t", (char *)topic, "-g", group,
                    "-s",         s,    "-a", (char *)assignor, NULL};
    pid_t pid;
    if (posix_spawn(&pid, self, NULL, NULL, args, environ) != 0) {
        return -1;
    }
    return pid;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    printf("%s: median %.0f ms, max %.0f ms (%d rounds)\n", what, v[n / 2] * 1e3, v[n - 1] * 1e3,
           n);
}

int main(int argc, char **argv) {
    int n = 2, parts = 0, rounds = 5, c;
    long throughput = 0;
    bool child = false;
    while ((c = getopt(argc, argv, "b:n:p:r:a:T:s:Mt:g:")) != -1) {
        switch (c) {
        case 'b':
            brokers = optarg;
            break;
        case 'n':
            n = atoi(optarg);
            break;
        case 'p':
            parts = atoi(optarg);
            break;
        case 'r':
            rounds = atoi(optarg);
            break;
        case 'a':
            assignor = optarg;
            break;
        case 'T':
            throughput = atol(optarg);
            break;
        case 's':
            session_ms = atoi(optarg);
            break;
        case 'M':
            child = true;
            break;
        case 't':
            topic = optarg;
            break;
        case 'g':
            snprintf(group, sizeof group, "%s", optarg);
            break;
        default:
            return 2;
        }
    }
    if (child) {
        member_t *m = start_member();
        pthread_join(m->th, NULL); /* until SIGKILL */
        return 0;
    }
    if (n < 1 || n > MAX_MEMBERS) {
        return 2;
    }
    if (parts <= 0) {
        parts = n * 2;
    }
    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    conf_set(pc, "bootstrap.servers", brokers);
    conf_set(pc, "linger.ms", "5");
    char err[256];
    rd_kafka_t *prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
    char tname[64];
    snprintf(tname, sizeof tname, "%s-%d-%d", throughput ? "gtput" : "rebalance", n, getpid());
    topic = tname;
    create_topic(prod, topic, parts);
    snprintf(group, sizeof group, "g-%s", tname);
    member_t *ms[MAX_MEMBERS + 1];

    if (throughput) {
        char payload[100];
        memset(payload, 'x', sizeof payload);
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(prod, topic, NULL);
        for (long i = 0; i < throughput; i++) {
            while (rd_kafka_produce(rkt, (int32_t)(i % parts), RD_KAFKA_MSG_F_COPY, payload,
                                    sizeof payload, NULL, 0, NULL) == -1) {
                rd_kafka_poll(prod, 1);
            }
        }
        rd_kafka_flush(prod, 60000);
        rd_kafka_topic_destroy(rkt);
        double t0 = now_s();
        for (int i = 0; i < n; i++) {
            ms[i] = start_member();
        }
        long total = 0;
        while (total < throughput && now_s() - t0 < 120) {
            usleep(2000);
            total = 0;
            for (int i = 0; i < n; i++) {
                total += atomic_load(&ms[i]->consumed);
            }
        }
        double dt = now_s() - t0;
        printf(
            "group of %d consumers: %ld records of 100 B in %.2f s = %.0f msg/s (join included)\n",
            n, total, dt, (double)total / dt);
        for (int i = 0; i < n; i++) {
            stop_member(ms[i], false);
        }
        rd_kafka_destroy(prod);
        return total >= throughput ? 0 : 1;
    }

    for (int i = 0; i < n - 1; i++) {
        ms[i] = start_member();
    }
    if (n > 1 && wait_settled(ms, n - 1, parts, now_s(), 60) < 0) {
        fprintf(stderr, "initial group did not settle\n");
        return 1;
    }
    double *join = calloc((size_t)rounds, sizeof *join),
           *death = calloc((size_t)rounds, sizeof *death);
    for (int r = 0; r < rounds; r++) {
        /* Join: the n-th member arrives, in a child process so that it can die for real. */
        double t0 = now_s();
        pid_t pid = spawn_member(argv[0]);
        if (pid < 0) {
            fprintf(stderr, "cannot start a member process\n");
            return 1;
        }
        /* The child's partitions are not visible here: settled means the others hold exactly
         * their share (parts - parts / n rounded as range does) and the group has n members. */
        int share = 0;
        for (int i = 0; i < n - 1; i++) {
            share += parts / n + (i < parts % n ? 1 : 0);
        }
        double limit = t0 + 60;
        for (;;) {
            int sum = 0;
            for (int i = 0; i < n - 1; i++) {
                sum += atomic_load(&ms[i]->owned);
            }
            if (sum == share || n == 1) {
                break;
            }
            if (now_s() > limit) {
                fprintf(stderr, "join round %d did not settle\n", r);
                return 1;
            }
            usleep(1000);
        }
        join[r] = now_s() - t0;
        usleep(500000);
        /* Death: kill -9 the child; the others must take over all partitions. */
        t0 = now_s();
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        death[r] = n > 1 ? wait_settled(ms, n - 1, parts, t0, 120) : 0;
        if (death[r] < 0) {
            fprintf(stderr, "death round %d did not settle\n", r);
            return 1;
        }
        usleep(300000);
    }
    char what[128];
    snprintf(what, sizeof what, "group of %d (%d partitions, %s): member joins -> consuming again",
             n, parts, assignor);
    report(what, join, rounds);
    snprintf(what, sizeof what,
             "group of %d: member dies -> others own all partitions (session.timeout.ms=%d)", n,
             session_ms);
    report(what, death, rounds);
    for (int i = 0; i < n - 1; i++) {
        stop_member(ms[i], false);
    }
    rd_kafka_destroy(prod);
    free(join);
    free(death);
    return 0;
}
