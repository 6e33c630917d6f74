/* arena.h -- a bump allocator for decoded requests: many small allocations, one free.
 * Memory comes from sl_xmalloc (aborts on exhaustion); sizes are limit-checked by callers. */
#ifndef SL_ARENA_H
#define SL_ARENA_H

#include <stddef.h>

typedef struct sl_arena_block sl_arena_block_t;
typedef struct sl_arena {
    sl_arena_block_t *head;
} sl_arena_t;

/* Returns `n` zeroed bytes aligned for any type, valid until sl_arena_reset/fini. */
void *sl_arena_alloc(sl_arena_t *arena, size_t n);
/* Frees every allocation; the arena stays usable. */
void sl_arena_reset(sl_arena_t *arena);
#define sl_arena_fini sl_arena_reset

#endif
