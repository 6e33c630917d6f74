/* quorum.h -- the controller quorum: a Raft-replicated log of opaque commands on libraft 0.15.
 *
 * libraft runs with its own libuv I/O (raft_uv_init: segment files under <dir>) and its libuv TCP
 * transport (raft_uv_tcp_init) on a thread of its own, so the broker's epoll loop never waits on
 * Raft I/O. Proposals cross to that thread through a queue and a uv_async handle; committed
 * commands come back through the `apply` hook, which runs on the Raft thread in log order (the
 * caller queues them for its own loop). Consensus itself is libraft's; this file only carries
 * bytes between it and the broker.
 *
 * Thread: sl_quorum_propose and sl_quorum_status may be called from any thread; the hooks run on
 * the Raft thread. */
#ifndef SL_QUORUM_H
#define SL_QUORUM_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define SL_QUORUM_MAX_VOTERS 9

typedef struct sl_quorum sl_quorum_t;

typedef struct sl_quorum_voter {
    uint64_t id;
    char address[128]; /* HOST:PORT of its Raft transport */
} sl_quorum_voter_t;

typedef struct sl_quorum_hooks {
    /* A committed command, in log order, once on every node. */
    void (*apply)(void *opaque, const uint8_t *cmd, size_t len);
    /* Appends the whole state machine to `out` (a snapshot). */
    void (*snapshot)(void *opaque, sl_buf_t *out);
    /* Replaces the whole state machine with a snapshot; SL_OK or SL_ERR_CORRUPT. */
    sl_err_t (*restore)(void *opaque, const uint8_t *p, size_t len);
    void *opaque;
} sl_quorum_hooks_t;

typedef struct sl_quorum_opts {
    unsigned election_timeout_ms; /* libraft randomises within [t, 2t] */
    unsigned snapshot_entries;    /* take a snapshot after this many entries (keep half) */
} sl_quorum_opts_t;

/* What the Raft leader knows of one voter (DescribeQuorum). libraft 0.15 keeps, per voter, the
 * highest index it acknowledged and whether it answered within the last election timeout; the
 * times here are when this node last saw those hold (wall-clock ms, -1 never). */
typedef struct sl_quorum_progress {
    uint64_t id;
    uint64_t match_index;    /* its log end as the leader knows it */
    int64_t last_contact_ms; /* last seen answering (within an election timeout) */
    int64_t caught_up_ms;    /* last seen at the leader's last index */
} sl_quorum_progress_t;

typedef struct sl_quorum_status {
    int role;           /* 0 unavailable, 1 follower, 2 candidate, 3 leader (libraft's codes) */
    uint64_t leader_id; /* 0 when no leader is known */
    uint64_t last_index;
    uint64_t applied_index;
    uint64_t term;         /* the current term: the quorum's leader epoch */
    uint64_t commit_index; /* the quorum's high watermark */
    size_t n_voters;
    sl_quorum_voter_t voters[SL_QUORUM_MAX_VOTERS];
    size_t n_progress; /* on the leader only: one per voter */
    sl_quorum_progress_t progress[SL_QUORUM_MAX_VOTERS];
    /* The last leader this node followed and when (sl_mono_ms) it last heard from it: the
     * last AppendEntries libraft took from it, as libuv's cached loop time (at worst one loop
     * iteration early, within the lease's margin; cluster.c). Kept after this node
     * stops following it (0 and 0: it never followed one). Every entry that leader committed
     * is in the log of any node elected after it (Raft's leader completeness), so a node that
     * followed it last received each of those entries no later than this time (see
     * cluster.c, "the predecessor's lease"). */
    uint64_t prev_leader_id;
    uint64_t prev_leader_contact_ms;
} sl_quorum_status_t;

/* Parses Kafka's controller.quorum.voters: "ID@HOST:PORT,ID@HOST:PORT,...". SL_OK, or
 * SL_ERR_INVAL with the reason in err. */
SL_MUST_USE sl_err_t sl_quorum_parse_voters(const char *spec, sl_quorum_voter_t *out, size_t max,
                                            size_t *n, char *err);

/* The cluster id every member reports (Metadata, DescribeCluster): a deterministic function
 * of the voter set (ids and addresses, in any order), so every broker of one quorum computes
 * the same value before any commit, as KRaft's brokers share the id in their meta.properties.
 * Written as Kafka writes a cluster id: 16 bytes in unpadded base64url, 22 characters plus the
 * NUL, into `out` (at least SL_QUORUM_CLUSTER_ID_LEN + 1 bytes). */
#define SL_QUORUM_CLUSTER_ID_LEN 22
void sl_quorum_cluster_id(const sl_quorum_voter_t *voters, size_t n, char *out);

/* Starts node `id` (one of `voters`) with its Raft files under `dir` (created if missing); a new
 * node bootstraps the voter set, a known one loads its snapshot and log. NULL with err set on
 * failure. */
sl_quorum_t *sl_quorum_start(uint64_t id, const sl_quorum_voter_t *voters, size_t n_voters,
                             const char *dir, const sl_quorum_opts_t *opts,
                             const sl_quorum_hooks_t *hooks, char *err);

/* Proposes one command and waits up to timeout_ms for it to commit (and be applied on this
 * node). SL_OK once committed; SL_ERR_NOTFOUND when this node is not the leader; SL_AGAIN on
 * timeout (the command may still commit later); SL_ERR_IO if libraft refused it. */
SL_MUST_USE sl_err_t sl_quorum_propose(sl_quorum_t *q, const uint8_t *cmd, size_t len,
                                       uint64_t timeout_ms);

void sl_quorum_status(sl_quorum_t *q, sl_quorum_status_t *st);

/* Stops the Raft thread (closing libraft cleanly) and frees everything. NULL is ignored. */
void sl_quorum_stop(sl_quorum_t *q);

#endif
