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
