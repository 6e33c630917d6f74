/* graph.c -- the builder calls of stream.h: nodes, their checks, sub-topologies (graph.h). */
#include "graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stream/window.h"

void sl_graph_fail(sl_stream_builder_t *b, const char *fmt, ...) {
    if (b->err[0]) {
        return; /* the first mistake is the one to report */
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, sizeof b->err, fmt, ap);
    va_end(ap);
}

#define fail sl_graph_fail

sl_stream_builder_t *sl_stream_builder_new(void) {
    return sl_xcalloc(1, sizeof(sl_stream_builder_t));
}

void sl_stream_builder_free(sl_stream_builder_t *b) {
    if (!b) {
        return;
    }
    for (size_t i = 0; i < b->n_nodes; i++) {
        sl_stream_node_t *n = b->nodes[i];
        free(n->name);
        free(n->topic);
        free(n->late_topic);
        free(n->children);
        for (size_t k = 0; k < n->n_topics; k++) {
            free(n->topics[k]);
        }
        free(n->topics);
        if (n->re) {
            regfree(n->re);
            free(n->re);
        }
        free(n);
    }
    for (size_t i = 0; i < b->n_owned; i++) {
        b->owned[i].free_fn(b->owned[i].p);
    }
    free(b->owned);
    free(b->nodes);
    free(b);
}

void *sl_stream_own(sl_stream_builder_t *b, void *p, void (*free_fn)(void *p)) {
    if (p && free_fn) {
        b->owned = sl_xrealloc(b->owned, (b->n_owned + 1) * sizeof *b->owned);
        b->owned[b->n_owned].p = p;
        b->owned[b->n_owned++].free_fn = free_fn;
    }
    return p;
}

