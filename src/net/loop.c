/* loop.c -- the epoll event loop: readiness dispatch, a binary heap of timers, before-sleep hooks.
 *
 * Watches are kept in a table indexed by fd, so a callback can unwatch (and even close) any fd,
 * including one whose event is still pending in this iteration's batch: dispatch re-checks the
 * table and a generation counter before every callback (nginx's stale-event guard).
 * Timers: a min-heap of slot indices keyed by deadline. A timer id names its slot and the slot's
 * generation, and each slot knows its heap position, so cancelling is O(log n) and a stale id (a
 * timer that already fired, or was cancelled) is recognised and ignored. */
#include "loop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"

typedef struct watch {
    sl_io_fn *fn;
    void *data;
    unsigned events;
    uint32_t gen; /* bumped on every watch/unwatch, to drop stale events */
    bool active;
} watch_t;

#define NO_POS UINT32_MAX

typedef struct tslot {
    uint64_t deadline_ms;
    sl_timer_fn *fn;
    void *data;
    uint32_t gen;       /* bumped each time the slot is freed */
    uint32_t heap_pos;  /* position in the heap, NO_POS while free */
    uint32_t next_free; /* free-list link */
} tslot_t;

typedef struct idle {
    sl_idle_fn *fn;
    void *data;
} idle_t;

struct sl_loop {
    int epfd;
    int wakefd;
    watch_t *watches;
    int n_watches; /* table size, indexed by fd */
    tslot_t *slots;
    uint32_t n_slots, cap_slots, free_head;
    uint32_t *heap; /* slot indices */
    size_t n_heap, cap_heap;
    idle_t *idles;
    size_t n_idles;
    uint64_t now_ms;
    uint64_t iteration; /* sl_loop_iteration */
    bool no_wait;       /* the next epoll_wait must not block (sl_loop_no_wait) */
    volatile int stop;
    struct sl_histo *m_busy; /* iteration lengths (note_busy) */
    struct sl_counter *m_stalls;
    uint64_t stall_logged_ms;
};

#define SL_LOOP_STALL_MS 20

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
    loop->free_head = NO_POS;
    loop->now_ms = sl_mono_ms();
    loop->iteration = 1;
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
    free(loop->slots);
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

/* ---- timers: a binary min-heap of slots on deadline ---- */

static uint64_t deadline_at(const sl_loop_t *loop, size_t pos) {
    return loop->slots[loop->heap[pos]].deadline_ms;
}

static void heap_set(sl_loop_t *loop, size_t pos, uint32_t slot) {
    loop->heap[pos] = slot;
    loop->slots[slot].heap_pos = (uint32_t)pos;
}

static void heap_up(sl_loop_t *loop, size_t pos) {
    uint32_t slot = loop->heap[pos];
    uint64_t d = loop->slots[slot].deadline_ms;
    while (pos > 0) {
        size_t parent = (pos - 1) / 2;
        if (deadline_at(loop, parent) <= d) {
            break;
        }
        heap_set(loop, pos, loop->heap[parent]);
        pos = parent;
    }
    heap_set(loop, pos, slot);
}

static void heap_down(sl_loop_t *loop, size_t pos) {
    uint32_t slot = loop->heap[pos];
    uint64_t d = loop->slots[slot].deadline_ms;
    for (;;) {
        size_t l = 2 * pos + 1, r = l + 1, m = pos;
        uint64_t md = d;
        if (l < loop->n_heap && deadline_at(loop, l) < md) {
            m = l;
            md = deadline_at(loop, l);
        }
        if (r < loop->n_heap && deadline_at(loop, r) < md) {
            m = r;
        }
        if (m == pos) {
            break;
        }
        heap_set(loop, pos, loop->heap[m]);
        pos = m;
    }
    heap_set(loop, pos, slot);
}

static void heap_remove(sl_loop_t *loop, size_t pos) {
    uint32_t gone = loop->heap[pos];
    loop->slots[gone].heap_pos = NO_POS;
    uint32_t last = loop->heap[--loop->n_heap];
    if (pos == loop->n_heap) {
        return;
    }
    heap_set(loop, pos, last);
    heap_up(loop, pos);
    heap_down(loop, loop->slots[last].heap_pos);
}

static void slot_free(sl_loop_t *loop, uint32_t slot) {
    tslot_t *t = &loop->slots[slot];
    t->gen++;
    t->fn = NULL;
    t->heap_pos = NO_POS;
    t->next_free = loop->free_head;
    loop->free_head = slot;
}

