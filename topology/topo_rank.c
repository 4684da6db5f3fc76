/* topo_rank.c: the classification of nodes and the ranking of tiers for each group of CPUs.
 * Pure: reads and writes a ta_topo_t, no I/O, no allocation, so it runs inside malloc's start-up
 * and is tested on real machines' dumps. The rules are written out in docs/topology.md; the
 * comments here say why each one is as it is.
 *
 * Invariants after ta_topo_rank_build(): every allowed online CPU belongs to exactly one
 * initiator; each initiator's rank lists only usable, non-GPU nodes, each once; its home node (when
 * it has one) is alone in tie group 0; its heap is a subsequence of its rank. */
#include "topology.h"

#include <errno.h>
#include <string.h>

/* hwloc's "DRAM" subtype is its default guess for any node it cannot place, so it says nothing
 * the CPU count does not; only the specific subtypes are taken as facts. */
static ta_node_kind_t classify_one(const ta_topo_t *t, unsigned n) {
  const ta_topo_node_t *nd = &t->node[n];
  if (nd->gpu || nd->hint == TA_NODE_GPU) return TA_NODE_GPU;
  if (nd->hint != TA_NODE_UNKNOWN && nd->hint != TA_NODE_DRAM) return nd->hint;
  if (nd->dax == TA_DAX_NVM) return TA_NODE_PMEM;
  if (nd->dax == TA_DAX_CXL) return TA_NODE_CXL;
  if (nd->dax == TA_DAX_SPM) {
    /* Soft-reserved memory is either HBM or (since CXL 2.0 platforms) CXL memory the firmware
     * set aside. Tell them apart by bandwidth from the best initiator against that initiator's
     * own memory, as hwloc does; without numbers, say nothing. */
    uint32_t best = 0, ref = 0;
    for (unsigned i = 0; i < t->nnodes; i++) {
      if (t->bandwidth[i][n] > best) best = t->bandwidth[i][n];
      /* The reference: the best local bandwidth of plain DRAM (CPUs, no device behind it). */
      if (i != n && t->node[i].has_cpus && t->node[i].dax == TA_DAX_NONE && t->bandwidth[i][i] > ref)
        ref = t->bandwidth[i][i];
    }
    if (best == 0 || ref == 0) return TA_NODE_UNKNOWN;
    return best > ref ? TA_NODE_HBM : TA_NODE_CXL;
  }
  if (nd->knl_mcdram) return TA_NODE_HBM;
  if (nd->has_cpus) return TA_NODE_DRAM;
  /* A CPU-less node with no device evidence: SRAT memory that may be a CXL expander, plain DRAM
   * whose CPUs are offline, or anything else. "unknown" is the honest kind; ranking still places
   * it by distance and latency. */
  return TA_NODE_UNKNOWN;
}

void ta_topo_rank_classify(ta_topo_t *t) {
  for (unsigned n = 0; n < t->nnodes; n++) t->node[n].kind = classify_one(t, n);
}

/* Distances are taken from the anchor node, or for CPUs with no node at all from the nearest of
 * the nodes on their package (min), or not at all. */
static unsigned init_distance(const ta_topo_t *t, const ta_topo_initiator_t *in, unsigned n) {
  if (in->anchor != TA_TOPO_NONE) return t->distance[in->anchor][n];
  if (in->package < 0) return 0;
  unsigned best = 0;
  for (unsigned m = 0; m < t->nnodes; m++) {
    if (!t->node[m].has_cpus || !t->distance[m][n]) continue;
    /* A node's package is its first CPU's (the sysfs reader reads only that one). */
    bool same_package = false;
    for (unsigned c = 0; c < t->ncpus_max; c++) {
      if (t->cpu_node[c] != m) continue;
      same_package = t->cpu_package[c] == in->package;
      break;
    }
    if (same_package && (!best || t->distance[m][n] < best)) best = t->distance[m][n];
  }
  return best;
}

typedef struct {
  uint8_t node;
  unsigned cls;
  uint64_t cost;      /* estimated latency, ns; 0 unknown */
  uint32_t bandwidth; /* MB/s; 0 unknown */
} rank_key_t;

/* Memory class first, so that every DRAM node comes before any far memory whatever the SLIT
 * says (the kernel's memory tiers make the same cut), then estimated latency, then bandwidth. */
static unsigned node_class(const ta_topo_t *t, const ta_topo_initiator_t *in, unsigned n) {
  if (n == in->home) return 0;
  unsigned cls;
  switch (t->node[n].kind) {
    case TA_NODE_DRAM: cls = 1; break;
    case TA_NODE_HBM: cls = 2; break;
    case TA_NODE_PMEM: cls = 4; break;
    default: cls = 3; break;
  }
  /* The kernel put it in a slower tier than our own memory: it is far memory whatever it is. */
  unsigned ref = in->home != TA_TOPO_NONE ? in->home : in->anchor;
  if (ref != TA_TOPO_NONE && cls < 3 && t->node[n].memory_tier >= 0 &&
      t->node[ref].memory_tier >= 0 && t->node[n].memory_tier > t->node[ref].memory_tier)
    cls = 3;
  return cls;
}

