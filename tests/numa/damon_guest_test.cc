// The hotness policy on the DAMON access signal, in the guest booted with Debian's 6.12 kernel
// (tests/numa/run --kernel 6.12: CONFIG_DAMON_VADDR and CONFIG_DAMON_SYSFS; no idle page
// tracking, and soft-dirty would not see this workload). Node 0: CPU 0 + DRAM, node 1: CPU 1
// + DRAM, node 2: memory only, the far tier. tieralloc is this process's malloc; its
// background thread does the work.
//
// The workload only READS its blocks: the hot ones must stay on (or come back to) DRAM and the
// idle ones go to the far node, checked page by page with move_pages (libnuma's
// numa_move_pages, a query with no targets), contents with checksums. Registered with
// TIERALLOC_CONF=access_signal:damon and short ages; waits poll with deadlines (TCG runs code
// 5-15x slower than hardware, and each round's DAMON snapshot takes ~0.5 s there).
#include <gtest/gtest.h>
#include <numa.h>
#include <numaif.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <tieralloc.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "ctl_stat.h"
#include "guest_util.h"

namespace {

using Clock = std::chrono::steady_clock;
const std::string kAdmin = "/sys/kernel/mm/damon/admin/kdamonds/";

// The file's first line. DAMON's sysfs files answer EBUSY while the kdamond serves another
// request (the allocator's snapshot): retried for up to 2 s.
std::string slurp(const std::string &path) {
  for (int i = 0; i < 200; i++) {
    std::ifstream f(path);
    std::string s;
    if (std::getline(f, s)) return s;
    if (access(path.c_str(), F_OK) != 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return "";
}

using ta_test::stat;
using ta_test::checksum;
using ta_test::Block;
using ta_test::make;
using ta_test::pages_on;
using ta_test::all_on;
using ta_test::where;

// Reads one byte of every page: nothing is written, so soft-dirty would see nothing.
uint64_t read_through(const Block &b) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  uint64_t s = 0;
  for (size_t i = 0; i < b.len; i += page) s += ((const volatile unsigned char *)b.p)[i];
  return s;
}

volatile uint64_t sink;

// Reads `hot` until `done` holds or `seconds` pass; true when `done` held.
bool read_until(std::vector<const Block *> hot, const std::function<bool()> &done, double seconds) {
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    for (const Block *b : hot) sink = sink + read_through(*b);
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// The kdamond tieralloc configured: the one whose target is this process.
int our_kdamond() {
  int n = atoi(slurp(kAdmin + "nr_kdamonds").c_str());
  for (int k = 0; k < n; k++)
    if (slurp(kAdmin + std::to_string(k) + "/contexts/0/targets/0/pid_target") == std::to_string(getpid())) return k;
  return -1;
}

// DAMON's view of a block, from the last snapshot the allocator asked for: for failure messages.
std::string damon_view(const Block &b) {
  int k = our_kdamond();
  if (k < 0) return "no kdamond";
  std::string dir = kAdmin + std::to_string(k) + "/contexts/0/schemes/0/tried_regions/", out;
  uintptr_t lo = (uintptr_t)b.p, hi = lo + b.len;
  for (int i = 0;; i++) {
    std::string r = dir + std::to_string(i) + "/", s = slurp(r + "start");
    if (s.empty()) break;
    uintptr_t start = std::stoull(s), end = std::stoull(slurp(r + "end"));
    if (end <= lo || start >= hi) continue;
    out += " [" + std::to_string(((intptr_t)start - (intptr_t)lo) >> 10) + "K+" + std::to_string((end - start) >> 10) +
           "K nr=" + slurp(r + "nr_accesses") + " age=" + slurp(r + "age") + "]";
  }
  return "DAMON regions over the block:" + out;
}

// How many regions the last snapshot had, and the bytes they cover.
std::string snapshot_size() {
  int k = our_kdamond();
  if (k < 0) return "no kdamond";
  std::string dir = kAdmin + std::to_string(k) + "/contexts/0/schemes/0/tried_regions/";
  int n = 0;
  while (access((dir + std::to_string(n)).c_str(), F_OK) == 0) n++;
  return "last snapshot: " + std::to_string(n) + " regions over " +
         std::to_string(std::stoull("0" + slurp(dir + "total_bytes")) >> 20) + " MiB";
}

// DAMON clears a page's accessed bit without flushing the TLB (as idle page tracking does, and
// as is fine on hardware, whose TLBs are small and shared with other processes): the bit is set
// again at the next page walk. QEMU's TCG keeps a large software TLB that only a CR3 load
// flushes, and an otherwise idle guest never loads one (idle runs lazy-TLB on our mm), so a
// read-only hot set could go unseen for seconds. A ticker process on the same CPU, waking
// every 2 ms, switches the mm as a busy host's other processes would.
pid_t start_ticker(int cpu) {
  pid_t pid = fork();
  if (pid == 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof(set), &set);
    for (int i = 0; i < 60 * 500; i++) usleep(2000);  // a minute at most
    _exit(0);
  }
  return pid;
}

class Damon : public testing::Test {
 protected:
  pid_t ticker = -1;
  void TearDown() override {
    if (ticker > 0) {
      kill(ticker, SIGKILL);
      waitpid(ticker, nullptr, 0);
    }
  }
  void SetUp() override {
    if (access((kAdmin + "nr_kdamonds").c_str(), W_OK) != 0) {
      fprintf(stderr,
              "\n******************************************************************\n"
              "SKIPPED: no writable DAMON sysfs (%snr_kdamonds): this kernel has no\n"
              "CONFIG_DAMON_SYSFS or we are not root. Boot tests/numa/run --kernel 6.12.\n"
              "******************************************************************\n",
              kAdmin.c_str());
      GTEST_SKIP() << "no DAMON";
    }
    ta_test::pin_cpu(0);
    ticker = start_ticker(0);
    ASSERT_GT(ticker, 0);
    ta_test::numa_balancing_off();
  }
};

TEST_F(Damon, IsTheSignalInForceWithItsOwnKdamond) {
  void *warm = malloc(1 << 20);  // starts the background thread
  memset(warm, 1, 1 << 20);
  ASSERT_TRUE(read_until({}, [] { return stat("stats.migrate_rounds") >= 2; }, 30));
  EXPECT_EQ(stat("stats.access_signal"), 4u) << "4: DAMON";
  int k = our_kdamond();
  ASSERT_GE(k, 0) << "a kdamond targets this process";
  std::string K = kAdmin + std::to_string(k) + "/";
  EXPECT_EQ(slurp(K + "state"), "on");
  // 6.12 has fvaddr: the kdamond watches the tracked blocks' sampled pages only.
  EXPECT_EQ(slurp(K + "contexts/0/operations"), "fvaddr");
  EXPECT_EQ(slurp(K + "contexts/0/schemes/0/action"), "stat");
  EXPECT_GT(stat("stats.sampled_pages"), 0u);
  free(warm);
}

TEST_F(Damon, ReadOnlyHotSetStaysAndIdleSetIsDemotedThenTheySwap) {
  const size_t len = 4 << 20;
  std::vector<Block> b;
  for (unsigned i = 0; i < 4; i++) b.push_back(make(len, i));
  for (auto &x : b) ASSERT_EQ(pages_on(x, 2), 0u) << "placed on DRAM first: " << where(x);
  uint64_t demoted0 = stat("stats.demoted"), promoted0 = stat("stats.promoted");
  auto t0 = Clock::now();
  // Phase 1: blocks 0 and 1 are read, 2 and 3 idle: 2 and 3 go to the far node, 0 and 1 stay.
  auto cold23 = [&] { return all_on(b[2], 2) && all_on(b[3], 2); };
  ASSERT_TRUE(read_until({&b[0], &b[1]}, cold23, 25))
      << "block 2: " << where(b[2]) << "; " << damon_view(b[2]) << "\nblock 3: " << where(b[3]) << "; "
      << damon_view(b[3]);
  fprintf(stderr, "idle blocks demoted after %.1f s\n", std::chrono::duration<double>(Clock::now() - t0).count());
  // Still read, for a few more rounds: a read-only hot set must not look idle. The rounds'
  // period (migrate_interval_ms is 200) shows what DAMON's snapshot costs here.
  uint64_t rounds0 = stat("stats.migrate_rounds");
  auto r0 = Clock::now();
  read_until({&b[0], &b[1]}, [] { return false; }, 3);
  uint64_t rounds = stat("stats.migrate_rounds") - rounds0;
  fprintf(stderr, "%llu rounds in %.1f s (%.0f ms a round); %s\n", (unsigned long long)rounds,
          std::chrono::duration<double>(Clock::now() - r0).count(),
          rounds ? 1000 * std::chrono::duration<double>(Clock::now() - r0).count() / (double)rounds : 0.0,
          snapshot_size().c_str());
  EXPECT_EQ(pages_on(b[0], 2), 0u) << "the read hot set stays on DRAM: " << where(b[0]) << "; " << damon_view(b[0]);
  EXPECT_EQ(pages_on(b[1], 2), 0u) << "the read hot set stays on DRAM: " << where(b[1]) << "; " << damon_view(b[1]);
  for (auto &x : b) ASSERT_EQ(checksum(x.p, x.len), x.sum);
  EXPECT_GE(stat("stats.demoted") - demoted0, 2 * len);

  // Phase 2: the hot set changes to blocks 2 and 3, read only: they are promoted back to DRAM,
  // and 0 and 1, now idle, are demoted.
  t0 = Clock::now();
  auto swapped = [&] { return pages_on(b[2], 2) == 0 && pages_on(b[3], 2) == 0 && all_on(b[0], 2) && all_on(b[1], 2); };
  ASSERT_TRUE(read_until({&b[2], &b[3]}, swapped, 30))
      << "block 0: " << where(b[0]) << "; block 1: " << where(b[1]) << "; block 2: " << where(b[2]) << "; "
      << damon_view(b[2]) << "\nblock 3: " << where(b[3]) << "; " << damon_view(b[3]);
  fprintf(stderr, "hot set swapped after %.1f s\n", std::chrono::duration<double>(Clock::now() - t0).count());
  for (auto &x : b) ASSERT_EQ(checksum(x.p, x.len), x.sum);
  EXPECT_GE(stat("stats.promoted") - promoted0, 2 * len);
  for (auto &x : b) free(x.p);
}

}  // namespace
