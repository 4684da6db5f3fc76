// guest_util.h: what several guest tests need: pinning the calling thread to a CPU (so its node,
// and the tiers ranked from it, are known) and a checksum to show contents survive a migration.
#ifndef TA_TEST_GUEST_UTIL_H
#define TA_TEST_GUEST_UTIL_H

#include <gtest/gtest.h>
#include <sched.h>

#include <cstddef>
#include <cstdint>

namespace ta_test {

// The yield lets the scheduler move the thread now, before the test allocates.
inline void pin_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ASSERT_EQ(sched_setaffinity(0, sizeof(set), &set), 0);
  sched_yield();
}

// FNV-1a over the bytes.
inline uint64_t checksum(const unsigned char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

}  // namespace ta_test

#endif
