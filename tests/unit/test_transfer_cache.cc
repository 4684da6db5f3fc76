// The arenas' transfer caches, on the fake OS: a flush and a refill pass objects without
// touching the bins, the per-class and per-arena bounds, eviction of the class used longest
// ago, objects of another arena going to that arena's transfer cache, and the drain of idle classes by the
// purge step.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "fake_heap.h"
#include "fake_os.h"

#include "arena.h"
#include "conf.h"

namespace {

FakeOs *fake;
constexpr unsigned kMaxObjects = 64;
constexpr size_t kMaxBytes = 256 << 10;

class Env : public testing::Environment {
 public:
  void SetUp() override {
    fake_heap_conf();
    ta_conf.transfer_cache_kb = kMaxBytes >> 10;
    ta_conf.transfer_cache_objects = kMaxObjects;
    fake = new FakeOs();
    fake->install();
    fake_heap_boot_one_node(3);  // a third arena for a batch of two other arenas' objects
  }
};
testing::Environment *const env = testing::AddGlobalTestEnvironment(new Env);


class TransferCache : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(ta_narenas, 2u);
    a = ta_arenas[0];
    for (unsigned i = 0; i < ta_narenas; i++) ta_transfer_cache_trim(&ta_arenas[i]->transfer, 0, true);
    ta_atomic_store(&ta_arena_clock, uint64_t{1'000'000'000}, ta_mo_relaxed);
  }
  void TearDown() override {
    for (unsigned i = 0; i < ta_narenas; i++) {
      ta_transfer_cache_check(&ta_arenas[i]->transfer);
      ta_transfer_cache_trim(&ta_arenas[i]->transfer, 0, true);
    }
  }
  size_t held_bytes() { return ta_atomic_load(&a->transfer.bytes, ta_mo_relaxed); }
  ta_arena_t *a = nullptr;
};

TEST_F(TransferCache, AFlushAndARefillPassObjectsWithoutTheBin) {
  unsigned cls = ta_size_class_of(1024);
  std::vector<void *> objs = fake_heap_take(a, cls, 32);
  ta_bin_stats_t before = a->bins[cls].stats;
  ta_arena_release(a, cls, objs.data(), 32);
  EXPECT_EQ(ta_transfer_cache_count(&a->transfer, cls), 32u);
  EXPECT_EQ(held_bytes(), 32u * ta_class_info[cls].size);
  EXPECT_TRUE(ta_transfer_cache_holds(&a->transfer, cls, objs[5]));
  std::vector<void *> back(32);
  EXPECT_EQ(ta_arena_fill(a, cls, back.data(), 32, 32), 32u);
  EXPECT_EQ(a->bins[cls].stats.nfree, before.nfree);      // nothing went back to a slab
  EXPECT_EQ(a->bins[cls].stats.nmalloc, before.nmalloc);  // nothing came out of one
  EXPECT_EQ(a->bins[cls].stats.live, before.live);
  EXPECT_EQ(held_bytes(), 0u);
  EXPECT_FALSE(ta_transfer_cache_holds(&a->transfer, cls, objs[5]));
  std::sort(objs.begin(), objs.end());
  std::sort(back.begin(), back.end());
  EXPECT_EQ(objs, back);
  ta_arena_flush(cls, back.data(), 32);
}

TEST_F(TransferCache, ARefillTakesTheRestFromTheBin) {
  unsigned cls = ta_size_class_of(256);
  std::vector<void *> objs = fake_heap_take(a, cls, 10);
  ta_arena_release(a, cls, objs.data(), 10);
  uint64_t nmalloc = a->bins[cls].stats.nmalloc;
  std::vector<void *> out(30);
  EXPECT_EQ(ta_arena_fill(a, cls, out.data(), 30, 30), 30u);
  EXPECT_EQ(a->bins[cls].stats.nmalloc, nmalloc + 20);
  EXPECT_EQ(ta_transfer_cache_count(&a->transfer, cls), 0u);
  ta_arena_flush(cls, out.data(), 30);
}

TEST_F(TransferCache, ARefillTakesUpToMostFromTheTransferCacheButOnlyNFromTheBin) {
  unsigned cls = ta_size_class_of(4096);
  std::vector<void *> objs = fake_heap_take(a, cls, 10);
  ta_arena_release(a, cls, objs.data(), 10);
  uint64_t nmalloc = a->bins[cls].stats.nmalloc;
  std::vector<void *> out(16);
  EXPECT_EQ(ta_arena_fill(a, cls, out.data(), 4, 8), 8u);  // a whole small stack
  EXPECT_EQ(a->bins[cls].stats.nmalloc, nmalloc);
  EXPECT_EQ(ta_arena_fill(a, cls, out.data() + 8, 4, 8), 4u);  // 2 left there, 2 from the bin
  EXPECT_EQ(a->bins[cls].stats.nmalloc, nmalloc + 2);
  ta_arena_flush(cls, out.data(), 12);
}

TEST_F(TransferCache, AClassHoldsAtMostItsObjectBound) {
  unsigned cls = ta_size_class_of(64);
  std::vector<void *> objs = fake_heap_take(a, cls, 100);
  uint64_t nfree = a->bins[cls].stats.nfree;
  ta_arena_release(a, cls, objs.data(), 100);
  EXPECT_EQ(ta_transfer_cache_count(&a->transfer, cls), kMaxObjects);
  EXPECT_EQ(a->bins[cls].stats.nfree, nfree + 100 - kMaxObjects);  // the rest went to the bin
  // The ones kept are the first pushed (the oldest of a thread cache's stack).
  EXPECT_TRUE(ta_transfer_cache_holds(&a->transfer, cls, objs[0]));
  EXPECT_FALSE(ta_transfer_cache_holds(&a->transfer, cls, objs[99]));
}

TEST_F(TransferCache, NoClassHoldsMoreThanTheArenasBytes) {
  unsigned cls = ta_size_class_of(32768);
  EXPECT_EQ(a->transfer.classes[cls].cap, kMaxBytes / 32768);
  std::vector<void *> objs = fake_heap_take(a, cls, 20);
  ta_arena_release(a, cls, objs.data(), 20);
  EXPECT_EQ(ta_transfer_cache_count(&a->transfer, cls), kMaxBytes / 32768);
  EXPECT_LE(held_bytes(), kMaxBytes);
}

TEST_F(TransferCache, APushOverTheByteBoundEvictsTheClassUsedLongestAgo) {
  unsigned old_cls = ta_size_class_of(16384), mid_cls = ta_size_class_of(4096);
  unsigned new_cls = ta_size_class_of(32768);
  std::vector<void *> old_objs = fake_heap_take(a, old_cls, 6);   // 96 KiB
  ta_arena_release(a, old_cls, old_objs.data(), 6);
  ta_atomic_store(&ta_arena_clock, uint64_t{2'000'000'000}, ta_mo_relaxed);
  std::vector<void *> mid_objs = fake_heap_take(a, mid_cls, 8);   // 32 KiB, used later
  ta_arena_release(a, mid_cls, mid_objs.data(), 8);
  ta_atomic_store(&ta_arena_clock, uint64_t{3'000'000'000}, ta_mo_relaxed);
  std::vector<void *> new_objs = fake_heap_take(a, new_cls, 6);   // 192 KiB: 320 > 256 KiB
  ta_arena_release(a, new_cls, new_objs.data(), 6);
  EXPECT_EQ(ta_transfer_cache_count(&a->transfer, old_cls), 0u);  // evicted first
  EXPECT_EQ(ta_transfer_cache_count(&a->transfer, mid_cls), 8u);  // enough room without it
  EXPECT_EQ(ta_transfer_cache_count(&a->transfer, new_cls), 6u);
  EXPECT_EQ(held_bytes(), 8u * 4096 + 6u * 32768);
}

// A consumer in arena a freeing what a producer in arena b allocated: the batch goes to b's
// transfer cache (never a's: free's checks ask the owner's), and b's next refill takes it back
// without touching a slab.
TEST_F(TransferCache, ObjectsOfAnotherArenaGoToThatArenasTransferCache) {
  ta_arena_t *b = ta_arenas[1];
  unsigned cls = ta_size_class_of(512);
  std::vector<void *> objs = fake_heap_take(b, cls, 16);
  ta_bin_stats_t before = b->bins[cls].stats;
  ta_arena_release(a, cls, objs.data(), 16);
  EXPECT_EQ(ta_transfer_cache_count(&a->transfer, cls), 0u);
  EXPECT_EQ(ta_transfer_cache_count(&b->transfer, cls), 16u);
  EXPECT_TRUE(ta_transfer_cache_holds(&b->transfer, cls, objs[3]));
  EXPECT_EQ(b->bins[cls].stats.nfree, before.nfree);
  std::vector<void *> back(16);
  EXPECT_EQ(ta_arena_fill(b, cls, back.data(), 16, 16), 16u);
  EXPECT_EQ(b->bins[cls].stats.nmalloc, before.nmalloc);
  std::sort(objs.begin(), objs.end());
  std::sort(back.begin(), back.end());
  EXPECT_EQ(objs, back);
  ta_arena_flush(cls, back.data(), 16);
}

// A batch mixing two other arenas' objects goes to their bins, and what the transfer cache of
// the owner cannot take (its per-class bound) too.
TEST_F(TransferCache, MixedOrOverflowingBatchesOfOtherArenasGoToTheirBins) {
  ASSERT_GE(ta_narenas, 3u);
  ta_arena_t *b = ta_arenas[1], *c = ta_arenas[2];
  unsigned cls = ta_size_class_of(512);
  std::vector<void *> objs = fake_heap_take(b, cls, 8), more = fake_heap_take(c, cls, 8);
  objs.insert(objs.end(), more.begin(), more.end());
  uint64_t nfree_b = b->bins[cls].stats.nfree, nfree_c = c->bins[cls].stats.nfree;
  ta_arena_release(a, cls, objs.data(), (unsigned)objs.size());
  EXPECT_EQ(ta_transfer_cache_count(&b->transfer, cls), 0u);
  EXPECT_EQ(ta_transfer_cache_count(&c->transfer, cls), 0u);
  EXPECT_EQ(b->bins[cls].stats.nfree, nfree_b + 8);
  EXPECT_EQ(c->bins[cls].stats.nfree, nfree_c + 8);

  std::vector<void *> many = fake_heap_take(b, cls, kMaxObjects + 10);
  nfree_b = b->bins[cls].stats.nfree;
  for (unsigned done = 0; done < many.size(); done += 64)
    ta_arena_release(a, cls, many.data() + done, std::min<unsigned>(64, (unsigned)many.size() - done));
  EXPECT_EQ(ta_transfer_cache_count(&b->transfer, cls), kMaxObjects);
  EXPECT_EQ(b->bins[cls].stats.nfree, nfree_b + 10);
}

TEST_F(TransferCache, ThePurgeStepDrainsClassesIdleSinceTheTrimTime) {
  unsigned cls = ta_size_class_of(8192);
  uint64_t t = 5'000'000'000;
  ta_atomic_store(&ta_arena_clock, t, ta_mo_relaxed);
  std::vector<void *> objs = fake_heap_take(a, cls, 8);
  uint64_t live = a->bins[cls].stats.live;
  ta_arena_release(a, cls, objs.data(), 8);
  EXPECT_EQ(ta_atomic_load(&a->transfer.classes[cls].last_used, ta_mo_relaxed), t);
  // Used at t: a step whose trim time is before t keeps it.
  ta_arena_purge_step(t + 1000, t - 1, 0, false);
  EXPECT_EQ(ta_transfer_cache_count(&a->transfer, cls), 8u);
  EXPECT_EQ(a->bins[cls].stats.live, live);
  // Not used since: the next one returns every object to its slab.
  ta_arena_purge_step(t + 2000, t, 0, false);
  EXPECT_EQ(ta_transfer_cache_count(&a->transfer, cls), 0u);
  EXPECT_EQ(a->bins[cls].stats.live, live - 8);
  EXPECT_EQ(held_bytes(), 0u);
}

TEST_F(TransferCache, APopKeepsAClassInUse) {
  unsigned cls = ta_size_class_of(2048);
  uint64_t t = 7'000'000'000;
  ta_atomic_store(&ta_arena_clock, t, ta_mo_relaxed);
  std::vector<void *> objs = fake_heap_take(a, cls, 8);
  ta_arena_release(a, cls, objs.data(), 8);
  ta_atomic_store(&ta_arena_clock, t + 10, ta_mo_relaxed);
  void *one;
  EXPECT_EQ(ta_arena_fill(a, cls, &one, 1, 1), 1u);
  ta_arena_purge_step(t + 20, t + 5, 0, false);
  EXPECT_EQ(ta_transfer_cache_count(&a->transfer, cls), 7u);
  ta_arena_flush(cls, &one, 1);
}

TEST_F(TransferCache, AForcedPurgeDrainsEverything) {
  unsigned c1 = ta_size_class_of(128), c2 = ta_size_class_of(20000);
  std::vector<void *> o1 = fake_heap_take(a, c1, 40), o2 = fake_heap_take(a, c2, 3);
  ta_arena_release(a, c1, o1.data(), 40);
  ta_arena_release(a, c2, o2.data(), 3);
  ta_arena_purge_step(ta_atomic_load(&ta_arena_clock, ta_mo_relaxed), 0, 0, true);
  EXPECT_EQ(ta_transfer_cache_count(&a->transfer, c1), 0u);
  EXPECT_EQ(ta_transfer_cache_count(&a->transfer, c2), 0u);
  EXPECT_EQ(held_bytes(), 0u);
}

TEST(TransferCacheOff, ZeroBoundsKeepNothing) {
  ta_transfer_cache_t xc;
  ASSERT_EQ(ta_transfer_cache_init(&xc, 0, 64), 0);
  void *p = ta_arenas[0];  // never dereferenced: a push that is refused copies nothing
  EXPECT_EQ(ta_transfer_cache_push(&xc, 3, &p, 1), 0u);
  ASSERT_EQ(ta_transfer_cache_init(&xc, 1 << 20, 0), 0);
  EXPECT_EQ(ta_transfer_cache_push(&xc, 3, &p, 1), 0u);
  void *out;
  EXPECT_EQ(ta_transfer_cache_pop(&xc, 3, &out, 1), 0u);
}

}  // namespace
