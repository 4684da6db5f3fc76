// guest_util.h: what several guest tests need: pinning the calling thread to a CPU (so its node,
// and the tiers ranked from it, are known), a checksum to show contents survive a migration, and
// blocks whose pages are located one by one with move_pages.
#ifndef TA_TEST_GUEST_UTIL_H
#define TA_TEST_GUEST_UTIL_H

#include <gtest/gtest.h>
#include <numa.h>
#include <sched.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace ta_test {

// The yield lets the scheduler move the thread now, before the test allocates.
inline void pin_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ASSERT_EQ(sched_setaffinity(0, sizeof(set), &set), 0);
  sched_yield();
}

// NUMA balancing off (the guest is thrown away after the run), so every page move a test sees
// is tieralloc's or the test's own.
inline void numa_balancing_off() {
  if (FILE *f = fopen("/proc/sys/kernel/numa_balancing", "w")) {
    fputs("0", f);
    fclose(f);
  }
}

// FNV-1a over the bytes.
inline uint64_t checksum(const unsigned char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

// A malloc'ed block filled with a pattern, and the checksum of that pattern.
struct Block {
  unsigned char *p = nullptr;
  size_t len = 0;
  uint64_t sum = 0;
};

inline Block make(size_t len, unsigned seed) {
  Block b;
  b.p = (unsigned char *)malloc(len);
  b.len = len;
  for (size_t i = 0; i < len; i++) b.p[i] = (unsigned char)(i * 131 + seed);
  b.sum = checksum(b.p, len);
  return b;
}

// Pages of the block on nodes 0, 1, 2, and elsewhere or absent, page by page from one
// move_pages query (one snapshot: the background thread may be moving the block meanwhile).
inline std::array<size_t, 4> census(const Block &b) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE), n = b.len / page;
  std::vector<void *> pages(n);
  std::vector<int> status(n);
  for (size_t i = 0; i < n; i++) pages[i] = b.p + i * page;
  EXPECT_EQ(numa_move_pages(0, n, pages.data(), nullptr, status.data(), 0), 0);
  std::array<size_t, 4> c{};
  for (size_t i = 0; i < n; i++) c[status[i] >= 0 && status[i] <= 2 ? status[i] : 3]++;
  return c;
}

inline size_t pages_on(const Block &b, int node) { return census(b)[node]; }

inline bool all_on(const Block &b, int node) {
  return pages_on(b, node) == b.len / (size_t)sysconf(_SC_PAGESIZE);
}

// "pages on nodes 0/1/2" for failure messages.
inline std::string where(const Block &b) {
  auto c = census(b);
  return std::to_string(c[0]) + "/" + std::to_string(c[1]) + "/" + std::to_string(c[2]) + " of " +
         std::to_string(b.len / (size_t)sysconf(_SC_PAGESIZE)) + " pages on nodes 0/1/2";
}

}  // namespace ta_test

#endif
