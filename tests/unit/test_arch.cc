// The platform's processor and machine facts: the profile table (each profile is chosen for its
// MIDR, an unknown MIDR gets the generic row), the MIDR parsers, the live detection (under
// tests/aarch64/run-tests the runner says which CPU it emulates), the hugepage-unit rule, and
// the current CPU from rseq or its fallback.
#include <gtest/gtest.h>

#include <sched.h>
#include <sys/rseq.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include "arch_impl.h"
#include "conf.h"

#if defined(__aarch64__)
#include <sys/auxv.h>
static const unsigned kIsa = TA_ARCH_ISA_AARCH64;
#else
static const unsigned kIsa = TA_ARCH_ISA_X86_64;
#endif

namespace {

std::string name_for(unsigned isa, uint64_t midr) {
  const ta_arch_profile_t *p = ta_arch_profile_for_midr(isa, midr);
  return p ? p->name : "(none)";
}

TEST(Profile, EachNeoverseIsChosenForItsMidr) {
  const unsigned a = TA_ARCH_ISA_AARCH64;
  EXPECT_EQ(name_for(a, 0x413fd0c1), "neoverse-n1");  // Graviton2 / Ampere Altra: N1 r3p1
  EXPECT_EQ(name_for(a, 0x414fd0c1), "neoverse-n1");  // QEMU's neoverse-n1 model: r4p1
  EXPECT_EQ(name_for(a, 0x411fd401), "neoverse-v1");  // Graviton3
  EXPECT_EQ(name_for(a, 0x410fd490), "neoverse-n2");
  EXPECT_EQ(name_for(a, 0x410fd4f0), "neoverse-v2");  // Grace, Graviton4, Axion
  EXPECT_EQ(name_for(a, 0x410fd840), "neoverse-v3");
  // Variant and revision never matter, only implementer and part.
  EXPECT_EQ(name_for(a, 0x41ffd4ff), "neoverse-v2");
}

TEST(Profile, UnknownMidrGetsGeneric) {
  const unsigned a = TA_ARCH_ISA_AARCH64;
  EXPECT_EQ(name_for(a, 0), "generic-armv8.0");           // no MIDR could be read
  EXPECT_EQ(name_for(a, 0x000f0510), "generic-armv8.0");  // QEMU "max"
  EXPECT_EQ(name_for(a, 0x410fd083), "generic-armv8.0");  // Cortex-A72 (Graviton1 class)
  EXPECT_EQ(name_for(a, 0x461f0010), "generic-armv8.0");  // Fujitsu A64FX
  EXPECT_EQ(name_for(a, 0x481fd010), "generic-armv8.0");  // HiSilicon Kunpeng 920 (TSV110)
  EXPECT_EQ(name_for(a, 0x430f0af1), "generic-armv8.0");  // Cavium ThunderX2
  EXPECT_EQ(name_for(a, 0x420fd0c0), "generic-armv8.0");  // N1's part under another implementer
  EXPECT_EQ(name_for(a, 0x410fd8e0), "generic-armv8.0");  // N3: no row until its facts are cited
  // x86-64 has one row, whatever the number.
  EXPECT_EQ(name_for(TA_ARCH_ISA_X86_64, 0), "x86-64");
  EXPECT_EQ(name_for(TA_ARCH_ISA_X86_64, 0x413fd0c1), "x86-64");
}

TEST(Profile, RowsAreConsistent) {
  std::set<std::string> names;
  for (const ta_arch_profile_t &p : ta_arch_profiles) {
    SCOPED_TRACE(p.name);
    EXPECT_TRUE(names.insert(p.name).second) << "duplicate name";
    EXPECT_EQ(ta_arch_profile_by_name(p.name), &p);
    EXPECT_TRUE(p.contended_pad >= p.cache_line) << "padding smaller than the line";
    EXPECT_LE(p.contended_pad, (uint32_t)TA_CACHE_LINE) << "static padding would not cover it";
    if (p.isa == TA_ARCH_ISA_AARCH64) {
      EXPECT_EQ(p.cache_line, 64u);
      EXPECT_GT(p.l2_kib, 0u);
      EXPECT_EQ(p.tcache_class_bytes, p.l2_kib * 1024 / 32) << "rule: L2/32";
      EXPECT_EQ(p.slab_bytes, p.l1d_kib * 1024) << "rule: one L1D";
      if (p.implementer) {
        EXPECT_EQ(ta_arch_profile_for_midr(p.isa, (uint64_t)p.implementer << 24 | p.part << 4), &p);
      }
    }
  }
  EXPECT_EQ(ta_arch_profile_by_name("neoverse-n9"), nullptr);
}

// conf.def builds the `profile` choices from profile.h: choice i is row i-1.
TEST(Profile, ConfChoicesAreTheRows) {
  const ta_conf_option_t *opt = nullptr;
  for (size_t i = 0; i < ta_conf_noptions; i++)
    if (!strcmp(ta_conf_options[i].name, "profile")) opt = &ta_conf_options[i];
  ASSERT_NE(opt, nullptr);
  const char *name;
  size_t len = ta_conf_choice_name(opt, 0, &name);
  EXPECT_EQ(std::string(name, len), "auto");
  for (unsigned i = 0; i < TA_ARCH_PROFILE_COUNT; i++) {
    len = ta_conf_choice_name(opt, i + 1, &name);
    EXPECT_EQ(std::string(name, len), ta_arch_profiles[i].name);
  }
  ta_conf_t conf;
  ta_conf_defaults(&conf);
  EXPECT_EQ(ta_conf_parse(&conf, "profile:neoverse-v2"), 0);
  EXPECT_STREQ(ta_arch_profiles[conf.profile - 1].name, "neoverse-v2");
}

TEST(Midr, FromSysfs) {
  EXPECT_EQ(ta_arch_midr_from_sysfs("0x00000000413fd0c1\n"), 0x413fd0c1u);
  EXPECT_EQ(ta_arch_midr_from_sysfs(""), 0u);
  EXPECT_EQ(ta_arch_midr_from_sysfs("garbage"), 0u);
}

TEST(Midr, FromCpuinfo) {
  const char *graviton2 =
      "processor\t: 0\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 "
      "atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs\nCPU implementer\t: 0x41\n"
      "CPU architecture: 8\nCPU variant\t: 0x3\nCPU part\t: 0xd0c\nCPU revision\t: 1\n\n"
      "processor\t: 1\nCPU implementer\t: 0x42\nCPU part\t: 0xfff\n";
  EXPECT_EQ(ta_arch_midr_from_cpuinfo(graviton2), 0x413fd0c1u);
  // What qemu-user shows an AArch64 program: the x86 host's file.
  EXPECT_EQ(ta_arch_midr_from_cpuinfo("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD "
                                      "EPYC\n"),
            0u);
  EXPECT_EQ(ta_arch_midr_from_cpuinfo("CPU implementer\t: 0x41\n"), 0u);  // no part: nothing
  EXPECT_EQ(name_for(TA_ARCH_ISA_AARCH64, ta_arch_midr_from_cpuinfo(graviton2)), "neoverse-n1");
}

// Under tests/aarch64/run-tests -p NAME, the runner exports the emulated MIDR and its name.
TEST(Profile, LiveDetection) {
  const ta_arch_profile_t *p = ta_arch_profile();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->isa, kIsa);
  EXPECT_GT(p->cache_line, 0u);
  EXPECT_GT(p->tcache_class_bytes, 0u);
  char buf[512];
  ASSERT_LT(ta_arch_describe(buf, sizeof(buf)), sizeof(buf));
  EXPECT_NE(strstr(buf, p->name), nullptr) << buf;
  RecordProperty("profile", buf);
  std::printf("%s\n", buf);
  const char *expect_midr = getenv("AARCH64_EXPECT_MIDR"), *runner = getenv("AARCH64_PROFILE");
  if (!expect_midr || !runner) GTEST_SKIP() << "not started by tests/aarch64/run-tests";
  const char *source;
  EXPECT_EQ(ta_arch_midr(&source), strtoull(expect_midr, nullptr, 16));
  EXPECT_STREQ(source, "mrs");
  const std::string r = runner;
  const std::string want = r == "n1" ? "neoverse-n1" : r == "v1" ? "neoverse-v1" : r == "n2" ? "neoverse-n2"
                         : r == "v2" ? "neoverse-v2" : "generic-armv8.0";
  EXPECT_EQ(p->name, want) << "runner profile " << r;
}

