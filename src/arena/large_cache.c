/* large_cache.c: an arena's cache of recently freed large blocks (see large_cache.h). */
#include "large_cache.h"

void ta_large_cache_init(ta_large_cache_t *cache, size_t max_bytes) {
  ta_mutex_init(&cache->lock, TA_LOCK_RANK_LARGE_CACHE);
  cache->n = 0;
  ta_atomic_store(&cache->bytes, 0, ta_mo_relaxed);
  ta_atomic_store(&cache->puts, 0, ta_mo_relaxed);
  ta_atomic_store(&cache->hits, 0, ta_mo_relaxed);
  cache->max_bytes = max_bytes;
  cache->max_block = max_bytes / 4;
}

bool ta_large_cache_fits(const ta_large_cache_t *cache, const ta_extent_t *ext) {
  return ext->usable <= cache->max_block && !ext->tracked && ext->tier == ext->node && !ext->strayed &&
         !ext->split;
}

/* Under the lock: a counter only this cache's lock holder writes. */
static void bump(ta_atomic(uint64_t) *counter) {
  ta_atomic_store(counter, ta_atomic_load(counter, ta_mo_relaxed) + 1, ta_mo_relaxed);
}

/* Under the lock: takes slot i out, keeping the others in age order. */
static ta_extent_t *remove_slot(ta_large_cache_t *cache, unsigned i) {
  ta_extent_t *ext = cache->slot[i];
  for (unsigned k = i + 1; k < cache->n; k++) {
    cache->slot[k - 1] = cache->slot[k];
    cache->stamp[k - 1] = cache->stamp[k];
  }
  cache->n--;
  ta_atomic_store(&cache->bytes, ta_atomic_load(&cache->bytes, ta_mo_relaxed) - ext->usable, ta_mo_relaxed);
  ext->cached = false;
  return ext;
}

unsigned ta_large_cache_put(ta_large_cache_t *cache, ta_extent_t *ext, uint64_t now, ta_extent_t **out) {
  unsigned nout = 0;
  ta_mutex_lock(&cache->lock);
  while (cache->n > 0 && (cache->n == TA_LARGE_CACHE_SLOTS ||
                          ta_atomic_load(&cache->bytes, ta_mo_relaxed) + ext->usable > cache->max_bytes))
    out[nout++] = remove_slot(cache, 0);
  ext->cached = true;
  cache->slot[cache->n] = ext;
  cache->stamp[cache->n++] = now;
  ta_atomic_store(&cache->bytes, ta_atomic_load(&cache->bytes, ta_mo_relaxed) + ext->usable, ta_mo_relaxed);
  bump(&cache->puts);
  ta_mutex_unlock(&cache->lock);
  return nout;
}

ta_extent_t *ta_large_cache_take(ta_large_cache_t *cache, size_t npages) {
  if (ta_atomic_load(&cache->bytes, ta_mo_relaxed) == 0) return NULL;
  ta_extent_t *got = NULL;
  ta_mutex_lock(&cache->lock);
  /* The newest first: the block freed last is the likeliest to be in the CPU's caches still. */
  for (unsigned i = cache->n; i-- > 0;) {
    if (cache->slot[i]->npages != npages) continue;
    got = remove_slot(cache, i);
    bump(&cache->hits);
    break;
  }
  ta_mutex_unlock(&cache->lock);
  return got;
}

unsigned ta_large_cache_evict(ta_large_cache_t *cache, size_t npages, ta_extent_t **out) {
  if (ta_atomic_load(&cache->bytes, ta_mo_relaxed) == 0) return 0;
  unsigned nout = 0;
  size_t freed = 0;
  ta_mutex_lock(&cache->lock);
  while (cache->n > 0 && freed < npages) {
    out[nout] = remove_slot(cache, 0);
    freed += out[nout++]->npages;
  }
  ta_mutex_unlock(&cache->lock);
  return nout;
}

unsigned ta_large_cache_trim(ta_large_cache_t *cache, uint64_t older_than, bool force, ta_extent_t **out) {
  if (ta_atomic_load(&cache->bytes, ta_mo_relaxed) == 0) return 0;
  unsigned nout = 0;
  ta_mutex_lock(&cache->lock);
  while (cache->n > 0 && (force || cache->stamp[0] < older_than)) out[nout++] = remove_slot(cache, 0);
  ta_mutex_unlock(&cache->lock);
  return nout;
}
