/* os_linux_access.c: the Linux access signals behind ta_os_ops (access_open, access_sample,
 * access_rearm; see os.h for what each signal sees).
 *
 * Idle page tracking: /proc/self/pagemap gives a page's frame number (bits 0-54, present bit
 * 63) only to CAP_SYS_ADMIN; /sys/kernel/mm/page_idle/bitmap holds one "idle" bit per frame,
 * set by writing it and cleared by the kernel when any mapping's accessed bit is found set.
 * The bitmap is read and written in aligned 8-byte words, and a written word sets only the
 * bits that are 1 in it. A transparent hugepage's flag lives in its head page, so a sample of
 * any of its pages speaks for the whole hugepage.
 * DAMON (os_linux_damon.c): one kdamond watching this process, where the kernel has fvaddr
 * exactly the ranges access_watch gives (the tracked blocks, one region each); a snapshot of
 * its regions is read at the first sample after each rearm, and a page counts as accessed when
 * its region was. The kdamond is stopped (and its directory removed when we made it) by a destructor at
 * exit; when the process dies without running it, the kernel stops the kdamond by itself and
 * the next process reuses the leftover directory.
 * Soft-dirty: pagemap bit 55 is set by the kernel on every write since the last "4" written
 * to /proc/self/clear_refs; readable without privilege.
 *
 * Everything here is open/pread/pwrite/close: no allocation, safe from the background thread.
 * The descriptors belong to the process that opened them (a pagemap descriptor keeps reading
 * its opener's address space), so a forked child opens its own. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "os.h"
#include "os_linux_access.h"
#include "os_linux_damon.h"

#define PM_PFN_MASK ((1ull << 55) - 1)
#define PM_SOFT_DIRTY (1ull << 55)
#define PM_PRESENT (1ull << 63)

static int kind_in_force = -1; /* -1: not opened yet */
static int want_in_force = -1;
static pid_t opened_by;
static int pagemap_fd = -1, bitmap_fd = -1, clear_refs_fd = -1;
static ta_os_damon_t damon = {.index = -1}; /* static: its two snapshots are 96 KiB, and nothing here allocates */
static ta_os_damon_range_t watch_ranges[TA_OS_DAMON_CAPACITY];
static bool damon_stale;
/* Who talks to the kdamond: 0 nobody, 1 the sampling thread, 2 the exit destructor (for good).
 * Never both: seen on 6.12, removing the kdamond (nr_kdamonds 0) while another thread's
 * update_schemes_tried_regions write waits deadlocks both threads in the kernel (kernfs_drain
 * against a trylock loop on damon_sysfs_lock), and the process never exits. */
static ta_atomic(int) damon_owner;

static void close_all(void) {
  if (pagemap_fd >= 0) close(pagemap_fd);
  if (bitmap_fd >= 0) close(bitmap_fd);
  if (clear_refs_fd >= 0) close(clear_refs_fd);
  pagemap_fd = bitmap_fd = clear_refs_fd = -1;
  /* A forked child forgets its parent's kdamond without touching it: it watches the parent. */
  if (opened_by != getpid()) {
    damon.index = -1;
    ta_atomic_store(&damon_owner, 0, ta_mo_relaxed);
    return;
  }
  int expected = 0;
  if (ta_atomic_cas(&damon_owner, &expected, 1)) {
    ta_os_damon_stop(&damon);
    ta_atomic_store(&damon_owner, 0, ta_mo_release);
  }
}

/* At exit, the kdamond goes with the process that configured it, once no snapshot is being
 * taken (one takes ~0.5 s under TCG). Should the sampling thread hold it for over 3 s, the
 * kdamond is left to the kernel, which stops it when the process is gone; the directory then
 * stays as a leftover the next process reuses. */
__attribute__((destructor)) static void access_exit(void) {
  if (kind_in_force != TA_OS_ACCESS_DAMON || opened_by != getpid()) return;
  for (int i = 0; i < 300; i++) {
    int expected = 0;
    if (ta_atomic_cas(&damon_owner, &expected, 2)) {
      ta_os_damon_stop(&damon);
      return;
    }
    usleep(10000);
  }
}

static bool read_entry(const void *addr, uint64_t *entry) {
  uint64_t index = (uintptr_t)addr / ta_os_info.page_size;
  return pread(pagemap_fd, entry, sizeof(*entry), (off_t)(index * sizeof(*entry))) == (ssize_t)sizeof(*entry);
}

/* A frame number is visible (we have CAP_SYS_ADMIN) and the idle bitmap takes a write. */
static bool idle_works(void) {
  volatile uint64_t probe = 1; /* on this thread's stack: present and just written */
  uint64_t entry;
  if (!read_entry((const void *)&probe, &entry) || !(entry & PM_PRESENT) || !(entry & PM_PFN_MASK)) return false;
  uint64_t pfn = entry & PM_PFN_MASK, word;
  off_t off = (off_t)(pfn / 64 * 8);
  if (pread(bitmap_fd, &word, 8, off) != 8) return false;
  word = 1ull << (pfn % 64);
  return pwrite(bitmap_fd, &word, 8, off) == 8;
}

