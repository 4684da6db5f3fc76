/* os.h: every operating-system primitive the allocator uses, behind one ops table.
 *
 * The allocator calls the ta_os_* functions; they go through `ta_os_ops`, which points at the
 * Linux implementation (os_linux.c) unless a test installs its own (an in-memory fake with
 * injected failures and a fake clock). Each primitive returns 0 or an errno value, never -1.
 * None of them allocates. */
#ifndef TA_OS_H
#define TA_OS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

TA_EXTERN_C_BEGIN

/* An address range [start, end). */
typedef struct {
  uintptr_t start, end;
} ta_os_range_t;

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
  /* Access sampling, the hotness policy's signal (see ta_os_access_kind_t). None of the three
   * allocates; each is a few read/pwrite syscalls on files opened once.
   * access_open: picks the signal, `want` a ta_os_access_kind_t (AUTO tries IDLE, then DAMON,
   * then SOFTDIRTY, then gives NONE); opens the files again in a forked child (which does not
   * get DAMON: its parent's kdamond holds it). Returns the kind in force. */
  int (*access_open)(int want);
  /* For pages[0..n): state[i] = how much the page was accessed since it was last re-armed,
   * from 0 (not) to TA_OS_ACCESS_FULL (IDLE and SOFTDIRTY: accessed at all; DAMON: graded by
   * its nr_accesses), -1 when unknown (not present, no frame number visible, outside DAMON's regions);
   * then re-arms each page (IDLE: marks it idle again). DAMON: the first call after a rearm
   * reads a fresh snapshot of the kdamond's regions (blocks for two to three of its 100 ms
   * aggregation intervals), later calls answer from it. */
  int (*access_sample)(void *const *pages, unsigned n, int8_t *state);
  /* Ends a sampling round: SOFTDIRTY clears the soft-dirty bit of every page of the process
   * (it cannot do less); DAMON marks its snapshot stale; IDLE and NONE do nothing. */
  int (*access_rearm)(void);
  /* Splits the transparent hugepages that [addr, addr + size) covers only in part into base
   * pages (MADV_COLD, which does so for a partly covered THP mapped once, and also deactivates
   * the range's pages), so that a following move_pages moves this range's pages only: it moves
   * a THP whole, neighbours included (checked in the guest: 128 pages asked, 512 moved). Kernels
   * before 5.4 refuse MADV_COLD (EINVAL): nothing is split. */
  int (*split_huge)(void *addr, size_t size);
  /* Faults [addr, addr + size) in now, writable, as first writes would, without changing a
   * byte (MADV_POPULATE_WRITE, Linux 5.14+): in an MADV_HUGEPAGE range it allocates the
   * hugepages, with whatever that costs (zeroing; with THP defrag at madvise, synchronous
   * compaction; in a guest with free page reporting, the hypervisor backing memory it had taken
   * back), on the calling thread instead of the thread that would touch the range first.
   * pre: the range is mapped read-write. Errors: EINVAL (older kernels), ENOMEM. */
  int (*populate)(void *addr, size_t size);
  /* The address ranges the caller samples (sorted by start, disjoint, page-aligned): a signal
   * that can watch only given ranges (DAMON with fvaddr) watches exactly these from now on,
   * one region each; the others ignore them. Cheap when the set is unchanged. */
  int (*access_watch)(const ta_os_range_t *ranges, unsigned n);
  /* Makes the hugepage-aligned range [addr, addr + size), already faulted in as base pages in
   * part, transparent hugepages now, every byte kept (MADV_COLLAPSE, Linux 6.1+: it copies the
   * resident pages into a new hugepage on the calling thread, about 0.2 ms per 2 MiB). Errors:
   * EINVAL (older kernels, a range with nothing resident, a MADV_NOHUGEPAGE range), EAGAIN,
   * ENOMEM (no hugepage free). */
  int (*collapse)(void *addr, size_t size);
} ta_os_ops_t;

/* Access signals (AUTO tries IDLE, DAMON, SOFTDIRTY, NONE). IDLE: idle page tracking
 * (/proc/self/pagemap frame numbers and /sys/kernel/mm/page_idle/bitmap; needs CAP_SYS_ADMIN
 * and CONFIG_IDLE_PAGE_TRACKING; sees reads and writes; a transparent hugepage answers as a
 * whole). DAMON: one kdamond of /sys/kernel/mm/damon/admin watching this process (needs root,
 * CONFIG_DAMON_VADDR and CONFIG_DAMON_SYSFS, and no other DAMON sysfs user; sees reads and
 * writes, per DAMON region: os_linux_damon.h). SOFTDIRTY: pagemap bit 55
 * after "4" to /proc/self/clear_refs (unprivileged; sees writes only, and each clear makes the
 * next write to every page of the process take a minor fault). NONE: allocation age and hints
 * only. */
/* The values are conf access_signal's choice numbers and stats.access_signal's. */
typedef enum {
  TA_OS_ACCESS_AUTO = 0,
  TA_OS_ACCESS_IDLE = 1,
  TA_OS_ACCESS_SOFTDIRTY = 2,
  TA_OS_ACCESS_NONE = 3,
  TA_OS_ACCESS_DAMON = 4
} ta_os_access_kind_t;

