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

/* A snapshot of the heap's size, in bytes. */
typedef struct tieralloc_heap_info {
  size_t version;   /* TIERALLOC_HEAP_INFO_VERSION of the library that filled it */
  size_t mapped;    /* address space reserved for the heap */
  size_t active;    /* in pages handed to slabs and large allocations */
  size_t dirty;     /* free but still resident, waiting for decay */
  size_t purged;    /* returned to the kernel since start-up, total */
  size_t metadata;  /* allocator metadata obtained from the kernel */
  size_t hugepage_units_broken; /* hugepages split on purpose to return memory */
} tieralloc_heap_info_t;

#define TIERALLOC_HEAP_INFO_VERSION 1

/* Fills *info; returns 0, or EINVAL when info is NULL. */
int tieralloc_heap_info(tieralloc_heap_info_t *info);

#ifdef __cplusplus
}
#endif

#endif