/* Soft-dirty bits exist (CONFIG_MEM_SOFT_DIRTY): a page written since the last clear shows bit 55. */
static bool softdirty_works(void) {
  volatile uint64_t probe = 0;
  probe = probe + 1;
  uint64_t entry;
  return read_entry((const void *)&probe, &entry) && (entry & PM_PRESENT) && (entry & PM_SOFT_DIRTY);
}

int ta_os_linux_access_open(int want) {
  pid_t pid = getpid();
  if (kind_in_force >= 0 && opened_by == pid && want == want_in_force) return kind_in_force;
  close_all();
  opened_by = pid;
  want_in_force = want;
  kind_in_force = TA_OS_ACCESS_NONE;
  if (want == TA_OS_ACCESS_NONE || !ta_os_info.page_size) return kind_in_force;
  pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (want == TA_OS_ACCESS_AUTO || want == TA_OS_ACCESS_IDLE) {
    bitmap_fd = pagemap_fd < 0 ? -1 : open("/sys/kernel/mm/page_idle/bitmap", O_RDWR | O_CLOEXEC);
    if (bitmap_fd >= 0 && idle_works()) return kind_in_force = TA_OS_ACCESS_IDLE;
    if (bitmap_fd >= 0) close(bitmap_fd);
    bitmap_fd = -1;
    if (want == TA_OS_ACCESS_IDLE) return kind_in_force;
  }
  if (want == TA_OS_ACCESS_AUTO || want == TA_OS_ACCESS_DAMON) {
    if (ta_os_damon_start(&damon, TA_OS_DAMON_ROOT, pid, &ta_os_damon_default_attrs, ta_os_now_ns()) == 0) {
      damon_stale = true;
      return kind_in_force = TA_OS_ACCESS_DAMON;
    }
    if (want == TA_OS_ACCESS_DAMON) return kind_in_force;
  }
  if (pagemap_fd < 0) return kind_in_force;
  clear_refs_fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (clear_refs_fd >= 0 && softdirty_works()) return kind_in_force = TA_OS_ACCESS_SOFTDIRTY;
  close_all();
  return kind_in_force;
}

int ta_os_linux_access_sample(void *const *pages, unsigned n, int8_t *state) {
  if (kind_in_force == TA_OS_ACCESS_NONE || kind_in_force < 0 || opened_by != getpid()) {
    memset(state, -1, n);
    return ENOTSUP;
  }
  if (kind_in_force == TA_OS_ACCESS_DAMON) {
    if (damon_stale) {
      int expected = 0;
      if (!ta_atomic_cas(&damon_owner, &expected, 1)) {
        memset(state, -1, n); /* the process is exiting */
        return ESRCH;
      }
      damon_stale = false;
      int err = ta_os_damon_refresh(&damon, ta_os_now_ns(), 4);
      ta_atomic_store(&damon_owner, 0, ta_mo_release);
      (void)err; /* without a fresh snapshot the previous one answers, for a few rounds */
    }
    for (unsigned i = 0; i < n; i++) state[i] = (int8_t)ta_os_damon_accessed(&damon, (uintptr_t)pages[i]);
    return 0;
  }
  for (unsigned i = 0; i < n; i++) {
    uint64_t entry;
    state[i] = -1;
    if (!read_entry(pages[i], &entry) || !(entry & PM_PRESENT)) continue;
    if (kind_in_force == TA_OS_ACCESS_SOFTDIRTY) {
      state[i] = (entry & PM_SOFT_DIRTY) ? TA_OS_ACCESS_FULL : 0;
      continue;
    }
    uint64_t pfn = entry & PM_PFN_MASK, word;
    if (!pfn) continue;
    off_t off = (off_t)(pfn / 64 * 8);
    if (pread(bitmap_fd, &word, 8, off) != 8) continue;
    state[i] = (word >> (pfn % 64)) & 1 ? 0 : TA_OS_ACCESS_FULL;
    word = 1ull << (pfn % 64);
    if (pwrite(bitmap_fd, &word, 8, off) != 8) state[i] = -1;
  }
  return 0;
}

int ta_os_linux_access_rearm(void) {
  if (kind_in_force == TA_OS_ACCESS_DAMON && opened_by == getpid()) damon_stale = true;
  if (kind_in_force != TA_OS_ACCESS_SOFTDIRTY || opened_by != getpid()) return 0;
  return pwrite(clear_refs_fd, "4", 1, 0) == 1 ? 0 : errno;
}

int ta_os_linux_access_watch(const ta_os_range_t *ranges, unsigned n) {
  if (kind_in_force != TA_OS_ACCESS_DAMON || opened_by != getpid() || !damon.fixed) return 0;
  if (n > TA_OS_DAMON_CAPACITY) n = TA_OS_DAMON_CAPACITY;
  for (unsigned i = 0; i < n; i++) watch_ranges[i] = (ta_os_damon_range_t){ranges[i].start, ranges[i].end};
  int expected = 0;
  if (!ta_atomic_cas(&damon_owner, &expected, 1)) return ESRCH; /* the process is exiting */
  int err = ta_os_damon_watch(&damon, watch_ranges, n);
  ta_atomic_store(&damon_owner, 0, ta_mo_release);
  return err;
}
