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

/* The values are the choice indexes of conf.def's tier_policy. HOTNESS: large blocks start
 * local; the background migrate_step demotes cold ones and promotes them back when they warm up
 * (tier_hotness.c), so the far-tier decision at allocation is "no" unless the block was hinted
 * cold. */
typedef enum {
  TA_TIER_LOCAL = 0,
  TA_TIER_THRESHOLD = 1,
  TA_TIER_RATIO = 2,
  TA_TIER_HOTNESS = 3,
  TA_TIER_INTERLEAVE = 4,
} ta_tier_policy_kind_t;

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

/* ---- interleave (plan: tier_policy.c, pure; binding: tier_place.c) ----
 *
 * Large blocks spread over several nodes in proportion to integer weights (from HMAT bandwidth
 * where every node's is known, else equal). The kernel's MPOL_INTERLEAVE is unweighted (and
 * MPOL_WEIGHTED_INTERLEAVE only exists from Linux 6.9), so a weighted plan binds successive
 * hugepage-sized chunks of each fresh region to nodes itself, always to the node furthest behind
 * its share; an equal-weight plan is one MPOL_INTERLEAVE call per region. */

#define TA_INTERLEAVE_MAX_NODES 16
#define TA_INTERLEAVE_SCALE 1024   /* weight of the fastest node when weights are scaled */

typedef struct {
  unsigned nnodes;
  int node[TA_INTERLEAVE_MAX_NODES];        /* kernel node numbers */
  unsigned weight[TA_INTERLEAVE_MAX_NODES]; /* reduced: their gcd is 1 */
  uint64_t period;                          /* sum of the weights */
  bool equal;                               /* all weights equal: MPOL_INTERLEAVE does it */
  ta_place_mode_t mode;                     /* PREFERRED or BIND, for each chunk */
  /* Chunks bound to each node so far, so shares hold across regions whatever their step size;
   * written by ta_tier_place_interleave under the caller's lock. */
  uint64_t given[TA_INTERLEAVE_MAX_NODES];
} ta_interleave_t;

/* Builds a plan over nodes[0..n) with the bandwidths bw[0..n) (MB/s; any 0 means unknown, and
 * then every weight is 1). Weights are the bandwidths reduced by their gcd when that leaves them
 * small, else scaled so the fastest node weighs TA_INTERLEAVE_SCALE (each at least 1): every
 * node's share is within 1/64 of its bandwidth share. Returns 0, or EINVAL when n is 0 or above
 * TA_INTERLEAVE_MAX_NODES. */
int ta_tier_interleave_plan(ta_interleave_t *p, const int *nodes, const uint32_t *bw, unsigned n,
                            ta_place_mode_t mode);
/* The node[] index the next step of `group` chunks goes to, given the chunks each node has had:
 * the one whose share, after the step, is furthest below its weight (the lowest index on a tie).
 * With group 1 this spreads each node's chunks evenly: any stretch is close to the weights. */
unsigned ta_tier_interleave_pick(const ta_interleave_t *p, const uint64_t *given, uint64_t group);
/* How many mbind calls (each one kernel mapping) binding `nchunks` chunks takes, from the
 * counts `given`, when each step covers `group` consecutive chunks. */
size_t ta_tier_interleave_runs(const ta_interleave_t *p, const uint64_t *given, size_t nchunks, size_t group);
/* The smallest power-of-two group whose runs fit in `allowed` (at least 1). */
size_t ta_tier_interleave_group(const ta_interleave_t *p, const uint64_t *given, size_t nchunks, size_t allowed);

/* Most kernel mappings that splitting interleaved regions may add (beyond the one mapping every
 * region is anyway): 1/8 of the default vm.max_map_count. Each region takes at most half of
 * what is left, so early regions (the first ~20 GiB of a 10:5:4 plan) are spread hugepage by
 * hugepage and the total never passes the bound; later regions get coarser steps, down to a
 * whole region per node, while the counts keep the shares across regions. */
#define TA_INTERLEAVE_MAPPINGS_MAX 8192

/* Binds the fresh region [addr, addr + size) per plan `p`, in chunks of `chunk` bytes (the
 * hugepage unit; addr and size multiples of it), continuing from the counts of the previous
 * regions. Returns 0 or the first mbind error (the rest of the region is still bound as
 * well as possible). Not thread-safe for one plan: its heap's lock serialises the calls. */
int ta_tier_place_interleave(ta_interleave_t *p, void *addr, size_t size, size_t chunk);
/* Mappings the interleaved regions have added so far (for tests and statistics). */
extern ta_atomic(uint64_t) ta_tier_interleave_mappings;

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

/* ---- hotness (tier_hotness.c, pure) ---- */

/* PLACED: the program put the block on a tier or node itself (tieralloc_malloc_tier/_node, or
 * moved it with tieralloc_migrate): the policy leaves it where it was put. */
