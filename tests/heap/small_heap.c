/* small_heap.c: a heap below conf thp_min_mb keeps only the pages it touched resident, on base
 * pages; once it passes it, the heap is on hugepages, the units it held before included
 * (collapsed). Run under LD_PRELOAD=libtieralloc.so as `small_heap SMALL_KIB [GROW_MIB]`:
 * fills SMALL_KIB 1000-byte objects, then checks that the process's anonymous memory grew by
 * at most SMALL_KIB plus 768 KiB (the metadata and caches; a hugepage would be 2 MiB at once)
 * with no AnonHugePages; then, given GROW_MIB, fills that much more and checks that at least 80%
 * of all the anonymous memory the heap grew by is on hugepages. Exit 77: THP is off here, or
 * (with GROW_MIB) the kernel has no MADV_COLLAPSE, which the second check needs.
 * C, not C++: the C++ runtime allocates before main, and the baseline must come before the
 * heap's first byte. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#include "proc_field.h"

static int thp_enabled(void) {
  static char buf[256];
  int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  return strstr(buf, "[never]") == NULL;
}

/* Whether MADV_COLLAPSE (Linux 6.1+) works here: one touched page of a 2 MiB-aligned range. */
static int collapse_works(void) {
  long huge = proc_field("/proc/meminfo", "Hugepagesize");
  size_t unit = huge > 0 ? (size_t)huge << 10 : (size_t)2 << 20;
  char *m = mmap(NULL, 2 * unit, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return 0;
  char *a = (char *)(((uintptr_t)m + unit - 1) & ~(uintptr_t)(unit - 1));
  a[0] = 1;
  int ok = madvise(a, unit, MADV_COLLAPSE) == 0 || errno != EINVAL;
  munmap(m, 2 * unit);
  return ok;
}

static int fill(size_t kib, int seed) {
  for (size_t i = 0; i < kib; i++) {
    char *p = malloc(1000);
    if (!p) return -1;
    memset(p, seed + (int)i, 1000); /* kept: the heap only grows */
  }
  return 0;
}

int main(int argc, char **argv) {
  long anon0 = proc_field("/proc/self/smaps_rollup", "Anonymous");
  long huge0 = proc_field("/proc/self/smaps_rollup", "AnonHugePages");
  if (argc < 2) {
    fprintf(stderr, "usage: small_heap SMALL_KIB [GROW_MIB]\n");
    return 2;
  }
  if (!thp_enabled()) {
    printf("THP is off on this machine\n");
    return 77;
  }
  size_t small_kib = strtoul(argv[1], NULL, 10), grow_mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
  if (grow_mib && !collapse_works()) {
    printf("no MADV_COLLAPSE on this kernel: the units of a small heap are left to khugepaged\n");
    return 77;
  }
  if (fill(small_kib, 1) != 0) return 1;
  long anon1 = proc_field("/proc/self/smaps_rollup", "Anonymous") - anon0;
  long huge1 = proc_field("/proc/self/smaps_rollup", "AnonHugePages") - huge0;
  printf("after %zu KiB: anonymous +%ld KiB, AnonHugePages +%ld KiB\n", small_kib, anon1, huge1);
  int bad = 0;
  if (anon1 > (long)small_kib + 768 || huge1 != 0) {
    printf("FAIL: a heap below thp_min_mb should be on base pages, touched pages only\n");
    bad = 1;
  }
  if (grow_mib) {
    if (fill(grow_mib << 10, 2) != 0) return 1;
    long anon2 = proc_field("/proc/self/smaps_rollup", "Anonymous") - anon0;
    long huge2 = proc_field("/proc/self/smaps_rollup", "AnonHugePages") - huge0;
    double coverage = anon2 > 0 ? (double)huge2 / (double)anon2 : 0;
    printf("after %zu MiB more: anonymous +%ld KiB, AnonHugePages +%ld KiB (%.0f%%)\n", grow_mib, anon2,
           huge2, 100 * coverage);
    if (coverage < 0.8) {
      printf("FAIL: past thp_min_mb the heap, its first units included, should be on hugepages\n");
      bad = 1;
    }
  }
  return bad;
}
