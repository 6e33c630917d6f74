/* pg.c -- the PostgreSQL sink: JSON records become rows of one table, exactly once.
 *
 * Exactly-once rests on one table in the target database, sluice_sink_offsets(group, topic,
 * partition, next_offset), updated in the same transaction as the rows. One transaction per batch:
 *   BEGIN; pg_advisory_xact_lock per (group/topic, partition) in the batch (two instances racing
 *   through a rebalance serialize here); read the stored next_offset of those partitions; skip
 *   every record below it (already applied); insert or upsert the others; dead-letter the ones
 *   that cannot be mapped; write the new next_offsets; flush the dead letters; COMMIT.
 * On assignment the consumer seeks to the stored offsets; the group's committed offsets are only
 * a hint (committed after the database, so never ahead of it). A lost connection, or a COMMIT
 * whose outcome is unknown, means: reconnect with backoff and run the batch again; the skip rule
 * makes the second run apply only what the first did not. Dead letters are at-least-once.
 * A row the database itself rejects (SQLSTATE class 22 data exception or 23 integrity violation)
 * makes the batch run again with a SAVEPOINT around each row, and only the rejected rows are
 * dead-lettered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "sink/pg.h"

/* One dead letter decided inside a transaction, sent just before COMMIT. */
typedef struct dead {
    int idx;
    char reason[24];
    char detail[256];
} dead_t;

static void pg_close(sl_pg_sink_t *p) {
    if (p->conn) {
        PQfinish(p->conn);
        p->conn = NULL;
    }
}

static bool exec_ok(sl_pg_sink_t *p, PGresult *r, const char *what) {
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        return true;
    }
    fprintf(stderr, "sluice sink postgres: %s: %s", what, PQerrorMessage(p->conn));
    return false;
}

static bool run(sl_pg_sink_t *p, const char *sql) {
    PGresult *r = PQexec(p->conn, sql);
    bool ok = exec_ok(p, r, sql);
    PQclear(r);
    return ok;
}

/* Connects, creates the offsets table if needed, learns the mapped columns' types and prepares
 * the insert. False (connection closed) on any failure. */
static bool pg_open(sl_pg_sink_t *p) {
    if (p->conn && PQstatus(p->conn) == CONNECTION_OK) {
        return true;
    }
    pg_close(p);
    p->conn = PQconnectdb(p->dsn);
    if (PQstatus(p->conn) != CONNECTION_OK) {
        fprintf(stderr, "sluice sink postgres: connect: %s", PQerrorMessage(p->conn));
        pg_close(p);
        return false;
    }
    char *qt = PQescapeIdentifier(p->conn, p->table, strlen(p->table));
    char sql[16384];
    int n = 0;
    bool ok = run(p, "SET client_min_messages = warning") &&
              run(p, "CREATE TABLE IF NOT EXISTS sluice_sink_offsets (\"group\" text NOT NULL, "
                     "topic text NOT NULL, partition integer NOT NULL, next_offset bigint NOT "
                     "NULL, PRIMARY KEY (\"group\", topic, partition))");
    /* Column types, so that a JSON type mismatch is caught here and dead-lettered. */
    for (int i = 0; ok && i < p->map.n; i++) {
        const char *params[2] = {qt, p->map.col[i]};
        PGresult *r = PQexecParams(p->conn,
                                   "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                                   "WHERE attrelid = $1::regclass AND attname = $2 AND attnum > 0 "
                                   "AND NOT attisdropped",
                                   2, NULL, params, NULL, NULL, 0);
        ok = exec_ok(p, r, "column types");
        if (ok && PQntuples(r) != 1) {
            fprintf(stderr, "sluice sink postgres: table %s has no column %s\n", p->table,
                    p->map.col[i]);
            ok = false;
            p->fatal = true;
        }
        if (ok) {
            p->kind[i] = sl_sink_col_kind(PQgetvalue(r, 0, 0));
        }
        PQclear(r);
    }
    if (ok) {
        n = snprintf(sql, sizeof sql, "INSERT INTO %s (", qt);
        for (int i = 0; i < p->map.n; i++) {
            char *qc = PQescapeIdentifier(p->conn, p->map.col[i], strlen(p->map.col[i]));
            n += snprintf(sql + n, sizeof sql - (size_t)n, "%s%s", i ? ", " : "", qc);
            PQfreemem(qc);
        }
        n += snprintf(sql + n, sizeof sql - (size_t)n, ") VALUES (");
        for (int i = 0; i < p->map.n; i++) {
            n += snprintf(sql + n, sizeof sql - (size_t)n, "%s$%d", i ? ", " : "", i + 1);
        }
        n += snprintf(sql + n, sizeof sql - (size_t)n, ")");
        if (p->upsert_key) {
            char *qk = PQescapeIdentifier(p->conn, p->upsert_key, strlen(p->upsert_key));
            n += snprintf(sql + n, sizeof sql - (size_t)n, " ON CONFLICT (%s) DO ", qk);
            PQfreemem(qk);
            int set = 0;
            for (int i = 0; i < p->map.n; i++) {
                if (!strcmp(p->map.col[i], p->upsert_key)) {
                    continue;
                }
                char *qc = PQescapeIdentifier(p->conn, p->map.col[i], strlen(p->map.col[i]));
                n += snprintf(sql + n, sizeof sql - (size_t)n, "%s%s = EXCLUDED.%s",
                              set ? ", " : "UPDATE SET ", qc, qc);
                set++;
                PQfreemem(qc);
            }
            if (!set) {
                n += snprintf(sql + n, sizeof sql - (size_t)n, "NOTHING");
            }
        }
        if (n >= (int)sizeof sql) {
            fprintf(stderr, "sluice sink postgres: mapping too long\n");
            ok = false;
            p->fatal = true;
        }
    }
    if (ok) {
        PGresult *r = PQprepare(p->conn, "sl_ins", sql, p->map.n, NULL);
        ok = exec_ok(p, r, "prepare insert");
        PQclear(r);
    }
    PQfreemem(qt);
    if (!ok && PQstatus(p->conn) == CONNECTION_OK) {
        p->fatal = true; /* the database answered, and said no: no table, no unique index... */
    }
    if (!ok) {
        pg_close(p);
    }
    return ok;
}

