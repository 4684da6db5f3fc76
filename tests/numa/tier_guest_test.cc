// The tier-placement API in the guest (node 0: CPU 0 + DRAM, node 1: CPU 1 + DRAM, node 2:
// memory only, the far tier). Every placement is checked page by page with move_pages through
// tieralloc_where, and contents are checked across every migration.
#include <gtest/gtest.h>
#include <numa.h>
#include <sched.h>
#include <tieralloc.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "ctl_stat.h"
#include "guest_util.h"

namespace {

using ta_test::pin_cpu;

using ta_test::stat;

void expect_on(void *p, size_t size, int node, const char *what) {
  memset(p, 0x3c, size);
  tieralloc_location_t loc;
  ASSERT_EQ(tieralloc_where(p, &loc), 0) << what;
  EXPECT_EQ(loc.node, node) << what;
  EXPECT_TRUE(loc.all_on_node) << what << ": " << loc.pages_on_node << " of " << loc.pages << " pages on node " << loc.node;
}

using ta_test::checksum;

class Tiers : public testing::Test {
 protected:
  void SetUp() override { pin_cpu(0); }  // tiers ranked from node 0: 0 -> node 0, 1 -> node 1, 2 -> node 2
};

TEST_F(Tiers, EachTierAndNodeIsWhereItSays) {
  const int tier_node[] = {0, 1, 2};
  for (unsigned tier = 0; tier < 3; tier++)
    for (size_t size : {(size_t)200, (size_t)20000, (size_t)3 << 20}) {
      void *p = tieralloc_malloc_tier(size, tier, 0);
      ASSERT_NE(p, nullptr);
      expect_on(p, size, tier_node[tier], ("tier " + std::to_string(tier) + " size " + std::to_string(size)).c_str());
      tieralloc_location_t loc;
      tieralloc_where(p, &loc);
      EXPECT_EQ(loc.tier, (int)tier);
      free(p);
    }
  for (int node = 0; node < 3; node++) {
    void *p = tieralloc_malloc_node(1 << 20, node, TIERALLOC_STRICT);
    ASSERT_NE(p, nullptr);
    expect_on(p, 1 << 20, node, "by node");
    free(p);
  }
  errno = 0;
  EXPECT_EQ(tieralloc_malloc_node(4096, 3, 0), nullptr);
  EXPECT_EQ(errno, EINVAL);
}

TEST_F(Tiers, HintsAndThreadDefault) {
  void *cold = tieralloc_malloc_hint(1 << 20, TIERALLOC_COLD);
  void *hot = tieralloc_malloc_hint(1 << 20, TIERALLOC_HOT);
  expect_on(cold, 1 << 20, 2, "cold hint");
  expect_on(hot, 1 << 20, 0, "hot hint");
  free(cold);
  free(hot);
  EXPECT_EQ(tieralloc_thread_tier(2), -1);
  std::vector<void *> v;
  for (int i = 0; i < 2000; i++) v.push_back(malloc(300));
  for (void *p : v) expect_on(p, 300, 2, "thread default tier 2");
  void *big = malloc(2 << 20);
  expect_on(big, 2 << 20, 2, "thread default tier 2, large");
  EXPECT_EQ(tieralloc_thread_tier(-1), 2);
  void *back = malloc(300);
  expect_on(back, 300, 0, "thread default reset");
  for (void *p : v) free(p);  // far-tier objects freed from node 0: straight to their bins
  free(big);
  free(back);
}

TEST_F(Tiers, MigrationKeepsContents) {
  const size_t n = 6 << 20;
  auto *p = (unsigned char *)malloc(n);
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(i * 131 + 7);
  uint64_t sum = checksum(p, n);
  expect_on(p, 0, 0, "before");  // size 0: no fill
  size_t moved0 = stat("stats.migrated_bytes");
  tieralloc_migrate_result_t r;
  ASSERT_EQ(tieralloc_migrate(p, 0, 2, &r), 0);
  EXPECT_EQ(r.node, 2);
  EXPECT_EQ(r.moved, r.pages);
  tieralloc_location_t loc;
  ASSERT_EQ(tieralloc_where(p, &loc), 0);
  EXPECT_EQ(loc.node, 2);
  EXPECT_TRUE(loc.all_on_node);
  EXPECT_EQ(checksum(p, n), sum);
  EXPECT_GE(stat("stats.migrated_bytes") - moved0, n);
  ASSERT_EQ(tieralloc_migrate(p, 0, 0, &r), 0);  // and back
  ASSERT_EQ(tieralloc_where(p, &loc), 0);
  EXPECT_EQ(loc.node, 0);
  EXPECT_EQ(checksum(p, n), sum);
  free(p);
}

TEST_F(Tiers, FullFarTierFallsBackCleanly) {
  // The far node has 512 MiB. Fill most of it, then ask for more than is left.
  long long free_far = numa_node_size64(2, nullptr);
  ASSERT_GT(free_far, 0);
  std::vector<std::pair<unsigned char *, size_t>> blocks;
  size_t chunk = 32 << 20, filled = 0;
  while (true) {
    auto *p = (unsigned char *)tieralloc_malloc_tier(chunk, 2, TIERALLOC_STRICT);
    if (!p) {
      EXPECT_EQ(errno, ENOMEM);
      break;
    }
    for (size_t i = 0; i < chunk; i += 4096) p[i] = (unsigned char)(i >> 12);
    blocks.push_back({p, chunk});
    filled += chunk;
    ASSERT_LT(filled, (size_t)2 << 30) << "strict never refused";
  }
  EXPECT_GT(filled, (size_t)200 << 20);
  // Not strict: served anyway (the kernel places what does not fit elsewhere), contents intact.
  auto *extra = (unsigned char *)tieralloc_malloc_tier(chunk * 4, 2, 0);
  ASSERT_NE(extra, nullptr);
  for (size_t i = 0; i < chunk * 4; i += 4096) extra[i] = (unsigned char)(i >> 12);
  for (size_t i = 0; i < chunk * 4; i += 4096) ASSERT_EQ(extra[i], (unsigned char)(i >> 12));
  tieralloc_location_t loc;
  ASSERT_EQ(tieralloc_where(extra, &loc), 0);
  EXPECT_EQ(loc.pages_absent, 0u);
  for (auto &b : blocks)
    for (size_t i = 0; i < b.second; i += 4096) ASSERT_EQ(b.first[i], (unsigned char)(i >> 12));
  free(extra);
  for (auto &b : blocks) free(b.first);
}

}  // namespace
