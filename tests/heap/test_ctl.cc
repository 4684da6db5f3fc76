// The statistics tree and the jemalloc-compatible API, in a process whose malloc is tieralloc
// (libtieralloc.a linked in): the counters add up to what the test allocated.
#include <gtest/gtest.h>
#include <malloc.h>
#include <tieralloc.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "ctl_stat.h"

extern "C" {
int mallctl(const char *, void *, size_t *, void *, size_t);
int mallctlnametomib(const char *, size_t *, size_t *);
int mallctlbymib(const size_t *, size_t, void *, size_t *, void *, size_t);
void *mallocx(size_t, int);
void *rallocx(void *, size_t, int);
size_t xallocx(void *, size_t, size_t, int);
size_t sallocx(const void *, int);
void dallocx(void *, int);
void sdallocx(void *, size_t, int);
size_t nallocx(size_t, int);
void malloc_stats_print(void (*)(void *, const char *), void *, const char *);
}

namespace {

#define MALLOCX_LG_ALIGN(la) ((int)(la))
#define MALLOCX_ZERO 0x40

using ta_test::stat;

void flush_cache() { ASSERT_EQ(tieralloc_ctl("thread.tcache.flush", nullptr, nullptr, nullptr, 0), 0); }

size_t class_of(size_t size) {
  // The class index is the position of malloc_usable_size's value in the class list: find it
  // through nallocx and the per-class "size" statistic.
  size_t want = nallocx(size, 0);
  for (size_t c = 0; c < 112; c++)
    if (stat("stats.class." + std::to_string(c) + ".size") == want) return c;
  ADD_FAILURE() << "no class of size " << want;
  return 0;
}

TEST(Ctl, SmallCountersAddUp) {
  const size_t kObjs = 5000, kSize = 200;
  size_t cls = class_of(kSize), csize = nallocx(kSize, 0);
  const std::string live_name = "stats.class." + std::to_string(cls) + ".live";
  const char *live = live_name.c_str();
  std::vector<void *> v;
  v.reserve(kObjs);
  bool on = true;  // started now, not by the first free: its thread's own allocations stay out
  ASSERT_EQ(tieralloc_ctl("background_thread", nullptr, nullptr, &on, sizeof(on)), 0);
  flush_cache();
  size_t allocated0 = stat("stats.allocated"), live0 = stat(live);
  for (size_t i = 0; i < kObjs; i++) v.push_back(malloc(kSize));
  flush_cache();  // objects still cached by the thread count as allocated: leave none cached
  EXPECT_EQ(stat(live) - live0, kObjs);
  EXPECT_EQ(stat("stats.allocated") - allocated0, kObjs * csize);
  for (void *p : v) free(p);
  flush_cache();
  EXPECT_EQ(stat(live), live0);
  EXPECT_EQ(stat("stats.allocated"), allocated0);
}

TEST(Ctl, LargeCountersAddUp) {
  size_t live0 = stat("stats.large_live_bytes"), n0 = stat("stats.large_nmalloc");
  std::vector<void *> v;
  for (int i = 0; i < 10; i++) v.push_back(malloc((size_t)1 << 20));
  EXPECT_EQ(stat("stats.large_live_bytes") - live0, (size_t)10 << 20);
  EXPECT_EQ(stat("stats.large_nmalloc") - n0, 10u);
  for (void *p : v) free(p);
  EXPECT_EQ(stat("stats.large_live_bytes"), live0);
  size_t nodes = 0, len = sizeof(unsigned);
  unsigned nn = 0;
  ASSERT_EQ(tieralloc_ctl("topology.nnodes", &nn, &len, nullptr, 0), 0);
  EXPECT_GE(nn, 1u);
  // The per-node counters sum to the heap's.
  for (unsigned node = 0; node < 64; node++) {
    size_t a = 0, l = sizeof(a);
    if (tieralloc_ctl(("stats.node." + std::to_string(node) + ".active").c_str(), &a, &l, nullptr, 0) == 0) nodes += a;
  }
  EXPECT_EQ(nodes, stat("stats.active"));
}

// A freed 256 KiB block comes back for the next request of its size from the arena's large
// cache (large_cache.h), which the statistics show, and a purge empties it.
TEST(Ctl, LargeCacheServesTheSameSizeAgain) {
  const size_t kSize = 256 << 10;
  tieralloc_purge();
  ASSERT_EQ(stat("stats.large_cached"), 0u);
  size_t hits0 = stat("stats.large_cache_hits"), n0 = stat("stats.large_nmalloc");
  size_t f0 = stat("stats.large_nfree"), live0 = stat("stats.large_live_bytes");
  char *p = (char *)malloc(kSize);
  ASSERT_NE(p, nullptr);
  *(volatile char *)p = 7;  // volatile: the compiler drops a plain store right before free
  uintptr_t freed = (uintptr_t)p;
  free(p);
  EXPECT_EQ(stat("stats.large_cached"), kSize);
  EXPECT_EQ(stat("stats.large_live_bytes"), live0) << "a cached block is a freed one";
  EXPECT_EQ(stat("stats.large_nfree"), f0 + 1);
  char *q = (char *)malloc(kSize);
  EXPECT_EQ((uintptr_t)q, freed);
  EXPECT_EQ(q[0], 7);
  EXPECT_EQ(stat("stats.large_cache_hits"), hits0 + 1);
  EXPECT_EQ(stat("stats.large_nmalloc"), n0 + 2);
  EXPECT_EQ(stat("stats.large_live_bytes"), live0 + kSize);
  EXPECT_EQ(stat("stats.large_cached"), 0u);
  free(q);
  EXPECT_GE(tieralloc_purge(), kSize);
  EXPECT_EQ(stat("stats.large_cached"), 0u);
  EXPECT_EQ(stat("stats.large_live_bytes"), live0);
}

TEST(Ctl, Errors) {
  size_t v, len = sizeof(v);
  EXPECT_EQ(tieralloc_ctl("stats.nonsense", &v, &len, nullptr, 0), ENOENT);
  EXPECT_EQ(tieralloc_ctl("stats.node.999.active", &v, &len, nullptr, 0), ENOENT);
  uint32_t small;
  len = sizeof(small);
  EXPECT_EQ(tieralloc_ctl("stats.allocated", &small, &len, nullptr, 0), EINVAL);
  len = sizeof(v);
  EXPECT_EQ(tieralloc_ctl("stats.allocated", &v, &len, &v, sizeof(v)), EPERM);
  bool off = false;
  EXPECT_EQ(tieralloc_ctl("background_thread", nullptr, nullptr, &off, sizeof(off)), EPERM);
}

TEST(Ctl, OptionsAndJemallocTypes) {
  ssize_t decay = 0;
  size_t len = sizeof(decay);
  ASSERT_EQ(mallctl("opt.dirty_decay_ms", &decay, &len, nullptr, 0), 0);
  EXPECT_EQ(decay, 5000);
  bool tcache = false;
  len = sizeof(tcache);
  ASSERT_EQ(mallctl("opt.tcache", &tcache, &len, nullptr, 0), 0);
  EXPECT_TRUE(tcache);
  const char *bind = nullptr;
  len = sizeof(bind);
  ASSERT_EQ(mallctl("opt.numa_bind", &bind, &len, nullptr, 0), 0);
  EXPECT_STREQ(bind, "preferred");
  const char *version = nullptr;
  ASSERT_EQ(mallctl("version", &version, &len, nullptr, 0), 0);
  EXPECT_STREQ(version, tieralloc_version());
}

TEST(Ctl, PurgeByArenaNameAsRedisDoes) {
  unsigned narenas = 0;
  size_t len = sizeof(narenas);
  ASSERT_EQ(mallctl("arenas.narenas", &narenas, &len, nullptr, 0), 0);
  ASSERT_GE(narenas, 1u);
  void *volatile p = malloc(8 << 20);  // volatile: the compiler may not drop the pair
  memset(p, 1, 8 << 20);
  free(p);
  EXPECT_GE(stat("stats.dirty"), (size_t)8 << 20) << "purged before its decay period";
  std::string all = "arena." + std::to_string(narenas) + ".purge";  // redis's "all arenas"
  ASSERT_EQ(mallctl(all.c_str(), nullptr, nullptr, nullptr, 0), 0);
  EXPECT_EQ(stat("stats.dirty"), 0u);
  EXPECT_EQ(mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0), 0);
  EXPECT_EQ(mallctl(("arena." + std::to_string(narenas + 1) + ".purge").c_str(), nullptr, nullptr, nullptr, 0), ENOENT);
}