static void pg_assign(void *self, sl_sink_t *s, rd_kafka_topic_partition_list_t *parts) {
    sl_pg_sink_t *p = self;
    const sl_sink_config_t *cfg = sl_sink_config(s);
    if (!pg_open(p)) {
        fprintf(stderr, "sluice sink postgres: resuming from the group's offsets; stored ones "
                        "still decide what is applied\n");
        return;
    }
    const char *params[2] = {cfg->group, cfg->topic};
    PGresult *r = PQexecParams(p->conn,
                               "SELECT partition, next_offset FROM sluice_sink_offsets "
                               "WHERE \"group\" = $1 AND topic = $2",
                               2, NULL, params, NULL, NULL, 0);
    if (exec_ok(p, r, "read offsets")) {
        for (int i = 0; i < PQntuples(r); i++) {
            int part = atoi(PQgetvalue(r, i, 0));
            long long off = atoll(PQgetvalue(r, i, 1));
            for (int j = 0; j < parts->cnt; j++) {
                if (!strcmp(parts->elems[j].topic, cfg->topic) &&
                    parts->elems[j].partition == part) {
                    parts->elems[j].offset = off;
                }
            }
        }
    }
    PQclear(r);
}

/* Maps one record to parameter texts. False with reason/detail filled when it cannot be. */
static bool map_record(sl_pg_sink_t *p, const rd_kafka_message_t *m, char **vals, dead_t *d) {
    json_error_t jerr;
    json_t *root = m->payload ? json_loadb(m->payload, m->len, JSON_DECODE_ANY, &jerr) : NULL;
    if (!root) {
        snprintf(d->reason, sizeof d->reason, "bad_json");
        snprintf(d->detail, sizeof d->detail, "%s", m->payload ? jerr.text : "no value");
        return false;
    }
    bool ok = true;
    for (int i = 0; ok && i < p->map.n; i++) {
        json_t *v = sl_sink_json_path(root, p->map.path[i]);
        if (!v) {
            snprintf(d->reason, sizeof d->reason, "missing_field");
            snprintf(d->detail, sizeof d->detail, "no field %s for column %s", p->map.path[i],
                     p->map.col[i]);
            ok = false;
        } else if (!sl_sink_render(v, p->kind[i], &vals[i], d->detail)) {
            snprintf(d->reason, sizeof d->reason, "type_error");
            char col[256];
            snprintf(col, sizeof col, "%s: %s", p->map.col[i], d->detail);
            snprintf(d->detail, sizeof d->detail, "%s", col);
            ok = false;
        }
    }
    json_decref(root);
    return ok;
}

static void free_vals(char **vals, int n) {
    for (int i = 0; i < n; i++) {
        free(vals[i]);
        vals[i] = NULL;
    }
}

/* A rejected row rather than a broken connection: data exception (22) or integrity (23). */
static bool row_error(PGresult *r) {
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return state && (!strncmp(state, "22", 2) || !strncmp(state, "23", 2));
}

enum { TX_OK, TX_RETRY, TX_ROWS, TX_FATAL };
/* Inserts sent in pipeline mode before their results are read (bounds what the socket buffers
 * must hold, so neither side blocks on a full buffer). */
#define SL_PG_PIPELINE 256

