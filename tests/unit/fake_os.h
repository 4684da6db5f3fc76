// fake_os.h: an in-memory operating system for unit tests. Memory comes from one big
// reservation made at construction; every primitive is counted, can be made to fail, and the
// clock is set by the test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <vector>

#include "platform.h"

struct FakeOs {
  // Counters.
  size_t maps = 0, unmaps = 0, purges = 0, purged_bytes = 0, huge_on = 0, huge_off = 0, binds = 0;
  // Failure injection: the next N calls of a primitive fail with the given errno.
  int map_fail_errno = 0;
  int map_fail_count = 0;
  int purge_fail_errno = 0;
  int advise_fail_errno = 0;
  uint64_t now = 1'000'000'000;  // ns
  int task_mode = 0;             // what get_mempolicy reports (MPOL_DEFAULT)
  std::vector<std::pair<uintptr_t, size_t>> huge_off_ranges;
  std::vector<std::pair<uintptr_t, size_t>> purge_ranges;
  // Placement: every page is on node 0 until move_pages moves it (page address -> node).
  // A node with a capacity (pages) refuses moves past it with -ENOMEM.
  std::map<uintptr_t, int> page_node;
  std::map<int, size_t> node_capacity_pages;
  size_t moves = 0;  // pages moved
  // Access: access_kind is what access_open reports (0: no access ops at all, as the default
  // fake); touched pages read as accessed once, then are re-armed.
  int access_kind = 0;
  std::set<uintptr_t> touched;
  size_t rearms = 0;
  // Prefaulting: ranges given to populate, in order; populate_errno makes it fail, and
  // no_populate leaves the op out of the table (as on kernels before 5.14).
  std::vector<std::pair<uintptr_t, size_t>> populated;
  int populate_errno = 0;
  bool no_populate = false;
  std::function<void(uintptr_t, size_t)> on_populate;  // runs inside populate (lock not held)
  // Ranges collapsed, in order; collapse_errno makes calls fail: the next collapse_fails of
  // them, or every one while collapse_fails is negative. collapse_calls counts every call.
  std::vector<std::pair<uintptr_t, size_t>> collapsed;
  int collapse_errno = 0;
  int collapse_fails = -1;
  size_t collapse_calls = 0;
  // Ranges given to split_huge (with an access signal only), in order.
  std::vector<std::pair<uintptr_t, size_t>> splits;
  void touch(const void *addr, size_t len);
  int node_of(const void *addr) const;

  static FakeOs *current;
  FakeOs();
  ~FakeOs();
  void install();
  void uninstall();

 private:
  char *arena_ = nullptr;
  size_t arena_size_ = 0, used_ = 0;
  friend struct FakeOpsImpl;
};
