/* arena.c -- bump allocation in blocks of at least 4 KiB; a large request gets its own block. */
#include "arena.h"

#include <string.h>

#include "util.h"

struct sl_arena_block {
    sl_arena_block_t *next;
    size_t used, cap;
    max_align_t data[];
};

void *sl_arena_alloc(sl_arena_t *arena, size_t n) {
    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    sl_arena_block_t *b = arena->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 4096 ? n : 4096;
        b = sl_xmalloc(sizeof *b + cap);
        b->used = 0;
        b->cap = cap;
        b->next = arena->head;
        arena->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

void sl_arena_reset(sl_arena_t *arena) {
    sl_arena_block_t *b = arena->head;
    while (b) {
        sl_arena_block_t *next = b->next;
        free(b);
        b = next;
    }
    arena->head = NULL;
}
