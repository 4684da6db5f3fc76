/* os.h: every operating-system primitive the allocator uses, behind one ops table.
 *
 * The allocator calls the ta_os_* functions; they go through `ta_os_ops`, which points at the
 * Linux implementation (os_linux.c) unless a test installs its own (an in-memory fake with
 * injected failures and a fake clock). Each primitive returns 0 or an errno value, never -1.
 * None of them allocates. */
#ifndef TA_OS_H
#define TA_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

TA_EXTERN_C_BEGIN

typedef struct ta_os_ops {
  /* Reserve and commit-on-touch `size` bytes of read-write anonymous memory aligned to `align`
   * (a power of two, at least the page size). pre: size is a multiple of the page size.
   * post: *out is aligned, untouched pages read as zero. Errors: ENOMEM. */
  int (*map)(void **out, size_t size, size_t align);
  /* Give back a range from map (or part of one). */
  int (*unmap)(void *addr, size_t size);
  /* Drop the contents of a range (MADV_DONTNEED): RSS falls at once, the range reads as zero and
   * keeps its memory policy, so a refault lands on the same node. */
  int (*purge)(void *addr, size_t size);
  /* MADV_HUGEPAGE (on) or MADV_NOHUGEPAGE (off). Splits the mapping at the range's edges. */
  int (*advise_huge)(void *addr, size_t size, bool on);
  /* mbind(2): mode is an MPOL_* value, nodemask a bit set of maxnode bits. */
  int (*bind)(void *addr, size_t size, int mode, const unsigned long *nodemask,
              unsigned long maxnode, unsigned flags);
  /* move_pages(2) for the calling process; nodes NULL queries. status[i] gets a node or -errno. */
  int (*move_pages)(unsigned long count, void **pages, const int *nodes, int *status, int flags);
  /* Monotonic clock in nanoseconds. */
  uint64_t (*now_ns)(void);
  /* get_mempolicy(2) for the calling thread: *mode gets MPOL_DEFAULT (0) unless the process
   * was started under a policy (numactl --membind/--preferred/--interleave, set_mempolicy). */
  int (*task_policy)(int *mode);
} ta_os_ops_t;

extern const ta_os_ops_t ta_os_linux_ops;
extern const ta_os_ops_t *ta_os_ops;

/* Install an ops table (tests); NULL restores Linux. Not thread-safe: call before allocating. */
void ta_os_set_ops(const ta_os_ops_t *ops);

TA_INLINE int ta_os_map(void **out, size_t size, size_t align) { return ta_os_ops->map(out, size, align); }
TA_INLINE int ta_os_unmap(void *addr, size_t size) { return ta_os_ops->unmap(addr, size); }
TA_INLINE int ta_os_purge(void *addr, size_t size) { return ta_os_ops->purge(addr, size); }
TA_INLINE int ta_os_advise_huge(void *addr, size_t size, bool on) {
  return ta_os_ops->advise_huge(addr, size, on);
}
TA_INLINE int ta_os_bind(void *addr, size_t size, int mode, const unsigned long *nodemask,
                         unsigned long maxnode, unsigned flags) {
  return ta_os_ops->bind(addr, size, mode, nodemask, maxnode, flags);
}
TA_INLINE int ta_os_move_pages(unsigned long count, void **pages, const int *nodes, int *status,
                               int flags) {
  return ta_os_ops->move_pages(count, pages, nodes, status, flags);
}
TA_INLINE uint64_t ta_os_now_ns(void) { return ta_os_ops->now_ns(); }
TA_INLINE int ta_os_task_policy(int *mode) { return ta_os_ops->task_policy(mode); }

/* Machine facts read once at start-up (ta_os_init) and constant afterwards. */
typedef struct {
  size_t page_size;      /* the kernel's base page: 4 KiB, 16 KiB or 64 KiB */
  unsigned page_shift;
  size_t thp_size;       /* the PMD hugepage size from sysfs, 0 when THP is unavailable */
  bool thp_madvise_ok;   /* THP is "always" or "madvise": MADV_HUGEPAGE gets hugepages */
  unsigned ncpus;        /* CPUs this process may run on */
} ta_os_info_t;

extern ta_os_info_t ta_os_info;

/* Reads page size, THP size and CPU count without allocating. Idempotent. */
void ta_os_init(void);

/* Reads a small text file (sysfs, procfs) into buf without allocating; returns bytes read or -1.
 * The result is NUL-terminated. */
long ta_os_read_file(const char *path, char *buf, size_t size);

/* The current CPU (rseq through glibc's sched_getcpu, no syscall where rseq is registered). */
int ta_os_current_cpu(void);

/* Number of CPUs in the process's affinity mask. */
unsigned ta_os_affinity_cpus(void);

TA_EXTERN_C_END

#endif
