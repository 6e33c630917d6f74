/* loop.c -- the epoll event loop: readiness dispatch, a binary heap of timers, before-sleep hooks.
 *
 * Watches are kept in a table indexed by fd, so a callback can unwatch (and even close) any fd,
 * including one whose event is still pending in this iteration's batch: dispatch re-checks the
 * table and a generation counter before every callback (nginx's stale-event guard).
 * Timers: a min-heap keyed by deadline; cancelled timers are removed lazily at pop time. */
#include "loop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"

typedef struct watch {
    sl_io_fn *fn;
    void *data;
    unsigned events;
    uint32_t gen; /* bumped on every watch/unwatch, to drop stale events */
    bool active;
} watch_t;

typedef struct timer {
    uint64_t deadline_ms;
    uint64_t id;
    sl_timer_fn *fn;
    void *data;
} timer_t_;

typedef struct idle {
    sl_idle_fn *fn;
    void *data;
} idle_t;

struct sl_loop {
    int epfd;
    int wakefd;
    watch_t *watches;
    int n_watches; /* table size, indexed by fd */
    timer_t_ *heap;
    size_t n_heap, cap_heap;
    uint64_t next_timer_id;
    uint64_t *cancelled; /* ids cancelled but still in the heap; see sl_loop_cancel */
    size_t n_cancelled, cap_cancelled;
    idle_t *idles;
    size_t n_idles;
    uint64_t now_ms;
    volatile int stop;
};

#define WAKE_TOKEN UINT64_MAX /* the eventfd's epoll token; watches carry fd | gen << 32 */

static unsigned to_epoll(unsigned ev) {
    return (ev & SL_EV_READ ? EPOLLIN | EPOLLRDHUP : 0) | (ev & SL_EV_WRITE ? EPOLLOUT : 0);
}

sl_loop_t *sl_loop_new(void) {
    sl_loop_t *loop = sl_xcalloc(1, sizeof *loop);
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        sl_log(SL_LOG_ERROR, "net", "op=epoll_create err=\"%s\"", strerror(errno));
        free(loop);
        return NULL;
    }
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wakefd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TOKEN};
        (void)epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev);
    }
    loop->next_timer_id = 1;
    loop->now_ms = sl_mono_ms();
    return loop;
}

void sl_loop_free(sl_loop_t *loop) {
    if (!loop) {
        return;
    }
    close(loop->epfd);
    if (loop->wakefd >= 0) {
        close(loop->wakefd);
    }
    free(loop->watches);
    free(loop->heap);
    free(loop->cancelled);
    free(loop->idles);
    free(loop);
}

sl_err_t sl_loop_watch(sl_loop_t *loop, int fd, unsigned events, sl_io_fn *fn, void *data) {
    if (fd < 0) {
        return SL_ERR_INVAL;
    }
    if (fd >= loop->n_watches) {
        int n = loop->n_watches ? loop->n_watches : 64;
        while (n <= fd) {
            n *= 2;
        }
        loop->watches = sl_xrealloc(loop->watches, (size_t)n * sizeof *loop->watches);
        memset(loop->watches + loop->n_watches, 0,
               (size_t)(n - loop->n_watches) * sizeof *loop->watches);
        loop->n_watches = n;
    }
    watch_t *w = &loop->watches[fd];
    struct epoll_event ev = {.events = to_epoll(events), .data.u64 = 0};
    w->gen++;
    ev.data.u64 = (uint64_t)(uint32_t)fd | (uint64_t)w->gen << 32;
    int op = w->active ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(loop->epfd, op, fd, &ev) < 0) {
        sl_log(SL_LOG_ERROR, "net", "op=epoll_ctl fd=%d err=\"%s\"", fd, strerror(errno));
        return SL_ERR_IO;
    }
    w->fn = fn;
    w->data = data;
    w->events = events;
    w->active = true;
    return SL_OK;
}

sl_err_t sl_loop_modify(sl_loop_t *loop, int fd, unsigned events) {
    if (fd < 0 || fd >= loop->n_watches || !loop->watches[fd].active) {
        return SL_ERR_INVAL;
    }
    watch_t *w = &loop->watches[fd];
    if (w->events == events) {
        return SL_OK;
    }
    struct epoll_event ev = {.events = to_epoll(events)};
    ev.data.u64 = (uint64_t)(uint32_t)fd | (uint64_t)w->gen << 32;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0) {
        sl_log(SL_LOG_ERROR, "net", "op=epoll_ctl fd=%d err=\"%s\"", fd, strerror(errno));
        return SL_ERR_IO;
    }
    w->events = events;
    return SL_OK;
}

void sl_loop_unwatch(sl_loop_t *loop, int fd) {
    if (fd < 0 || fd >= loop->n_watches || !loop->watches[fd].active) {
        return;
    }
    (void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
    loop->watches[fd].active = false;
    loop->watches[fd].gen++;
}

/* ---- timers: a binary min-heap on deadline ---- */

static void heap_swap(timer_t_ *a, timer_t_ *b) {
    timer_t_ t = *a;
    *a = *b;
    *b = t;
}

static void heap_push(sl_loop_t *loop, timer_t_ t) {
    if (loop->n_heap == loop->cap_heap) {
        loop->cap_heap = loop->cap_heap ? loop->cap_heap * 2 : 64;
        loop->heap = sl_xrealloc(loop->heap, loop->cap_heap * sizeof *loop->heap);
    }
    size_t i = loop->n_heap++;
    loop->heap[i] = t;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (loop->heap[parent].deadline_ms <= loop->heap[i].deadline_ms) {
            break;
        }
        heap_swap(&loop->heap[parent], &loop->heap[i]);
        i = parent;
    }
}

