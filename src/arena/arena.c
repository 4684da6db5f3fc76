/* arena.c: the arena set and the operations that cross bins (see arena.h). */
#include "arena.h"

#include <errno.h>

ta_arena_t *ta_arenas[TA_MAX_ARENAS];
unsigned ta_narenas;
ta_hpa_t *ta_node_hpa;
static ta_atomic(unsigned) next_arena;

int ta_arena_boot(unsigned narenas, uint64_t decay_ns, unsigned break_pct) {
  if (narenas == 0) narenas = 1;
  if (narenas > TA_MAX_ARENAS) narenas = TA_MAX_ARENAS;
  ta_size_class_init();
  ta_node_hpa = ta_meta_alloc(sizeof(ta_hpa_t));
  if (!ta_node_hpa || ta_hpa_init(ta_node_hpa, 0, decay_ns, break_pct) != 0) return ENOMEM;
  for (unsigned i = 0; i < narenas; i++) {
    ta_arena_t *a = ta_meta_alloc(sizeof(ta_arena_t));
    if (!a) return ENOMEM;
    for (unsigned c = 0; c < TA_NCLASSES; c++) ta_bin_init(&a->bins[c]);
    a->hpa = ta_node_hpa;
    a->index = i;
    a->node = 0;
    ta_arenas[i] = a;
  }
  ta_narenas = narenas;
  return 0;
}

ta_arena_t *ta_arena_choose(void) {
  unsigned i = ta_atomic_fetch_add(&next_arena, 1u, ta_mo_relaxed);
  return ta_arenas[i % ta_narenas];
}

void ta_arena_flush(unsigned cls, void **ptrs, unsigned n) {
  ta_bin_t *held = NULL;
  ta_hpa_t *hpa = NULL;
  for (unsigned i = 0; i < n; i++) {
    ta_extent_t *slab = ta_pagemap_lookup(ptrs[i]);
    /* Only pointers whose slab the free path looked up reach a cache, so a miss here means the
     * slab was torn down underneath: heap corruption. */
    if (ta_unlikely(!slab || slab->kind != TA_EXTENT_SLAB || slab->size_class != cls))
      ta_log_fatal("free of %p: not a live object of size class %u (heap corruption)", ptrs[i], cls);
    ta_arena_t *a = ta_arenas[slab->arena];
    ta_bin_t *bin = &a->bins[cls];
    if (bin != held) {
      if (held) {
        held->stats.nflushes++;
        ta_mutex_unlock(&held->lock);
      }
      ta_mutex_lock(&bin->lock);
      held = bin;
      hpa = a->hpa;
    }
    ta_bin_put_locked(bin, hpa, slab, ptrs[i]);
  }
  if (held) {
    held->stats.nflushes++;
    ta_mutex_unlock(&held->lock);
  }
}

void *ta_arena_alloc_small(ta_arena_t *arena, unsigned cls) {
  void *p;
  return ta_bin_fill(&arena->bins[cls], arena->hpa, cls, arena->index, arena->node, &p, 1) ? p : NULL;
}

void *ta_arena_alloc_large(ta_arena_t *arena, size_t size, size_t align, bool zero) {
  return ta_large_alloc(arena->hpa, size, align, zero, arena->node);
}

void ta_arena_free_large(ta_extent_t *ext) { ta_large_free(ta_node_hpa, ext); }

size_t ta_arena_purge_step(uint64_t now, uint64_t older_than, size_t budget, bool force) {
  for (unsigned i = 0; i < ta_narenas; i++)
    for (unsigned c = 0; c < TA_NCLASSES; c++)
      ta_bin_trim(&ta_arenas[i]->bins[c], ta_arenas[i]->hpa, older_than);
  return ta_hpa_purge_step(ta_node_hpa, now, budget, force);
}

uint64_t ta_arena_next_due(void) { return ta_hpa_next_due(ta_node_hpa); }

void ta_arena_prefork(void) {
  for (unsigned i = 0; i < ta_narenas; i++)
    for (unsigned c = 0; c < TA_NCLASSES; c++) ta_mutex_lock(&ta_arenas[i]->bins[c].lock);
  ta_hpa_prefork(ta_node_hpa);
}

void ta_arena_postfork_parent(void) {
  ta_hpa_postfork_parent(ta_node_hpa);
  for (unsigned i = 0; i < ta_narenas; i++)
    for (unsigned c = 0; c < TA_NCLASSES; c++) ta_mutex_unlock(&ta_arenas[i]->bins[c].lock);
}

void ta_arena_postfork_child(void) {
  ta_hpa_postfork_child(ta_node_hpa);
  for (unsigned i = 0; i < ta_narenas; i++)
    for (unsigned c = 0; c < TA_NCLASSES; c++) ta_mutex_postfork_child(&ta_arenas[i]->bins[c].lock);
}
