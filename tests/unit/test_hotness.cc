// The hotness policy (tiers/tier_hotness.c) with a fake clock: aging to cold, warming to hot,
// hysteresis, the local budget's ordering, and hints.
#include <gtest/gtest.h>

#include <vector>

#include "tiers.h"

namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr size_t kMiB = 1 << 20;

ta_hotness_params_t params() {
  ta_hotness_params_t p{};
  p.cold_age_ns = 1000 * kMs;
  p.half_life_ns = 500 * kMs;
  p.min_residency_ns = 2000 * kMs;
  p.min_bytes = 64 * 1024;
  p.demote_score = 0.25;
  p.promote_score = 1.0;
  return p;
}

// Samples every `period` ms until `until`, each sample finding `accessed` of 8 pages touched.
uint64_t run(ta_hotness_t *h, const ta_hotness_params_t &p, uint64_t now, uint64_t until, uint64_t period,
             unsigned accessed) {
  for (; now < until; now += period * kMs) ta_hotness_observe(h, &p, now, 8, accessed);
  return now;
}

TEST(Hotness, IdleLargeExtentAgesToCold) {
  auto p = params();
  ta_hotness_t h;
  uint64_t t0 = 10'000 * kMs;
  ta_hotness_init(&h, t0, TA_HOTNESS_HINT_NONE, false);
  // Used at first: stays.
  uint64_t now = run(&h, p, t0, t0 + 3000 * kMs, 100, 8);
  EXPECT_EQ(ta_hotness_decide(&h, &p, now, 4 * kMiB), TA_HOTNESS_STAY);
  // Idle, but not yet for cold_age: still stays.
  now = run(&h, p, now, now + 900 * kMs, 100, 0);
  EXPECT_EQ(ta_hotness_decide(&h, &p, now, 4 * kMiB), TA_HOTNESS_STAY);
  // Idle long enough, and the score has decayed below demote_score: demote.
  now = run(&h, p, now, now + 2500 * kMs, 100, 0);
  EXPECT_LT(ta_hotness_score(&h, &p, now), p.demote_score);
  EXPECT_EQ(ta_hotness_decide(&h, &p, now, 4 * kMiB), TA_HOTNESS_DEMOTE);
  // A small extent is not demoted for age alone.
  EXPECT_EQ(ta_hotness_decide(&h, &p, now, 4096), TA_HOTNESS_STAY);
}

TEST(Hotness, WithoutAnySignalAgeAloneDecides) {
  auto p = params();
  ta_hotness_t h;
  ta_hotness_init(&h, 0, TA_HOTNESS_HINT_NONE, false);
  EXPECT_EQ(ta_hotness_decide(&h, &p, 999 * kMs, 4 * kMiB), TA_HOTNESS_STAY);
  for (uint64_t t = 0; t <= 1000 * kMs; t += 100 * kMs) ta_hotness_observe(&h, &p, t, 0, 0);
  EXPECT_EQ(ta_hotness_decide(&h, &p, 1000 * kMs, 4 * kMiB), TA_HOTNESS_DEMOTE);
}

TEST(Hotness, FarExtentWarmsUpAndIsPromoted) {
  auto p = params();
  ta_hotness_t h;
  ta_hotness_init(&h, 0, TA_HOTNESS_HINT_NONE, true);
  // One stray access is not enough to come back.
  ta_hotness_observe(&h, &p, 100 * kMs, 8, 1);
  EXPECT_EQ(ta_hotness_decide(&h, &p, 100 * kMs, 4 * kMiB), TA_HOTNESS_STAY);
  // Sustained use is.
  uint64_t now = run(&h, p, 200 * kMs, 700 * kMs, 100, 6);
  EXPECT_GE(ta_hotness_score(&h, &p, now), p.promote_score);
  EXPECT_EQ(ta_hotness_decide(&h, &p, now, 4 * kMiB), TA_HOTNESS_PROMOTE);
}

