/* api.h: layer L7, the umbrella header: the malloc family under its internal names (the libc
 * names are aliases of these, see malloc.c), for tests and for the tieralloc_* entry points. */
#ifndef TA_API_H
#define TA_API_H

#include <stddef.h>

#include "init.h"
#include "tieralloc.h"

TA_EXTERN_C_BEGIN

void *ta_malloc(size_t size);
void ta_free(void *p);
void *ta_calloc(size_t n, size_t size);
void *ta_realloc(void *p, size_t size);
void *ta_reallocarray(void *p, size_t n, size_t size);
int ta_posix_memalign(void **out, size_t align, size_t size);
void *ta_memalign(size_t align, size_t size);
void *ta_valloc(size_t size);
void *ta_pvalloc(size_t size);
size_t ta_malloc_usable_size(void *p);
void ta_free_sized(void *p, size_t size);
void ta_free_aligned_sized(void *p, size_t align, size_t size);

/* The bodies of tieralloc_purge and tieralloc_heap_info (tieralloc.c), for glibc_ext.c. */
size_t ta_purge_all(void);
int ta_heap_info(tieralloc_heap_info_t *info);

TA_EXTERN_C_END

#endif