TEST(Atomics, LseFollowsTheHardware) {
#if defined(__aarch64__)
  bool hw = (getauxval(AT_HWCAP) & (1ul << 8)) != 0; /* HWCAP_ATOMICS */
  EXPECT_EQ(ta_arch_atomics_are_lse(), hw);
  const char *runner = getenv("AARCH64_PROFILE");
  if (runner && !strcmp(runner, "a72")) {
    EXPECT_FALSE(hw) << "Cortex-A72 is ARMv8.0: no LSE";
  }
  if (runner && !strcmp(runner, "n1")) {
    EXPECT_TRUE(hw) << "Neoverse N1 is ARMv8.2: LSE";
  }
  if (ta_arch_profile()->lse) {
    EXPECT_TRUE(hw) << "profile claims LSE the CPU lacks";
  }
#else
  EXPECT_FALSE(ta_arch_atomics_are_lse());
#endif
}

TEST(Profile, ConfOverride) {
  const std::string before = ta_arch_profile_name();
  unsigned v2 = TA_ARCH_PROFILE_NEOVERSE_V2 + 1, x86 = TA_ARCH_PROFILE_X86_64 + 1;
  testing::internal::CaptureStderr();
  if (kIsa == TA_ARCH_ISA_AARCH64) {
    EXPECT_EQ(ta_arch_init(v2), 0);
    EXPECT_STREQ(ta_arch_profile_name(), "neoverse-v2");
    EXPECT_EQ(ta_arch_init(x86), EINVAL);  // another architecture's row: reported, ignored
  } else {
    EXPECT_EQ(ta_arch_init(x86), 0);
    EXPECT_STREQ(ta_arch_profile_name(), "x86-64");
    EXPECT_EQ(ta_arch_init(v2), EINVAL);
  }
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("another architecture"), std::string::npos) << err;
  EXPECT_EQ(ta_arch_init(0), 0);
  EXPECT_EQ(before, ta_arch_profile_name());
}

