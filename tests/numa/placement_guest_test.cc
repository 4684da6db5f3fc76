// Runs inside the multi-node guest (two CPU nodes, one CPU-less far node) with tieralloc as the
// process's malloc (its layer libraries linked in, libc names included). Every check reads where the kernel really put
// each page (move_pages with no target nodes), not what the allocator believes.
#include <gtest/gtest.h>
#include <numa.h>
#include <numaif.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "arena.h"
#include "tcache.h"
#include "tieralloc.h"  // per-node bin statistics (the test links the allocator's layers)

namespace {

// A malloc/free pair the compiler may not remove (GCC deletes free(malloc(n))).
void touch_allocator() {
  void *volatile p = malloc(8);
  free(p);
}

size_t page_size() { return (size_t)sysconf(_SC_PAGESIZE); }

// Node of every page touched by [p, p + n): node -> page count (-errno for unmapped).
void count_pages(const void *p, size_t n, std::map<int, size_t> &out) {
  size_t page = page_size();
  uintptr_t a = (uintptr_t)p & ~(page - 1), end = (uintptr_t)p + (n ? n : 1);
  std::vector<void *> pages;
  for (; a < end; a += page) pages.push_back((void *)a);
  std::vector<int> status(pages.size());
  ASSERT_EQ(move_pages(0, pages.size(), pages.data(), nullptr, status.data(), 0), 0);
  for (int s : status) out[s]++;
}

std::string show(const std::map<int, size_t> &m) {
  std::string s;
  for (auto [node, pages] : m) s += " node " + std::to_string(node) + ": " + std::to_string(pages);
  return s;
}

std::vector<int> cpu_nodes() {
  std::vector<int> nodes;
  for (int n = 0; n <= numa_max_node(); n++) {
    bitmask *cpus = numa_allocate_cpumask();
    if (numa_node_to_cpus(n, cpus) == 0 && numa_bitmask_weight(cpus) > 0) nodes.push_back(n);
    numa_free_cpumask(cpus);
  }
  return nodes;
}

// CPU sets of the nodes, read before any test thread starts: pinning must not allocate, or the
// thread's first allocation would happen on the old node (libnuma's numa_run_on_node mallocs).
std::map<int, cpu_set_t> node_cpus;

void pin_to_node(int node) {
  ASSERT_EQ(sched_setaffinity(0, sizeof(cpu_set_t), &node_cpus.at(node)), 0);
  sched_yield();
}

class Guest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(numa_available(), -1);
    nodes_ = cpu_nodes();
    ASSERT_GE(nodes_.size(), 2u) << "the guest must have two CPU nodes";
    for (int n : nodes_) {
      bitmask *cpus = numa_allocate_cpumask();
      ASSERT_EQ(numa_node_to_cpus(n, cpus), 0);
      cpu_set_t set;
      CPU_ZERO(&set);
      for (unsigned c = 0; c < cpus->size; c++)
        if (numa_bitmask_isbitset(cpus, c)) CPU_SET(c, &set);
      numa_free_cpumask(cpus);
      node_cpus[n] = set;
    }
  }
  std::vector<int> nodes_;
};

TEST_F(Guest, PinnedThreadGetsEveryPageOnItsNode) {
  for (int node : nodes_) {
    std::map<int, size_t> where;
    std::thread t([&] {
      pin_to_node(node);
      std::vector<std::pair<char *, size_t>> blocks;
      for (int i = 0; i < 20000; i++) blocks.push_back({(char *)malloc(64 + i % 3000), 64 + i % 3000});
      for (size_t s : {(size_t)100 << 10, (size_t)3 << 20, (size_t)9 << 20})
        blocks.push_back({(char *)malloc(s), s});
      for (auto &b : blocks) memset(b.first, 1, b.second);
      for (auto &b : blocks) count_pages(b.first, b.second, where);
      for (auto &b : blocks) free(b.first);
    });
    t.join();
    EXPECT_EQ(where.size(), 1u) << "thread on node " << node << ":" << show(where);
    EXPECT_EQ(where.begin()->first, node) << show(where);
  }
}

TEST_F(Guest, MemoryIsPlacedBeforeFirstTouch) {
  // Allocated on node a, first touched on node b: the pages still belong on node a. A
  // first-touch allocator puts them on b; tieralloc binds its regions before any touch.
  int a = nodes_[0], b = nodes_[1];
  tieralloc_purge();  // no resident free pages left over from earlier tests: every page is fresh
  std::vector<std::pair<char *, size_t>> blocks;
  std::thread ta([&] {
    pin_to_node(a);
    for (int i = 0; i < 4000; i++) blocks.push_back({(char *)malloc(4000), 4000});
    for (size_t s : {(size_t)1 << 20, (size_t)5 << 20}) blocks.push_back({(char *)malloc(s), s});
  });
  ta.join();
  std::map<int, size_t> where;
  std::thread tb([&] {
    pin_to_node(b);
    for (auto &blk : blocks) memset(blk.first, 9, blk.second);
    for (auto &blk : blocks) count_pages(blk.first, blk.second, where);
  });
  tb.join();
  for (auto &blk : blocks) free(blk.first);
  EXPECT_EQ(where.size(), 1u) << show(where);
  EXPECT_EQ(where.begin()->first, a) << show(where);
}

