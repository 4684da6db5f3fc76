/* tier_place.c: the single site where fresh heap memory is bound to a node (mbind). Called once
 * per reserved region, so the number of kernel mappings does not grow with the heap. */
#include "tiers.h"

#include <errno.h>

#define MPOL_PREFERRED_ 1
#define MPOL_BIND_ 2

int ta_tier_place_range(void *addr, size_t size, int os_node, ta_place_mode_t mode) {
  if (mode == TA_PLACE_NONE) return 0;
  if (os_node < 0 || os_node >= TA_TOPO_MAX_NODE_ID) return EINVAL;
  unsigned long mask[TA_TOPO_MAX_NODE_ID / (8 * sizeof(unsigned long))] = {0};
  mask[(unsigned)os_node / (8 * sizeof(unsigned long))] |= 1ul << ((unsigned)os_node % (8 * sizeof(unsigned long)));
  int policy = mode == TA_PLACE_BIND ? MPOL_BIND_ : MPOL_PREFERRED_;
  /* maxnode counts bits; the kernel reads maxnode - 1 of them. */
  return ta_os_bind(addr, size, policy, mask, TA_TOPO_MAX_NODE_ID + 1, 0);
}
