/* os_linux.c: the Linux implementation of os.h, with raw syscalls for the NUMA primitives (the
 * glibc-free equivalents of libnuma's numaif.h wrappers, so linking tieralloc pulls in no
 * library constructor that allocates). */
#define _GNU_SOURCE
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "log.h"
#include "os_linux_access.h"

#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#endif
#ifndef MADV_NOHUGEPAGE
#define MADV_NOHUGEPAGE 15
#endif

static int linux_map(void **out, size_t size, size_t align) {
  /* Over-map by `align` and trim both ends, so the result is aligned and nothing is wasted. */
  size_t page = ta_os_info.page_size;
  size_t extra = align > page ? align : 0;
  if (size + extra < size) return ENOMEM;
  void *p = mmap(NULL, size + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) return errno ? errno : ENOMEM;
  uintptr_t base = (uintptr_t)p;
  uintptr_t aligned = (base + align - 1) & ~(uintptr_t)(align - 1);
  if (extra) {
    if (aligned > base) munmap(p, aligned - base);
    size_t tail = base + size + extra - (aligned + size);
    if (tail) munmap((void *)(aligned + size), tail);
  }
  *out = (void *)aligned;
  return 0;
}

static int linux_unmap(void *addr, size_t size) { return munmap(addr, size) == 0 ? 0 : errno; }

static int linux_purge(void *addr, size_t size) {
  return madvise(addr, size, MADV_DONTNEED) == 0 ? 0 : errno;
}

static int linux_advise_huge(void *addr, size_t size, bool on) {
  return madvise(addr, size, on ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) == 0 ? 0 : errno;
}

