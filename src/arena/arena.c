/* arena.c: node heaps, the arena set and the operations that cross bins (see arena.h). */
#include "arena.h"

#include <errno.h>

#include "conf.h"

ta_arena_t *ta_arenas[TA_MAX_ARENAS];
unsigned ta_narenas;
ta_node_heap_t *ta_node_heaps[TA_ARENA_HEAP_IDS];
unsigned ta_node_heap_count;
ta_atomic(uint64_t) ta_placement_fallbacks;
ta_atomic(uint64_t) ta_arena_clock;
static unsigned heap_nodes[TA_TOPO_MAX_NODES + TA_TOPO_MAX_INITIATORS]; /* ids of the heaps */
static uint16_t cpu_home[TA_TOPO_MAX_CPUS];     /* CPU -> node of its heap */
static const ta_topo_t *boot_topo;                /* the snapshot the heaps were built from */
static unsigned default_node;

static int place_region(ta_hpa_t *hpa, void *addr, size_t size) {
  ta_node_heap_t *h = ta_node_heaps[hpa->node];
  return ta_tier_place_range(addr, size, (int)hpa->node, h->place);
}

static int place_interleaved(ta_hpa_t *hpa, void *addr, size_t size) {
  return ta_tier_place_interleave(ta_node_heaps[hpa->node]->plan, addr, size, ta_hpa_geometry.unit_size);
}

static ta_node_heap_t *heap_new(unsigned node, unsigned narenas, ta_place_mode_t place,
                                uint64_t decay_ns, unsigned break_pct) {
  if (ta_narenas + narenas > TA_MAX_ARENAS) narenas = TA_MAX_ARENAS - ta_narenas;
  if (narenas == 0) return NULL;
  ta_node_heap_t *h = ta_meta_alloc(sizeof(ta_node_heap_t));
  if (!h || ta_hpa_init(&h->hpa, node, decay_ns, break_pct) != 0) return NULL;
  h->node = node;
  h->place = place;
  if (place != TA_PLACE_NONE) h->hpa.place_region = place_region;
  h->first_arena = ta_narenas;
  for (unsigned i = 0; i < narenas; i++) {
    ta_arena_t *a = ta_meta_alloc(sizeof(ta_arena_t));
    if (!a) return NULL;
    for (unsigned c = 0; c < TA_NCLASSES; c++) ta_bin_init(&a->bins[c]);
    a->hpa = &h->hpa;
    ta_slab_cache_init(&a->slab_cache, (size_t)ta_conf.slab_cache_kb << 10);
    ta_large_cache_init(&a->large_cache, (size_t)ta_conf.large_cache_kb << 10);
    if (ta_transfer_cache_init(&a->transfer, (size_t)ta_conf.transfer_cache_kb << 10,
                               ta_conf.transfer_cache_objects) != 0)
      return NULL;
    a->index = ta_narenas;
    a->node = node;
    ta_arenas[ta_narenas++] = a;
  }
  h->narenas = narenas;
  ta_node_heaps[node] = h;
  heap_nodes[ta_node_heap_count++] = node;
  return h;
}

/* tier_policy:interleave: for each CPU node, one heap whose regions are spread over the nodes of
 * tiers tier_interleave_first..tier_interleave_last as that node ranks them, weighted by the
 * HMAT bandwidth from it (equal where any is unknown). */
