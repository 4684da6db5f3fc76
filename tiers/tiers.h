/* tiers.h: layer L3, the umbrella header. Where memory goes: a placement is {node mask, mode,
 * strictness}, applied once to each fresh region before first touch. This file grows into the
 * tier-placement layer (policies, hotness, migration); today it holds the one place that binds
 * fresh heap memory to its node. */
#ifndef TA_TIERS_H
#define TA_TIERS_H

#include <stddef.h>

#include "topology.h"

TA_EXTERN_C_BEGIN

typedef enum {
  TA_PLACE_NONE = 0,    /* no policy: first touch decides */
  TA_PLACE_PREFERRED,   /* MPOL_PREFERRED: this node, else wherever the kernel finds room */
  TA_PLACE_BIND,        /* MPOL_BIND: this node or nothing */
} ta_place_mode_t;

/* Binds [addr, addr + size) to kernel node os_node with `mode`, before any page is touched.
 * Returns 0 or the errno of mbind (ENOSYS under emulators and seccomp, EPERM, EINVAL): the
 * caller counts a failure and uses the memory unbound. NONE binds nothing and returns 0. */
int ta_tier_place_range(void *addr, size_t size, int os_node, ta_place_mode_t mode);

TA_EXTERN_C_END

#endif
