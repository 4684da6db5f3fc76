// The whole allocator linked into this test (libtieralloc.a overrides malloc for the process,
// gtest's own allocations included): exact usable sizes, memory returned by purge and by the
// background thread, hugepage coverage, and a bounded number of kernel mappings under churn.
#include <gtest/gtest.h>
#include <malloc.h>
#include <tieralloc.h>
#include <unistd.h>

#include <random>
#include <thread>
#include <vector>

#include "heap_probe.h"

namespace {

size_t page() { return (size_t)sysconf(_SC_PAGESIZE); }

TEST(Heap, UsableSizeIsTheClassSize) {
  // A few classes checked by value; the table itself is tested in the unit tests.
  const std::pair<size_t, size_t> cases[] = {{0, 16},       {1, 16},       {17, 32},
                                             {129, 144},    {4097, 4176},  {8196, 8336},
                                             {65536, 65536}};
  for (auto [req, want] : cases) {
    void *p = malloc(req);
    EXPECT_EQ(malloc_usable_size(p), want) << req;
    free(p);
  }
  size_t big = 65537;
  void *p = malloc(big);
  EXPECT_EQ(malloc_usable_size(p), (big + page() - 1) / page() * page());
  free(p);
}

TEST(Heap, HeapInfoAndPurgeAccountForMemory) {
  tieralloc_heap_info_t before{}, during{}, after{};
  ASSERT_EQ(tieralloc_heap_info(&before), 0);
  EXPECT_EQ(before.version, (size_t)TIERALLOC_HEAP_INFO_VERSION);
  const size_t n = 64 << 20;
  char *p = (char *)malloc(n);
  memset(p, 1, n);
  ASSERT_EQ(tieralloc_heap_info(&during), 0);
  EXPECT_GE(during.active, before.active + n);
  long rss_full = probe::rss_kib();
  free(p);
  size_t purged = tieralloc_purge();
  EXPECT_GE(purged, n);
  ASSERT_EQ(tieralloc_heap_info(&after), 0);
  EXPECT_EQ(after.dirty, 0u);
  EXPECT_LE(probe::rss_kib(), rss_full - (long)(n >> 10) * 9 / 10);
  EXPECT_EQ(tieralloc_heap_info(nullptr), EINVAL);
}

TEST(Heap, SmallObjectsSitOnHugepages) {
  if (probe::thp_mode() == "never") GTEST_SKIP() << "THP is off on this machine";
  long anon0 = probe::anon_kib(), huge0 = probe::anon_huge_kib();
  std::vector<void *> v;
  for (int i = 0; i < 400000; i++) {  // ~400 MiB of 1 KiB objects
    char *p = (char *)malloc(1000);
    memset(p, i, 1000);
    v.push_back(p);
  }
  long anon = probe::anon_kib() - anon0, huge = probe::anon_huge_kib() - huge0;
  double coverage = double(huge) / double(anon);
  RecordProperty("hugepage_coverage", std::to_string(coverage));
  EXPECT_GE(coverage, 0.8) << "AnonHugePages " << huge << " KiB of " << anon << " KiB";
  for (void *p : v) free(p);
  tieralloc_purge();
}

TEST(Heap, MappingCountStaysBoundedUnderChurn) {
  std::mt19937 rng(7);
  std::vector<std::pair<void *, size_t>> live;
  int maps0 = probe::map_count(), worst = maps0;
  for (int round = 0; round < 40; round++) {
    for (int i = 0; i < 4000; i++) {
      size_t size = rng() % 8 == 0 ? rng() % (4 << 20) : rng() % 70000;
      live.push_back({malloc(size), size});
    }
    std::shuffle(live.begin(), live.end(), rng);
    while (live.size() > 2000) {  // keep a scattered residue: partly used hugepages get broken
      free(live.back().first);
      live.pop_back();
    }
    tieralloc_purge();
    worst = std::max(worst, probe::map_count());
  }
  for (auto &e : live) free(e.first);
  tieralloc_purge();
  // Each NOHUGEPAGE mark splits at most one mapping in three; the test runs with 64 marks.
  EXPECT_LE(worst - maps0, 2 * 64 + 20) << "mappings grew from " << maps0 << " to " << worst;
}

TEST(Heap, ManyThreadsCrossFree) {
  // Producers allocate, consumers free what others allocated; contents checked.
  const int kThreads = 4, kPerThread = 200000;
  std::vector<std::vector<unsigned char *>> handoff(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++)
    ts.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kPerThread; i++) {
        size_t size = 1 + rng() % 3000;
        auto *p = (unsigned char *)malloc(size);
        p[0] = (unsigned char)size;
        p[size - 1] = (unsigned char)(size >> 3);
        handoff[t].push_back(p);
      }
    });
  for (auto &t : ts) t.join();
  ts.clear();
  std::atomic<long> bad{0};
  for (int t = 0; t < kThreads; t++)
    ts.emplace_back([&, t] {
      for (unsigned char *p : handoff[(t + 1) % kThreads]) {
        size_t size = malloc_usable_size(p);
        if (size == 0) bad++;
        free(p);
      }
    });
  for (auto &t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
