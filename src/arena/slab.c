/* slab.c: slab creation, deletion and the free map (see slab.h). */
#include "slab.h"

#include <errno.h>

void ta_slab_reset(ta_extent_t *slab, unsigned cls, ta_slab_shape_t shape) {
  slab->size_class = (uint8_t)cls;
  slab->nobjs = (uint16_t)shape.nobjs;
  slab->nfree = (uint16_t)shape.nobjs;
  slab->start_limit = ta_size_class_start_limit(&ta_class_info[cls], shape.nobjs);
  slab->vacant = false;
  size_t words = (slab->meta_size - sizeof(ta_extent_t)) / sizeof(uint64_t);
  for (size_t w = 0; w < words; w++) slab->freemap[w] = 0;
  ta_bitmap_set_range(slab->freemap, 0, shape.nobjs);
}

ta_extent_t *ta_slab_new(ta_hpa_t *hpa, unsigned cls, ta_slab_shape_t shape, unsigned arena, unsigned node) {
  size_t meta_size = ta_slab_record_size(shape.nobjs);
  ta_extent_t *slab = ta_meta_alloc(meta_size);
  if (!slab) return NULL;
  bool zeroed;
  void *p = ta_hpa_alloc(hpa, shape.pages, 1, &zeroed);
  if (!p) {
    ta_meta_free(slab, meta_size);
    return NULL;
  }
  slab->kind = TA_EXTENT_SLAB;
  slab->node = (uint16_t)node;
  slab->arena = (uint16_t)arena;
  slab->npages = shape.pages;
  slab->meta_size = (uint32_t)meta_size;
  slab->addr = p;
  slab->npurged = 0;
  slab->nshed = 0;
  slab->shed = 0;
  ta_slab_reset(slab, cls, shape);
  if (ta_pagemap_set(p, (size_t)shape.pages << ta_hpa_geometry.page_shift, slab) != 0) {
    ta_hpa_free(hpa, p, shape.pages);
    ta_meta_free(slab, meta_size);
    return NULL;
  }
  return slab;
}

void ta_slab_delete(ta_hpa_t *hpa, ta_extent_t *slab) {
  unsigned shift = ta_hpa_geometry.page_shift;
  if (slab->shed) {
    /* Only the runs it still owns: the shed pages may be another slab's now. */
    uint64_t owned = ~(uint64_t)slab->shed;
    for (size_t pos = 0, s, e; (s = ta_bitmap_find_run(&owned, pos, slab->npages, true, &e)) < slab->npages;
         pos = e) {
      void *addr = (char *)slab->addr + (s << shift);
      ta_pagemap_set(addr, (e - s) << shift, NULL);
      ta_hpa_free(hpa, addr, e - s);
    }
  } else {
    ta_pagemap_set(slab->addr, (size_t)slab->npages << shift, NULL);
    ta_hpa_free(hpa, slab->addr, slab->npages);
  }
  ta_meta_free(slab, slab->meta_size);
}

/* Whether objects [first, last] hold nothing in use: each is free, or gone with a shed page. */
static bool objects_unused(const ta_extent_t *slab, size_t first, size_t last) {
  size_t n = last - first + 1;
  if (ta_bitmap_count_range(slab->freemap, first, n) == n) return true;
  if (!slab->shed) return false;
  for (size_t i = first; i <= last; i++)
    if (!ta_bitmap_get(slab->freemap, i) && !ta_slab_object_shed(slab, (uint32_t)i)) return false;
  return true;
}

/* Sets in pages[] the free pages among [lo, hi) (all cleared first); returns how many. */
static size_t free_pages_in(const ta_extent_t *slab, size_t lo, size_t hi, uint64_t *pages) {
  size_t size = ta_class_info[slab->size_class].size;
  size_t page = ta_hpa_geometry.page_size, count = 0;
  for (size_t w = 0; w < TA_BITMAP_WORDS(slab->npages); w++) pages[w] = 0;
  if ((slab->nfree + slab->nshed) * size < page) return 0; /* not a page's worth unused */
  for (size_t p = lo; p < hi; p++) {
    size_t first = p * page / size, last = ((p + 1) * page - 1) / size;
    if (first < slab->nobjs) {
      if (last >= slab->nobjs) last = slab->nobjs - 1;
      if (!objects_unused(slab, first, last)) continue;
    }
    ta_bitmap_set(pages, p);
    count++;
  }
  if (slab->shed) { /* shed pages are no longer the slab's */
    count -= (size_t)__builtin_popcount((uint32_t)pages[0] & slab->shed);
    pages[0] &= ~(uint64_t)slab->shed;
  }
  return count;
}

