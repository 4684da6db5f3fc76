/* large.c: large extents (see large.h). The pagemap records only an extent's first quantum, so
 * free() of an interior pointer finds nothing and is reported as invalid.
 *
 * Under the hotness policy every large extent is also on its heap's tracking list, so the
 * background migrate_step can find it. The protocol that keeps the migrating thread from ever
 * making an allocating thread wait on a migration: the migrating thread pins an extent under
 * the list's lock and works on it with no lock held; a free of a pinned extent only marks it
 * FREED (its pages stay allocated, so nothing reuses or purges them mid-move) and the
 * migrating thread completes the free when it unpins; a resize of a pinned extent fails, and
 * realloc moves the block instead. */
#include "large.h"

#include <string.h>

#include "meta.h"
#include "pagemap.h"

#define QUANTUM ((size_t)1 << TA_PAGEMAP_QUANTUM_SHIFT)

bool ta_large_tracking;
bool ta_large_keep_base;

void *ta_large_alloc(ta_hpa_t *hpa, size_t size, size_t align, bool zero, unsigned node) {
  const ta_hpa_geometry_t *g = &ta_hpa_geometry;
  if (size > SIZE_MAX / 2 || align > SIZE_MAX / 4) return NULL;
  size_t npages = ta_large_pages(size);
  size_t align_pages = align > g->page_size ? align >> g->page_shift : 1;
  if (npages > UINT32_MAX) return NULL;
  ta_extent_t *ext = ta_meta_alloc(sizeof(ta_extent_t));
  if (!ext) return NULL;
  bool zeroed;
  void *p = ta_hpa_alloc(hpa, npages, align_pages, &zeroed);
  if (!p) {
    ta_meta_free(ext, sizeof(ta_extent_t));
    return NULL;
  }
  ext->kind = TA_EXTENT_LARGE;
  ext->node = (uint16_t)node;
  ext->npages = (uint32_t)npages;
  ext->meta_size = sizeof(ta_extent_t);
  ext->addr = p;
  ext->usable = npages << g->page_shift;
  if (ta_pagemap_set(p, QUANTUM, ext) != 0) {
    ta_hpa_free(hpa, p, npages);
    ta_meta_free(ext, sizeof(ta_extent_t));
    return NULL;
  }
  if (zero && !zeroed) memset(p, 0, ext->usable);
  ext->tier = (uint16_t)node;
  ext->strayed = false;
  /* Only pages not resident yet (zeroed: none of them was handed out and freed since it was
   * last purged) can be kept off hugepages; the caller touches them first after this. */
  ext->split = ta_large_keep_base && zeroed && ta_hpa_keep_base(hpa, p, npages);
  if (ta_large_tracking) {
    ta_hotness_init(&ext->heat, ta_os_now_ns(), TA_HOTNESS_HINT_NONE, false);
    ta_mutex_lock(&hpa->track_lock);
    ta_list_push_back(&hpa->tracked, &ext->link);
    ext->tracked = true;
    hpa->ntracked++;
    ta_mutex_unlock(&hpa->track_lock);
  }
  return p;
}

/* Whether some of the extent's pages may be on another node than its heap's. */
static bool away(const ta_extent_t *ext) { return ext->tier != ext->node || ext->strayed; }

/* The last step of a free. Pages that migrated off the heap's node are purged before they go
 * back: the region's policy (bound once, never per extent) then puts a refault on the heap's
 * own node, instead of a new block inheriting pages on another tier. */
static void release(ta_hpa_t *hpa, ta_extent_t *ext) {
  if (away(ext)) ta_os_purge(ext->addr, (size_t)ext->npages << ta_hpa_geometry.page_shift);
  ta_hpa_free(hpa, ext->addr, ext->npages);
  ta_meta_free(ext, sizeof(ta_extent_t));
}

void ta_large_free(ta_hpa_t *hpa, ta_extent_t *ext) {
  ta_pagemap_set(ext->addr, QUANTUM, NULL);
  if (ext->tracked) {
    ta_mutex_lock(&hpa->track_lock);
    if (ext->migrating == TA_EXTENT_PINNED) {
      ext->migrating = TA_EXTENT_FREED; /* the migrating thread finishes it */
      ta_mutex_unlock(&hpa->track_lock);
      return;
    }
    ta_list_remove(&ext->link);
    ext->tracked = false;
    hpa->ntracked--;
    ta_mutex_unlock(&hpa->track_lock);
  }
  release(hpa, ext);
}

