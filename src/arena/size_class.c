/* size_class.c: builds the class table, the lookup table and each class's slab geometry. */
#include "size_class.h"

/* A size in bytes (not a page size): where spacing goes from 8 to 16 classes per doubling. */
#define TA_SIZE_16_PER_DOUBLING 4096u

/* Header room: one extra class just above each power of two from 4 KiB to 32 KiB, for the
 * payload-plus-header requests of servers (redis: a 4 KiB value is a 4102-byte request, 4352
 * in the 16-per-doubling spacing alone). Each room is the smallest multiple of 16 whose slab
 * on 4 KiB pages has a tail of at most 1/64 within the 32 pages that shedding's mask holds
 * (slab.h; a longer slab would never shed): 4176 in 29 pages, 8336 in 31, 16704 in 29, 33600
 * in 25. Smaller rooms need longer slabs (4160 and 8320: 33 pages). 4176 then takes 32 pages to
 * tile a hugepage unit (unit_tiled_pages). */
static const uint32_t header_room[] = {80, 144, 320, 832};

ta_class_info_t ta_class_info[TA_NCLASSES];
ta_atomic(uint8_t) ta_class_lookup[TA_LOOKUP_ENTRIES];

/* Whether a slab of `pages` pages holds at least min_objs objects with a tail of at most
 * 1/tail_div of it. */
static bool slab_fits(uint32_t size, size_t pages, size_t min_objs, size_t tail_div) {
  size_t bytes = pages * ta_hpa_geometry.page_size, n = bytes / size;
  return n >= min_objs && (bytes - n * size) * tail_div <= bytes;
}

/* The fewest pages whose slab holds at least min_objs objects with a tail of at most 1/tail_div
 * of the slab; else the least-waste length. */
static uint32_t slab_pages_for(uint32_t size, size_t min_objs, size_t tail_div) {
  size_t page = ta_hpa_geometry.page_size;
  /* Up to 2 MiB of slab: the first fit below wins, so small slabs are chosen wherever they
   * pack well; big base pages (16/64 KiB) need the longer slabs for the large classes. */
  size_t max_pages = (2u << 20) / page;
  if (max_pages == 0) max_pages = 1;
  if (max_pages > ta_hpa_geometry.unit_pages) max_pages = ta_hpa_geometry.unit_pages;
  size_t best = 0, best_waste = SIZE_MAX;
  for (size_t p = 1; p <= max_pages; p++) {
    size_t bytes = p * page, n = bytes / size;
    if (n == 0) continue;
    size_t waste = bytes - n * size;
    if (slab_fits(size, p, min_objs, tail_div)) return (uint32_t)p;
    /* waste per byte of slab, compared without division */
    if (best == 0 || waste * (best * page) < best_waste * bytes) {
      best = p;
      best_waste = waste;
    }
  }
  return (uint32_t)best;
}

/* The longest usual slab: shedding's mask has a bit per page of a slab (extent.h). */
#define SLAB_MAX_PAGES 32u

/* Bytes of objects in a hugepage unit filled with slabs of `pages` pages of this class. */
static size_t unit_object_bytes(uint32_t size, size_t pages) {
  size_t page = ta_hpa_geometry.page_size;
  return ta_hpa_geometry.unit_pages / pages * (pages * page / size) * size;
}

/* A slab length chosen alone can tile a hugepage unit badly: 4176-byte objects in 29 pages
 * leave 19 pages of each 512-page unit to other classes, and a server loading one class (redis
 * storing 4 KiB values) has no other class to put there, so 5% of its heap stayed empty. When
 * the fewest pages waste more than 1/32 of a unit that way (slab tails and the unit's tail), a
 * longer slab of at most SLAB_MAX_PAGES with the same bounds (objects, 1/64 tail) is taken: the
 * first that wastes at most 1/64 of the unit, else the one that wastes least (4176: 32 pages,
 * 98.8% of the unit in objects instead of 94.8%). Below 1/32 the gain is not worth slabs two
 * or three times as long (6400 would go from 11 pages to 30 for 0.3% of a unit). */
