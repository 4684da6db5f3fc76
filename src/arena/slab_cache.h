/* slab_cache.h: an arena's cache of recently emptied slabs.
 *
 * A batch of frees of large objects (a few per slab) empties slabs one after another, and the
 * next batch of mallocs needs them again. Without this cache every such slab went back to the
 * hugepage allocator and came out again: page bitmaps, filler buckets, pagemap entries and a
 * metadata record each way (about 3/4 of the time of a batch of 8 KiB objects). The cache keeps
 * emptied slabs whole — pages, extent record and pagemap entries — for reuse by any class of the
 * same arena whose slab has the same page count, so a bin that drains and refills costs a
 * list operation. It is per arena, not per thread: the bound (`slab_cache_kb`) counts once per
 * arena, and a thread that frees what another allocated feeds the same cache.
 *
 * Cached pages stay resident, as dirty pages in the hugepage allocator would until decay purges
 * them; the cache returns its slabs to the hugepage allocator once they have sat unused since
 * before the trim time (a quarter of dirty_decay_ms, as a bin's spare slab), and the oldest
 * first whenever it is over its bound. Where takes mostly miss (slabs empty out in one shape and
 * are wanted in another) it shrinks to an eighth of its bound until reuse comes back, so a cache
 * that does not pay holds little. Lock order: a bin lock may be held when the cache's lock is
 * taken; the cache takes the hugepage allocator's lock under its own (bin < slab_cache < hpa). */
#ifndef TA_SLAB_CACHE_H
#define TA_SLAB_CACHE_H

#include "slab.h"

TA_EXTERN_C_BEGIN

typedef struct ta_slab_cache {
  ta_mutex_t lock;
  ta_list_t slabs;     /* empty slabs, the most recently emptied first */
  ta_atomic(size_t) bytes; /* pages held, in bytes; written under the lock, peeked without */
  size_t max_bytes;    /* 0: the cache is off, slabs go straight back */
  size_t limit;        /* max_bytes, or a fraction of it while takes mostly miss */
  uint32_t window_hits, window_takes;
  uint64_t hits, misses, returned; /* takes served, takes not served, slabs given back */
} ta_slab_cache_t;

void ta_slab_cache_init(ta_slab_cache_t *cache, size_t max_bytes);

/* Keeps `slab` (every object free, on no bin list) for reuse, or returns it to `hpa` when it does
 * not fit; then gives back the oldest slabs while the cache is over its bound. */
void ta_slab_cache_put(ta_slab_cache_t *cache, ta_hpa_t *hpa, ta_extent_t *slab);

/* An empty slab of the shape's page count, set up for class `cls` in that shape and for the
 * arena, with every object free; NULL when the cache has none among its most recent entries. A miss first returns
 * the oldest entries to `hpa`, at least a slab's worth of pages, so the caller's request to the
 * page allocator can reuse them: a cache that no longer matches demand drains. */
ta_extent_t *ta_slab_cache_take(ta_slab_cache_t *cache, ta_hpa_t *hpa, unsigned cls, ta_slab_shape_t shape,
                                unsigned arena);

/* Returns to `hpa` every slab emptied before `older_than` (ns); with force, every slab. Returns
 * how many. */
size_t ta_slab_cache_trim(ta_slab_cache_t *cache, ta_hpa_t *hpa, uint64_t older_than, bool force);

/* Aborts with a message unless every entry is an empty slab, newest first, and the byte count
 * agrees and is within the bound. */
void ta_slab_cache_check(ta_slab_cache_t *cache);

TA_EXTERN_C_END

#endif