void ta_large_set_hint(ta_hpa_t *hpa, ta_extent_t *ext, unsigned hint) {
  if (!ext->tracked) return;
  ta_mutex_lock(&hpa->track_lock);
  ext->hint = (uint8_t)hint;
  ta_mutex_unlock(&hpa->track_lock);
}

size_t ta_large_pin(ta_hpa_t *hpa, ta_extent_t **out, size_t max, const bool *far_node, uint64_t *local_bytes) {
  size_t n = 0;
  ta_mutex_lock(&hpa->track_lock);
  /* Every tracked extent counts toward the local bytes; the first `max` idle ones are pinned
   * and rotated to the back, so successive calls visit the whole list. */
  size_t left = hpa->ntracked;
  for (ta_list_t *l = hpa->tracked.next; l != &hpa->tracked && left; left--) {
    ta_extent_t *ext = ta_list_entry(l, ta_extent_t, link);
    l = l->next;
    if (ext->migrating == TA_EXTENT_FREED) continue;
    if (!far_node[ext->tier]) *local_bytes += ext->usable;
    if (n < max && ext->migrating == TA_EXTENT_IDLE) {
      ext->migrating = TA_EXTENT_PINNED;
      ext->heat.hint = ext->hint;
      out[n++] = ext;
      ta_list_remove(&ext->link);
      ta_list_push_back(&hpa->tracked, &ext->link);
    }
  }
  ta_mutex_unlock(&hpa->track_lock);
  return n;
}

void ta_large_unpin(ta_hpa_t *hpa, ta_extent_t *ext) {
  ta_mutex_lock(&hpa->track_lock);
  bool freed = ext->migrating == TA_EXTENT_FREED;
  ext->migrating = TA_EXTENT_IDLE;
  if (freed) {
    ta_list_remove(&ext->link);
    ext->tracked = false;
    hpa->ntracked--;
  }
  ta_mutex_unlock(&hpa->track_lock);
  if (freed) release(hpa, ext);
}

void ta_large_prefork(ta_hpa_t *hpa) { ta_mutex_lock(&hpa->track_lock); }
void ta_large_postfork_parent(ta_hpa_t *hpa) { ta_mutex_unlock(&hpa->track_lock); }

void ta_large_postfork_child(ta_hpa_t *hpa) {
  ta_mutex_postfork_child(&hpa->track_lock);
  /* The migrating thread does not exist here: its pins are dropped, and frees it was to
   * finish are finished now. */
  for (ta_list_t *l = hpa->tracked.next; l != &hpa->tracked;) {
    ta_extent_t *ext = ta_list_entry(l, ta_extent_t, link);
    l = l->next;
    if (ext->migrating != TA_EXTENT_IDLE) ta_large_unpin(hpa, ext);
  }
}

bool ta_large_resize_in_place(ta_hpa_t *hpa, ta_extent_t *ext, size_t size) {
  const ta_hpa_geometry_t *g = &ta_hpa_geometry;
  size_t npages = ta_large_pages(size);
  if (npages == ext->npages) return true;
  /* A tracked extent changes size under its list's lock, so it is never resized while pinned. */
  if (ext->tracked) {
    ta_mutex_lock(&hpa->track_lock);
    if (ext->migrating != TA_EXTENT_IDLE) {
      ta_mutex_unlock(&hpa->track_lock);
      return false;
    }
  }
  bool ok = true;
  if (npages < ext->npages) {
    void *tail = (char *)ext->addr + (npages << g->page_shift);
    if (away(ext)) ta_os_purge(tail, (ext->npages - npages) << g->page_shift); /* as release() */
    ta_hpa_free(hpa, tail, ext->npages - npages);
  } else {
    bool zeroed;
    ok = ta_hpa_try_grow(hpa, ext->addr, ext->npages, npages - ext->npages, &zeroed);
  }
  if (ok) {
    ext->npages = (uint32_t)npages;
    ext->usable = npages << g->page_shift;
    ext->armed = false; /* other pages will be sampled */
    ext->split = false; /* new pages may share a hugepage */
  }
  if (ext->tracked) ta_mutex_unlock(&hpa->track_lock);
  return ok;
}
