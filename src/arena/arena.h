/* arena.h: layer L5, the umbrella header. An arena is a set of bins (one per size class) on one
 * node, over that node's hugepage allocator. Threads are spread over their node's arenas;
 * objects always go back to the arena (and node) that owns their slab.
 *
 * The arena set is built once at start-up (ta_arena_boot) and never shrinks, so arena pointers
 * stay valid for the life of the process. */
#ifndef TA_ARENA_H
#define TA_ARENA_H

#include "bin.h"
#include "size_class.h"
#include "slab.h"

TA_EXTERN_C_BEGIN

#define TA_MAX_ARENAS 1024

typedef struct ta_arena {
  ta_bin_t bins[TA_NCLASSES];
  ta_hpa_t *hpa;
  unsigned index;
  unsigned node;
} ta_arena_t;

extern ta_arena_t *ta_arenas[TA_MAX_ARENAS];
extern unsigned ta_narenas;
extern ta_hpa_t *ta_node_hpa; /* the heap's hugepage allocator (node 0 until per-node sets) */

/* Builds narenas arenas over one hugepage allocator. Returns 0 or ENOMEM. */
int ta_arena_boot(unsigned narenas, uint64_t decay_ns, unsigned break_pct);

/* The arena for a new thread: round-robin over the set. */
ta_arena_t *ta_arena_choose(void);

/* Returns n objects of class cls (from any arenas) to their owners, taking each owning bin's
 * lock once per run of objects that share it. */
void ta_arena_flush(unsigned cls, void **ptrs, unsigned n);

/* One object without a thread cache. NULL when out of memory. */
void *ta_arena_alloc_small(ta_arena_t *arena, unsigned cls);

/* Large allocations and frees, on the arena's node. */
void *ta_arena_alloc_large(ta_arena_t *arena, size_t size, size_t align, bool zero);
void ta_arena_free_large(ta_extent_t *ext);

/* Background upkeep: releases spare slabs idle since before older_than_ns, then purges what
 * decay says is due. Returns pages purged. */
size_t ta_arena_purge_step(uint64_t now_ns, uint64_t older_than_ns, size_t budget, bool force);
/* When the next purge is due (UINT64_MAX: nothing dirty). */
uint64_t ta_arena_next_due(void);

void ta_arena_prefork(void);
void ta_arena_postfork_parent(void);
void ta_arena_postfork_child(void);

TA_EXTERN_C_END

#endif
