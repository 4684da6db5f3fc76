/* init.h: start-up, fork handling and the bootstrap allocator for calls that arrive while the
 * allocator is still starting. */
#ifndef TA_INIT_H
#define TA_INIT_H

#include <stdbool.h>
#include <stddef.h>

#include "background.h"

TA_EXTERN_C_BEGIN

/* True once the allocator is ready. False only for a call made by the thread that is running
 * start-up itself (a recursive malloc from a library start-up calls): serve it from the
 * bootstrap allocator. Other threads wait for start-up to finish. */
bool ta_init_ensure(void);

/* The tier policy for plain large allocations, set at start-up (TIERALLOC_CONF tier_policy,
 * else MEMKIND_MEM_TIERS, else local). */
extern ta_tier_policy_t ta_large_policy;

/* A tiny static allocator for recursive start-up calls. Its blocks are never reused. */
void *ta_boot_alloc(size_t size, size_t align);
bool ta_boot_owns(const void *p);
size_t ta_boot_usable(const void *p);

TA_EXTERN_C_END

#endif
