/* assignor.h -- server-side partition assignors of KIP-848 consumer groups ("uniform", "range")
 * and the sorted topic-partition sets they produce.
 *
 * Pure functions over plain arrays: no clock, no I/O, no broker state. A topic is known by its
 * 16-byte id; a set is kept sorted by (topic id, partition) so that set operations are merges.
 * Thread: any (no shared state). */
#ifndef SL_ASSIGNOR_H
#define SL_ASSIGNOR_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sl_tp {
    uint8_t topic[16];
    int32_t partition;
} sl_tp_t;

/* A sorted set of topic-partitions without duplicates; {0} is the empty set. */
typedef struct sl_tpset {
    sl_tp_t *v;
    int n, cap;
} sl_tpset_t;

int sl_tp_cmp(const sl_tp_t *a, const sl_tp_t *b);
void sl_tpset_free(sl_tpset_t *s);
void sl_tpset_clear(sl_tpset_t *s);
/* Adds one element, keeping the set sorted; adding a present element changes nothing. */
void sl_tpset_add(sl_tpset_t *s, const uint8_t topic[16], int32_t partition);
bool sl_tpset_has(const sl_tpset_t *s, const sl_tp_t *tp);
void sl_tpset_copy(sl_tpset_t *dst, const sl_tpset_t *src);
bool sl_tpset_equal(const sl_tpset_t *a, const sl_tpset_t *b);
/* out = a minus b, and out = a intersected with b (out is overwritten; it may not alias). */
void sl_tpset_minus(sl_tpset_t *out, const sl_tpset_t *a, const sl_tpset_t *b);
void sl_tpset_and(sl_tpset_t *out, const sl_tpset_t *a, const sl_tpset_t *b);
/* Whether a and b share an element. */
bool sl_tpset_overlaps(const sl_tpset_t *a, const sl_tpset_t *b);

/* One topic to assign: its id and partition count. */
typedef struct sl_asg_topic {
    uint8_t id[16];
    int32_t n_partitions;
} sl_asg_topic_t;

/* One member: `subscribed[t]` says whether it subscribes to topics[t]; `prev` is its previous
 * target assignment (stickiness; may be NULL); the result goes to `out` (cleared first). */
typedef struct sl_asg_member {
    const char *id;
    const bool *subscribed;
    const sl_tpset_t *prev;
    sl_tpset_t out;
} sl_asg_member_t;

typedef void sl_assignor_fn(const sl_asg_topic_t *topics, int n_topics, sl_asg_member_t *members,
                            int n_members);

/* uniform: every partition of a subscribed topic goes to exactly one member that subscribes to
 * it; when all members subscribe to the same topics, the counts differ by at most one. Partitions
 * stay with their previous owner as far as the balance allows. Partitions that fewer members can
 * take are placed first. */
void sl_assign_uniform(const sl_asg_topic_t *topics, int n_topics, sl_asg_member_t *members,
                       int n_members);
/* range: per topic, the subscribed members in member-id order take contiguous ranges; the first
 * (partitions % members) take one extra. Same-numbered partitions of equally sized topics land on
 * the same member (co-partitioning). */
void sl_assign_range(const sl_asg_topic_t *topics, int n_topics, sl_asg_member_t *members,
                     int n_members);
/* The assignor called `name` ("uniform" or "range"), or NULL. */
sl_assignor_fn *sl_assignor_find(const char *name);

#endif
