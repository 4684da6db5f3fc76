// Fixed-buffer paths (src/platform/path.h): parts and numbers appended, a part that does not fit
// left out whole and the path marked, and truncation back to a length it had.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "path.h"

namespace {

TEST(Path, BuildsFromRootPartsAndNumbers) {
  ta_path_t p;
  ta_path_init(&p, "/fs");
  ta_path_add(&p, "/sys/devices/system/node/node");
  ta_path_add_uint(&p, 12);
  ta_path_add(&p, "/distance");
  EXPECT_STREQ(p.s, "/fs/sys/devices/system/node/node12/distance");
  EXPECT_EQ(p.n, strlen(p.s));
  EXPECT_FALSE(p.overflow);
  ta_path_init(&p, nullptr);
  ta_path_add_uint(&p, 0);
  ta_path_add_uint(&p, UINT64_MAX);
  EXPECT_STREQ(p.s, "018446744073709551615");
}

TEST(Path, APartThatDoesNotFitIsLeftOutAndMarked) {
  ta_path_t p;
  std::string root(TA_PATH_CAP - 4, 'r');
  ta_path_init(&p, root.c_str());
  EXPECT_FALSE(p.overflow);
  ta_path_add(&p, "/abc");  // needs 4 more bytes and the NUL: one too many
  EXPECT_TRUE(p.overflow);
  EXPECT_EQ(std::string(p.s), root) << "a truncated part was kept";
  ta_path_add(&p, "x");  // later parts may fit, but the path stays refused
  EXPECT_TRUE(p.overflow);
  ta_path_t whole;
  ta_path_init(&whole, std::string(TA_PATH_CAP, 'r').c_str());
  EXPECT_TRUE(whole.overflow);
  EXPECT_EQ(whole.n, 0u);
}

TEST(Path, TruncatesBackToALengthItHad) {
  ta_path_t p;
  ta_path_init(&p, "3/");
  size_t base = p.n;
  ta_path_add(&p, "nr_accesses");
  ta_path_truncate(&p, base);
  ta_path_add(&p, "age");
  EXPECT_STREQ(p.s, "3/age");
  ta_path_add(&p, std::string(TA_PATH_CAP, 'x').c_str());
  EXPECT_TRUE(p.overflow);
  ta_path_truncate(&p, base);
  EXPECT_FALSE(p.overflow);
  EXPECT_STREQ(p.s, "3/");
}

}  // namespace
