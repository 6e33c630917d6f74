/* clock.c -- clock reads (vDSO-backed clock_gettime). */
#include "clock.h"

#include <time.h>

uint64_t sl_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t sl_mono_ms(void) {
    return sl_mono_ns() / 1000000ull;
}

int64_t sl_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
