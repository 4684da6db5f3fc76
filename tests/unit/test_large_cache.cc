// The arenas' caches of freed large blocks, on the fake OS: reuse of the same page count only,
// the bounds, the kinds of requests that bypass it, the trim, and how the heap counts cached
// blocks.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "fake_heap.h"
#include "fake_os.h"

#include "arena.h"
#include "conf.h"

namespace {

FakeOs *fake;

testing::Environment *const env = testing::AddGlobalTestEnvironment(new FakeHeapEnv(&fake, -1));

ta_arena_t *arena() { return ta_arenas[0]; }
ta_large_cache_t *cache() { return &arena()->large_cache; }
size_t cached_bytes() { return ta_atomic_load(&cache()->bytes, ta_mo_relaxed); }
uint64_t live_bytes() { return ta_atomic_load(&ta_node_heaps[arena()->node]->large_live_bytes, ta_mo_relaxed); }
size_t page() { return ta_hpa_geometry.page_size; }
size_t active_pages() {
  ta_hpa_stats_t s;
  ta_hpa_get_stats(arena()->hpa, &s);
  return s.active_pages;
}

void *alloc(size_t size, size_t align = 16, bool zero = false) {
  void *p = ta_arena_alloc_large(arena(), size, align, zero);
  EXPECT_NE(p, nullptr);
  return p;
}
void release(void *p) { ta_arena_free_large(ta_pagemap_lookup(p)); }

class LargeCache : public testing::Test {
 protected:
  // Each test starts with an empty cache.
  void SetUp() override { ta_arena_purge_step(fake->now, 0, 0, true); }
  void TearDown() override { ta_arena_purge_step(fake->now, 0, 0, true); }
};

TEST_F(LargeCache, TheNextRequestOfTheSamePageCountGetsTheBlockBack) {
  ASSERT_EQ(cache()->max_block, (size_t)ta_conf.large_cache_kb << 8) << "a quarter of the bound";
  size_t size = 256 << 10;
  char *p = (char *)alloc(size);
  p[0] = 42;
  size_t active = active_pages();
  uint64_t hits = ta_atomic_load(&cache()->hits, ta_mo_relaxed);
  release(p);
  EXPECT_EQ(cached_bytes(), size);
  EXPECT_TRUE(ta_pagemap_lookup(p)->cached) << "a freed block, for the double-free check";
  EXPECT_EQ(active_pages(), active) << "kept whole, not given back";
  // A request in the same page count (not the same byte count) takes it.
  char *q = (char *)alloc(size - 100);
  EXPECT_EQ(q, p);
  EXPECT_EQ(q[0], 42) << "the same pages, not fresh ones";
  EXPECT_FALSE(ta_pagemap_lookup(q)->cached);
  EXPECT_EQ(ta_pagemap_lookup(q)->usable, size) << "the usable size is the page count's";
  EXPECT_EQ(cached_bytes(), 0u);
  EXPECT_EQ(ta_atomic_load(&cache()->hits, ta_mo_relaxed), hits + 1);
  EXPECT_EQ(active_pages(), active);
  release(q);
}

TEST_F(LargeCache, AnotherSizeMissesAndTheOldestBlockGoesBackFirst) {
  size_t size = 256 << 10;
  void *p = alloc(size);
  release(p);
  size_t active = active_pages();
  // One page more: not served from the cache, whose oldest block goes back to the page
  // allocator before the request, so the request can take its pages.
  void *q = alloc(size + page());
  EXPECT_EQ(cached_bytes(), 0u);
  EXPECT_TRUE(ta_pagemap_lookup(p) == nullptr || p == q) << "p's record left with its block";
  EXPECT_EQ(active_pages(), active + 1) << "its pages went back, and one more page came out";
  release(q);
}

TEST_F(LargeCache, StaysWithinItsBounds) {
  size_t max = cache()->max_bytes, block = cache()->max_block;
  // Blocks above a quarter of the bound are never kept.
  void *big = alloc(block + page());
  release(big);
  EXPECT_EQ(cached_bytes(), 0u);
  // Twice the bound's worth of the largest blocks kept: at most the bound stays, the newest.
  std::vector<void *> ps;
  for (size_t i = 0; i < 2 * max / block; i++) ps.push_back(alloc(block));
  for (void *p : ps) release(p);
  EXPECT_EQ(cached_bytes(), max);
  EXPECT_EQ(cache()->n, max / block);
  EXPECT_EQ(cache()->slot[cache()->n - 1]->addr, ps.back()) << "the newest is kept";
  // At most TA_LARGE_CACHE_SLOTS blocks, however small.
  ps.clear();
  for (size_t i = 0; i < 2 * TA_LARGE_CACHE_SLOTS; i++) ps.push_back(alloc(100 << 10));
  for (void *p : ps) release(p);
  EXPECT_EQ(cache()->n, (unsigned)TA_LARGE_CACHE_SLOTS);
  EXPECT_LE(cached_bytes(), max);
}

TEST_F(LargeCache, RequestsItDoesNotServeDrainItFirst) {
  size_t size = 128 << 10;
  uint64_t hits = ta_atomic_load(&cache()->hits, ta_mo_relaxed);
  char *p = (char *)alloc(size);
  memset(p, 0xff, size);
  release(p);
  // calloc: the block must read zero, so it is not served from the cache (whose block keeps
  // its bytes), but the cached block goes back first and its pages may serve it, zeroed.
  char *z = (char *)alloc(size, 16, true);
  for (size_t i = 0; i < size; i += 512) ASSERT_EQ(z[i], 0);
  EXPECT_EQ(cached_bytes(), 0u);
  // An alignment above the page: never served from the cache either.
  size_t align = 4 * page();
  char *a = (char *)alloc(size, align);
  EXPECT_EQ((uintptr_t)a % align, 0u);
  release(a);
  EXPECT_EQ(cached_bytes(), size) << "an aligned block is kept when freed, like any other";
  char *big = (char *)alloc(cache()->max_block * 2);
  EXPECT_EQ(cached_bytes(), 0u) << "a block too large for the cache drains it too";
  EXPECT_EQ(ta_atomic_load(&cache()->hits, ta_mo_relaxed), hits);
  release(big);
  release(z);
}

TEST_F(LargeCache, AMissGivesBackAtLeastTheRequestsPages) {
  // Four blocks cached; a request of two of their sizes plus one page misses and gives back
  // the oldest until as many pages as it asks for have gone back: three blocks. (An eighth of
  // the largest cached block: a whole number of pages at 4, 16 and 64 KiB.)
  size_t small = cache()->max_block / 8;
  std::vector<void *> ps;
  for (int i = 0; i < 4; i++) ps.push_back(alloc(small));
  for (void *p : ps) release(p);
  ASSERT_EQ(cache()->n, 4u);
  void *q = alloc(2 * small + page());
  EXPECT_EQ(cache()->n, 1u) << "three blocks give back at least 2 blocks and a page";
  EXPECT_EQ(cache()->slot[0]->addr, ps.back()) << "the newest stays";
  release(q);
}

TEST_F(LargeCache, TheTrimReturnsBlocksUnusedSinceBeforeItsTime) {
  size_t size = 192 << 10;  // whole pages at 4, 16 and 64 KiB
  ta_atomic_store(&ta_arena_clock, (uint64_t)1000, ta_mo_relaxed);
  void *old = alloc(size);
  void *young = alloc(size + page());
  release(old);
  ta_atomic_store(&ta_arena_clock, (uint64_t)2000, ta_mo_relaxed);
  release(young);
  size_t active = active_pages();
  ta_arena_purge_step(fake->now, 1500, 0, false);
  EXPECT_EQ(cached_bytes(), size + page()) << "only the block cached before 1500 went back";
  EXPECT_EQ(active_pages(), active - size / page());
  ta_arena_purge_step(fake->now, 0, 0, true);
  EXPECT_EQ(cached_bytes(), 0u) << "a forced step (tieralloc_purge, malloc_trim) empties it";
}

TEST_F(LargeCache, CachedBlocksCountAsFreedOnlyInTheStatistics) {
  // The heap's counter keeps a cached block (large_cache.h); it drops when the block leaves.
  size_t size = 192 << 10;
  uint64_t live0 = live_bytes();
  void *p = alloc(size);
  EXPECT_EQ(live_bytes(), live0 + size);
  uint64_t puts = ta_atomic_load(&cache()->puts, ta_mo_relaxed);
  release(p);
  EXPECT_EQ(live_bytes(), live0 + size);
  EXPECT_EQ(ta_atomic_load(&cache()->puts, ta_mo_relaxed), puts + 1);
  void *q = alloc(size);
  EXPECT_EQ(live_bytes(), live0 + size);
  release(q);
  ta_arena_purge_step(fake->now, 0, 0, true);
  EXPECT_EQ(live_bytes(), live0);
}

TEST_F(LargeCache, BlocksWithPagesOffTheirNodeAreNotKept) {
  // large.c purges such a block's pages on free so its next owner does not inherit far pages.
  void *p = alloc(256 << 10);
  ta_extent_t *ext = ta_pagemap_lookup(p);
  ext->strayed = true;
  release(p);
  EXPECT_EQ(cached_bytes(), 0u);
  void *q = alloc(256 << 10);
  ext = ta_pagemap_lookup(q);
  ext->tier = (uint16_t)(ext->node + 1);
  EXPECT_FALSE(ta_large_cache_fits(cache(), ext));
  ext->tier = ext->node;
  release(q);
}

TEST(LargeCacheOff, ZeroKeepsNothing) {
  ta_large_cache_t off;
  ta_large_cache_init(&off, 0);
  void *p = alloc(128 << 10);
  EXPECT_FALSE(ta_large_cache_fits(&off, ta_pagemap_lookup(p)));
  ta_extent_t *out[TA_LARGE_CACHE_SLOTS];
  EXPECT_EQ(ta_large_cache_take(&off, 32), nullptr);
  EXPECT_EQ(ta_large_cache_evict(&off, 32, out), 0u);
  release(p);
}

}  // namespace
