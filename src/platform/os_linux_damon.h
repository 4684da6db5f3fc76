/* os_linux_damon.h: the DAMON access signal's sysfs client (os_linux_damon.c). One kdamond
 * watches one process: exactly the address ranges it is given (DAMON's `fvaddr` operations, one
 * region per range, so a region never spans two of the caller's blocks), or on a kernel
 * without fvaddr the whole virtual address space (`vaddr`, DAMON's own adaptive regions). A
 * snapshot of its regions is read back once a round and answers "was this page's region
 * accessed since the previous snapshot".
 *
 * The sysfs root is a parameter (TA_OS_DAMON_ROOT on a real system) so unit tests drive the
 * same code against a tree of plain files. Nothing here allocates: paths and numbers live in
 * fixed buffers and every file is one open/read/write/close. Not thread-safe: one caller (the
 * background thread) at a time. */
#ifndef TA_OS_LINUX_DAMON_H
#define TA_OS_LINUX_DAMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TA_OS_DAMON_ROOT "/sys/kernel/mm/damon/admin"
/* Regions a snapshot holds; the kdamond is asked for at most TA_OS_DAMON_MAX_NR_REGIONS, and
 * DAMON may briefly exceed its maximum while it splits. Regions past the capacity read as
 * unknown. */
#define TA_OS_DAMON_CAPACITY 2048

typedef struct {
  uint64_t sample_us;  /* how often each region's sampled page has its accessed bit checked */
  uint64_t aggr_us;    /* one snapshot's nr_accesses counts the samples of one such interval */
  uint64_t update_us;  /* how often DAMON re-reads the process's mappings (a heap that grows) */
  uint64_t min_regions, max_regions;
} ta_os_damon_attrs_t;

/* What the library asks for: DAMON's own defaults for sampling and aggregation (5 ms / 100 ms:
 * the kdamond checks at most max_regions pages every 5 ms, whatever the process's size), the
 * mappings re-read every second instead of every minute so fresh heap regions are watched
 * soon, and at most 1000 regions (DAMON's default; each round reads them all back). */
extern const ta_os_damon_attrs_t ta_os_damon_default_attrs;

/* DAMON checks one page per region every sample interval. With fixed ranges (one per tracked
 * block) the sample interval is stretched so the kdamond checks at most this many pages a
 * second: in the TCG guest a check costs ~18 us of a vCPU (120 regions every 5 ms took 44%), so
 * 10000 a second is under a fifth of a vCPU there, and nothing on hardware. */
#define TA_OS_DAMON_CHECKS_PER_S 10000
/* At least this many samples make one aggregation interval (one snapshot's nr_accesses). More
 * would grade finer but lengthen the aggregation, and each round waits for one (the snapshot):
 * 4 x 64 ms keeps it near the benchmark's 500 ms rounds. */
#define TA_OS_DAMON_SAMPLES_PER_AGGR 4

typedef struct {
  uintptr_t start, end; /* [start, end) */
} ta_os_damon_range_t;

typedef struct {
  uintptr_t start, end; /* [start, end) */
  uint32_t nr_accesses; /* samples found accessed in the last aggregation interval */
  uint32_t age;         /* aggregation intervals its access frequency has stayed alike */
} ta_os_damon_region_t;

/* Consecutive failed or empty refreshes after which the previous snapshot is dropped. */
#define TA_OS_DAMON_KEEP_ROUNDS 3

typedef struct {
  char root[256];     /* the admin directory */
  int index;          /* the kdamond we configured, -1 when none */
  bool created;       /* nr_kdamonds was 0 and we made it 1: stopping sets it back to 0 */
  bool fixed;         /* fvaddr: the kdamond watches the ranges of ta_os_damon_watch only */
  unsigned watched;   /* ranges given by the last successful ta_os_damon_watch */
  uint64_t watch_sig; /* their signature: the same set is not written again */
  uint32_t most;      /* the snapshot's largest nr_accesses (at least 1): fixed ranges are graded by it */
  uint64_t aggr_ns;
  uint64_t snap_ns, prev_snap_ns; /* when the last two snapshots were taken (start counts) */
  unsigned misses;    /* refreshes in a row that gave no snapshot */
  unsigned cur;       /* regions[cur][0 .. nregions) is the snapshot in force */
  unsigned nregions;
  unsigned spare_n;   /* what the last read put in regions[!cur] */
  ta_os_damon_region_t regions[2][TA_OS_DAMON_CAPACITY];
} ta_os_damon_t;

