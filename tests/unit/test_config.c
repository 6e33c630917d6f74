/* test_config.c -- table-driven configuration, topic config building and the metadata log. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "broker/config.h"
#include "broker/metalog.h"
#include "common/os.h"
#include "harness.h"

static sl_broker_conf_t defaults(void) {
    sl_broker_conf_t c;
    sl_conf_defaults(sl_broker_conf_defs, sl_broker_conf_n_defs, &c);
    return c;
}

TEST(broker_defaults_are_kafkas) {
    sl_broker_conf_t c = defaults();
    CHECK_EQ_INT(c.segment_bytes, 1073741824);
    CHECK_EQ_INT(c.retention_ms, 604800000);
    CHECK_EQ_INT(c.num_partitions, 1);
    CHECK(c.auto_create_topics);
    CHECK_EQ_INT(c.message_max_bytes, 1048588);
    CHECK_EQ_INT(c.flush_messages, INT64_MAX);
    CHECK_EQ_INT(c.group_initial_rebalance_delay_ms, 3000); /* librdkafka 0102/0113 rely on it */
}

TEST(set_checks_names_types_and_ranges) {
    sl_broker_conf_t c = defaults();
    char err[SL_ERRLEN];
    CHECK_EQ_INT(
        sl_conf_set_kv(sl_broker_conf_defs, sl_broker_conf_n_defs, &c, "num.partitions=6", err),
        SL_OK);
    CHECK_EQ_INT(c.num_partitions, 6);
    CHECK_EQ_INT(sl_conf_set_kv(sl_broker_conf_defs, sl_broker_conf_n_defs, &c,
                                "log.retention.hours = 2", err),
                 SL_OK);
    CHECK_EQ_INT(c.retention_ms, 7200000);
    CHECK_EQ_INT(sl_conf_set_kv(sl_broker_conf_defs, sl_broker_conf_n_defs, &c, "no.such=1", err),
                 SL_ERR_NOTFOUND);
    CHECK(strstr(err, "no.such") != NULL);
    CHECK_EQ_INT(
        sl_conf_set_kv(sl_broker_conf_defs, sl_broker_conf_n_defs, &c, "num.partitions=abc", err),
        SL_ERR_INVAL);
    CHECK_EQ_INT(
        sl_conf_set_kv(sl_broker_conf_defs, sl_broker_conf_n_defs, &c, "num.partitions=0", err),
        SL_ERR_INVAL);
    CHECK_EQ_INT(sl_conf_set_kv(sl_broker_conf_defs, sl_broker_conf_n_defs, &c,
                                "auto.create.topics.enable=maybe", err),
                 SL_ERR_INVAL);
    CHECK_EQ_INT(sl_conf_set_kv(sl_broker_conf_defs, sl_broker_conf_n_defs, &c, "novalue", err),
                 SL_ERR_INVAL);
}

TEST(properties_file_with_comments) {
    char path[] = "/tmp/sluice-conf-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *text =
        "# comment\n! also a comment\n\nnum.partitions=3\nlog.segment.bytes: 1048576\n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    sl_broker_conf_t c = defaults();
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_conf_load_file(sl_broker_conf_defs, sl_broker_conf_n_defs, &c, path, err),
                 SL_OK);
    CHECK_EQ_INT(c.num_partitions, 3);
    CHECK_EQ_INT(c.segment_bytes, 1048576);
    fd = open(path, O_WRONLY | O_APPEND);
    CHECK(write(fd, "bad.key=1\n", 10) == 10);
    close(fd);
    CHECK(sl_conf_load_file(sl_broker_conf_defs, sl_broker_conf_n_defs, &c, path, err) != SL_OK);
    CHECK(strstr(err, ":6:") != NULL); /* names the line */
    unlink(path);
}

TEST(topic_conf_overrides_and_validation) {
    sl_broker_conf_t c = defaults();
    sl_topic_conf_t tc;
    char err[SL_ERRLEN];
    sl_kv_t kv[] = {{"retention.ms", "1000"}, {"message.timestamp.type", "LogAppendTime"}};
    CHECK_EQ_INT(sl_topic_conf_build(&c, kv, 2, &tc, err), SL_OK);
    CHECK_EQ_INT(tc.retention_ms, 1000);
    CHECK_EQ_INT(tc.segment_bytes, c.segment_bytes);
    sl_plog_conf_t pc;
    sl_topic_conf_to_plog(&tc, &pc);
    CHECK(pc.log_append_time);
    CHECK_EQ_INT(pc.retention_ms, 1000);
    sl_kv_t bad[] = {{"message.timestamp.type", "Sometime"}};
    CHECK(sl_topic_conf_build(&c, bad, 1, &tc, err) != SL_OK);
    sl_kv_t unknown[] = {{"nope", "1"}};
    CHECK(sl_topic_conf_build(&c, unknown, 1, &tc, err) != SL_OK);
}

