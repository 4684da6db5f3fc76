/* large.h: allocations above the largest size class, each its own page-granular extent from
 * the hugepage allocator. Usable size is the request rounded up to the page, no more. */
#ifndef TA_LARGE_H
#define TA_LARGE_H

#include <stdbool.h>
#include <stddef.h>

#include "extent.h"
#include "hpa.h"

TA_EXTERN_C_BEGIN

/* pre: align is a power of two. NULL when out of memory (errno not set here). */
void *ta_large_alloc(ta_hpa_t *hpa, size_t size, size_t align, bool zero, unsigned node);
void ta_large_free(ta_hpa_t *hpa, ta_extent_t *ext);
/* Shrinks, or grows into free pages right after it; true when ext now holds `size` bytes. */
bool ta_large_resize_in_place(ta_hpa_t *hpa, ta_extent_t *ext, size_t size);

TA_EXTERN_C_END

#endif