static int interleave_boot(const ta_topo_t *topo, ta_place_mode_t place, uint64_t decay_ns,
                           unsigned break_pct) {
  unsigned id = TA_TOPO_MAX_NODE_ID;
  for (unsigned i = 0; i < topo->ninitiators; i++) {
    const ta_topo_initiator_t *in = &topo->initiator[i];
    ta_node_heap_t *home = in->home != TA_TOPO_NONE ? ta_node_heaps[topo->node[in->home].os_index] : NULL;
    if (!home || home->interleave) continue;
    int nodes[TA_INTERLEAVE_MAX_NODES];
    uint32_t bw[TA_INTERLEAVE_MAX_NODES];
    unsigned n = 0;
    for (unsigned r = 0; r < in->nrank && n < TA_INTERLEAVE_MAX_NODES; r++) {
      unsigned os = (unsigned)topo->node[in->rank[r]].os_index;
      if (in->group[r] < ta_conf.tier_interleave_first || in->group[r] > ta_conf.tier_interleave_last ||
          !ta_node_heaps[os])
        continue;
      nodes[n] = (int)os;
      bw[n++] = topo->bandwidth[in->home][in->rank[r]];
    }
    if (n == 0) continue; /* this node ranks no such tiers: its large blocks stay local */
    ta_interleave_t *plan = ta_meta_alloc(sizeof(*plan));
    if (!plan) return ENOMEM;
    ta_tier_interleave_plan(plan, nodes, bw, n, place);
    ta_node_heap_t *h = heap_new(id++, 1, place, decay_ns, break_pct);
    if (!h) return ENOMEM;
    h->cpuless = true; /* no thread lives there: frees go straight to the bin */
    h->plan = plan;
    h->hpa.place_region = place_interleaved;
    home->interleave = h;
  }
  return 0;
}

int ta_arena_boot(const ta_topo_t *topo, unsigned per_node, ta_place_mode_t place,
                  uint64_t decay_ns, unsigned break_pct) {
  ta_size_class_init();
  ta_atomic_store(&ta_arena_clock, ta_os_now_ns(), ta_mo_relaxed);
  unsigned ncpu_nodes = 0;
  for (unsigned i = 0; i < topo->ninitiators; i++)
    if (topo->initiator[i].home != TA_TOPO_NONE) ncpu_nodes++;
  /* One node: no binding at all, so nothing fails where NUMA calls are not allowed. A process
   * started under a memory policy (numactl --membind, --preferred, --interleave) keeps it:
   * binding our regions would override what the operator asked for. */
  int task_mode = 0;
  if (topo->nnodes <= 1) place = TA_PLACE_NONE;
  else if (ta_os_task_policy(&task_mode) == 0 && task_mode != 0) place = TA_PLACE_NONE;
  /* One CPU node with far memory (a socket with CXL expanders): its own heap needs no binding
   * (first touch is local), but far-tier and interleave heaps do, or their pages would land on
   * the CPU's node at first touch. */
  ta_place_mode_t cpu_place = ncpu_nodes <= 1 ? TA_PLACE_NONE : place;
  /* A heap for each usable node that is home to some allowed CPUs. */
  for (unsigned i = 0; i < topo->ninitiators; i++) {
    const ta_topo_initiator_t *in = &topo->initiator[i];
    if (in->home == TA_TOPO_NONE || !topo->node[in->home].usable) continue;
    unsigned node = (unsigned)topo->node[in->home].os_index;
    if (ta_node_heaps[node]) continue;
    unsigned cpus = 0;
    for (unsigned j = 0; j < topo->ninitiators; j++)
      if (topo->initiator[j].home == in->home) cpus += topo->initiator[j].ncpus;
    if (!heap_new(node, per_node ? per_node : (cpus ? cpus : 1), cpu_place, decay_ns, break_pct))
      return ENOMEM;
  }
  /* Far tiers: every other usable node some CPU ranks (CXL, PMEM, memory-only nodes), with one
   * arena each. Plain mallocs never come here (CPUs map to their own node below); the tier
   * API and tier policies do. GPU memory is never ranked by the topology, so never used. */
  for (unsigned i = 0; i < topo->ninitiators; i++) {
    const ta_topo_initiator_t *in = &topo->initiator[i];
    for (unsigned r = 0; r < in->nrank; r++) {
      const ta_topo_node_t *tn = &topo->node[in->rank[r]];
      unsigned node = (unsigned)tn->os_index;
      if (!tn->usable || tn->kind == TA_NODE_GPU || ta_node_heaps[node]) continue;
      ta_node_heap_t *h = heap_new(node, 1, place, decay_ns, break_pct);
      if (!h) return ENOMEM;
      h->cpuless = true;
    }
  }
  if (ta_conf.tier_policy == TA_TIER_INTERLEAVE && place != TA_PLACE_NONE &&
      interleave_boot(topo, place, decay_ns, break_pct) != 0)
    return ENOMEM;
  if (ta_node_heap_count == 0) {
    /* No initiator has local memory (every CPU is memoryless): one heap, first-touch. */
    unsigned node = topo->nnodes ? (unsigned)topo->node[0].os_index : 0;
    if (!heap_new(node, per_node ? per_node : ta_os_info.ncpus, TA_PLACE_NONE, decay_ns, break_pct))
      return ENOMEM;
  }
  default_node = heap_nodes[0];
  boot_topo = topo;
  /* CPU -> heap node: the initiator's home, else the first node of its default heap that has
   * a heap (CPUs without local memory use the nearest node that has one). */
  for (unsigned cpu = 0; cpu < TA_TOPO_MAX_CPUS; cpu++) {
    unsigned node = default_node;
    const ta_topo_initiator_t *in = cpu < topo->ncpus_max ? ta_topology_cpu_initiator(topo, cpu) : NULL;
    if (in) {
      for (unsigned k = 0; k < in->nheap; k++) {
        unsigned os = (unsigned)topo->node[in->heap[k]].os_index;
        if (ta_node_heaps[os]) {
          node = os;
          break;
        }
      }
    }
    cpu_home[cpu] = (uint16_t)node;
  }
  return 0;
}

