/* transfer_cache.c: the per-arena, per-class stacks of free objects between thread caches and
 * bins (see transfer_cache.h). */
#include "transfer_cache.h"

#include <errno.h>
#include <string.h>

#include "arena.h"

/* Objects copied out per lock hold while draining, so a drain never holds the lock for long
 * against the threads pushing and popping. */
#define DRAIN_CHUNK 64

/* pre: the caller holds xc->lock (the one writer); readers without it only peek. */
static inline void add_bytes(ta_transfer_cache_t *xc, ptrdiff_t delta) {
  ta_atomic_store(&xc->bytes, ta_atomic_load(&xc->bytes, ta_mo_relaxed) + (size_t)delta, ta_mo_relaxed);
}

int ta_transfer_cache_init(ta_transfer_cache_t *xc, size_t max_bytes, unsigned max_objects) {
  xc->max_bytes = max_objects ? max_bytes : 0;
  ta_atomic_store(&xc->bytes, 0, ta_mo_relaxed);
  size_t nslots = 0;
  uint32_t cap[TA_NCLASSES];
  for (unsigned c = 0; c < TA_NCLASSES; c++) {
    /* No class may take more than the whole arena's bound. */
    size_t fit = xc->max_bytes / ta_class_info[c].size;
    cap[c] = (uint32_t)(fit < max_objects ? fit : max_objects);
    nslots += cap[c];
  }
  void **slots = nslots ? ta_meta_alloc(nslots * sizeof(void *)) : NULL;
  if (nslots && !slots) return ENOMEM;
  ta_mutex_init(&xc->lock, TA_LOCK_RANK_TRANSFER);
  for (unsigned c = 0; c < TA_NCLASSES; c++) {
    ta_transfer_class_t *tc = &xc->classes[c];
    tc->slots = slots;
    tc->cap = cap[c];
    ta_atomic_store(&tc->count, 0, ta_mo_relaxed);
    ta_atomic_store(&tc->last_used, 0, ta_mo_relaxed);
    slots += cap[c];
  }
  return 0;
}

/* Returns every object of class cls to its bin, DRAIN_CHUNK at a time from the top. Bounded by
 * what the class held when the drain began, so concurrent pushes cannot keep it going. */
static size_t drain_class(ta_transfer_cache_t *xc, unsigned cls) {
  ta_transfer_class_t *c = &xc->classes[cls];
  size_t size = ta_class_info[cls].size, done = 0;
  uint32_t todo = ta_atomic_load(&c->count, ta_mo_relaxed);
  void *buf[DRAIN_CHUNK];
  while (done < todo) {
    ta_mutex_lock(&xc->lock);
    uint32_t count = ta_atomic_load(&c->count, ta_mo_relaxed);
    uint32_t k = count < DRAIN_CHUNK ? count : DRAIN_CHUNK;
    memcpy(buf, c->slots + count - k, k * sizeof(void *));
    ta_atomic_store(&c->count, count - k, ta_mo_relaxed);
    add_bytes(xc, -(ptrdiff_t)(k * size));
    ta_mutex_unlock(&xc->lock);
    if (k == 0) break;
    ta_arena_flush(cls, buf, k);
    done += k;
  }
  return done;
}

/* Makes room for `need` bytes: drains the classes other than `except` that were used longest
 * ago, whole, until the bytes held fit or nothing else is held. */
static void evict(ta_transfer_cache_t *xc, unsigned except, size_t need) {
  for (unsigned round = 0; round < TA_NCLASSES; round++) {
    if (ta_atomic_load(&xc->bytes, ta_mo_relaxed) + need <= xc->max_bytes) return;
    unsigned victim = TA_NCLASSES;
    uint64_t oldest = UINT64_MAX;
    for (unsigned c = 0; c < TA_NCLASSES; c++) {
      if (c == except || ta_atomic_load(&xc->classes[c].count, ta_mo_relaxed) == 0) continue;
      uint64_t t = ta_atomic_load(&xc->classes[c].last_used, ta_mo_relaxed);
      if (t < oldest) {
        oldest = t;
        victim = c;
      }
    }
    if (victim == TA_NCLASSES) return;
    drain_class(xc, victim);
  }
}

