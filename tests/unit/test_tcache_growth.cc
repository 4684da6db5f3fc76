// Thread-cache stacks that grow under dense traffic, on the fake OS and its clock: a class whose
// refills and flushes come back to back grows until a batch fits, one whose slow paths are far
// apart or all of one kind keeps its base, and a grown class goes back down when it goes idle or
// is emptied.
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "fake_heap.h"
#include "fake_os.h"

#include "conf.h"
#include "tcache.h"

namespace {

FakeOs *fake;

testing::Environment *const env = testing::AddGlobalTestEnvironment(new FakeHeapEnv(&fake, -1));

ta_tcache_t *cache() {
  static bool booted = ta_tcache_boot(true) == 0;
  EXPECT_TRUE(booted);
  ta_tcache_t *tc = ta_tcache_get();
  EXPECT_NE(tc, nullptr);
  return tc;
}

// malloc's and free's paths for a small class, the fast one then the slow one, with the clock
// moving `gap_ns` on every slow-path call.
void *take(ta_tcache_t *tc, unsigned cls, uint64_t gap_ns) {
  void *p = ta_tcache_pop(tc, cls);
  if (p) return p;
  fake->now += gap_ns;
  p = ta_tcache_refill(tc, cls);
  EXPECT_NE(p, nullptr);
  return p;
}

void give(ta_tcache_t *tc, unsigned cls, void *p, uint64_t gap_ns) {
  ta_tcache_mark(p, ta_tcache_free_mark);
  if (ta_tcache_push(tc, cls, p)) return;
  fake->now += gap_ns;
  ta_tcache_flush_push(tc, cls, p);
}

// One batch: n objects taken, then given back in the order taken. Returns the slow-path calls
// it made.
uint64_t batch(ta_tcache_t *tc, unsigned cls, size_t n, uint64_t gap_ns) {
  uint64_t before = tc->slow_calls;
  std::vector<void *> objs(n);
  for (auto &p : objs) p = take(tc, cls, gap_ns);
  for (void *p : objs) give(tc, cls, p, gap_ns);
  return tc->slow_calls - before;
}

// From 2 KiB up, so the base stack is below a batch under every CPU profile's budget (at most
// 64 KiB); the give half of each batch drains the stack (TcacheDrain below) until it grows.
class TcacheGrowthBySize : public testing::TestWithParam<size_t> {};

TEST_P(TcacheGrowthBySize, DenseBatchesGrowTheClassUntilABatchFits) {
  ta_tcache_t *tc = cache();
  unsigned cls = ta_size_class_of(GetParam());
  uint32_t base = tc->bins[cls].max;
  ASSERT_LT(base, 64u) << "the class already holds a batch";
  EXPECT_GT(batch(tc, cls, 64, 100), 0u);
  for (int i = 0; i < 20; i++) batch(tc, cls, 64, 100);
  EXPECT_GE(tc->bins[cls].max, 64u);
  EXPECT_EQ(batch(tc, cls, 64, 100), 0u) << "a batch of 64 still misses the cache";
  // The objects moved to the grown array are still found where free's slow path looks.
  void *p = take(tc, cls, 100);
  give(tc, cls, p, 100);
  EXPECT_TRUE(ta_tcache_holds(tc, cls, p));
  ta_tcache_flush_self();
  EXPECT_EQ(tc->bins[cls].max, base) << "emptying the cache left the class grown";
  EXPECT_EQ(tc->bins[cls].count, 0u);
}

INSTANTIATE_TEST_SUITE_P(Sizes, TcacheGrowthBySize, testing::Values(2048, 4096, 6144, 16384));

TEST(TcacheGrowth, SparseSlowPathsKeepTheBase) {
  ta_tcache_t *tc = cache();
  unsigned cls = ta_size_class_of(8192);
  uint32_t base = tc->bins[cls].max;
  // 20 us between slow paths: a thread that works between its allocations.
  for (int i = 0; i < 40; i++) batch(tc, cls, 64, 20'000);
  // At most the base: each batch ends in a run of flushes, which drains the stack below it.
  EXPECT_LE(tc->bins[cls].max, base);
  ta_tcache_flush_self();
}

// A consumer: a class the thread only frees keeps half its base stack and empties it whole,
// so the objects go back to the threads that allocate them; allocating again restores the base.
TEST(TcacheDrain, AThreadThatOnlyFreesKeepsHalfItsBase) {
  ta_tcache_t *tc = cache();
  for (size_t size : {512, 1024, 4096, 8192, 32768}) {
    unsigned cls = ta_size_class_of(size);
    uint32_t base = tc->bins[cls].max, drain = base / 2 ? base / 2 : 1;
    std::vector<void *> objs(8 * base);
    for (auto &p : objs) p = take(tc, cls, 20'000);
    ta_tcache_flush_self();  // the producer's objects, held by nobody's cache now
    size_t flushes = 0, most = 0;
    for (void *p : objs) {
      uint64_t before = tc->slow_calls;
      give(tc, cls, p, 20'000);
      flushes += tc->slow_calls != before;
      most = std::max<size_t>(most, tc->bins[cls].count);
      ASSERT_LE(tc->bins[cls].count, tc->bins[cls].max) << size;
    }
    EXPECT_EQ(tc->bins[cls].max, drain) << size;
    EXPECT_LE(tc->bins[cls].count, drain) << size;
    // No more trips to the arena than half flushes of a full base stack would make.
    EXPECT_LE(flushes, objs.size() / drain + 2) << size;
    EXPECT_GE(flushes, objs.size() / (drain + 1) - 2) << size;
    // Allocating again: the stack is refilled from its base.
    while (tc->bins[cls].count) take(tc, cls, 20'000);
    void *p = take(tc, cls, 20'000);
    EXPECT_EQ(tc->bins[cls].max, base) << size;
    give(tc, cls, p, 20'000);
    ta_tcache_flush_self();
  }
}

// conf tcache_drain:false: the consumer keeps its base stack, flushing half of it each time.
TEST(TcacheDrain, OffKeepsTheBase) {
  ta_tcache_t *tc = cache();
  ta_conf.tcache_drain = false;
  unsigned cls = ta_size_class_of(1024);
  uint32_t base = tc->bins[cls].max;
  std::vector<void *> objs(8 * base);
  for (auto &p : objs) p = take(tc, cls, 20'000);
  ta_tcache_flush_self();
  for (void *p : objs) give(tc, cls, p, 20'000);
  EXPECT_EQ(tc->bins[cls].max, base);
  EXPECT_GT(tc->bins[cls].count, base / 2);
  ta_conf.tcache_drain = true;
  ta_tcache_flush_self();
}

// The end of one burst of frees is not a consumer: a grown class keeps its stack.
TEST(TcacheDrain, AGrownClassDoesNotDrain) {
  ta_tcache_t *tc = cache();
  unsigned cls = ta_size_class_of(4096);
  uint32_t base = tc->bins[cls].max;
  for (int i = 0; i < 20; i++) batch(tc, cls, 64, 100);
  ASSERT_GT(tc->bins[cls].max, base);
  uint32_t grown = tc->bins[cls].max;
  batch(tc, cls, 64, 100);
  EXPECT_EQ(tc->bins[cls].max, grown);
  ta_tcache_flush_self();
}

TEST(TcacheGrowth, AThreadThatOnlyTakesDoesNotGrow) {
  ta_tcache_t *tc = cache();
  unsigned cls = ta_size_class_of(6144);
  uint32_t base = tc->bins[cls].max;
  // A producer: dense refills, its objects freed elsewhere (here: straight to their bins).
  for (int i = 0; i < 40; i++) {
    std::vector<void *> objs(64);
    for (auto &p : objs) {
      p = take(tc, cls, 100);
      ta_tcache_mark(p, ta_tcache_free_mark);
    }
    ta_arena_flush(cls, objs.data(), (unsigned)objs.size());
  }
  EXPECT_EQ(tc->bins[cls].max, base);
  ta_tcache_flush_self();
}

// The bytes a thread's stacks have grown by, from the stacks themselves.
size_t grown_bytes(const ta_tcache_t *tc, const std::vector<uint32_t> &base) {
  size_t bytes = 0;
  for (unsigned c = 0; c < TA_NCLASSES; c++) bytes += (size_t)(tc->bins[c].max - base[c]) * ta_class_info[c].size;
  return bytes;
}

TEST(TcacheGrowth, AThreadsGrowthIsBounded) {
  ta_tcache_t *tc = cache();
  std::vector<uint32_t> base(TA_NCLASSES);
  for (unsigned c = 0; c < TA_NCLASSES; c++) base[c] = tc->bins[c].max;
  // Three classes that each grow by about 2 MiB: the third cannot grow beside the other two.
  unsigned classes[] = {ta_size_class_of(32768), ta_size_class_of(65536), ta_size_class_of(16384)};
  size_t peak = 0;
  for (unsigned cls : classes) {
    for (int i = 0; i < 30; i++) {
      batch(tc, cls, 64, 100);
      EXPECT_EQ(tc->grown_bytes, grown_bytes(tc, base));
      peak = std::max(peak, tc->grown_bytes);
    }
    EXPECT_GT(tc->bins[cls].max, base[cls]);
  }
  EXPECT_LE(peak, (size_t)4 << 20);
  EXPECT_GT(peak, (size_t)3 << 20) << "two classes never grew side by side";
  EXPECT_EQ(tc->bins[classes[0]].max, base[classes[0]]) << "the oldest growth was not taken back";
  for (unsigned c = 0; c < TA_NCLASSES; c++) EXPECT_LE(tc->bins[c].count, tc->bins[c].max);
  ta_tcache_flush_self();
  EXPECT_EQ(tc->grown_bytes, 0u);
}

TEST(TcacheGrowth, AllThreadsGrowthIsBounded) {
  // 12 threads that each grow two classes by about 2 MiB: 48 MiB wanted, 32 MiB allowed. One
  // thread works at a time (the fake clock is shared); all keep their caches until checked.
  constexpr int kThreads = 12;
  std::mutex turn;
  std::condition_variable cv;
  int grown = 0;
  bool release = false;
  std::vector<size_t> own(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&] {
      std::unique_lock<std::mutex> lock(turn);
      ta_tcache_t *tc = cache();
      for (unsigned cls : {ta_size_class_of(32768), ta_size_class_of(65536)})
        for (int i = 0; i < 30; i++) batch(tc, cls, 64, 100);
      own[grown++] = tc->grown_bytes; // in the order the threads ran
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
      ta_tcache_flush_self();
    });
  }
  {
    std::unique_lock<std::mutex> lock(turn);
    cv.wait(lock, [&] { return grown == kThreads; });
    size_t sum = 0;
    for (size_t b : own) sum += b;
    EXPECT_EQ(ta_tcache_grown_bytes(), sum);
    EXPECT_LE(sum, (size_t)32 << 20);
    EXPECT_GT(sum, (size_t)28 << 20) << "the threads stopped growing well below the bound";
    EXPECT_GT(own[0], (size_t)3 << 20) << "the first thread could not grow";
    EXPECT_LT(own[kThreads - 1], (size_t)1 << 20) << "the last thread grew past the bound";
    release = true;
    cv.notify_all();
  }
  for (auto &th : threads) th.join();
  EXPECT_EQ(ta_tcache_grown_bytes(), 0u) << "growth of exited threads still counted";
}

TEST(TcacheGrowth, AGrownClassHalvesWhenIdle) {
  ta_tcache_t *tc = cache();
  unsigned cls = ta_size_class_of(4096), other = ta_size_class_of(16384);
  uint32_t base = tc->bins[cls].max;
  for (int i = 0; i < 20; i++) batch(tc, cls, 64, 100);
  uint32_t grown = tc->bins[cls].max;
  ASSERT_GT(grown, base);
  batch(tc, cls, 64, 100); // leaves the stack full
  EXPECT_GT(tc->bins[cls].count, grown / 2);
  // Another class's slow paths, spread out: trim passes see `cls` idle.
  for (int i = 0; i < 300 && tc->bins[cls].max == grown; i++) batch(tc, other, 8, 20'000);
  EXPECT_LE(tc->bins[cls].max, grown / 2);
  EXPECT_LE(tc->bins[cls].count, tc->bins[cls].max);
  for (int i = 0; i < 2000 && tc->bins[cls].max > base; i++) batch(tc, other, 8, 20'000);
  EXPECT_EQ(tc->bins[cls].max, base) << "idle passes never bring the class back to its base";
  ta_tcache_flush_self();
}

}  // namespace