/* access_sample's "accessed" (the top of its grades). */
#define TA_OS_ACCESS_FULL 64

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
/* Ops tables without the access ops (test fakes) give NONE. */
TA_INLINE int ta_os_access_open(int want) {
  return ta_os_ops->access_open ? ta_os_ops->access_open(want) : TA_OS_ACCESS_NONE;
}
TA_INLINE int ta_os_access_sample(void *const *pages, unsigned n, int8_t *state) {
  return ta_os_ops->access_sample ? ta_os_ops->access_sample(pages, n, state) : ENOTSUP;
}
TA_INLINE int ta_os_access_rearm(void) { return ta_os_ops->access_rearm ? ta_os_ops->access_rearm() : 0; }
TA_INLINE int ta_os_access_watch(const ta_os_range_t *ranges, unsigned n) {
  return ta_os_ops->access_watch ? ta_os_ops->access_watch(ranges, n) : 0;
}
TA_INLINE int ta_os_split_huge(void *addr, size_t size) {
  return ta_os_ops->split_huge ? ta_os_ops->split_huge(addr, size) : 0;
}

/* Ops tables without it (test fakes, kernels before 5.14) give ENOTSUP. */
TA_INLINE int ta_os_populate(void *addr, size_t size) {
  return ta_os_ops->populate ? ta_os_ops->populate(addr, size) : ENOTSUP;
}
TA_INLINE int ta_os_collapse(void *addr, size_t size) {
  return ta_os_ops->collapse ? ta_os_ops->collapse(addr, size) : ENOTSUP;
}

/* A wake-up word (futex): ta_os_event_wait sleeps while *word == seen, at most timeout_ns
 * (or until a signal or a spurious wake-up); ta_os_event_wake wakes every thread sleeping on
 * it. The waker changes the word first. Neither allocates; not part of the ops table, since
 * nothing in a test needs a fake of sleeping. */
void ta_os_event_wait(const uint32_t *word, uint32_t seen, uint64_t timeout_ns);
void ta_os_event_wake(const uint32_t *word);

/* A memory barrier on every thread of this process that is running now (membarrier(2),
 * MEMBARRIER_CMD_PRIVATE_EXPEDITED, Linux 4.14+; registered on first use): when it returns,
 * every store another thread made before its barrier is visible to the caller, and every store
 * the caller made before the call is visible to the other threads' later loads. Lets a thread
 * read another thread's private state with no fence on that thread's side (the thread cache's
 * reclaim of idle threads, tcache.c). Errors: ENOSYS (no membarrier, as under seccomp or some
 * emulators), EINVAL/EPERM (command not supported). Not part of the ops table: a fake cannot
 * stand in for a barrier. */
int ta_os_fence_threads(void);

/* Machine facts read once at start-up (ta_os_init) and constant afterwards. */
typedef struct {
  size_t page_size;      /* the kernel's base page: 4 KiB, 16 KiB or 64 KiB */
  unsigned page_shift;
  size_t thp_size;       /* the PMD hugepage size from sysfs, 0 when THP is unavailable */
  bool thp_madvise_ok;   /* THP is "always" or "madvise": MADV_HUGEPAGE gets hugepages */
  unsigned ncpus;        /* CPUs this process may run on */
  /* The hugepage unit the page allocator should manage (ta_os_hugepage_unit): the PMD size
   * where it is at most TA_OS_HUGEPAGE_UNIT_MAX_PAGES base pages; else, on arm64, the
   * contiguous-PTE block (2 MiB with 16K/64K pages, whose 32/512 MiB PMD is too coarse); else
   * 512 base pages. hugepage_unit_thp: MADV_HUGEPAGE on a unit-aligned range gets it mapped
   * huge (PMD THP, or the multi-size THP of that size enabled in sysfs). */
  size_t hugepage_unit;
  bool hugepage_unit_thp;
  size_t contpte_size;   /* arm64 contiguous-PTE block for this page size; 0 on x86-64 */
} ta_os_info_t;

/* Most base pages in a hugepage unit (the page allocator's bitmaps are sized by it). */
#define TA_OS_HUGEPAGE_UNIT_MAX_PAGES 2048

/* The rule behind ta_os_info.hugepage_unit, pure for tests: page and PMD size (0: no THP),
 * contiguous-PTE size (0: none), and whether the kernel enables multi-size THP at the
 * contiguous-PTE size. Sets *thp when advice gets the unit mapped huge, given THP advice works
 * at all (thp_madvise_ok), which the caller ANDs in for the PMD case. */
size_t ta_os_hugepage_unit(size_t page, size_t pmd, size_t contpte, bool mthp_at_contpte, bool *thp);

extern ta_os_info_t ta_os_info;

/* Reads page size, THP size and CPU count without allocating. Idempotent. */
void ta_os_init(void);

/* Reads a small text file (sysfs, procfs) into buf without allocating; returns bytes read or -1.
 * The result is NUL-terminated. */
long ta_os_read_file(const char *path, char *buf, size_t size);

/* The current CPU: read from the rseq area glibc registered for this thread (no syscall, no
 * call); where glibc did not register one (glibc.pthread.rseq=0, kernels before 4.18, qemu-user),
 * sched_getcpu. */
int ta_os_current_cpu(void);

/* Whether ta_os_current_cpu reads rseq in this process (glibc registered an area). */
bool ta_os_cpu_from_rseq(void);

/* Number of CPUs in the process's affinity mask. */
unsigned ta_os_affinity_cpus(void);

TA_EXTERN_C_END

#endif
