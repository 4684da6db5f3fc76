/* placement.c: the tier-placement API of include/tieralloc.h. Blocks placed on a tier or node
 * are ordinary extents of that node's heap: any free-family call releases them.
 *
 * Tiers are ranked from the calling thread's CPU (0 = its own node's DRAM, then farther ones).
 * A missing tier falls back to the nearest tier that exists (counted), unless the request is
 * strict. Strict requests also check the node's free memory first, since a page fault cannot
 * return ENOMEM: what is promised is "fail now rather than land elsewhere", checked at the
 * call, and ground truth is always available from tieralloc_where. */
#include <errno.h>
#include <string.h>

#include "api.h"
#include "conf.h"
#include "tieralloc.h"

static void *alloc_on(unsigned node, size_t align, size_t size, unsigned flags) {
  if (size > PTRDIFF_MAX || (align & (align - 1))) {
    errno = size > PTRDIFF_MAX ? ENOMEM : EINVAL;
    return NULL;
  }
  if ((flags & TIERALLOC_STRICT) && ta_tier_node_free_bytes((int)node) < size) {
    errno = ENOMEM;
    return NULL;
  }
  ta_arena_t *arena = ta_arena_choose(node);
  bool zero = flags & TIERALLOC_ZERO;
  if (align < 16) align = 16;
  void *p = NULL;
  if (size <= TA_SMALL_MAX && align <= ta_hpa_geometry.page_size) {
    unsigned cls = ta_size_class_aligned(size, align);
    if (cls < TA_NCLASSES) {
      p = ta_arena_alloc_small(arena, cls);
      if (p) ta_tcache_unmark(p); /* handed out: see the free marks in tcache.h */
      if (p && zero) memset(p, 0, size);
      if (!p) errno = ENOMEM;
      return p;
    }
  }
  if (ta_unlikely(ta_large_tracking) && !ta_background_is_running()) ta_background_start();
  p = ta_arena_alloc_large(arena, size, align, zero);
  if (!p) errno = ENOMEM;
  /* The hint steers the hotness policy for the block's life (tier_hotness.c); a block put on
   * a tier or node by name stays there. */
  else
    ta_large_set_hint(arena->hpa, ta_pagemap_lookup(p),
                      (flags & TIERALLOC_HOT) ? TA_HOTNESS_HINT_HOT
                      : (flags & TIERALLOC_COLD) ? TA_HOTNESS_HINT_COLD : TA_HOTNESS_HINT_PLACED);
  return p;
}

/* The node for `tier` from this CPU, or the nearest tier below it that exists. */
static int tier_node(unsigned tier, unsigned flags) {
  int cpu = ta_os_current_cpu();
  int node = ta_arena_tier_node(cpu, tier);
  if (node >= 0) return node;
  if (flags & TIERALLOC_STRICT) return -1;
  for (unsigned t = tier; t-- > 0;) {
    node = ta_arena_tier_node(cpu, t);
    if (node >= 0) {
      ta_atomic_fetch_add(&ta_placement_fallbacks, 1, ta_mo_relaxed);
      return node;
    }
  }
  return (int)ta_arena_home_node(cpu);
}

TA_EXPORT void *tieralloc_aligned_tier(size_t align, size_t size, unsigned tier, unsigned flags) {
  if (!ta_init_ensure()) return ta_malloc(size);
  int node;
  if (flags & TIERALLOC_HOT) tier = 0;
  if ((flags & TIERALLOC_COLD) && (node = ta_arena_far_node(ta_os_current_cpu())) >= 0)
    return alloc_on((unsigned)node, align, size, flags);
  node = tier_node(tier, flags);
  if (node < 0) {
    errno = ENOMEM;
    return NULL;
  }
  return alloc_on((unsigned)node, align, size, flags);
}

TA_EXPORT void *tieralloc_malloc_tier(size_t size, unsigned tier, unsigned flags) {
  return tieralloc_aligned_tier(0, size, tier, flags);
}