unsigned ta_arena_heap_node(unsigned k) { return heap_nodes[k]; }

int ta_arena_tier_node(int cpu, unsigned tier) {
  const ta_topo_initiator_t *in =
      boot_topo && cpu >= 0 ? ta_topology_cpu_initiator(boot_topo, (unsigned)cpu) : NULL;
  if (!in) return tier == 0 ? (int)default_node : -1;
  uint8_t nodes[TA_TOPO_MAX_NODES];
  unsigned n = ta_topology_tier(in, tier, nodes, TA_TOPO_MAX_NODES);
  for (unsigned i = 0; i < n; i++) {
    unsigned os = (unsigned)boot_topo->node[nodes[i]].os_index;
    if (ta_node_heaps[os]) return (int)os;
  }
  return -1;
}

int ta_arena_far_node(int cpu) {
  int far = -1;
  for (unsigned t = 1; t < TA_TOPO_MAX_NODES; t++) {
    int node = ta_arena_tier_node(cpu, t);
    if (node < 0) break;
    far = node;
  }
  return far;
}

/* Blocks in the large caches count here, as resident memory of their node. */
void ta_arena_large_split(uint64_t *far_bytes, uint64_t *local_bytes) {
  *far_bytes = *local_bytes = 0;
  for (unsigned k = 0; k < ta_node_heap_count; k++) {
    ta_node_heap_t *h = ta_node_heaps[heap_nodes[k]];
    uint64_t b = ta_atomic_load(&h->large_live_bytes, ta_mo_relaxed);
    if (h->cpuless) *far_bytes += b;
    else *local_bytes += b;
  }
}

int ta_arena_node_tier(int cpu, unsigned node) {
  const ta_topo_initiator_t *in =
      boot_topo && cpu >= 0 ? ta_topology_cpu_initiator(boot_topo, (unsigned)cpu) : NULL;
  if (!in) return node == default_node ? 0 : -1;
  int idx = ta_topology_node_index(boot_topo, (int)node);
  for (unsigned i = 0; i < in->nrank; i++)
    if (idx >= 0 && in->rank[i] == (unsigned)idx) return in->group[i];
  return -1;
}

unsigned ta_arena_home_node(int cpu) {
  return cpu >= 0 && cpu < TA_TOPO_MAX_CPUS ? cpu_home[cpu] : default_node;
}

ta_arena_t *ta_arena_interleave(unsigned node) {
  ta_node_heap_t *h = node < TA_TOPO_MAX_NODE_ID ? ta_node_heaps[node] : NULL;
  return h && h->interleave ? ta_arenas[h->interleave->first_arena] : NULL;
}