/* Names become parts of topic names: Kafka's legal characters only. */
static bool good_name(const char *s) {
    if (!s || !*s || strlen(s) > 200) {
        return false;
    }
    for (; *s; s++) {
        bool ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                  (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

static sl_stream_node_t *node_new(sl_stream_builder_t *b, sl_node_kind_t kind,
                                  sl_stream_node_t *parent, const char *name) {
    sl_stream_node_t *n = sl_xcalloc(1, sizeof *n);
    n->b = b;
    n->kind = kind;
    n->id = (int)b->n_nodes;
    n->name = sl_xstrdup(name ? name : "");
    n->parent = parent;
    if (parent) {
        parent->children =
            sl_xrealloc(parent->children, (parent->n_children + 1) * sizeof *parent->children);
        parent->children[parent->n_children++] = n;
        n->subtopology = parent->subtopology;
        n->keyed = parent->keyed;
        n->src = parent->src; /* a sub-topology after a rekey keeps its source's time rules */
        if (parent->kind == SL_NODE_SINK) {
            fail(b, "node '%s' follows a sink ('%s'): sinks end a branch", n->name,
                 parent->topic ? parent->topic : "");
        }
    }
    if (kind != SL_NODE_SINK && kind != SL_NODE_SOURCE && !good_name(name)) {
        /* a table's name is its topic: its store and changelog are named after it */
        fail(b, "node name '%s' must be 1-200 characters of [a-zA-Z0-9._-] (it names topics)",
             name ? name : "(null)");
    }
    for (size_t i = 0; name && kind != SL_NODE_SINK && i < b->n_nodes; i++) {
        if (b->nodes[i]->kind != SL_NODE_SINK && b->nodes[i]->kind != SL_NODE_SOURCE &&
            !strcmp(b->nodes[i]->name, name)) {
            fail(b, "two nodes are named '%s' (names must be unique: they name topics)", name);
        }
    }
    b->nodes = sl_xrealloc(b->nodes, (b->n_nodes + 1) * sizeof *b->nodes);
    b->nodes[b->n_nodes++] = n;
    return n;
}

sl_stream_node_t *sl_stream_source(sl_stream_builder_t *b, const char *topic,
                                   const sl_stream_source_opts_t *opts) {
    sl_stream_node_t *n = node_new(b, SL_NODE_SOURCE, NULL, topic);
    n->topic = sl_xstrdup(topic ? topic : "");
    n->keyed = true;
    n->subtopology = b->n_subtopologies++;
    if (opts) {
        n->src = *opts;
    }
    if (!topic || !*topic) {
        fail(b, "a source needs a topic");
    }
    if (n->src.watermark_delay_ms < 0 || n->src.idle_ms < 0) {
        fail(b, "source '%s': watermark delay and idle timeout cannot be negative", n->topic);
    }
    return n;
}

/* A source over several topics: its records carry keys partitioned by topic, so state after it
 * needs a rekey (its tasks are (topic, partition) pairs, not partitions of one key space). */
static sl_stream_node_t *multi_source(sl_stream_builder_t *b, const char *what,
                                      const sl_stream_source_opts_t *opts) {
    sl_stream_node_t *n = sl_stream_source(b, what, opts);
    n->keyed = false;
    return n;
}

sl_stream_node_t *sl_stream_source_topics(sl_stream_builder_t *b, const char *const *topics,
                                          size_t n_topics, const sl_stream_source_opts_t *opts) {
    if (n_topics == 1 && topics && topics[0]) {
        return sl_stream_source(b, topics[0], opts);
    }
    char list[1024] = "";
    size_t len = 0;
    for (size_t i = 0; topics && i < n_topics && len < sizeof list; i++) {
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? "," : "",
                                topics[i] ? topics[i] : "(null)");
    }
    sl_stream_node_t *n = multi_source(b, n_topics ? list : "(no topics)", opts);
    if (!topics || n_topics == 0) {
        fail(b, "a source over a topic list needs at least one topic");
        return n;
    }
    n->topics = sl_xcalloc(n_topics, sizeof *n->topics);
    for (size_t i = 0; i < n_topics; i++) {
        n->topics[n->n_topics++] = sl_xstrdup(topics[i] ? topics[i] : "");
        if (!topics[i] || !*topics[i]) {
            fail(b, "source over [%s]: topic %zu is empty", list, i);
        }
        for (size_t k = 0; k < i; k++) {
            if (topics[i] && topics[k] && !strcmp(topics[i], topics[k])) {
                fail(b, "source over [%s]: topic '%s' is listed twice", list, topics[i]);
            }
        }
    }
    return n;
}

sl_stream_node_t *sl_stream_source_pattern(sl_stream_builder_t *b, const char *pattern,
                                           const sl_stream_source_opts_t *opts) {
    sl_stream_node_t *n = multi_source(b, pattern && *pattern ? pattern : "(no pattern)", opts);
    if (!pattern || !*pattern) {
        fail(b, "a source over a pattern needs a pattern");
        return n;
    }
    /* Anchored at both ends, as Java's Pattern.matches: "orders-.*" does not read
     * "old-orders-1". The same text goes to librdkafka's subscription (runtime.c). */
    size_t cap = strlen(pattern) + 5;
    char *whole = sl_xmalloc(cap);
    snprintf(whole, cap, "^(%s)$", pattern);
    n->re = sl_xmalloc(sizeof *n->re);
    int rc = regcomp(n->re, whole, REG_EXTENDED | REG_NOSUB);
    free(whole);
    if (rc != 0) {
        char why[128];
        regerror(rc, n->re, why, sizeof why);
        free(n->re);
        n->re = NULL;
        fail(b, "source pattern '%s': %s", pattern, why);
    }
    return n;
}

bool sl_graph_multi_topic(const sl_stream_node_t *n) {
    return n->kind == SL_NODE_SOURCE && (n->re || n->n_topics > 1);
}

bool sl_graph_source_reads(const sl_stream_node_t *n, const char *topic) {
    if (n->re) {
        return regexec(n->re, topic, 0, NULL, 0) == 0;
    }
    for (size_t i = 0; i < n->n_topics; i++) {
        if (!strcmp(n->topics[i], topic)) {
            return true;
        }
    }
    return n->n_topics == 0 && n->topic && !strcmp(n->topic, topic);
}

/* The mistake of a stateful node after one whose records are not grouped by key. */
static void unkeyed(sl_stream_builder_t *b, const char *what, const sl_stream_node_t *n,
                    const sl_stream_node_t *in) {
    if (sl_graph_multi_topic(in)) {
        fail(b,
             "%s '%s' follows a source over several topics ('%s'), whose tasks are (topic, "
             "partition) pairs: add sl_stream_rekey before it so each key's records meet in one "
             "task",
             what, n->name, in->topic);
    } else {
        fail(b,
             "%s '%s' follows a node that may change keys ('%s'): add sl_stream_rekey before it "
             "so each key's records meet in one task",
             what, n->name, in->name);
    }
}

sl_stream_node_t *sl_stream_map(sl_stream_node_t *in, const char *name, sl_stream_fn *fn,
                                void *user) {
    sl_stream_node_t *n = node_new(in->b, SL_NODE_MAP, in, name);
    n->fn = fn;
    n->user = user;
    n->keyed = false; /* the callback may emit any key */
    if (!fn) {
        fail(in->b, "map '%s' needs a function", n->name);
    }
    return n;
}

void sl_stream_foreach(sl_stream_node_t *in, const char *name, sl_stream_fn *fn, void *user) {
    sl_stream_node_t *n = sl_stream_map(in, name, fn, user);
    n->terminal = true;
}

void sl_stream_branch(sl_stream_node_t *in, const char *name, sl_stream_route_fn *fn, void *user,
                      size_t n, sl_stream_node_t **outs) {
    sl_stream_node_t *br = node_new(in->b, SL_NODE_BRANCH, in, name);
    br->route = fn;
    br->user = user;
    if (!fn || n == 0) {
        fail(in->b, "branch '%s' needs a route function and at least one output", br->name);
    }
    for (size_t i = 0; i < n; i++) {
        char sub[256];
        snprintf(sub, sizeof sub, "%s-%zu", br->name, i);
        outs[i] = node_new(in->b, SL_NODE_PASS, br, sub);
    }
}

sl_stream_node_t *sl_stream_rekey(sl_stream_node_t *in, const char *name, sl_stream_key_fn *fn,
                                  void *user) {
    sl_stream_node_t *n = node_new(in->b, SL_NODE_REKEY, in, name);
    n->key_fn = fn;
    n->user = user;
    n->keyed = true;
    n->subtopology = in->b->n_subtopologies++;
    return n;
}

sl_stream_node_t *sl_stream_aggregate(sl_stream_node_t *in, const char *name,
                                      const sl_stream_window_t *w, const sl_stream_agg_t *agg) {
    sl_stream_node_t *n = node_new(in->b, SL_NODE_AGG, in, name);
    if (!in->keyed) {
        unkeyed(in->b, "aggregate", n, in);
    }
    if (!agg || !agg->step || !agg->result) {
        fail(in->b, "aggregate '%s' needs step and result functions", n->name);
    } else {
        n->agg = *agg;
    }
    if (w) {
        n->windowed = true;
        n->win = *w;
        sl_win_spec_t spec = {(sl_win_kind_t)w->kind, w->size_ms, w->advance_ms, w->gap_ms, 0};
        const char *why;
        if (sl_win_check(&spec, &why) != SL_OK) {
            fail(in->b, "aggregate '%s': %s", n->name, why);
        } else if (w->grace_ms < 0 || w->lateness_ms < 0) {
            fail(in->b, "aggregate '%s': grace and lateness cannot be negative", n->name);
        } else if (w->kind == SL_STREAM_SESSION && (!agg || !agg->merge)) {
            fail(in->b, "aggregate '%s': session windows need a merge function", n->name);
        }
    }
    n->keyed = true;
    return n;
}

sl_stream_node_t *sl_stream_table(sl_stream_builder_t *b, const char *topic,
                                  const sl_stream_source_opts_t *opts) {
    sl_stream_node_t *n = node_new(b, SL_NODE_TABLE, NULL, topic);
    n->topic = sl_xstrdup(topic ? topic : "");
    n->keyed = true;
    n->subtopology = b->n_subtopologies++;
    if (opts) {
        n->src = *opts;
    }
    return n;
}

/* Sub-topology `drop` becomes part of `keep`; the numbers above `drop` close the gap. */
static void merge_subtopologies(sl_stream_builder_t *b, int keep, int drop) {
    if (keep == drop) {
        return;
    }
    for (size_t i = 0; i < b->n_nodes; i++) {
        sl_stream_node_t *n = b->nodes[i];
        if (n->subtopology == drop) {
            n->subtopology = keep;
        }
        if (n->subtopology > drop) {
            n->subtopology--;
        }
    }
    b->n_subtopologies--;
}

/* A join node under both its inputs (so each input's records reach it, and the graph check sees
 * the inputs used), in the merged sub-topology of the two. */
static sl_stream_node_t *join_new(sl_stream_node_t *left, sl_stream_node_t *right,
                                  sl_node_kind_t kind, const char *name, sl_stream_join_fn *fn,
                                  void *user, sl_stream_join_kind_t jk) {
    sl_stream_builder_t *b = left->b;
    sl_stream_node_t *n = node_new(b, kind, left, name);
    n->other = right;
    n->join_fn = fn;
    n->user = user;
    n->join_kind = jk;
    n->keyed = true;
    if (right->b != b) {
        fail(b, "join '%s': its inputs belong to different builders", n->name);
        return n;
    }
    if (right == left) {
        fail(b, "join '%s': both inputs are the same node", n->name);
    }
    if (!fn) {
        fail(b, "join '%s' needs a joiner function", n->name);
    }
    if (!left->keyed || !right->keyed) {
        unkeyed(b, "join", n, !left->keyed ? left : right);
    }
    if (right->kind == SL_NODE_SINK) {
        fail(b, "node '%s' follows a sink ('%s'): sinks end a branch", n->name,
             right->topic ? right->topic : "");
    }
    right->children =
        sl_xrealloc(right->children, (right->n_children + 1) * sizeof *right->children);
    right->children[right->n_children++] = n;
    merge_subtopologies(b, left->subtopology, right->subtopology);
    n->subtopology = left->subtopology;
    return n;
}

sl_stream_node_t *sl_stream_join_table(sl_stream_node_t *stream, sl_stream_node_t *table,
                                       const char *name, sl_stream_join_fn *joiner, void *user,
                                       sl_stream_join_kind_t kind) {
    sl_stream_node_t *n = join_new(stream, table, SL_NODE_JOIN_TABLE, name, joiner, user, kind);
    if (table->kind != SL_NODE_TABLE) {
        fail(stream->b, "join '%s': its second input must be a table (sl_stream_table)", n->name);
    }
    if (stream->kind == SL_NODE_TABLE) {
        fail(stream->b, "join '%s': its first input must be a stream, not a table", n->name);
    }
    if (kind != SL_STREAM_JOIN_INNER && kind != SL_STREAM_JOIN_LEFT) {
        fail(stream->b, "join '%s': a stream-table join is inner or left", n->name);
    }
    return n;
}

sl_stream_node_t *sl_stream_join_window(sl_stream_node_t *left, sl_stream_node_t *right,
                                        const char *name, int64_t within_ms, int64_t grace_ms,
                                        sl_stream_join_fn *joiner, void *user,
                                        sl_stream_join_kind_t kind) {
    sl_stream_node_t *n = join_new(left, right, SL_NODE_JOIN_WINDOW, name, joiner, user, kind);
    n->within_ms = within_ms;
    n->grace_ms = grace_ms;
    if (left->kind == SL_NODE_TABLE || right->kind == SL_NODE_TABLE) {
        fail(left->b,
             "join '%s': a windowed join is between two streams (tables: "
             "sl_stream_join_table)",
             n->name);
    }
    if (within_ms < 0 || grace_ms < 0) {
        fail(left->b, "join '%s': the window and grace cannot be negative", n->name);
    }
    if (kind != SL_STREAM_JOIN_INNER && kind != SL_STREAM_JOIN_LEFT &&
        kind != SL_STREAM_JOIN_OUTER) {
        fail(left->b, "join '%s': a windowed join is inner, left or outer", n->name);
    }
    return n;
}

void sl_stream_to(sl_stream_node_t *in, const char *topic) {
    sl_stream_node_t *n = node_new(in->b, SL_NODE_SINK, in, topic);
    n->topic = sl_xstrdup(topic ? topic : "");
    if (!topic || !*topic) {
        fail(in->b, "a sink after '%s' needs a topic", in->name);
    }
}

void sl_stream_late_topic(sl_stream_node_t *aggregate, const char *topic) {
    if ((aggregate->kind != SL_NODE_AGG || !aggregate->windowed) &&
        aggregate->kind != SL_NODE_JOIN_WINDOW) {
        fail(aggregate->b, "a late topic belongs to a windowed aggregate or join ('%s' is neither)",
             aggregate->name);
        return;
    }
    free(aggregate->late_topic);
    aggregate->late_topic = sl_xstrdup(topic ? topic : "");
}

void sl_stream_state_backend(sl_stream_node_t *stateful, sl_stream_backend_t backend) {
    if (stateful->kind != SL_NODE_AGG && stateful->kind != SL_NODE_TABLE &&
        stateful->kind != SL_NODE_JOIN_WINDOW) {
        fail(stateful->b, "a state backend belongs to a stateful node ('%s' is not one)",
             stateful->name);
    } else if (backend != SL_STREAM_BACKEND_DEFAULT && backend != SL_STREAM_MEMORY &&
               backend != SL_STREAM_ROCKSDB) {
        fail(stateful->b, "node '%s': unknown state backend %d", stateful->name, (int)backend);
    } else {
        stateful->backend = backend;
    }
}

const char *sl_stream_graph_check(sl_stream_builder_t *b) {
    if (b->err[0]) {
        return b->err;
    }
    if (b->n_nodes == 0) {
        return "the pipeline has no source";
    }
    for (size_t i = 0; i < b->n_nodes; i++) {
        const sl_stream_node_t *n = b->nodes[i];
        if (n->kind != SL_NODE_SINK && !n->terminal && n->n_children == 0) {
            /* A dangling node computes what nobody reads: almost always a missing sl_stream_to. */
            fail(b,
                 n->kind == SL_NODE_TABLE ? "table '%s' is not joined to anything"
                                          : "node '%s' has no downstream node or sink",
                 n->kind == SL_NODE_SOURCE || n->kind == SL_NODE_TABLE ? n->topic : n->name);
            return b->err;
        }
    }
    return NULL;
}

size_t sl_graph_roots(const sl_stream_builder_t *b, int st, sl_stream_node_t **out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < b->n_nodes; i++) {
        sl_stream_node_t *n = b->nodes[i];
        bool root =
            n->kind == SL_NODE_SOURCE || n->kind == SL_NODE_TABLE || n->kind == SL_NODE_REKEY;
        if (root && n->subtopology == st) {
            if (k < cap) {
                out[k] = n;
            }
            k++;
        }
    }
    return k;
}
