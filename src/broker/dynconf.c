/* dynconf.c -- dynamic broker configs (see dynconf.h): validation, the metadata-log record, and
 * re-deriving the broker's and every topic's effective configuration. */
#include "dynconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/metalog.h"
#include "common/log.h"
#include "proto/kerr.h"

/* Keys of the broker table that take effect when changed at run time: each is read where it is
 * used or is a default topics inherit (re-derived below). Kafka allows all of them dynamically. */
static const char *const applied_keys[] = {
    "log.segment.bytes",
    "log.roll.ms",
    "log.roll.hours",
    "log.retention.ms",
    "log.retention.minutes",
    "log.retention.hours",
    "log.retention.bytes",
    "log.index.interval.bytes",
    "log.flush.interval.messages",
    "log.flush.interval.ms",
    "message.max.bytes",
    "log.message.timestamp.type",
    "compression.type",
    "log.cleanup.policy",
    NULL,
};

/* Kafka's dynamic broker keys sluice has no use for yet: accepted and reported, no effect. */
static const char *const inert_keys[] = {
    "sasl.enabled.mechanisms",
    "sasl.jaas.config",
    "sasl.kerberos.kinit.cmd",
    "sasl.kerberos.min.time.before.relogin",
    "sasl.kerberos.principal.to.local.rules",
    "sasl.kerberos.service.name",
    "sasl.kerberos.ticket.renew.jitter",
    "sasl.kerberos.ticket.renew.window.factor",
    "sasl.login.refresh.buffer.seconds",
    "sasl.login.refresh.min.period.seconds",
    "sasl.login.refresh.window.factor",
    "sasl.login.refresh.window.jitter",
    "sasl.mechanism.inter.broker.protocol",
    "ssl.cipher.suites",
    "ssl.client.auth",
    "ssl.enabled.protocols",
    "ssl.endpoint.identification.algorithm",
    "ssl.key.password",
    "ssl.keymanager.algorithm",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.keystore.type",
    "ssl.protocol",
    "ssl.provider",
    "ssl.secure.random.implementation",
    "ssl.trustmanager.algorithm",
    "ssl.truststore.certificates",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.type",
    "background.threads",
    "num.io.threads",
    "num.network.threads",
    "num.recovery.threads.per.data.dir",
    "num.replica.fetchers",
    "follower.replication.throttled.rate",
    "leader.replication.throttled.rate",
    "replica.alter.log.dirs.io.max.bytes.per.second",
    "unclean.leader.election.enable",
    "min.insync.replicas",
    "max.connection.creation.rate",
    "metric.reporters",
    "log.preallocate",
    "log.message.downconversion.enable",
    "log.message.timestamp.after.max.ms",
    "log.message.timestamp.before.max.ms",
    "log.message.timestamp.difference.max.ms",
    "producer.id.expiration.ms",
    "transaction.partition.verification.enable",
    NULL,
};

static bool in_list(const char *const *list, const char *key) {
    for (; *list; list++) {
        if (!strcmp(*list, key)) {
            return true;
        }
    }
    return false;
}

bool sl_dynconf_key_ok(const char *key, bool *applied_out) {
    *applied_out = in_list(applied_keys, key);
    return *applied_out || in_list(inert_keys, key);
}

int sl_dynconf_scope(const sl_broker_t *b, const char *name, size_t len) {
    char id[24];
    int n = snprintf(id, sizeof id, "%lld", (long long)b->conf.node_id);
    if (len == 0) {
        return SL_DYN_DEFAULT;
    }
    return (size_t)n == len && !memcmp(name, id, len) ? SL_DYN_BROKER : -1;
}

static sl_dynconf_t *state(sl_broker_t *b) {
    if (!b->dynconf) {
        /* First use (replay or a request): b->conf is still the static configuration. */
        b->dynconf = sl_xcalloc(1, sizeof *b->dynconf);
        b->dynconf->static_conf = b->conf;
    }
    return b->dynconf;
}

const char *sl_dynconf_get(const sl_broker_t *b, int scope, const char *key) {
    const sl_dynconf_t *d = b->dynconf;
    for (size_t i = 0; d && i < d->n[scope]; i++) {
        if (!strcmp(d->kv[scope][i].key, key)) {
            return d->kv[scope][i].value;
        }
    }
    return NULL;
}

/* The configuration `kv0` (default scope) and `kv1` (this broker) make over the static one. A
 * bad applied value is reported in err (with SL_ERR_INVAL); inert keys are only kept. */
