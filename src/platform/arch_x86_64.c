/* arch_x86_64.c: x86-64 facts. There is one profile row; its cache line, L1D and L2 are read
 * at run time from glibc's CPUID decoding (sysconf _SC_LEVEL*, which does not allocate), and the
 * sizing columns derive from them by the rules in profile.h. */
#define _GNU_SOURCE
#include <unistd.h>

#include "arch_impl.h"

unsigned ta_arch_impl_isa(void) { return TA_ARCH_ISA_X86_64; }

uint64_t ta_arch_impl_read_midr(const char **source) {
  *source = "none";
  return 0;
}

bool ta_arch_atomics_are_lse(void) { return false; }

static uint32_t sysconf_or(int name, uint32_t fallback) {
  long v = sysconf(name);
  return v > 0 ? (uint32_t)v : fallback;
}

void ta_arch_impl_fill_runtime(ta_arch_profile_t *p) {
  if (!p->cache_line) p->cache_line = sysconf_or(_SC_LEVEL1_DCACHE_LINESIZE, 64);
  if (!p->l1d_kib) p->l1d_kib = sysconf_or(_SC_LEVEL1_DCACHE_SIZE, 32 * 1024) / 1024;
  if (!p->l2_kib) p->l2_kib = sysconf_or(_SC_LEVEL2_CACHE_SIZE, 1024 * 1024) / 1024;
  if (!p->tcache_class_bytes) {
    uint32_t t = p->l2_kib * 1024 / 32;
    p->tcache_class_bytes = t < 16384 ? 16384 : t > 65536 ? 65536 : t;
  }
  if (!p->slab_bytes) p->slab_bytes = p->l1d_kib * 1024;
}

size_t ta_arch_contpte_size(size_t page_size) {
  (void)page_size;
  return 0;
}
