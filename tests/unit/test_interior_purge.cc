// The interior purge on the fake OS: which pages inside sparse slabs are returned (exactly
// those under no object in use or cached), when (after the decay period, never on a busy
// slab), under which hugepage rule (free pages inside slabs count as free), and what the page
// layer's counts say afterwards. Each test has its own hugepage allocator and bin, so units
// hold only what the test put there.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

#include "fake_heap.h"
#include "fake_os.h"

#include "arena.h"
#include "conf.h"

namespace {

FakeOs *fake;
constexpr uint64_t kDecay = 1'000'000'000;

// Emptied slabs go straight back to the page layer (no slab cache).
testing::Environment *const env = testing::AddGlobalTestEnvironment(new FakeHeapEnv(&fake, 0));

size_t page() { return ta_hpa_geometry.page_size; }

// One class's bin on a heap of its own (arena 0's index, node 0).
class Interior : public testing::Test {
 protected:
  ta_hpa_t hpa;
  ta_bin_t bin;
  unsigned cls = 0;

  void SetUp() override {
    ASSERT_EQ(ta_hpa_init(&hpa, 0, kDecay, 50), 0);
    ta_bin_init(&bin);
    fake->purge_ranges.clear();
    stamp_now();
  }
  void stamp_now() { ta_atomic_store(&ta_arena_clock, fake->now, ta_mo_relaxed); }
  const ta_class_info_t &ci() const { return ta_class_info[cls]; }

