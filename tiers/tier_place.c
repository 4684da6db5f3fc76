/* tier_place.c: the single site where fresh heap memory is bound to nodes (mbind). Called once
 * per reserved region, so the number of kernel mappings does not grow with the heap: a node
 * heap's region takes one call; an interleaved region takes one call per run of chunks on the
 * same node, and the mappings those calls add beyond one per region stay, over all interleaved
 * regions together, within TA_INTERLEAVE_MAPPINGS_MAX. */
#include "tiers.h"

#include <errno.h>

#define MPOL_PREFERRED_ 1
#define MPOL_BIND_ 2
#define MPOL_INTERLEAVE_ 3

#define MASK_WORDS (TA_TOPO_MAX_NODE_ID / (8 * sizeof(unsigned long)))
#define WORD_BITS (8 * sizeof(unsigned long))

ta_atomic(uint64_t) ta_tier_interleave_mappings;

static void mask_add(unsigned long *mask, int node) {
  mask[(unsigned)node / WORD_BITS] |= 1ul << ((unsigned)node % WORD_BITS);
}

int ta_tier_place_range(void *addr, size_t size, int os_node, ta_place_mode_t mode) {
  if (mode == TA_PLACE_NONE) return 0;
  if (os_node < 0 || os_node >= TA_TOPO_MAX_NODE_ID) return EINVAL;
  unsigned long mask[MASK_WORDS] = {0};
  mask_add(mask, os_node);
  int policy = mode == TA_PLACE_BIND ? MPOL_BIND_ : MPOL_PREFERRED_;
  /* maxnode counts bits; the kernel reads maxnode - 1 of them. */
  return ta_os_bind(addr, size, policy, mask, TA_TOPO_MAX_NODE_ID + 1, 0);
}

/* Runs a region may be split into: its own mapping plus up to half of the extra mappings left
 * in the budget. */
static size_t runs_allowed(void) {
  uint64_t used = ta_atomic_load(&ta_tier_interleave_mappings, ta_mo_relaxed);
  uint64_t left = used < TA_INTERLEAVE_MAPPINGS_MAX ? TA_INTERLEAVE_MAPPINGS_MAX - used : 0;
  return 1 + (size_t)(left / 2);
}

int ta_tier_place_interleave(ta_interleave_t *p, void *addr, size_t size, size_t chunk) {
  if (p->nnodes == 0 || chunk == 0) return EINVAL;
  for (unsigned i = 0; i < p->nnodes; i++)
    if (p->node[i] < 0 || p->node[i] >= TA_TOPO_MAX_NODE_ID) return EINVAL;
  if (p->equal) {
    /* The kernel interleaves by page offset (by hugepage for a THP fault) over the mask. */
    unsigned long mask[MASK_WORDS] = {0};
    for (unsigned i = 0; i < p->nnodes; i++) mask_add(mask, p->node[i]);
    return ta_os_bind(addr, size, MPOL_INTERLEAVE_, mask, TA_TOPO_MAX_NODE_ID + 1, 0);
  }
  size_t nchunks = size / chunk;
  size_t group = ta_tier_interleave_group(p, p->given, nchunks, runs_allowed());
  size_t runs = ta_tier_interleave_runs(p, p->given, nchunks, group);
  ta_atomic_fetch_add(&ta_tier_interleave_mappings, runs - 1, ta_mo_relaxed);
  /* One mbind per run of steps that go to the same node (the kernel would merge neighbours with
   * one policy back into one mapping anyway; this makes fewer calls). */
  int first_error = 0;
  size_t run_start = 0;
  unsigned run_slot = TA_INTERLEAVE_MAX_NODES; /* none yet */
  for (size_t done = 0; done <= nchunks;) {
    size_t step = nchunks - done < group ? nchunks - done : group;
    unsigned slot = step ? ta_tier_interleave_pick(p, p->given, step) : TA_INTERLEAVE_MAX_NODES;
    if (slot != run_slot) {
      if (run_slot < TA_INTERLEAVE_MAX_NODES) {
        int err = ta_tier_place_range((char *)addr + run_start * chunk, (done - run_start) * chunk,
                                      p->node[run_slot], p->mode);
        if (err && !first_error) first_error = err;
      }
      run_start = done;
      run_slot = slot;
    }
    if (!step) break;
    p->given[slot] += step;
    done += step;
  }
  return first_error;
}
