/* procmem.h: the kernel's view of a process's memory, for tieralloc-stat's "ground truth"
 * columns: resident anonymous memory per NUMA node and how much of it sits on transparent
 * hugepages.
 *
 * Which mappings count: anonymous ones only (numa_maps lines without a file=, which are the
 * heap tieralloc maps, but also thread stacks, the brk heap and other anonymous memory of the
 * program). File-backed pages (the binary, libraries, page cache, /dev/shm) are left out: they
 * are not the allocator's and would drown its numbers.
 * Per node: numa_maps' N<node>=<pages> times kernelpagesize_kB, summed over those mappings.
 * Hugepages per node: each mapping's AnonHugePages (from smaps) split over its nodes in
 * proportion to its pages there, which is exact whenever a mapping lies on one node, as
 * tieralloc's node-bound regions do. The process totals come from smaps_rollup. */
#ifndef TA_TOOLS_PROCMEM_H
#define TA_TOOLS_PROCMEM_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TA_PROCMEM_MAX_NODES 1024

typedef struct {
  uint64_t anon_bytes[TA_PROCMEM_MAX_NODES]; /* resident anonymous bytes on each node */
  uint64_t huge_bytes[TA_PROCMEM_MAX_NODES]; /* of which on transparent hugepages */
  int max_node;                              /* highest node seen, -1 when none */
  bool has_nodes;                            /* numa_maps was there (a NUMA kernel) */
  uint64_t mappings;                         /* anonymous mappings counted */
  /* smaps_rollup, whole process (every mapping), bytes */
  uint64_t rss, anonymous, anon_huge, swap;
} ta_procmem_t;

/* Reads numa_maps, smaps and smaps_rollup under `dir` (normally "/proc/<pid>"; tests pass a
 * folder of captured files). Returns 0, or the errno of the first file that could not be
 * opened (ENOENT: process gone or no NUMA support; EACCES: not this user's process). */
int ta_procmem_read(const char *dir, ta_procmem_t *out);

#ifdef __cplusplus
}
#endif

#endif
