/* slowsync.c -- an LD_PRELOAD shim that makes fdatasync and fsync take SLOW_SYNC_US
 * microseconds longer, to stand for a slower disk (a network volume, a spinning disk) on a
 * machine whose disk syncs in well under a millisecond. Benchmarks only: bench/run-commit-
 * interference preloads it into the broker when SLOW_SYNC_MS is set. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static long delay_us(void) {
    static long us = -1;
    if (us < 0) {
        const char *s = getenv("SLOW_SYNC_US");
        us = s ? atol(s) : 0;
    }
    return us;
}

static void pause_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) {
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    }
    pause_us(delay_us());
    return real(fd);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) {
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    }
    pause_us(delay_us());
    return real(fd);
}