static sl_err_t derive(const sl_dynconf_t *d, const sl_kv_t *const kv[2], const size_t n[2],
                       sl_broker_conf_t *out, char *err) {
    *out = d->static_conf;
    for (int scope = SL_DYN_DEFAULT; scope <= SL_DYN_BROKER; scope++) {
        for (size_t i = 0; i < n[scope]; i++) {
            bool applied;
            if (!sl_dynconf_key_ok(kv[scope][i].key, &applied)) {
                snprintf(err, SL_ERRLEN, "%s: not a dynamic broker config", kv[scope][i].key);
                return SL_ERR_INVAL;
            }
            if (applied && sl_conf_set(sl_broker_conf_defs, sl_broker_conf_n_defs, out,
                                       kv[scope][i].key, kv[scope][i].value, err) != SL_OK) {
                return SL_ERR_INVAL;
            }
        }
    }
    /* The topic defaults must still make a valid topic configuration. */
    sl_topic_conf_t tc;
    return sl_topic_conf_build(out, NULL, 0, &tc, err) == SL_OK ? SL_OK : SL_ERR_INVAL;
}

static void rebuild_topic(sl_topic_t *t, void *opaque) {
    sl_broker_t *b = opaque;
    char err[SL_ERRLEN];
    if (sl_topic_conf_build(&b->conf, t->configs, t->n_configs, &t->conf, err) != SL_OK) {
        sl_log(SL_LOG_WARN, "broker", "topic=%s msg=\"config rejected under new defaults: %s\"",
               t->name, err);
        SL_ASSERT(sl_topic_conf_build(&b->conf, NULL, 0, &t->conf, err) == SL_OK);
    }
    sl_plog_conf_t pc;
    sl_topic_conf_to_plog(&t->conf, &pc);
    for (int32_t i = 0; i < t->n_partitions && t->parts; i++) {
        if (t->parts[i]) {
            sl_plog_set_conf(t->parts[i]->plog, &pc);
        }
    }
}

/* Installs `kv` as the overrides of `scope` and the derived configuration as b->conf. */
static void install(sl_broker_t *b, int scope, const sl_kv_t *kv, size_t n,
                    const sl_broker_conf_t *conf) {
    sl_dynconf_t *d = state(b);
    sl_kv_list_free(d->kv[scope], d->n[scope]);
    d->kv[scope] = sl_kv_list_dup(kv, n);
    d->n[scope] = n;
    b->conf = *conf;
    sl_topics_each(b, rebuild_topic, b);
}

int sl_dynconf_set(sl_broker_t *b, int scope, const sl_kv_t *kv, size_t n, bool validate_only,
                   char *err) {
    sl_dynconf_t *d = state(b);
    const sl_kv_t *next[2] = {d->kv[0], d->kv[1]};
    size_t n_next[2] = {d->n[0], d->n[1]};
    next[scope] = kv;
    n_next[scope] = n;
    sl_broker_conf_t conf;
    if (derive(d, next, n_next, &conf, err) != SL_OK) {
        return KERR_INVALID_CONFIG;
    }
    if (validate_only) {
        return KERR_NONE;
    }
    char name[24];
    snprintf(name, sizeof name, "%lld", (long long)b->conf.node_id);
    sl_meta_rec_t rec = {
        SL_META_BROKER_CONFIGS, scope == SL_DYN_DEFAULT ? "" : name, {0}, 0, kv, n, 0};
    if (sl_metalog_append(b->metalog, &rec) != SL_OK) {
        snprintf(err, SL_ERRLEN, "metadata log write failed");
        return KERR_KAFKA_STORAGE_ERROR;
    }
    install(b, scope, kv, n, &conf);
    sl_log(SL_LOG_INFO, "broker", "scope=%s overrides=%zu msg=\"dynamic broker configs set\"",
           scope == SL_DYN_DEFAULT ? "cluster-default" : "broker", n);
    return KERR_NONE;
}

void sl_dynconf_replay(sl_broker_t *b, const sl_meta_rec_t *rec) {
    /* The record names its scope: "" or a node id. A record for another node id (a data
     * directory moved between brokers) is this broker's scope too: there is one broker. */
    int scope = rec->name && rec->name[0] ? SL_DYN_BROKER : SL_DYN_DEFAULT;
    sl_dynconf_t *d = state(b);
    const sl_kv_t *next[2] = {d->kv[0], d->kv[1]};
    size_t n_next[2] = {d->n[0], d->n[1]};
    next[scope] = rec->configs;
    n_next[scope] = rec->n_configs;
    sl_broker_conf_t conf;
    char err[SL_ERRLEN];
    if (derive(d, next, n_next, &conf, err) != SL_OK) {
        /* A value the static configuration now makes invalid: keep the record, apply nothing. */
        sl_log(SL_LOG_WARN, "broker", "msg=\"stored dynamic broker configs rejected: %s\"", err);
        conf = b->conf;
    }
    install(b, scope, rec->configs, rec->n_configs, &conf);
}

void sl_dynconf_free(sl_broker_t *b) {
    if (b->dynconf) {
        sl_kv_list_free(b->dynconf->kv[0], b->dynconf->n[0]);
        sl_kv_list_free(b->dynconf->kv[1], b->dynconf->n[1]);
        free(b->dynconf);
        b->dynconf = NULL;
    }
}
