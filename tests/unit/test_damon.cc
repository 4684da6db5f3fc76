// The DAMON access signal's sysfs client against a fake DAMON admin tree of plain files in a
// temporary directory: what start writes and refuses to touch, how a tried_regions snapshot is
// parsed, and how a page's region answers. The kernel side (the kdamond creating directories,
// filling tried_regions) is played by the test, in the layout 6.12 shows.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "os.h"
#include "os_linux_damon.h"

static const int kFull = TA_OS_ACCESS_FULL;

namespace {

class FakeDamon : public testing::Test {
 protected:
  std::string root;
  ta_os_damon_t d{};

  void SetUp() override {
    char tmpl[] = "/tmp/ta-damon-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root = tmpl;
    put("kdamonds/nr_kdamonds", "0");
  }
  void TearDown() override { ASSERT_EQ(system(("rm -rf " + root).c_str()), 0); }

  void put(const std::string &rel, const std::string &v) {
    std::string path = root + "/" + rel;
    for (size_t i = root.size() + 1; (i = path.find('/', i)) != std::string::npos; i++)
      mkdir(path.substr(0, i).c_str(), 0755);  // mkdir -p, without a shell per file
    std::ofstream(path) << v << "\n";
  }
  std::string get(const std::string &rel) {
    std::ifstream f(root + "/" + rel);
    std::string s;
    std::getline(f, s);
    return s;
  }
  // The files a kdamond directory has before anyone configures it, as the kernel makes them.
  void make_kdamond(int k, const char *state = "off") {
    std::string K = "kdamonds/" + std::to_string(k) + "/";
    put(K + "state", state);
    put(K + "contexts/nr_contexts", "0");
    std::string C = K + "contexts/0/";
    put(C + "operations", "vaddr");
    for (const char *f : {"intervals/sample_us", "intervals/aggr_us", "intervals/update_us", "nr_regions/min",
                          "nr_regions/max"})
      put(C + "monitoring_attrs/" + f, "0");
    put(C + "targets/nr_targets", "0");
    put(C + "targets/0/pid_target", "0");
    put(C + "schemes/nr_schemes", "0");
    put(C + "schemes/0/action", "pageout");
    for (const char *r : {"sz", "nr_accesses", "age"})
      for (const char *m : {"min", "max"}) put(C + "schemes/0/access_pattern/" + r + "/" + m, "0");
    ASSERT_EQ(system(("mkdir -p " + root + "/" + C + "schemes/0/tried_regions").c_str()), 0);
  }
  std::string kd(int k, const std::string &rel) { return "kdamonds/" + std::to_string(k) + "/" + rel; }
  std::string ctx(int k, const std::string &rel) { return kd(k, "contexts/0/" + rel); }
  void region(int k, unsigned i, uint64_t start, uint64_t end, unsigned nr, unsigned age) {
    std::string R = ctx(k, "schemes/0/tried_regions/" + std::to_string(i) + "/");
    put(R + "start", std::to_string(start));
    put(R + "end", std::to_string(end));
    put(R + "nr_accesses", std::to_string(nr));
    put(R + "age", std::to_string(age));
  }
  int start(uint64_t now = 0) { return ta_os_damon_start(&d, root.c_str(), 4242, &ta_os_damon_default_attrs, now); }
};

TEST_F(FakeDamon, StartAddsTheFirstKdamondAndConfiguresIt) {
  make_kdamond(0);  // what writing nr_kdamonds 1 makes the kernel create
  ASSERT_EQ(start(), 0);
  EXPECT_EQ(get("kdamonds/nr_kdamonds"), "1");
  EXPECT_EQ(d.index, 0);
  EXPECT_TRUE(d.created);
  EXPECT_EQ(get(kd(0, "state")), "on");
  EXPECT_EQ(get(kd(0, "contexts/nr_contexts")), "1");
  // fvaddr first (a kernel without it refuses the name with EINVAL and gets vaddr; the fake's
  // plain files take any name, so here it is always fvaddr).
  EXPECT_EQ(get(ctx(0, "operations")), "fvaddr");
  EXPECT_TRUE(d.fixed);
  EXPECT_EQ(get(ctx(0, "monitoring_attrs/intervals/sample_us")), "5000");
  EXPECT_EQ(get(ctx(0, "monitoring_attrs/intervals/aggr_us")), "100000");
  EXPECT_EQ(get(ctx(0, "monitoring_attrs/intervals/update_us")), "1000000");
  EXPECT_EQ(get(ctx(0, "monitoring_attrs/nr_regions/min")), "100");
  EXPECT_EQ(get(ctx(0, "monitoring_attrs/nr_regions/max")), "1000");
  EXPECT_EQ(get(ctx(0, "targets/nr_targets")), "1");
  EXPECT_EQ(get(ctx(0, "targets/0/pid_target")), "4242");
  EXPECT_EQ(get(ctx(0, "schemes/nr_schemes")), "1");
  EXPECT_EQ(get(ctx(0, "schemes/0/action")), "stat");
  // DAMON's default pattern (all 0) matches nothing: every maximum is raised.
  EXPECT_EQ(get(ctx(0, "schemes/0/access_pattern/sz/max")), "18446744073709551615");
  EXPECT_EQ(get(ctx(0, "schemes/0/access_pattern/nr_accesses/max")), "4294967295");
  EXPECT_EQ(get(ctx(0, "schemes/0/access_pattern/age/max")), "4294967295");
  EXPECT_EQ(get(ctx(0, "schemes/0/access_pattern/age/min")), "0");

  ta_os_damon_stop(&d);
  EXPECT_EQ(get(kd(0, "state")), "off");
  EXPECT_EQ(get("kdamonds/nr_kdamonds"), "0") << "the directory it added is removed";
  EXPECT_EQ(d.index, -1);
}

TEST_F(FakeDamon, NoDamonIsENOENT) {
  ASSERT_EQ(system(("rm -rf " + root + "/kdamonds").c_str()), 0);
  EXPECT_EQ(start(), ENOENT);
  EXPECT_EQ(d.index, -1);
}

TEST_F(FakeDamon, SomeoneElsesKdamondIsNeverTouched) {
  // Running, or off but configured for another purpose: writing nr_kdamonds would wipe it.
  for (const char *state : {"on", "off"}) {
    put("kdamonds/nr_kdamonds", "1");
    make_kdamond(0, state);
    put(ctx(0, "schemes/0/action"), "pageout");
    put(kd(0, "contexts/nr_contexts"), "1");
    EXPECT_EQ(start(), EBUSY) << state;
    EXPECT_EQ(get("kdamonds/nr_kdamonds"), "1");
    EXPECT_EQ(get(kd(0, "state")), state);
    EXPECT_EQ(get(ctx(0, "schemes/0/action")), "pageout");
  }
}

TEST_F(FakeDamon, ALeftoverOfADeadProcessIsReused) {
  pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);  // a pid that no longer exists
  put("kdamonds/nr_kdamonds", "2");
  make_kdamond(0, "on");  // someone else's, running
  make_kdamond(1, "off");
  put(kd(1, "contexts/nr_contexts"), "1");
  put(ctx(1, "targets/nr_targets"), "1");
  put(ctx(1, "targets/0/pid_target"), std::to_string(child));
  put(ctx(1, "schemes/nr_schemes"), "1");
  put(ctx(1, "schemes/0/action"), "stat");
  ASSERT_EQ(start(), 0);
  EXPECT_EQ(d.index, 1);
  EXPECT_FALSE(d.created) << "another kdamond exists: the directory stays";
  EXPECT_EQ(get(ctx(1, "targets/0/pid_target")), "4242");
  EXPECT_EQ(get(kd(1, "state")), "on");
  EXPECT_EQ(get(kd(0, "state")), "on");
  ta_os_damon_stop(&d);
  EXPECT_EQ(get("kdamonds/nr_kdamonds"), "2");
  EXPECT_EQ(get(kd(1, "state")), "off");

