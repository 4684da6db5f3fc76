// The tier policies' decisions, the weighted interleave plan and its binding, and the memkind
// spelling, without a machine.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <vector>

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

// ---- interleave ----

TEST(TierInterleave, SmallExactRatiosStayExact) {
  int nodes[] = {0, 1, 2};
  uint32_t bw[] = {20000, 10000, 8000};  // MB/s, the 1s-2cxl guest's tiers 0, 1, 2
  ta_interleave_t p;
  ASSERT_EQ(ta_tier_interleave_plan(&p, nodes, bw, 3, TA_PLACE_PREFERRED), 0);
  EXPECT_EQ(p.weight[0], 10u);
  EXPECT_EQ(p.weight[1], 5u);
  EXPECT_EQ(p.weight[2], 4u);
  EXPECT_EQ(p.period, 19u);
  EXPECT_FALSE(p.equal);
}

TEST(TierInterleave, UnknownOrEqualBandwidthIsEqualShares) {
  int nodes[] = {2, 3};
  uint32_t unknown[] = {8000, 0}, same[] = {5000, 5000};
  ta_interleave_t p;
  ASSERT_EQ(ta_tier_interleave_plan(&p, nodes, unknown, 2, TA_PLACE_PREFERRED), 0);
  EXPECT_TRUE(p.equal);
  EXPECT_EQ(p.period, 2u);
  ASSERT_EQ(ta_tier_interleave_plan(&p, nodes, same, 2, TA_PLACE_BIND), 0);
  EXPECT_TRUE(p.equal);
  EXPECT_EQ(p.period, 2u);
  EXPECT_EQ(ta_tier_interleave_runs(&p, p.given, 512, 1), 1u) << "one MPOL_INTERLEAVE call";
  EXPECT_EQ(ta_tier_interleave_plan(&p, nodes, same, 0, TA_PLACE_BIND), EINVAL);
  EXPECT_EQ(ta_tier_interleave_plan(&p, nodes, same, TA_INTERLEAVE_MAX_NODES + 1, TA_PLACE_BIND), EINVAL);
}

TEST(TierInterleave, AwkwardBandwidthsAreWithinOneSixtyFourth) {
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; round++) {
    unsigned n = 1 + rng() % TA_INTERLEAVE_MAX_NODES;
    int nodes[TA_INTERLEAVE_MAX_NODES];
    uint32_t bw[TA_INTERLEAVE_MAX_NODES];
    double total = 0;
    for (unsigned i = 0; i < n; i++) {
      nodes[i] = (int)i;
      bw[i] = 1 + rng() % (rng() % 2 ? 100 : 400000);
      total += bw[i];
    }
    ta_interleave_t p;
    ASSERT_EQ(ta_tier_interleave_plan(&p, nodes, bw, n, TA_PLACE_PREFERRED), 0);
    for (unsigned i = 0; i < n; i++) {
      ASSERT_GE(p.weight[i], 1u) << "every node gets some";
      EXPECT_LT(std::abs((double)p.weight[i] / p.period - bw[i] / total), 1.0 / 64) << "node " << i << " of " << n;
    }
  }
}

TEST(TierInterleave, ChunksAreSpreadSoAnyStretchKeepsTheWeights) {
  int nodes[] = {0, 1, 2};
  uint32_t bw[] = {10, 5, 4};
  ta_interleave_t p;
  ASSERT_EQ(ta_tier_interleave_plan(&p, nodes, bw, 3, TA_PLACE_PREFERRED), 0);
  // Chunk by chunk from any starting counts reached this way, every stretch is within 2
  // chunks of its exact share per node: a block of a few hugepages is spread, not bunched.
  uint64_t given[TA_INTERLEAVE_MAX_NODES] = {};
  std::vector<unsigned> seq;
  for (int k = 0; k < 20 * 19; k++) {
    unsigned s = ta_tier_interleave_pick(&p, given, 1);
    given[s]++;
    seq.push_back(s);
  }
  EXPECT_EQ(given[0], 200u);
  EXPECT_EQ(given[1], 100u);
  EXPECT_EQ(given[2], 80u);
  for (size_t start = 0; start < 19; start++) {
    std::vector<unsigned> count(3);
    for (size_t len = 1; start + len <= seq.size(); len++) {
      count[seq[start + len - 1]]++;
      for (unsigned i = 0; i < 3; i++)
        ASSERT_LT(std::abs((double)count[i] - (double)len * p.weight[i] / p.period), 2.0)
            << "start " << start << " len " << len << " node " << i;
    }
  }
}

// Records mbind calls: which byte goes where, and how many calls.
struct BindLog {
  static inline std::map<uintptr_t, std::pair<size_t, int>> ranges;  // start -> (len, node)
  static inline size_t calls = 0;
  static inline int mode = -1;
  static int bind(void *addr, size_t size, int mode_, const unsigned long *mask, unsigned long, unsigned) {
    calls++;
    mode = mode_;
    int node = -1;
    for (int b = 0; b < TA_TOPO_MAX_NODE_ID; b++)
      if (mask[b / 64] >> (b % 64) & 1) {
        node = b;
        break;
      }
    ranges[(uintptr_t)addr] = {size, node};
    return 0;
  }
};

