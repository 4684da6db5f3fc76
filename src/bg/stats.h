/* stats.h: collecting, rendering and publishing the statistics declared in stats.def. A
 * snapshot is taken under each structure's own lock in turn (not one global stop), so values
 * of different structures may be a few operations apart. */
#ifndef TA_STATS_H
#define TA_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "tcache.h"

TA_EXTERN_C_BEGIN

#define TA_STATS_VERSION 1

typedef struct {
#define TA_STAT_HEAP(name, unit, doc) uint64_t name;
#define TA_STAT_NODE(name, unit, doc)
#define TA_STAT_CLASS(name, unit, doc)
#include "stats.def"
#undef TA_STAT_HEAP
#undef TA_STAT_NODE
#undef TA_STAT_CLASS
} ta_stats_heap_t;

typedef struct {
  unsigned node;      /* kernel node number */
  const char *kind;   /* "dram", "cxl", ... from the topology */
  int tier;           /* tier of this node from CPU 0's point of view, -1 unknown */
  char cpus[64];      /* "0-3,8", "" for a CPU-less node */
#define TA_STAT_HEAP(name, unit, doc)
#define TA_STAT_NODE(name, unit, doc) uint64_t name;
#define TA_STAT_CLASS(name, unit, doc)
#include "stats.def"
#undef TA_STAT_HEAP
#undef TA_STAT_NODE
#undef TA_STAT_CLASS
} ta_stats_node_t;

typedef struct {
#define TA_STAT_HEAP(name, unit, doc)
#define TA_STAT_NODE(name, unit, doc)
#define TA_STAT_CLASS(name, unit, doc) uint64_t name;
#include "stats.def"
#undef TA_STAT_HEAP
#undef TA_STAT_NODE
#undef TA_STAT_CLASS
} ta_stats_class_t;

typedef struct ta_stats {
  uint64_t time_ns;
  ta_stats_heap_t heap;
  unsigned nnodes;
  ta_stats_node_t node[TA_TOPO_MAX_NODES];
  ta_stats_class_t cls[TA_NCLASSES];
} ta_stats_t;

void ta_stats_collect(ta_stats_t *s);

/* Render into buf (snprintf semantics: returns the length the whole text needs). */
size_t ta_stats_render_json(const ta_stats_t *s, char *buf, size_t cap);
size_t ta_stats_render_table(const ta_stats_t *s, char *buf, size_t cap);

/* Writes the live snapshot file (see docs/stats.md); returns 0 or an errno value. */
int ta_stats_publish(void);
/* Removes this process's live snapshot file (at exit). */
void ta_stats_unpublish(void);
/* In a forked child: the publishing lock made fresh. */
void ta_stats_postfork_child(void);

TA_EXTERN_C_END

#endif