  // The same shape for a process that is alive (this one) is not a leftover.
  put(ctx(1, "targets/0/pid_target"), std::to_string(getpid()));
  EXPECT_EQ(start(), EBUSY);
}

TEST_F(FakeDamon, SnapshotParsesAndAnswersPerRegion) {
  make_kdamond(0);
  ASSERT_EQ(start(1000), 0);
  d.fixed = false;  // a kernel without fvaddr: vaddr's own regions, answered as such
  region(0, 0, 0x10000, 0x20000, 3, 0);     // accessed in the last aggregation interval
  region(0, 1, 0x20000, 0x80000, 0, 50);    // idle for 50 intervals (5 s)
  region(0, 2, 0x80000, 0x90000, 0, 2);     // idle for 0.2 s: it changed since the last round
  region(0, 3, 0x100000, 0x200000, 1, 900); // a gap before it
  uint64_t now = 1000 + 1000000000ull;      // one second after start
  ASSERT_EQ(ta_os_damon_refresh(&d, now, 1), 0);
  EXPECT_EQ(get(kd(0, "state")), "update_schemes_tried_regions");
  ASSERT_EQ(d.nregions, 4u);
  EXPECT_EQ(d.regions[d.cur][3].start, 0x100000u);
  EXPECT_EQ(d.regions[d.cur][3].age, 900u);
  EXPECT_EQ(ta_os_damon_accessed(&d, 0x10000), kFull);
  EXPECT_EQ(ta_os_damon_accessed(&d, 0x1ffff), kFull);
  EXPECT_EQ(ta_os_damon_accessed(&d, 0x20000), 0) << "end is exclusive";
  EXPECT_EQ(ta_os_damon_accessed(&d, 0x7ffff), 0);
  EXPECT_EQ(ta_os_damon_accessed(&d, 0x85000), kFull) << "young idle region: accessed within the window";
  EXPECT_EQ(ta_os_damon_accessed(&d, 0x90000), -1) << "in no region";
  EXPECT_EQ(ta_os_damon_accessed(&d, 0xfff), -1);
  EXPECT_EQ(ta_os_damon_accessed(&d, 0x1fffff), kFull);
  EXPECT_EQ(ta_os_damon_accessed(&d, 0x200000), -1);

  // A shorter window: the 0.2 s-old change is now older than the time between snapshots.
  ASSERT_EQ(ta_os_damon_refresh(&d, now + 150000000ull, 1), 0);
  EXPECT_EQ(ta_os_damon_accessed(&d, 0x85000), 0);
  ta_os_damon_stop(&d);
}

