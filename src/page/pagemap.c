/* pagemap.c: leaf creation and range updates for pagemap.h. Writers serialise leaf creation with
 * a compare-and-swap; entry stores are release stores so a reader that sees an extent sees it
 * initialised. Extent records come from metadata mappings in user space, below 2^48, so the
 * class tag above bit 48 never overlaps an address bit. */
#include "pagemap.h"

#include <errno.h>

ta_atomic(ta_pagemap_entry_t *) ta_pagemap_root[1u << TA_PAGEMAP_ROOT_BITS];

#define LEAF_BYTES (sizeof(ta_pagemap_entry_t) << TA_PAGEMAP_LEAF_BITS)

static ta_pagemap_entry_t *leaf_for(uintptr_t hi) {
  ta_pagemap_entry_t *leaf = ta_atomic_load(&ta_pagemap_root[hi], ta_mo_acquire);
  if (leaf) return leaf;
  void *fresh;
  if (ta_os_map(&fresh, LEAF_BYTES, ta_os_info.page_size) != 0) return NULL;
  ta_pagemap_entry_t *expected = NULL;
  if (ta_atomic_cas(&ta_pagemap_root[hi], &expected, (ta_pagemap_entry_t *)fresh)) return fresh;
  ta_os_unmap(fresh, LEAF_BYTES); /* another thread won the race */
  return expected;
}

#define LEAF_SHIFT (TA_PAGEMAP_QUANTUM_SHIFT + TA_PAGEMAP_LEAF_BITS)

/* Stores `entry` for every quantum of [a, end); the leaves exist. */
static void store_range(uintptr_t a, uintptr_t end, uintptr_t entry) {
  for (uintptr_t q = a; q < end; q += (uintptr_t)1 << TA_PAGEMAP_QUANTUM_SHIFT) {
    ta_pagemap_entry_t *leaf = ta_atomic_load(&ta_pagemap_root[q >> LEAF_SHIFT], ta_mo_relaxed);
    size_t i = (q >> TA_PAGEMAP_QUANTUM_SHIFT) & ((1u << TA_PAGEMAP_LEAF_BITS) - 1);
    ta_atomic_store(&leaf[i], entry, ta_mo_release);
  }
}

int ta_pagemap_set(void *addr, size_t size, ta_extent_t *ext) {
  uintptr_t a = (uintptr_t)addr, end = a + size;
  uintptr_t entry = (uintptr_t)ext;
  if (ext && ext->kind == TA_EXTENT_SLAB) entry |= (uintptr_t)ext->size_class << TA_PAGEMAP_CLASS_SHIFT;
  if ((end - 1) >> LEAF_SHIFT >= ((uintptr_t)1 << TA_PAGEMAP_ROOT_BITS)) return ENOMEM;
  /* Make every leaf first, so a failure changes nothing. */
  for (uintptr_t hi = a >> LEAF_SHIFT; hi <= (end - 1) >> LEAF_SHIFT; hi++)
    if (!leaf_for(hi)) return ENOMEM;
  store_range(a, end, entry);
  return 0;
}

void ta_pagemap_tag(void *addr, size_t size, ta_extent_t *ext, unsigned tag) {
  store_range((uintptr_t)addr, (uintptr_t)addr + size,
              (uintptr_t)ext | (uintptr_t)tag << TA_PAGEMAP_CLASS_SHIFT);
}
