// tier_policy:interleave in the guest, checked page by page: plain large blocks of a thread on
// node 0 spread over the nodes TIERALLOC_EXPECT names ("1,2": comma-separated kernel node
// numbers), each node's share of the pages within a few points of its HMAT bandwidth share as the
// guest's sysfs reports it (read here independently of the allocator). Small objects stay local,
// and the process's mapping count stays bounded through churn.
#include <gtest/gtest.h>
#include <numaif.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "guest_util.h"

#include "tieralloc.h"

namespace {

size_t page_size() { return (size_t)sysconf(_SC_PAGESIZE); }

// Node of every page of [p, p + n) -> page count.
void count_pages(const void *p, size_t n, std::map<int, size_t> &out) {
  size_t page = page_size();
  std::vector<void *> pages;
  for (uintptr_t a = (uintptr_t)p & ~(page - 1); a < (uintptr_t)p + n; a += page) pages.push_back((void *)a);
  std::vector<int> status(pages.size());
  ASSERT_EQ(move_pages(0, pages.size(), pages.data(), nullptr, status.data(), 0), 0);
  for (int s : status) out[s]++;
}

// Read bandwidth from the node's best initiator (HMAT, as the guest kernel reports it); 0 unknown.
double hmat_bandwidth(int node) {
  std::ifstream f("/sys/devices/system/node/node" + std::to_string(node) + "/access0/initiators/read_bandwidth");
  double bw = 0;
  f >> bw;
  return bw;
}

size_t map_count() {
  std::ifstream f("/proc/self/maps");
  std::string line;
  size_t n = 0;
  while (std::getline(f, line)) n++;
  return n;
}


TEST(InterleaveGuest, LargeBlocksSplitByBandwidth) {
  const char *expect = getenv("TIERALLOC_EXPECT");
  ASSERT_NE(expect, nullptr) << "TIERALLOC_EXPECT: the nodes to interleave over";
  std::vector<int> nodes;
  std::stringstream ss(expect);
  for (std::string tok; std::getline(ss, tok, ',');) nodes.push_back(std::stoi(tok));
  double total_bw = 0;
  std::map<int, double> want;
  for (int n : nodes) {
    double bw = hmat_bandwidth(n);
    ASSERT_GT(bw, 0) << "node " << n << " has no HMAT bandwidth in this guest";
    want[n] = bw;
    total_bw += bw;
  }
  for (auto &[n, bw] : want) bw /= total_bw;
  ta_test::pin_cpu(0);
  // 96 MiB in blocks of 1 to 12 MiB: 48 hugepage-sized chunks and more, enough for the shares
  // to show within a few points.
  std::mt19937 rng(5);
  std::vector<std::pair<char *, size_t>> blocks;
  size_t bytes = 0;
  while (bytes < (96u << 20)) {
    size_t size = (1u << 20) + rng() % (11u << 20);
    char *p = (char *)malloc(size);
    ASSERT_NE(p, nullptr);
    memset(p, 0x3c, size);
    blocks.push_back({p, size});
    bytes += size;
  }
  std::map<int, size_t> pages;
  for (auto &b : blocks) count_pages(b.first, b.second, pages);
  size_t all = 0;
  for (auto &[n, c] : pages) all += c;
  std::string seen;
  for (auto &[n, c] : pages) seen += " node " + std::to_string(n) + ": " + std::to_string(c);
  for (auto &[n, c] : pages) EXPECT_TRUE(want.count(n)) << "a page on node " << n << ";" << seen;
  for (auto &[n, share] : want)
    EXPECT_NEAR(100.0 * (double)pages[n] / (double)all, 100.0 * share, 3.0)
        << "node " << n << "'s share of the pages (percent);" << seen;
  printf("interleave over %s:%s (pages of %zu KiB)\n", expect, seen.c_str(), page_size() >> 10);
  // Contents survive (the first and last byte of every block).
  for (auto &b : blocks) {
    ASSERT_EQ(b.first[0], 0x3c);
    ASSERT_EQ(b.first[b.second - 1], 0x3c);
  }

  // Small objects are not interleaved: they stay on the thread's node.
  char *small = (char *)malloc(4000);
  memset(small, 1, 4000);
  tieralloc_location_t loc;
  ASSERT_EQ(tieralloc_where(small, &loc), 0);
  EXPECT_EQ(loc.node, 0);
  free(small);

  // Churn: free and allocate again many times; the mapping count must not grow with it.
  size_t maps_before = map_count();
  for (int round = 0; round < 2000; round++) {
    size_t k = rng() % blocks.size();
    free(blocks[k].first);
    size_t size = (64u << 10) + rng() % (4u << 20);
    blocks[k] = {(char *)malloc(size), size};
    ASSERT_NE(blocks[k].first, nullptr);
    blocks[k].first[0] = 1;
  }
  size_t maps_after = map_count();
  printf("mappings: %zu before churn, %zu after\n", maps_before, maps_after);
  EXPECT_LE(maps_after, maps_before + 64) << "churn must not split the heap's mappings further";
  EXPECT_LT(maps_after, 2000u);
  for (auto &b : blocks) free(b.first);
}

}  // namespace