ta_arena_t *ta_arena_choose(unsigned node) {
  ta_node_heap_t *h = node < TA_TOPO_MAX_NODE_ID ? ta_node_heaps[node] : NULL;
  if (!h) h = ta_node_heaps[default_node];
  unsigned i = ta_atomic_fetch_add(&h->next_arena, 1u, ta_mo_relaxed);
  return ta_arenas[h->first_arena + i % h->narenas];
}

static TA_COLD void not_live(void *p) {
  ta_log_fatal("free of %p: not a live small object (heap corruption or a double free)", p);
}

/* The slab of p, a pointer a cache held, of class cls (any class when cls is TA_NCLASSES). Only
 * pointers the free path looked up reach a cache, so a miss means the slab was torn down
 * underneath: heap corruption. */
static ta_extent_t *cached_slab(void *p, unsigned cls) {
  ta_extent_t *e = ta_pagemap_lookup(p);
  if (ta_unlikely(!e || e->kind != TA_EXTENT_SLAB || (cls < TA_NCLASSES && e->size_class != cls)))
    not_live(p);
  return e;
}

/* Frees ptrs[0..n) whose extents are exts[i] (all slabs), relocking only when the bin changes. */
static void flush_extents(void **ptrs, ta_extent_t **exts, unsigned n) {
  ta_bin_t *held = NULL;
  for (unsigned i = 0; i < n; i++) {
    ta_extent_t *slab = exts[i];
    ta_arena_t *a = ta_arenas[slab->arena];
    ta_bin_t *bin = &a->bins[slab->size_class];
    if (bin != held) {
      if (held) {
        held->stats.nflushes++;
        ta_mutex_unlock(&held->lock);
      }
      ta_mutex_lock(&bin->lock);
      held = bin;
    }
    ta_bin_put_locked(bin, a->hpa, slab, ptrs[i]);
  }
  if (held) {
    held->stats.nflushes++;
    ta_mutex_unlock(&held->lock);
  }
}

void ta_arena_flush(unsigned cls, void **ptrs, unsigned n) {
  ta_extent_t *exts[64];
  for (unsigned done = 0; done < n;) {
    unsigned k = n - done < 64 ? n - done : 64;
    for (unsigned i = 0; i < k; i++) exts[i] = cached_slab(ptrs[done + i], cls);
    flush_extents(ptrs + done, exts, k);
    done += k;
  }
}

void ta_arena_flush_mixed(void **ptrs, unsigned n) { ta_arena_flush(TA_NCLASSES, ptrs, n); }

void ta_arena_release(ta_arena_t *arena, unsigned cls, void **ptrs, unsigned n) {
  void *mine[64], *other[64];
  ta_extent_t *mine_ext[64], *other_ext[64];
  for (unsigned done = 0; done < n;) {
    unsigned k = n - done < 64 ? n - done : 64, nm = 0, no = 0;
    for (unsigned i = 0; i < k; i++) {
      void *p = ptrs[done + i];
      ta_extent_t *e = cached_slab(p, cls);
      /* Another arena's object (allocated by a thread of another arena of this node) goes to
       * its own arena: a transfer cache holds only its arena's objects, so free's double-free
       * check knows which one to ask. */
      if (e->arena == arena->index) {
        mine[nm] = p;
        mine_ext[nm++] = e;
      } else {
        other[no] = p;
        other_ext[no++] = e;
      }
    }
    unsigned kept = ta_transfer_cache_push(&arena->transfer, cls, mine, nm);
    if (kept < nm) flush_extents(mine + kept, mine_ext + kept, nm - kept);
    if (no) {
      /* Into that arena's transfer cache when they are all of one arena (a consumer thread
       * freeing what a producer of another arena allocated: the producer's next refill takes
       * them back from there, where going through the bins cost every object a slab's free map
       * twice); mixed batches go to their bins. */
      unsigned owner = other_ext[0]->arena, same = 1;
      for (unsigned i = 1; i < no && same; i++) same = other_ext[i]->arena == owner;
      unsigned moved = same ? ta_transfer_cache_push(&ta_arenas[owner]->transfer, cls, other, no) : 0;
      if (moved < no) flush_extents(other + moved, other_ext + moved, no - moved);
    }
    done += k;
  }
}

