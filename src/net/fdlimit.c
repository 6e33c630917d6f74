/* fdlimit.c -- raising RLIMIT_NOFILE (see fdlimit.h). Distributions ship a soft limit of 1024
 * with a much higher hard limit; a process that holds many sockets asks for the hard limit itself,
 * as nginx (worker_rlimit_nofile) and Redis (maxclients) do, instead of failing at accept. */
#include "fdlimit.h"

#include <stdio.h>
#include <sys/resource.h>

#include "common/os.h"

static long as_long(rlim_t v) {
    return v == RLIM_INFINITY || v > (rlim_t)0x7fffffff ? 0x7fffffffL : (long)v;
}

long sl_fdlimit_raise(long want, long *hard_out) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        if (hard_out) {
            *hard_out = 0;
        }
        return 0;
    }
    if (want > 0 && rl.rlim_max != RLIM_INFINITY && (rlim_t)want > rl.rlim_max) {
        long nr_open = sl_os_read_long("/proc/sys/fs/nr_open", 0);
        rlim_t to = (rlim_t)(nr_open > 0 && nr_open < want ? nr_open : want);
        struct rlimit up = {to, to};
        if (to > rl.rlim_max && setrlimit(RLIMIT_NOFILE, &up) == 0) {
            rl = up; /* privileged: the hard limit itself went up */
        }
    }
    if (rl.rlim_cur != rl.rlim_max) {
        struct rlimit up = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0) {
            rl.rlim_cur = rl.rlim_max;
        }
    }
    if (hard_out) {
        *hard_out = as_long(rl.rlim_max);
    }
    return as_long(rl.rlim_cur);
}