/* Sets up and starts a kdamond watching `pid` (fvaddr operations where the kernel has them,
 * else vaddr; one target, one `stat` scheme whose access pattern matches every region). Under
 * fvaddr nothing is watched until ta_os_damon_watch gives the ranges. Only a kdamond nobody else uses is
 * touched: when nr_kdamonds is 0 it is made 1; otherwise an existing kdamond is reused only
 * when it is a leftover of this code (off, vaddr, one target whose pid no longer exists, one
 * stat scheme). Writing nr_kdamonds rebuilds every kdamond directory, wiping the settings of
 * the others (and fails while any runs), so "one more kdamond beside someone else's" cannot be
 * done safely. Returns 0, ENOENT (no DAMON sysfs), EBUSY (DAMON is in use by someone else),
 * EACCES (not root) or the errno of the write that failed (the kdamond is then left off and,
 * when we created it, removed). now_ns starts the first snapshot's window. */
int ta_os_damon_start(ta_os_damon_t *d, const char *root, pid_t pid, const ta_os_damon_attrs_t *attrs,
                      uint64_t now_ns);

/* fvaddr only (else ENOTSUP): makes the kdamond watch exactly ranges[0..n) (sorted by start,
 * page-aligned, and no two touching: DAMON merges touching regions of alike access), one DAMON
 * region each, and commits that to the running kdamond. min_nr_regions is n and
 * max_nr_regions 1.5 n, so DAMON does not split them either; the sample interval is stretched
 * to keep TA_OS_DAMON_CHECKS_PER_S, and the aggregation interval holds at least
 * TA_OS_DAMON_SAMPLES_PER_AGGR samples. The same set as last time is not written again (2n + 6
 * sysfs writes). Ranges beyond TA_OS_DAMON_CAPACITY / 1.5 are left out. Returns 0 or the
 * errno of the write that failed. */
int ta_os_damon_watch(ta_os_damon_t *d, const ta_os_damon_range_t *ranges, unsigned n);

/* Asks the kdamond for a fresh snapshot (update_schemes_tried_regions: the write returns once
 * DAMON has filled it, one to three aggregation intervals later) and reads it. now_ns: when.
 * 6.12 now and then completes an update with no region at all (seen in about one round in
 * seven in the guest, up to three in a row): an empty update is asked again, up to
 * `attempts` times. When no snapshot comes (empty, or an error: its errno, ENODATA for
 * empty), the previous one stays in force for up to TA_OS_DAMON_KEEP_ROUNDS refreshes — a
 * round with no answer would count as an idle round — and is dropped after that. */
int ta_os_damon_refresh(ta_os_damon_t *d, uint64_t now_ns, unsigned attempts);

/* Reads the tried_regions directory as it is into the spare buffer (d->spare_n regions; the
 * snapshot in force is untouched). */
int ta_os_damon_read(ta_os_damon_t *d);

/* How much the region holding addr was accessed, from 0 to TA_OS_ACCESS_FULL (os.h), or -1
 * when no region of the snapshot holds it. nr_accesses covers only the last aggregation
 * interval. Fixed ranges (one sampled page of a block each): graded, nr_accesses over the
 * snapshot's largest, so the policy can rank blocks below the hot ones too. In the tiering
 * benchmark (2-3 M accesses/s) a hot block's page is touched in nearly every 64 ms sample (0.9
 * of the accesses over 64 blocks) and a cold one of average size (0.53 MiB) in 15-25% (0.1 over
 * 576; a small one's pages more often: per page, the rate is the block's accesses per byte,
 * what the oracle ranks by). A bit per region (busy at three quarters of the largest, the
 * previous rule) read every cold block alike and the DRAM the hot set left held whichever cold
 * blocks were there (the `ro` row 4-5% over the oracle once settled). vaddr: full for any
 * nr_accesses, or for a region whose nr_accesses is 0 but whose age is younger than the time
 * between the two snapshots (its access frequency changed within that time, so it was accessed
 * then); else 0. */
int ta_os_damon_accessed(const ta_os_damon_t *d, uintptr_t addr);

/* Turns the kdamond off and, when start created its directory, removes it (nr_kdamonds 0).
 * The kernel also stops a kdamond by itself once its target process has exited. */
void ta_os_damon_stop(ta_os_damon_t *d);

#ifdef __cplusplus
}
#endif

#endif
