// The page layer on the in-memory fake OS: pagemap, the hugepage allocator's packing, decay and
// hugepage-breaking policy, spans, zeroing, and failures of the OS primitives.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "fake_os.h"

#include "conf.h"
#include "page.h"

namespace {

FakeOs *fake;

class Env : public testing::Environment {
 public:
  void SetUp() override {
    ta_os_init();  // the real page and hugepage sizes of this machine
    ta_conf_defaults(&ta_conf);
    fake = new FakeOs();
    fake->install();
    ta_hpa_geometry_init();
    // Regions of eight units, whatever the unit (32 MiB on a 16 KiB-page kernel): the fallback
    // test needs a region larger than the two units it asks for.
    ta_conf.region_mb = (8 * ta_hpa_geometry.unit_size) >> 20;
    // Hugepages from the first unit, as the tests below assume; HugeFromThpMinMb sets its own.
    ta_conf.thp_min_mb = 0;
  }
};
testing::Environment *const env = testing::AddGlobalTestEnvironment(new Env);

const uint64_t kDecay = 1'000'000'000;  // 1 s

struct Hpa : testing::Test {
  ta_hpa_t hpa;
  size_t page = ta_hpa_geometry.page_size, unit = ta_hpa_geometry.unit_size;
  size_t upages = ta_hpa_geometry.unit_pages;
  void SetUp() override {
    ASSERT_EQ(ta_hpa_init(&hpa, 0, kDecay, 50), 0);
    fake->map_fail_count = 0;
    fake->purge_fail_errno = 0;
    fake->advise_fail_errno = 0;
  }
  void *alloc(size_t n, bool *zeroed = nullptr) {
    bool z;
    void *p = ta_hpa_alloc(&hpa, n, 1, zeroed ? zeroed : &z);
    EXPECT_NE(p, nullptr);
    return p;
  }
  ta_hpa_stats_t stats() {
    ta_hpa_stats_t s;
    ta_hpa_get_stats(&hpa, &s);
    return s;
  }
  uintptr_t unit_of(void *p) { return (uintptr_t)p & ~(uintptr_t)(unit - 1); }
};

TEST(Pagemap, SetLookupClear) {
  ta_extent_t e{};
  static char buf[1 << 16] __attribute__((aligned(1 << 16)));
  ASSERT_EQ(ta_pagemap_set(buf, sizeof(buf), &e), 0);
  EXPECT_EQ(ta_pagemap_lookup(buf), &e);
  EXPECT_EQ(ta_pagemap_lookup(buf + sizeof(buf) - 1), &e);
  EXPECT_EQ(ta_pagemap_lookup(buf + sizeof(buf)), nullptr);
  ASSERT_EQ(ta_pagemap_set(buf, sizeof(buf), nullptr), 0);
  EXPECT_EQ(ta_pagemap_lookup(buf), nullptr);
  EXPECT_EQ(ta_pagemap_lookup((void *)((uintptr_t)1 << 50)), nullptr);
}

TEST(Pagemap, SlabEntriesCarryTheSizeClass) {
  static char buf[1 << 16] __attribute__((aligned(1 << 16)));
  ta_extent_t slab{}, large{};
  slab.kind = TA_EXTENT_SLAB;
  slab.size_class = 111;
  large.kind = TA_EXTENT_LARGE;
  large.size_class = 7;  // ignored: only slabs are tagged
  ASSERT_EQ(ta_pagemap_set(buf, sizeof(buf) / 2, &slab), 0);
  ASSERT_EQ(ta_pagemap_set(buf + sizeof(buf) / 2, 4096, &large), 0);
  for (size_t off = 0; off < sizeof(buf) / 2; off += 4096) {
    EXPECT_EQ(ta_pagemap_lookup(buf + off), &slab);
    EXPECT_EQ(ta_pagemap_entry_class(ta_pagemap_entry(buf + off)), 111u);
  }
  EXPECT_EQ(ta_pagemap_lookup(buf + sizeof(buf) / 2), &large);
  EXPECT_EQ(ta_pagemap_entry_class(ta_pagemap_entry(buf + sizeof(buf) / 2)), 0u);
  slab.size_class = 3;  // a recast slab is set again
  ASSERT_EQ(ta_pagemap_set(buf, sizeof(buf) / 2, &slab), 0);
  EXPECT_EQ(ta_pagemap_entry_class(ta_pagemap_entry(buf)), 3u);
  EXPECT_EQ(ta_pagemap_entry(buf + sizeof(buf)), 0u);
  ASSERT_EQ(ta_pagemap_set(buf, sizeof(buf), nullptr), 0);
  EXPECT_EQ(ta_pagemap_entry(buf), 0u);
}

TEST(Pagemap, LeafFailureChangesNothing) {
  ta_extent_t e{};
  // An address whose 1 GiB leaf does not exist yet.
  void *addr = (void *)((uintptr_t)0x7e00'0000'0000);
  fake->map_fail_count = 1;
  EXPECT_EQ(ta_pagemap_set(addr, 4096, &e), ENOMEM);
  EXPECT_EQ(ta_pagemap_lookup(addr), nullptr);
  EXPECT_EQ(ta_pagemap_set(addr, 4096, &e), 0);
  EXPECT_EQ(ta_pagemap_lookup(addr), &e);
  ta_pagemap_set(addr, 4096, nullptr);
}

TEST_F(Hpa, AdvisesRegionsHugeAndCountsPages) {
  size_t on = fake->huge_on;
  void *p = alloc(3);
  EXPECT_EQ((uintptr_t)p % page, 0u);
  if (ta_hpa_geometry.hugepages) {
    EXPECT_EQ(fake->huge_on, on + 1);
  }
  EXPECT_EQ(stats().active_pages, 3u);
  EXPECT_EQ(stats().mapped_bytes, (size_t)ta_conf.region_mb << 20);
  ta_hpa_free(&hpa, p, 3);
  EXPECT_EQ(stats().active_pages, 0u);
  EXPECT_EQ(stats().dirty_pages, 3u);
}

TEST_F(Hpa, FillsTheFullestHugepageFirst) {
  // Unit A: nearly full (10 free pages). Unit B: nearly empty.
  void *a = alloc(upages - 10);
  void *b = alloc(upages);  // a second whole unit
  ASSERT_NE(unit_of(a), unit_of(b));
  ta_hpa_free(&hpa, b, upages - 5);  // B now holds only its last 5 pages
  void *p = alloc(4);
  EXPECT_EQ(unit_of(p), unit_of(a)) << "a small request must go to the fuller unit";
  void *q = alloc(20);  // does not fit A's remaining 6 pages: goes to B
  EXPECT_EQ(unit_of(q), unit_of(b));
}

// The filler index (each unit's longest free run, and its bucket) is kept without rescanning a
// unit on every change; random churn of slab-sized runs, spans, partial frees, growth in place
// and purges must leave it equal to a full scan after every step.
TEST_F(Hpa, FillerIndexMatchesAFullScanUnderChurn) {
  struct Run {
    char *p;
    size_t n;
  };
  std::vector<Run> live;
  std::mt19937 rng(7);
  for (int step = 0; step < 4000; step++) {
    unsigned op = rng() % 16;
    if (live.empty() || op < 7) {
      size_t n = op == 0 ? upages + rng() % upages : 1 + rng() % (rng() % 4 ? 16 : upages / 2);
      live.push_back({(char *)alloc(n), n});
    } else if (op < 13) {
      size_t i = rng() % live.size();
      ta_hpa_free(&hpa, live[i].p, live[i].n);
      live[i] = live.back();
      live.pop_back();
    } else if (op < 14) {  // the tail of a run goes back, as a shrinking large block's does
      Run &r = live[rng() % live.size()];
      if (r.n > 1) {
        size_t keep = 1 + rng() % (r.n - 1);
        ta_hpa_free(&hpa, r.p + keep * page, r.n - keep);
        r.n = keep;
      }
    } else if (op < 15) {
      Run &r = live[rng() % live.size()];
      bool z;
      size_t more = 1 + rng() % 8;
      if (ta_hpa_try_grow(&hpa, r.p, r.n, more, &z)) r.n += more;
    } else {
      fake->now += kDecay / 2;
      ta_hpa_purge_step(&hpa, fake->now, 0, rng() % 2);
    }
    ASSERT_EQ(ta_hpa_check_index(&hpa), 0u) << "step " << step << " op " << op;
  }
  for (const Run &r : live) ta_hpa_free(&hpa, r.p, r.n);
  EXPECT_EQ(stats().active_pages, 0u);
  EXPECT_EQ(ta_hpa_check_index(&hpa), 0u);
}

TEST_F(Hpa, ZeroedOnlyWhenUntouchedOrPurged) {
  bool z;
  char *p = (char *)alloc(8, &z);
  EXPECT_TRUE(z);
  memset(p, 0xab, 8 * page);
  ta_hpa_free(&hpa, p, 8);
  char *q = (char *)alloc(8, &z);
  ASSERT_EQ(q, p);
  EXPECT_FALSE(z) << "reused dirty pages must not be reported zero";
  ta_hpa_free(&hpa, q, 8);
  ta_hpa_purge_step(&hpa, fake->now, 0, true);
  char *r = (char *)alloc(8, &z);
  EXPECT_TRUE(z);
  for (size_t i = 0; i < 8 * page; i++) ASSERT_EQ(r[i], 0);
}

TEST_F(Hpa, PurgesWholeFreeUnitsOnlyAfterDecay) {
  uint64_t t0 = fake->now;
  void *p = alloc(upages);
  ta_hpa_free(&hpa, p, upages);
  EXPECT_EQ(ta_hpa_next_due(&hpa), t0 + kDecay);
  EXPECT_EQ(ta_hpa_purge_step(&hpa, t0 + kDecay - 1, 0, false), 0u);
  EXPECT_EQ(stats().dirty_pages, upages);
  size_t off = fake->huge_off;
  EXPECT_EQ(ta_hpa_purge_step(&hpa, t0 + kDecay, 0, false), upages);
  EXPECT_EQ(stats().dirty_pages, 0u);
  EXPECT_EQ(fake->huge_off, off) << "a wholly free unit is purged without breaking it";
  EXPECT_EQ(ta_hpa_next_due(&hpa), UINT64_MAX);
}

TEST_F(Hpa, BreaksAHugepageOnlyWhenMostlyFree) {
  uint64_t t0 = fake->now;
  char *p = (char *)alloc(upages);
  // 80% still used: keep the hugepage whole.
  size_t keep = upages * 8 / 10;
  ta_hpa_free(&hpa, p + keep * page, upages - keep);
  size_t off = fake->huge_off;
  EXPECT_EQ(ta_hpa_purge_step(&hpa, t0 + kDecay, 0, false), 0u);
  EXPECT_EQ(fake->huge_off, off);
  EXPECT_EQ(stats().dirty_pages, upages - keep);
  // Down to 10% used: now its free pages are worth more than the hugepage.
  size_t live = upages / 10;
  ta_hpa_free(&hpa, p + live * page, keep - live);
  fake->now = t0 + 3 * kDecay;
  EXPECT_EQ(ta_hpa_purge_step(&hpa, fake->now, 0, false), upages - live);
  EXPECT_EQ(stats().dirty_pages, 0u);
  if (ta_hpa_geometry.hugepages) {
    EXPECT_EQ(fake->huge_off, off + 1);
    EXPECT_EQ(fake->huge_off_ranges.back().first, (uintptr_t)p);
    EXPECT_EQ(fake->huge_off_ranges.back().second, unit);
  }
  EXPECT_EQ(stats().broken_units, ta_hpa_geometry.hugepages ? 1u : 0u);
  // Once wholly free and purged, the unit is advised huge again.
  size_t on = fake->huge_on;
  ta_hpa_free(&hpa, p, live);
  ta_hpa_purge_step(&hpa, fake->now + kDecay, 0, false);
  EXPECT_EQ(stats().broken_units, 0u);
  if (ta_hpa_geometry.hugepages) {
    EXPECT_EQ(fake->huge_on, on + 1);
  }
}

TEST_F(Hpa, HolesKeptForTenDecaysAreReturned) {
  uint64_t t0 = fake->now;
  char *p = (char *)alloc(upages);
  size_t keep = upages * 8 / 10;  // 80% used: kept whole at first
  ta_hpa_free(&hpa, p + keep * page, upages - keep);
  for (int i = 1; i <= 9; i++)
    EXPECT_EQ(ta_hpa_purge_step(&hpa, t0 + i * kDecay, 0, false), 0u) << "decay period " << i;
  EXPECT_EQ(stats().dirty_pages, upages - keep);
  // Filling every hole ends the stretch: the holes freed again start a new one.
  char *q = (char *)alloc(upages - keep);
  EXPECT_EQ(q, p + keep * page);
  EXPECT_EQ(stats().dirty_pages, 0u);
  uint64_t t1 = t0 + 9 * kDecay + kDecay / 2;
  fake->now = t1;
  ta_hpa_free(&hpa, q, upages - keep);
  for (int i = 1; i <= 9; i++)
    EXPECT_EQ(ta_hpa_purge_step(&hpa, t1 + i * kDecay, 0, false), 0u) << "new stretch, period " << i;
  EXPECT_EQ(stats().stale_breaks, 0u);
  // Dirty for ten decay periods: returned, the hugepage broken on purpose.
  fake->now = t1 + 10 * kDecay;
  EXPECT_EQ(ta_hpa_purge_step(&hpa, fake->now, 0, false), upages - keep);
  EXPECT_EQ(stats().dirty_pages, 0u);
  EXPECT_EQ(stats().stale_breaks, 1u);
  EXPECT_EQ(stats().broken_units, ta_hpa_geometry.hugepages ? 1u : 0u);
  ta_hpa_free(&hpa, p, keep);
}

TEST_F(Hpa, MarksAreBounded) {
  if (!ta_hpa_geometry.hugepages) GTEST_SKIP() << "no THP on this machine: nothing to mark";
  uint64_t saved = ta_conf.nohuge_marks_max;
  ta_conf.nohuge_marks_max = 0;
  char *p = (char *)alloc(upages);
  ta_hpa_free(&hpa, p + page, upages - 1);
  size_t off = fake->huge_off;
  fake->now += 2 * kDecay;
  EXPECT_EQ(ta_hpa_purge_step(&hpa, fake->now, 0, false), upages - 1) << "still purged";
  EXPECT_EQ(fake->huge_off, off) << "but not marked";
  EXPECT_EQ(stats().unmarked_breaks, 1u);
  EXPECT_EQ(stats().marked_units, 0u);
  ta_conf.nohuge_marks_max = saved;
  ta_hpa_free(&hpa, p, 1);
}

// Blocks the hotness policy ranks: a unit holding nothing resident is marked MADV_NOHUGEPAGE
// before its first block is touched, and later blocks in it are in base pages too; a unit that
// held other data, or a whole unit of a span, is not (the policy splits those as before). Once
// wholly free and purged the unit is a hugepage-advised range again.
TEST_F(Hpa, KeepsRankedBlocksOffHugepagesWhereNothingIsResident) {
  if (!ta_hpa_geometry.hugepages) GTEST_SKIP() << "no THP on this machine: every block is in base pages";
  size_t off = fake->huge_off;
  char *a = (char *)alloc(upages / 4);
  EXPECT_TRUE(ta_hpa_keep_base(&hpa, a, upages / 4));
  EXPECT_EQ(fake->huge_off, off + 1);
  EXPECT_EQ(fake->huge_off_ranges.back().first, unit_of(a));
  EXPECT_EQ(fake->huge_off_ranges.back().second, unit);
  char *b = (char *)alloc(upages / 4);
  EXPECT_EQ(unit_of(b), unit_of(a));
  EXPECT_TRUE(ta_hpa_keep_base(&hpa, b, upages / 4)) << "the unit is in base pages already";
  EXPECT_EQ(fake->huge_off, off + 1) << "no second advice";
  EXPECT_EQ(stats().marked_units, 1u);
  // A unit where something else lives (a slab, say) may be a hugepage already: not claimed.
  char *c = (char *)alloc(upages);                       // fills a second unit whole
  ta_hpa_free(&hpa, c + upages * 3 / 4 * page, upages / 4);  // its last quarter free, dirty
  char *d = (char *)alloc(upages / 4);                       // the fullest unit that fits: c's
  ASSERT_NE(unit_of(d), unit_of(a));
  ASSERT_EQ(unit_of(d), unit_of(c));
  EXPECT_FALSE(ta_hpa_keep_base(&hpa, d, upages / 4));
  // A whole unit of a span moves and is watched whole: nothing to mark for it.
  char *s = (char *)alloc(2 * upages);
  EXPECT_TRUE(ta_hpa_keep_base(&hpa, s, 2 * upages));
  EXPECT_EQ(stats().marked_units, 1u);
  ta_hpa_free(&hpa, s, 2 * upages);
  ta_hpa_free(&hpa, d, upages / 4);
  ta_hpa_free(&hpa, c, upages * 3 / 4);
  // Wholly free and purged: advised huge again, and a new block there is kept off it anew.
  size_t on = fake->huge_on;
  ta_hpa_free(&hpa, a, upages / 4);
  ta_hpa_free(&hpa, b, upages / 4);
  fake->now += 2 * kDecay;
  ta_hpa_purge_step(&hpa, fake->now, 0, true);
  EXPECT_EQ(stats().marked_units, 0u);
  EXPECT_GE(fake->huge_on, on + 1);
}

// conf thp_min_mb: a heap that has handed out less is on base pages (its region marked off
// hugepages, free pages in a mostly used unit purged as they decay, with no hugepage to break);
// the allocation that takes it to the threshold advises the region and collapses the units
// already resident, not the one it takes.
struct HugeFromThpMinMb : Hpa {
  uint64_t saved_min = ta_conf.thp_min_mb;
  void SetUp() override {
    if (!ta_hpa_geometry.hugepages) GTEST_SKIP() << "no THP on this machine: never advised";
    ta_conf.thp_min_mb = (5 * ta_hpa_geometry.unit_size / 2) >> 20;  // two units and a half
    Hpa::SetUp();
    fake->collapse_errno = 0;
    fake->collapse_fails = -1;
    fake->collapse_calls = 0;
    fake->collapsed.clear();
  }
  void TearDown() override {
    ta_conf.thp_min_mb = saved_min;
    fake->collapse_errno = 0;
    fake->collapse_fails = -1;
  }
};

TEST_F(HugeFromThpMinMb, BasePagesUntilTheHeapHoldsIt) {
  size_t on = fake->huge_on, off = fake->huge_off;
  char *a = (char *)alloc(upages);
  char *b = (char *)alloc(upages);
  ASSERT_NE(unit_of(a), unit_of(b));
  EXPECT_EQ(fake->huge_on, on) << "two units: below the threshold, not advised huge";
  EXPECT_EQ(fake->huge_off, off + 1) << "the region marked off hugepages (THP \"always\")";
  off = fake->huge_off;
  // 7/8 of b's unit stays in use: a hugepage would be kept whole, base pages are purged.
  ta_hpa_free(&hpa, b + upages * 7 / 8 * page, upages / 8);
  fake->now += 2 * kDecay;
  EXPECT_EQ(ta_hpa_purge_step(&hpa, fake->now, 0, false), upages / 8);
  EXPECT_EQ(stats().broken_units, 0u);
  EXPECT_EQ(fake->huge_off, off);
  char *c = (char *)alloc(upages);  // 2 7/8 units handed out: the heap goes on hugepages
  EXPECT_EQ(fake->huge_on, on + 1) << "the region advised once, whole";
  ASSERT_EQ(fake->collapsed.size(), 2u);
  std::set<uintptr_t> collapsed{fake->collapsed[0].first, fake->collapsed[1].first};
  EXPECT_EQ(collapsed, (std::set<uintptr_t>{unit_of(a), unit_of(b)})) << "not the new unit";
  EXPECT_EQ(fake->collapsed[0].second, unit);
  EXPECT_EQ(stats().collapsed_units, 2u);
  EXPECT_EQ(stats().advise_failures, 0u);
  // From now on a mostly used unit is a hugepage kept whole.
  ta_hpa_free(&hpa, c + upages * 7 / 8 * page, upages / 8);
  fake->now += 2 * kDecay;
  EXPECT_EQ(ta_hpa_purge_step(&hpa, fake->now, 0, false), 0u);
  EXPECT_EQ(stats().dirty_pages, upages / 8);
  // Later units are advised with their region, never collapsed.
  alloc(upages);
  EXPECT_EQ(fake->collapsed.size(), 2u);
}

TEST_F(HugeFromThpMinMb, ASpanPassingItGoesHugeFirst) {
  size_t on = fake->huge_on;
  char *a = (char *)alloc(upages / 2);
  char *s = (char *)alloc(3 * upages);  // one unit held, three more asked for
  EXPECT_EQ(fake->huge_on, on + 1);
  ASSERT_EQ(fake->collapsed.size(), 1u);
  EXPECT_EQ(fake->collapsed[0].first, unit_of(a));
  ta_hpa_free(&hpa, s, 3 * upages);
  ta_hpa_free(&hpa, a, upages / 2);
}

TEST_F(HugeFromThpMinMb, AUnitMarkedWhileSmallStaysMarked) {
  char *a = (char *)alloc(upages / 4);
  ASSERT_TRUE(ta_hpa_keep_base(&hpa, a, upages / 4));  // a ranked block: its unit marked
  ASSERT_EQ(stats().marked_units, 1u);
  size_t off = fake->huge_off;
  char *b = (char *)alloc(upages);
  char *c = (char *)alloc(upages);
  EXPECT_EQ(fake->huge_off, off) << "2 1/4 units: still on base pages";
  alloc(upages);  // 3 1/4 units
  EXPECT_EQ(fake->huge_off, off + 1) << "the region's advice cleared the mark: marked again";
  EXPECT_EQ(fake->huge_off_ranges.back(), std::make_pair(unit_of(a), unit));
  ASSERT_EQ(fake->collapsed.size(), 2u) << "a marked unit is not collapsed";
  std::set<uintptr_t> collapsed{fake->collapsed[0].first, fake->collapsed[1].first};
  EXPECT_EQ(collapsed, (std::set<uintptr_t>{unit_of(b), unit_of(c)}));
}

TEST_F(HugeFromThpMinMb, ABusyPageIsCollapsedOnAnotherTry) {
  // EAGAIN (a page busy while the kernel isolated it) is tried again: three failures in a row
  // still end with both units on hugepages.
  fake->collapse_errno = EAGAIN;
  fake->collapse_fails = 3;
  alloc(upages);
  alloc(upages);
  alloc(upages);
  EXPECT_EQ(fake->collapsed.size(), 2u);
  EXPECT_EQ(stats().collapsed_units, 2u);
  EXPECT_EQ(stats().advise_failures, 0u);
  EXPECT_EQ(fake->collapse_calls, 5u) << "three failed tries, then one per unit";
}

TEST_F(HugeFromThpMinMb, ABusyPageIsTriedABoundedNumberOfTimes) {
  fake->collapse_errno = EAGAIN;  // busy every time
  alloc(upages);
  alloc(upages);
  EXPECT_NE(alloc(upages), nullptr);
  EXPECT_EQ(stats().collapsed_units, 0u);
  EXPECT_EQ(stats().advise_failures, 2u);
  EXPECT_GE(fake->collapse_calls, 4u);
  EXPECT_LE(fake->collapse_calls, 16u) << "a few tries per unit, not a loop until it works";
}

TEST_F(HugeFromThpMinMb, CollapseFailuresAreCountedUnlessUnsupported) {
  fake->collapse_errno = ENOMEM;
  alloc(upages);
  alloc(upages);
  void *p = alloc(upages);  // the allocation itself does not fail
  EXPECT_NE(p, nullptr);
  EXPECT_EQ(stats().collapsed_units, 0u);
  EXPECT_EQ(stats().advise_failures, 2u);
  // A kernel without MADV_COLLAPSE (EINVAL) leaves the units to khugepaged, uncounted.
  ASSERT_EQ(ta_hpa_init(&hpa, 0, kDecay, 50), 0);
  fake->collapse_errno = EINVAL;
  alloc(upages);
  alloc(upages);
  alloc(upages);
  EXPECT_EQ(stats().collapsed_units, 0u);
  EXPECT_EQ(stats().advise_failures, 0u);
}

TEST_F(Hpa, SpanTailGoesToTheFiller) {
  size_t n = 2 * upages + 3;
  char *p = (char *)alloc(n);
  EXPECT_EQ((uintptr_t)p % unit, 0u);
  char *q = (char *)alloc(1);
  EXPECT_EQ(q, p + n * page) << "the span's last unit serves small requests";
  ta_hpa_free(&hpa, p, n);
  ta_hpa_free(&hpa, q, 1);
  EXPECT_EQ(stats().active_pages, 0u);
  EXPECT_EQ(stats().units_in_use, 0u);
}

TEST_F(Hpa, AlignedRequests) {
  bool z;
  alloc(1);
  void *p = ta_hpa_alloc(&hpa, 4, 16, &z);
  EXPECT_EQ((uintptr_t)p % (16 * page), 0u);
  void *q = ta_hpa_alloc(&hpa, 3, 4 * upages, &z);
  EXPECT_EQ((uintptr_t)q % (4 * unit), 0u);
}

TEST_F(Hpa, GrowInPlace) {
  bool z;
  char *p = (char *)alloc(4);
  EXPECT_TRUE(ta_hpa_try_grow(&hpa, p, 4, 4, &z));
  char *blocker = (char *)alloc(1);
  EXPECT_EQ(blocker, p + 8 * page);
  EXPECT_FALSE(ta_hpa_try_grow(&hpa, p, 8, 1, &z));
}

TEST_F(Hpa, ReservationFallsBackThenFails) {
  // First reservation (region_mb) refused, the retry at the needed size succeeds.
  fake->map_fail_count = 1;
  void *p = alloc(1);
  EXPECT_EQ(stats().mapped_bytes, unit);
  EXPECT_EQ(stats().map_failures, 1u);
  ta_hpa_free(&hpa, p, 1);
  // Both refused: NULL, and the allocator still works afterwards.
  fake->map_fail_count = 2;
  bool z;
  EXPECT_EQ(ta_hpa_alloc(&hpa, 2 * upages, 1, &z), nullptr);
  EXPECT_NE(ta_hpa_alloc(&hpa, 2 * upages, 1, &z), nullptr);
}

TEST_F(Hpa, FailedAdviceAndPurgeAreSurvived) {
  fake->advise_fail_errno = EINVAL;
  void *p = alloc(upages);
  fake->purge_fail_errno = EINVAL;
  ta_hpa_free(&hpa, p, upages);
  EXPECT_EQ(ta_hpa_purge_step(&hpa, fake->now + kDecay, 0, false), 0u);
  EXPECT_EQ(stats().dirty_pages, upages) << "a failed purge stays counted as resident";
  EXPECT_GE(stats().purge_failures, 1u);
  if (ta_hpa_geometry.hugepages) {
    EXPECT_GE(stats().advise_failures, 1u);
  }
  fake->purge_fail_errno = 0;
  EXPECT_EQ(ta_hpa_purge_step(&hpa, fake->now + 3 * kDecay, 0, false), upages);
}

TEST_F(Hpa, DoubleFreeOfPagesAborts) {
  void *p = alloc(2);
  ta_hpa_free(&hpa, p, 2);
  EXPECT_DEATH(ta_hpa_free(&hpa, p, 2), "double free");
}

// Prefaulting (conf thp_prefault), with hugepage advice on whatever this machine's THP mode.
struct Prefault : Hpa {
  bool saved_hugepages = ta_hpa_geometry.hugepages;
  unsigned saved_ahead = ta_conf.thp_prefault;
  void SetUp() override {
    ta_hpa_geometry.hugepages = true;
    ta_conf.thp_prefault = 2;
    fake->populated.clear();
    fake->populate_errno = 0;
    fake->on_populate = nullptr;
    Hpa::SetUp();
  }
  void TearDown() override {
    ta_hpa_geometry.hugepages = saved_hugepages;
    ta_conf.thp_prefault = saved_ahead;
    fake->on_populate = nullptr;
    fake->populate_errno = 0;
  }
  bool was_populated(uintptr_t u) {
    for (auto &r : fake->populated)
      if (r.first == u && r.second == unit) return true;
    return false;
  }
};

TEST_F(Prefault, FaultsUnitsAheadOnlyAfterAFreshUnitWasTaken) {
  EXPECT_EQ(ta_hpa_prefault_step(&hpa, 2, fake->now), 0u) << "no demand yet";
  uint32_t word = ta_atomic_load(&ta_hpa_prefault_word, ta_mo_relaxed);
  void *p = alloc(1);
  EXPECT_EQ(stats().fresh_units, 1u);
  EXPECT_NE(ta_atomic_load(&ta_hpa_prefault_word, ta_mo_relaxed), word) << "the waiter is told";
  EXPECT_EQ(ta_hpa_prefault_step(&hpa, 2, fake->now), 2u);
  ASSERT_EQ(fake->populated.size(), 2u);
  for (auto &r : fake->populated) {
    EXPECT_EQ(r.first % unit, 0u);
    EXPECT_EQ(r.second, unit);
    EXPECT_NE(r.first, unit_of(p));
  }
  EXPECT_EQ(stats().prefaulted_units, 2u);
  EXPECT_EQ(stats().dirty_pages, 2 * upages) << "resident and free: counted dirty, so decay returns them";
  EXPECT_EQ(ta_hpa_prefault_step(&hpa, 2, fake->now), 0u) << "nothing taken since: an idle heap is not refilled";
  EXPECT_EQ(fake->populated.size(), 2u);
}

TEST_F(Prefault, NextUnitsTakenAreThePrefaultedOnes) {
  alloc(1);
  ASSERT_EQ(ta_hpa_prefault_step(&hpa, 2, fake->now), 2u);
  bool z = true;
  void *q = alloc(upages, &z);
  EXPECT_TRUE(was_populated(unit_of(q)));
  EXPECT_FALSE(z) << "a populated unit is not reported zero (it counts as dirty)";
  EXPECT_EQ(stats().fresh_units, 1u) << "the allocating thread faulted nothing new";
  EXPECT_EQ(stats().dirty_pages, upages);
  // One resident unit is left: the next step (demand comes only from fresh takes) is asked
  // for again once the last is used and a fresh one taken.
  alloc(upages);
  alloc(upages);
  EXPECT_EQ(stats().fresh_units, 2u);
  EXPECT_EQ(ta_hpa_prefault_step(&hpa, 2, fake->now), 2u);
}

TEST_F(Prefault, ResidentFreeUnitsCountAsAhead) {
  void *a = alloc(upages);
  void *b = alloc(upages);
  ta_hpa_free(&hpa, a, upages);  // resident, wholly free
  (void)b;
  EXPECT_EQ(ta_hpa_prefault_step(&hpa, 2, fake->now), 1u);
  EXPECT_EQ(ta_hpa_prefault_step(&hpa, 2, fake->now), 0u);
}

TEST_F(Prefault, UnusedUnitsArePurgedAfterTheDecay) {
  uint64_t t0 = fake->now;
  alloc(1);
  ASSERT_EQ(ta_hpa_prefault_step(&hpa, 2, t0), 2u);
  EXPECT_EQ(ta_hpa_purge_step(&hpa, t0 + kDecay - 1, 0, false), 0u);
  EXPECT_EQ(ta_hpa_purge_step(&hpa, t0 + kDecay, 0, false), 2 * upages);
  EXPECT_EQ(stats().dirty_pages, 0u);
}

TEST_F(Prefault, UnitsBeingFaultedInAreNotHandedOut) {
  alloc(1);
  std::set<uintptr_t> taken;
  fake->on_populate = [&](uintptr_t, size_t) {
    bool z;
    void *p = ta_hpa_alloc(&hpa, upages, 1, &z);  // another thread, while the lock is free
    ASSERT_NE(p, nullptr);
    taken.insert(unit_of(p));
  };
  ASSERT_EQ(ta_hpa_prefault_step(&hpa, 2, fake->now), 2u);
  ASSERT_EQ(taken.size(), 2u);
  for (auto &r : fake->populated) EXPECT_EQ(taken.count(r.first), 0u);
  EXPECT_EQ(stats().fresh_units, 3u);
}

TEST_F(Prefault, StopsWhereTheKernelRefuses) {
  fake->populate_errno = EINVAL;  // kernels before 5.14
  alloc(1);
  EXPECT_EQ(ta_hpa_prefault_step(&hpa, 2, fake->now), 0u);
  EXPECT_EQ(stats().dirty_pages, 0u) << "nothing was faulted in";
  fake->populate_errno = 0;
  bool z = false;
  alloc(upages, &z);
  EXPECT_TRUE(z) << "the units tried are back in the pool, still reading as zero";
  alloc(upages);
  EXPECT_EQ(ta_hpa_prefault_step(&hpa, 2, fake->now), 0u);
  EXPECT_TRUE(fake->populated.empty()) << "not asked again";
}

TEST_F(Prefault, OffWhenConfIsZero) {
  ta_conf.thp_prefault = 0;
  alloc(1);
  EXPECT_EQ(stats().fresh_units, 1u);
  EXPECT_EQ(ta_hpa_prefault_step(&hpa, 2, fake->now), 0u);
  EXPECT_TRUE(fake->populated.empty());
}

TEST_F(Prefault, OffWithoutTheBackgroundThread) {
  ta_conf.background_thread = false;  // nobody would wait for the wake-up
  uint32_t word = ta_atomic_load(&ta_hpa_prefault_word, ta_mo_relaxed);
  alloc(1);
  ta_conf.background_thread = true;
  EXPECT_EQ(ta_atomic_load(&ta_hpa_prefault_word, ta_mo_relaxed), word);
  EXPECT_EQ(ta_hpa_prefault_step(&hpa, 2, fake->now), 0u);
  EXPECT_TRUE(fake->populated.empty());
}

TEST(Decay, Curve) {
  EXPECT_FALSE(ta_decay_is_due(1999, 1000, 1000));
  EXPECT_TRUE(ta_decay_is_due(2000, 1000, 1000));
  EXPECT_TRUE(ta_decay_is_due(5, 5, 0));
  EXPECT_FALSE(ta_decay_is_due(4, 5, 0)) << "a clock step backwards is not 'due'";
  EXPECT_TRUE(ta_decay_should_break(256, 512, 50, false));
  EXPECT_FALSE(ta_decay_should_break(257, 512, 50, false));
  EXPECT_TRUE(ta_decay_should_break(511, 512, 50, true));
  EXPECT_FALSE(ta_decay_should_break(1, 512, 0, false));
  EXPECT_TRUE(ta_decay_should_break(0, 512, 0, false));
}

TEST(Large, UsableSizeIsPageRoundedAndRegistered) {
  ta_hpa_t hpa;
  ASSERT_EQ(ta_hpa_init(&hpa, 0, kDecay, 50), 0);
  size_t page = ta_hpa_geometry.page_size;
  char *p = (char *)ta_large_alloc(&hpa, 100000, 16, true, 0);
  ASSERT_NE(p, nullptr);
  ta_extent_t *e = ta_pagemap_lookup(p);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->kind, TA_EXTENT_LARGE);
  EXPECT_EQ(e->usable, (100000 + page - 1) / page * page);
  EXPECT_EQ(ta_pagemap_lookup(p + page), nullptr) << "interior pages are not registered";
  EXPECT_TRUE(ta_large_resize_in_place(&hpa, e, 50000 + page));
  EXPECT_EQ(e->usable, (50000 + page + page - 1) / page * page);
  ta_large_free(&hpa, e);
  EXPECT_EQ(ta_pagemap_lookup(p), nullptr);
}

}  // namespace
