/* arch_aarch64.c: AArch64 facts: MIDR_EL1 (for the profile), the LSE atomics switch, the
 * contiguous-PTE block size.
 *
 * The MIDR comes from `mrs MIDR_EL1`, which Linux emulates at EL0 when it advertises
 * HWCAP_CPUID; else from sysfs regs/identification/midr_el1; else from /proc/cpuinfo. Under
 * qemu-user only mrs is right (sysfs and cpuinfo are the host's), which is why it goes first.
 *
 * `ta_arch_lse_inline` selects the LSE branch of atomic.h's read-modify-write operations. It
 * starts false (LL/SC, valid on every ARMv8.0 core) and is set from HWCAP_ATOMICS by a
 * constructor that only reads the auxiliary vector, so atomics that run before it (another
 * library's constructor calling malloc) are still correct. */
#include <sys/auxv.h>

#include "arch_impl.h"
#include "atomic.h"
#include "os.h"

#ifndef HWCAP_ATOMICS
#define HWCAP_ATOMICS (1ul << 8)
#endif
#ifndef HWCAP_CPUID
#define HWCAP_CPUID (1ul << 11)
#endif

bool ta_arch_lse_inline = false;

__attribute__((constructor)) static void detect_lse(void) {
  ta_arch_lse_inline = (getauxval(AT_HWCAP) & HWCAP_ATOMICS) != 0;
}

bool ta_arch_atomics_are_lse(void) { return ta_arch_lse_inline; }

unsigned ta_arch_impl_isa(void) { return TA_ARCH_ISA_AARCH64; }

uint64_t ta_arch_impl_read_midr(const char **source) {
  detect_lse(); /* also here: a static link may run our code before constructors */
  if (getauxval(AT_HWCAP) & HWCAP_CPUID) {
    uint64_t midr;
    __asm__ __volatile__("mrs %0, MIDR_EL1" : "=r"(midr));
    *source = "mrs";
    return midr & 0xffffffffu;
  }
  char buf[2048];
  if (ta_os_read_file("/sys/devices/system/cpu/cpu0/regs/identification/midr_el1", buf,
                      sizeof(buf)) > 0) {
    uint64_t midr = ta_arch_midr_from_sysfs(buf);
    if (midr) {
      *source = "sysfs";
      return midr;
    }
  }
  /* The first processor's block is enough: servers are not big.LITTLE. */
  if (ta_os_read_file("/proc/cpuinfo", buf, sizeof(buf)) > 0) {
    uint64_t midr = ta_arch_midr_from_cpuinfo(buf);
    if (midr) {
      *source = "cpuinfo";
      return midr;
    }
  }
  *source = "none";
  return 0;
}

void ta_arch_impl_fill_runtime(ta_arch_profile_t *p) { (void)p; /* every AArch64 row is complete */ }

size_t ta_arch_contpte_size(size_t page_size) {
  /* Arm ARM, "the Contiguous bit": 16 entries with 4 KiB granules, 128 with 16 KiB, 32 with
   * 64 KiB (the kernel's CONT_PTES). */
  switch (page_size) {
    case 4 << 10: return 16 * (4 << 10);
    case 16 << 10: return 128 * (16 << 10);
    case 64 << 10: return 32 * (64 << 10);
    default: return 0;
  }
}
