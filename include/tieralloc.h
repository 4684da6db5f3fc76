/* tieralloc.h: the public interface of tieralloc beyond the standard malloc family.
 *
 * The standard functions (malloc, free, calloc, realloc, reallocarray, posix_memalign,
 * aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size, free_sized, free_aligned_sized)
 * are exported under their libc names by libtieralloc.so and libtieralloc.a; this header adds
 * what only tieralloc has. It compiles as C and C++. */
#ifndef TIERALLOC_H
#define TIERALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TIERALLOC_VERSION_MAJOR 0
#define TIERALLOC_VERSION_MINOR 1
#define TIERALLOC_VERSION_PATCH 0

/* "MAJOR.MINOR.PATCH" of the library actually loaded. */
const char *tieralloc_version(void);

/* Returns free memory to the kernel now, without waiting for dirty_decay_ms: flushes the
 * calling thread's cache, releases idle slabs and purges every free page (breaking hugepages
 * that are partly used if need be). Returns the number of bytes purged. */
size_t tieralloc_purge(void);

/* A snapshot of the heap's size, in bytes: the versioned struct for programs that poll.
 * Fields are only ever added at the end, with a new version number. */
typedef struct tieralloc_heap_info {
  size_t version;   /* TIERALLOC_HEAP_INFO_VERSION of the library that filled it */
  size_t mapped;    /* address space reserved for the heap */
  size_t active;    /* in pages handed to slabs and large allocations */
  size_t dirty;     /* free but still resident, waiting for decay */
  size_t purged;    /* returned to the kernel since start-up, total */
  size_t metadata;  /* allocator metadata obtained from the kernel */
  size_t hugepage_units_broken; /* hugepages split on purpose to return memory */
  /* version 2 */
  size_t allocated; /* live bytes handed to the program (objects in thread caches included) */
  size_t resident;  /* active + dirty + metadata: what the heap may hold in RAM */
} tieralloc_heap_info_t;

#define TIERALLOC_HEAP_INFO_VERSION 2

/* Fills *info; returns 0, or EINVAL when info is NULL. */
int tieralloc_heap_info(tieralloc_heap_info_t *info);

/* ---- Tier placement (docs/tier-api.md) -------------------------------------------------
 * Tiers are ranked from the calling thread's CPU: 0 is its own node's DRAM, then the next
 * nearest/fastest memory (remote DRAM, CXL, PMEM), as tieralloc-topology shows. Every block
 * returned here is released with free() (or any other free-family call). */

#define TIERALLOC_ZERO 0x1u    /* zero the block */
#define TIERALLOC_STRICT 0x2u  /* fail (NULL, ENOMEM) rather than fall back to another tier or
                                  node, also when the node has too little free memory now */
#define TIERALLOC_HOT 0x4u     /* hint: hot data, place on tier 0 */
#define TIERALLOC_COLD 0x8u    /* hint: cold data, place on the farthest tier */

/* On tier `tier`; a tier this CPU does not have falls back to the nearest one that exists
 * (counted in stats.placement_fallbacks) unless TIERALLOC_STRICT. NULL with errno ENOMEM. */
void *tieralloc_malloc_tier(size_t size, unsigned tier, unsigned flags);
void *tieralloc_aligned_tier(size_t align, size_t size, unsigned tier, unsigned flags);
/* By hint alone: TIERALLOC_HOT or TIERALLOC_COLD (plus ZERO/STRICT). */
void *tieralloc_malloc_hint(size_t size, unsigned flags);
/* On kernel node `node`. NULL with EINVAL when the node does not exist or the process may not
 * use it, ENOMEM when memory is short (STRICT: too little free on that node). */
void *tieralloc_malloc_node(size_t size, int node, unsigned flags);
void *tieralloc_aligned_node(size_t align, size_t size, int node, unsigned flags);

/* Later plain mallocs of the calling thread come from `tier` (-1 or 0: its own node again),
 * like set_mempolicy but by tier. Returns the previous setting, or -EINVAL for a tier this CPU
 * does not have. */
int tieralloc_thread_tier(int tier);

/* Where a block's pages really are, from the kernel (move_pages), not the allocator's belief. */
typedef struct tieralloc_location {
  int node;              /* node holding most of its pages; -1 when none is resident yet */
  int tier;              /* that node's tier from the calling thread's CPU; -1 if unranked */
  int home_node;         /* the node heap the block belongs to */
  int all_on_node;       /* every page is resident on `node` */
  size_t pages;          /* pages the block touches */
  size_t pages_on_node;
  size_t pages_absent;   /* never touched (or not resident) */
} tieralloc_location_t;
/* p must be a block's start. 0, or EINVAL (not a block), ENOSYS (no NUMA support here). */
int tieralloc_where(const void *p, tieralloc_location_t *out);

/* Moves a block (len 0: the whole block p starts) or any byte range (len > 0, whole pages
 * move) to tier `tier`, in batches paced by migrate_mb_s. Returns 0 when every resident page
 * moved; otherwise the first error (ENOMEM: the tier is full; EBUSY; ENOSYS) with the counts
 * in *res. Contents are preserved whatever happens; pages that could not move stay put. */
typedef struct tieralloc_migrate_result {
  int node;              /* target node */
  size_t pages, moved, absent, failed;
} tieralloc_migrate_result_t;
int tieralloc_migrate(void *p, size_t len, unsigned tier, tieralloc_migrate_result_t *res);

/* The name tree of statistics and settings (names in docs/stats.md), with jemalloc's mallctl
 * semantics: reads copy the value into *oldp, whose size *oldlenp must match (EINVAL
 * otherwise); writes take newp/newlen (EPERM on read-only names); ENOENT for unknown names.
 * Statistics come from a snapshot refreshed by writing any uint64_t to "epoch". */
int tieralloc_ctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

#define TIERALLOC_STATS_JSON 1u

/* Writes every statistic through write_cb (on stderr when NULL): a human table, or one JSON
 * document with TIERALLOC_STATS_JSON (the format of the stats_live file, docs/stats.md). */
void tieralloc_stats_print(void (*write_cb)(void *opaque, const char *text), void *opaque,
                           unsigned flags);

#ifdef __cplusplus
}
#endif

#endif
