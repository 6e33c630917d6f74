/* assignor.c -- topic-partition sets and the uniform and range assignors (see assignor.h). */
#include "assignor.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

int sl_tp_cmp(const sl_tp_t *a, const sl_tp_t *b) {
    int c = memcmp(a->topic, b->topic, 16);
    if (c) {
        return c;
    }
    return a->partition < b->partition ? -1 : a->partition > b->partition;
}

void sl_tpset_free(sl_tpset_t *s) {
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

void sl_tpset_clear(sl_tpset_t *s) {
    s->n = 0;
}

static void push(sl_tpset_t *s, const sl_tp_t *tp) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->v = sl_xrealloc(s->v, (size_t)s->cap * sizeof *s->v);
    }
    s->v[s->n++] = *tp;
}

/* Index of the first element not below tp (binary search). */
static int lower_bound(const sl_tpset_t *s, const sl_tp_t *tp) {
    int lo = 0, hi = s->n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (sl_tp_cmp(&s->v[mid], tp) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

void sl_tpset_add(sl_tpset_t *s, const uint8_t topic[16], int32_t partition) {
    sl_tp_t tp;
    memcpy(tp.topic, topic, 16);
    tp.partition = partition;
    int at = lower_bound(s, &tp);
    if (at < s->n && sl_tp_cmp(&s->v[at], &tp) == 0) {
        return;
    }
    push(s, &tp); /* grows by one; then shift the tail */
    memmove(&s->v[at + 1], &s->v[at], (size_t)(s->n - 1 - at) * sizeof *s->v);
    s->v[at] = tp;
}

bool sl_tpset_has(const sl_tpset_t *s, const sl_tp_t *tp) {
    int at = lower_bound(s, tp);
    return at < s->n && sl_tp_cmp(&s->v[at], tp) == 0;
}

void sl_tpset_copy(sl_tpset_t *dst, const sl_tpset_t *src) {
    sl_tpset_clear(dst);
    for (int i = 0; i < src->n; i++) {
        push(dst, &src->v[i]);
    }
}

bool sl_tpset_equal(const sl_tpset_t *a, const sl_tpset_t *b) {
    if (a->n != b->n) {
        return false;
    }
    for (int i = 0; i < a->n; i++) {
        if (sl_tp_cmp(&a->v[i], &b->v[i])) {
            return false;
        }
    }
    return true;
}

void sl_tpset_minus(sl_tpset_t *out, const sl_tpset_t *a, const sl_tpset_t *b) {
    sl_tpset_clear(out);
    for (int i = 0; i < a->n; i++) {
        if (!sl_tpset_has(b, &a->v[i])) {
            push(out, &a->v[i]);
        }
    }
}

void sl_tpset_and(sl_tpset_t *out, const sl_tpset_t *a, const sl_tpset_t *b) {
    sl_tpset_clear(out);
    for (int i = 0; i < a->n; i++) {
        if (sl_tpset_has(b, &a->v[i])) {
            push(out, &a->v[i]);
        }
    }
}

bool sl_tpset_overlaps(const sl_tpset_t *a, const sl_tpset_t *b) {
    for (int i = 0; i < a->n; i++) {
        if (sl_tpset_has(b, &a->v[i])) {
            return true;
        }
    }
    return false;
}

/* ---- uniform ---- */

typedef struct slot {
    int topic;      /* index into topics */
    int32_t part;   /* partition */
    int n_eligible; /* members subscribed to the topic */
    int owner;      /* member index, -1 while unassigned */
} slot_t;

static int by_eligible(const void *a, const void *b) {
    const slot_t *x = a, *y = b;
    if (x->n_eligible != y->n_eligible) {
        return x->n_eligible < y->n_eligible ? -1 : 1;
    }
    if (x->topic != y->topic) {
        return x->topic < y->topic ? -1 : 1;
    }
    return x->part < y->part ? -1 : x->part > y->part;
}

void sl_assign_uniform(const sl_asg_topic_t *topics, int n_topics, sl_asg_member_t *members,
                       int n_members) {
    int *count = sl_xcalloc((size_t)n_members + 1, sizeof *count);
    size_t n_slots = 0;
    int active = 0; /* members subscribed to at least one existing topic */
    for (int m = 0; m < n_members; m++) {
        sl_tpset_clear(&members[m].out);
        bool any = false;
        for (int t = 0; t < n_topics; t++) {
            any = any || (members[m].subscribed[t] && topics[t].n_partitions > 0);
        }
        active += any;
    }
    for (int t = 0; t < n_topics; t++) {
        n_slots += (size_t)(topics[t].n_partitions > 0 ? topics[t].n_partitions : 0);
    }
    slot_t *slots = sl_xcalloc(n_slots + 1, sizeof *slots);
    size_t k = 0;
    for (int t = 0; t < n_topics; t++) {
        int elig = 0;
        for (int m = 0; m < n_members; m++) {
            elig += members[m].subscribed[t];
        }
        for (int32_t p = 0; p < topics[t].n_partitions; p++) {
            slots[k++] = (slot_t){t, p, elig, -1};
        }
    }
    size_t total = 0;
    for (size_t i = 0; i < n_slots; i++) {
        total += slots[i].n_eligible > 0;
    }
    /* Every member may keep up to `base` previous partitions; `extra` of them one more. */
    int base = active ? (int)(total / (size_t)active) : 0;
    int extra = active ? (int)(total % (size_t)active) : 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int m = 0; m < n_members; m++) {
            const sl_tpset_t *prev = members[m].prev;
            for (size_t i = 0; prev && i < n_slots; i++) {
                slot_t *s = &slots[i];
                if (s->owner >= 0 || !members[m].subscribed[s->topic]) {
                    continue;
                }
                if (pass == 0 ? count[m] >= base : (count[m] > base || extra == 0)) {
                    break;
                }
                sl_tp_t tp;
                memcpy(tp.topic, topics[s->topic].id, 16);
                tp.partition = s->part;
                if (sl_tpset_has(prev, &tp)) {
                    s->owner = m;
                    if (++count[m] > base) {
                        extra--;
                    }
                }
            }
        }
    }
    /* The rest to the least-loaded eligible member, scarcest partitions first. */
    qsort(slots, n_slots, sizeof *slots, by_eligible);
    for (size_t i = 0; i < n_slots; i++) {
        slot_t *s = &slots[i];
        if (s->owner >= 0 || s->n_eligible == 0) {
            continue;
        }
        int best = -1;
        for (int m = 0; m < n_members; m++) {
            if (members[m].subscribed[s->topic] && (best < 0 || count[m] < count[best])) {
                best = m;
            }
        }
        s->owner = best;
        count[best]++;
    }
    for (size_t i = 0; i < n_slots; i++) {
        if (slots[i].owner >= 0) {
            sl_tpset_add(&members[slots[i].owner].out, topics[slots[i].topic].id, slots[i].part);
        }
    }
    free(slots);
    free(count);
}

