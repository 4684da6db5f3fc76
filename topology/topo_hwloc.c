/* topo_hwloc.c: builds a snapshot from hwloc 2.9. The only file that includes <hwloc.h>.
 *
 * hwloc allocates, so this runs after start-up (ta_topology_refine from the background thread)
 * or in tools and tests. It reads this machine, an hwloc XML export, or a sysfs dump (fsroot).
 *
 * hwloc does not record which node is a CPU's own: a CPU-less node hangs below the same parent
 * as the DRAM node it is attached to and gets the same cpuset. So a PU's home is chosen among the
 * nodes whose cpuset contains it: the smallest cpusets, then the ones without a special subtype
 * or DAX device, then the lowest HMAT latency from the PU, then the lowest OS number. A node that
 * is nobody's home is CPU-less. On the machines under tests/topology/dumps this gives the kernel's
 * own CPU -> node map. */
#define _GNU_SOURCE
#include <errno.h>
#include <hwloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "topology.h"

static void cpuset_from_hwloc(ta_cpuset_t *out, hwloc_const_bitmap_t in) {
  memset(out, 0, sizeof(*out));
  if (!in) return;
  int i;
  hwloc_bitmap_foreach_begin(i, in) {
    if (i < TA_TOPO_MAX_CPUS) ta_cpuset_set(out, (unsigned)i);
  }
  hwloc_bitmap_foreach_end();
}

static bool is_special(hwloc_obj_t node) {
  if (node->subtype && strcmp(node->subtype, "DRAM") != 0) return true;
  return hwloc_obj_get_info_by_name(node, "DAXDevice") != NULL ||
         hwloc_obj_get_info_by_name(node, "DAXType") != NULL;
}

static void node_evidence(ta_topo_node_t *nd, hwloc_obj_t obj) {
  const char *st = obj->subtype;
  if (st) {
    if (!strcmp(st, "HBM") || !strcmp(st, "MCDRAM")) nd->hint = TA_NODE_HBM;
    else if (!strcmp(st, "NVM") || !strcmp(st, "CXL-NVM")) nd->hint = TA_NODE_PMEM;
    else if (!strcmp(st, "GPUMemory")) nd->hint = TA_NODE_GPU;
    else if (!strcmp(st, "CXL-DRAM")) nd->hint = TA_NODE_CXL;
    else if (!strcmp(st, "DRAM")) nd->hint = TA_NODE_DRAM;
    else if (!strcmp(st, "SPM")) nd->dax = TA_DAX_SPM;
  }
  const char *dax = hwloc_obj_get_info_by_name(obj, "DAXType");
  if (dax && !strcmp(dax, "NVM")) nd->dax = TA_DAX_NVM;
  else if (dax && !strcmp(dax, "SPM") && nd->dax == TA_DAX_NONE) nd->dax = TA_DAX_SPM;
  nd->gpu = nd->hint == TA_NODE_GPU;
}

static hwloc_memattr_id_t memattr(hwloc_topology_t topo, const char *name, hwloc_memattr_id_t dflt) {
  hwloc_memattr_id_t id;
  return hwloc_memattr_get_by_name(topo, name, &id) == 0 ? id : dflt;
}

/* Fills latency or bandwidth [home][target] for every home node whose CPUs lie inside one of the
 * target's initiators. Returns true when any value was found. */
static bool read_memattr(hwloc_topology_t topo, ta_topo_t *t, hwloc_obj_t *objs, hwloc_memattr_id_t id,
                         uint32_t (*table)[TA_TOPO_MAX_NODES]) {
  bool any = false;
  for (unsigned n = 0; n < t->nnodes; n++) {
    struct hwloc_location locs[TA_TOPO_MAX_NODES * 2];
    hwloc_uint64_t values[TA_TOPO_MAX_NODES * 2];
    unsigned nr = TA_ARRAY_LEN(locs);
    if (hwloc_memattr_get_initiators(topo, id, objs[n], 0, &nr, locs, values) != 0) continue;
    if (nr > TA_ARRAY_LEN(locs)) nr = TA_ARRAY_LEN(locs);
    for (unsigned k = 0; k < nr; k++) {
      hwloc_const_cpuset_t ini = locs[k].type == HWLOC_LOCATION_TYPE_CPUSET ? locs[k].location.cpuset
                                 : locs[k].type == HWLOC_LOCATION_TYPE_OBJECT ? locs[k].location.object->cpuset
                                                                              : NULL;
      if (!ini || !values[k]) continue;
      for (unsigned h = 0; h < t->nnodes; h++) {
        if (!t->node[h].has_cpus) continue;
        bool inside = true;
        for (unsigned c = 0; c < t->ncpus_max && inside; c++)
          if (ta_cpuset_has(&t->node[h].cpus, c) && !hwloc_bitmap_isset(ini, c)) inside = false;
        if (!inside) continue;
        table[h][n] = (uint32_t)(values[k] > UINT32_MAX ? UINT32_MAX : values[k]);
        any = true;
      }
    }
  }
  return any;
}

