// Runs inside the multi-node guest under `numactl --cpunodebind=0 --membind=1`: tieralloc must
// keep the operator's memory policy (every page on node 1), not bind its heap to the CPUs'
// node 0.
#include <gtest/gtest.h>
#include <numaif.h>
#include <unistd.h>

#include <map>
#include <vector>

namespace {

TEST(MembindGuest, TheProcessPolicyWins) {
  int mode = -1;
  unsigned long mask = 0;
  ASSERT_EQ(get_mempolicy(&mode, &mask, 64, nullptr, 0), 0);
  ASSERT_EQ(mode, MPOL_BIND) << "run me under numactl --membind=1";
  ASSERT_EQ(mask, 2ul);
  ASSERT_EQ(sched_getcpu(), 0) << "run me under numactl --cpunodebind=0";
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  std::vector<void *> pages;
  std::vector<std::pair<char *, size_t>> blocks;
  for (int i = 0; i < 3000; i++) blocks.push_back({(char *)malloc(1000 + i % 4000), 1000 + i % 4000});
  blocks.push_back({(char *)malloc(8 << 20), 8 << 20});
  for (auto &b : blocks) {
    memset(b.first, 1, b.second);
    for (uintptr_t a = (uintptr_t)b.first & ~(page - 1); a < (uintptr_t)b.first + b.second; a += page)
      pages.push_back((void *)a);
  }
  std::vector<int> status(pages.size());
  ASSERT_EQ(move_pages(0, pages.size(), pages.data(), nullptr, status.data(), 0), 0);
  std::map<int, size_t> where;
  for (int s : status) where[s]++;
  EXPECT_EQ(where.size(), 1u);
  EXPECT_EQ(where.begin()->first, 1) << where.begin()->second << " pages on node " << where.begin()->first;
  for (auto &b : blocks) free(b.first);
}

}  // namespace
