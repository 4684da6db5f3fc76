/* topology.h: layer L2, the umbrella header. What the machine's memory looks like from each CPU.
 *
 * A snapshot (ta_topo_t) is immutable once published: CPU -> node, the memory nodes with their
 * kind and capacity, SLIT distances, HMAT latency and bandwidth, and for every group of CPUs that
 * share a home node (an "initiator") the ranked tiers and the default heap node list.
 *
 * Life cycle: ta_topology_init() reads /sys without allocating (topo_sysfs.c) and publishes the
 * first snapshot; ta_topology_refine() (background thread, may allocate) loads hwloc
 * (topo_hwloc.c), merges what hwloc cannot see from the previous snapshot and swaps the result in
 * atomically. Readers call ta_topology_get() and may keep the pointer forever: published snapshots
 * are never freed.
 *
 * Nodes are referred to by their index in the snapshot (dense, 0..nnodes-1, in OS-number order);
 * node[i].os_index is the kernel's node number, which may be sparse (0,1,2,33,...). Fixed
 * capacities below; a machine beyond them makes the builders fail with E2BIG and
 * ta_topology_init() publishes a one-node fallback snapshot instead of corrupting anything. */
#ifndef TA_TOPOLOGY_H
#define TA_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform.h"

TA_EXTERN_C_BEGIN

#define TA_TOPO_MAX_NODES 64        /* memory nodes in a snapshot */
#define TA_TOPO_MAX_NODE_ID 1024    /* kernel node numbers accepted: 0 .. 1023 */
#define TA_TOPO_MAX_CPUS 4096       /* kernel CPU numbers accepted: 0 .. 4095 */
#define TA_TOPO_MAX_INITIATORS 64   /* CPU groups with their own ranking */
#define TA_TOPO_NONE 0xff           /* "no node" in the uint8_t node-index fields */

typedef enum {
  TA_NODE_UNKNOWN = 0, /* memory with nothing saying what it is (e.g. a bare CPU-less SRAT node) */
  TA_NODE_DRAM,
  TA_NODE_HBM,         /* HBM / MCDRAM: fast, small, never plain heap */
  TA_NODE_PMEM,        /* NVDIMM / Optane in App Direct, onlined through dax/kmem */
  TA_NODE_CXL,         /* CXL or other far memory the platform says is not HBM */
  TA_NODE_GPU,         /* coherent GPU memory: never used unless asked for by node */
} ta_node_kind_t;

/* Evidence about a node's memory device, filled by the builders, read by the classifier. */
typedef enum {
  TA_DAX_NONE = 0,
  TA_DAX_SPM,  /* soft-reserved ("specific purpose") memory, e.g. platform/hmem.N */
  TA_DAX_NVM,  /* a dax device on an NVDIMM region (ndbus) */
  TA_DAX_CXL,  /* a dax device on a CXL region */
} ta_dax_kind_t;

typedef struct {
  uint64_t bits[TA_TOPO_MAX_CPUS / 64];
} ta_cpuset_t;

typedef struct {
  int os_index;
  ta_node_kind_t kind;
  bool usable;             /* in the process's allowed mems (cgroup cpuset) and has memory */
  bool has_cpus;           /* hardware: some online CPU is local to it (ignoring cgroups) */
  uint64_t capacity_bytes;
  ta_cpuset_t cpus;        /* online CPUs local to it */
  unsigned ncpus;
  int memory_tier;         /* /sys/devices/virtual/memory_tiering tier id, -1 unknown */
  /* Classification evidence. */
  ta_dax_kind_t dax;
  ta_node_kind_t hint;     /* a specific hwloc subtype (HBM, NVM, GPUMemory...), else UNKNOWN */
  bool gpu;                /* NVIDIA driver or hwloc says this is GPU memory */
  bool knl_mcdram;         /* CPU-less node on a Xeon Phi */
} ta_topo_node_t;