TEST_F(Guest, CrossNodeFreesGoHomeAndNeverDrift) {
  const int kObjs = 20000;
  std::vector<void *> made_on_a(kObjs);
  int a = nodes_[0], b = nodes_[1];
  // Objects of the class out of node a's slabs, less those its transfer caches hold: those may
  // go back to their slabs at any purge step, and this thread's cache is emptied first, so
  // neither the purge nor the reclaim of an idle cache (the background thread's, on a loaded
  // machine) moves the count while the test runs.
  unsigned cls = ta_size_class_of(256);
  auto out_of_slabs = [&] {
    uint64_t n = 0;
    for (unsigned i = 0; i < ta_narenas; i++)
      if (ta_arenas[i]->node == (unsigned)a)
        n += ta_arenas[i]->bins[cls].stats.live - ta_transfer_cache_count(&ta_arenas[i]->transfer, cls);
    return n;
  };
  ta_tcache_flush_self();
  const uint64_t live_before = out_of_slabs();
  const uint64_t pushed_before = ta_atomic_load(&ta_node_heaps[a]->remote.pushed, ta_mo_relaxed);
  std::thread ta([&] {
    pin_to_node(a);
    for (auto &p : made_on_a) memset(p = malloc(256), 2, 256);
  });
  ta.join();
  std::set<void *> a_set(made_on_a.begin(), made_on_a.end());
  std::map<int, size_t> b_pages;
  size_t reused_by_b = 0;
  std::thread tb([&] {
    pin_to_node(b);
    touch_allocator();  // the thread's cache now exists, on node b
    for (void *p : made_on_a) free(p);  // frees of node a's objects, made on node b
    for (int i = 0; i < kObjs; i++) {
      void *p = malloc(256);
      memset(p, 3, 256);
      reused_by_b += a_set.count(p);
      count_pages(p, 256, b_pages);
    }
  });
  tb.join();
  EXPECT_EQ(reused_by_b, 0u) << "node " << b << " reused memory of node " << a;
  EXPECT_EQ(b_pages.size(), 1u) << show(b_pages);
  EXPECT_EQ(b_pages.begin()->first, b) << show(b_pages);
  // Node a gets its memory back: once a thread there reaches a slow path (here: its first
  // allocation), every object node b freed is back in node a's bins.
  std::thread ta2([&] {
    pin_to_node(a);
    touch_allocator();
  });
  ta2.join();
  ta_node_heap_t *home = ta_node_heaps[a];

  // Every free of node a's objects made on node b travels home in a batch (plus a few of
  // std::thread's own: its state is allocated by the starting thread and freed by the new one).
  uint64_t pushed = ta_atomic_load(&home->remote.pushed, ta_mo_relaxed) - pushed_before;
  EXPECT_GE(pushed, (uint64_t)kObjs);
  EXPECT_LE(pushed, (uint64_t)kObjs + 8);
  EXPECT_EQ(ta_atomic_load(&home->remote.drained, ta_mo_relaxed),
            ta_atomic_load(&home->remote.pushed, ta_mo_relaxed));
  ta_tcache_flush_self();
  const uint64_t live = out_of_slabs();
  EXPECT_EQ(live, live_before) << "objects of node " << a << " freed on node " << b << " are not home";
}

TEST_F(Guest, AllocationsFollowAThreadThatMoves) {
  int a = nodes_[0], b = nodes_[1];
  std::map<int, size_t> before, after;
  std::thread t([&] {
    pin_to_node(a);
    for (int i = 0; i < 5000; i++) {
      void *p = malloc(512);
      memset(p, 4, 512);
      count_pages(p, 512, before);
    }
    pin_to_node(b);
    // The first allocation that misses the thread cache notices the move; after that (at most
    // one cache's worth of objects) everything comes from node b.
    std::vector<void *> later;
    for (int i = 0; i < 5000; i++) {
      void *p = malloc(512);
      memset(p, 5, 512);
      if (i >= 128) count_pages(p, 512, after);
    }
    void *big = malloc(6 << 20);
    memset(big, 6, 6 << 20);
    count_pages(big, 6 << 20, after);
  });
  t.join();
  EXPECT_EQ(before.size(), 1u) << show(before);
  EXPECT_EQ(before.begin()->first, a);
  EXPECT_EQ(after.size(), 1u) << show(after);
  EXPECT_EQ(after.begin()->first, b) << show(after);
}

TEST_F(Guest, TheFarNodeIsNotPlainHeap) {
  // Everything a plain malloc gives, from any CPU node, stays off the CPU-less node.
  std::map<int, size_t> where;
  for (int node : nodes_) {
    std::thread t([&] {
      pin_to_node(node);
      for (int i = 0; i < 200; i++) {
        size_t n = (size_t)(i % 7 + 1) << 16;
        char *p = (char *)malloc(n);
        memset(p, 7, n);
        count_pages(p, n, where);
        free(p);
      }
    });
    t.join();
  }
  for (auto [node, pages] : where)
    EXPECT_TRUE(std::find(nodes_.begin(), nodes_.end(), node) != nodes_.end())
        << pages << " pages on node " << node << ", which has no CPU";
}

}  // namespace