unsigned ta_transfer_cache_push(ta_transfer_cache_t *xc, unsigned cls, void *const *ptrs, unsigned n) {
  ta_transfer_class_t *c = &xc->classes[cls];
  if (c->cap == 0 || n == 0) return 0;
  size_t size = ta_class_info[cls].size;
  size_t want = (size_t)n * size;
  if (ta_atomic_load(&xc->bytes, ta_mo_relaxed) + want > xc->max_bytes) evict(xc, cls, want);
  ta_mutex_lock(&xc->lock);
  uint32_t count = ta_atomic_load(&c->count, ta_mo_relaxed);
  uint32_t k = c->cap - count < n ? c->cap - count : n;
  size_t held = ta_atomic_load(&xc->bytes, ta_mo_relaxed);
  size_t room = held >= xc->max_bytes ? 0 : (xc->max_bytes - held) / size;
  if (room < k) k = (uint32_t)room;
  if (k) {
    add_bytes(xc, (ptrdiff_t)(k * size));
    memcpy(c->slots + count, ptrs, k * sizeof(void *));
    ta_atomic_store(&c->count, count + k, ta_mo_relaxed);
  }
  ta_atomic_store(&c->last_used, ta_atomic_load(&ta_arena_clock, ta_mo_relaxed), ta_mo_relaxed);
  ta_mutex_unlock(&xc->lock);
  return k;
}

unsigned ta_transfer_cache_pop(ta_transfer_cache_t *xc, unsigned cls, void **out, unsigned n) {
  ta_transfer_class_t *c = &xc->classes[cls];
  /* Unlocked peek: a miss costs no lock (a push racing with it is seen next time). */
  if (ta_atomic_load(&c->count, ta_mo_relaxed) == 0) return 0;
  ta_mutex_lock(&xc->lock);
  uint32_t count = ta_atomic_load(&c->count, ta_mo_relaxed);
  uint32_t k = count < n ? count : n;
  memcpy(out, c->slots + count - k, k * sizeof(void *));
  ta_atomic_store(&c->count, count - k, ta_mo_relaxed);
  add_bytes(xc, -(ptrdiff_t)(k * ta_class_info[cls].size));
  ta_atomic_store(&c->last_used, ta_atomic_load(&ta_arena_clock, ta_mo_relaxed), ta_mo_relaxed);
  ta_mutex_unlock(&xc->lock);
  return k;
}

bool ta_transfer_cache_holds(ta_transfer_cache_t *xc, unsigned cls, const void *p) {
  ta_transfer_class_t *c = &xc->classes[cls];
  bool found = false;
  ta_mutex_lock(&xc->lock);
  uint32_t count = ta_atomic_load(&c->count, ta_mo_relaxed);
  for (uint32_t i = 0; i < count && !found; i++) found = c->slots[i] == p;
  ta_mutex_unlock(&xc->lock);
  return found;
}

size_t ta_transfer_cache_trim(ta_transfer_cache_t *xc, uint64_t older_than, bool force) {
  size_t n = 0;
  for (unsigned c = 0; c < TA_NCLASSES; c++) {
    ta_transfer_class_t *tc = &xc->classes[c];
    if (ta_atomic_load(&tc->count, ta_mo_relaxed) == 0) continue;
    if (force || ta_atomic_load(&tc->last_used, ta_mo_relaxed) <= older_than) n += drain_class(xc, c);
  }
  return n;
}

void ta_transfer_cache_check(ta_transfer_cache_t *xc) {
  size_t bytes = 0;
  ta_mutex_lock(&xc->lock);
  for (unsigned c = 0; c < TA_NCLASSES; c++) {
    ta_transfer_class_t *tc = &xc->classes[c];
    uint32_t count = ta_atomic_load(&tc->count, ta_mo_relaxed);
    if (count > tc->cap)
      ta_log_fatal("transfer cache: class %u holds %u objects, bound %u", c, count, tc->cap);
    bytes += (size_t)count * ta_class_info[c].size;
  }
  size_t held = ta_atomic_load(&xc->bytes, ta_mo_relaxed);
  ta_mutex_unlock(&xc->lock);
  if (bytes != held || held > xc->max_bytes)
    ta_log_fatal("transfer cache: %zu bytes held, %zu counted, bound %zu", held, bytes, xc->max_bytes);
}

void ta_transfer_cache_prefork(ta_transfer_cache_t *xc) { ta_mutex_lock(&xc->lock); }
void ta_transfer_cache_postfork_parent(ta_transfer_cache_t *xc) { ta_mutex_unlock(&xc->lock); }

void ta_transfer_cache_postfork_child(ta_transfer_cache_t *xc) {
  /* The objects stay: they are free objects of this process's heap, as valid in the child. */
  ta_mutex_postfork_child(&xc->lock);
}