size_t ta_slab_free_pages(const ta_extent_t *slab, uint64_t *pages) {
  return free_pages_in(slab, 0, slab->npages, pages);
}

size_t ta_slab_free_pages_under(const ta_extent_t *slab, const void *p, uint64_t *pages) {
  unsigned shift = ta_hpa_geometry.page_shift;
  size_t off = (uintptr_t)p - (uintptr_t)slab->addr;
  return free_pages_in(slab, off >> shift, ((off + ta_class_info[slab->size_class].size - 1) >> shift) + 1, pages);
}

size_t ta_slab_shed(ta_hpa_t *hpa, ta_extent_t *slab, const uint64_t *pages) {
  if (slab->npages > 32) return 0; /* the mask's width; slabs on 4 KiB pages have up to 32 */
  size_t size = ta_class_info[slab->size_class].size;
  unsigned shift = ta_hpa_geometry.page_shift;
  size_t np = slab->npages, shed = 0;
  for (size_t pos = 0, s, e; (s = ta_bitmap_find_run(pages, pos, np, true, &e)) < np; pos = e) {
    /* The objects overlapping pages [s, e): every one is free (that is what a free page is). */
    size_t first = (s << shift) / size, last = ((e << shift) - 1) / size;
    if (last >= slab->nobjs) last = slab->nobjs - 1;
    for (size_t i = first; first < slab->nobjs && i <= last; i++) {
      if (!ta_bitmap_get(slab->freemap, i)) continue; /* shed already with a neighbouring run */
      ta_bitmap_clear(slab->freemap, i);
      slab->nfree--;
      slab->nshed++;
    }
    void *addr = (char *)slab->addr + (s << shift);
    ta_pagemap_set(addr, (e - s) << shift, NULL);
    /* Purged pages (the interior purge) become plain used pages first, so the free below counts
     * them as dirty: conservative (a reuse will not take them for zero), and npurged stays exact. */
    if (slab->npurged) slab->npurged -= (uint32_t)ta_hpa_reuse_inside(hpa, addr, e - s);
    ta_hpa_free(hpa, addr, e - s);
    slab->shed |= (uint32_t)(((1ull << (e - s)) - 1) << s);
    shed += e - s;
  }
  return shed;
}

void ta_slab_tag_vacant(ta_extent_t *slab, const uint64_t *pages) {
  unsigned shift = ta_hpa_geometry.page_shift;
  size_t np = slab->npages;
  for (size_t pos = 0, s, e; (s = ta_bitmap_find_run(pages, pos, np, true, &e)) < np; pos = e) {
    ta_pagemap_tag((char *)slab->addr + (s << shift), (e - s) << shift, slab, TA_SLAB_VACANT_TAG);
    slab->vacant = true;
  }
}

/* Pages [lo, hi) of the slab are in use again. */
static void reuse_run(ta_hpa_t *hpa, ta_extent_t *slab, size_t lo, size_t hi) {
  unsigned shift = ta_hpa_geometry.page_shift;
  void *addr = (char *)slab->addr + (lo << shift);
  if (slab->vacant) ta_pagemap_tag(addr, (hi - lo) << shift, slab, slab->size_class);
  if (slab->npurged) slab->npurged -= (uint32_t)ta_hpa_reuse_inside(hpa, addr, hi - lo);
}

void ta_slab_reuse_pages(ta_hpa_t *hpa, ta_extent_t *slab, void *const *objs, unsigned n) {
  size_t size = ta_class_info[slab->size_class].size;
  unsigned shift = ta_hpa_geometry.page_shift;
  uintptr_t base = (uintptr_t)slab->addr;
  /* ta_slab_take hands objects out in address order: merge their pages into runs. */
  size_t run_lo = 0, run_hi = 0; /* pages [run_lo, run_hi) */
  for (unsigned i = 0; i < n; i++) {
    uintptr_t off = (uintptr_t)objs[i] - base;
    size_t lo = off >> shift, hi = ((off + size - 1) >> shift) + 1;
    if (run_hi > run_lo && lo <= run_hi) {
      if (hi > run_hi) run_hi = hi;
      continue;
    }
    if (run_hi > run_lo) reuse_run(hpa, slab, run_lo, run_hi);
    run_lo = lo;
    run_hi = hi;
  }
  if (run_hi > run_lo) reuse_run(hpa, slab, run_lo, run_hi);
  /* A page still tagged has every object on it free: with less than a page free, none is. */
  if (slab->vacant && slab->nfree * size < ta_hpa_geometry.page_size) slab->vacant = false;
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
  if (ta_unlikely(slab->shed) && ta_slab_object_shed(slab, idx)) return EALREADY;
  ta_bitmap_set(slab->freemap, idx);
  slab->nfree++;
  return 0;
}
