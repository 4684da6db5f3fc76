/* slab_cache.c: an arena's cache of emptied slabs (see slab_cache.h).
 *
 * A cached slab keeps its extent record and pagemap entries; `usable` (unused by slabs) holds
 * when it was emptied, by the arenas' coarse clock. Its class and shape (`size_class`, `nobjs`)
 * change only when it is taken again, while no object of it is live. */
#include "slab_cache.h"

#include "arena.h"

/* Entries looked at, newest first, for a slab of the right page count: a batch that empties
 * slabs of one class finds them at the front; an old odd one is left for the trim. */
#define TAKE_SCAN 8
/* Every WINDOW takes the cache judges itself: where fewer than half found a slab (slabs empty
 * out in one shape and are wanted in another, as when objects grow through the classes), it
 * keeps only 1/COLD_SHARE of its bound, enough to notice when reuse comes back. */
#define WINDOW 64
#define COLD_SHARE 8

void ta_slab_cache_init(ta_slab_cache_t *cache, size_t max_bytes) {
  ta_mutex_init(&cache->lock, TA_LOCK_RANK_SLAB_CACHE);
  ta_list_init(&cache->slabs);
  ta_atomic_store(&cache->bytes, 0, ta_mo_relaxed);
  cache->max_bytes = max_bytes;
  cache->limit = max_bytes;
  cache->window_hits = cache->window_takes = 0;
  cache->hits = cache->misses = cache->returned = 0;
}

static size_t slab_bytes(const ta_extent_t *slab) {
  return (size_t)slab->npages << ta_hpa_geometry.page_shift;
}

static size_t held(ta_slab_cache_t *cache) { return ta_atomic_load(&cache->bytes, ta_mo_relaxed); }

/* pre: cache->lock held. */
static void add_bytes(ta_slab_cache_t *cache, size_t plus, size_t minus) {
  ta_atomic_store(&cache->bytes, held(cache) + plus - minus, ta_mo_relaxed);
}

/* pre: cache->lock held. */
static void give_back(ta_slab_cache_t *cache, ta_hpa_t *hpa, ta_extent_t *slab) {
  ta_list_remove(&slab->link);
  add_bytes(cache, 0, slab_bytes(slab));
  cache->returned++;
  ta_slab_delete(hpa, slab);
}

void ta_slab_cache_put(ta_slab_cache_t *cache, ta_hpa_t *hpa, ta_extent_t *slab) {
  size_t bytes = slab_bytes(slab);
  if (bytes > cache->max_bytes) { /* also the disabled cache: no lock taken */
    ta_slab_delete(hpa, slab);
    return;
  }
  slab->usable = ta_atomic_load(&ta_arena_clock, ta_mo_relaxed);
  ta_mutex_lock(&cache->lock);
  ta_list_push_front(&cache->slabs, &slab->link);
  add_bytes(cache, bytes, 0);
  while (held(cache) > cache->limit)
    give_back(cache, hpa, ta_list_entry(cache->slabs.prev, ta_extent_t, link));
  ta_mutex_unlock(&cache->lock);
}

ta_extent_t *ta_slab_cache_take(ta_slab_cache_t *cache, ta_hpa_t *hpa, unsigned cls, ta_slab_shape_t shape,
                                unsigned arena) {
  size_t meta_need = ta_slab_record_size(shape.nobjs);
  /* Unlocked peek: a stale answer only costs a trip to the hugepage allocator. */
  if (held(cache) == 0) return NULL;
  ta_extent_t *found = NULL;
  ta_mutex_lock(&cache->lock);
  unsigned seen = 0;
  for (ta_list_t *it = cache->slabs.next; it != &cache->slabs && seen < TAKE_SCAN; it = it->next, seen++) {
    ta_extent_t *slab = ta_list_entry(it, ta_extent_t, link);
    if (slab->npages == shape.pages && slab->meta_size >= meta_need) {
      found = slab;
      break;
    }
  }
  if (found) {
    ta_list_remove(&found->link);
    add_bytes(cache, 0, slab_bytes(found));
    cache->hits++;
    cache->window_hits++;
  } else {
    /* Demand moved to slabs of another shape (objects growing through the classes, as by
     * realloc): the oldest entries go back now, at least as many pages as the caller is about to
     * ask the page allocator for, so it can reuse them instead of touching fresh memory. */
    cache->misses++;
    size_t want = (size_t)shape.pages << ta_hpa_geometry.page_shift, freed = 0;
    while (freed < want && !ta_list_is_empty(&cache->slabs)) {
      ta_extent_t *oldest = ta_list_entry(cache->slabs.prev, ta_extent_t, link);
      freed += slab_bytes(oldest);
      give_back(cache, hpa, oldest);
    }
  }
  if (++cache->window_takes == WINDOW) {
    cache->limit = cache->window_hits * 2 >= WINDOW ? cache->max_bytes : cache->max_bytes / COLD_SHARE;
    cache->window_hits = cache->window_takes = 0;
    while (held(cache) > cache->limit)
      give_back(cache, hpa, ta_list_entry(cache->slabs.prev, ta_extent_t, link));
  }
  ta_mutex_unlock(&cache->lock);
  if (!found) return NULL;
  bool retag = found->size_class != cls || found->vacant;
  ta_slab_reset(found, cls, shape);
  if (retag) {
    /* Retag the pagemap's entries with the new class, and drop vacant tags (their leaves exist,
     * so this cannot fail): free's fast path reads the class there. No object of the slab is
     * live, and none is handed out before the caller's bin lock is released. */
    ta_pagemap_set(found->addr, slab_bytes(found), found);
  }
  found->arena = (uint16_t)arena;
  found->usable = 0;
  return found;
}

size_t ta_slab_cache_trim(ta_slab_cache_t *cache, ta_hpa_t *hpa, uint64_t older_than, bool force) {
  if (held(cache) == 0) return 0;
  size_t n = 0;
  ta_mutex_lock(&cache->lock);
  while (!ta_list_is_empty(&cache->slabs)) {
    ta_extent_t *oldest = ta_list_entry(cache->slabs.prev, ta_extent_t, link);
    if (!force && oldest->usable > older_than) break;
    give_back(cache, hpa, oldest);
    n++;
  }
  ta_mutex_unlock(&cache->lock);
  return n;
}

void ta_slab_cache_check(ta_slab_cache_t *cache) {
  ta_mutex_lock(&cache->lock);
  size_t bytes = 0;
  uint64_t newer = UINT64_MAX;
  for (ta_list_t *it = cache->slabs.next; it != &cache->slabs; it = it->next) {
    ta_extent_t *slab = ta_list_entry(it, ta_extent_t, link);
    if (slab->kind != TA_EXTENT_SLAB || slab->nfree != slab->nobjs)
      ta_log_fatal("slab cache: slab %p is not an empty slab", slab->addr);
    if (slab->usable > newer) ta_log_fatal("slab cache: entries out of order at %p", slab->addr);
    newer = slab->usable;
    bytes += slab_bytes(slab);
  }
  if (bytes != held(cache) || bytes > cache->limit || cache->limit > cache->max_bytes)
    ta_log_fatal("slab cache: holds %zu bytes, counted %zu, bound %zu", bytes, held(cache),
                 cache->max_bytes);
  ta_mutex_unlock(&cache->lock);
}