static rank_key_t node_key(const ta_topo_t *t, const ta_topo_initiator_t *in, unsigned n) {
  rank_key_t k = {(uint8_t)n, node_class(t, in, n), 0, 0};
  unsigned src = in->home != TA_TOPO_NONE ? in->home : in->anchor;
  uint32_t lat = src != TA_TOPO_NONE ? t->latency[src][n] : 0;
  k.bandwidth = src != TA_TOPO_NONE ? t->bandwidth[src][n] : 0;
  unsigned d = init_distance(t, in, n);
  if (lat) {
    k.cost = lat;
  } else if (d) {
    /* SLIT is relative to local (10): scale the local HMAT latency by it, or a nominal 100 ns,
     * so estimated and measured costs compare on one axis. */
    uint64_t base = src != TA_TOPO_NONE && t->latency[src][src] ? t->latency[src][src] : 100;
    k.cost = base * d / 10;
  }
  return k;
}

static int key_cmp(const rank_key_t *a, const rank_key_t *b) {
  if (a->cls != b->cls) return a->cls < b->cls ? -1 : 1;
  if (a->cost != b->cost) return a->cost < b->cost ? -1 : 1;
  if (a->bandwidth != b->bandwidth) return a->bandwidth > b->bandwidth ? -1 : 1;
  return 0;
}

static void rank_initiator(const ta_topo_t *t, ta_topo_initiator_t *in) {
  rank_key_t keys[TA_TOPO_MAX_NODES];
  unsigned n = 0;
  for (unsigned i = 0; i < t->nnodes; i++) {
    const ta_topo_node_t *nd = &t->node[i];
    if (!nd->usable || nd->kind == TA_NODE_GPU) continue;
    keys[n++] = node_key(t, in, i);
  }
  /* Insertion sort: at most 64 entries, stable, so equal keys stay in node order. */
  for (unsigned i = 1; i < n; i++) {
    rank_key_t k = keys[i];
    unsigned j = i;
    while (j > 0 && key_cmp(&keys[j - 1], &k) > 0) {
      keys[j] = keys[j - 1];
      j--;
    }
    keys[j] = k;
  }
  in->nrank = (uint8_t)n;
  in->ngroups = 0;
  for (unsigned i = 0; i < n; i++) {
    if (i == 0 || key_cmp(&keys[i - 1], &keys[i]) != 0) in->ngroups++;
    in->rank[i] = keys[i].node;
    in->group[i] = (uint8_t)(in->ngroups - 1);
  }
  /* The default heap: everything ranked but HBM (small; filling it with ordinary heap evicts the
   * data that asked for it) and GPU memory (not in the rank at all). HBM only when nothing else
   * exists, as on an HBM-only machine. */
  in->nheap = 0;
  for (unsigned i = 0; i < n; i++)
    if (t->node[in->rank[i]].kind != TA_NODE_HBM) in->heap[in->nheap++] = in->rank[i];
  if (in->nheap == 0)
    for (unsigned i = 0; i < n; i++) in->heap[in->nheap++] = in->rank[i];
}

static int find_or_add(ta_topo_t *t, uint8_t home, uint8_t anchor, int package) {
  for (unsigned i = 0; i < t->ninitiators; i++) {
    ta_topo_initiator_t *in = &t->initiator[i];
    if (in->home == home && in->anchor == anchor && in->package == package) return (int)i;
  }
  if (t->ninitiators == TA_TOPO_MAX_INITIATORS) return -1;
  ta_topo_initiator_t *in = &t->initiator[t->ninitiators];
  memset(in, 0, sizeof(*in));
  in->home = home;
  in->anchor = anchor;
  in->package = package;
  return (int)t->ninitiators++;
}

int ta_topo_rank_build(ta_topo_t *t) {
  t->ninitiators = 0;
  memset(t->cpu_initiator, TA_TOPO_NONE, sizeof(t->cpu_initiator));
  /* Two passes so that initiators with a home come first, in node order, and the CPU-only groups
   * after them. */
  for (int pass = 0; pass < 2; pass++) {
    for (unsigned c = 0; c < t->ncpus_max; c++) {
      if (!ta_cpuset_has(&t->allowed, c)) continue;
      uint8_t n = t->cpu_node[c];
      bool homed = n != TA_TOPO_NONE && t->node[n].usable;
      if (homed != (pass == 0)) continue;
      int i;
      if (homed) i = find_or_add(t, n, n, -1);
      else if (n != TA_TOPO_NONE) i = find_or_add(t, TA_TOPO_NONE, n, -1);
      else i = find_or_add(t, TA_TOPO_NONE, TA_TOPO_NONE, t->cpu_package[c]);
      if (i < 0) return E2BIG;
      ta_cpuset_set(&t->initiator[i].cpus, c);
      t->initiator[i].ncpus++;
      t->cpu_initiator[c] = (uint8_t)i;
    }
    if (pass == 0) {
      /* Order the homed initiators by node index (CPU order may interleave nodes). */
      for (unsigned i = 1; i < t->ninitiators; i++) {
        ta_topo_initiator_t tmp = t->initiator[i];
        unsigned j = i;
        while (j > 0 && t->initiator[j - 1].home > tmp.home) {
          t->initiator[j] = t->initiator[j - 1];
          j--;
        }
        t->initiator[j] = tmp;
      }
    }
  }
  for (unsigned i = 0; i < t->ninitiators; i++) {
    ta_topo_initiator_t *in = &t->initiator[i];
    for (unsigned c = 0; c < t->ncpus_max; c++)
      if (ta_cpuset_has(&in->cpus, c)) t->cpu_initiator[c] = (uint8_t)i;
    rank_initiator(t, in);
  }
  return 0;
}
