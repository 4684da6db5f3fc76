// fake_heap.h: the start of a heap on the fake OS, shared by the tests that boot arenas: conf
// defaults with small regions, then (for the one-node tests) arenas on one node covering every
// CPU, as on this machine.
#ifndef TA_TEST_FAKE_HEAP_H
#define TA_TEST_FAKE_HEAP_H

#include <gtest/gtest.h>

#include <vector>

#include "arena.h"
#include "conf.h"
#include "fake_os.h"

// Before the FakeOs is installed: the conf the tests then adjust. 64 MiB regions keep the fake
// OS's in-memory mappings small.
inline void fake_heap_conf() {
  ta_os_init();
  ta_conf_defaults(&ta_conf);
  ta_conf.region_mb = 64;
  ta_conf.thp_min_mb = 0;  // hugepages from the first unit, as the tests assume
  ta_conf.sparse_slabs = 0;  // each class's usual slab shape; the tests of the short one set it
}

// After the FakeOs is installed: page geometry from it, and two arenas on one node.
inline void fake_heap_boot_one_node(unsigned narenas = 2) {
  ta_hpa_geometry_init();
  static ta_topo_t topo;
  ta_topology_fallback(&topo, (uint64_t)8 << 30, 2);
  ASSERT_EQ(ta_arena_boot(&topo, narenas, TA_PLACE_PREFERRED, 1'000'000'000, 50), 0);
}

// The whole start-up of a one-node test: the conf (slab_cache_kb as given; the default when
// negative), a FakeOs installed for the rest of the process, and the arenas.
inline FakeOs *fake_heap_start_one_node(long slab_cache_kb = -1) {
  fake_heap_conf();
  if (slab_cache_kb >= 0) ta_conf.slab_cache_kb = (decltype(ta_conf.slab_cache_kb))slab_cache_kb;
  FakeOs *fake = new FakeOs();
  fake->install();
  fake_heap_boot_one_node();
  return fake;
}

// A gtest environment that runs fake_heap_start_one_node and stores the FakeOs in *out.
class FakeHeapEnv : public testing::Environment {
 public:
  FakeHeapEnv(FakeOs **out, long slab_cache_kb) : out_(out), slab_cache_kb_(slab_cache_kb) {}
  void SetUp() override { *out_ = fake_heap_start_one_node(slab_cache_kb_); }

 private:
  FakeOs **out_;
  long slab_cache_kb_;
};

// The first class of at least `size` bytes whose slab has 4 to 64 pages and 4+ objects (one
// that can have whole free pages while some objects are out); TA_NCLASSES if none at this
// page size.
inline unsigned fake_heap_multi_page_class(size_t size) {
  for (unsigned c = ta_size_class_of(size); c < TA_NCLASSES; c++)
    if (ta_class_info[c].slab_pages >= 4 && ta_class_info[c].nobjs >= 4 && ta_class_info[c].slab_pages <= 64)
      return c;
  return TA_NCLASSES;
}

// n objects of class cls from `bin` (as a thread cache's refill would take them); by default
// a bin of a test's own heap, as arena index 0 on node 0.
inline std::vector<void *> fake_heap_fill_bin(ta_bin_t *bin, ta_hpa_t *hpa, unsigned cls, size_t n,
                                              unsigned arena = 0, unsigned node = 0) {
  std::vector<void *> objs(n);
  for (size_t got = 0; got < n;) {
    unsigned k = ta_bin_fill(bin, hpa, cls, arena, node, objs.data() + got, (unsigned)(n - got));
    EXPECT_GT(k, 0u);
    if (k == 0) break;
    got += k;
  }
  return objs;
}

// n objects of class cls straight from arena a's bin.
inline std::vector<void *> fake_heap_take(ta_arena_t *a, unsigned cls, size_t n) {
  return fake_heap_fill_bin(&a->bins[cls], a->hpa, cls, n, a->index, a->node);
}

// Returns p to bin, the bin of its slab's class on that heap.
inline void fake_heap_put_bin(ta_bin_t *bin, ta_hpa_t *hpa, void *p) {
  ta_extent_t *slab = ta_pagemap_lookup(p);
  ASSERT_NE(slab, nullptr) << p;
  ta_mutex_lock(&bin->lock);
  ta_bin_put_locked(bin, hpa, slab, p);
  ta_mutex_unlock(&bin->lock);
}

#endif
