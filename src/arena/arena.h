/* arena.h: layer L5, the umbrella header.
 *
 * Each CPU node of the topology owns a node heap: its hugepage allocator (whose regions are
 * bound to the node before first touch) and a set of arenas sized from the node's CPU count.
 * An arena is one bin per size class. A thread allocates from an arena of the node it runs on;
 * an object always goes back to the arena and node that own its slab, so memory never drifts to
 * another node through reuse. Frees from another node travel home through the owner's remote
 * queue (remote.h).
 *
 * Node heaps and arenas are built once at start-up (ta_arena_boot) and never freed: pointers to
 * them stay valid for the life of the process. Nodes are kernel node numbers (os_index). */
#ifndef TA_ARENA_H
#define TA_ARENA_H

#include "bin.h"
#include "large_cache.h"
#include "remote.h"
#include "size_class.h"
#include "slab.h"
#include "slab_cache.h"
#include "transfer_cache.h"
#include "tiers.h"

TA_EXTERN_C_BEGIN

#define TA_MAX_ARENAS 1024

typedef struct ta_arena {
  ta_bin_t bins[TA_NCLASSES];
  ta_hpa_t *hpa;
  unsigned index;
  unsigned node;
  ta_slab_cache_t slab_cache; /* emptied slabs of this arena's bins, for reuse */
  ta_transfer_cache_t transfer; /* free objects between thread caches and bins */
  ta_large_cache_t large_cache; /* freed large blocks of this arena, for reuse */
} ta_arena_t;

typedef struct ta_node_heap {
  ta_hpa_t hpa;
  unsigned node;               /* kernel node number */
  unsigned first_arena, narenas;
  ta_atomic(unsigned) next_arena;
  ta_remote_queue_t remote;    /* frees of this node's objects made on other nodes */
  ta_place_mode_t place;
  bool cpuless;                /* a far tier (CXL, PMEM, remote memory-only): no thread lives here */
  ta_atomic(uint64_t) large_nmalloc, large_nfree, large_live_bytes;
  struct ta_node_heap *interleave; /* CPU node heaps under tier_policy:interleave: where plain
                                      large blocks go; NULL otherwise */
  ta_interleave_t *plan;           /* an interleave heap's nodes and weights (its cursor moves
                                      under the hpa lock), else NULL */
} ta_node_heap_t;

/* Heap ids: kernel node numbers, then one id per interleave heap (TA_TOPO_MAX_NODE_ID + k),
 * which spreads its regions over several nodes (tier_policy:interleave). */
#define TA_ARENA_HEAP_IDS (TA_TOPO_MAX_NODE_ID + TA_TOPO_MAX_INITIATORS)

extern ta_arena_t *ta_arenas[TA_MAX_ARENAS];
extern unsigned ta_narenas;
extern ta_node_heap_t *ta_node_heaps[TA_ARENA_HEAP_IDS];
extern unsigned ta_node_heap_count;
extern ta_atomic(uint64_t) ta_placement_fallbacks; /* counted by the placement API */
/* A coarse clock (ns) for stamping emptied slabs: set at boot and at every purge step (at least
 * once a second with the background thread, at most every 10 ms without). Reading it costs a
 * load where the free path's clock_gettime cost ~15% of a batch of frees. */
extern ta_atomic(uint64_t) ta_arena_clock;

/* Builds a node heap for every CPU node of `topo` (one for a single-node machine) with
 * `per_node` arenas each (0: one per CPU of the node). Regions are bound with `place` (ignored
 * on a single-node machine: no NUMA call is made there). Returns 0 or ENOMEM. */
int ta_arena_boot(const ta_topo_t *topo, unsigned per_node, ta_place_mode_t place,
                  uint64_t decay_ns, unsigned break_pct);

/* Kernel node number of the k-th node heap, k < ta_node_heap_count (in boot order). */
unsigned ta_arena_heap_node(unsigned k);

/* The node whose heap serves a thread running on `cpu`: its CPU node, or for CPUs without local
 * memory the nearest node that has a heap. */
unsigned ta_arena_home_node(int cpu);

/* The node of tier `tier` (0 = the CPU's own memory, then farther tiers, as the topology ranks
 * them for that CPU) that has a heap; -1 when the CPU has no such tier. */
int ta_arena_tier_node(int cpu, unsigned tier);
/* The node of the farthest tier `cpu` has (where cold data goes); -1 when it has only tier 0. */
int ta_arena_far_node(int cpu);
/* Live large-block bytes on far-tier (CPU-less) heaps and on the others. */
void ta_arena_large_split(uint64_t *far_bytes, uint64_t *local_bytes);

/* The tier `node` is on from `cpu`'s point of view; -1 when it is not ranked. */
int ta_arena_node_tier(int cpu, unsigned node);

/* The arena of the interleave heap that serves plain large blocks of threads on CPU node
 * `node` under tier_policy:interleave; NULL when there is none (another policy, one node, or the
 * process runs under an operator's memory policy). */
ta_arena_t *ta_arena_interleave(unsigned node);

/* The arena for a thread on `node`: round-robin over the node's set. */
ta_arena_t *ta_arena_choose(unsigned node);

/* Returns n objects of class cls to their owning bins, taking each bin's lock once per run of
 * objects that share it. Objects may belong to any arena of any node. */
void ta_arena_flush(unsigned cls, void **ptrs, unsigned n);
/* The same for objects of any classes. */
void ta_arena_flush_mixed(void **ptrs, unsigned n);
/* A thread cache's overflow of class cls into `arena`: objects of the arena's own slabs go to
 * its transfer cache as far as its bounds allow, the rest to their bins (ta_arena_flush). */
void ta_arena_release(ta_arena_t *arena, unsigned cls, void **ptrs, unsigned n);
/* Takes objects of class cls for a thread cache: up to `most` (>= n) from the transfer cache,
 * then from the bin until there are n. Returns how many: fewer than n only when memory ran
 * out. */
unsigned ta_arena_fill(ta_arena_t *arena, unsigned cls, void **out, unsigned n, unsigned most);

/* Sends objects of another node home: one batch onto that node's queue (or, if no batch
 * record can be had, straight into their bins). */
void ta_arena_send_home(unsigned node, void **ptrs, unsigned n);
/* Returns the objects queued for `node` to their bins. Returns how many. */
size_t ta_arena_drain_remote(unsigned node);

/* One object without a thread cache. NULL when out of memory. */
void *ta_arena_alloc_small(ta_arena_t *arena, unsigned cls);

/* Large allocations and frees, on the arena's node (the extent's node for frees). */
void *ta_arena_alloc_large(ta_arena_t *arena, size_t size, size_t align, bool zero);
void ta_arena_free_large(ta_extent_t *ext);
bool ta_arena_resize_large(ta_extent_t *ext, size_t size);

/* Background upkeep: drains remote queues, returns transfer-cache classes and releases spare
 * slabs idle since before older_than_ns (force: all of them), then purges what decay says is
 * due. Returns pages purged. */
size_t ta_arena_purge_step(uint64_t now_ns, uint64_t older_than_ns, size_t budget, bool force);
/* When the next purge is due (UINT64_MAX: nothing dirty). */
uint64_t ta_arena_next_due(void);
/* ta_hpa_prefault_step on every node heap; returns the units faulted in. */
size_t ta_arena_prefault_step(unsigned ahead, uint64_t now_ns);
/* Sums the page statistics of every node heap. */
void ta_arena_hpa_stats(ta_hpa_stats_t *out);

void ta_arena_prefork(void);
void ta_arena_postfork_parent(void);
void ta_arena_postfork_child(void);

TA_EXTERN_C_END

#endif
