// Slab shapes on the fake OS: a class above 4 KiB with few objects out takes short slabs, a busy
// one the usual long ones; each slab's record carries its own shape (object count, the
// object-start bound free's fast path reads), also when the slab cache recasts an emptied slab
// for another class; and the bin's object count, which the stats' utilization divides by,
// follows the shapes.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "fake_heap.h"
#include "fake_os.h"

#include "arena.h"
#include "conf.h"

namespace {

FakeOs *fake;
// No slab cache: the fixture's bins use heaps of their own, and an emptied slab must go back to
// its own heap. The recast test turns arena 0's cache on.
testing::Environment *const env = testing::AddGlobalTestEnvironment(new FakeHeapEnv(&fake, 0));

// The first class of at least `size` bytes with a shorter sparse shape.
unsigned sparse_class(size_t size) {
  for (unsigned c = ta_size_class_of(size); c < TA_NCLASSES; c++)
    if (ta_class_info[c].sparse_pages < ta_class_info[c].slab_pages) return c;
  return TA_NCLASSES;
}

class Sparse : public testing::Test {
 protected:
  ta_hpa_t hpa;
  ta_bin_t bin;
  unsigned cls = 0;

  void SetUp() override {
    ASSERT_EQ(ta_hpa_init(&hpa, 0, 1'000'000'000, 50), 0);
    memset(&bin, 0, sizeof bin);  // stats included: ta_bin_init leaves them to the arena
    ta_bin_init(&bin);
    ta_conf.sparse_slabs = 8;
    cls = sparse_class(7936);
    if (cls >= TA_NCLASSES) GTEST_SKIP() << "no class with a short shape at this page size";
  }
  void TearDown() override { ta_conf.sparse_slabs = 0; }  // fake_heap_conf's setting
  const ta_class_info_t &ci() const { return ta_class_info[cls]; }

  std::vector<void *> fill(size_t n) { return fake_heap_fill_bin(&bin, &hpa, cls, n); }
  void put(void *p) { fake_heap_put_bin(&bin, &hpa, p); }
  // The slabs under objs, once each, in the order first seen.
  static std::vector<ta_extent_t *> slabs_of(const std::vector<void *> &objs) {
    std::vector<ta_extent_t *> out;
    for (void *p : objs) {
      ta_extent_t *e = ta_pagemap_lookup(p);
      if (out.empty() || out.back() != e) out.push_back(e);
    }
    return out;
  }
};

TEST_F(Sparse, AClassWithFewObjectsOutTakesShortSlabs) {
  auto objs = fill(1);
  ta_extent_t *slab = ta_pagemap_lookup(objs[0]);
  EXPECT_EQ(slab->npages, ci().sparse_pages);
  EXPECT_EQ(slab->nobjs, ci().sparse_nobjs);
  EXPECT_EQ(slab->start_limit, ta_size_class_start_limit(&ci(), ci().sparse_nobjs));
  size_t bytes = (size_t)ci().sparse_pages << ta_hpa_geometry.page_shift;
  EXPECT_EQ(ta_pagemap_lookup((char *)slab->addr + bytes - 1), slab);
  EXPECT_NE(ta_pagemap_lookup((char *)slab->addr + bytes), slab) << "the slab ends with its short shape";
  EXPECT_EQ(bin.stats.objs, ci().sparse_nobjs);
  put(objs[0]);
}

TEST_F(Sparse, ABusyClassTakesTheUsualShape) {
  // Up to sparse_slabs usual slabs' worth out, new slabs are short; from then on, long.
  size_t threshold = (size_t)ta_conf.sparse_slabs * ci().nobjs;
  auto objs = fill(threshold);
  for (ta_extent_t *s : slabs_of(objs)) ASSERT_EQ(s->nobjs, ci().sparse_nobjs);
  auto more = fill(2 * ci().nobjs);
  auto slabs = slabs_of(more);
  EXPECT_EQ(slabs.back()->nobjs, ci().nobjs);
  EXPECT_EQ(slabs.back()->npages, ci().slab_pages);
  EXPECT_EQ(slabs.back()->start_limit, ta_size_class_start_limit(&ci(), ci().nobjs));
  // The bin counts each slab's own objects.
  uint64_t objs_in_slabs = 0;
  for (ta_extent_t *s : slabs_of(objs)) objs_in_slabs += s->nobjs;
  for (ta_extent_t *s : slabs) objs_in_slabs += s->nobjs;
  EXPECT_EQ(bin.stats.objs, objs_in_slabs);
  for (void *p : more) put(p);
  for (void *p : objs) put(p);
  EXPECT_LE(bin.stats.nslabs, 1u) << "only the spare stays";
  EXPECT_EQ(bin.stats.objs, bin.spare ? bin.spare->nobjs : 0u);
}

TEST_F(Sparse, ZeroKeepsTheUsualShape) {
  ta_conf.sparse_slabs = 0;
  auto objs = fill(1);
  EXPECT_EQ(ta_pagemap_lookup(objs[0])->nobjs, ci().nobjs);
  put(objs[0]);
}

TEST_F(Sparse, TheTailOfAShortSlabIsNoObject) {
  // Where the usual shape's next object would start, past the short slab's last one: inside
  // the slab's pages (a tail is left), and no object for either test free relies on.
  auto objs = fill(1);
  ta_extent_t *slab = ta_pagemap_lookup(objs[0]);
  char *tail = (char *)slab->addr + (size_t)slab->nobjs * ci().size;
  if (tail == (char *)slab->addr + ((size_t)slab->npages << ta_hpa_geometry.page_shift))
    GTEST_SKIP() << "no tail in this class's short slab";
  ASSERT_EQ(ta_pagemap_lookup(tail), slab);
  EXPECT_FALSE(ta_slab_is_object_start(slab, tail));
  EXPECT_EQ(ta_slab_index(slab, tail), UINT32_MAX);
  EXPECT_TRUE(ta_slab_is_object_start(slab, objs[0]));
  put(objs[0]);
}

TEST(SparseCache, ARecastSlabTakesTheNewShape) {
  // A short slab emptied into the arena's slab cache, taken by a class whose usual shape has
  // the same page count (and whose free map fits the record): the record gets that class's
  // object count and bound.
  ta_arena_t *a = ta_arenas[0];
  unsigned from = TA_NCLASSES, to = TA_NCLASSES;
  for (unsigned i = 0; i < TA_NCLASSES && to == TA_NCLASSES; i++) {
    if (ta_class_info[i].sparse_pages == ta_class_info[i].slab_pages) continue;
    for (unsigned j = 0; j < TA_NCLASSES; j++)
      if (j != i && ta_class_info[j].slab_pages == ta_class_info[i].sparse_pages &&
          ta_class_info[j].nobjs != ta_class_info[i].sparse_nobjs &&
          TA_BITMAP_WORDS(ta_class_info[j].nobjs) <= TA_BITMAP_WORDS(ta_class_info[i].sparse_nobjs)) {
        from = i;
        to = j;
        break;
      }
  }
  if (to >= TA_NCLASSES) GTEST_SKIP() << "no usual shape has a short shape's page count at this page size";
  ta_slab_cache_init(&a->slab_cache, 1 << 20);
  ta_conf.sparse_slabs = 8;
  // Two short slabs' worth, so one empties into the cache once the bin keeps its spare.
  auto objs = fake_heap_take(a, from, 2 * ta_class_info[from].sparse_nobjs);
  ASSERT_EQ(ta_pagemap_lookup(objs[0])->nobjs, ta_class_info[from].sparse_nobjs);
  uint64_t hits = a->slab_cache.hits;
  ta_arena_flush(from, objs.data(), (unsigned)objs.size());
  ta_conf.sparse_slabs = 0;
  auto recast = fake_heap_take(a, to, 1);
  EXPECT_GT(a->slab_cache.hits, hits) << "taken from the cache";
  ta_extent_t *e = ta_pagemap_lookup(recast[0]);
  EXPECT_EQ(e->size_class, to);
  EXPECT_EQ(e->nobjs, ta_class_info[to].nobjs);
  EXPECT_EQ(e->start_limit, ta_size_class_start_limit(&ta_class_info[to], ta_class_info[to].nobjs));
  char *last = (char *)e->addr + (size_t)(e->nobjs - 1) * ta_class_info[to].size;
  EXPECT_TRUE(ta_slab_is_object_start(e, last));
  ta_arena_flush(to, recast.data(), (unsigned)recast.size());
}

}  // namespace
