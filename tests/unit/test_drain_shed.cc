// Shedding on the fake OS: a class whose bin takes back drain_shed_kb with no take hands the
// whole free pages of its partly used slabs to the page layer at once (no purge: they stay
// resident), the pages go to the next slab of another class, a take stops it, the shrunk slab
// frees only the pages it still owns, and a double free of an object that went with a shed page
// is caught. Each test has its own hugepage allocator and bins, so units hold only what the
// test put there.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <vector>

#include "fake_heap.h"
#include "fake_os.h"

#include "arena.h"
#include "conf.h"

namespace {

FakeOs *fake;

// Emptied slabs go straight back to the page layer (no slab cache).
testing::Environment *const env = testing::AddGlobalTestEnvironment(new FakeHeapEnv(&fake, 0));

size_t page() { return ta_hpa_geometry.page_size; }

// Two classes' bins on a heap of their own: `cls` drains, `other` takes the pages.
class Shed : public testing::Test {
 protected:
  ta_hpa_t hpa;
  ta_bin_t bins[TA_NCLASSES];
  unsigned cls = 0;

  void SetUp() override {
    ASSERT_EQ(ta_hpa_init(&hpa, 0, 1'000'000'000, 50), 0);
    memset(bins, 0, sizeof bins);  // stats included: ta_bin_init leaves them to the arena
    for (auto &b : bins) ta_bin_init(&b);
    fake->purge_ranges.clear();
    cls = fake_heap_multi_page_class(4097);
    if (cls >= TA_NCLASSES) GTEST_SKIP() << "no slab of 4+ pages and 4+ objects at this page size";
    // Shedding from the first return on: each test sets the bound it needs.
    ta_conf.drain_shed_kb = 1;
  }
  void TearDown() override { ta_conf.drain_shed_kb = 1024; }
  const ta_class_info_t &ci(unsigned c) const { return ta_class_info[c]; }

  std::vector<void *> fill(unsigned c, size_t n) { return fake_heap_fill_bin(&bins[c], &hpa, c, n); }
  void put(void *p) {
    ta_extent_t *slab = ta_pagemap_lookup(p);
    ASSERT_NE(slab, nullptr) << p;
    fake_heap_put_bin(&bins[slab->size_class], &hpa, p);
  }
  ta_hpa_stats_t stats() {
    ta_hpa_stats_t s;
    ta_hpa_get_stats(&hpa, &s);
    return s;
  }
  // Pages of a slab under no object still out of it, from the geometry alone.
  std::set<size_t> expected_free_pages(unsigned c, const std::vector<bool> &out) {
    std::set<size_t> pages;
    for (size_t p = 0; p < ci(c).slab_pages; p++) {
      bool held = false;
      for (size_t i = 0; i < ci(c).nobjs; i++) {
        size_t lo = i * ci(c).size, hi = lo + ci(c).size;
        if (out[i] && lo < (p + 1) * page() && hi > p * page()) held = true;
      }
      if (!held) pages.insert(p);
    }
    return pages;
  }
  std::set<size_t> shed_pages(const ta_extent_t *slab) {
    std::set<size_t> s;
    for (size_t p = 0; p < slab->npages; p++)
      if (slab->shed >> p & 1) s.insert(p);
    return s;
  }
};

TEST_F(Shed, ADrainingClassShedsExactlyItsFreePagesWithoutPurging) {
  auto objs = fill(cls, ci(cls).nobjs);  // one whole slab
  ta_extent_t *slab = ta_pagemap_lookup(objs[0]);
  std::vector<bool> out(ci(cls).nobjs, false);
  out[0] = out[ci(cls).nobjs / 2] = out[ci(cls).nobjs - 1] = true;  // in use or cached
  for (size_t i = 0; i < objs.size(); i++) {
    memset(objs[i], 0x77, ci(cls).size);
    if (!out[i]) put(objs[i]);
  }
  std::set<size_t> want = expected_free_pages(cls, out);
  ASSERT_FALSE(want.empty()) << "the test needs free pages";
  EXPECT_EQ(shed_pages(slab), want);
  EXPECT_EQ(bins[cls].stats.shed_pages, want.size());
  EXPECT_EQ(stats().active_pages, ci(cls).slab_pages - want.size());
  EXPECT_EQ(stats().dirty_pages, want.size()) << "shed pages stay resident, dirty";
  EXPECT_TRUE(fake->purge_ranges.empty()) << "nothing goes back to the kernel";
  for (size_t p : want) EXPECT_EQ(ta_pagemap_lookup((char *)slab->addr + p * page()), nullptr) << p;
  // The objects left are intact, and the slab holds fewer objects now.
  for (size_t i = 0; i < objs.size(); i++) {
    if (!out[i]) continue;
    for (size_t b = 0; b < ci(cls).size; b++) ASSERT_EQ(((unsigned char *)objs[i])[b], 0x77) << i;
  }
  EXPECT_EQ(slab->nfree + slab->nshed + 3, slab->nobjs);
  EXPECT_GT(slab->nshed, 0u);
  // Returning the rest deletes the slab: only its own pages go back, and everything is free.
  put(objs[0]);
  put(objs[ci(cls).nobjs / 2]);
  put(objs[ci(cls).nobjs - 1]);
  EXPECT_EQ(stats().active_pages, 0u);
  EXPECT_EQ(stats().dirty_pages, ci(cls).slab_pages);
  EXPECT_EQ(bins[cls].stats.nslabs, 0u);
  EXPECT_EQ(bins[cls].spare, nullptr) << "a shrunk slab is not kept as the spare";
}

TEST_F(Shed, ReturnsBelowTheBoundOrATakeStopIt) {
  if (ci(cls).nobjs < 8) GTEST_SKIP() << "the test needs 8 objects per slab";
  auto objs = fill(cls, ci(cls).nobjs);
  ta_extent_t *slab = ta_pagemap_lookup(objs[0]);
  // The bound: more than three returns, at most four.
  ta_conf.drain_shed_kb = (unsigned)((3 * ci(cls).size >> 10) + 1);
  put(objs[1]);
  put(objs[2]);
  put(objs[3]);
  EXPECT_EQ(slab->shed, 0u) << "three returns: not draining yet";
  // One take resets the count: three more returns stay below the bound again.
  auto one = fill(cls, 1);
  EXPECT_EQ(one[0], objs[1]);
  put(one[0]);
  put(objs[4]);
  put(objs[5]);
  EXPECT_EQ(slab->shed, 0u) << "a take in between: not draining";
  EXPECT_EQ(bins[cls].stats.shed_pages, 0u);
  put(objs[6]);  // the fourth since the take
  // Shed: the free pages under object 6, which its return emptied. Pages that emptied before
  // the class counted as draining stay (the interior purge's business).
  std::vector<bool> out(ci(cls).nobjs, true);
  for (size_t i = 1; i <= 6; i++) out[i] = false;
  std::set<size_t> want;
  size_t lo = 6 * ci(cls).size / page(), hi = (7 * ci(cls).size - 1) / page();
  for (size_t p : expected_free_pages(cls, out))
    if (p >= lo && p <= hi) want.insert(p);
  ASSERT_FALSE(want.empty());
  ASSERT_LT(want.size(), expected_free_pages(cls, out).size()) << "the test needs pages freed earlier";
  EXPECT_EQ(shed_pages(slab), want);
  for (size_t i = 0; i < objs.size(); i++)
    if (out[i]) put(objs[i]);
  EXPECT_EQ(stats().active_pages, 0u);
}

TEST_F(Shed, ShedPagesGoToTheNextSlabOfAnotherClass) {
  auto objs = fill(cls, ci(cls).nobjs);
  ta_extent_t *slab = ta_pagemap_lookup(objs[0]);
  for (size_t i = 1; i < objs.size(); i++) put(objs[i]);  // object 0 alone keeps the slab
  std::set<size_t> shed = shed_pages(slab);
  ASSERT_FALSE(shed.empty());
  // A class whose slab fits in the shed run takes it: no fresh memory, no zero pages assumed.
  unsigned other = ta_size_class_of(520);
  ASSERT_LE(ci(other).slab_pages, shed.size());
  size_t fresh = stats().fresh_units;
  auto small = fill(other, ci(other).nobjs);
  ta_extent_t *ns = ta_pagemap_lookup(small[0]);
  size_t p0 = ((uintptr_t)ns->addr - (uintptr_t)slab->addr) / page();
  EXPECT_LT((uintptr_t)ns->addr - (uintptr_t)slab->addr, (size_t)slab->npages * page());
  for (size_t p = p0; p < p0 + ns->npages; p++) EXPECT_EQ(shed.count(p), 1u) << "page " << p;
  EXPECT_EQ(stats().fresh_units, fresh);
  EXPECT_EQ(stats().dirty_pages, shed.size() - ns->npages);
  // The shrunk slab goes away without touching its neighbour inside it.
  put(objs[0]);
  for (void *p : small) EXPECT_EQ(ta_pagemap_lookup(p), ns);
  EXPECT_EQ(stats().active_pages, (size_t)ns->npages);
  ta_conf.drain_shed_kb = 0;  // the small slab empties whole (its spare), so the count is plain
  for (void *p : small) put(p);
  ta_bin_trim(&bins[other], &hpa, UINT64_MAX);
  EXPECT_EQ(stats().active_pages, 0u);
}

TEST_F(Shed, AFreeOfAnObjectThatWentWithAShedPageIsADoubleFree) {
  auto objs = fill(cls, ci(cls).nobjs);
  ta_extent_t *slab = ta_pagemap_lookup(objs[0]);
  for (size_t i = 2; i < objs.size(); i++) put(objs[i]);  // objects 0 and 1 stay
  // An object shed while its first page is still the slab's (it straddles a page boundary
  // into a shed page): the pagemap still leads to the slab, whose free map must refuse it.
  void *straddler = nullptr;
  for (size_t i = 2; i < objs.size() && !straddler; i++) {
    size_t lo = i * ci(cls).size / page();
    if (ta_slab_object_shed(slab, (uint32_t)i) && !(slab->shed >> lo & 1)) straddler = objs[i];
  }
  if (!straddler) {
    put(objs[0]);
    put(objs[1]);
    GTEST_SKIP() << "no object straddles into a shed page at this geometry";
  }
  EXPECT_EQ(ta_pagemap_lookup(straddler), slab);
  EXPECT_FALSE(ta_bin_is_live(&bins[cls], slab, straddler));
  EXPECT_DEATH(put(straddler), "double free");
  put(objs[0]);
  put(objs[1]);
  EXPECT_EQ(stats().active_pages, 0u);
}

// A page shed next to one still in use becomes free later, when the object there goes: it is
// shed then, so a sparse slab keeps shrinking while its class drains.
TEST_F(Shed, PagesFreedLaterAreShedToo) {
  auto objs = fill(cls, ci(cls).nobjs);
  ta_extent_t *slab = ta_pagemap_lookup(objs[0]);
  size_t mid = ci(cls).nobjs / 2;
  for (size_t i = 1; i < objs.size(); i++)
    if (i != mid) put(objs[i]);
  size_t before = shed_pages(slab).size();
  put(objs[mid]);
  std::vector<bool> out(ci(cls).nobjs, false);
  out[0] = true;
  EXPECT_EQ(shed_pages(slab), expected_free_pages(cls, out));
  EXPECT_GT(shed_pages(slab).size(), before);
  put(objs[0]);
  EXPECT_EQ(stats().active_pages, 0u);
}

}  // namespace
