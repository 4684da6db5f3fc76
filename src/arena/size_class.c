/* size_class.c: builds the class table, the lookup table and each class's slab geometry. */
#include "size_class.h"

ta_class_info_t ta_class_info[TA_NCLASSES];
uint8_t ta_class_lookup[TA_LOOKUP_ENTRIES];

/* Slab pages for a class: the fewest pages that hold enough objects (a few for big classes,
 * more for small ones) with a tail of at most 1/64 of the slab; else the least-waste choice. */
static void slab_geometry(ta_class_info_t *c) {
  size_t page = ta_hpa_geometry.page_size;
  size_t max_pages = 64;
  while (max_pages * page > 256 * 1024 && max_pages > 1) max_pages /= 2; /* big base pages */
  if (max_pages * page < c->size) max_pages = (c->size + page - 1) / page;
  if (max_pages > ta_hpa_geometry.unit_pages) max_pages = ta_hpa_geometry.unit_pages;
  size_t min_objs = c->size <= 1024 ? 8 : c->size <= 8192 ? 4 : 2;
  size_t best = 0, best_waste = SIZE_MAX;
  for (size_t p = 1; p <= max_pages; p++) {
    size_t bytes = p * page, n = bytes / c->size;
    if (n == 0) continue;
    size_t waste = bytes - n * c->size;
    if (n >= min_objs && waste * 64 <= bytes) {
      best = p;
      break;
    }
    /* waste per byte of slab, compared without division */
    if (best == 0 || waste * (best * page) < best_waste * bytes) {
      best = p;
      best_waste = waste;
    }
  }
  c->slab_pages = (uint32_t)best;
  c->nobjs = (uint32_t)(best * page / c->size);
}

void ta_size_class_init(void) {
  if (ta_class_info[0].size) return;
  unsigned n = 0;
  for (uint32_t s = 16; s <= 128; s += 16) ta_class_info[n++].size = s;
  for (uint32_t base = 128; base < TA_LOOKUP_FINE_MAX; base *= 2)
    for (uint32_t i = 1; i <= 8; i++) ta_class_info[n++].size = base + i * (base / 8);
  for (uint32_t base = TA_LOOKUP_FINE_MAX; base < TA_SMALL_MAX; base *= 2)
    for (uint32_t i = 1; i <= 16; i++) ta_class_info[n++].size = base + i * (base / 16);
  if (n != TA_NCLASSES) ta_log_fatal("size class table has %u classes, expected %d", n, TA_NCLASSES);
  for (unsigned c = 0; c < TA_NCLASSES; c++) {
    ta_class_info_t *ci = &ta_class_info[c];
    ci->div_magic = (uint32_t)(((uint64_t)1 << 32) / ci->size + 1);
    slab_geometry(ci);
  }
  /* Lookup: smallest class >= the largest size each entry stands for. */
  unsigned cls = 0;
  for (size_t i = 0; i < TA_LOOKUP_ENTRIES; i++) {
    size_t fine_entries = TA_LOOKUP_FINE_MAX / 16 + 1;
    size_t max_size = i < fine_entries ? i * 16 : (i - fine_entries + TA_LOOKUP_FINE_MAX / 256 + 1) * 256;
    while (ta_class_info[cls].size < max_size) cls++;
    ta_class_lookup[i] = (uint8_t)cls;
  }
}
