/* size_class.h: the small size classes and the size -> class lookup used by the fast path.
 *
 * Classes: 16-byte steps to 128; 8 per doubling from 128 to 4 KiB (worst waste 12.5%); 16 per
 * doubling from 4 KiB to 64 KiB (worst 5.9%), plus one class just above each power of two from
 * 4 KiB to 32 KiB, because servers store power-of-two payloads plus a small header there
 * (redis: 4102 bytes for a 4 KiB value, 8196 for an 8 KiB one; jemalloc and mimalloc round
 * those to 5120 and 10240, tieralloc to 4176 and 8336). docs/size-classes.md has the table.
 * Each class's slab geometry (pages per slab, objects per slab) is chosen at start-up for the
 * kernel's page size so the slab tail wastes at most 1/64 where the page size allows. */
#ifndef TA_SIZE_CLASS_H
#define TA_SIZE_CLASS_H

#include <stddef.h>
#include <stdint.h>

#include "page.h"

TA_EXTERN_C_BEGIN

/* At most 255: the pagemap keeps the class in 8 bits and the vacant tag (slab.h) is TA_NCLASSES. */
#define TA_NCLASSES 116
#define TA_SMALL_MAX 65536
/* One byte per 16-byte step up to TA_SMALL_MAX: 4 KiB, of which programs touch the first few
 * hundred bytes; one add, one shift and one load to find a class. */
#define TA_LOOKUP_ENTRIES (TA_SMALL_MAX / 16 + 1)

typedef struct {
  uint32_t size;        /* object size, also malloc_usable_size */
  uint32_t slab_pages;  /* base pages per slab */
  uint32_t nobjs;       /* objects per slab */
  /* The short shape of a class with few objects in use (conf sparse_slabs, bin.c); the same
   * as the one above where no shorter slab packs well. */
  uint32_t sparse_pages, sparse_nobjs;
  uint32_t div_magic;   /* offset / size == (offset * div_magic) >> 32 for object offsets */
  /* The object-start test in one multiply and one compare: with c = floor(2^64 / size) + 1
   * and e = c * size - 2^64 (1 <= e <= size), an offset k * size + r below 2^32 times c is
   * k * e + r * c (mod 2^64), which is at least c > 2^47 when r != 0 and k * e otherwise. So
   * offset * start_mul (mod 2^64) < nobjs * e exactly when the offset is that of object k <
   * nobjs (the divisibility test of Lemire, Kaser and Kurz 2019, with the bound folded in).
   * The bound depends on the slab's shape, so each slab keeps its own (extent.h). */
  uint64_t start_mul;   /* c */
  uint64_t start_step;  /* e */
} ta_class_info_t;

extern TA_HIDDEN ta_class_info_t ta_class_info[TA_NCLASSES];
/* Atomic bytes, read relaxed: threads may take the fast path while start-up fills the table
 * (a stale 0 just sends them to the slow path, which waits for start-up); plain loads in the
 * generated code. */
extern TA_HIDDEN ta_atomic(uint8_t) ta_class_lookup[TA_LOOKUP_ENTRIES];

/* The object-start test's bound for a slab of `nobjs` objects of class ci (above). */
TA_INLINE uint64_t ta_size_class_start_limit(const ta_class_info_t *ci, uint32_t nobjs) {
  return (uint64_t)nobjs * ci->start_step; /* below 2^64: nobjs * e <= nobjs * size < 2^32 */
}

/* Fills the tables for the page size in ta_hpa_geometry (again, after a geometry change). */
void ta_size_class_init(void);

/* pre: size <= TA_SMALL_MAX. */
TA_INLINE unsigned ta_size_class_of(size_t size) {
  return ta_atomic_load(&ta_class_lookup[(size + 15) >> 4], ta_mo_relaxed);
}

TA_INLINE size_t ta_size_class_size(unsigned cls) { return ta_class_info[cls].size; }

/* The first class holding `size` bytes whose objects all sit on `align` (a power of two of at
 * most a page: slabs start on a page, so a class size that is a multiple of align does);
 * TA_NCLASSES when no small class does. */
TA_INLINE unsigned ta_size_class_aligned(size_t size, size_t align) {
  size_t need = size < align ? align : size;
  if (need > TA_SMALL_MAX) return TA_NCLASSES;
  unsigned cls = ta_size_class_of(need);
  while (cls < TA_NCLASSES && (ta_size_class_size(cls) & (align - 1))) cls++;
  return cls;
}

TA_EXTERN_C_END

#endif
