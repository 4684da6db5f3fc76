/* large_cache.h: an arena's cache of recently freed large blocks.
 *
 * A program that frees a large block and soon asks for one of about the same size (a query's
 * sort or hash buffer, an I/O or compression buffer, a realloc that moves) would otherwise send
 * each block back to the hugepage allocator and take it out again: a metadata record, page
 * bitmaps, filler buckets, a dirty-page stamp and a pagemap entry each way, four locks per
 * malloc/free pair (about 300 ns for 256 KiB blocks, where glibc reuses the top of its heap in
 * 35 and tcmalloc its thread cache in 9). The cache keeps such blocks whole, extent record and
 * pagemap entry included, for the next request of the same page count. Only the same: a large
 * block's usable size stays its request rounded up to the page (large.h), which free_sized
 * checks.
 *
 * Bounds: blocks of at most a quarter of `max_bytes` (conf large_cache_kb) are cached, at most
 * TA_LARGE_CACHE_SLOTS of them and `max_bytes` in all; the oldest go back first. Cached pages
 * stay resident, as dirty pages in the hugepage allocator would until decay purges them, and
 * go back to it when they have sat unused since before the trim time (a quarter of
 * dirty_decay_ms, as the slab cache's). Every large request the cache does not serve (a miss,
 * or a kind it never serves) first gives the oldest blocks back to the hugepage allocator, at
 * least as many pages as it asks for, so it can take their pages: a large request does not
 * grow the heap while cached blocks hold pages it could use (the first version gave back one
 * block per miss, and `large`, a workload of random sizes, peaked a third higher: cached blocks
 * sat between the free runs its larger blocks needed), and a cache whose sizes no longer match
 * demand drains. New slabs do not evict; the bound and the trim keep what they may not reuse
 * small.
 * Never served from the cache: calloc's requests (the block must read zero) and alignments
 * above the page. Never kept: blocks tracked by the hotness policy and blocks with pages off
 * their node (large.c purges those on free).
 *
 * A cached block keeps its pagemap entry and is marked `cached` in its record, so a second
 * free of it is reported as a double free (malloc.c), as it is for a block the hugepage
 * allocator took back (no entry). The cache only holds blocks: the calls below hand the ones
 * that leave it (`out`) to the caller, which gives them back after the cache's lock is
 * released (arena.c); the lock is taken with no other lock held and nothing is taken under it.
 *
 * Counting: a block in the cache still counts as live in its node heap's large_live_bytes;
 * the statistics subtract `bytes` and add `puts` and `hits` to the frees and allocations, so a
 * malloc/free pair served here costs no atomic operation on a shared counter (the two
 * fetch-adds each way were a third of the time of such a pair). */
#ifndef TA_LARGE_CACHE_H
#define TA_LARGE_CACHE_H

#include "extent.h"
#include "lock.h"

TA_EXTERN_C_BEGIN

#define TA_LARGE_CACHE_SLOTS 16

typedef struct ta_large_cache {
  ta_mutex_t lock;
  /* slot[0..n): the oldest first; stamp[i] is the arenas' clock when slot[i] came in */
  ta_extent_t *slot[TA_LARGE_CACHE_SLOTS];
  uint64_t stamp[TA_LARGE_CACHE_SLOTS];
  unsigned n;
  /* Written under the lock, read without (a peek, the statistics). */
  ta_atomic(size_t) bytes;  /* usable bytes held */
  ta_atomic(uint64_t) puts; /* blocks freed into the cache (cumulative) */
  ta_atomic(uint64_t) hits; /* takes served (cumulative) */
  size_t max_bytes;         /* 0: off */
  size_t max_block;         /* the largest block cached: max_bytes / 4 */
} ta_large_cache_t;

void ta_large_cache_init(ta_large_cache_t *cache, size_t max_bytes);

/* Whether a freed block may be kept (its size, and the kinds listed above). */
bool ta_large_cache_fits(const ta_large_cache_t *cache, const ta_extent_t *ext);

/* Keeps `ext` (a live large block being freed, ta_large_cache_fits) stamped `now`; the oldest
 * blocks leave while over the bounds, into out[] (TA_LARGE_CACHE_SLOTS room). Returns how
 * many left. */
unsigned ta_large_cache_put(ta_large_cache_t *cache, ta_extent_t *ext, uint64_t now, ta_extent_t **out);

/* A cached block of `npages` pages, now live again; NULL when there is none. */
ta_extent_t *ta_large_cache_take(ta_large_cache_t *cache, size_t npages);

/* Before a large request goes to the page allocator (a miss, or a request the cache does not
 * serve): the oldest blocks leave into out[] (TA_LARGE_CACHE_SLOTS room) until at least
 * `npages` pages have, or none is left. Returns how many. */
unsigned ta_large_cache_evict(ta_large_cache_t *cache, size_t npages, ta_extent_t **out);

/* Every block cached before `older_than` (ns), with force every block, leaves into out[]
 * (TA_LARGE_CACHE_SLOTS room). Returns how many. */
unsigned ta_large_cache_trim(ta_large_cache_t *cache, uint64_t older_than, bool force, ta_extent_t **out);

TA_EXTERN_C_END

#endif
