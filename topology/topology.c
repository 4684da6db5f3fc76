/* topology.c: the published snapshot and the queries on it.
 *
 * One atomic pointer. A snapshot is immutable once published and is never freed: readers load
 * the pointer with acquire and may keep it as long as they like (an old snapshot is stale, never
 * dangling). The bootstrap snapshot and the fallback live in static storage; refined ones are
 * malloc'd by ta_topology_refine, one per refinement, a few hundred KiB in a process's life. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "topology.h"

static ta_atomic(const ta_topo_t *) current;
static ta_atomic(int) init_state;   /* 0 not started, 1 running, 2 done */
static ta_topo_t boot_snapshot;

const ta_topo_t *ta_topology_get(void) { return ta_atomic_load(&current, ta_mo_acquire); }

void ta_topology_publish(const ta_topo_t *t) { ta_atomic_store(&current, t, ta_mo_release); }

static uint64_t meminfo_total(void) {
  char buf[512];
  if (ta_os_read_file("/proc/meminfo", buf, sizeof(buf)) <= 0) return 0;
  const char *s = strstr(buf, "MemTotal:");
  if (!s) return 0;
  for (s += 9; *s == ' '; s++) {}
  uint64_t kb = 0;
  while (*s >= '0' && *s <= '9') kb = kb * 10 + (uint64_t)(*s++ - '0');
  return kb * 1024;
}

void ta_topology_fallback(ta_topo_t *t, uint64_t capacity_bytes, unsigned ncpus) {
  memset(t, 0, sizeof(*t));
  memset(t->cpu_node, TA_TOPO_NONE, sizeof(t->cpu_node));
  memset(t->cpu_initiator, TA_TOPO_NONE, sizeof(t->cpu_initiator));
  t->source = "fallback";
  if (ncpus == 0) ncpus = 1;
  if (ncpus > TA_TOPO_MAX_CPUS) ncpus = TA_TOPO_MAX_CPUS;
  t->nnodes = 1;
  ta_topo_node_t *nd = &t->node[0];
  nd->os_index = 0;
  nd->usable = true;
  nd->has_cpus = true;
  nd->capacity_bytes = capacity_bytes;
  nd->memory_tier = -1;
  for (unsigned c = 0; c < ncpus; c++) {
    ta_cpuset_set(&nd->cpus, c);
    ta_cpuset_set(&t->online, c);
    t->cpu_node[c] = 0;
    t->cpu_package[c] = -1;
  }
  nd->ncpus = ncpus;
  t->allowed = t->online;
  t->ncpus_max = ncpus;
  t->distance[0][0] = 10;
  ta_topo_rank_classify(t);
  ta_topo_rank_build(t);
}

int ta_topology_init(void) {
  int expected = 0;
  if (!ta_atomic_cas(&init_state, &expected, 1)) {
    while (ta_atomic_load(&init_state, ta_mo_acquire) != 2) ta_arch_spin_pause();
    return 0;
  }
  int err = ta_topo_sysfs_read(&boot_snapshot, "");
  if (err) {
    /* ENOENT: a kernel without NUMA, one node by definition. Anything else deserves a word. */
    if (err != ENOENT)
      ta_log("topology: cannot read /sys (error %d); assuming one memory node", err);
    ta_os_init();
    ta_topology_fallback(&boot_snapshot, meminfo_total(), ta_os_info.ncpus);
  }
  ta_topology_publish(&boot_snapshot);
  ta_atomic_store(&init_state, 2, ta_mo_release);
  return err;
}

/* Weak: the allocator library is built without hwloc (see topology/CMakeLists.txt). */
#pragma weak ta_topo_hwloc_read

int ta_topology_refine(void) {
  if (!ta_topo_hwloc_read) return ENOSYS;
  const ta_topo_t *old = ta_topology_get();
  if (!old) {
    ta_topology_init();
    old = ta_topology_get();
  }
  /* One node: hwloc cannot change any decision, and its load costs milliseconds. */
  if (old->nnodes <= 1) return 0;
  ta_topo_t *t = malloc(sizeof(*t));
  if (!t) return ENOMEM;
  int err = ta_topo_hwloc_read(t, NULL);
  if (err) {
    free(t);
    return err;
  }
  ta_topology_merge(t, old);
  ta_topology_publish(t);
  return 0;
}

