// TIERALLOC_CONF parsing: good items apply, each bad item keeps its default and is reported in
// one line that names the key and the allowed values.
#include <gtest/gtest.h>

#include <string>

#include "conf.h"

namespace {

struct Parsed {
  ta_conf_t conf;
  int errors;
  std::string err;
};

Parsed parse(const char *text) {
  Parsed p;
  ta_conf_defaults(&p.conf);
  testing::internal::CaptureStderr();
  p.errors = ta_conf_parse(&p.conf, text);
  p.err = testing::internal::GetCapturedStderr();
  return p;
}

TEST(Conf, DefaultsComeFromTheTable) {
  ta_conf_t c;
  ta_conf_defaults(&c);
  EXPECT_TRUE(c.background_thread);
  EXPECT_EQ(c.dirty_decay_ms, 5000u);
  EXPECT_TRUE(c.thp);
  EXPECT_EQ(c.narenas, 0u);
}

TEST(Conf, GoodItemsApply) {
  Parsed p = parse(" dirty_decay_ms:250 , background_thread:false,thp:0,narenas:3 ");
  EXPECT_EQ(p.errors, 0);
  EXPECT_EQ(p.err, "");
  EXPECT_EQ(p.conf.dirty_decay_ms, 250u);
  EXPECT_FALSE(p.conf.background_thread);
  EXPECT_FALSE(p.conf.thp);
  EXPECT_EQ(p.conf.narenas, 3u);
}

TEST(Conf, UnknownKeyIsNamed) {
  Parsed p = parse("dirty_decay:5,narenas:2");
  EXPECT_EQ(p.errors, 1);
  EXPECT_EQ(p.conf.narenas, 2u);
  EXPECT_NE(p.err.find("unknown key 'dirty_decay'"), std::string::npos) << p.err;
  EXPECT_EQ(std::count(p.err.begin(), p.err.end(), '\n'), 1);
}

TEST(Conf, OutOfRangeKeepsDefaultAndNamesRange) {
  Parsed p = parse("hugepage_break_pct:101");
  EXPECT_EQ(p.errors, 1);
  EXPECT_EQ(p.conf.hugepage_break_pct, 50u);
  EXPECT_NE(p.err.find("hugepage_break_pct"), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("[0, 100]"), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("default 50"), std::string::npos) << p.err;
}

TEST(Conf, MalformedValuesAreRejected) {
  for (const char *bad : {"dirty_decay_ms:", "dirty_decay_ms:12a", "dirty_decay_ms:-1",
                          "dirty_decay_ms:99999999999999999999999", "thp:yes", "narenas"}) {
    Parsed p = parse(bad);
    EXPECT_EQ(p.errors, 1) << bad;
    EXPECT_EQ(p.conf.dirty_decay_ms, 5000u) << bad;
    EXPECT_TRUE(p.conf.thp) << bad;
    EXPECT_FALSE(p.err.empty()) << bad;
  }
}

TEST(Conf, EnumChoices) {
  Parsed p = parse("numa_bind:bind");
  EXPECT_EQ(p.errors, 0);
  EXPECT_EQ(p.conf.numa_bind, (unsigned)TA_NUMA_BIND_BIND);
  p = parse("numa_bind:strict");
  EXPECT_EQ(p.errors, 1);
  EXPECT_EQ(p.conf.numa_bind, (unsigned)TA_NUMA_BIND_PREFERRED);
  EXPECT_NE(p.err.find("preferred|bind|none"), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("default preferred"), std::string::npos) << p.err;
}

TEST(Conf, EmptyAndNullAreFine) {
  EXPECT_EQ(parse("").errors, 0);
  EXPECT_EQ(parse(",,").errors, 0);
  ta_conf_t c;
  ta_conf_defaults(&c);
  EXPECT_EQ(ta_conf_parse(&c, nullptr), 0);
}

TEST(Conf, EveryOptionIsDocumented) {
  for (size_t i = 0; i < ta_conf_noptions; i++) {
    EXPECT_GT(strlen(ta_conf_options[i].doc), 20u) << ta_conf_options[i].name;
    EXPECT_LE(ta_conf_options[i].min, ta_conf_options[i].def);
    EXPECT_LE(ta_conf_options[i].def, ta_conf_options[i].max);
  }
}

}  // namespace
