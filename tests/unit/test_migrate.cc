// ta_migrate_step on the fake OS with a fake clock: a node-0 DRAM heap and a CPU-less node-1 far
// tier; the fake records where each page is (move_pages) and which pages were touched (the
// access signal). Covers demotion of an idle block, promotion when it warms up, the budget,
// a block moved behind the allocator's back, a full far node, frees and resizes during a
// migration, and purging kept off a migrating range.
#include <gtest/gtest.h>

#include <cstring>

#include "fake_heap.h"
#include "fake_os.h"

#include "arena.h"
#include "background.h"
#include "conf.h"

namespace {

FakeOs *fake;
constexpr uint64_t kMs = 1'000'000;
constexpr size_t kMiB = 1 << 20;

class Env : public testing::Environment {
 public:
  void SetUp() override {
    fake_heap_conf();
    ta_conf.tier_policy = TA_TIER_POLICY_HOTNESS;
    ta_conf.cold_age_ms = 1000;
    ta_conf.migrate_interval_ms = 100;
    ta_conf.migrate_mb_s = 0;  // no pacing: the fake clock does not move while we sleep
    ta_conf.thp = true;
    fake = new FakeOs();
    fake->access_kind = TA_OS_ACCESS_IDLE;
    fake->install();
    ta_hpa_geometry_init();
    static ta_topo_t topo;
    ta_topology_fallback(&topo, (uint64_t)8 << 30, 2);
    ta_topo_node_t *far = &topo.node[1];
    far->os_index = 1;
    far->kind = TA_NODE_CXL;
    far->usable = true;
    far->capacity_bytes = (uint64_t)4 << 30;
    far->memory_tier = -1;
    topo.nnodes = 2;
    topo.distance[0][1] = topo.distance[1][0] = 20;
    topo.distance[1][1] = 10;
    topo.has_distance = true;
    ta_topo_rank_classify(&topo);
    ASSERT_EQ(ta_topo_rank_build(&topo), 0);
    ASSERT_EQ(ta_arena_boot(&topo, 1, TA_PLACE_PREFERRED, 1'000'000'000, 50), 0);
    ASSERT_EQ(ta_arena_far_node(0), 1) << "the fake topology has node 1 as the far tier";
    ta_migrate_init();
  }
};
testing::Environment *const env = testing::AddGlobalTestEnvironment(new Env);

struct Block {
  void *p;
  ta_extent_t *ext;
  size_t len;
};

Block alloc(size_t len) {
  void *p = ta_arena_alloc_large(ta_arena_choose(0), len, 16, false);
  EXPECT_NE(p, nullptr);
  memset(p, 0x11, len);
  return {p, ta_pagemap_lookup(p), len};
}

// Pages of the block on `node`, from the fake's record.
size_t pages_on(const Block &b, int node) {
  size_t n = 0;
  for (size_t off = 0; off < b.len; off += ta_os_info.page_size) n += fake->node_of((char *)b.p + off) == node;
  return n;
}

size_t npages(const Block &b) { return b.len / ta_os_info.page_size; }

// Runs rounds every interval for `ms`, touching the blocks in `hot` before each.
void rounds(uint64_t ms, std::initializer_list<Block> hot = {}) {
  for (uint64_t t = 0; t < ms; t += ta_conf.migrate_interval_ms) {
    fake->now += ta_conf.migrate_interval_ms * kMs;
    for (const Block &b : hot) fake->touch(b.p, b.len);
    ta_migrate_step(fake->now, 0);
  }
}

uint64_t counter(ta_atomic(uint64_t) & c) { return ta_atomic_load(&c, ta_mo_relaxed); }

// Frees the block; whether its whole range was purged on the way.
bool free_purges(const Block &b) {
  fake->purge_ranges.clear();
  ta_arena_free_large(b.ext);
  for (auto &r : fake->purge_ranges)
    if (r.first == (uintptr_t)b.p && r.second == b.len) return true;
  return false;
}

class Migrate : public testing::Test {
 protected:
  void SetUp() override {
    ta_conf.tier_local_mb = 0;
    fake->node_capacity_pages.clear();
    fake->touched.clear();
  }
};

TEST_F(Migrate, IdleBlockIsDemotedAndPromotedWhenItWarmsUp) {
  Block hot = alloc(4 * kMiB), cold = alloc(4 * kMiB);
  uint64_t demoted = counter(ta_migrate_demoted_bytes), promoted = counter(ta_migrate_promoted_bytes);
  rounds(3000, {hot});
  EXPECT_EQ(pages_on(cold, 1), npages(cold)) << "idle past cold_age_ms: every page on the far node";
  EXPECT_EQ(cold.ext->tier, 1);
  EXPECT_EQ(pages_on(hot, 0), npages(hot)) << "the used block stays local";
  EXPECT_EQ(hot.ext->tier, 0);
  EXPECT_EQ(counter(ta_migrate_demoted_bytes) - demoted, cold.len);
  // The cold block is used again: it comes back, the other one now idles out.
  rounds(4000, {cold});
  EXPECT_EQ(pages_on(cold, 0), npages(cold));
  EXPECT_EQ(cold.ext->tier, 0);
  EXPECT_EQ(pages_on(hot, 1), npages(hot));
  EXPECT_EQ(counter(ta_migrate_promoted_bytes) - promoted, cold.len);
  // Contents are the allocator's to keep: the fake moves no bytes, but nothing was purged.
  for (size_t i = 0; i < cold.len; i += 4096) ASSERT_EQ(((unsigned char *)cold.p)[i], 0x11);
  ta_arena_free_large(hot.ext);
  ta_arena_free_large(cold.ext);
}

// Where rounds come later than the interval (a round waiting for DAMON's snapshot, a loaded
// machine), a block busy in every round must still reach the promotion score: the half-life
// follows the time between rounds. With it fixed at 2 intervals, rounds every 4 intervals kept
// the score at 1.5, under promote_score 2.
TEST_F(Migrate, SlowRoundsStillPromoteABusyBlock) {
  Block b = alloc(4 * kMiB);
  rounds(3000);
  ASSERT_EQ(b.ext->tier, 1);
  for (int r = 0; r < 12 && b.ext->tier != 0; r++) {
    fake->now += 4 * ta_conf.migrate_interval_ms * kMs;
    fake->touch(b.p, b.len);
    ta_migrate_step(fake->now, 0);
  }
  EXPECT_EQ(b.ext->tier, 0);
  rounds(1000); // back to rounds every interval for what follows
  ta_arena_free_large(b.ext);
}

TEST_F(Migrate, NoPingPongWhileUseFlickers) {
  Block b = alloc(4 * kMiB);
  rounds(3000);
  ASSERT_EQ(b.ext->tier, 1);
  size_t moves = fake->moves;
  // Touched every fourth round: lukewarm, neither clearly hot nor idle.
  for (int r = 0; r < 100; r++) {
    fake->now += ta_conf.migrate_interval_ms * kMs;
    if (r % 8 == 0) fake->touch(b.p, 4096 * 512);  // one page in eight of the samples
    ta_migrate_step(fake->now, 0);
  }
  EXPECT_EQ(fake->moves, moves) << "a lukewarm block is left where it is";
  ta_arena_free_large(b.ext);
}

TEST_F(Migrate, BudgetKeepsTheHottestLocal) {
  ta_conf.tier_local_mb = 8;
  Block b[4] = {alloc(4 * kMiB), alloc(4 * kMiB), alloc(4 * kMiB), alloc(4 * kMiB)};
  // All four in use, two of them much more: only 8 MiB may stay local.
  for (int r = 0; r < 40; r++) {
    fake->now += ta_conf.migrate_interval_ms * kMs;
    fake->touch(b[2].p, b[2].len);
    fake->touch(b[3].p, b[3].len);
    if (r % 4 == 0) {
      fake->touch(b[0].p, 4096);
      fake->touch(b[1].p, 4096);
    }
    ta_migrate_step(fake->now, 0);
  }
  EXPECT_EQ(b[0].ext->tier, 1);
  EXPECT_EQ(b[1].ext->tier, 1);
  EXPECT_EQ(b[2].ext->tier, 0);
  EXPECT_EQ(b[3].ext->tier, 0);
  for (auto &x : b) ta_arena_free_large(x.ext);
}

TEST_F(Migrate, KernelMovedBlockIsNoticedAndCorrected) {
  Block b = alloc(4 * kMiB);
  rounds(300, {b});
  ASSERT_EQ(b.ext->tier, 0);
  uint64_t before = counter(ta_migrate_kernel_moved);
  // NUMA balancing (here: the fake) moves the pages behind the allocator's back.
  for (size_t off = 0; off < b.len; off += ta_os_info.page_size) fake->page_node[(uintptr_t)b.p + off] = 1;
  rounds(100, {b});
  EXPECT_EQ(b.ext->tier, 1) << "the belief follows the pages";
  EXPECT_EQ(counter(ta_migrate_kernel_moved), before + 1);
  // It is hot, so once the correction has settled it is promoted back.
  rounds(3000, {b});
  EXPECT_EQ(b.ext->tier, 0);
  EXPECT_EQ(pages_on(b, 0), npages(b));
  ta_arena_free_large(b.ext);
}

TEST_F(Migrate, FullFarNodeFallsBackAndIsCounted) {
  fake->node_capacity_pages[1] = 0;
  for (auto &pn : fake->page_node) pn.second = 0;
  Block b = alloc(4 * kMiB);
  uint64_t fallbacks = counter(ta_migrate_fallbacks);
  rounds(3000);
  EXPECT_EQ(b.ext->tier, 0) << "nowhere to go: it stays local";
  EXPECT_EQ(pages_on(b, 0), npages(b));
  EXPECT_GE(counter(ta_migrate_fallbacks), fallbacks + 1);
  // A move that got nowhere backs off for a cold age: not retried every round.
  EXPECT_LE(counter(ta_migrate_fallbacks), fallbacks + 2);
  ta_arena_free_large(b.ext);
}

TEST_F(Migrate, FreeAndResizeOfAPinnedBlockNeverWait) {
  Block b = alloc(4 * kMiB);
  ta_hpa_t *hpa = &ta_node_heaps[0]->hpa;
  ta_hpa_stats_t before, mid, after;
  ta_hpa_get_stats(hpa, &before);
  bool far[TA_ARENA_HEAP_IDS] = {};
  far[1] = true;
  ta_extent_t *pinned[64];
  uint64_t local = 0;
  size_t n = ta_large_pin(hpa, pinned, 64, far, &local);
  ASSERT_GE(n, 1u);
  bool found = false;
  for (size_t i = 0; i < n; i++) found |= pinned[i] == b.ext;
  ASSERT_TRUE(found);
  EXPECT_FALSE(ta_arena_resize_large(b.ext, 2 * kMiB)) << "a pinned block is not resized in place";
  ta_arena_free_large(b.ext);  // returns at once
  EXPECT_EQ(ta_pagemap_lookup(b.p), nullptr) << "the pointer is dead at once";
  ta_hpa_get_stats(hpa, &mid);
  EXPECT_EQ(mid.active_pages, before.active_pages) << "its pages wait for the unpin";
  for (size_t i = 0; i < n; i++) ta_large_unpin(hpa, pinned[i]);
  ta_hpa_get_stats(hpa, &after);
  EXPECT_EQ(after.active_pages, before.active_pages - b.len / ta_os_info.page_size);
}

TEST_F(Migrate, PurgeKeepsOffAMigratingRangeAndFreePagesGoFirst) {
  ta_hpa_t *hpa = &ta_node_heaps[0]->hpa;
  ta_hpa_purge_step(hpa, fake->now + 3600'000 * kMs, 0, true);  // nothing dirty left by others
  // Three blocks in one hugepage unit; the middle one will migrate.
  Block a = alloc(256 * 1024), m = alloc(256 * 1024), c = alloc(256 * 1024);
  size_t unit = ta_hpa_geometry.unit_size;
  ASSERT_EQ((uintptr_t)a.p / unit, (uintptr_t)c.p / unit) << "the filler packs them into one unit";
  ta_arena_free_large(a.ext);  // dirty pages beside the block
  fake->purge_ranges.clear();
  size_t purged = ta_hpa_migrate_begin(hpa, m.p, m.len);
  EXPECT_EQ(purged, a.len / ta_os_info.page_size) << "free pages of the unit go before the move";
  ta_arena_free_large(c.ext);  // more dirty pages, now inside a migrating unit
  fake->purge_ranges.clear();
  ta_hpa_purge_step(hpa, fake->now + 3600'000 * kMs, 0, true);
  uintptr_t lo = (uintptr_t)m.p / unit * unit;
  for (auto &r : fake->purge_ranges)
    EXPECT_TRUE(r.first + r.second <= lo || r.first >= lo + unit) << "purged inside the migrating unit";
  ta_hpa_migrate_end(hpa);
  fake->purge_ranges.clear();
  ta_hpa_purge_step(hpa, fake->now + 3600'000 * kMs, 0, true);
  bool inside = false;
  for (auto &r : fake->purge_ranges) inside |= r.first < lo + unit && r.first + r.second > lo;
  EXPECT_TRUE(inside) << "after the migration the unit's free pages are purged as usual";
  ta_arena_free_large(m.ext);
}

TEST_F(Migrate, ColdHintIsDemotedAtOnce) {
  Block b = alloc(1 * kMiB);
  ta_large_set_hint(&ta_node_heaps[0]->hpa, b.ext, TA_HOTNESS_HINT_COLD);
  rounds(200, {b});
  EXPECT_EQ(b.ext->tier, 1);
  ta_arena_free_large(b.ext);
}

TEST_F(Migrate, FreedDemotedBlockIsPurgedSoReuseRefaultsLocally) {
  Block b = alloc(4 * kMiB);
  rounds(3000);
  ASSERT_EQ(b.ext->tier, 1);
  EXPECT_TRUE(free_purges(b)) << "pages on the far node are dropped at free, not reused in place";
}

// A move that left a minority of the pages on the far node (it filled up part way): `tier`, a
// majority, still says node 0, yet the free must drop those pages, or the next block placed
// there inherits them.
TEST_F(Migrate, FreedPartlyDemotedBlockIsPurged) {
  for (auto &pn : fake->page_node) pn.second = 0;
  fake->node_capacity_pages[1] = 256;
  Block b = alloc(4 * kMiB);
  rounds(3000);
  ASSERT_EQ(pages_on(b, 1), 256u) << "the far node took what fit";
  ASSERT_EQ(b.ext->tier, 0) << "most pages stayed";
  EXPECT_TRUE(free_purges(b)) << "a quarter of the pages were on the far node when freed";
  for (size_t off = 0; off < b.len; off += ta_os_info.page_size) ASSERT_EQ(fake->node_of((char *)b.p + off), 0);
}

// The kernel moved a few pages (a minority: the belief stays node 0), and the sampling saw one:
// the free drops the block's pages too. A block fully brought home is freed without a purge.
TEST_F(Migrate, FreedBlockWithPagesTheKernelMovedIsPurged) {
  Block b = alloc(4 * kMiB), home = alloc(4 * kMiB);
  rounds(300, {b, home});
  for (size_t off = b.len * 3 / 4; off < b.len; off += ta_os_info.page_size) fake->page_node[(uintptr_t)b.p + off] = 1;
  rounds(300, {b, home});
  ASSERT_EQ(b.ext->tier, 0) << "a quarter is not a majority";
  EXPECT_TRUE(free_purges(b)) << "the sampled pages showed some on node 1";
  // Demoted, then brought back whole: nothing is away, nothing to drop.
  rounds(3000);
  ASSERT_EQ(home.ext->tier, 1);
  rounds(4000, {home});
  ASSERT_EQ(pages_on(home, 0), npages(home));
  EXPECT_FALSE(free_purges(home)) << "purged a block that was all home";
}

// Soft-dirty: the bits are cleared one window before the round, not right after the last one,
// so a write before the window opens is not seen and one inside it is.
TEST_F(Migrate, SoftDirtyWatchesOnlyTheWindowBeforeEachRound) {
  fake->access_kind = TA_OS_ACCESS_SOFTDIRTY;
  ta_conf.tier_local_mb = 6;
  const uint64_t interval = ta_conf.migrate_interval_ms * kMs;
  Block a = alloc(4 * kMiB), b = alloc(4 * kMiB);
  ta_large_set_hint(&ta_node_heaps[0]->hpa, b.ext, TA_HOTNESS_HINT_COLD);  // 8 MiB tracked, 6 may be local
  auto step_due = [] {
    uint64_t due = ta_migrate_next_due();
    fake->now = due > fake->now ? due : fake->now + 1;
    ta_migrate_step(fake->now, 0);
  };
  // Both written all the time: every sampled page reads written while the budget must rank.
  for (int i = 0; i < 16; i++) {
    fake->touch(a.p, a.len);
    fake->touch(b.p, b.len);
    step_due();
  }
  ASSERT_EQ(b.ext->tier, 1) << "hinted cold: demoted";
  ASSERT_EQ(a.ext->tier, 0);
  EXPECT_LE(ta_atomic_load(&ta_migrate_window_ns, ta_mo_relaxed), interval / 4) << "the window shrank";
  // Step to just after a round.
  for (uint64_t r = counter(ta_migrate_rounds); counter(ta_migrate_rounds) == r;) {
    fake->touch(a.p, a.len);
    step_due();
  }
  uint64_t round = fake->now, w = ta_atomic_load(&ta_migrate_window_ns, ta_mo_relaxed);
  ASSERT_LT(w, interval);
  EXPECT_EQ(ta_migrate_next_due(), round + interval - w) << "next due: the window opens";
  fake->touch(a.p, a.len);  // written before the window opens
  size_t rearms = fake->rearms;
  step_due();
  EXPECT_EQ(fake->rearms, rearms + 1) << "the window opened: bits cleared";
  EXPECT_EQ(ta_migrate_next_due(), round + interval);
  step_due();
  EXPECT_LT(a.ext->heat.last_active_ns, fake->now) << "a write before the window is not seen";
  step_due();               // the next window opens
  fake->touch(a.p, a.len);  // written inside it
  step_due();
  EXPECT_EQ(a.ext->heat.last_active_ns, fake->now) << "a write inside the window is seen";
  ta_arena_free_large(a.ext);
  ta_arena_free_large(b.ext);
  fake->access_kind = TA_OS_ACCESS_IDLE;
  ta_migrate_postfork_child();  // forget the pending window, as a fresh process would
}

// move_pages moves a transparent hugepage whole, so a block that shares one is split first:
// before it moves, and (once) before it is sampled while the budget ranks blocks.
TEST_F(Migrate, SharedHugepagesAreSplitBeforeAMoveAndBeforeRanking) {
  if (!ta_hpa_geometry.hugepages) GTEST_SKIP() << "no transparent hugepages on this machine";
  size_t unit = ta_hpa_geometry.unit_size;
  Block x = alloc(256 * 1024), y = alloc(256 * 1024);
  ASSERT_EQ((uintptr_t)x.p / unit, (uintptr_t)y.p / unit) << "the filler packs them into one unit";
  fake->splits.clear();
  rounds(3000, {y});  // no budget: x idles out and is demoted, y stays
  ASSERT_EQ(x.ext->tier, 1);
  ASSERT_EQ(y.ext->tier, 0);
  ASSERT_EQ(fake->splits.size(), 1u) << "sampling without a budget splits nothing; the move splits";
  EXPECT_EQ(fake->splits[0].first, (uintptr_t)x.p);
  EXPECT_EQ(fake->splits[0].second, x.len);
  // A budget that cannot hold every block: y is split once, before its samples count.
  ta_conf.tier_local_mb = 1;
  Block w = alloc(2 * kMiB);
  fake->splits.clear();
  rounds(1000, {y, w});
  size_t y_splits = 0;
  for (auto &r : fake->splits) {
    y_splits += r.first == (uintptr_t)y.p && r.second == y.len;
    EXPECT_TRUE(r.first % unit || (r.first + r.second) % unit) << "only units shared in part are split";
    EXPECT_NE(r.first, (uintptr_t)x.p) << "x was split already";
  }
  EXPECT_EQ(y_splits, 1u);
  for (Block *b : {&x, &y, &w}) ta_arena_free_large(b->ext);
}

}  // namespace

namespace {

// Under a budget, blocks are placed in base pages from the start where nothing else is resident
// in their unit (ta_large_keep_base): they are watched from the first round and move alone
// with nothing split, neither before ranking nor before a move.
TEST_F(Migrate, BlocksKeptInBasePagesNeedNoSplit) {
  if (!ta_hpa_geometry.hugepages) GTEST_SKIP() << "no transparent hugepages on this machine";
  size_t unit = ta_hpa_geometry.unit_size;
  bool saved = ta_large_keep_base;
  ta_large_keep_base = true;
  ta_conf.tier_local_mb = 1;
  ta_hpa_purge_step(&ta_node_heaps[0]->hpa, fake->now + 3600'000 * kMs, 0, true);  // nothing left resident by others
  size_t marks = fake->huge_off;
  Block x = alloc(unit * 3 / 4), y = alloc(unit / 8);  // y fills part of x's unit
  ASSERT_EQ((uintptr_t)x.p / unit, (uintptr_t)y.p / unit);
  EXPECT_TRUE(x.ext->split) << "x opened a fresh unit: marked MADV_NOHUGEPAGE before it was touched";
  EXPECT_TRUE(y.ext->split) << "and y lands in base pages too";
  EXPECT_EQ(fake->huge_off, marks + 1);
  Block w = alloc(2 * kMiB);  // over the 1 MiB budget with x: ranking
  fake->splits.clear();
  rounds(4000, {y, w});
  EXPECT_EQ(x.ext->tier, 1) << "x idles and goes far";
  EXPECT_EQ(pages_on(x, 1), npages(x));
  for (auto &r : fake->splits) {
    EXPECT_NE(r.first, (uintptr_t)x.p) << "x was not split";
    EXPECT_NE(r.first, (uintptr_t)y.p) << "y was not split";
  }
  for (Block *b : {&x, &y, &w}) ta_arena_free_large(b->ext);
  ta_large_keep_base = saved;
}

}  // namespace
