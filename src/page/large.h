/* large.h: allocations above the largest size class, each its own page-granular extent from
 * the hugepage allocator. Usable size is the request rounded up to the page, no more. */
#ifndef TA_LARGE_H
#define TA_LARGE_H

#include <stdbool.h>
#include <stddef.h>

#include "extent.h"
#include "hpa.h"

TA_EXTERN_C_BEGIN

/* Base pages a large block of `size` bytes takes: its usable size is that many pages. */
TA_INLINE size_t ta_large_pages(size_t size) {
  return (size + ta_hpa_geometry.page_size - 1) >> ta_hpa_geometry.page_shift;
}

/* pre: align is a power of two. NULL when out of memory (errno not set here). */
void *ta_large_alloc(ta_hpa_t *hpa, size_t size, size_t align, bool zero, unsigned node);
void ta_large_free(ta_hpa_t *hpa, ta_extent_t *ext);
/* Shrinks, or grows into free pages right after it; true when ext now holds `size` bytes.
 * false also while the extent is pinned by a migration (the caller moves the block). */
bool ta_large_resize_in_place(ta_hpa_t *hpa, ta_extent_t *ext, size_t size);

/* ---- tracking for the hotness policy (see large.c for the pin protocol) ---- */

/* Set once at start-up when the hotness policy runs: from then on every large extent is put
 * on its heap's tracking list. */
extern bool ta_large_tracking;
/* Set by the hotness policy when it will rank blocks (a tier_local_mb budget and an access
 * signal): a new tracked block is kept in base pages where it can be (ta_hpa_keep_base), and
 * is then marked split already. */
extern bool ta_large_keep_base;
/* Records the allocation call's hot/cold hint (TA_HOTNESS_HINT_*) for a tracked extent. */
void ta_large_set_hint(ta_hpa_t *hpa, ta_extent_t *ext, unsigned hint);
/* Pins up to `max` idle tracked extents of hpa into out[] (rotating them to the back of the
 * list) and adds to *local_bytes the usable bytes of every tracked extent whose tier is not a
 * far node (far_node indexed by heap id). Returns how many were pinned. A pinned extent's
 * `heat` and `tier` belong to the caller until ta_large_unpin. */
size_t ta_large_pin(ta_hpa_t *hpa, ta_extent_t **out, size_t max, const bool *far_node, uint64_t *local_bytes);
/* Ends a pin; finishes the free of an extent freed meanwhile (ext is gone afterwards then). */
void ta_large_unpin(ta_hpa_t *hpa, ta_extent_t *ext);

/* Fork: the tracking lock (rank LARGE) of every hpa, before any hpa lock. */
void ta_large_prefork(ta_hpa_t *hpa);
void ta_large_postfork_parent(ta_hpa_t *hpa);
void ta_large_postfork_child(ta_hpa_t *hpa);

TA_EXTERN_C_END

#endif
