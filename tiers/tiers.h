/* tiers.h: layer L3, the umbrella header. Where memory goes: a placement is {node mask, mode,
 * strictness}, applied once to each fresh region before first touch. This file grows into the
 * tier-placement layer (policies, hotness, migration); today it holds the one place that binds
 * fresh heap memory to its node. */
#ifndef TA_TIERS_H
#define TA_TIERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* ---- policy (tier_policy.c, pure) ---- */

typedef enum { TA_TIER_LOCAL = 0, TA_TIER_THRESHOLD = 1, TA_TIER_RATIO = 2 } ta_tier_policy_kind_t;

typedef struct {
  ta_tier_policy_kind_t kind;
  size_t threshold_bytes;  /* THRESHOLD: blocks of at least this size go far */
  unsigned ratio_pct;      /* RATIO: share of live large bytes to keep far */
} ta_tier_policy_t;

/* Whether a large block of `size` goes to the far tier, given the live large bytes now on the
 * far and local tiers. */
bool ta_tier_policy_far(const ta_tier_policy_t *p, size_t size, uint64_t far_bytes, uint64_t local_bytes);

/* Reads memkind's MEMKIND_MEM_TIERS spelling ("KMEM_DAX:1,DRAM:4,POLICY:STATIC_RATIO").
 * Returns 0, or -1 with *why saying what is wrong. */
int ta_tier_policy_from_memkind(const char *text, ta_tier_policy_t *out, const char **why);

/* Where the pages of [addr, addr + len) are, from move_pages (ground truth). Nodes above 63
 * are counted in per_node[63]. Returns 0 or the errno of move_pages (ENOSYS under emulators). */
typedef struct {
  size_t pages;          /* pages the range touches */
  size_t absent;         /* not faulted in yet (or not movable) */
  size_t per_node[64];
  int majority_node;     /* the node holding most of them, -1 when none is present */
  size_t on_majority;
} ta_tier_census_t;
int ta_tier_census(const void *addr, size_t len, ta_tier_census_t *out);

/* Moves the pages of [addr, addr + len) to `node`, in batches, at most mb_s MB/s (0: no
 * limit). Returns 0 when every present page moved, else the first error (ENOMEM: the node is
 * full; EBUSY; ENOSYS...) with the counts in *out: nothing is lost either way, pages that could
 * not move stay where they were. */
typedef struct {
  size_t pages, moved, absent, failed;
  int first_error;
} ta_tier_move_result_t;
int ta_tier_move(void *addr, size_t len, int node, uint64_t mb_s, ta_tier_move_result_t *out);

/* MemFree of a node from sysfs; UINT64_MAX when unknown. For strict placement checks. */
uint64_t ta_tier_node_free_bytes(int node);

/* Cumulative counters for the statistics. */
extern ta_atomic(uint64_t) ta_tier_moved_bytes;
extern ta_atomic(uint64_t) ta_tier_move_failures;

TA_EXTERN_C_END

#endif
