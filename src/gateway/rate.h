/* rate.h -- a token bucket (rate limits per API key and per route). Pure arithmetic on a caller's
 * clock, so tests drive time; the caller serializes calls on one bucket. */
#ifndef SL_GW_RATE_H
#define SL_GW_RATE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sl_gw_bucket {
    double rate;   /* tokens added per second; <= 0 means unlimited */
    double burst;  /* capacity, at least 1 */
    double tokens; /* current level */
    uint64_t last; /* ms of the last refill */
} sl_gw_bucket_t;

/* A full bucket of `burst` tokens (at least 1) refilled at `rate` per second from `now_ms`. */
void sl_gw_bucket_init(sl_gw_bucket_t *b, double rate, double burst, uint64_t now_ms);
/* Takes one token at `now_ms`. Returns 0 when taken, else how many ms until a token will be
 * there (at least 1); an unlimited bucket always returns 0. A clock that steps back refills
 * nothing. */
uint64_t sl_gw_bucket_take(sl_gw_bucket_t *b, uint64_t now_ms);

#endif