unsigned ta_arena_fill(ta_arena_t *arena, unsigned cls, void **out, unsigned n, unsigned most) {
  unsigned got = ta_transfer_cache_pop(&arena->transfer, cls, out, most);
  if (got < n)
    got += ta_bin_fill(&arena->bins[cls], arena->hpa, cls, arena->index, arena->node, out + got, n - got);
  return got;
}

void ta_arena_send_home(unsigned node, void **ptrs, unsigned n) {
  ta_node_heap_t *h = ta_node_heaps[node];
  if (!h || ta_remote_push(&h->remote, ptrs, n) != 0) ta_arena_flush_mixed(ptrs, n);
}

size_t ta_arena_drain_remote(unsigned node) {
  ta_node_heap_t *h = ta_node_heaps[node];
  if (!h) return 0;
  ta_remote_batch_t *list = ta_remote_take(&h->remote);
  size_t n = 0;
  for (ta_remote_batch_t *b = list; b; b = b->next) {
    ta_arena_flush_mixed(b->ptrs, b->count);
    n += b->count;
  }
  ta_remote_release(&h->remote, list);
  return n;
}

void *ta_arena_alloc_small(ta_arena_t *arena, unsigned cls) {
  void *p;
  return ta_bin_fill(&arena->bins[cls], arena->hpa, cls, arena->index, arena->node, &p, 1) ? p : NULL;
}

/* Blocks leaving a large cache go back to the page allocator; until now they counted as live
 * in their heap (large_cache.h). */
static void large_release(ta_extent_t *const *out, unsigned n) {
  for (unsigned i = 0; i < n; i++) {
    ta_node_heap_t *h = ta_node_heaps[out[i]->node];
    ta_atomic_fetch_sub(&h->large_live_bytes, out[i]->usable, ta_mo_relaxed);
    ta_large_free(&h->hpa, out[i]);
  }
}

void *ta_arena_alloc_large(ta_arena_t *arena, size_t size, size_t align, bool zero) {
  ta_large_cache_t *cache = &arena->large_cache;
  size_t npages = ta_large_pages(size);
  /* calloc's blocks must read zero, and the hotness policy tracks every block from its
   * allocation: neither comes from the cache. */
  if (!zero && align <= ta_hpa_geometry.page_size && size <= cache->max_block && !ta_large_tracking) {
    ta_extent_t *ext = ta_large_cache_take(cache, npages);
    if (ext) return ext->addr;
  }
  ta_extent_t *out[TA_LARGE_CACHE_SLOTS];
  large_release(out, ta_large_cache_evict(cache, npages, out));
  void *p = ta_large_alloc(arena->hpa, size, align, zero, arena->node);
  if (p) {
    ta_extent_t *ext = ta_pagemap_lookup(p);
    ext->arena = (uint16_t)arena->index;
    ta_node_heap_t *h = ta_node_heaps[arena->node];
    ta_atomic_fetch_add(&h->large_nmalloc, 1, ta_mo_relaxed);
    ta_atomic_fetch_add(&h->large_live_bytes, ext->usable, ta_mo_relaxed);
  }
  return p;
}

void ta_arena_free_large(ta_extent_t *ext) {
  ta_large_cache_t *cache = &ta_arenas[ext->arena]->large_cache;
  if (ta_large_cache_fits(cache, ext)) {
    ta_extent_t *out[TA_LARGE_CACHE_SLOTS];
    large_release(out, ta_large_cache_put(cache, ext, ta_atomic_load(&ta_arena_clock, ta_mo_relaxed), out));
    return;
  }
  ta_atomic_fetch_add(&ta_node_heaps[ext->node]->large_nfree, 1, ta_mo_relaxed);
  large_release(&ext, 1);
}

bool ta_arena_resize_large(ta_extent_t *ext, size_t size) {
  ta_node_heap_t *h = ta_node_heaps[ext->node];
  size_t before = ext->usable;
  if (!ta_large_resize_in_place(&h->hpa, ext, size)) return false;
  ta_atomic_fetch_add(&h->large_live_bytes, ext->usable - before, ta_mo_relaxed); /* wraps down */
  return true;
}

