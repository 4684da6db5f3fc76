// The kernel-side reader of tieralloc-stat: captured /proc files with known answers, then this
// process's own /proc after touching a known amount of anonymous memory.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "procmem.h"

namespace {

struct Dir {
  std::string path;
  Dir() {
    char tmpl[] = "/tmp/ta-procmem.XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~Dir() { std::system(("rm -rf " + path).c_str()); }
  void put(const char *name, const std::string &text) { std::ofstream(path + "/" + name) << text; }
};

// Two anonymous mappings on node 0 and node 1 (one with 2 MiB on hugepages), one split over
// both nodes with hugepages, the brk heap, a file mapping with COW pages, and /dev/shm.
const char *kNumaMaps =
    "55d0c0a00000 default file=/usr/bin/redis-server mapped=200 N0=200 kernelpagesize_kB=4\n"
    "55d0c1000000 default heap anon=50 dirty=50 N0=50 kernelpagesize_kB=4\n"
    "7f0000000000 prefer:0 anon=1024 dirty=1024 N0=1024 kernelpagesize_kB=4\n"
    "7f0100000000 bind:1 anon=512 dirty=512 N1=512 kernelpagesize_kB=4\n"
    "7f0200000000 default anon=1536 dirty=1536 N0=512 N1=1024 kernelpagesize_kB=4\n"
    "7f0300000000 default\n"
    "7f0400000000 default file=/usr/lib/libc.so.6 anon=3 dirty=3 mapped=100 N0=100 kernelpagesize_kB=4\n"
    "7f0500000000 default file=/dev/shm/x dirty=10 N1=10 kernelpagesize_kB=4\n"
    "7ffc00000000 default stack anon=8 dirty=8 N1=8 kernelpagesize_kB=4\n";

std::string smaps_entry(const char *range, const char *path, unsigned huge_kb) {
  return std::string(range) + " rw-p 00000000 00:00 0    " + path +
         "\nSize: 4096 kB\nRss: 4096 kB\nAnonymous: 4096 kB\nAnonHugePages: " + std::to_string(huge_kb) +
         " kB\nShmemPmdMapped: 0 kB\nFilePmdMapped: 0 kB\nVmFlags: rd wr mr mw me ac\n";
}

TEST(Procmem, CountsAnonymousPagesPerNodeAndSplitsHugepages) {
  Dir d;
  d.put("numa_maps", kNumaMaps);
  d.put("smaps", smaps_entry("55d0c0a00000-55d0c0b00000", "/usr/bin/redis-server", 0) +
                     smaps_entry("55d0c1000000-55d0c1100000", "[heap]", 0) +
                     smaps_entry("7f0000000000-7f0000400000", "", 0) +
                     smaps_entry("7f0100000000-7f0100200000", "", 2048) +
                     smaps_entry("7f0200000000-7f0200600000", "", 3072) +
                     smaps_entry("7f0300000000-7f0300001000", "", 0) +
                     smaps_entry("7f0400000000-7f0400100000", "/usr/lib/libc.so.6", 0) +
                     smaps_entry("7f0500000000-7f0500100000", "/dev/shm/x", 0) +
                     smaps_entry("7ffc00000000-7ffc00021000", "[stack]", 0));
  d.put("smaps_rollup",
        "55d0c0a00000-7ffc00021000 ---p 00000000 00:00 0    [rollup]\nRss: 13000 kB\n"
        "Pss: 12000 kB\nAnonymous: 12520 kB\nAnonHugePages: 6144 kB\nSwap: 16 kB\n");
  ta_procmem_t m;
  ASSERT_EQ(ta_procmem_read(d.path.c_str(), &m), 0);
  EXPECT_TRUE(m.has_nodes);
  EXPECT_EQ(m.max_node, 1);
  EXPECT_EQ(m.mappings, 5u);  // heap, three anonymous, stack: not the files, not the empty one
  EXPECT_EQ(m.anon_bytes[0], (50u + 1024 + 512) * 4096);
  EXPECT_EQ(m.anon_bytes[1], (512u + 1024 + 8) * 4096);
  // 2 MiB of node 1's mapping, and 3 MiB of the split one in proportion 512:1024.
  EXPECT_EQ(m.huge_bytes[0], 1024u * 1024);
  EXPECT_EQ(m.huge_bytes[1], 2048u * 1024 + 2048u * 1024);
  EXPECT_EQ(m.rss, 13000u * 1024);
  EXPECT_EQ(m.anonymous, 12520u * 1024);
  EXPECT_EQ(m.anon_huge, 6144u * 1024);
  EXPECT_EQ(m.swap, 16u * 1024);
}

TEST(Procmem, WithoutNumaMapsKeepsTheTotals) {
  Dir d;
  d.put("smaps", smaps_entry("7f0000000000-7f0000400000", "", 2048));
  d.put("smaps_rollup", "x\nRss: 100 kB\nAnonymous: 60 kB\nAnonHugePages: 0 kB\n");
  ta_procmem_t m;
  ASSERT_EQ(ta_procmem_read(d.path.c_str(), &m), 0);
  EXPECT_FALSE(m.has_nodes);
  EXPECT_EQ(m.max_node, -1);
  EXPECT_EQ(m.rss, 100u * 1024);
}

TEST(Procmem, AGoneProcessIsEnoent) {
  ta_procmem_t m;
  EXPECT_EQ(ta_procmem_read("/proc/does-not-exist", &m), ENOENT);
}

TEST(Procmem, SeesThisProcesssOwnTouchedMemory) {
  const size_t size = 32u << 20;
  char *p = static_cast<char *>(mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  ta_procmem_t before, after;
  ASSERT_EQ(ta_procmem_read("/proc/self", &before), 0);
  memset(p, 1, size);
  ASSERT_EQ(ta_procmem_read("/proc/self", &after), 0);
  munmap(p, size);
  EXPECT_GE(after.anonymous, before.anonymous + size - (1u << 20));
  if (after.has_nodes) {
    uint64_t a = 0, b = 0;
    for (int i = 0; i <= after.max_node; i++) a += after.anon_bytes[i];
    for (int i = 0; i <= before.max_node; i++) b += before.anon_bytes[i];
    EXPECT_GE(a, b + size - (1u << 20));
    EXPECT_LE(a, after.anonymous + (1u << 20));  // the per-node sum agrees with smaps_rollup
  }
}

}  // namespace