TEST(Hotness, ScoreDecaysByHalfLife) {
  auto p = params();
  ta_hotness_t h;
  ta_hotness_init(&h, 0, TA_HOTNESS_HINT_NONE, false);
  ta_hotness_observe(&h, &p, 0, 8, 8);
  EXPECT_DOUBLE_EQ(ta_hotness_score(&h, &p, 0), 1.0);
  EXPECT_NEAR(ta_hotness_score(&h, &p, 500 * kMs), 0.5, 1e-6);
  EXPECT_NEAR(ta_hotness_score(&h, &p, 750 * kMs), 0.35355339, 1e-6);
  EXPECT_NEAR(ta_hotness_score(&h, &p, 1500 * kMs), 0.125, 1e-6);
  // Bounded however long it is hammered.
  run(&h, p, 0, 1000000 * kMs, 1, 8);
  EXPECT_LE(h.score, TA_HOTNESS_SCORE_MAX);
}

TEST(Hotness, HysteresisKeepsAnExtentFromPingPonging) {
  auto p = params();
  ta_hotness_t h;
  ta_hotness_init(&h, 0, TA_HOTNESS_HINT_NONE, false);
  uint64_t now = run(&h, p, 0, 3000 * kMs, 100, 0);
  ASSERT_EQ(ta_hotness_decide(&h, &p, now, 4 * kMiB), TA_HOTNESS_DEMOTE);
  ta_hotness_moved(&h, now, true);
  // Hot right after the demotion: it stays until min_residency has passed.
  uint64_t moved = now;
  now = run(&h, p, now, now + 1500 * kMs, 100, 8);
  EXPECT_GE(ta_hotness_score(&h, &p, now), p.promote_score);
  EXPECT_EQ(ta_hotness_decide(&h, &p, now, 4 * kMiB), TA_HOTNESS_STAY);
  now = run(&h, p, now, moved + p.min_residency_ns, 100, 8);
  EXPECT_EQ(ta_hotness_decide(&h, &p, now, 4 * kMiB), TA_HOTNESS_PROMOTE);
  ta_hotness_moved(&h, now, false);
  // A score between the two thresholds moves it nowhere, on either tier.
  ta_hotness_t mid;
  ta_hotness_init(&mid, 0, TA_HOTNESS_HINT_NONE, true);
  now = 0;
  for (int i = 0; i < 200; i++, now += 100 * kMs) ta_hotness_observe(&mid, &p, now, 8, i % 4 == 0 ? 2 : 0);
  double s = ta_hotness_score(&mid, &p, now);
  ASSERT_GT(s, p.demote_score);
  ASSERT_LT(s, p.promote_score);
  EXPECT_EQ(ta_hotness_decide(&mid, &p, now, 4 * kMiB), TA_HOTNESS_STAY);
  // Local again with the same activity: active recently, so not demoted either.
  mid.far = false;
  EXPECT_EQ(ta_hotness_decide(&mid, &p, now, 4 * kMiB), TA_HOTNESS_STAY);
}

