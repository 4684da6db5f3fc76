/* pagemap.h: address -> extent, for every page of a live slab and the first page of a live
 * large extent; NULL everywhere else. Reads are lock-free and wait-free (two dependent loads).
 *
 * The map works in 4 KiB quanta whatever the kernel's page size (4, 16 or 64 KiB pages simply
 * set several quanta): a constant granularity keeps the lookup free of a run-time shift. It
 * covers 48-bit user addresses: a 2^18-entry root of 1 GiB leaves, each 2 MiB of entries,
 * mapped on first use and never freed. */
#ifndef TA_PAGEMAP_H
#define TA_PAGEMAP_H

#include <stddef.h>
#include <stdint.h>

#include "extent.h"

TA_EXTERN_C_BEGIN

#define TA_PAGEMAP_QUANTUM_SHIFT 12
#define TA_PAGEMAP_LEAF_BITS 18
#define TA_PAGEMAP_ADDR_BITS 48
#define TA_PAGEMAP_ROOT_BITS (TA_PAGEMAP_ADDR_BITS - TA_PAGEMAP_QUANTUM_SHIFT - TA_PAGEMAP_LEAF_BITS)

/* An entry is the extent record's address (below 2^48: user space) with, for a slab, its size
 * class in bits 48-55. Free's fast path indexes the thread cache by that class without waiting
 * for the record's header: one dependent load fewer on its critical path. */
#define TA_PAGEMAP_CLASS_SHIFT 48
typedef ta_atomic(uintptr_t) ta_pagemap_entry_t;
extern TA_HIDDEN ta_atomic(ta_pagemap_entry_t *) ta_pagemap_root[1u << TA_PAGEMAP_ROOT_BITS];

/* The raw entry for p: 0 where no extent is mapped. */
TA_INLINE uintptr_t ta_pagemap_entry(const void *p) {
  uintptr_t a = (uintptr_t)p;
  uintptr_t hi = a >> (TA_PAGEMAP_QUANTUM_SHIFT + TA_PAGEMAP_LEAF_BITS);
  if (ta_unlikely(hi >= ((uintptr_t)1 << TA_PAGEMAP_ROOT_BITS))) return 0;
  /* Relaxed loads: a pointer reaches free() only through a happens-before edge from the malloc
   * that published its extent, and the address dependency orders the second load (and the
   * loads through the extent address masked out of the entry). */
  ta_pagemap_entry_t *leaf = ta_atomic_load(&ta_pagemap_root[hi], ta_mo_relaxed);
  if (ta_unlikely(leaf == NULL)) return 0;
  size_t i = (a >> TA_PAGEMAP_QUANTUM_SHIFT) & ((1u << TA_PAGEMAP_LEAF_BITS) - 1);
  return ta_atomic_load(&leaf[i], ta_mo_relaxed);
}

TA_INLINE ta_extent_t *ta_pagemap_entry_extent(uintptr_t entry) {
  return (ta_extent_t *)(entry & (((uintptr_t)1 << TA_PAGEMAP_CLASS_SHIFT) - 1));
}

/* A slab's size class; 0 for a large extent (read only after the extent is known to be a slab). */
TA_INLINE unsigned ta_pagemap_entry_class(uintptr_t entry) {
  return (unsigned)(entry >> TA_PAGEMAP_CLASS_SHIFT);
}

TA_INLINE ta_extent_t *ta_pagemap_lookup(const void *p) {
  return ta_pagemap_entry_extent(ta_pagemap_entry(p));
}

/* Points every quantum of [addr, addr + size) at ext (NULL clears), tagged with ext's size class
 * when it is a slab: set again after a slab's class changes. Creates leaves as needed. Returns 0
 * or ENOMEM (a leaf could not be mapped; nothing was changed then). */
int ta_pagemap_set(void *addr, size_t size, ta_extent_t *ext);

/* Points every quantum of [addr, addr + size), a range of slab `ext` whose entries exist, at ext
 * with `tag` in place of its size class (slab.h: the vacant tag). Cannot fail. */
void ta_pagemap_tag(void *addr, size_t size, ta_extent_t *ext, unsigned tag);

TA_EXTERN_C_END

#endif