TEST(Ctl, MibsWithChangedComponents) {
  size_t mib[4], miblen = 4;
  ASSERT_EQ(mallctlnametomib("arena.0.purge", mib, &miblen), 0);
  ASSERT_EQ(miblen, 3u);
  EXPECT_EQ(mallctlbymib(mib, miblen, nullptr, nullptr, nullptr, 0), 0);
  size_t m2[3], l2 = 3;
  ASSERT_EQ(mallctlnametomib("arenas.narenas", m2, &l2), 0);
  unsigned narenas = 0;
  size_t len = sizeof(narenas);
  ASSERT_EQ(mallctlbymib(m2, l2, &narenas, &len, nullptr, 0), 0);
  mib[1] = ((size_t)1 << 63) | 4096;  // the arena component changed to "all"
  EXPECT_EQ(mallctlbymib(mib, miblen, nullptr, nullptr, nullptr, 0), 0);
  miblen = 4;
  EXPECT_EQ(mallctlnametomib("no.such.name", mib, &miblen), ENOENT);
}

TEST(Jemalloc, AllocationCalls) {
  EXPECT_EQ(nallocx(8196, 0), 8336u);
  EXPECT_EQ(nallocx(100, MALLOCX_LG_ALIGN(12)), 4096u);
  char *p = (char *)mallocx(5000, MALLOCX_LG_ALIGN(12) | MALLOCX_ZERO);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ((uintptr_t)p % 4096, 0u);
  for (int i = 0; i < 5000; i++) ASSERT_EQ(p[i], 0);
  EXPECT_EQ(sallocx(p, 0), malloc_usable_size(p));
  memset(p, 7, 5000);
  p = (char *)rallocx(p, 100000, MALLOCX_LG_ALIGN(12));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ((uintptr_t)p % 4096, 0u);
  for (int i = 0; i < 5000; i++) ASSERT_EQ(p[i], 7);
  size_t grown = xallocx(p, 100000, 50000, 0);
  EXPECT_GE(grown, 100000u);
  EXPECT_EQ(grown, sallocx(p, 0));
  dallocx(p, 0);
  void *q = mallocx(300, 0);
  sdallocx(q, 300, 0);
}

TEST(Jemalloc, StatsPrintJson) {
  std::string out;
  malloc_stats_print([](void *o, const char *t) { *(std::string *)o += t; }, &out, "J");
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.front(), '{');
  EXPECT_NE(out.find("\"heap\": {\"allocated\": "), std::string::npos);
  EXPECT_NE(out.find("\"nodes\": [{\"node\": "), std::string::npos);
  std::string table;
  tieralloc_stats_print([](void *o, const char *t) { *(std::string *)o += t; }, &table, 0);
  EXPECT_NE(table.find("tieralloc statistics"), std::string::npos);
}

}  // namespace