/* ---- merge ---------------------------------------------------------------------------------- */

static int index_of(const ta_topo_t *t, int os_index) {
  for (unsigned i = 0; i < t->nnodes; i++)
    if (t->node[i].os_index == os_index) return (int)i;
  return -1;
}

void ta_topology_merge(ta_topo_t *r, const ta_topo_t *e) {
  bool carried = false;
  /* Nodes hwloc hides (NVIDIA GPU memory unless told otherwise): keep them, in OS order. */
  for (unsigned i = 0; i < e->nnodes && r->nnodes < TA_TOPO_MAX_NODES; i++) {
    if (index_of(r, e->node[i].os_index) >= 0) continue;
    unsigned j = r->nnodes++;
    while (j > 0 && r->node[j - 1].os_index > e->node[i].os_index) {
      r->node[j] = r->node[j - 1];
      j--;
    }
    /* Shift every per-node table for the inserted index j. */
    for (unsigned a = r->nnodes - 1; a > j; a--) {
      memcpy(r->distance[a], r->distance[a - 1], sizeof(r->distance[a]));
      memcpy(r->latency[a], r->latency[a - 1], sizeof(r->latency[a]));
      memcpy(r->bandwidth[a], r->bandwidth[a - 1], sizeof(r->bandwidth[a]));
    }
    for (unsigned a = 0; a < r->nnodes; a++) {
      for (unsigned b = r->nnodes - 1; b > j; b--) {
        r->distance[a][b] = r->distance[a][b - 1];
        r->latency[a][b] = r->latency[a][b - 1];
        r->bandwidth[a][b] = r->bandwidth[a][b - 1];
      }
      r->distance[a][j] = r->distance[j][a] = 0;
      r->latency[a][j] = r->latency[j][a] = 0;
      r->bandwidth[a][j] = r->bandwidth[j][a] = 0;
    }
    for (unsigned c = 0; c < TA_TOPO_MAX_CPUS; c++)
      if (r->cpu_node[c] != TA_TOPO_NONE && r->cpu_node[c] >= j) r->cpu_node[c]++;
    r->node[j] = e->node[i];
    /* hwloc did not see its CPUs (if any) as this node's: keep the rest consistent. */
    memset(&r->node[j].cpus, 0, sizeof(r->node[j].cpus));
    r->node[j].ncpus = 0;
    r->node[j].has_cpus = e->node[i].has_cpus;
    carried = true;
  }
  /* Per-node evidence hwloc 2.9 does not have. */
  for (unsigned i = 0; i < r->nnodes; i++) {
    int k = index_of(e, r->node[i].os_index);
    if (k < 0) continue;
    ta_topo_node_t *rn = &r->node[i];
    const ta_topo_node_t *en = &e->node[k];
    if (rn->memory_tier < 0 && en->memory_tier >= 0) { rn->memory_tier = en->memory_tier; carried = true; }
    if (en->gpu && !rn->gpu) { rn->gpu = true; carried = true; }
    if (rn->dax == TA_DAX_NONE && en->dax != TA_DAX_NONE) { rn->dax = en->dax; carried = true; }
    rn->knl_mcdram |= en->knl_mcdram;
  }
  /* Tables: hwloc's where it has them; the earlier ones fill what it lacks (the KNL quirk drops
   * the SLIT; hidden nodes have no rows). */
  for (unsigned a = 0; a < r->nnodes; a++) {
    int ea = index_of(e, r->node[a].os_index);
    if (ea < 0) continue;
    for (unsigned b = 0; b < r->nnodes; b++) {
      int eb = index_of(e, r->node[b].os_index);
      if (eb < 0) continue;
      if (!r->distance[a][b] && e->distance[ea][eb]) { r->distance[a][b] = e->distance[ea][eb]; carried = true; }
      if (!r->has_hmat && e->latency[ea][eb]) { r->latency[a][b] = e->latency[ea][eb]; carried = true; }
      if (!r->has_hmat && e->bandwidth[ea][eb]) { r->bandwidth[a][b] = e->bandwidth[ea][eb]; carried = true; }
    }
  }
  r->has_distance |= e->has_distance;
  r->has_hmat |= e->has_hmat;
  /* hwloc's Architecture is the running kernel's even for a dump: the cpuinfo read wins. */
  if (e->arch != TA_ARCH_UNKNOWN) r->arch = e->arch;
  if (!r->cpu_part) { r->cpu_implementer = e->cpu_implementer; r->cpu_part = e->cpu_part; }
  r->xeon_phi |= e->xeon_phi;
  if (carried) r->source = "hwloc+sysfs";
  ta_topo_rank_classify(r);
  ta_topo_rank_build(r);
}