TEST(topic_conf_compaction_keys) {
    sl_broker_conf_t c = defaults();
    sl_topic_conf_t tc;
    sl_plog_conf_t pc;
    char err[SL_ERRLEN];
    /* Defaults: delete only, Kafka's cleaner defaults. */
    CHECK_EQ_INT(sl_topic_conf_build(&c, NULL, 0, &tc, err), SL_OK);
    sl_topic_conf_to_plog(&tc, &pc);
    CHECK(pc.cleanup_delete && !pc.cleanup_compact);
    CHECK(pc.min_cleanable_dirty_ratio == 0.5);
    CHECK_EQ_INT(pc.delete_retention_ms, 86400000);
    CHECK_EQ_INT(pc.min_compaction_lag_ms, 0);
    CHECK_EQ_INT(pc.max_compaction_lag_ms, INT64_MAX);
    sl_kv_t compact[] = {{"cleanup.policy", "compact"},
                         {"min.cleanable.dirty.ratio", "0.01"},
                         {"delete.retention.ms", "5000"},
                         {"min.compaction.lag.ms", "100"},
                         {"max.compaction.lag.ms", "60000"}};
    CHECK_EQ_INT(sl_topic_conf_build(&c, compact, 5, &tc, err), SL_OK);
    sl_topic_conf_to_plog(&tc, &pc);
    CHECK(!pc.cleanup_delete && pc.cleanup_compact);
    CHECK(pc.min_cleanable_dirty_ratio == 0.01);
    CHECK_EQ_INT(pc.delete_retention_ms, 5000);
    CHECK_EQ_INT(pc.min_compaction_lag_ms, 100);
    CHECK_EQ_INT(pc.max_compaction_lag_ms, 60000);
    const char *both[] = {"compact,delete", "delete,compact", "compact, delete"};
    for (size_t i = 0; i < 3; i++) {
        sl_kv_t kv[] = {{"cleanup.policy", (char *)both[i]}};
        CHECK_EQ_INT(sl_topic_conf_build(&c, kv, 1, &tc, err), SL_OK);
        sl_topic_conf_to_plog(&tc, &pc);
        CHECK(pc.cleanup_delete && pc.cleanup_compact);
    }
    const char *bad_policy[] = {"", "compacted", "compact,", "delete;compact", "Compact"};
    for (size_t i = 0; i < 5; i++) {
        sl_kv_t kv[] = {{"cleanup.policy", (char *)bad_policy[i]}};
        CHECK(sl_topic_conf_build(&c, kv, 1, &tc, err) != SL_OK);
    }
    const char *bad_ratio[] = {"1.5", "-0.1", "half", "", "0.5x", "nan"};
    for (size_t i = 0; i < 6; i++) {
        sl_kv_t kv[] = {{"min.cleanable.dirty.ratio", (char *)bad_ratio[i]}};
        CHECK(sl_topic_conf_build(&c, kv, 1, &tc, err) != SL_OK);
    }
}

typedef struct seen {
    int n;
    char names[8][32];
    int types[8];
    int parts[8];
} seen_t;

static void collect(const sl_meta_rec_t *rec, void *opaque) {
    seen_t *s = opaque;
    if (s->n < 8) {
        snprintf(s->names[s->n], 32, "%s", rec->name);
        s->types[s->n] = rec->type;
        s->parts[s->n] = rec->partitions;
        s->n++;
    }
}

TEST(metalog_replays_and_truncates_torn_tail) {
    char dir[] = "/tmp/sluice-meta-XXXXXX";
    CHECK(mkdtemp(dir));
    char err[SL_ERRLEN];
    seen_t s = {0};
    sl_metalog_t *ml = sl_metalog_open(dir, collect, &s, err);
    CHECK(ml);
    sl_kv_t kv[] = {{"retention.ms", "5"}};
    sl_meta_rec_t a = {SL_META_TOPIC_CREATE, "alpha", {1}, 3, kv, 1};
    sl_meta_rec_t b = {SL_META_PARTITIONS, "alpha", {0}, 5, NULL, 0};
    CHECK_EQ_INT(sl_metalog_append(ml, &a), SL_OK);
    CHECK_EQ_INT(sl_metalog_append(ml, &b), SL_OK);
    sl_metalog_close(ml);
    /* A torn third record: a few garbage bytes at the end. */
    char path[256];
    snprintf(path, sizeof path, "%s/__metadata.log", dir);
    int fd = open(path, O_WRONLY | O_APPEND);
    CHECK(write(fd, "\x00\x00\x00\x40\x01\x02", 6) == 6);
    off_t torn = lseek(fd, 0, SEEK_END);
    close(fd);
    memset(&s, 0, sizeof s);
    ml = sl_metalog_open(dir, collect, &s, err);
    CHECK(ml);
    CHECK_EQ_INT(s.n, 2);
    CHECK(!strcmp(s.names[0], "alpha"));
    CHECK_EQ_INT(s.types[1], SL_META_PARTITIONS);
    CHECK_EQ_INT(s.parts[1], 5);
    sl_metalog_close(ml);
    fd = open(path, O_RDONLY);
    CHECK_EQ_INT(lseek(fd, 0, SEEK_END), torn - 6);
    close(fd);
    /* A flipped byte inside the second record stops replay after the first. */
    fd = open(path, O_RDWR);
    CHECK(pwrite(fd, "Z", 1, torn - 8) == 1);
    close(fd);
    memset(&s, 0, sizeof s);
    ml = sl_metalog_open(dir, collect, &s, err);
    CHECK(ml);
    CHECK_EQ_INT(s.n, 1);
    sl_metalog_close(ml);
    CHECK_EQ_INT(sl_os_rmtree(dir), 0);
}
