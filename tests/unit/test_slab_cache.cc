// The arenas' caches of emptied slabs, on the fake OS: reuse, the byte bound, the trim, and
// draining into the page allocator when demand moves to slabs of another shape.
#include <gtest/gtest.h>

#include <vector>

#include "fake_heap.h"
#include "fake_os.h"

#include "arena.h"
#include "conf.h"

namespace {

FakeOs *fake;

testing::Environment *const env = testing::AddGlobalTestEnvironment(new FakeHeapEnv(&fake, 512));

size_t cached(ta_arena_t *a) { return ta_atomic_load(&a->slab_cache.bytes, ta_mo_relaxed); }

// The first class of at least `size` bytes.
unsigned class_of(size_t size) { return ta_size_class_of(size); }

// A class whose slabs have another page count than `cls`'s (the geometry depends on the page
// size: 4, 16 or 64 KiB).
unsigned other_shape(unsigned cls) {
  for (unsigned c = class_of(4096); c < TA_NCLASSES; c++)
    if (ta_class_info[c].slab_pages != ta_class_info[cls].slab_pages) return c;
  return TA_NCLASSES;
}


void drop(unsigned cls, std::vector<void *> &objs) {
  ta_arena_flush(cls, objs.data(), (unsigned)objs.size());
}

void empty_cache(ta_arena_t *a) { ta_slab_cache_trim(&a->slab_cache, a->hpa, 0, true); }

TEST(SlabCache, ABatchOfLargeObjectsReusesItsSlabs) {
  ta_arena_t *a = ta_arenas[0];
  empty_cache(a);
  unsigned cls = class_of(8192);
  auto objs = fake_heap_take(a, cls, 32);
  drop(cls, objs);
  // One emptied slab is the bin's spare; the others are in the cache, within its bound.
  EXPECT_GT(cached(a), 0u);
  EXPECT_LE(cached(a), (size_t)ta_conf.slab_cache_kb << 10);
  ta_slab_cache_check(&a->slab_cache);
  uint64_t hits = a->slab_cache.hits;
  ta_hpa_stats_t before, after;
  ta_hpa_get_stats(a->hpa, &before);
  auto again = fake_heap_take(a, cls, 32);
  ta_hpa_get_stats(a->hpa, &after);
  EXPECT_GT(a->slab_cache.hits, hits);
  EXPECT_LE(after.active_pages, before.active_pages + 2 * ta_class_info[cls].slab_pages)
      << "the cached slabs served the batch, not fresh pages";
  for (void *p : again) {
    ta_extent_t *e = ta_pagemap_lookup(p);
    ASSERT_NE(e, nullptr);
    ASSERT_EQ(e->size_class, cls);
    ASSERT_EQ(ta_slab_index(e, p) != UINT32_MAX, true);
  }
  drop(cls, again);
  ta_slab_cache_check(&a->slab_cache);
}

TEST(SlabCache, StaysWithinItsBound) {
  ta_arena_t *a = ta_arenas[0];
  empty_cache(a);
  unsigned cls = class_of(32768);
  size_t slab = (size_t)ta_class_info[cls].slab_pages << ta_hpa_geometry.page_shift;
  size_t n = 4 * ((size_t)ta_conf.slab_cache_kb << 10) / ta_class_info[cls].size;
  auto objs = fake_heap_take(a, cls, n);
  uint64_t returned = a->slab_cache.returned;
  drop(cls, objs);
  EXPECT_LE(cached(a), (size_t)ta_conf.slab_cache_kb << 10);
  EXPECT_GT(cached(a) + slab, (size_t)ta_conf.slab_cache_kb << 10) << "filled up to the bound";
  EXPECT_GT(a->slab_cache.returned, returned) << "the oldest went back to the page allocator";
  ta_slab_cache_check(&a->slab_cache);
}

TEST(SlabCache, TrimReturnsOnlySlabsOlderThanTheCutOff) {
  ta_arena_t *a = ta_arenas[1];
  empty_cache(a);
  unsigned cls = class_of(16384);
  auto objs = fake_heap_take(a, cls, 16);
  drop(cls, objs);
  ASSERT_GT(cached(a), 0u);
  ta_arena_purge_step(fake->now, fake->now - 1, 0, false);
  EXPECT_GT(cached(a), 0u) << "slabs emptied after the cut-off stay";
  fake->now += 1'000'000'000;
  ta_arena_purge_step(fake->now, fake->now - 1, 0, false);
  EXPECT_EQ(cached(a), 0u);
  ta_slab_cache_check(&a->slab_cache);
}

TEST(SlabCache, AMissDrainsTheCacheIntoThePageAllocator) {
  ta_arena_t *a = ta_arenas[1];
  empty_cache(a);
  unsigned big = class_of(32768), other = other_shape(big);
  ASSERT_LT(other, (unsigned)TA_NCLASSES);
  auto objs = fake_heap_take(a, big, 24);
  drop(big, objs);
  size_t before = cached(a);
  ASSERT_GT(before, 0u);
  auto others = fake_heap_take(a, other, 1);
  EXPECT_LT(cached(a), before) << "demand for another shape returned cached slabs";
  EXPECT_LE(before - cached(a), ((size_t)ta_class_info[other].slab_pages << ta_hpa_geometry.page_shift) +
                                    ((size_t)ta_class_info[big].slab_pages << ta_hpa_geometry.page_shift))
      << "no more than a slab's worth";
  drop(other, others);
  ta_slab_cache_check(&a->slab_cache);
}

TEST(SlabCache, ASlabIsRecastForAnotherClassOfTheSameShape) {
  ta_arena_t *a = ta_arenas[0];
  empty_cache(a);
  // Two classes whose slabs have the same page count.
  unsigned c1 = TA_NCLASSES, c2 = TA_NCLASSES;
  for (unsigned i = 48; i < TA_NCLASSES && c2 == TA_NCLASSES; i++)
    for (unsigned j = i + 1; j < TA_NCLASSES; j++)
      if (ta_class_info[i].slab_pages == ta_class_info[j].slab_pages) {
        c1 = i;
        c2 = j;
        break;
      }
  ASSERT_LT(c2, (unsigned)TA_NCLASSES) << "no two large classes share a slab shape";
  auto objs = fake_heap_take(a, c1, 4 * ta_class_info[c1].nobjs);
  drop(c1, objs);
  ASSERT_GT(cached(a), 0u);
  uint64_t hits = a->slab_cache.hits;
  auto recast = fake_heap_take(a, c2, 2 * ta_class_info[c2].nobjs);
  EXPECT_GT(a->slab_cache.hits, hits);
  for (void *p : recast) {
    ta_extent_t *e = ta_pagemap_lookup(p);
    ASSERT_EQ(e->size_class, c2);
    ASSERT_EQ(ta_pagemap_entry_class(ta_pagemap_entry(p)), c2) << "free's fast path reads this class";
    ASSERT_EQ(e->nobjs, ta_class_info[c2].nobjs);
    ASSERT_NE(ta_slab_index(e, p), UINT32_MAX);
    memset(p, 0x5a, ta_class_info[c2].size);
  }
  drop(c2, recast);
  ta_slab_cache_check(&a->slab_cache);
}

TEST(SlabCache, ShrinksWhileTakesMostlyMissAndGrowsBackOnReuse) {
  ta_arena_t *a = ta_arenas[1];
  empty_cache(a);
  ta_slab_cache_t *c = &a->slab_cache;
  unsigned big = class_of(32768), other = other_shape(big);
  ASSERT_LT(other, (unsigned)TA_NCLASSES);
  // Slabs empty out as `big` and are wanted as `other`: every take misses.
  for (int round = 0; round < 80 && c->limit == c->max_bytes; round++) {
    // Beyond each bin's spare, three slabs of one shape go into the cache and three of the
    // other shape are asked for, which find none: each miss returns an old slab instead.
    auto objs = fake_heap_take(a, big, 4 * ta_class_info[big].nobjs);
    drop(big, objs);
    auto others = fake_heap_take(a, other, 4 * ta_class_info[other].nobjs);
    drop(other, others);
  }
  EXPECT_LT(c->limit, c->max_bytes) << "a cache that is not reused shrinks";
  EXPECT_LE(cached(a), c->limit);
  ta_slab_cache_check(c);
  // A batch pattern of one class hits again and the bound comes back.
  for (int round = 0; round < 200 && c->limit < c->max_bytes; round++) {
    auto objs = fake_heap_take(a, big, 8);
    drop(big, objs);
  }
  EXPECT_EQ(c->limit, c->max_bytes);
  ta_slab_cache_check(c);
}

TEST(SlabCache, ZeroBytesKeepsNothing) {
  ta_slab_cache_t off;
  ta_slab_cache_init(&off, 0);
  ta_arena_t *a = ta_arenas[0];
  unsigned cls = class_of(8192);
  auto objs = fake_heap_take(a, cls, 1);
  ta_extent_t *e = ta_pagemap_lookup(objs[0]);
  drop(cls, objs);  // the bin keeps it as its spare: take it out of there to hand it over
  ASSERT_EQ(a->bins[cls].spare, e);
  a->bins[cls].spare = nullptr;
  a->bins[cls].stats.nslabs--;
  ta_slab_cache_put(&off, a->hpa, e);
  EXPECT_EQ(ta_atomic_load(&off.bytes, ta_mo_relaxed), 0u);
  EXPECT_EQ(ta_pagemap_lookup(objs[0]), nullptr) << "returned to the page allocator at once";
}

}  // namespace