TEST_F(FakeDamon, ManyRegionsAndBrokenSnapshots) {
  make_kdamond(0);
  ASSERT_EQ(start(), 0);
  d.fixed = false;
  for (unsigned i = 0; i < 300; i++) region(0, i, 0x1000000 + i * 0x2000ull, 0x1000000 + i * 0x2000ull + 0x1000, i % 2, 1000);
  ASSERT_EQ(ta_os_damon_refresh(&d, 1, 1), 0);
  ASSERT_EQ(d.nregions, 300u);
  for (unsigned i = 0; i < 300; i++) {
    uintptr_t a = 0x1000000 + i * 0x2000ull;
    EXPECT_EQ(ta_os_damon_accessed(&d, a + 0x800), (int)(i % 2) * kFull) << i;
    EXPECT_EQ(ta_os_damon_accessed(&d, a + 0x1000), -1) << i;
  }
  // Overlapping regions are not DAMON's list: not taken, the previous snapshot answers.
  region(0, 5, 0x1000000, 0x1001000, 1, 0);
  EXPECT_EQ(ta_os_damon_refresh(&d, 2, 1), EPROTO);
  EXPECT_EQ(d.nregions, 300u);
  EXPECT_EQ(ta_os_damon_accessed(&d, 0x1000000 + 5 * 0x2000 + 0x800), kFull);
  // A region missing a file (the kernel rebuilding the directory under us) is an error too.
  ASSERT_EQ(system(("rm -rf " + root + "/" + ctx(0, "schemes/0/tried_regions/*")).c_str()), 0);
  region(0, 0, 0x1000, 0x2000, 1, 0);
  ASSERT_EQ(unlink((root + "/" + ctx(0, "schemes/0/tried_regions/0/age")).c_str()), 0);
  EXPECT_EQ(ta_os_damon_refresh(&d, 3, 1), ENOENT);
  EXPECT_EQ(d.nregions, 300u) << "two misses: the previous snapshot still answers";
  // An empty update (6.12 gives some) is asked again; the third miss in a row drops the
  // snapshot, and every page is unknown until one comes.
  ASSERT_EQ(system(("rm -rf " + root + "/" + ctx(0, "schemes/0/tried_regions/*")).c_str()), 0);
  EXPECT_EQ(ta_os_damon_refresh(&d, 4, 3), ENODATA);
  EXPECT_EQ(d.nregions, 0u);
  EXPECT_EQ(ta_os_damon_accessed(&d, 0x1000800), -1);
  // Garbage in a number.
  region(0, 0, 0x1000, 0x2000, 1, 0);
  put(ctx(0, "schemes/0/tried_regions/0/nr_accesses"), "x");
  EXPECT_EQ(ta_os_damon_refresh(&d, 5, 1), EINVAL);
  put(ctx(0, "schemes/0/tried_regions/0/nr_accesses"), "2");
  EXPECT_EQ(ta_os_damon_refresh(&d, 6, 1), 0) << "and one good snapshot ends the misses";
  EXPECT_EQ(d.misses, 0u);
  EXPECT_EQ(ta_os_damon_accessed(&d, 0x1800), kFull);
  ta_os_damon_stop(&d);
  EXPECT_EQ(ta_os_damon_refresh(&d, 7, 1), ESRCH) << "stopped";
}