#ifndef MADV_COLD
#define MADV_COLD 20
#endif
static int linux_split_huge(void *addr, size_t size) {
  return madvise(addr, size, MADV_COLD) == 0 ? 0 : errno;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
static int linux_populate(void *addr, size_t size) {
  for (;;) {
    if (madvise(addr, size, MADV_POPULATE_WRITE) == 0) return 0;
    /* EINTR: a signal arrived; the pages faulted so far stay, the rest is done again. */
    if (errno != EINTR) return errno;
  }
}

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
static int linux_collapse(void *addr, size_t size) {
  return madvise(addr, size, MADV_COLLAPSE) == 0 ? 0 : errno;
}

static int linux_bind(void *addr, size_t size, int mode, const unsigned long *nodemask,
                      unsigned long maxnode, unsigned flags) {
  long r = syscall(SYS_mbind, addr, size, mode, nodemask, maxnode, flags);
  return r == 0 ? 0 : errno;
}

static int linux_move_pages(unsigned long count, void **pages, const int *nodes, int *status,
                            int flags) {
  long r = syscall(SYS_move_pages, 0, count, pages, nodes, status, flags);
  return r < 0 ? errno : 0;
}

static uint64_t linux_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int linux_task_policy(int *mode) {
  long r = syscall(SYS_get_mempolicy, mode, NULL, 0, NULL, 0);
  return r == 0 ? 0 : errno;
}

const ta_os_ops_t ta_os_linux_ops = {
    .map = linux_map,
    .unmap = linux_unmap,
    .purge = linux_purge,
    .advise_huge = linux_advise_huge,
    .bind = linux_bind,
    .move_pages = linux_move_pages,
    .now_ns = linux_now_ns,
    .task_policy = linux_task_policy,
    .access_open = ta_os_linux_access_open,
    .access_sample = ta_os_linux_access_sample,
    .access_rearm = ta_os_linux_access_rearm,
    .access_watch = ta_os_linux_access_watch,
    .split_huge = linux_split_huge,
    .populate = linux_populate,
    .collapse = linux_collapse,
};

const ta_os_ops_t *ta_os_ops = &ta_os_linux_ops;
ta_os_info_t ta_os_info;

void ta_os_set_ops(const ta_os_ops_t *ops) { ta_os_ops = ops ? ops : &ta_os_linux_ops; }

void ta_os_event_wait(const uint32_t *word, uint32_t seen, uint64_t timeout_ns) {
  struct timespec ts = {(time_t)(timeout_ns / 1000000000ull), (long)(timeout_ns % 1000000000ull)};
  syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
}

void ta_os_event_wake(const uint32_t *word) {
  syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

/* membarrier(2) commands, from linux/membarrier.h (not every libc ships the header). */
#define FENCE_CMD_PRIVATE_EXPEDITED (1 << 3)
#define FENCE_CMD_REGISTER_PRIVATE_EXPEDITED (1 << 4)

int ta_os_fence_threads(void) {
#ifdef SYS_membarrier
  /* Registration belongs to the address space: a forked child has a new one, and the command
   * then fails with EPERM until it registers again (registering twice is harmless). */
  for (int attempt = 0; attempt < 2; attempt++) {
    if (syscall(SYS_membarrier, FENCE_CMD_PRIVATE_EXPEDITED, 0, 0) == 0) return 0;
    if (errno != EPERM) return errno;
    if (syscall(SYS_membarrier, FENCE_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0) return errno;
  }
  return EPERM;
#else
  return ENOSYS;
#endif
}

long ta_os_read_file(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t n = 0;
  while (n + 1 < size) {
    ssize_t r = read(fd, buf + n, size - 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = '\0';
  return (long)n;
}

static unsigned long parse_ulong(const char *s) {
  unsigned long v = 0;
  while (*s >= '0' && *s <= '9') v = v * 10 + (unsigned long)(*s++ - '0');
  return v;
}

unsigned ta_os_affinity_cpus(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  int n = CPU_COUNT(&set);
  return n > 0 ? (unsigned)n : 1;
}

size_t ta_os_hugepage_unit(size_t page, size_t pmd, size_t contpte, bool mthp_at_contpte, bool *thp) {
  *thp = false;
  if (pmd && pmd >= page && pmd / page <= TA_OS_HUGEPAGE_UNIT_MAX_PAGES) {
    *thp = true;
    return pmd;
  }
  if (pmd && contpte >= page && contpte / page <= TA_OS_HUGEPAGE_UNIT_MAX_PAGES) {
    /* 16K/64K pages: a 32/512 MiB PMD would make every (node, tier) heap hold that much before
     * a single unit can be reused; the contiguous-PTE block gets one TLB entry per 2 MiB. */
    *thp = mthp_at_contpte;
    return contpte;
  }
  return page * 512;
}

/* Multi-size THP (Linux 6.8+): hugepages-<size>kB/enabled is always, madvise, inherit (the
 * top-level setting) or never. */
static bool mthp_enabled(size_t size, bool top_level_ok) {
  char path[96] = "/sys/kernel/mm/transparent_hugepage/hugepages-";
  char digits[24], buf[128];
  size_t kb = size >> 10, n = 0, len = strlen(path);
  do digits[n++] = (char)('0' + kb % 10); while ((kb /= 10) && n < sizeof(digits));
  while (n) path[len++] = digits[--n];
  memcpy(path + len, "kB/enabled", sizeof("kB/enabled"));
  if (ta_os_read_file(path, buf, sizeof(buf)) <= 0) return false;
  for (char *c = buf; *c; c++)
    if (*c == '[') return c[1] == 'a' || c[1] == 'm' || (c[1] == 'i' && top_level_ok);
  return false;
}

void ta_os_init(void) {
  if (ta_os_info.page_size) return;
  long page = sysconf(_SC_PAGESIZE);
  if (page <= 0 || (page & (page - 1))) ta_log_fatal("cannot read the page size");
  unsigned shift = 0;
  while ((1ul << shift) < (unsigned long)page) shift++;
  char buf[128];
  size_t thp = 0;
  if (ta_os_read_file("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", buf, sizeof(buf)) > 0)
    thp = parse_ulong(buf);
  if (thp && (thp & (thp - 1))) thp = 0;
  bool madvise_ok = false;
  if (ta_os_read_file("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf)) > 0) {
    /* The active setting is bracketed: "always [madvise] never". */
    for (char *c = buf; *c; c++)
      if (*c == '[') { madvise_ok = c[1] == 'a' || c[1] == 'm'; break; }
  }
  ta_os_info.ncpus = ta_os_affinity_cpus();
  ta_os_info.thp_size = thp;
  ta_os_info.thp_madvise_ok = madvise_ok && thp != 0;
  size_t contpte = ta_arch_contpte_size((size_t)page);
  bool thp_unit = false;
  ta_os_info.contpte_size = contpte;
  ta_os_info.hugepage_unit = ta_os_hugepage_unit((size_t)page, thp, contpte,
                                                 contpte && thp && mthp_enabled(contpte, madvise_ok),
                                                 &thp_unit);
  /* The PMD case also needs THP advice to work at all; mthp_enabled already read its own knob. */
  ta_os_info.hugepage_unit_thp =
      thp_unit && (ta_os_info.hugepage_unit == thp ? ta_os_info.thp_madvise_ok : true);
  ta_os_info.page_shift = shift;
  ta_os_info.page_size = (size_t)page;
}

/* glibc 2.35+ registers one rseq area per thread at __rseq_offset from the thread pointer, and
 * exports __rseq_size (0 when it did not register). The kernel keeps cpu_id current on every
 * return to user space; it reads -1 (uninitialised) or -2 (registration failed) otherwise. */
static inline const volatile struct rseq *rseq_area(void) {
  return (const volatile struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

bool ta_os_cpu_from_rseq(void) { return __rseq_size != 0 && (int32_t)rseq_area()->cpu_id >= 0; }

int ta_os_current_cpu(void) {
  if (ta_likely(__rseq_size != 0)) {
    int32_t cpu = (int32_t)rseq_area()->cpu_id;
    if (ta_likely(cpu >= 0)) return cpu;
  }
  int cpu = sched_getcpu();
  return cpu < 0 ? 0 : cpu;
}
