/* large.c: large extents (see large.h). The pagemap records only an extent's first quantum, so
 * free() of an interior pointer finds nothing and is reported as invalid. */
#include "large.h"

#include <string.h>

#include "meta.h"
#include "pagemap.h"

#define QUANTUM ((size_t)1 << TA_PAGEMAP_QUANTUM_SHIFT)

void *ta_large_alloc(ta_hpa_t *hpa, size_t size, size_t align, bool zero, unsigned node) {
  const ta_hpa_geometry_t *g = &ta_hpa_geometry;
  if (size > SIZE_MAX / 2 || align > SIZE_MAX / 4) return NULL;
  size_t npages = (size + g->page_size - 1) >> g->page_shift;
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
  return p;
}

void ta_large_free(ta_hpa_t *hpa, ta_extent_t *ext) {
  ta_pagemap_set(ext->addr, QUANTUM, NULL);
  ta_hpa_free(hpa, ext->addr, ext->npages);
  ta_meta_free(ext, sizeof(ta_extent_t));
}

bool ta_large_resize_in_place(ta_hpa_t *hpa, ta_extent_t *ext, size_t size) {
  const ta_hpa_geometry_t *g = &ta_hpa_geometry;
  size_t npages = (size + g->page_size - 1) >> g->page_shift;
  if (npages == ext->npages) return true;
  if (npages < ext->npages) {
    ta_hpa_free(hpa, (char *)ext->addr + (npages << g->page_shift), ext->npages - npages);
  } else {
    bool zeroed;
    if (!ta_hpa_try_grow(hpa, ext->addr, ext->npages, npages - ext->npages, &zeroed)) return false;
  }
  ext->npages = (uint32_t)npages;
  ext->usable = npages << g->page_shift;
  return true;
}