/* Sends a sync and reads the results of the `k` pipelined inserts before it. TX_OK, TX_ROWS (a
 * row was rejected: the transaction is aborted) or TX_RETRY (connection trouble). */
static int drain(sl_pg_sink_t *p, int k, long long *applied) {
    if (!PQpipelineSync(p->conn)) {
        return TX_RETRY;
    }
    int rc = TX_OK;
    for (int q = 0; q < k; q++) {
        PGresult *r;
        while ((r = PQgetResult(p->conn)) != NULL) { /* one query's results, then NULL */
            ExecStatusType st = PQresultStatus(r);
            if (st == PGRES_COMMAND_OK) {
                (*applied)++;
            } else if (st != PGRES_PIPELINE_ABORTED && rc == TX_OK) {
                rc = row_error(r) ? TX_ROWS : TX_RETRY;
                fprintf(stderr, "sluice sink postgres: insert: %s", PQresultErrorMessage(r));
            }
            PQclear(r);
        }
        if (PQstatus(p->conn) != CONNECTION_OK) {
            return TX_RETRY;
        }
    }
    PGresult *r = PQgetResult(p->conn);
    if (!r || PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
        rc = TX_RETRY;
    }
    PQclear(r);
    return rc;
}
/* Partitions one batch may span. */
#define SL_PG_MAX_PARTS 1024