typedef struct {
  uint8_t home;            /* node index of the CPUs' local memory, TA_TOPO_NONE when none */
  uint8_t anchor;          /* node index distances are taken from (home, or the CPUs' memoryless
                              node), TA_TOPO_NONE: use the package's nodes */
  int package;             /* physical package id of the CPUs when home is none, else -1 */
  ta_cpuset_t cpus;        /* allowed online CPUs of this group */
  unsigned ncpus;
  uint8_t nrank;           /* nodes in rank[] */
  uint8_t rank[TA_TOPO_MAX_NODES];  /* node indexes, nearest/fastest first */
  uint8_t group[TA_TOPO_MAX_NODES]; /* tie group of rank[i]: 0, 0, 1, 2, 2, ... */
  uint8_t ngroups;
  uint8_t nheap;
  uint8_t heap[TA_TOPO_MAX_NODES];  /* the default heap: node indexes in order */
} ta_topo_initiator_t;

typedef enum { TA_ARCH_UNKNOWN = 0, TA_ARCH_X86_64, TA_ARCH_AARCH64, TA_ARCH_OTHER } ta_topo_arch_t;

typedef struct ta_topo {
  const char *source;      /* "sysfs", "hwloc", "hwloc+sysfs" or "fallback" */
  unsigned nnodes;
  ta_topo_node_t node[TA_TOPO_MAX_NODES];
  uint8_t distance[TA_TOPO_MAX_NODES][TA_TOPO_MAX_NODES];  /* SLIT, 0 unknown */
  bool has_distance;
  /* HMAT best-initiator data: [initiator node][target node]; 0 unknown. ns and MB/s. */
  uint32_t latency[TA_TOPO_MAX_NODES][TA_TOPO_MAX_NODES];
  uint32_t bandwidth[TA_TOPO_MAX_NODES][TA_TOPO_MAX_NODES];
  bool has_hmat;
  unsigned ncpus_max;      /* one past the highest online CPU number */
  uint8_t cpu_node[TA_TOPO_MAX_CPUS];       /* node index of an online CPU, TA_TOPO_NONE */
  uint8_t cpu_initiator[TA_TOPO_MAX_CPUS];  /* initiator of an allowed CPU, TA_TOPO_NONE */
  int16_t cpu_package[TA_TOPO_MAX_CPUS];    /* physical package, -1 unknown (sysfs only) */
  ta_cpuset_t online;      /* online CPUs */
  ta_cpuset_t allowed;     /* CPUs the process may run on (cgroup cpuset), within online */
  unsigned ninitiators;
  ta_topo_initiator_t initiator[TA_TOPO_MAX_INITIATORS];
  /* The processor of the machine described, from its cpuinfo. */
  ta_topo_arch_t arch;
  unsigned cpu_implementer, cpu_part;       /* AArch64 MIDR fields, 0 unknown */
  bool xeon_phi;
} ta_topo_t;

/* ---- the published snapshot (topology.c) ---------------------------------------------------- */

/* Reads /sys (no allocation), ranks, publishes. Idempotent; never fails: on error it publishes a
 * one-node fallback and logs why. Returns 0 or the reader's error. */
int ta_topology_init(void);
/* Loads hwloc (allocates), merges, publishes. Call from the background thread once malloc works.
 * Skipped (returns 0) when the current snapshot has one node. */
int ta_topology_refine(void);
/* The current snapshot; never NULL after ta_topology_init(). Acquire load; no lock. */
const ta_topo_t *ta_topology_get(void);
/* Publishes `t` (already ranked). It must stay alive forever. Tests and refine use it. */
void ta_topology_publish(const ta_topo_t *t);

/* Queries on a snapshot. Node arguments and results are node indexes. */
int ta_topology_cpu_node(const ta_topo_t *t, unsigned cpu);      /* node index or -1 */
const ta_topo_initiator_t *ta_topology_cpu_initiator(const ta_topo_t *t, unsigned cpu);
int ta_topology_node_index(const ta_topo_t *t, int os_index);    /* -1 when absent */
/* Tier `tier` (0 = nearest) of an initiator: writes up to `cap` node indexes, returns the count
 * (0 past the last tier). */
