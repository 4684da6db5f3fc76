// Per-node statistics in the guest, checked against the kernel: what tieralloc says is active on
// each node matches what /proc/self/numa_maps says is resident there.
#include <gtest/gtest.h>
#include <sched.h>
#include <tieralloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "ctl_stat.h"

namespace {

using ta_test::stat;

// Anonymous memory resident per node, from numa_maps (N<node>=<pages> times the mapping's page).
std::map<int, size_t> kernel_anon_per_node() {
  std::map<int, size_t> out;
  FILE *f = fopen("/proc/self/numa_maps", "r");
  char line[4096];
  while (f && fgets(line, sizeof(line), f)) {
    if (!strstr(line, "anon=")) continue;
    size_t kb = 4;
    if (const char *k = strstr(line, "kernelpagesize_kB=")) kb = strtoul(k + 18, nullptr, 10);
    for (char *p = line; (p = strstr(p, " N")); p++) {
      int node;
      unsigned long pages;
      if (sscanf(p, " N%d=%lu", &node, &pages) == 2) out[node] += pages * kb * 1024;
    }
  }
  if (f) fclose(f);
  return out;
}

TEST(StatsGuest, PerNodeActiveMatchesTheKernel) {
  const size_t kPerNode[2] = {(size_t)96 << 20, (size_t)48 << 20};
  std::vector<std::vector<void *>> blocks(2);
  for (int node = 0; node < 2; node++) {
    std::thread t([&, node] {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(node, &set);
      ASSERT_EQ(sched_setaffinity(0, sizeof(set), &set), 0);
      size_t total = 0;
      for (int i = 0; total < kPerNode[node] / 2; i++) {
        size_t n = 512 + (size_t)(i * 97) % 3500;
        void *p = malloc(n);
        memset(p, 1, n);
        blocks[node].push_back(p);
        total += n;
      }
      for (size_t big = 0; big < kPerNode[node] / 2; big += 4 << 20) {
        void *p = malloc(4 << 20);
        memset(p, 2, 4 << 20);
        blocks[node].push_back(p);
      }
    });
    t.join();
  }
  std::map<int, size_t> kernel = kernel_anon_per_node();
  for (int node = 0; node < 2; node++) {
    size_t active = stat("stats.node." + std::to_string(node) + ".active");
    // The heap's pages are most of the node's anonymous memory; the rest is stacks, metadata
    // (placed by first touch) and the test's own vectors.
    EXPECT_GE(active, kPerNode[node]) << "node " << node;
    EXPECT_GE(kernel[node] + ((size_t)2 << 20), active) << "node " << node << ": allocator says "
        << (active >> 20) << " MiB active, the kernel has " << (kernel[node] >> 20) << " MiB there";
    EXPECT_LE(kernel[node], active + ((size_t)24 << 20)) << "node " << node << ": kernel " << (kernel[node] >> 20)
        << " MiB vs allocator " << (active >> 20) << " MiB";
  }
  for (auto &v : blocks)
    for (void *p : v) free(p);
}

}  // namespace