/* One attempt at the batch in one transaction (see the file comment). */
static int attempt(sl_pg_sink_t *p, sl_sink_t *s, rd_kafka_message_t **recs, int n, bool savepoints,
                   long long *applied, long long *skipped) {
    const sl_sink_config_t *cfg = sl_sink_config(s);
    /* Partitions of the batch, each with the next offset the batch leaves behind. */
    int32_t parts[SL_PG_MAX_PARTS];
    int64_t stored[SL_PG_MAX_PARTS], next[SL_PG_MAX_PARTS];
    int np = 0;
    for (int i = 0; i < n; i++) {
        int j = 0;
        while (j < np && parts[j] != recs[i]->partition) {
            j++;
        }
        if (j == np) {
            if (np == SL_PG_MAX_PARTS) {
                fprintf(stderr,
                        "sluice sink postgres: a batch spans more than %d partitions: "
                        "lower --batch-size\n",
                        SL_PG_MAX_PARTS);
                p->fatal = true;
                return TX_FATAL;
            }
            parts[np] = recs[i]->partition;
            stored[np] = -1;
            next[np++] = 0;
        }
        if (recs[i]->offset + 1 > next[j]) {
            next[j] = recs[i]->offset + 1;
        }
    }
    if (!run(p, "BEGIN")) {
        return TX_RETRY;
    }
    char key[600];
    snprintf(key, sizeof key, "%s/%s", cfg->group, cfg->topic);
    for (int j = 0; j < np; j++) {
        char pstr[16];
        snprintf(pstr, sizeof pstr, "%d", (int)parts[j]);
        const char *lp[2] = {key, pstr};
        PGresult *r = PQexecParams(p->conn, "SELECT pg_advisory_xact_lock(hashtext($1), $2::int)",
                                   2, NULL, lp, NULL, NULL, 0);
        bool ok = exec_ok(p, r, "lock");
        PQclear(r);
        if (!ok) {
            return TX_RETRY;
        }
        const char *op[3] = {cfg->group, cfg->topic, pstr};
        r = PQexecParams(p->conn,
                         "SELECT next_offset FROM sluice_sink_offsets WHERE \"group\" = $1 AND "
                         "topic = $2 AND partition = $3::int",
                         3, NULL, op, NULL, NULL, 0);
        ok = exec_ok(p, r, "read offset");
        if (ok && PQntuples(r) == 1) {
            stored[j] = atoll(PQgetvalue(r, 0, 0));
        }
        PQclear(r);
        if (!ok) {
            return TX_RETRY;
        }
    }
    dead_t *dead = calloc(n > 0 ? (size_t)n : 1, sizeof *dead);
    int nd = 0;
    char *vals[64] = {0};
    int rc = TX_OK, inflight = 0;
    *applied = *skipped = 0;
    if (!savepoints && !PQenterPipelineMode(p->conn)) {
        free(dead);
        return TX_RETRY;
    }
    for (int i = 0; i < n && rc == TX_OK; i++) {
        int j = 0;
        while (parts[j] != recs[i]->partition) {
            j++;
        }
        if (recs[i]->offset < stored[j]) {
            (*skipped)++;
            continue;
        }
        if (!map_record(p, recs[i], vals, &dead[nd])) {
            dead[nd++].idx = i;
            free_vals(vals, p->map.n);
            continue;
        }
        if (!savepoints) {
            /* Pipelined: no round trip per row; results are read every SL_PG_PIPELINE rows. */
            int sent = PQsendQueryPrepared(p->conn, "sl_ins", p->map.n, (const char *const *)vals,
                                           NULL, NULL, 0);
            free_vals(vals, p->map.n);
            if (!sent) {
                rc = TX_RETRY;
            } else if (++inflight == SL_PG_PIPELINE) {
                rc = drain(p, inflight, applied);
                inflight = 0;
            }
            continue;
        }
        if (!run(p, "SAVEPOINT sl_row")) {
            rc = TX_RETRY;
            break;
        }
        PGresult *r =
            PQexecPrepared(p->conn, "sl_ins", p->map.n, (const char *const *)vals, NULL, NULL, 0);
        free_vals(vals, p->map.n);
        if (PQresultStatus(r) == PGRES_COMMAND_OK) {
            (*applied)++;
            if (!run(p, "RELEASE SAVEPOINT sl_row")) {
                rc = TX_RETRY;
            }
        } else if (row_error(r)) {
            dead[nd].idx = i;
            snprintf(dead[nd].reason, sizeof dead[nd].reason, "rejected");
            snprintf(dead[nd].detail, sizeof dead[nd].detail, "%s",
                     PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
            nd++;
            if (!run(p, "ROLLBACK TO SAVEPOINT sl_row")) {
                rc = TX_RETRY;
            }
        } else {
            rc = TX_RETRY;
            fprintf(stderr, "sluice sink postgres: insert: %s", PQerrorMessage(p->conn));
        }
        PQclear(r);
    }
    if (!savepoints) {
        if (inflight > 0 && rc == TX_OK) {
            rc = drain(p, inflight, applied);
        }
        if (!PQexitPipelineMode(p->conn)) {
            pg_close(p); /* results left unread: start again on a fresh connection */
            free(dead);
            return TX_RETRY;
        }
    }
    for (int j = 0; j < np && rc == TX_OK; j++) {
        if (next[j] <= stored[j]) {
            continue;
        }
        char pstr[16], ostr[24];
        snprintf(pstr, sizeof pstr, "%d", (int)parts[j]);
        snprintf(ostr, sizeof ostr, "%lld", (long long)next[j]);
        const char *op[4] = {cfg->group, cfg->topic, pstr, ostr};
        PGresult *r = PQexecParams(
            p->conn,
            "INSERT INTO sluice_sink_offsets VALUES ($1, $2, $3::int, $4::bigint) ON CONFLICT "
            "(\"group\", topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset",
            4, NULL, op, NULL, NULL, 0);
        if (!exec_ok(p, r, "store offsets")) {
            rc = TX_RETRY;
        }
        PQclear(r);
    }
    if (rc == TX_OK && nd > 0) {
        for (int k = 0; k < nd; k++) {
            sl_sink_dead_letter(s, recs[dead[k].idx], dead[k].reason, dead[k].detail);
        }
        if (!sl_sink_dlq_flush(s)) {
            rc = TX_RETRY;
        }
    }
    free(dead);
    if (rc == TX_OK && !run(p, "COMMIT")) {
        rc = TX_RETRY; /* outcome unknown: the next attempt skips what was committed */
    }
    if (rc != TX_OK && PQstatus(p->conn) == CONNECTION_OK) {
        run(p, "ROLLBACK");
    }
    return rc;
}

static bool pg_deliver(void *self, sl_sink_t *s, rd_kafka_message_t **recs, int n) {
    sl_pg_sink_t *p = self;
    sl_sink_stats_t *st = sl_sink_stats(s);
    bool savepoints = false;
    for (int tries = 0;; tries++) {
        if (!sl_sink_live(s)) {
            return false;
        }
        if (pg_open(p)) {
            long long applied = 0, skipped = 0;
            int rc = attempt(p, s, recs, n, savepoints, &applied, &skipped);
            if (rc == TX_OK) {
                atomic_fetch_add(&st->delivered, applied);
                atomic_fetch_add(&st->skipped, skipped);
                return true;
            }
            if (rc == TX_FATAL) {
                break;
            }
            if (rc == TX_ROWS) {
                savepoints = true; /* again at once, row by row */
                continue;
            }
            if (PQstatus(p->conn) != CONNECTION_OK) {
                pg_close(p);
            }
        }
        if (p->fatal) {
            break;
        }
        atomic_fetch_add(&st->retried, 1);
        if (!sl_sink_wait(s, sl_backoff_ms(100, 5000, tries, (uint64_t)random()))) {
            return false;
        }
    }
    sl_sink_fail(s, "postgres: the table or the mapping is wrong");
    return false;
}

const sl_sink_backend_t sl_pg_backend = {
    .name = "postgres", .assign = pg_assign, .deliver = pg_deliver, .commit_sync = false};

void sl_pg_sink_fini(sl_pg_sink_t *p) {
    pg_close(p);
    sl_sink_map_free(&p->map);
}
