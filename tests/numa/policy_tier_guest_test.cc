// Tier policies for plain large allocations, in the guest, checked page by page. The policy
// comes from the environment the test is registered with; TIERALLOC_EXPECT says what to check:
// "ratio:<pct>" or "threshold:<kib>".
#include <gtest/gtest.h>
#include <sched.h>
#include <tieralloc.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

TEST(TierPolicyGuest, PlainLargeBlocksFollowThePolicy) {
  const char *expect = getenv("TIERALLOC_EXPECT");
  ASSERT_NE(expect, nullptr);
  std::string e = expect;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  ASSERT_EQ(sched_setaffinity(0, sizeof(set), &set), 0);
  std::mt19937 rng(1);
  std::vector<std::pair<char *, size_t>> blocks;
  size_t far = 0, local = 0;
  for (int i = 0; i < 150; i++) {
    size_t size = (size_t)100000 + rng() % (2 << 20);
    char *p = (char *)malloc(size);
    ASSERT_NE(p, nullptr);
    memset(p, i, size);
    tieralloc_location_t loc;
    ASSERT_EQ(tieralloc_where(p, &loc), 0);
    ASSERT_TRUE(loc.all_on_node) << loc.pages_on_node << " of " << loc.pages;
    ASSERT_TRUE(loc.node == 0 || loc.node == 2) << "node " << loc.node;
    if (e.rfind("threshold:", 0) == 0) {
      size_t kib = std::stoul(e.substr(10));
      EXPECT_EQ(loc.node, size >= (kib << 10) ? 2 : 0) << size << " bytes";
    }
    (loc.node == 2 ? far : local) += size;
    blocks.push_back({p, size});
  }
  if (e.rfind("ratio:", 0) == 0) {
    double share = 100.0 * (double)far / (double)(far + local), want = std::stod(e.substr(6));
    EXPECT_NEAR(share, want, 3.0) << "far share of large bytes";
  }
  void *small = malloc(1000);
  tieralloc_location_t loc;
  memset(small, 1, 1000);
  ASSERT_EQ(tieralloc_where(small, &loc), 0);
  EXPECT_EQ(loc.node, 0) << "small objects stay local";
  free(small);
  for (auto &b : blocks) free(b.first);
}

}  // namespace