static timer_t_ heap_pop(sl_loop_t *loop) {
    timer_t_ top = loop->heap[0];
    loop->heap[0] = loop->heap[--loop->n_heap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < loop->n_heap && loop->heap[l].deadline_ms < loop->heap[m].deadline_ms) {
            m = l;
        }
        if (r < loop->n_heap && loop->heap[r].deadline_ms < loop->heap[m].deadline_ms) {
            m = r;
        }
        if (m == i) {
            break;
        }
        heap_swap(&loop->heap[m], &loop->heap[i]);
        i = m;
    }
    return top;
}

uint64_t sl_loop_timer(sl_loop_t *loop, uint64_t after_ms, sl_timer_fn *fn, void *data) {
    timer_t_ t = {sl_mono_ms() + after_ms, loop->next_timer_id++, fn, data};
    heap_push(loop, t);
    return t.id;
}

/* Cancelled ids wait in a small list until their deadline pops; the list stays as short as the
 * number of pending cancelled timers. */
void sl_loop_cancel(sl_loop_t *loop, uint64_t id) {
    if (id == 0) {
        return;
    }
    for (size_t i = 0; i < loop->n_heap; i++) {
        if (loop->heap[i].id == id) {
            if (loop->n_cancelled == loop->cap_cancelled) {
                loop->cap_cancelled = loop->cap_cancelled ? loop->cap_cancelled * 2 : 16;
                loop->cancelled =
                    sl_xrealloc(loop->cancelled, loop->cap_cancelled * sizeof *loop->cancelled);
            }
            loop->cancelled[loop->n_cancelled++] = id;
            loop->heap[i].fn = NULL;
            return;
        }
    }
}

static bool take_cancelled(sl_loop_t *loop, uint64_t id) {
    for (size_t i = 0; i < loop->n_cancelled; i++) {
        if (loop->cancelled[i] == id) {
            loop->cancelled[i] = loop->cancelled[--loop->n_cancelled];
            return true;
        }
    }
    return false;
}

static void run_timers(sl_loop_t *loop) {
    uint64_t now = sl_mono_ms();
    while (loop->n_heap && loop->heap[0].deadline_ms <= now) {
        timer_t_ t = heap_pop(loop);
        if (take_cancelled(loop, t.id) || !t.fn) {
            continue;
        }
        t.fn(loop, t.id, t.data);
    }
}

void sl_loop_before_sleep(sl_loop_t *loop, sl_idle_fn *fn, void *data) {
    loop->idles = sl_xrealloc(loop->idles, (loop->n_idles + 1) * sizeof *loop->idles);
    loop->idles[loop->n_idles].fn = fn;
    loop->idles[loop->n_idles].data = data;
    loop->n_idles++;
}

sl_err_t sl_loop_run(sl_loop_t *loop) {
    struct epoll_event events[256];
    while (!loop->stop) {
        int timeout = -1;
        if (loop->n_heap) {
            uint64_t now = sl_mono_ms();
            uint64_t d = loop->heap[0].deadline_ms;
            timeout = d <= now ? 0 : (int)SL_MIN(d - now, (uint64_t)60000);
        }
        int n = epoll_wait(loop->epfd, events, (int)SL_ARRAY_LEN(events), timeout);
        if (n < 0) {
            if (errno == EINTR) {
                n = 0;
            } else {
                sl_log(SL_LOG_ERROR, "net", "op=epoll_wait err=\"%s\"", strerror(errno));
                return SL_ERR_IO;
            }
        }
        loop->now_ms = sl_mono_ms();
        for (int i = 0; i < n; i++) {
            if (events[i].data.u64 == WAKE_TOKEN) {
                uint64_t v;
                ssize_t r = read(loop->wakefd, &v, sizeof v);
                (void)r;
                continue;
            }
            int fd = (int)(uint32_t)events[i].data.u64;
            uint32_t gen = (uint32_t)(events[i].data.u64 >> 32);
            if (fd >= loop->n_watches) {
                continue;
            }
            watch_t *w = &loop->watches[fd];
            if (!w->active || w->gen != gen) {
                continue; /* the stale event of an fd unwatched earlier in this batch */
            }
            unsigned ev = 0;
            if (events[i].events & (EPOLLIN | EPOLLRDHUP)) {
                ev |= SL_EV_READ;
            }
            if (events[i].events & EPOLLOUT) {
                ev |= SL_EV_WRITE;
            }
            if (events[i].events & (EPOLLERR | EPOLLHUP)) {
                ev |= SL_EV_ERROR;
            }
            w->fn(loop, fd, w->data, ev);
        }
        run_timers(loop);
        for (size_t i = 0; i < loop->n_idles; i++) {
            loop->idles[i].fn(loop, loop->idles[i].data);
        }
    }
    return SL_OK;
}

void sl_loop_stop(sl_loop_t *loop) {
    loop->stop = 1;
}

void sl_loop_stop_from_signal(sl_loop_t *loop) {
    loop->stop = 1;
    if (loop->wakefd >= 0) {
        uint64_t one = 1;
        ssize_t r = write(loop->wakefd, &one, sizeof one);
        (void)r;
    }
}

uint64_t sl_loop_now_ms(const sl_loop_t *loop) {
    return loop->now_ms;
}

bool sl_loop_stopping(const sl_loop_t *loop) {
    return loop->stop != 0;
}
