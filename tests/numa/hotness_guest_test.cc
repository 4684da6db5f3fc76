// The hotness policy in the guest (node 0: CPU 0 + DRAM, node 1: CPU 1 + DRAM, node 2: memory
// only, the far tier), with tieralloc as this process's malloc and its background thread doing
// the work. Placement is checked page by page with move_pages (libnuma's numa_move_pages, a
// query with no targets), contents with checksums after every migration.
//
// Registered with TIERALLOC_CONF=cold_age_ms:400,migrate_interval_ms:100 (tier_policy not set:
// hotness must be the default here, where a far tier exists). Waits poll with deadlines, since
// code under TCG runs 5-15x slower than on hardware. The guest kernel (Debian 6.1) has no idle
// page tracking, so the signal here is soft-dirty, which sees writes only: the workload writes
// its hot set (each write stores the byte that is already there, so checksums hold).
#include <gtest/gtest.h>
#include <numa.h>
#include <numaif.h>
#include <sched.h>
#include <tieralloc.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "ctl_stat.h"
#include "guest_util.h"

namespace {

using Clock = std::chrono::steady_clock;

using ta_test::pin_cpu;
using ta_test::stat;
using ta_test::checksum;

using ta_test::Block;
using ta_test::make;
using ta_test::census;
using ta_test::pages_on;
using ta_test::all_on;
using ta_test::where;

// A write to every page that leaves the contents as they are: soft-dirty sees it.
void write_through(Block &b) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  for (size_t i = 0; i < b.len; i += page) ((volatile unsigned char *)b.p)[i] = b.p[i];
}