struct RecordingOs {
  ta_os_ops_t ops;
  RecordingOs() {
    ops = ta_os_linux_ops;
    ops.bind = BindLog::bind;
    BindLog::ranges.clear();
    BindLog::calls = 0;
    ta_atomic_store(&ta_tier_interleave_mappings, 0, ta_mo_relaxed);
    ta_os_set_ops(&ops);
  }
  ~RecordingOs() { ta_os_set_ops(nullptr); }
};

// Bytes per node over [base, base + size) from the recorded binds.
std::map<int, size_t> bytes_per_node(uintptr_t base, size_t size) {
  std::map<int, size_t> out;
  size_t covered = 0;
  for (auto &[start, r] : BindLog::ranges)
    if (start >= base && start < base + size) {
      out[r.second] += r.first;
      covered += r.first;
    }
  EXPECT_EQ(covered, size) << "every byte of the region is bound";
  return out;
}

TEST(TierInterleave, RegionChunksFollowThePlanInFewCalls) {
  RecordingOs os;
  int nodes[] = {2, 3};
  uint32_t bw[] = {8000, 5000};  // the 2s-2cxl guest's CXL nodes seen from node 0
  ta_interleave_t p;
  ASSERT_EQ(ta_tier_interleave_plan(&p, nodes, bw, 2, TA_PLACE_PREFERRED), 0);
  const size_t chunk = 2 << 20, n = 512;
  uintptr_t base = (uintptr_t)1 << 40;  // never touched: the recorder only notes the calls
  ASSERT_EQ(ta_tier_place_interleave(&p, (void *)base, n * chunk, chunk), 0);
  EXPECT_EQ(BindLog::mode, 1) << "MPOL_PREFERRED per chunk";
  uint64_t zero[TA_INTERLEAVE_MAX_NODES] = {};
  EXPECT_EQ(BindLog::calls, ta_tier_interleave_runs(&p, zero, n, 1)) << "one call per run";
  EXPECT_EQ(ta_atomic_load(&ta_tier_interleave_mappings, ta_mo_relaxed), BindLog::calls - 1)
      << "counted: the mappings added beyond the region's own";
  EXPECT_LT(BindLog::calls, n) << "runs of one node take one call";
  // Chunk by chunk, the node is the one the plan picks.
  uint64_t given[TA_INTERLEAVE_MAX_NODES] = {};
  for (auto &[start, r] : BindLog::ranges) {
    ASSERT_EQ(start % chunk, 0u);
    for (size_t c = (start - base) / chunk; c < (start - base + r.first) / chunk; c++) {
      unsigned s = ta_tier_interleave_pick(&p, given, 1);
      given[s]++;
      ASSERT_EQ(r.second, p.node[s]) << "chunk " << c;
    }
  }
  auto per = bytes_per_node(base, n * chunk);
  EXPECT_NEAR((double)per[2] / (n * chunk), 8.0 / 13, 0.01);
  EXPECT_NEAR((double)per[3] / (n * chunk), 5.0 / 13, 0.01);
}

TEST(TierInterleave, EqualPlanIsOneInterleaveCall) {
  RecordingOs os;
  int nodes[] = {1, 2};
  uint32_t bw[] = {0, 0};
  ta_interleave_t p;
  ASSERT_EQ(ta_tier_interleave_plan(&p, nodes, bw, 2, TA_PLACE_PREFERRED), 0);
  ASSERT_EQ(ta_tier_place_interleave(&p, (void *)((uintptr_t)1 << 40), 512u << 21, 2 << 20), 0);
  EXPECT_EQ(BindLog::calls, 1u);
  EXPECT_EQ(BindLog::mode, 3) << "MPOL_INTERLEAVE";
}

TEST(TierInterleave, MappingsStayBoundedAndSharesHoldAcrossManyRegions) {
  RecordingOs os;
  int nodes[] = {0, 1, 2};
  uint32_t bw[] = {20000, 10000, 8000};
  ta_interleave_t p;
  ASSERT_EQ(ta_tier_interleave_plan(&p, nodes, bw, 3, TA_PLACE_PREFERRED), 0);
  const size_t chunk = 2 << 20, n = 512;  // 1 GiB regions, the default region_mb
  std::map<int, size_t> total;
  size_t fine_regions = 0;
  for (int r = 0; r < 400; r++) {  // 400 GiB of interleaved heap
    uintptr_t base = ((uintptr_t)1 << 40) + (uintptr_t)r * n * chunk;
    size_t before = BindLog::calls;
    size_t fine_runs = ta_tier_interleave_runs(&p, p.given, n, 1);
    ASSERT_EQ(ta_tier_place_interleave(&p, (void *)base, n * chunk, chunk), 0);
    if (BindLog::calls - before == fine_runs) fine_regions++;
    for (auto &[node, bytes] : bytes_per_node(base, n * chunk)) total[node] += bytes;
  }
  EXPECT_LE(ta_atomic_load(&ta_tier_interleave_mappings, ta_mo_relaxed), (uint64_t)TA_INTERLEAVE_MAPPINGS_MAX);
  EXPECT_LE(BindLog::calls, (size_t)TA_INTERLEAVE_MAPPINGS_MAX + 400) << "beyond one per region";
  EXPECT_GE(fine_regions, 10u) << "the first several GiB are spread hugepage by hugepage";
  double all = (double)(total[0] + total[1] + total[2]);
  EXPECT_NEAR(total[0] / all, 10.0 / 19, 0.01);
  EXPECT_NEAR(total[1] / all, 5.0 / 19, 0.01);
  EXPECT_NEAR(total[2] / all, 4.0 / 19, 0.01);
}

}  // namespace
