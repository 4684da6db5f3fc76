/* transfer_cache.h: an arena's cache of free objects between the thread caches and the bins.
 *
 * A thread cache that overflows hands the older half of a class's stack to its arena's
 * transfer cache as one copy under one short lock, and a refill takes a batch back
 * the same way, so a batch one thread frees and another (or the same) allocates again never
 * touches a slab's free map, its bin's lists or the slab cache. One lock per arena, not per
 * class: the byte bound is then a plain counter under it (a lock per class cost a third atomic
 * operation per batch for a shared counter), and arenas are per CPU, so few threads share it. Without it, batches of 64
 * objects of 320 B-32 KiB cost 6-37 ns per operation, most of it the bin lock, the free maps and
 * slabs emptying into the slab cache and coming out again.
 *
 * Ownership: a transfer cache holds only objects whose slab belongs to its own arena (so
 * they are on its node), each with its free mark (tcache.h); a thread of another arena that
 * frees them pushes them here (ta_arena_release). They stay "taken" in their slabs'
 * free maps and counted live in their bins, as objects of a thread cache are: a slab with an
 * object here is not empty and its pages count as in use. Anything that asks whether an object
 * is free must ask here too (ta_transfer_cache_holds).
 *
 * Bounds: per class, at most `max_objects` objects (conf transfer_cache_objects); per arena,
 * at most `max_bytes` bytes of objects over all classes (conf transfer_cache_kb). A push that
 * would pass the byte bound first drains the classes used longest ago back to their bins; what
 * still does not fit goes to the bins by the caller. A class not pushed to nor popped from
 * since before the trim time (a quarter of dirty_decay_ms, as spare slabs and the slab cache)
 * is drained by the purge step, so an idle process gives its slabs back.
 *
 * Lock order: the lock is taken while holding nothing else and nothing is taken under it
 * (objects leave by copy, then go to their bins after the unlock): init < transfer < bin. */
#ifndef TA_TRANSFER_CACHE_H
#define TA_TRANSFER_CACHE_H

#include "size_class.h"

TA_EXTERN_C_BEGIN

typedef struct ta_transfer_class {
  void **slots;                 /* slots[0..count): objects, the most recently pushed on top */
  ta_atomic(uint32_t) count;    /* written under the lock, peeked without (pop, eviction, stats) */
  uint32_t cap;                 /* 0: this class bypasses the cache */
  ta_atomic(uint64_t) last_used; /* ta_arena_clock at the last push or pop */
} ta_transfer_class_t;

typedef struct ta_transfer_cache {
  ta_mutex_t lock;              /* one per arena: a hold is a copy of at most 64 pointers */
  ta_transfer_class_t classes[TA_NCLASSES];
  ta_atomic(size_t) bytes;      /* bytes of objects held, all classes; written under the lock */
  size_t max_bytes;
} ta_transfer_cache_t;

/* Sets the bounds and takes the slot arrays from metadata. max_bytes or max_objects 0 turn the
 * cache off (every push returns 0). Returns 0 or ENOMEM. */
int ta_transfer_cache_init(ta_transfer_cache_t *xc, size_t max_bytes, unsigned max_objects);

/* Takes ptrs[0..k) for the largest k the bounds allow (after draining idle classes to make
 * room) and returns k; the caller returns ptrs[k..n) to their bins. pre: every object is free,
 * holds its free mark, is of class cls and its slab belongs to this cache's arena. */
unsigned ta_transfer_cache_push(ta_transfer_cache_t *xc, unsigned cls, void *const *ptrs, unsigned n);

/* Takes up to n objects of class cls (the most recently pushed) into out[]; returns how many. */
unsigned ta_transfer_cache_pop(ta_transfer_cache_t *xc, unsigned cls, void **out, unsigned n);

/* Whether p is held here (a scan under the lock, for free's slow path). */
bool ta_transfer_cache_holds(ta_transfer_cache_t *xc, unsigned cls, const void *p);

/* Returns every class's objects to the bins when the class was last used before `older_than`
 * (ns, ta_arena_clock's scale); with force, every class. Returns the objects returned. */
size_t ta_transfer_cache_trim(ta_transfer_cache_t *xc, uint64_t older_than, bool force);

/* Objects of class cls held now (a racy peek, for statistics and tests). */
TA_INLINE uint32_t ta_transfer_cache_count(ta_transfer_cache_t *xc, unsigned cls) {
  return ta_atomic_load(&xc->classes[cls].count, ta_mo_relaxed);
}

/* Aborts with a message unless every class is within its bound and the byte count agrees with
 * the classes' counts and the arena's bound. Takes the lock. */
void ta_transfer_cache_check(ta_transfer_cache_t *xc);

void ta_transfer_cache_prefork(ta_transfer_cache_t *xc);
void ta_transfer_cache_postfork_parent(ta_transfer_cache_t *xc);
void ta_transfer_cache_postfork_child(ta_transfer_cache_t *xc);

TA_EXTERN_C_END

#endif
