// ctl_stat.h: one tieralloc statistic, read after an epoch bump, for the googletest tests that
// check counters. It allocates nothing itself when given a const char * name, so a test that
// counts bytes sees only its own allocations.
#ifndef TA_TEST_CTL_STAT_H
#define TA_TEST_CTL_STAT_H

#include <gtest/gtest.h>
#include <tieralloc.h>

#include <cstdint>
#include <string>

namespace ta_test {

inline uint64_t stat(const char *name) {
  uint64_t e = 1;
  size_t len = sizeof(e);
  EXPECT_EQ(tieralloc_ctl("epoch", &e, &len, &e, sizeof(e)), 0);
  uint64_t v = 0;
  len = sizeof(v);
  EXPECT_EQ(tieralloc_ctl(name, &v, &len, nullptr, 0), 0) << name;
  return v;
}

inline uint64_t stat(const std::string &name) { return stat(name.c_str()); }

}  // namespace ta_test

#endif
