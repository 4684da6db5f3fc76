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

typedef ta_atomic(ta_extent_t *) ta_pagemap_entry_t;
extern ta_atomic(ta_pagemap_entry_t *) ta_pagemap_root[1u << TA_PAGEMAP_ROOT_BITS];

TA_INLINE ta_extent_t *ta_pagemap_lookup(const void *p) {
  uintptr_t a = (uintptr_t)p;
  uintptr_t hi = a >> (TA_PAGEMAP_QUANTUM_SHIFT + TA_PAGEMAP_LEAF_BITS);
  if (ta_unlikely(hi >= ((uintptr_t)1 << TA_PAGEMAP_ROOT_BITS))) return NULL;
  /* Relaxed loads: a pointer reaches free() only through a happens-before edge from the malloc
   * that published its extent, and the address dependency orders the second load. */
  ta_pagemap_entry_t *leaf = ta_atomic_load(&ta_pagemap_root[hi], ta_mo_relaxed);
  if (ta_unlikely(leaf == NULL)) return NULL;
  size_t i = (a >> TA_PAGEMAP_QUANTUM_SHIFT) & ((1u << TA_PAGEMAP_LEAF_BITS) - 1);
  return ta_atomic_load(&leaf[i], ta_mo_relaxed);
}

/* Points every quantum of [addr, addr + size) at ext (NULL clears). Creates leaves as needed.
 * Returns 0 or ENOMEM (a leaf could not be mapped; nothing was changed then). */
int ta_pagemap_set(void *addr, size_t size, ta_extent_t *ext);

TA_EXTERN_C_END

#endif
