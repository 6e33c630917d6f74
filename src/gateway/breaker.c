/* breaker.c -- circuit breaker states and transitions (see breaker.h). */
#include "gateway/breaker.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void sl_gw_breaker_init(sl_gw_breaker_t *br, int threshold, uint64_t window_ms, uint64_t slow_ms,
                        uint64_t open_ms) {
    memset(br, 0, sizeof *br);
    pthread_mutex_init(&br->mu, NULL);
    br->threshold = threshold < 1                             ? 1
                    : threshold > SL_GW_BREAKER_MAX_THRESHOLD ? SL_GW_BREAKER_MAX_THRESHOLD
                                                              : threshold;
    br->window_ms = window_ms;
    br->slow_ms = slow_ms;
    br->open_ms = open_ms;
    br->fails = sl_xcalloc((size_t)br->threshold, sizeof *br->fails);
}

void sl_gw_breaker_fini(sl_gw_breaker_t *br) {
    pthread_mutex_destroy(&br->mu);
    free(br->fails);
    br->fails = NULL;
}

static void move(sl_gw_breaker_t *br, sl_gw_br_state_t to, uint64_t now_ms) {
    if (br->state == to) {
        return;
    }
    br->transitions[br->state][to]++;
    br->state = to;
    br->probe_out = false;
    if (to == SL_GW_BR_OPEN) {
        br->opened_at = now_ms;
    }
    if (to == SL_GW_BR_CLOSED) {
        br->n_fails = br->next_fail = 0;
    }
}

bool sl_gw_breaker_admit(sl_gw_breaker_t *br, uint64_t now_ms, bool *probe) {
    *probe = false;
    pthread_mutex_lock(&br->mu);
    bool ok = true;
    if (br->state == SL_GW_BR_OPEN && now_ms >= br->opened_at + br->open_ms) {
        move(br, SL_GW_BR_HALF_OPEN, now_ms);
    }
    if (br->state == SL_GW_BR_OPEN) {
        ok = false;
    } else if (br->state == SL_GW_BR_HALF_OPEN) {
        if (br->probe_out) {
            ok = false;
        } else {
            br->probe_out = true;
            *probe = true;
        }
    }
    if (!ok) {
        br->rejected++;
    }
    pthread_mutex_unlock(&br->mu);
    return ok;
}

/* Records a failure at now_ms; true when `threshold` of them fall within the window. */
static bool note_failure(sl_gw_breaker_t *br, uint64_t now_ms) {
    br->fails[br->next_fail] = now_ms;
    br->next_fail = (br->next_fail + 1) % br->threshold;
    if (br->n_fails < br->threshold) {
        br->n_fails++;
    }
    if (br->n_fails < br->threshold) {
        return false;
    }
    uint64_t oldest = br->fails[br->next_fail]; /* the ring is full: next_fail is the oldest */
    return now_ms - oldest <= br->window_ms || oldest > now_ms;
}

void sl_gw_breaker_done(sl_gw_breaker_t *br, uint64_t now_ms, bool probe, bool ok,
                        uint64_t latency_ms) {
    if (br->slow_ms && latency_ms >= br->slow_ms) {
        ok = false;
    }
    pthread_mutex_lock(&br->mu);
    if (probe && br->state == SL_GW_BR_HALF_OPEN) {
        move(br, ok ? SL_GW_BR_CLOSED : SL_GW_BR_OPEN, now_ms);
    } else if (!ok && br->state == SL_GW_BR_CLOSED && note_failure(br, now_ms)) {
        move(br, SL_GW_BR_OPEN, now_ms);
    }
    pthread_mutex_unlock(&br->mu);
}

void sl_gw_breaker_release(sl_gw_breaker_t *br, bool probe) {
    if (!probe) {
        return;
    }
    pthread_mutex_lock(&br->mu);
    if (br->state == SL_GW_BR_HALF_OPEN) {
        br->probe_out = false;
    }
    pthread_mutex_unlock(&br->mu);
}

void sl_gw_breaker_trip(sl_gw_breaker_t *br, uint64_t now_ms) {
    pthread_mutex_lock(&br->mu);
    if (br->state == SL_GW_BR_OPEN) {
        br->opened_at = now_ms;
    } else {
        move(br, SL_GW_BR_OPEN, now_ms);
    }
    pthread_mutex_unlock(&br->mu);
}

sl_gw_br_state_t sl_gw_breaker_state(sl_gw_breaker_t *br) {
    pthread_mutex_lock(&br->mu);
    sl_gw_br_state_t s = br->state;
    pthread_mutex_unlock(&br->mu);
    return s;
}

const char *sl_gw_breaker_state_name(sl_gw_br_state_t s) {
    return s == SL_GW_BR_CLOSED ? "closed" : s == SL_GW_BR_OPEN ? "open" : "half_open";
}
