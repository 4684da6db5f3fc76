/* slab.c: slab creation, deletion and the free map (see slab.h). */
#include "slab.h"

#include <errno.h>

ta_extent_t *ta_slab_new(ta_hpa_t *hpa, unsigned cls, unsigned arena, unsigned node) {
  const ta_class_info_t *ci = &ta_class_info[cls];
  size_t meta_size = sizeof(ta_extent_t) + TA_BITMAP_WORDS(ci->nobjs) * sizeof(uint64_t);
  ta_extent_t *slab = ta_meta_alloc(meta_size);
  if (!slab) return NULL;
  bool zeroed;
  void *p = ta_hpa_alloc(hpa, ci->slab_pages, 1, &zeroed);
  if (!p) {
    ta_meta_free(slab, meta_size);
    return NULL;
  }
  slab->kind = TA_EXTENT_SLAB;
  slab->size_class = (uint8_t)cls;
  slab->node = (uint16_t)node;
  slab->arena = (uint16_t)arena;
  slab->npages = ci->slab_pages;
  slab->meta_size = (uint32_t)meta_size;
  slab->addr = p;
  slab->nobjs = ci->nobjs;
  slab->nfree = ci->nobjs;
  ta_bitmap_set_range(slab->freemap, 0, ci->nobjs);
  if (ta_pagemap_set(p, (size_t)ci->slab_pages << ta_hpa_geometry.page_shift, slab) != 0) {
    ta_hpa_free(hpa, p, ci->slab_pages);
    ta_meta_free(slab, meta_size);
    return NULL;
  }
  return slab;
}

void ta_slab_delete(ta_hpa_t *hpa, ta_extent_t *slab) {
  ta_pagemap_set(slab->addr, (size_t)slab->npages << ta_hpa_geometry.page_shift, NULL);
  ta_hpa_free(hpa, slab->addr, slab->npages);
  ta_meta_free(slab, slab->meta_size);
}

unsigned ta_slab_take(ta_extent_t *slab, void **out, unsigned n) {
  size_t size = ta_class_info[slab->size_class].size;
  unsigned got = 0;
  size_t words = TA_BITMAP_WORDS(slab->nobjs);
  for (size_t w = 0; w < words && got < n; w++) {
    uint64_t bits = slab->freemap[w];
    while (bits && got < n) {
      unsigned b = (unsigned)__builtin_ctzll(bits);
      bits &= bits - 1;
      out[got++] = (char *)slab->addr + ((w << 6) + b) * size;
    }
    slab->freemap[w] = bits; /* what is left after clearing the objects taken */
  }
  slab->nfree -= got;
  return got;
}

int ta_slab_put(ta_extent_t *slab, void *p) {
  uint32_t idx = ta_slab_index(slab, p);
  if (idx == UINT32_MAX) return EINVAL;
  if (ta_bitmap_get(slab->freemap, idx)) return EALREADY;
  ta_bitmap_set(slab->freemap, idx);
  slab->nfree++;
  return 0;
}
