/* rate.c -- token bucket (see rate.h). */
#include "gateway/rate.h"

#include <math.h>

void sl_gw_bucket_init(sl_gw_bucket_t *b, double rate, double burst, uint64_t now_ms) {
    b->rate = rate;
    b->burst = burst < 1 ? 1 : burst;
    b->tokens = b->burst;
    b->last = now_ms;
}

uint64_t sl_gw_bucket_take(sl_gw_bucket_t *b, uint64_t now_ms) {
    if (b->rate <= 0) {
        return 0;
    }
    if (now_ms > b->last) {
        b->tokens += (double)(now_ms - b->last) * b->rate / 1000.0;
        if (b->tokens > b->burst) {
            b->tokens = b->burst;
        }
        b->last = now_ms;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    double wait = ceil((1.0 - b->tokens) * 1000.0 / b->rate);
    return wait < 1 ? 1 : (uint64_t)wait;
}