static uint32_t unit_tiled_pages(uint32_t size, uint32_t pages, size_t min_objs) {
  size_t page = ta_hpa_geometry.page_size, unit = ta_hpa_geometry.unit_pages * page;
  size_t most = SLAB_MAX_PAGES < ta_hpa_geometry.unit_pages ? SLAB_MAX_PAGES : ta_hpa_geometry.unit_pages;
  uint32_t best = pages;
  if (unit_object_bytes(size, pages) * 32 >= unit * 31) return pages;
  for (size_t p = pages + 1; p <= most && unit_object_bytes(size, best) * 64 < unit * 63; p++)
    if (slab_fits(size, p, min_objs, 64) && unit_object_bytes(size, p) > unit_object_bytes(size, best))
      best = (uint32_t)p;
  return best;
}

/* Classes above this size have a sparse shape: their usual slabs are 5 to 31 pages (on 4 KiB
 * pages), most of which a class with a few objects in use leaves empty; smaller classes' slabs
 * are a few pages at most. */
#define SPARSE_SHAPE_MIN_SIZE 4096u

/* A class's slab: enough objects (a few for big classes, more for small ones) with a tail of at
 * most 1/64. Its sparse shape: one object or more with a tail of at most 1/16, which a class
 * with a few objects in use fills instead of leaving a long slab mostly empty (bin.c). */
static void slab_geometry(ta_class_info_t *c) {
  size_t min_objs = c->size <= 1024 ? 8 : c->size <= 8192 ? 4 : 2;
  c->slab_pages = slab_pages_for(c->size, min_objs, 64);
  c->slab_pages = unit_tiled_pages(c->size, c->slab_pages, min_objs);
  c->sparse_pages = c->slab_pages;
  if (c->size > SPARSE_SHAPE_MIN_SIZE) {
    uint32_t pages = slab_pages_for(c->size, 1, 16);
    if (pages < c->slab_pages) c->sparse_pages = pages;
  }
  c->nobjs = (uint32_t)(((size_t)c->slab_pages << ta_hpa_geometry.page_shift) / c->size);
  c->sparse_nobjs = (uint32_t)(((size_t)c->sparse_pages << ta_hpa_geometry.page_shift) / c->size);
}

void ta_size_class_init(void) {
  unsigned n = 0;
  for (uint32_t s = 16; s <= 128; s += 16) ta_class_info[n++].size = s;
  for (uint32_t base = 128; base < TA_SIZE_16_PER_DOUBLING; base *= 2)
    for (uint32_t i = 1; i <= 8; i++) ta_class_info[n++].size = base + i * (base / 8);
  unsigned room = 0;
  for (uint32_t base = TA_SIZE_16_PER_DOUBLING; base < TA_SMALL_MAX; base *= 2) {
    if (room < sizeof header_room / sizeof header_room[0])
      ta_class_info[n++].size = base + header_room[room++];
    for (uint32_t i = 1; i <= 16; i++) ta_class_info[n++].size = base + i * (base / 16);
  }
  if (n != TA_NCLASSES) ta_log_fatal("size class table has %u classes, expected %d", n, TA_NCLASSES);
  for (unsigned c = 0; c < TA_NCLASSES; c++) {
    ta_class_info_t *ci = &ta_class_info[c];
    ci->div_magic = (uint32_t)(((uint64_t)1 << 32) / ci->size + 1);
    slab_geometry(ci);
    if (ci->nobjs > UINT16_MAX) /* a slab record counts its objects in 16 bits (extent.h) */
      ta_log_fatal("size class %u: %u objects per slab, more than a slab record counts", ci->size, ci->nobjs);
    /* floor(2^64 / size) + 1; UINT64_MAX / size falls one short when size divides 2^64 */
    ci->start_mul = UINT64_MAX / ci->size + (UINT64_MAX % ci->size == ci->size - 1) + 1;
    ci->start_step = ci->start_mul * ci->size; /* e: the product wraps */
  }
  /* Lookup: entry i stands for sizes (16(i-1), 16i]: the smallest class of at least 16i. */
  unsigned cls = 0;
  for (size_t i = 0; i < TA_LOOKUP_ENTRIES; i++) {
    while (ta_class_info[cls].size < i * 16) cls++;
    ta_atomic_store(&ta_class_lookup[i], (uint8_t)cls, ta_mo_relaxed);
  }
}