static int build(hwloc_topology_t topo, ta_topo_t *t) {
  hwloc_obj_t objs[TA_TOPO_MAX_NODES];
  int nobj = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
  if (nobj <= 0) return ENOENT;
  if (nobj > TA_TOPO_MAX_NODES) return E2BIG;
  /* Snapshot order is OS-number order. */
  unsigned n = 0;
  for (hwloc_obj_t o = NULL; (o = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, o));) {
    if (o->os_index >= TA_TOPO_MAX_NODE_ID) return E2BIG;
    unsigned j = n++;
    while (j > 0 && objs[j - 1]->os_index > o->os_index) { objs[j] = objs[j - 1]; j--; }
    objs[j] = o;
  }
  t->nnodes = n;
  hwloc_const_nodeset_t allowed_nodes = hwloc_topology_get_allowed_nodeset(topo);
  for (unsigned i = 0; i < n; i++) {
    ta_topo_node_t *nd = &t->node[i];
    nd->os_index = (int)objs[i]->os_index;
    nd->capacity_bytes = objs[i]->attr->numanode.local_memory;
    nd->usable = hwloc_bitmap_isset(allowed_nodes, objs[i]->os_index) && nd->capacity_bytes > 0;
    nd->memory_tier = -1;
    node_evidence(nd, objs[i]);
  }

  hwloc_const_cpuset_t online = hwloc_topology_get_topology_cpuset(topo);
  if (hwloc_bitmap_last(online) >= TA_TOPO_MAX_CPUS) return E2BIG;
  cpuset_from_hwloc(&t->online, online);
  hwloc_bitmap_t allowed = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(topo));
  if (!allowed) return ENOMEM;
  hwloc_bitmap_and(allowed, allowed, online);
  cpuset_from_hwloc(&t->allowed, allowed);
  hwloc_bitmap_free(allowed);
  int last = hwloc_bitmap_last(online);
  t->ncpus_max = last < 0 ? 0 : (unsigned)last + 1;

  hwloc_memattr_id_t lat_id = memattr(topo, "ReadLatency", HWLOC_MEMATTR_ID_LATENCY);
  hwloc_memattr_id_t bw_id = memattr(topo, "ReadBandwidth", HWLOC_MEMATTR_ID_BANDWIDTH);
  /* Each PU's home node (see the comment at the top). */
  for (hwloc_obj_t pu = NULL; (pu = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_PU, pu));) {
    unsigned c = pu->os_index;
    if (c >= TA_TOPO_MAX_CPUS) return E2BIG;
    hwloc_obj_t pkg = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_PACKAGE, pu);
    t->cpu_package[c] = pkg && pkg->os_index != HWLOC_UNKNOWN_INDEX ? (int16_t)pkg->os_index : -1;
    int best = -1, best_w = 0, best_special = 0;
    hwloc_uint64_t best_lat = 0;
    for (unsigned i = 0; i < n; i++) {
      if (!objs[i]->cpuset || !hwloc_bitmap_isset(objs[i]->cpuset, c)) continue;
      int w = hwloc_bitmap_weight(objs[i]->cpuset);
      int special = is_special(objs[i]);
      struct hwloc_location loc = {.type = HWLOC_LOCATION_TYPE_CPUSET, .location.cpuset = pu->cpuset};
      hwloc_uint64_t lat = 0;
      if (hwloc_memattr_get_value(topo, lat_id, objs[i], &loc, 0, &lat) != 0 &&
          hwloc_memattr_get_value(topo, HWLOC_MEMATTR_ID_LATENCY, objs[i], &loc, 0, &lat) != 0)
        lat = 0;
      bool better = best < 0 || w < best_w ||
                    (w == best_w && (special < best_special ||
                                     (special == best_special && lat && (!best_lat || lat < best_lat))));
      if (better) { best = (int)i; best_w = w; best_special = special; best_lat = lat; }
    }
    t->cpu_node[c] = best < 0 ? TA_TOPO_NONE : (uint8_t)best;
    if (best >= 0) {
      ta_cpuset_set(&t->node[best].cpus, c);
      t->node[best].ncpus++;
      t->node[best].has_cpus = true;
    }
  }

  /* The kernel's SLIT is "NUMALatency"; XML converted from hwloc 1.x keeps it unnamed, so take
   * any latency-like NUMA matrix, the named one first. */
  struct hwloc_distances_s *dist[4];
  unsigned nd = TA_ARRAY_LEN(dist);
  if (hwloc_distances_get_by_name(topo, "NUMALatency", &nd, dist, 0) != 0 || nd == 0) {
    nd = TA_ARRAY_LEN(dist);
    if (hwloc_distances_get_by_type(topo, HWLOC_OBJ_NUMANODE, &nd, dist, HWLOC_DISTANCES_KIND_MEANS_LATENCY, 0) != 0)
      nd = 0;
  }
  if (nd > TA_ARRAY_LEN(dist)) nd = TA_ARRAY_LEN(dist);
  if (nd > 0) {
    for (unsigned a = 0; a < dist[0]->nbobjs; a++) {
      for (unsigned b = 0; b < dist[0]->nbobjs; b++) {
        int ia = -1, ib = -1;
        for (unsigned i = 0; i < n; i++) {
          if (objs[i] == dist[0]->objs[a]) ia = (int)i;
          if (objs[i] == dist[0]->objs[b]) ib = (int)i;
        }
        hwloc_uint64_t v = dist[0]->values[a * dist[0]->nbobjs + b];
        if (ia >= 0 && ib >= 0) t->distance[ia][ib] = (uint8_t)(v > 255 ? 255 : v);
      }
    }
    t->has_distance = true;
    for (unsigned i = 0; i < nd; i++) hwloc_distances_release(topo, dist[i]);
  }

  /* The read variants are what the kernel exports as read_latency/read_bandwidth; XML exports
   * may carry only the generic attributes, and 2.9 predefines the read ones empty. */
  bool lat = read_memattr(topo, t, objs, lat_id, t->latency) ||
             read_memattr(topo, t, objs, HWLOC_MEMATTR_ID_LATENCY, t->latency);
  bool bw = read_memattr(topo, t, objs, bw_id, t->bandwidth) ||
            read_memattr(topo, t, objs, HWLOC_MEMATTR_ID_BANDWIDTH, t->bandwidth);
  t->has_hmat = lat || bw;

  const char *arch = hwloc_obj_get_info_by_name(hwloc_get_root_obj(topo), "Architecture");
  if (arch) t->arch = !strcmp(arch, "x86_64") ? TA_ARCH_X86_64
                      : !strcmp(arch, "aarch64") ? TA_ARCH_AARCH64 : TA_ARCH_OTHER;
  for (hwloc_obj_t pkg = NULL; (pkg = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_PACKAGE, pkg));) {
    const char *model = hwloc_obj_get_info_by_name(pkg, "CPUModel");
    if (model && strstr(model, "Xeon Phi")) t->xeon_phi = true;
  }
  if (t->xeon_phi)
    for (unsigned i = 0; i < n; i++) t->node[i].knl_mcdram = !t->node[i].has_cpus;
  return 0;
}