int ta_topology_check(const ta_topo_t *t) {
  if (t->nnodes == 0 || t->nnodes > TA_TOPO_MAX_NODES || t->ninitiators > TA_TOPO_MAX_INITIATORS) return EINVAL;
  for (unsigned i = 1; i < t->nnodes; i++)
    if (t->node[i - 1].os_index >= t->node[i].os_index) return EINVAL;   /* OS order, unique */
  for (unsigned c = 0; c < TA_TOPO_MAX_CPUS; c++) {
    uint8_t n = t->cpu_node[c], k = t->cpu_initiator[c];
    if (n != TA_TOPO_NONE && (n >= t->nnodes || !ta_cpuset_has(&t->node[n].cpus, c))) return EINVAL;
    if (ta_cpuset_has(&t->allowed, c) != (k != TA_TOPO_NONE)) return EINVAL;  /* allowed <=> grouped */
    if (k != TA_TOPO_NONE && (k >= t->ninitiators || !ta_cpuset_has(&t->initiator[k].cpus, c))) return EINVAL;
  }
  for (unsigned k = 0; k < t->ninitiators; k++) {
    const ta_topo_initiator_t *in = &t->initiator[k];
    uint64_t seen = 0;
    if (in->home != TA_TOPO_NONE &&
        (in->nrank == 0 || in->rank[0] != in->home || (in->nrank > 1 && in->group[1] == 0)))
      return EINVAL;   /* the home node is alone in tier 0 */
    for (unsigned r = 0; r < in->nrank; r++) {
      uint8_t n = in->rank[r];
      if (n >= t->nnodes || (seen >> n & 1) || !t->node[n].usable || t->node[n].kind == TA_NODE_GPU) return EINVAL;
      if (r && in->group[r] != in->group[r - 1] && in->group[r] != in->group[r - 1] + 1) return EINVAL;
      seen |= (uint64_t)1 << n;
    }
    for (unsigned h = 0, r = 0; h < in->nheap; h++, r++) {   /* heap: a subsequence of the rank */
      while (r < in->nrank && in->rank[r] != in->heap[h]) r++;
      if (r == in->nrank || t->node[in->heap[h]].kind == TA_NODE_GPU) return EINVAL;
    }
  }
  return 0;
}

/* ---- queries -------------------------------------------------------------------------------- */

int ta_topology_cpu_node(const ta_topo_t *t, unsigned cpu) {
  if (cpu >= TA_TOPO_MAX_CPUS || t->cpu_node[cpu] == TA_TOPO_NONE) return -1;
  return t->cpu_node[cpu];
}

const ta_topo_initiator_t *ta_topology_cpu_initiator(const ta_topo_t *t, unsigned cpu) {
  if (cpu >= TA_TOPO_MAX_CPUS || t->cpu_initiator[cpu] == TA_TOPO_NONE) return NULL;
  return &t->initiator[t->cpu_initiator[cpu]];
}

int ta_topology_node_index(const ta_topo_t *t, int os_index) { return index_of(t, os_index); }

unsigned ta_topology_tier(const ta_topo_initiator_t *in, unsigned tier, uint8_t *nodes, unsigned cap) {
  unsigned n = 0;
  for (unsigned i = 0; i < in->nrank; i++)
    if (in->group[i] == tier && n < cap) nodes[n++] = in->rank[i];
  return n;
}

unsigned ta_topology_cpu_node_count(const ta_topo_t *t) {
  unsigned n = 0;
  for (unsigned i = 0; i < t->ninitiators; i++) n += t->initiator[i].home != TA_TOPO_NONE;
  return n;
}

const char *ta_topology_kind_name(ta_node_kind_t kind) {
  switch (kind) {
    case TA_NODE_DRAM: return "dram";
    case TA_NODE_HBM: return "hbm";
    case TA_NODE_PMEM: return "pmem";
    case TA_NODE_CXL: return "cxl";
    case TA_NODE_GPU: return "gpu";
    default: return "unknown";
  }
}