// Keeps `hot` in use until `done` holds or `seconds` pass; true when `done` held.
bool work_until(std::vector<Block *> hot, const std::function<bool()> &done, double seconds) {
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    for (Block *b : hot) write_through(*b);
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// A block just made has no page on the far node, or, where the guest stalled mid-fill for
// longer than cold_age_ms (a vCPU descheduled on a loaded host, a slow hugepage fault under TCG),
// the policy has rightly demoted what it had filled as idle: kept in use, it comes back. Said
// on stderr when it happens. (A 700 ms pause in the middle of the fill reproduces it: the
// filled unit goes to node 2.)
bool settles_off_far_node(Block &b) {
  if (pages_on(b, 2) == 0) return true;
  fprintf(stderr, "a block was demoted while it was being filled: %s at %p; demoted %llu bytes\n",
          where(b).c_str(), (void *)b.p, (unsigned long long)stat("stats.demoted"));
  return work_until({&b}, [&] { return pages_on(b, 2) == 0; }, 60);
}

class Hotness : public testing::Test {
 protected:
  void SetUp() override {
    pin_cpu(0);
    ta_test::numa_balancing_off();
  }
};

TEST_F(Hotness, IsTheDefaultWithAFarTierAndSamples) {
  void *warm = malloc(1 << 20);  // starts the background thread
  memset(warm, 1, 1 << 20);
  char policy[32] = "";
  const char *pp = policy;
  size_t len = sizeof(pp);
  ASSERT_EQ(tieralloc_ctl("opt.tier_policy", &pp, &len, nullptr, 0), 0);
  EXPECT_STREQ(pp, "hotness");
  ASSERT_TRUE(work_until({}, [] { return stat("stats.migrate_rounds") >= 2; }, 20));
  uint64_t signal = stat("stats.access_signal");
  // 1 idle page tracking, 2 soft-dirty: Debian's 6.1 kernel has no CONFIG_IDLE_PAGE_TRACKING.
  fprintf(stderr, "access signal in force: %s\n", signal == 1 ? "idle" : signal == 2 ? "softdirty" : "none");
  EXPECT_TRUE(signal == 1 || signal == 2) << "root in a 6.1 guest has soft-dirty at least";
  EXPECT_GT(stat("stats.sampled_pages"), 0u);
  free(warm);
}

TEST_F(Hotness, ChangingHotSetIsDemotedAndPromotedContentsIntact) {
  const size_t len = 4 << 20;
  std::vector<Block> b;
  // Placed locally: node 0, or (MPOL_PREFERRED, a transparent hugepage node 0 had no room
  // for) node 1; never the far tier (but see settles_off_far_node).
  for (unsigned i = 0; i < 4; i++) {
    b.push_back(make(len, i));
    ASSERT_TRUE(settles_off_far_node(b.back())) << "placed on DRAM first: " << where(b.back());
  }
  uint64_t demoted0 = stat("stats.demoted"), promoted0 = stat("stats.promoted");
  // Phase 1: blocks 0 and 1 are used, 2 and 3 idle: 2 and 3 go to the far node, 0 and 1 end
  // up on DRAM (under TCG, making the blocks takes long enough that block 0 may idle out
  // before the phase starts: then it must come back).
  auto phase1 = [&] {
    return all_on(b[2], 2) && all_on(b[3], 2) && pages_on(b[0], 2) == 0 && pages_on(b[1], 2) == 0;
  };
  ASSERT_TRUE(work_until({&b[0], &b[1]}, phase1, 60))
      << "block 0: " << where(b[0]) << "; 1: " << where(b[1]) << "; 2: " << where(b[2]) << "; 3: " << where(b[3]);
  for (auto &x : b) ASSERT_EQ(checksum(x.p, x.len), x.sum);
  EXPECT_GE(stat("stats.demoted") - demoted0, 2 * len);
  // Phase 2: the hot set moves to 2 and 3: they come back, 0 and 1 go.
  auto swapped = [&] { return all_on(b[2], 0) && all_on(b[3], 0) && all_on(b[0], 2) && all_on(b[1], 2); };
  ASSERT_TRUE(work_until({&b[2], &b[3]}, swapped, 60))
      << "block 0: " << where(b[0]) << "; 1: " << where(b[1]) << "; 2: " << where(b[2]) << "; 3: " << where(b[3]);
  for (auto &x : b) ASSERT_EQ(checksum(x.p, x.len), x.sum);
  EXPECT_GE(stat("stats.promoted") - promoted0, 2 * len);
  for (auto &x : b) free(x.p);
}

TEST_F(Hotness, KernelMovedBlockIsNoticedAndCorrected) {
  Block b = make(4 << 20, 9);
  ASSERT_TRUE(settles_off_far_node(b)) << where(b);
  work_until({&b}, [] { return false; }, 0.5);
  uint64_t noticed0 = stat("stats.kernel_moved"), promoted0 = stat("stats.promoted");
  // Behind the allocator's back: every page to the far node.
  size_t page = (size_t)sysconf(_SC_PAGESIZE), n = b.len / page;
  std::vector<void *> pages(n);
  std::vector<int> nodes(n, 2), status(n);
  for (size_t i = 0; i < n; i++) pages[i] = b.p + i * page;
  ASSERT_EQ(numa_move_pages(0, n, pages.data(), nodes.data(), status.data(), MPOL_MF_MOVE), 0);
  ASSERT_TRUE(all_on(b, 2));
  // Still in use: the sampling notices where it is, and as a hot block on the far tier it is
  // promoted back.
  ASSERT_TRUE(work_until({&b}, [&] { return stat("stats.kernel_moved") > noticed0; }, 60));
  ASSERT_TRUE(work_until({&b}, [&] { return all_on(b, 0); }, 60)) << where(b);
  fprintf(stderr, "kernel-moved block back on node 0; promoted by tieralloc: %llu bytes\n",
          (unsigned long long)(stat("stats.promoted") - promoted0));
  EXPECT_EQ(checksum(b.p, b.len), b.sum);
  free(b.p);
}

TEST_F(Hotness, PurgeNeverTouchesAMigratingBlock) {
  // Blocks migrate while another thread frees, reallocs and forces purges as fast as it can:
  // a purge reaching into a live block would zero part of it, a free racing a move would lose
  // it. Every surviving block's checksum must hold.
  std::vector<Block> keep;
  for (unsigned i = 0; i < 6; i++) keep.push_back(make(3 << 20, 20 + i));
  std::atomic<bool> stop{false};
  std::atomic<unsigned long> churn{0};
  std::thread t([&] {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(1, &set);
    sched_setaffinity(0, sizeof(set), &set);
    std::vector<Block> mine;
    unsigned seed = 100;
    while (!stop.load()) {
      mine.push_back(make((1 + seed % 3) << 20, seed));
      seed++;
      if (mine.size() > 4) {
        Block &victim = mine[seed % mine.size()];
        EXPECT_EQ(checksum(victim.p, victim.len), victim.sum);
        victim.p = (unsigned char *)realloc(victim.p, victim.len + (1 << 20));
        EXPECT_EQ(checksum(victim.p, victim.len), victim.sum);
        free(mine.front().p);
        mine.erase(mine.begin());
      }
      tieralloc_purge();
      churn++;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (auto &x : mine) free(x.p);
  });
  uint64_t demoted0 = stat("stats.demoted");
  // keep[0..2] hot, keep[3..5] idle (they migrate while the other thread churns).
  // Until the idle ones are demoted, and the churn has run long enough to overlap the moves.
  bool moved = false;
  work_until({&keep[0], &keep[1], &keep[2]}, [&] {
    moved = moved || (all_on(keep[3], 2) && all_on(keep[4], 2) && all_on(keep[5], 2));
    return moved && churn.load() >= 20;
  }, 60);
  stop = true;
  t.join();
  EXPECT_TRUE(moved) << "idle blocks' pages on node 2: " << pages_on(keep[3], 2) << ", " << pages_on(keep[4], 2) << ", "
                     << pages_on(keep[5], 2) << " of " << keep[3].len / 4096 << "; on node 0: " << pages_on(keep[3], 0);
  EXPECT_GT(stat("stats.demoted"), demoted0);
  EXPECT_GE(churn.load(), 20ul);
  for (auto &x : keep) ASSERT_EQ(checksum(x.p, x.len), x.sum);
  for (auto &x : keep) free(x.p);
}

// move_pages moves a transparent hugepage whole: a block that shares one must be split off
// before it moves, or its neighbours go with it (the guest's THP is "always", and the heap
// advises MADV_HUGEPAGE). An idle block between busy neighbours is demoted alone.
TEST_F(Hotness, DemotingABlockLeavesItsHugepageNeighboursWhereTheyAre) {
  const size_t len = 256 << 10, unit = 2 << 20;
  std::vector<Block> b;
  for (unsigned i = 0; i < 12; i++) b.push_back(make(len, 40 + i));
  // A hugepage unit holding at least three of them: its second block idles, the rest are used.
  size_t mid = b.size();
  for (size_t i = 1; i + 1 < b.size() && mid == b.size(); i++) {
    uintptr_t u = (uintptr_t)b[i].p / unit;
    if ((uintptr_t)b[i - 1].p / unit == u && (uintptr_t)b[i + 1].p / unit == u) mid = i;
  }
  ASSERT_LT(mid, b.size()) << "the heap packs 256 KiB blocks into shared hugepages";
  std::vector<Block *> busy;
  for (size_t i = 0; i < b.size(); i++)
    if (i != mid) busy.push_back(&b[i]);
  uint64_t kernel_moved0 = stat("stats.kernel_moved");
  ASSERT_TRUE(work_until(busy, [&] { return all_on(b[mid], 2); }, 60)) << "idle block: " << where(b[mid]);
  for (size_t i = 0; i < b.size(); i++) {
    if (i == mid) continue;
    EXPECT_EQ(pages_on(b[i], 2), 0u) << "neighbour " << i << " moved with the idle block: " << where(b[i]);
  }
  EXPECT_EQ(stat("stats.kernel_moved"), kernel_moved0) << "no block found where the allocator did not put it";
  for (auto &x : b) ASSERT_EQ(checksum(x.p, x.len), x.sum);
  for (auto &x : b) free(x.p);
}

TEST_F(Hotness, FullFarNodeFallsBackAndIsCounted) {
  // Fill the far node (512 MiB in this guest) behind the allocator's back, leaving less room
  // than an idle block needs.
  long long free_far = 0;
  numa_node_size64(2, &free_far);
  std::vector<std::pair<void *, size_t>> fill;
  size_t chunk = 32 << 20;
  // Well above the node's watermarks: a bound allocation past them would call the OOM killer.
  while (free_far > (long long)(96 << 20)) {
    size_t n = free_far - (64 << 20) < (long long)chunk ? (size_t)(free_far - (64 << 20)) & ~(size_t)4095 : chunk;
    void *p = numa_alloc_onnode(n, 2);
    ASSERT_NE(p, nullptr);
    memset(p, 0x77, n);
    fill.push_back({p, n});
    numa_node_size64(2, &free_far);
  }
  uint64_t fallbacks0 = stat("stats.demote_fallbacks");
  Block b = make(192 << 20, 42);  // idle, far larger than what is left
  ASSERT_TRUE(work_until({}, [&] { return stat("stats.demote_fallbacks") > fallbacks0; }, 60));
  EXPECT_EQ(checksum(b.p, b.len), b.sum) << "nothing lost";
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  auto c = census(b);
  EXPECT_EQ(c[0] + c[2], b.len / page) << "every page on node 0 or, as far as it fit, node 2: " << where(b);
  for (auto &f : fill) numa_free(f.first, f.second);
  free(b.p);
}

}  // namespace