/* Whether a purge step has advanced the coarse clock since start-up. Until one has, every slab
 * carries the start-up stamp, so the first step would take busy slabs for idle ones. */
static ta_atomic(int) clock_ticked; /* an int: AArch64 LSE swaps words, not bytes */

size_t ta_arena_purge_step(uint64_t now, uint64_t older_than, size_t budget, bool force) {
  size_t purged = 0;
  if (now > ta_atomic_load(&ta_arena_clock, ta_mo_relaxed)) ta_atomic_store(&ta_arena_clock, now, ta_mo_relaxed);
  bool ticked = ta_atomic_exchange(&clock_ticked, 1, ta_mo_relaxed) != 0;
  for (unsigned k = 0; k < ta_node_heap_count; k++) ta_arena_drain_remote(heap_nodes[k]);
  for (unsigned i = 0; i < ta_narenas; i++) {
    /* First, so the slabs it empties become spares or enter the slab cache now. */
    ta_transfer_cache_trim(&ta_arenas[i]->transfer, older_than, force);
    for (unsigned c = 0; c < TA_NCLASSES; c++)
      ta_bin_trim(&ta_arenas[i]->bins[c], ta_arenas[i]->hpa, older_than);
    ta_slab_cache_trim(&ta_arenas[i]->slab_cache, ta_arenas[i]->hpa, older_than, force);
    ta_extent_t *out[TA_LARGE_CACHE_SLOTS];
    large_release(out, ta_large_cache_trim(&ta_arenas[i]->large_cache, older_than, force, out));
  }
  /* Free pages inside idle slabs (bin.c): noted before the heaps' own step, so its hugepage
   * decisions count them as free, and purged after it. The first step sits this out (unless
   * forced): slabs used since it get a true stamp, the idle ones are purged a step later (at
   * most a second). */
  bool inside = ta_conf.interior_purge && (ticked || force);
  if (inside) {
    for (unsigned k = 0; k < ta_node_heap_count; k++) ta_hpa_begin_inside(&ta_node_heaps[heap_nodes[k]]->hpa);
    for (unsigned i = 0; i < ta_narenas; i++)
      for (unsigned c = 0; c < TA_NCLASSES; c++)
        ta_bin_note_inside(&ta_arenas[i]->bins[c], ta_arenas[i]->hpa, c, now, force);
  }
  for (unsigned k = 0; k < ta_node_heap_count; k++)
    purged += ta_hpa_purge_step(&ta_node_heaps[heap_nodes[k]]->hpa, now, budget, force);
  for (unsigned i = 0; inside && i < ta_narenas && (!budget || purged < budget); i++)
    for (unsigned c = 0; c < TA_NCLASSES; c++)
      purged += ta_bin_purge_inside(&ta_arenas[i]->bins[c], ta_arenas[i]->hpa, c, now, force);
  return purged;
}

uint64_t ta_arena_next_due(void) {
  uint64_t due = UINT64_MAX;
  for (unsigned k = 0; k < ta_node_heap_count; k++) {
    uint64_t d = ta_hpa_next_due(&ta_node_heaps[heap_nodes[k]]->hpa);
    if (d < due) due = d;
  }
  return due;
}

size_t ta_arena_prefault_step(unsigned ahead, uint64_t now) {
  size_t units = 0;
  for (unsigned k = 0; k < ta_node_heap_count; k++)
    units += ta_hpa_prefault_step(&ta_node_heaps[heap_nodes[k]]->hpa, ahead, now);
  return units;
}