unsigned ta_topology_tier(const ta_topo_initiator_t *in, unsigned tier, uint8_t *nodes, unsigned cap);
/* Initiators are the CPU groups; those with a home node are the "CPU nodes". */
unsigned ta_topology_cpu_node_count(const ta_topo_t *t);
const char *ta_topology_kind_name(ta_node_kind_t kind);

/* The snapshot's invariants (topo_rank.c's header lists them): 0 or EINVAL. Tests run it on
 * every snapshot they build; debug builds of the allocator may run it after each publish. */
int ta_topology_check(const ta_topo_t *t);

/* Fills a one-node snapshot covering every CPU (single-node machines and the error fallback). */
void ta_topology_fallback(ta_topo_t *t, uint64_t capacity_bytes, unsigned ncpus);

/* Adds what hwloc cannot know from an earlier snapshot of the same machine: nodes hwloc hides
 * (NVIDIA GPU memory), SLIT when hwloc dropped it (KNL), memory tiers, GPU evidence, the CPU
 * identity. Then re-ranks. */
void ta_topology_merge(ta_topo_t *refined, const ta_topo_t *earlier);

/* ---- builders -------------------------------------------------------------------------------- */

/* topo_sysfs.c: reads <fsroot>/sys and <fsroot>/proc ("" = this machine) into *t and ranks it.
 * Allocates nothing: open/read into stack buffers (about 12 KiB of stack at the deepest). Errors: ENOENT (no node directory: the caller
 * should fall back to one node), E2BIG (beyond the fixed capacities), EINVAL (malformed files). */
int ta_topo_sysfs_read(ta_topo_t *t, const char *fsroot);

typedef struct {
  const char *xml;         /* an hwloc XML export, or NULL */
  const char *fsroot;      /* a sysfs/procfs dump directory, or NULL */
  bool keep_gpu_nodes;     /* sets HWLOC_KEEP_NVIDIA_GPU_NUMA_NODES: only in single-threaded use */
} ta_topo_hwloc_opts_t;

/* topo_hwloc.c: loads hwloc (this machine when opts is NULL or empty) into *t and ranks it.
 * Allocates (hwloc does). fsroot loads set HWLOC_* environment variables for the duration of the
 * load, so they are for tools and tests, not for a running multi-threaded program. */
int ta_topo_hwloc_read(ta_topo_t *t, const ta_topo_hwloc_opts_t *opts);

/* ---- ranking (topo_rank.c, pure) ------------------------------------------------------------- */

/* Sets every node's kind from its evidence. */
void ta_topo_rank_classify(ta_topo_t *t);
/* Groups allowed CPUs into initiators and ranks the nodes for each. Returns 0 or E2BIG. */
int ta_topo_rank_build(ta_topo_t *t);

/* ---- output (topo_dump.c) -------------------------------------------------------------------- */

/* The human table and the JSON document (docs/topology.md). `profile` is the CPU tuning profile
 * name to report. Both return the length the full text needs (like snprintf), writing at most
 * cap-1 characters and a NUL. */
size_t ta_topo_dump_json(const ta_topo_t *t, const char *profile, char *buf, size_t cap);
size_t ta_topo_dump_table(const ta_topo_t *t, const char *profile, char *buf, size_t cap);
/* "0-3,8" for a CPU set. */
size_t ta_topo_dump_cpulist(const ta_cpuset_t *s, char *buf, size_t cap);

/* ---- CPU sets -------------------------------------------------------------------------------- */

static inline void ta_cpuset_set(ta_cpuset_t *s, unsigned cpu) {
  s->bits[cpu / 64] |= (uint64_t)1 << (cpu % 64);
}
static inline bool ta_cpuset_has(const ta_cpuset_t *s, unsigned cpu) {
  return cpu < TA_TOPO_MAX_CPUS && (s->bits[cpu / 64] >> (cpu % 64)) & 1;
}
static inline unsigned ta_cpuset_count(const ta_cpuset_t *s) {
  unsigned n = 0;
  for (size_t i = 0; i < TA_ARRAY_LEN(s->bits); i++) n += (unsigned)__builtin_popcountll(s->bits[i]);
  return n;
}

TA_EXTERN_C_END

#endif
