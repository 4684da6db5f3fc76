/* meta.h: the metadata allocator. Extents, hugepage records, regions, thread caches and pagemap
 * leaves live here, apart from user data and never in memory that malloc hands out. */
#ifndef TA_META_H
#define TA_META_H

#include <stddef.h>

#include "platform.h"

TA_EXTERN_C_BEGIN

/* Zeroed, 64-byte aligned. NULL when the OS has no memory. Thread-safe. */
void *ta_meta_alloc(size_t size);
/* pre: size is what was passed to ta_meta_alloc for p. */
void ta_meta_free(void *p, size_t size);
/* Bytes obtained from the OS for metadata. */
size_t ta_meta_mapped(void);

void ta_meta_prefork(void);
void ta_meta_postfork_parent(void);
void ta_meta_postfork_child(void);

TA_EXTERN_C_END

#endif
