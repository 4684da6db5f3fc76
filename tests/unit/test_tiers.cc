// The tier policies' decisions and the memkind spelling, without a machine.
#include <gtest/gtest.h>

#include <random>

#include "tiers.h"

namespace {

TEST(TierPolicy, Threshold) {
  ta_tier_policy_t p{TA_TIER_THRESHOLD, 1 << 20, 0};
  EXPECT_FALSE(ta_tier_policy_far(&p, (1 << 20) - 1, 0, 0));
  EXPECT_TRUE(ta_tier_policy_far(&p, 1 << 20, 0, 0));
  ta_tier_policy_t local{TA_TIER_LOCAL, 0, 0};
  EXPECT_FALSE(ta_tier_policy_far(&local, (size_t)1 << 40, 0, 0));
}

TEST(TierPolicy, RatioHoldsWithinAFewPercentOverTime) {
  for (unsigned target : {0u, 10u, 25u, 50u, 90u, 100u}) {
    ta_tier_policy_t p{TA_TIER_RATIO, 0, target};
    std::mt19937 rng(target);
    uint64_t far = 0, local = 0;
    std::vector<std::pair<size_t, bool>> live;
    double worst = 0;
    for (int i = 0; i < 20000; i++) {
      size_t size = (size_t)65536 + rng() % (4 << 20);
      bool f = ta_tier_policy_far(&p, size, far, local);
      (f ? far : local) += size;
      live.push_back({size, f});
      if (rng() % 3 == 0) {  // churn: frees of random blocks
        size_t k = rng() % live.size();
        (live[k].second ? far : local) -= live[k].first;
        live[k] = live.back();
        live.pop_back();
      }
      if (i > 1000) worst = std::max(worst, std::abs(100.0 * (double)far / (double)(far + local) - target));
    }
    EXPECT_LT(worst, 3.0) << "target " << target << "%";
  }
}

TEST(TierPolicy, MemkindSpelling) {
  ta_tier_policy_t p{};
  const char *why = nullptr;
  ASSERT_EQ(ta_tier_policy_from_memkind("KMEM_DAX:1,DRAM:4,POLICY:STATIC_RATIO", &p, &why), 0);
  EXPECT_EQ(p.kind, TA_TIER_RATIO);
  EXPECT_EQ(p.ratio_pct, 20u);
  ASSERT_EQ(ta_tier_policy_from_memkind("DRAM:1,KMEM_DAX:1,POLICY:DYNAMIC_THRESHOLD", &p, &why), 0);
  EXPECT_EQ(p.kind, TA_TIER_RATIO);
  EXPECT_EQ(p.ratio_pct, 50u);
  for (const char *bad : {"", "KMEM_DAX:1,DRAM:4", "KMEM_DAX:1,DRAM:4,POLICY:FASTEST", "HBM:1,DRAM:1,POLICY:STATIC_RATIO",
                          "KMEM_DAX:0,DRAM:4,POLICY:STATIC_RATIO", "KMEM_DAX,DRAM:4,POLICY:STATIC_RATIO", "DRAM:4,POLICY:STATIC_RATIO"}) {
    why = nullptr;
    EXPECT_EQ(ta_tier_policy_from_memkind(bad, &p, &why), -1) << bad;
    EXPECT_NE(why, nullptr) << bad;
  }
}

}  // namespace