TEST(HugepageUnit, Rule) {
  bool thp;
  // x86-64 and arm64 with 4 KiB pages: the 2 MiB PMD.
  EXPECT_EQ(ta_os_hugepage_unit(4 << 10, 2 << 20, 0, false, &thp), 2u << 20);
  EXPECT_TRUE(thp);
  EXPECT_EQ(ta_os_hugepage_unit(4 << 10, 2 << 20, 64 << 10, false, &thp), 2u << 20);
  // arm64 16 KiB pages: the 32 MiB PMD is 2048 pages, still usable.
  EXPECT_EQ(ta_os_hugepage_unit(16 << 10, 32 << 20, 2 << 20, true, &thp), 32u << 20);
  EXPECT_TRUE(thp);
  // arm64 64 KiB pages: the 512 MiB PMD is too coarse; the 2 MiB contiguous-PTE block instead,
  // mapped huge only when the kernel enables multi-size THP at 2 MiB.
  EXPECT_EQ(ta_os_hugepage_unit(64 << 10, 512 << 20, 2 << 20, true, &thp), 2u << 20);
  EXPECT_TRUE(thp);
  EXPECT_EQ(ta_os_hugepage_unit(64 << 10, 512 << 20, 2 << 20, false, &thp), 2u << 20);
  EXPECT_FALSE(thp);
  // No THP in the kernel: 512 base pages, nothing huge.
  EXPECT_EQ(ta_os_hugepage_unit(4 << 10, 0, 0, false, &thp), 2u << 20);
  EXPECT_FALSE(thp);
  EXPECT_EQ(ta_os_hugepage_unit(64 << 10, 0, 2 << 20, false, &thp), 32u << 20);
  EXPECT_FALSE(thp);
}

TEST(HugepageUnit, ContiguousPte) {
  size_t want4 = kIsa == TA_ARCH_ISA_AARCH64 ? 64 << 10 : 0;
  size_t want16 = kIsa == TA_ARCH_ISA_AARCH64 ? 2 << 20 : 0;
  EXPECT_EQ(ta_arch_contpte_size(4 << 10), want4);
  EXPECT_EQ(ta_arch_contpte_size(16 << 10), want16);
  EXPECT_EQ(ta_arch_contpte_size(64 << 10), want16);
}

// The live machine: page size from the kernel (run-tests -g 65536 shows 64 KiB), a unit that is
// a whole number of pages and no larger than the page allocator manages.
TEST(HugepageUnit, Live) {
  ta_os_init();
  EXPECT_EQ(ta_os_info.page_size, (size_t)sysconf(_SC_PAGESIZE));
  EXPECT_EQ(ta_os_info.page_size, (size_t)1 << ta_os_info.page_shift);
  size_t unit = ta_os_info.hugepage_unit, page = ta_os_info.page_size;
  ASSERT_GT(unit, 0u);
  EXPECT_EQ(unit % page, 0u);
  EXPECT_LE(unit / page, (size_t)TA_OS_HUGEPAGE_UNIT_MAX_PAGES);
  EXPECT_EQ(ta_os_info.contpte_size, ta_arch_contpte_size(page));
  if (ta_os_info.thp_size && ta_os_info.thp_size / page <= TA_OS_HUGEPAGE_UNIT_MAX_PAGES) {
    EXPECT_EQ(unit, ta_os_info.thp_size);
  }
  std::printf("page %zu, PMD %zu, unit %zu (huge %d), contpte %zu\n", page, ta_os_info.thp_size,
              unit, (int)ta_os_info.hugepage_unit_thp, ta_os_info.contpte_size);
}

// The CPU id: equal to the kernel's answer on every CPU we may run on. TA_EXPECT_RSEQ (set by
// the ctest registrations in tests/aarch64) says which path this process must take.
TEST(CpuId, MatchesTheKernelOnEveryCpu) {
  cpu_set_t saved;
  ASSERT_EQ(sched_getaffinity(0, sizeof(saved), &saved), 0);
  int checked = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE && checked < 8; cpu++) {
    if (!CPU_ISSET(cpu, &saved)) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof(one), &one) != 0) continue;
    EXPECT_EQ(ta_os_current_cpu(), cpu);
    EXPECT_EQ(ta_os_current_cpu(), sched_getcpu());
    checked++;
  }
  ASSERT_EQ(sched_setaffinity(0, sizeof(saved), &saved), 0);
  EXPECT_GT(checked, 0);
  std::printf("rseq registered: %d (size %u), current CPU read from rseq: %d\n", __rseq_size != 0,
              __rseq_size, (int)ta_os_cpu_from_rseq());
  if (const char *e = getenv("TA_EXPECT_RSEQ")) {
    EXPECT_EQ(ta_os_cpu_from_rseq(), atoi(e) != 0);
  }
}

}  // namespace