  std::vector<void *> fill(size_t n) { return fake_heap_fill_bin(&bin, &hpa, cls, n); }
  void put(void *p) { fake_heap_put_bin(&bin, &hpa, p); }
  // One purge step's interior round, as ta_arena_purge_step runs it.
  size_t round(uint64_t now, bool force = false) {
    ta_hpa_begin_inside(&hpa);
    ta_bin_note_inside(&bin, &hpa, cls, now, force);
    ta_hpa_purge_step(&hpa, now, 0, force);
    return ta_bin_purge_inside(&bin, &hpa, cls, now, force);
  }
  ta_hpa_stats_t stats() {
    ta_hpa_stats_t s;
    ta_hpa_get_stats(&hpa, &s);
    return s;
  }
  // Pages of [base, base + npages pages) the fake OS was asked to purge.
  std::set<size_t> purged_pages(const void *base, size_t npages) {
    std::set<size_t> out;
    uintptr_t lo = (uintptr_t)base, hi = lo + npages * page();
    for (auto &r : fake->purge_ranges)
      for (uintptr_t a = r.first; a < r.first + r.second; a += page())
        if (a >= lo && a < hi) out.insert((a - lo) / page());
    return out;
  }
  // Pages of a slab under no object that is out of the slab, computed from the geometry alone.
  std::set<size_t> expected_free_pages(const std::vector<bool> &out_of_slab) {
    std::set<size_t> pages;
    for (size_t p = 0; p < ci().slab_pages; p++) {
      bool held = false;
      for (size_t i = 0; i < ci().nobjs; i++) {
        size_t lo = i * ci().size, hi = lo + ci().size;
        if (out_of_slab[i] && lo < (p + 1) * page() && hi > p * page()) held = true;
      }
      if (!held) pages.insert(p);
    }
    return pages;
  }
};

TEST_F(Interior, PurgesExactlyThePagesUnderNoLiveOrCachedObject) {
  cls = fake_heap_multi_page_class(4097);
  if (cls >= TA_NCLASSES) GTEST_SKIP() << "no slab of 4+ pages and 4+ objects at this page size";
  auto objs = fill(ci().nobjs);  // one whole slab
  ta_extent_t *slab = ta_pagemap_lookup(objs[0]);
  for (void *p : objs) ASSERT_EQ(ta_pagemap_lookup(p), slab);
  // Objects 0 and nobjs/2 stay in use, nobjs-1 stays "cached" (taken, not returned: what a
  // thread cache holds looks the same to the bin); the rest go back to the slab.
  std::vector<bool> out(ci().nobjs, false);
  out[0] = out[ci().nobjs / 2] = out[ci().nobjs - 1] = true;
  for (size_t i = 0; i < objs.size(); i++) {
    memset(objs[i], 0x77, ci().size);
    if (!out[i]) put(objs[i]);
  }
  size_t want = expected_free_pages(out).size();
  ASSERT_GT(want, 0u) << "the test needs free pages";

  fake->now += kDecay / 2;
  EXPECT_EQ(round(fake->now), 0u) << "not idle for the decay period yet";
  EXPECT_TRUE(purged_pages(slab->addr, slab->npages).empty());

  fake->now += kDecay;
  EXPECT_EQ(round(fake->now), want);
  EXPECT_EQ(purged_pages(slab->addr, slab->npages), expected_free_pages(out));
  EXPECT_EQ(slab->npurged, want);
  EXPECT_EQ(stats().hollow_pages, want);
  EXPECT_EQ(stats().inside_purged_pages, want);
  for (size_t i = 0; i < objs.size(); i++) {
    if (!out[i]) continue;
    for (size_t b = 0; b < ci().size; b++) ASSERT_EQ(((unsigned char *)objs[i])[b], 0x77) << i;
  }

  // A second round finds nothing new.
  fake->purge_ranges.clear();
  fake->now += 2 * kDecay;
  EXPECT_EQ(round(fake->now), 0u);
  EXPECT_TRUE(fake->purge_ranges.empty());
  for (size_t i = 0; i < objs.size(); i++)
    if (out[i]) put(objs[i]);
}

TEST_F(Interior, ABusySlabIsLeftAlone) {
  cls = fake_heap_multi_page_class(4097);
  if (cls >= TA_NCLASSES) GTEST_SKIP() << "no slab of 4+ pages and 4+ objects at this page size";
  auto objs = fill(2 * ci().nobjs);
  for (size_t i = 1; i < objs.size(); i++) put(objs[i]);  // objects[0] keeps the first slab
  // Activity on the bin's slab restarts its clock: every half period, one take and one put.
  for (int k = 0; k < 6; k++) {
    fake->now += kDecay / 2;
    stamp_now();
    auto one = fill(1);
    put(one[0]);
    EXPECT_EQ(round(fake->now), 0u) << k;
  }
  fake->now += 2 * kDecay;
  EXPECT_GT(round(fake->now), 0u);
  put(objs[0]);
}

TEST_F(Interior, HandedOutAgainThePagesCountAsResident) {
  cls = fake_heap_multi_page_class(4097);
  if (cls >= TA_NCLASSES) GTEST_SKIP() << "no slab of 4+ pages and 4+ objects at this page size";
  auto objs = fill(ci().nobjs);
  ta_extent_t *slab = ta_pagemap_lookup(objs[0]);
  for (size_t i = 1; i < objs.size(); i++) put(objs[i]);
  fake->now += 2 * kDecay;
  size_t purged = round(fake->now);
  ASSERT_GT(purged, 0u);
  // Take everything again: every page is under an object in use, none stays hollow.
  stamp_now();
  auto again = fill(ci().nobjs - 1);
  EXPECT_EQ(slab->npurged, 0u);
  EXPECT_EQ(stats().hollow_pages, 0u);
  for (void *p : again) {
    EXPECT_EQ(ta_pagemap_lookup(p), slab);
    EXPECT_EQ(*(uintptr_t *)p, 0u) << "a purged page reads as zero: no free mark";
  }
  for (void *p : again) put(p);
  put(objs[0]);
}

// The pages offered to the purge carry the vacant tag in the pagemap (free's fast path then
// takes the slow path there); every page under an object handed out again gets its class back.
TEST_F(Interior, FreePagesAreTaggedVacantUntilHandedOutAgain) {
  cls = fake_heap_multi_page_class(4097);
  if (cls >= TA_NCLASSES) GTEST_SKIP() << "no slab of 4+ pages and 4+ objects at this page size";
  auto objs = fill(ci().nobjs);
  ta_extent_t *slab = ta_pagemap_lookup(objs[0]);
  std::vector<bool> out(ci().nobjs, false);
  out[0] = out[ci().nobjs / 2] = true;
  for (size_t i = 0; i < objs.size(); i++)
    if (!out[i]) put(objs[i]);
  auto tag = [&](size_t p) { return ta_pagemap_entry_class(ta_pagemap_entry((char *)slab->addr + p * page())); };
  for (size_t p = 0; p < slab->npages; p++) EXPECT_EQ(tag(p), cls) << "page " << p << " before the purge";
  fake->now += 2 * kDecay;
  ASSERT_GT(round(fake->now), 0u);
  std::set<size_t> vacant = expected_free_pages(out);
  for (size_t p = 0; p < slab->npages; p++)
    EXPECT_EQ(tag(p), vacant.count(p) ? (unsigned)TA_SLAB_VACANT_TAG : cls) << "page " << p;
  EXPECT_TRUE(slab->vacant);
  stamp_now();
  auto again = fill(ci().nobjs - 2);  // the rest of the slab
  for (size_t p = 0; p < slab->npages; p++) EXPECT_EQ(tag(p), cls) << "page " << p << " handed out again";
  EXPECT_FALSE(slab->vacant);
  for (void *p : again) put(p);
  put(objs[0]);
  put(objs[ci().nobjs / 2]);
}

TEST_F(Interior, ADeletedSlabsPurgedPagesAreFreeAndClean) {
  cls = fake_heap_multi_page_class(4097);
  if (cls >= TA_NCLASSES) GTEST_SKIP() << "no slab of 4+ pages and 4+ objects at this page size";
  auto objs = fill(ci().nobjs);
  for (size_t i = 1; i < objs.size(); i++) put(objs[i]);
  fake->now += 2 * kDecay;
  size_t purged = round(fake->now);
  ASSERT_GT(purged, 0u);
  size_t dirty = stats().dirty_pages;
  put(objs[0]);  // empties the slab: the bin's spare
  ta_bin_trim(&bin, &hpa, UINT64_MAX);
  EXPECT_EQ(stats().hollow_pages, 0u);
  EXPECT_EQ(stats().active_pages, 0u);
  EXPECT_EQ(stats().dirty_pages, dirty + ci().slab_pages - purged) << "purged pages are not dirty";
}

TEST_F(Interior, ADoubleFreeOnAPurgedPageIsCaughtAtTheSlab) {
  cls = fake_heap_multi_page_class(4097);
  if (cls >= TA_NCLASSES) GTEST_SKIP() << "no slab of 4+ pages and 4+ objects at this page size";
  auto objs = fill(ci().nobjs);
  for (size_t i = 1; i < objs.size(); i++) put(objs[i]);
  fake->now += 2 * kDecay;
  ASSERT_GT(round(fake->now), 0u);
  void *gone = objs[ci().nobjs - 1];  // on a purged page: its free mark reads as zero
  ASSERT_EQ(*(uintptr_t *)gone, 0u);
  EXPECT_DEATH(put(gone), "double free");
  put(objs[0]);
}

// The hugepage rule, at the page layer: pages noted free inside allocations count as free.
TEST_F(Interior, NotedPagesCountAsFreeInTheBreakDecision) {
  if (!ta_hpa_geometry.hugepages) GTEST_SKIP() << "no THP on this machine: every unit is broken";
  size_t unit = ta_hpa_geometry.unit_pages;
  bool zeroed;
  char *a = (char *)ta_hpa_alloc(&hpa, unit * 3 / 4, 1, &zeroed);  // 75% of a unit, one unit
  ASSERT_NE(a, nullptr);
  size_t inside = unit / 2;  // free inside: leaves 25% in use
  // Not noted: 75% in use is above hugepage_break_pct (50), the unit stays whole.
  ta_hpa_begin_inside(&hpa);
  EXPECT_EQ(ta_hpa_purge_inside(&hpa, a, inside, false), 0u);
  EXPECT_TRUE(fake->purge_ranges.empty());
  // Noted: 25% in use, the break pays.
  size_t marks = fake->huge_off;
  ta_hpa_begin_inside(&hpa);
  ta_hpa_note_inside(&hpa, a, inside);
  EXPECT_EQ(ta_hpa_purge_inside(&hpa, a, inside, false), inside);
  EXPECT_EQ(stats().broken_units, 1u);
  EXPECT_EQ(fake->huge_off, marks + 1) << "marked MADV_NOHUGEPAGE, as the purge step marks";
  ta_hpa_reuse_inside(&hpa, a, inside);
  EXPECT_EQ(stats().hollow_pages, 0u);
  // Freed whole, with no dirty page left, the unit is advised huge again.
  ta_hpa_purge_inside(&hpa, a, unit * 3 / 4, false);  // broken already: allowed
  size_t ons = fake->huge_on;
  ta_hpa_free(&hpa, a, unit * 3 / 4);
  EXPECT_EQ(stats().dirty_pages, 0u);
  EXPECT_EQ(stats().broken_units, 0u);
  EXPECT_EQ(fake->huge_on, ons + 1);
}

TEST_F(Interior, AUnitMostlyInUseIsKeptWhole) {
  if (!ta_hpa_geometry.hugepages) GTEST_SKIP() << "no THP on this machine: every unit is broken";
  cls = fake_heap_multi_page_class(4097);
  if (cls >= TA_NCLASSES) GTEST_SKIP() << "no slab of 4+ pages and 4+ objects at this page size";
  bool zeroed;
  // Live large data fills most of the unit the slab will share.
  void *big = ta_hpa_alloc(&hpa, ta_hpa_geometry.unit_pages * 3 / 4, 1, &zeroed);
  ASSERT_NE(big, nullptr);
  auto objs = fill(ci().nobjs);
  ta_extent_t *slab = ta_pagemap_lookup(objs[0]);
  ASSERT_EQ((uintptr_t)slab->addr / ta_hpa_geometry.unit_size, (uintptr_t)big / ta_hpa_geometry.unit_size)
      << "the slab shares the unit";
  for (size_t i = 1; i < objs.size(); i++) put(objs[i]);
  fake->now += 2 * kDecay;
  EXPECT_EQ(round(fake->now), 0u);
  EXPECT_EQ(stats().broken_units, 0u);
  // An explicit purge request (force) ignores the hugepage rule, as for the unit's own pages.
  EXPECT_GT(round(fake->now, true), 0u);
  put(objs[0]);
  ta_hpa_free(&hpa, big, ta_hpa_geometry.unit_pages * 3 / 4);
}

}  // namespace
