// The tier-placement API on this (single-node) machine: tier 0 is the only tier, missing tiers
// fall back (counted) unless strict, bad nodes are refused, where() reports ground truth.
#include <gtest/gtest.h>
#include <tieralloc.h>

#include <cerrno>
#include <cstring>

#include "ctl_stat.h"

namespace {

using ta_test::stat;

TEST(TierApi, TierZeroAndWhere) {
  for (size_t size : {(size_t)100, (size_t)5000, (size_t)3 << 20}) {
    char *p = (char *)tieralloc_malloc_tier(size, 0, TIERALLOC_ZERO);
    ASSERT_NE(p, nullptr);
    for (size_t i = 0; i < size; i += 97) ASSERT_EQ(p[i], 0);
    memset(p, 1, size);
    tieralloc_location_t loc;
    ASSERT_EQ(tieralloc_where(p, &loc), 0);
    EXPECT_EQ(loc.node, 0);
    EXPECT_EQ(loc.tier, 0);
    EXPECT_EQ(loc.home_node, 0);
    EXPECT_TRUE(loc.all_on_node) << loc.pages_on_node << " of " << loc.pages;
    free(p);
  }
}

TEST(TierApi, MissingTierFallsBackUnlessStrict) {
  size_t before = stat("stats.placement_fallbacks");
  void *p = tieralloc_malloc_tier(1000, 3, 0);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(stat("stats.placement_fallbacks"), before + 1);
  free(p);
  errno = 0;
  EXPECT_EQ(tieralloc_malloc_tier(1000, 3, TIERALLOC_STRICT), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(TierApi, NodesAndErrors) {
  void *p = tieralloc_malloc_node(4096, 0, 0);
  ASSERT_NE(p, nullptr);
  free(p);
  errno = 0;
  EXPECT_EQ(tieralloc_malloc_node(4096, 7, 0), nullptr);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(tieralloc_malloc_node(4096, -1, 0), nullptr);
  // Strict and more than the node has free: refused now, not killed later.
  errno = 0;
  EXPECT_EQ(tieralloc_malloc_node((size_t)1 << 46, 0, TIERALLOC_STRICT), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  void *a = tieralloc_aligned_node(65536, 100, 0, 0);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ((uintptr_t)a % 65536, 0u);
  free(a);
  tieralloc_location_t loc;
  int local = 0;
  EXPECT_EQ(tieralloc_where(&local, &loc), EINVAL) << "not a tieralloc block";
  EXPECT_EQ(tieralloc_where(nullptr, &loc), EINVAL);
}

TEST(TierApi, ThreadTierAndMigrate) {
  EXPECT_EQ(tieralloc_thread_tier(4), -EINVAL);
  EXPECT_EQ(tieralloc_thread_tier(0), -1);
  EXPECT_EQ(tieralloc_thread_tier(-1), 0);
  char *p = (char *)malloc(4 << 20);
  for (size_t i = 0; i < (4u << 20); i++) p[i] = (char)(i * 7);
  tieralloc_migrate_result_t r;
  ASSERT_EQ(tieralloc_migrate(p, 0, 0, &r), 0);
  EXPECT_EQ(r.node, 0);
  EXPECT_EQ(r.moved + r.absent, r.pages);
  for (size_t i = 0; i < (4u << 20); i++) ASSERT_EQ(p[i], (char)(i * 7));
  EXPECT_EQ(tieralloc_migrate(p, 0, 5, &r), ENOENT);
  free(p);
}

}  // namespace
