/* graph.h -- the pipeline graph behind stream.h's builder calls, as the runtime sees it.
 *
 * Nodes form a forest rooted at sources. A rekey node ends a sub-topology: its records go to a
 * repartition topic, and the nodes after it form another sub-topology that reads that topic, so
 * every record of a key reaches the one task that owns the key's state. A join merges the
 * sub-topologies of its two inputs into one with several roots (sources, tables, rekeys), read
 * by one task per partition number. Join nodes are children of both their inputs. Sub-topologies
 * are numbered from 0 without gaps; a task is (sub-topology, partition). */
#ifndef SL_STREAM_GRAPH_H
#define SL_STREAM_GRAPH_H

#include <regex.h>

#include "stream/stream.h"

typedef enum sl_node_kind {
    SL_NODE_SOURCE = 1,
    SL_NODE_MAP,
    SL_NODE_BRANCH, /* routes to children[route(rec)] */
    SL_NODE_PASS,   /* a branch output: passes records on unchanged */
    SL_NODE_REKEY,  /* ends its sub-topology; root of the next one */
    SL_NODE_AGG,
    SL_NODE_SINK,
    SL_NODE_TABLE,       /* a root: updates its store, passes nothing on */
    SL_NODE_JOIN_TABLE,  /* parent: the stream; other: the table */
    SL_NODE_JOIN_WINDOW, /* parent: the left side; other: the right side */
} sl_node_kind_t;

struct sl_stream_node {
    sl_stream_builder_t *b;
    sl_stream_node_t *parent; /* NULL for sources */
    sl_node_kind_t kind;
    int id;          /* declaration order */
    int subtopology; /* where the node runs; for a rekey, the one it starts */
    char *name;      /* stable: names changelog and repartition topics */
    char *topic; /* source, sink; a source over several topics: its list or pattern, for messages */
    char **topics; /* a source over a list of topics (n_topics > 1) */
    size_t n_topics;
    regex_t *re; /* a source over a pattern: the whole topic name must match */
    bool keyed;  /* records here carry the grouping key */
    sl_stream_node_t **children;
    size_t n_children;
    sl_stream_source_opts_t src; /* the source's time options, inherited downstream */
    sl_stream_fn *fn;
    sl_stream_route_fn *route;
    sl_stream_key_fn *key_fn;
    void *user;
    sl_stream_agg_t agg;
    bool windowed;
    sl_stream_window_t win;
    char *late_topic;
    sl_stream_backend_t backend; /* stateful nodes */
    bool terminal;               /* a foreach: needs no downstream node */
    sl_stream_node_t *other;     /* joins: the table or the right side */
    sl_stream_join_fn *join_fn;
    sl_stream_join_kind_t join_kind;
    int64_t within_ms, grace_ms;
};

struct sl_stream_builder {
    sl_stream_node_t **nodes;
    size_t n_nodes;
    struct owned {
        void *p;
        void (*free_fn)(void *p);
    } * owned;
    size_t n_owned;
    int n_subtopologies;
    char err[SL_ERRLEN];
};

/* The nodes that start sub-topology `st` (sources, tables and rekeys), in declaration order. Writes
 * at most cap of them; returns how many there are. */
size_t sl_graph_roots(const sl_stream_builder_t *b, int st, sl_stream_node_t **out, size_t cap);
/* Whether source `n` reads several topics (a list or a pattern): each (topic, partition) is then a
 * task of its own. */
bool sl_graph_multi_topic(const sl_stream_node_t *n);
/* Whether source `n` reads `topic` (for a pattern: whether the whole name matches). */
bool sl_graph_source_reads(const sl_stream_node_t *n, const char *topic);
/* Keeps the first building mistake for sl_stream_graph_check. */
void sl_graph_fail(sl_stream_builder_t *b, const char *fmt, ...) SL_PRINTF(2, 3);

#endif