TA_EXPORT void *tieralloc_malloc_hint(size_t size, unsigned flags) {
  return tieralloc_aligned_tier(0, size, 0, flags);
}

TA_EXPORT void *tieralloc_aligned_node(size_t align, size_t size, int node, unsigned flags) {
  if (!ta_init_ensure()) return ta_malloc(size);
  if (node < 0 || node >= TA_TOPO_MAX_NODE_ID || !ta_node_heaps[node]) {
    errno = EINVAL; /* no such node, or one the process may not use */
    return NULL;
  }
  return alloc_on((unsigned)node, align, size, flags);
}

TA_EXPORT void *tieralloc_malloc_node(size_t size, int node, unsigned flags) {
  return tieralloc_aligned_node(0, size, node, flags);
}

TA_EXPORT int tieralloc_thread_tier(int tier) {
  if (!ta_init_ensure()) return -EAGAIN;
  if (tier < -1 || (tier > 0 && ta_arena_tier_node(ta_os_current_cpu(), (unsigned)tier) < 0))
    return -EINVAL;
  int old = ta_thread_tier;
  ta_thread_tier = tier;
  /* Cached objects belong to the old placement: send them home, and the next allocation
   * settles the cache on the new tier's node. */
  ta_tcache_flush_self();
  return old;
}

/* The block p starts, as a byte range; false for a pointer tieralloc did not return. */
static bool block_range(const void *p, void **start, size_t *len, ta_extent_t **extp) {
  ta_extent_t *ext = ta_pagemap_lookup(p);
  if (!ext) return false;
  if (ext->kind == TA_EXTENT_LARGE) {
    if (ext->addr != p) return false;
    *len = ext->usable;
  } else {
    if (ta_slab_index(ext, p) == UINT32_MAX) return false;
    *len = ta_size_class_size(ext->size_class);
  }
  *start = (void *)p;
  *extp = ext;
  return true;
}

TA_EXPORT int tieralloc_where(const void *p, tieralloc_location_t *out) {
  if (!p || !out) return EINVAL;
  if (!ta_init_ensure()) return EAGAIN;
  void *start;
  size_t len;
  ta_extent_t *ext;
  if (!block_range(p, &start, &len, &ext)) return EINVAL;
  ta_tier_census_t c;
  int err = ta_tier_census(start, len, &c);
  if (err) return err;
  memset(out, 0, sizeof(*out));
  out->home_node = ext->node;
  out->node = c.majority_node;
  out->tier = c.majority_node >= 0 ? ta_arena_node_tier(ta_os_current_cpu(), (unsigned)c.majority_node) : -1;
  out->pages = c.pages;
  out->pages_on_node = c.on_majority;
  out->pages_absent = c.absent;
  out->all_on_node = c.absent == 0 && c.on_majority == c.pages;
  return 0;
}

TA_EXPORT int tieralloc_migrate(void *p, size_t len, unsigned tier, tieralloc_migrate_result_t *res) {
  if (!p) return EINVAL;
  if (!ta_init_ensure()) return EAGAIN;
  void *start = p;
  if (len == 0) {
    ta_extent_t *ext;
    if (!block_range(p, &start, &len, &ext)) return EINVAL;
  }
  int node = ta_arena_tier_node(ta_os_current_cpu(), tier);
  if (node < 0) return ENOENT;
  /* A block the program moves itself is left where it put it by the hotness policy. */
  ta_extent_t *whole = ta_pagemap_lookup(start);
  if (whole && whole->kind == TA_EXTENT_LARGE && whole->addr == start && len >= whole->usable)
    ta_large_set_hint(&ta_node_heaps[whole->node]->hpa, whole, TA_HOTNESS_HINT_PLACED);
  ta_tier_move_result_t r;
  int err = ta_tier_move(start, len, node, ta_conf.migrate_mb_s, &r);
  if (res) {
    memset(res, 0, sizeof(*res));
    res->node = node;
    res->pages = r.pages;
    res->moved = r.moved;
    res->absent = r.absent;
    res->failed = r.failed;
  }
  return err;
}