/* Sets (value) or restores (saved) one environment variable around the load. */
typedef struct {
  const char *name;
  char *saved;
  bool set;
} env_t;

static void env_push(env_t *e, const char *name, const char *value) {
  e->name = name;
  const char *old = getenv(name);
  e->saved = old ? strdup(old) : NULL;
  e->set = true;
  setenv(name, value, 1);
}

static void env_pop(env_t *e) {
  if (!e->set) return;
  if (e->saved) setenv(e->name, e->saved, 1);
  else unsetenv(e->name);
  free(e->saved);
}

int ta_topo_hwloc_read(ta_topo_t *t, const ta_topo_hwloc_opts_t *opts) {
  memset(t, 0, sizeof(*t));
  memset(t->cpu_node, TA_TOPO_NONE, sizeof(t->cpu_node));
  memset(t->cpu_initiator, TA_TOPO_NONE, sizeof(t->cpu_initiator));
  for (size_t c = 0; c < TA_ARRAY_LEN(t->cpu_package); c++) t->cpu_package[c] = -1;
  t->source = "hwloc";
  /* hwloc ignores an fsroot it cannot open and describes this machine instead: refuse first. */
  if (opts && opts->fsroot && access(opts->fsroot, R_OK | X_OK) != 0) return errno ? errno : ENOENT;
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) != 0) return errno ? errno : ENOMEM;
  env_t env[3] = {{0}};
  int err = 0;
  if (opts && opts->xml && hwloc_topology_set_xml(topo, opts->xml) != 0) err = errno ? errno : EINVAL;
  if (!err && opts && opts->fsroot) {
    /* hwloc 2.x has no fsroot call; these are read during the load. x86 is blacklisted or it
     * would add this host's CPUID identity to the dump's packages. */
    env_push(&env[0], "HWLOC_FSROOT", opts->fsroot);
    env_push(&env[1], "HWLOC_DUMPED_HWDATA_DIR", "/var/run/hwloc");
    hwloc_topology_set_components(topo, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "x86");
  }
  if (!err && opts && opts->keep_gpu_nodes)
    env_push(&env[2], "HWLOC_KEEP_NVIDIA_GPU_NUMA_NODES", "1");
  if (!err) {
    hwloc_topology_set_flags(topo, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
    /* I/O objects are not needed. Caches are: filtering them out re-attaches the NUMA nodes that
     * hung below them (KNL's SNC clusters) to the package, and their locality is lost. */
    hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE);
    if (hwloc_topology_load(topo) != 0) err = errno ? errno : EINVAL;
  }
  for (int i = 2; i >= 0; i--) env_pop(&env[i]);
  if (!err) err = build(topo, t);
  hwloc_topology_destroy(topo);
  if (err) return err;
  ta_topo_rank_classify(t);
  return ta_topo_rank_build(t);
}