enum { TA_HOTNESS_HINT_NONE = 0, TA_HOTNESS_HINT_HOT = 1, TA_HOTNESS_HINT_COLD = 2, TA_HOTNESS_HINT_PLACED = 3 };
#define TA_HOTNESS_SCORE_MAX 64.0

typedef struct {
  uint64_t cold_age_ns;       /* idle (no sampled access) this long: may be demoted */
  uint64_t half_life_ns;      /* the score halves in this time without activity */
  uint64_t min_residency_ns;  /* after a move, no move back for this long (hysteresis) */
  size_t min_bytes;           /* smaller extents are not demoted for age alone */
  double demote_score;        /* demote only below this score ... */
  double promote_score;       /* ... promote only at or above this one (> demote_score) */
  uint64_t local_budget_bytes; /* most tracked bytes kept local; 0 = no cap */
  /* Under a budget: a far extent at or above this score (below promote_score) may still come
   * in, into free room or in place of local extents clearly colder than it (see
   * ta_hotness_plan), so the DRAM the hot extents leave holds the warmest of the rest; 0 = only
   * promote_score counts. */
  double swap_score;
} ta_hotness_params_t;

/* The temperature record of one extent. Owned by whoever tracks the extent (migrate.c keeps
 * it in the extent record, changed only by the migrating thread). */
typedef struct {
  uint64_t born_ns, updated_ns, last_active_ns, moved_ns;
  double score;               /* decayed activity, 0..TA_HOTNESS_SCORE_MAX, as of updated_ns */
  uint8_t hint;               /* TA_HOTNESS_HINT_* from the allocation call */
  bool far;                   /* on a far tier now */
} ta_hotness_t;

typedef enum { TA_HOTNESS_STAY = 0, TA_HOTNESS_DEMOTE = 1, TA_HOTNESS_PROMOTE = 2 } ta_hotness_action_t;

void ta_hotness_init(ta_hotness_t *h, uint64_t now_ns, unsigned hint, bool far);
/* One access sample: `accessed` of `sampled` pages were touched since the previous sample.
 * sampled 0 = no signal this time (the score only decays). */
void ta_hotness_observe(ta_hotness_t *h, const ta_hotness_params_t *p, uint64_t now_ns, unsigned sampled,
                        unsigned accessed);
/* The signal starts watching the extent only now (it was just allocated or moved, and its
 * first sample only arms the signal): a local extent's idle time counts from here, not from its
 * birth, so a block allocated before sampling began is not demoted for an idleness nobody saw.
 * Without a signal (age and hints only) the caller does not call this. */
void ta_hotness_watch_from(ta_hotness_t *h, uint64_t now_ns);
/* The score decayed to now_ns. */
double ta_hotness_score(const ta_hotness_t *h, const ta_hotness_params_t *p, uint64_t now_ns);
/* The extent moved (by us or, noticed late, by the kernel) at now_ns; a caller that failed to
 * move it passes a later time to back off (it stays put until min_residency_ns after that). */
void ta_hotness_moved(ta_hotness_t *h, uint64_t now_ns, bool far);
/* What one extent of `bytes` should do on its own, ignoring the budget. */
ta_hotness_action_t ta_hotness_decide(const ta_hotness_t *h, const ta_hotness_params_t *p, uint64_t now_ns,
                                      size_t bytes);

typedef struct {
  const ta_hotness_t *heat;
  size_t bytes;
  void *ref;                  /* the caller's: which extent this is */
  double score_now;           /* out */
  ta_hotness_action_t action; /* out */
} ta_hotness_item_t;

/* Decides every item, then enforces local_budget_bytes given the local bytes now
 * (local_bytes, every tracked extent counted, not only these items): over budget, the coldest
 * local items are demoted; a promotion happens only when it fits, possibly by demoting local
 * items colder than it by a margin. scratch has room for n pointers. Returns the moves. */
size_t ta_hotness_plan(const ta_hotness_params_t *p, uint64_t now_ns, ta_hotness_item_t *items, size_t n,
                       uint64_t local_bytes, ta_hotness_item_t **scratch);

/* How long the access signal should watch before the next sample (arm at next round - window):
 * the signal is one bit per page, so a page used a few times a second reads "accessed" over a
 * whole interval just as one used thousands of times does. When the budget has to rank blocks
 * (`ranking`) and more than half the sampled pages of this round read accessed, the window
 * halves (down to interval/16); when fewer than one in eight did, or nothing needs ranking, it
 * doubles back (up to the interval). window_ns 0 means the whole interval. */
uint64_t ta_hotness_window(uint64_t window_ns, uint64_t interval_ns, unsigned sampled, unsigned accessed,
                           bool ranking);

/* Cumulative counters for the statistics. */
extern ta_atomic(uint64_t) ta_tier_moved_bytes;
extern ta_atomic(uint64_t) ta_tier_move_failures;

TA_EXTERN_C_END

#endif