void ta_arena_hpa_stats(ta_hpa_stats_t *out) {
  *out = (ta_hpa_stats_t){0};
  for (unsigned k = 0; k < ta_node_heap_count; k++) {
    ta_hpa_stats_t s;
    ta_hpa_get_stats(&ta_node_heaps[heap_nodes[k]]->hpa, &s);
    out->mapped_bytes += s.mapped_bytes;
    out->active_pages += s.active_pages;
    out->dirty_pages += s.dirty_pages;
    out->purged_pages += s.purged_pages;
    out->broken_units += s.broken_units;
    out->marked_units += s.marked_units;
    out->unmarked_breaks += s.unmarked_breaks;
    out->units_in_use += s.units_in_use;
    out->place_failures += s.place_failures;
    out->map_failures += s.map_failures;
    out->purge_failures += s.purge_failures;
    out->advise_failures += s.advise_failures;
    out->stale_breaks += s.stale_breaks;
    out->hollow_pages += s.hollow_pages;
    out->inside_purged_pages += s.inside_purged_pages;
    out->fresh_units += s.fresh_units;
    out->prefaulted_units += s.prefaulted_units;
    out->collapsed_units += s.collapsed_units;
  }
}

/* Fork: every transfer cache (rank TRANSFER), every bin (BIN), every slab cache (SLAB_CACHE),
 * every large cache (LARGE_CACHE), every large-tracking list (LARGE), then every hpa (HPA), in
 * a fixed order. */
void ta_arena_prefork(void) {
  for (unsigned i = 0; i < ta_narenas; i++) ta_transfer_cache_prefork(&ta_arenas[i]->transfer);
  for (unsigned i = 0; i < ta_narenas; i++)
    for (unsigned c = 0; c < TA_NCLASSES; c++) ta_mutex_lock(&ta_arenas[i]->bins[c].lock);
  for (unsigned i = 0; i < ta_narenas; i++) ta_mutex_lock(&ta_arenas[i]->slab_cache.lock);
  for (unsigned i = 0; i < ta_narenas; i++) ta_mutex_lock(&ta_arenas[i]->large_cache.lock);
  for (unsigned k = 0; k < ta_node_heap_count; k++) ta_large_prefork(&ta_node_heaps[heap_nodes[k]]->hpa);
  for (unsigned k = 0; k < ta_node_heap_count; k++) ta_hpa_prefork(&ta_node_heaps[heap_nodes[k]]->hpa);
}

void ta_arena_postfork_parent(void) {
  for (unsigned k = 0; k < ta_node_heap_count; k++)
    ta_hpa_postfork_parent(&ta_node_heaps[heap_nodes[k]]->hpa);
  for (unsigned k = 0; k < ta_node_heap_count; k++)
    ta_large_postfork_parent(&ta_node_heaps[heap_nodes[k]]->hpa);
  for (unsigned i = 0; i < ta_narenas; i++) ta_mutex_unlock(&ta_arenas[i]->large_cache.lock);
  for (unsigned i = 0; i < ta_narenas; i++) ta_mutex_unlock(&ta_arenas[i]->slab_cache.lock);
  for (unsigned i = 0; i < ta_narenas; i++)
    for (unsigned c = 0; c < TA_NCLASSES; c++) ta_mutex_unlock(&ta_arenas[i]->bins[c].lock);
  for (unsigned i = 0; i < ta_narenas; i++) ta_transfer_cache_postfork_parent(&ta_arenas[i]->transfer);
}

void ta_arena_postfork_child(void) {
  for (unsigned k = 0; k < ta_node_heap_count; k++)
    ta_hpa_postfork_child(&ta_node_heaps[heap_nodes[k]]->hpa);
  for (unsigned k = 0; k < ta_node_heap_count; k++)
    ta_large_postfork_child(&ta_node_heaps[heap_nodes[k]]->hpa);
  for (unsigned i = 0; i < ta_narenas; i++) ta_mutex_postfork_child(&ta_arenas[i]->large_cache.lock);
  for (unsigned i = 0; i < ta_narenas; i++) ta_mutex_postfork_child(&ta_arenas[i]->slab_cache.lock);
  for (unsigned i = 0; i < ta_narenas; i++)
    for (unsigned c = 0; c < TA_NCLASSES; c++) ta_mutex_postfork_child(&ta_arenas[i]->bins[c].lock);
  for (unsigned i = 0; i < ta_narenas; i++) ta_transfer_cache_postfork_child(&ta_arenas[i]->transfer);
}