uint64_t sl_loop_timer(sl_loop_t *loop, uint64_t after_ms, sl_timer_fn *fn, void *data) {
    uint32_t slot;
    if (loop->free_head != NO_POS) {
        slot = loop->free_head;
        loop->free_head = loop->slots[slot].next_free;
    } else {
        if (loop->n_slots == loop->cap_slots) {
            loop->cap_slots = loop->cap_slots ? loop->cap_slots * 2 : 64;
            loop->slots = sl_xrealloc(loop->slots, loop->cap_slots * sizeof *loop->slots);
        }
        slot = loop->n_slots++;
        loop->slots[slot].gen = 1;
    }
    tslot_t *t = &loop->slots[slot];
    t->deadline_ms = sl_mono_ms() + after_ms;
    t->fn = fn;
    t->data = data;
    if (loop->n_heap == loop->cap_heap) {
        loop->cap_heap = loop->cap_heap ? loop->cap_heap * 2 : 64;
        loop->heap = sl_xrealloc(loop->heap, loop->cap_heap * sizeof *loop->heap);
    }
    heap_set(loop, loop->n_heap++, slot);
    heap_up(loop, loop->n_heap - 1);
    return (uint64_t)t->gen << 32 | (uint64_t)(slot + 1);
}

void sl_loop_cancel(sl_loop_t *loop, uint64_t id) {
    uint64_t low = id & 0xffffffffu;
    if (low == 0 || low > loop->n_slots) {
        return;
    }
    uint32_t slot = (uint32_t)(low - 1);
    tslot_t *t = &loop->slots[slot];
    if (t->gen != (uint32_t)(id >> 32) || t->heap_pos == NO_POS) {
        return; /* already fired or cancelled */
    }
    heap_remove(loop, t->heap_pos);
    slot_free(loop, slot);
}

static void run_timers(sl_loop_t *loop) {
    uint64_t now = sl_mono_ms();
    while (loop->n_heap && deadline_at(loop, 0) <= now) {
        uint32_t slot = loop->heap[0];
        tslot_t *t = &loop->slots[slot];
        uint64_t id = (uint64_t)t->gen << 32 | (uint64_t)(slot + 1);
        sl_timer_fn *fn = t->fn;
        void *data = t->data;
        heap_remove(loop, 0);
        slot_free(loop, slot);
        fn(loop, id, data);
    }
}

void sl_loop_run_due(sl_loop_t *loop) {
    loop->now_ms = sl_mono_ms();
    run_timers(loop);
}

/* Number of pending timers (tests). */
size_t sl_loop_timer_count(const sl_loop_t *loop) {
    return loop->n_heap;
}

void sl_loop_before_sleep(sl_loop_t *loop, sl_idle_fn *fn, void *data) {
    loop->idles = sl_xrealloc(loop->idles, (loop->n_idles + 1) * sizeof *loop->idles);
    loop->idles[loop->n_idles].fn = fn;
    loop->idles[loop->n_idles].data = data;
    loop->n_idles++;
}

/* Stall detector (as Seastar's reactor has): an iteration that kept the thread from epoll for
 * longer than SL_LOOP_STALL_MS delays every connection; it is counted, its length observed, and
 * logged at most once a second. */
static void note_busy(sl_loop_t *loop, uint64_t from_ns) {
    uint64_t us = (sl_mono_ns() - from_ns) / 1000;
    if (!loop->m_busy) {
        loop->m_busy =
            sl_metrics_histogram("sluice_loop_iteration_seconds", "",
                                 "Time an event-loop iteration kept the loop from epoll");
        loop->m_stalls = sl_metrics_counter("sluice_loop_stalls_total", "",
                                            "Event-loop iterations longer than 20 ms");
    }
    sl_histo_observe_us(loop->m_busy, us);
    if (us >= SL_LOOP_STALL_MS * 1000) {
        sl_counter_add(loop->m_stalls, 1);
        if (loop->now_ms >= loop->stall_logged_ms + 1000) {
            loop->stall_logged_ms = loop->now_ms;
            sl_log(SL_LOG_WARN, "net", "msg=\"event loop stalled\" ms=%.1f", (double)us / 1000);
        }
    }
}

sl_err_t sl_loop_run(sl_loop_t *loop) {
    struct epoll_event events[256];
    while (!loop->stop) {
        int timeout = -1;
        if (loop->n_heap) {
            uint64_t now = sl_mono_ms();
            uint64_t d = deadline_at(loop, 0);
            timeout = d <= now ? 0 : (int)SL_MIN(d - now, (uint64_t)60000);
        }
        if (loop->no_wait) {
            timeout = 0;
            loop->no_wait = false;
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
        loop->iteration++;
        uint64_t busy_from = sl_mono_ns();
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
        note_busy(loop, busy_from);
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

void sl_loop_no_wait(sl_loop_t *loop) {
    loop->no_wait = true;
}

uint64_t sl_loop_iteration(const sl_loop_t *loop) {
    return loop->iteration;
}

uint64_t sl_loop_now_ms(const sl_loop_t *loop) {
    return loop->now_ms;
}

bool sl_loop_stopping(const sl_loop_t *loop) {
    return loop->stop != 0;
}
