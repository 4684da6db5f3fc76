// Size classes, slab geometry for every page size Linux uses, and arenas on the fake OS.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "fake_heap.h"
#include "fake_os.h"

#include "arena.h"
#include "conf.h"

namespace {

FakeOs *fake;

class Env : public testing::Environment {
 public:
  void SetUp() override {
    fake = fake_heap_start_one_node();
    EXPECT_EQ(fake->binds, 0u) << "a single-node machine makes no NUMA call";
  }
};
testing::Environment *const env = testing::AddGlobalTestEnvironment(new Env);

TEST(SizeClass, LookupGivesTheSmallestFittingClass) {
  for (size_t size = 0; size <= TA_SMALL_MAX; size++) {
    unsigned c = ta_size_class_of(size);
    ASSERT_LT(c, (unsigned)TA_NCLASSES);
    ASSERT_GE(ta_size_class_size(c), size) << size;
    if (c > 0) {
      ASSERT_LT(ta_size_class_size(c - 1), size) << size;
    }
    ASSERT_EQ(ta_size_class_size(c) % 16, 0u);
  }
  EXPECT_EQ(ta_size_class_size(ta_size_class_of(TA_SMALL_MAX)), (size_t)TA_SMALL_MAX);
}

TEST(SizeClass, WasteBetween4KAnd64KIsFarBelow25Percent) {
  double worst = 0, sum = 0;
  size_t n = 0;
  for (size_t size = 4097; size <= TA_SMALL_MAX; size++, n++) {
    double waste = double(ta_size_class_size(ta_size_class_of(size)) - size) / double(size);
    worst = std::max(worst, waste);
    sum += waste;
  }
  EXPECT_LT(worst, 0.06);
  EXPECT_LT(sum / double(n), 0.035);
  // redis stores a 4 KiB value as a 4102-byte request and an 8 KiB one as 8196 bytes: the
  // header-room classes just above the powers of two take them.
  EXPECT_EQ(ta_size_class_size(ta_size_class_of(4102)), 4176u);
  EXPECT_EQ(ta_size_class_size(ta_size_class_of(8196)), 8336u);
  EXPECT_EQ(ta_size_class_size(ta_size_class_of(16384 + 6)), 16704u);
  EXPECT_EQ(ta_size_class_size(ta_size_class_of(32768 + 6)), 33600u);
  // SQLite's default page cache entry: 4096 bytes plus a header of a few hundred.
  EXPECT_LE(ta_size_class_size(ta_size_class_of(4096 + 272)), 4608u);
}

// One slab shape of a class: its objects fit, and free's fast-path object-start test, with the
// bound a slab of that shape keeps, agrees with ta_slab_index at every object start, at every
// byte of the first two and last two objects, and at every byte of the tail after the last
// object (a pointer there must never pass for an object: in a short slab that is where object
// nobjs of the usual shape would start).
void check_shape(const ta_class_info_t &ci, size_t page, uint32_t pages, uint32_t nobjs) {
  size_t bytes = (size_t)pages * page;
  ASSERT_GE(nobjs, 1u) << "page " << page << " class " << ci.size;
  ASSERT_EQ((size_t)nobjs, bytes / ci.size) << "page " << page << " class " << ci.size;
  ASSERT_LE(pages, ta_hpa_geometry.unit_pages);
  // Shedding (slab.h) keeps a slab's shed pages in a 32-bit mask: a longer slab never sheds.
  EXPECT_LE(pages, 32u) << "page " << page << " class " << ci.size;
  ta_extent_t slab{};
  slab.size_class = (uint8_t)(&ci - ta_class_info);
  slab.nobjs = (uint16_t)nobjs;
  slab.addr = (void *)0x100000;
  slab.start_limit = ta_size_class_start_limit(&ci, nobjs);
  // Division by multiplication is exact for every object, and rejects every interior offset.
  for (uint32_t i = 0; i < nobjs; i++) {
    ASSERT_EQ(ta_slab_index(&slab, (char *)slab.addr + (size_t)i * ci.size), i);
    ASSERT_EQ(ta_slab_index(&slab, (char *)slab.addr + (size_t)i * ci.size + 8), UINT32_MAX);
  }
  auto fast = [&](uint64_t off) { return ta_slab_is_object_start(&slab, (char *)slab.addr + off); };
  auto exact = [&](uint64_t off) { return ta_slab_index(&slab, (char *)slab.addr + off) != UINT32_MAX; };
  for (uint32_t i = 0; i < nobjs; i++) ASSERT_TRUE(fast((uint64_t)i * ci.size)) << ci.size << " " << i;
  uint64_t span = (uint64_t)nobjs * ci.size;
  uint64_t edge = 2 * (uint64_t)ci.size < span ? 2 * (uint64_t)ci.size : span;
  for (uint64_t off = 0; off < edge; off++) ASSERT_EQ(fast(off), exact(off)) << ci.size << " " << off;
  for (uint64_t off = span - edge; off < bytes; off++) ASSERT_EQ(fast(off), exact(off)) << ci.size << " " << off;
}

void check_geometry(size_t page) {
  ta_os_info_t saved = ta_os_info;
  ta_os_info.page_size = page;
  ta_os_info.page_shift = (unsigned)__builtin_ctzll(page);
  ta_hpa_geometry_init();
  ta_size_class_init();
  for (unsigned c = 0; c < TA_NCLASSES; c++) {
    const ta_class_info_t &ci = ta_class_info[c];
    size_t bytes = (size_t)ci.slab_pages * page, sparse_bytes = (size_t)ci.sparse_pages * page;
    check_shape(ci, page, ci.slab_pages, ci.nobjs);
    check_shape(ci, page, ci.sparse_pages, ci.sparse_nobjs);
    // The tail of a slab wastes at most 1/64 of it, except for classes larger than a quarter
    // of the largest slab, where whole objects cannot fill it that tightly.
    if (ci.size * 4 <= bytes) {
      EXPECT_LE((bytes - (size_t)ci.nobjs * ci.size) * 64, bytes) << "page " << page << " class " << ci.size;
    }
    // The sparse shape is shorter, with a tail of at most 1/16, or it is the usual shape.
    if (ci.sparse_pages != ci.slab_pages) {
      EXPECT_GT(ci.size, 4096u) << "page " << page;
      EXPECT_LT(ci.sparse_pages, ci.slab_pages) << "page " << page << " class " << ci.size;
      EXPECT_LE((sparse_bytes - (size_t)ci.sparse_nobjs * ci.size) * 16, sparse_bytes)
          << "page " << page << " class " << ci.size;
    } else {
      EXPECT_EQ(ci.sparse_nobjs, ci.nobjs);
    }
  }
  ta_os_info = saved;
  ta_hpa_geometry_init();
  ta_size_class_init();
}

TEST(SizeClass, SlabGeometry4K) { check_geometry(4096); }
TEST(SizeClass, SlabGeometry16K) { check_geometry(16384); }
TEST(SizeClass, SlabGeometry64K) { check_geometry(65536); }

TEST(Arena, FillGivesDistinctAlignedObjectsAndFlushReturnsThem) {
  ta_arena_t *a = ta_arenas[0];
  for (unsigned cls : {0u, 7u, 40u, 60u, 100u, (unsigned)TA_NCLASSES - 1}) {
    size_t size = ta_size_class_size(cls);
    std::vector<void *> objs(300);
    unsigned got = 0;
    while (got < objs.size())
      got += ta_bin_fill(&a->bins[cls], a->hpa, cls, a->index, a->node, objs.data() + got,
                         (unsigned)objs.size() - got);
    std::set<uintptr_t> seen;
    for (void *p : objs) {
      ASSERT_TRUE(seen.insert((uintptr_t)p).second) << "duplicate object";
      ASSERT_EQ((uintptr_t)p % 16, 0u);
      ta_extent_t *e = ta_pagemap_lookup(p);
      ASSERT_NE(e, nullptr);
      ASSERT_EQ(e->size_class, cls);
      memset(p, 0x5a, size);
    }
    // No two objects overlap.
    std::vector<uintptr_t> sorted(seen.begin(), seen.end());
    for (size_t i = 1; i < sorted.size(); i++) ASSERT_GE(sorted[i] - sorted[i - 1], size);
    EXPECT_EQ(a->bins[cls].stats.live, objs.size());
    ta_arena_flush(cls, objs.data(), (unsigned)objs.size());
    EXPECT_EQ(a->bins[cls].stats.live, 0u);
    EXPECT_LE(a->bins[cls].stats.nslabs, 1u) << "only the spare slab stays";
  }
}

TEST(Arena, SingleNodeHeap) {
  EXPECT_EQ(ta_node_heap_count, 1u);
  EXPECT_EQ(ta_narenas, 2u);
  EXPECT_EQ(ta_arena_home_node(0), ta_arena_home_node(1));
  EXPECT_EQ(ta_arena_home_node(-1), ta_arena_home_node(0)) << "an unknown CPU gets the default";
  EXPECT_NE(ta_arena_choose(ta_arena_home_node(0)), ta_arena_choose(ta_arena_home_node(0)))
      << "threads of a node are spread over its arenas";
}

TEST(Arena, RemoteQueueSendsObjectsHome) {
  unsigned node = ta_arena_home_node(0);
  ta_arena_t *a = ta_arenas[0];
  void *objs[10];
  unsigned got = ta_bin_fill(&a->bins[5], a->hpa, 5, a->index, a->node, objs, 10);
  ASSERT_EQ(got, 10u);
  uint64_t live = a->bins[5].stats.live;
  ta_arena_send_home(node, objs, 10);
  EXPECT_EQ(a->bins[5].stats.live, live) << "queued, not yet home";
  EXPECT_EQ(ta_arena_drain_remote(node), 10u);
  EXPECT_EQ(a->bins[5].stats.live, live - 10);
  EXPECT_EQ(ta_arena_drain_remote(node), 0u);
}

TEST(Arena, TrimReleasesIdleSpares) {
  ta_arena_t *a = ta_arenas[1];
  void *p = ta_arena_alloc_small(a, 3);
  ta_arena_flush(3, &p, 1);
  EXPECT_EQ(a->bins[3].stats.nslabs, 1u);
  ta_arena_purge_step(fake->now, fake->now - 1, 0, false);
  EXPECT_EQ(a->bins[3].stats.nslabs, 1u) << "a spare younger than the cut-off stays";
  ta_arena_purge_step(fake->now, UINT64_MAX, 0, false);
  EXPECT_EQ(a->bins[3].stats.nslabs, 0u);
}

TEST(Arena, DoubleFreeAndInteriorPointersAbort) {
  ta_arena_t *a = ta_arenas[0];
  void *p[2] = {ta_arena_alloc_small(a, 10), ta_arena_alloc_small(a, 10)};
  ta_arena_flush(10, &p[0], 1);
  EXPECT_DEATH(ta_arena_flush(10, &p[0], 1), "double free");
  void *inside = (char *)p[1] + 8;
  EXPECT_DEATH(ta_arena_flush(10, &inside, 1), "inside an object");
}

TEST(Arena, LargeAllocationsZeroWhenAsked) {
  ta_arena_t *a = ta_arenas[0];
  char *p = (char *)ta_arena_alloc_large(a, 300000, 16, false);
  ASSERT_NE(p, nullptr);
  memset(p, 0xff, 300000);
  ta_arena_free_large(ta_pagemap_lookup(p));
  char *q = (char *)ta_arena_alloc_large(a, 300000, 16, true);
  for (size_t i = 0; i < 300000; i++) ASSERT_EQ(q[i], 0);
  ta_arena_free_large(ta_pagemap_lookup(q));
}

}  // namespace