/* ---- range ---- */

void sl_assign_range(const sl_asg_topic_t *topics, int n_topics, sl_asg_member_t *members,
                     int n_members) {
    int *order = sl_xcalloc((size_t)n_members + 1, sizeof *order);
    for (int m = 0; m < n_members; m++) {
        sl_tpset_clear(&members[m].out);
        order[m] = m;
    }
    for (int i = 1; i < n_members; i++) { /* insertion sort by member id */
        int x = order[i], j = i;
        for (; j > 0 && strcmp(members[order[j - 1]].id, members[x].id) > 0; j--) {
            order[j] = order[j - 1];
        }
        order[j] = x;
    }
    int *subs = sl_xcalloc((size_t)n_members + 1, sizeof *subs);
    for (int t = 0; t < n_topics; t++) {
        int n = 0;
        for (int i = 0; i < n_members; i++) {
            if (members[order[i]].subscribed[t]) {
                subs[n++] = order[i];
            }
        }
        int32_t np = topics[t].n_partitions;
        if (n == 0 || np <= 0) {
            continue;
        }
        int32_t each = np / n, rest = np % n, p = 0;
        for (int i = 0; i < n; i++) {
            int32_t len = each + (i < rest);
            for (int32_t k = 0; k < len; k++) {
                sl_tpset_add(&members[subs[i]].out, topics[t].id, p++);
            }
        }
    }
    free(subs);
    free(order);
}

sl_assignor_fn *sl_assignor_find(const char *name) {
    if (!strcmp(name, "uniform")) {
        return sl_assign_uniform;
    }
    if (!strcmp(name, "range")) {
        return sl_assign_range;
    }
    return NULL;
}