TEST(Hotness, HintsCount) {
  auto p = params();
  ta_hotness_t hot, cold;
  ta_hotness_init(&hot, 0, TA_HOTNESS_HINT_HOT, false);
  ta_hotness_init(&cold, 0, TA_HOTNESS_HINT_COLD, false);
  // Hinted cold: demoted at once, whatever its age.
  EXPECT_EQ(ta_hotness_decide(&cold, &p, 1, 4 * kMiB), TA_HOTNESS_DEMOTE);
  // Hinted hot: never demoted for age.
  uint64_t now = run(&hot, p, 0, 60'000 * kMs, 1000, 0);
  EXPECT_EQ(ta_hotness_decide(&hot, &p, now, 4 * kMiB), TA_HOTNESS_STAY);
  // A cold-hinted extent on the far tier needs twice the activity to come back.
  ta_hotness_t cf, nf;
  ta_hotness_init(&cf, 0, TA_HOTNESS_HINT_COLD, true);
  ta_hotness_init(&nf, 0, TA_HOTNESS_HINT_NONE, true);
  now = 0;
  for (int i = 0; i < 6; i++, now += 100 * kMs) {
    ta_hotness_observe(&cf, &p, now, 8, 3);
    ta_hotness_observe(&nf, &p, now, 8, 3);
  }
  double s = ta_hotness_score(&cf, &p, now);
  ASSERT_GE(s, p.promote_score);
  ASSERT_LT(s, 2 * p.promote_score);
  EXPECT_EQ(ta_hotness_decide(&nf, &p, now, 4 * kMiB), TA_HOTNESS_PROMOTE);
  EXPECT_EQ(ta_hotness_decide(&cf, &p, now, 4 * kMiB), TA_HOTNESS_STAY);
  // A hot-hinted extent found on the far tier (placed there on fallback) comes back once used.
  ta_hotness_t hf;
  ta_hotness_init(&hf, 0, TA_HOTNESS_HINT_HOT, true);
  EXPECT_EQ(ta_hotness_decide(&hf, &p, 10 * kMs, 4 * kMiB), TA_HOTNESS_PROMOTE);
}

TEST(Hotness, PlacedBlocksStayWhereTheProgramPutThem) {
  auto p = params();
  p.local_budget_bytes = 1 * kMiB;
  std::vector<ta_hotness_t> heat(2);
  ta_hotness_init(&heat[0], 0, TA_HOTNESS_HINT_PLACED, false);  // idle, local, over budget
  ta_hotness_init(&heat[1], 0, TA_HOTNESS_HINT_PLACED, true);   // busy, far
  uint64_t now = 0;
  for (; now < 5000 * kMs; now += 100 * kMs) {
    ta_hotness_observe(&heat[0], &p, now, 8, 0);
    ta_hotness_observe(&heat[1], &p, now, 8, 8);
  }
  ta_hotness_item_t items[2] = {{&heat[0], 4 * kMiB, nullptr, 0, TA_HOTNESS_STAY},
                                {&heat[1], 4 * kMiB, nullptr, 0, TA_HOTNESS_STAY}};
  ta_hotness_item_t *scratch[2];
  EXPECT_EQ(ta_hotness_plan(&p, now, items, 2, 4 * kMiB, scratch), 0u);
}

struct Fleet {
  std::vector<ta_hotness_t> heat;
  std::vector<size_t> bytes;
  std::vector<ta_hotness_item_t> items;
  std::vector<ta_hotness_item_t *> scratch;
  void add(bool far, size_t b) {
    heat.emplace_back();
    ta_hotness_init(&heat.back(), 0, TA_HOTNESS_HINT_NONE, far);
    bytes.push_back(b);
  }
  uint64_t local() const {
    uint64_t s = 0;
    for (size_t i = 0; i < heat.size(); i++)
      if (!heat[i].far) s += bytes[i];
    return s;
  }
  size_t plan(const ta_hotness_params_t &p, uint64_t now) {
    items.assign(heat.size(), ta_hotness_item_t{});
    scratch.assign(heat.size(), nullptr);
    for (size_t i = 0; i < heat.size(); i++) {
      items[i].heat = &heat[i];
      items[i].bytes = bytes[i];
    }
    return ta_hotness_plan(&p, now, items.data(), items.size(), local(), scratch.data());
  }
  void apply(uint64_t now) {
    for (size_t i = 0; i < heat.size(); i++)
      if (items[i].action != TA_HOTNESS_STAY) ta_hotness_moved(&heat[i], now, items[i].action == TA_HOTNESS_DEMOTE);
  }
};

TEST(Hotness, BudgetDemotesTheColdestFirst) {
  auto p = params();
  p.local_budget_bytes = 10 * kMiB;
  Fleet f;
  // Eight local 2 MiB extents (16 MiB, over the 10 MiB budget), all recently active, with
  // activity rising with their index.
  for (int i = 0; i < 8; i++) f.add(false, 2 * kMiB);
  uint64_t now = 0;
  for (int r = 0; r < 10; r++, now += 100 * kMs)
    for (int i = 0; i < 8; i++) ta_hotness_observe(&f.heat[i], &p, now, 8, (unsigned)i);
  EXPECT_EQ(f.plan(p, now), 3u);  // 16 -> 10 MiB: three go
  for (int i = 0; i < 8; i++)
    EXPECT_EQ(f.items[i].action, i < 3 ? TA_HOTNESS_DEMOTE : TA_HOTNESS_STAY) << "extent " << i;
  f.apply(now);
  EXPECT_LE(f.local(), p.local_budget_bytes);
  // Within budget and no one idle: nothing moves.
  EXPECT_EQ(f.plan(p, now + 100 * kMs), 0u);
}

TEST(Hotness, BudgetPromotesOnlyWhatFitsAndSwapsClearlyColder) {
  auto p = params();
  p.local_budget_bytes = 4 * kMiB;
  Fleet f;
  f.add(false, 2 * kMiB);  // 0: local, lukewarm
  f.add(false, 2 * kMiB);  // 1: local, warm
  f.add(true, 2 * kMiB);   // 2: far, very hot
  f.add(true, 2 * kMiB);   // 3: far, hot but less than 1 by less than the margin
  uint64_t now = 0;
  for (int r = 0; r < 10; r++, now += 100 * kMs) {
    ta_hotness_observe(&f.heat[0], &p, now, 8, 1);
    ta_hotness_observe(&f.heat[1], &p, now, 8, 5);
    ta_hotness_observe(&f.heat[2], &p, now, 8, 8);
    ta_hotness_observe(&f.heat[3], &p, now, 8, 5);
  }
  f.plan(p, now);
  // 2 comes in and pushes out 0 (far colder); 3 is not clearly hotter than 1, so both stay.
  EXPECT_EQ(f.items[0].action, TA_HOTNESS_DEMOTE);
  EXPECT_EQ(f.items[1].action, TA_HOTNESS_STAY);
  EXPECT_EQ(f.items[2].action, TA_HOTNESS_PROMOTE);
  EXPECT_EQ(f.items[3].action, TA_HOTNESS_STAY);
  f.apply(now);
  EXPECT_LE(f.local(), p.local_budget_bytes);
  // Next round: the extents just moved may not move back, so nothing trades places.
  for (int r = 0; r < 5; r++, now += 100 * kMs) {
    ta_hotness_observe(&f.heat[0], &p, now, 8, 8);
    ta_hotness_observe(&f.heat[2], &p, now, 8, 0);
  }
  EXPECT_EQ(f.plan(p, now), 0u);
}

// The margin is a ratio (a victim at most half the newcomer's score, less demote_score), not a
// fixed difference: a block just past promote_score displaces a lukewarm one, not only an idle
// one, which at the benchmark's promote - demote margin of 1.75 it could not (settling waited
// for the lukewarm blocks to cool). Near-equal blocks still do not trade places.
TEST(Hotness, ABlockJustPastPromoteDisplacesALukewarmOne) {
  auto p = params();
  p.promote_score = 2.0;           // migrate.c's
  p.half_life_ns = 200 * kMs;      // two samples a half-life: a block busy in every one nears 3.4
  p.local_budget_bytes = 4 * kMiB;
  Fleet f;
  f.add(false, 2 * kMiB);  // 0: local, lukewarm (2 of 8 pages a sample: ~0.85)
  f.add(false, 2 * kMiB);  // 1: local, warm (4 of 8: ~1.7)
  f.add(true, 2 * kMiB);   // 2: far, just past promote_score (5 of 8: ~2.1)
  uint64_t now = 0;
  for (int r = 0; r < 20; r++, now += 100 * kMs) {
    ta_hotness_observe(&f.heat[0], &p, now, 8, 2);
    ta_hotness_observe(&f.heat[1], &p, now, 8, 4);
    ta_hotness_observe(&f.heat[2], &p, now, 8, 5);
  }
  now -= 100 * kMs;
  ASSERT_GE(ta_hotness_score(&f.heat[2], &p, now), p.promote_score);
  ASSERT_GT(ta_hotness_score(&f.heat[0], &p, now) + (p.promote_score - p.demote_score),
            ta_hotness_score(&f.heat[2], &p, now))
      << "the old fixed margin would have kept it out";
  EXPECT_EQ(f.plan(p, now), 2u);
  EXPECT_EQ(f.items[0].action, TA_HOTNESS_DEMOTE);
  EXPECT_EQ(f.items[1].action, TA_HOTNESS_STAY) << "not clearly colder than the newcomer";
  EXPECT_EQ(f.items[2].action, TA_HOTNESS_PROMOTE);
}

// Under a full budget, far blocks below promote_score but at or above swap_score take the
// places of local blocks clearly colder than them, warmest first: the DRAM the hot blocks leave
// holds the blocks used most per byte. Near-equal ones and those under swap_score stay where
// they are; without swap_score (0) only promote_score counts, as before.
TEST(Hotness, UnderAFullBudgetTheWarmestOfTheRestTakeTheColdestPlaces) {
  auto p = params();
  p.promote_score = 4.0;  // none here is hot
  p.local_budget_bytes = 6 * kMiB;
  Fleet f;
  f.add(false, 2 * kMiB);  // 0: local, idle
  f.add(false, 2 * kMiB);  // 1: local, lukewarm (1 of 8 pages a sample: ~0.97)
  f.add(false, 2 * kMiB);  // 2: local, warm (3 of 8: ~2.9)
  f.add(true, 2 * kMiB);   // 3: far, warm (3 of 8)
  f.add(true, 2 * kMiB);   // 4: far, warmish (2 of 8: ~1.9), not twice 1's
  f.add(true, 2 * kMiB);   // 5: far, barely used (under swap_score)
  const unsigned used[6] = {0, 1, 3, 3, 2, 0};
  uint64_t now = 0;
  for (int r = 0; r < 30; r++, now += 100 * kMs)
    for (int i = 0; i < 6; i++) ta_hotness_observe(&f.heat[i], &p, now, 8, used[i]);
  now -= 100 * kMs;
  for (int i = 0; i < 6; i++) ASSERT_LT(ta_hotness_score(&f.heat[i], &p, now), p.promote_score) << i;
  EXPECT_EQ(f.plan(p, now), 0u) << "without swap_score nothing under promote_score moves";
  p.swap_score = 1.0;
  EXPECT_EQ(f.plan(p, now), 2u);
  EXPECT_EQ(f.items[0].action, TA_HOTNESS_DEMOTE);
  EXPECT_EQ(f.items[3].action, TA_HOTNESS_PROMOTE);
  for (int i : {1, 2, 4, 5}) EXPECT_EQ(f.items[i].action, TA_HOTNESS_STAY) << i;
  f.apply(now);
  EXPECT_LE(f.local(), p.local_budget_bytes);
  // The next rounds, same activity: the moved blocks wait out min_residency, and after it nothing
  // trades places (0 is idle on the far tier, 3 warm on DRAM).
  for (int r = 0; r < 25; r++, now += 100 * kMs)
    for (int i = 0; i < 6; i++) ta_hotness_observe(&f.heat[i], &p, now, 8, used[i]);
  EXPECT_EQ(f.plan(p, now), 0u);
  // Free room in the budget: a warm far block may take it.
  p.local_budget_bytes = 8 * kMiB;
  EXPECT_EQ(f.plan(p, now), 1u);
  EXPECT_EQ(f.items[4].action, TA_HOTNESS_PROMOTE);
}

TEST(Hotness, NoBudgetPromotesEveryWarmExtent) {
  auto p = params();
  Fleet f;
  for (int i = 0; i < 4; i++) f.add(true, 2 * kMiB);
  uint64_t now = 0;
  for (int r = 0; r < 10; r++, now += 100 * kMs)
    for (int i = 0; i < 4; i++) ta_hotness_observe(&f.heat[i], &p, now, 8, 6);
  EXPECT_EQ(f.plan(p, now), 4u);
  for (auto &it : f.items) EXPECT_EQ(it.action, TA_HOTNESS_PROMOTE);
}

TEST(Hotness, UnderABudgetIdlenessAloneDemotesNothing) {
  auto p = params();
  Fleet f;
  f.add(false, 2 * kMiB);  // idle from birth
  f.add(false, 2 * kMiB);  // idle, hinted cold
  f.heat[1].hint = TA_HOTNESS_HINT_COLD;
  uint64_t now = 5000 * kMs;  // far past cold_age
  // No cap: idleness demotes both.
  EXPECT_EQ(f.plan(p, now), 2u);
  // A budget with room: the budget decides, and it has room for both; the cold hint still counts.
  p.local_budget_bytes = 8 * kMiB;
  EXPECT_EQ(f.plan(p, now), 1u);
  EXPECT_EQ(f.items[0].action, TA_HOTNESS_STAY) << "idle, but the budget it lives in is not full";
  EXPECT_EQ(f.items[1].action, TA_HOTNESS_DEMOTE);
  // Over the budget, the idle one goes first (it is the coldest).
  p.local_budget_bytes = 2 * kMiB;
  f.heat[1].hint = TA_HOTNESS_HINT_NONE;
  ta_hotness_observe(&f.heat[1], &p, now, 8, 8);
  EXPECT_EQ(f.plan(p, now), 1u);
  EXPECT_EQ(f.items[0].action, TA_HOTNESS_DEMOTE);
  EXPECT_EQ(f.items[1].action, TA_HOTNESS_STAY);
}

TEST(Hotness, IdlenessCountsFromWhenTheSignalStartedWatching) {
  auto p = params();
  ta_hotness_t h;
  ta_hotness_init(&h, 0, TA_HOTNESS_HINT_NONE, false);
  // Allocated long before sampling began: its age is not idleness anyone saw.
  uint64_t first = 3000 * kMs;
  EXPECT_EQ(ta_hotness_decide(&h, &p, first, 4 * kMiB), TA_HOTNESS_DEMOTE);
  ta_hotness_watch_from(&h, first);
  ta_hotness_observe(&h, &p, first, 0, 0);
  EXPECT_EQ(ta_hotness_decide(&h, &p, first + 500 * kMs, 4 * kMiB), TA_HOTNESS_STAY);
  // Watched and still idle for a cold age: now it is cold.
  uint64_t now = run(&h, p, first + 100 * kMs, first + 1100 * kMs, 100, 0);
  EXPECT_EQ(ta_hotness_decide(&h, &p, now, 4 * kMiB), TA_HOTNESS_DEMOTE);
  // A far extent's record is left alone (a hot hint's promotion reads it).
  ta_hotness_t far;
  ta_hotness_init(&far, 0, TA_HOTNESS_HINT_NONE, true);
  ta_hotness_watch_from(&far, first);
  EXPECT_EQ(far.last_active_ns, 0u);
}

TEST(Hotness, WindowShrinksOnlyWhileTheBudgetRanksAndMostPagesReadUsed) {
  const uint64_t interval = 1000 * kMs;
  // Starts as the whole interval.
  EXPECT_EQ(ta_hotness_window(0, interval, 0, 0, true), interval);
  // Saturated (every page reads used) and the budget must rank: halves, down to interval/16.
  uint64_t w = interval;
  std::vector<uint64_t> seen;
  for (int r = 0; r < 8; r++) seen.push_back(w = ta_hotness_window(w, interval, 100, 90, true));
  EXPECT_EQ(seen[0], interval / 2);
  EXPECT_EQ(seen[1], interval / 4);
  EXPECT_EQ(seen[3], interval / 16);
  EXPECT_EQ(seen[7], interval / 16) << "never below interval/16";
  // Between one in eight and one in two: it holds.
  EXPECT_EQ(ta_hotness_window(w, interval, 100, 30, true), w);
  // Nothing seen: no reason to change.
  EXPECT_EQ(ta_hotness_window(w, interval, 0, 0, true), w);
  // Few pages used: doubles back.
  EXPECT_EQ(ta_hotness_window(w, interval, 100, 5, true), 2 * w);
  // Saturated but nothing to rank (no budget, or all fits): the whole interval again, so idle
  // means idle for the whole interval.
  w = interval / 16;
  for (int r = 0; r < 8; r++) w = ta_hotness_window(w, interval, 100, 90, false);
  EXPECT_EQ(w, interval);
}

}  // namespace
