/* bin.c: filling from and returning to one class of one arena (see bin.h). */
#include "bin.h"

#include "arena.h"

#include <errno.h>

void ta_bin_init(ta_bin_t *bin) {
  ta_mutex_init(&bin->lock, TA_LOCK_RANK_BIN);
  ta_list_init(&bin->nonfull);
  bin->spare = NULL;
}

unsigned ta_bin_fill(ta_bin_t *bin, ta_hpa_t *hpa, unsigned cls, unsigned arena, unsigned node,
                     void **out, unsigned n) {
  unsigned got = 0;
  ta_mutex_lock(&bin->lock);
  while (got < n) {
    ta_extent_t *slab;
    if (!ta_list_is_empty(&bin->nonfull)) {
      slab = ta_list_entry(bin->nonfull.next, ta_extent_t, link);
    } else {
      if (bin->spare) {
        slab = bin->spare;
        bin->spare = NULL;
      } else {
        slab = ta_slab_cache_take(&ta_arenas[arena]->slab_cache, hpa, cls, arena);
        if (!slab) slab = ta_slab_new(hpa, cls, arena, node);
        if (!slab) break;
        bin->stats.nslabs++;
      }
      ta_list_push_front(&bin->nonfull, &slab->link);
    }
    got += ta_slab_take(slab, out + got, n - got);
    if (slab->nfree == 0) ta_list_remove(&slab->link);
  }
  bin->stats.nfills++;
  bin->stats.nmalloc += got;
  bin->stats.live += got;
  ta_mutex_unlock(&bin->lock);
  return got;
}

void ta_bin_put_locked(ta_bin_t *bin, ta_hpa_t *hpa, ta_extent_t *slab, void *p) {
  int err = ta_slab_put(slab, p);
  if (ta_unlikely(err))
    ta_log_fatal("%s of %p (size class %u, %u bytes): %s", "free", p, slab->size_class,
                 ta_class_info[slab->size_class].size,
                 err == EALREADY ? "double free" : "pointer inside an object, not its start");
  bin->stats.nfree++;
  bin->stats.live--;
  if (slab->nfree == 1 && slab->nobjs > 1) {
    ta_list_push_back(&bin->nonfull, &slab->link); /* was full */
  } else if (slab->nfree == slab->nobjs) {
    if (slab->nobjs > 1) ta_list_remove(&slab->link);
    if (!bin->spare) {
      bin->spare = slab;
      bin->spare_since = ta_atomic_load(&ta_arena_clock, ta_mo_relaxed);
    } else {
      ta_slab_cache_put(&ta_arenas[slab->arena]->slab_cache, hpa, slab);
      bin->stats.nslabs--;
    }
  }
}

void ta_bin_trim(ta_bin_t *bin, ta_hpa_t *hpa, uint64_t older_than) {
  ta_mutex_lock(&bin->lock);
  if (bin->spare && bin->spare_since <= older_than) {
    ta_slab_delete(hpa, bin->spare);
    bin->spare = NULL;
    bin->stats.nslabs--;
  }
  ta_mutex_unlock(&bin->lock);
}

bool ta_bin_is_live(ta_bin_t *bin, ta_extent_t *slab, const void *p) {
  uint32_t idx = ta_slab_index(slab, p);
  if (idx == UINT32_MAX) return false;
  ta_mutex_lock(&bin->lock);
  bool live = !ta_bitmap_get(slab->freemap, idx);
  ta_mutex_unlock(&bin->lock);
  return live;
}