// fvaddr: the ranges given are written as the target's regions and committed to the running
// kdamond, with the sampling stretched to TA_OS_DAMON_CHECKS_PER_S; a region reads graded by the
// busiest region's nr_accesses.
TEST_F(FakeDamon, WatchedRangesAreCommittedAndReadGraded) {
  make_kdamond(0);
  ASSERT_EQ(start(), 0);
  ASSERT_TRUE(d.fixed);
  const unsigned n = 640;
  for (unsigned i = 0; i < n; i++)  // what writing nr_regions makes the kernel create
    for (const char *f : {"start", "end"}) put(ctx(0, "targets/0/regions/" + std::to_string(i) + "/" + f), "0");
  put(ctx(0, "targets/0/regions/nr_regions"), "0");
  std::vector<ta_os_damon_range_t> r(n);
  for (unsigned i = 0; i < n; i++) r[i] = {0x10000000 + i * 0x100000ull, 0x10000000 + i * 0x100000ull + 0x1000};
  ASSERT_EQ(ta_os_damon_watch(&d, r.data(), n), 0);
  EXPECT_EQ(get(kd(0, "state")), "commit");
  EXPECT_EQ(get(ctx(0, "targets/0/regions/nr_regions")), "640");
  EXPECT_EQ(get(ctx(0, "targets/0/regions/639/start")), std::to_string(0x10000000 + 639 * 0x100000ull));
  EXPECT_EQ(get(ctx(0, "targets/0/regions/639/end")), std::to_string(0x10000000 + 639 * 0x100000ull + 0x1000));
  // 640 pages at 10000 checks a second: a sample every 64 ms, four an aggregation.
  EXPECT_EQ(get(ctx(0, "monitoring_attrs/intervals/sample_us")), "64000");
  EXPECT_EQ(get(ctx(0, "monitoring_attrs/intervals/aggr_us")), "256000");
  EXPECT_EQ(get(ctx(0, "monitoring_attrs/nr_regions/min")), "640");
  EXPECT_EQ(get(ctx(0, "monitoring_attrs/nr_regions/max")), "960");
  // The same set again writes nothing.
  put(kd(0, "state"), "on");
  ASSERT_EQ(ta_os_damon_watch(&d, r.data(), n), 0);
  EXPECT_EQ(get(kd(0, "state")), "on");

  // Four regions: 4 of 4 samples (hot), 3, 2 and 1 (a cold page touched now and then): graded
  // by the busiest, so the policy can rank the cold ones too.
  for (unsigned i = 0; i < 4; i++) region(0, i, r[i].start, r[i].end, 4 - i, 0);
  ASSERT_EQ(ta_os_damon_refresh(&d, 1, 1), 0);
  EXPECT_EQ(ta_os_damon_accessed(&d, r[0].start), kFull);
  EXPECT_EQ(ta_os_damon_accessed(&d, r[1].start), kFull * 3 / 4);
  EXPECT_EQ(ta_os_damon_accessed(&d, r[2].start), kFull / 2);
  EXPECT_EQ(ta_os_damon_accessed(&d, r[3].start), kFull / 4) << "age does not count under fvaddr";
  EXPECT_EQ(ta_os_damon_accessed(&d, r[0].end), -1) << "a page outside the watched ones is unknown";
  // A snapshot where the busiest region saw one sample: it reads full, the rest nothing. age is
  // not read.
  for (unsigned i = 0; i < 4; i++) region(0, i, r[i].start, r[i].end, i == 2, 0);
  ASSERT_EQ(unlink((root + "/" + ctx(0, "schemes/0/tried_regions/2/age")).c_str()), 0);
  ASSERT_EQ(ta_os_damon_refresh(&d, 2, 1), 0);
  EXPECT_EQ(ta_os_damon_accessed(&d, r[2].start), kFull);
  EXPECT_EQ(ta_os_damon_accessed(&d, r[0].start), 0);
  // None accessed at all: every region reads 0 (no division by the largest, 0).
  for (unsigned i = 0; i < 4; i++) region(0, i, r[i].start, r[i].end, 0, 0);
  ASSERT_EQ(ta_os_damon_refresh(&d, 3, 1), 0);
  for (unsigned i = 0; i < 4; i++) EXPECT_EQ(ta_os_damon_accessed(&d, r[i].start), 0) << i;
  ta_os_damon_stop(&d);
  EXPECT_EQ(ta_os_damon_watch(&d, r.data(), n), ESRCH) << "stopped";
}

TEST_F(FakeDamon, AFailedSetupIsUndone) {
  make_kdamond(0);
  // The kernel refuses the target (e.g. no such pid): modelled by a directory where the file is.
  ASSERT_EQ(unlink((root + "/" + ctx(0, "targets/0/pid_target")).c_str()), 0);
  ASSERT_EQ(mkdir((root + "/" + ctx(0, "targets/0/pid_target")).c_str(), 0755), 0);
  EXPECT_EQ(start(), EISDIR);
  EXPECT_EQ(d.index, -1);
  EXPECT_EQ(get("kdamonds/nr_kdamonds"), "0") << "the kdamond it added is removed again";
}

}  // namespace
