/* topo_dump.c: a snapshot as text: the human table and the JSON document whose shape is a
 * contract with scripts (docs/topology.md). Writes into a caller buffer with snprintf semantics
 * (returns the length needed), so the tool sizes its buffer and the allocator could call it
 * without allocating. Node numbers in the output are the kernel's (os_index), never indexes. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "topology.h"

typedef struct {
  char *buf;
  size_t cap, len;
} out_t;

static void put(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_t *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t room = o->len < o->cap ? o->cap - o->len : 0;
  int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
  va_end(ap);
  if (n > 0) o->len += (size_t)n;
}

static void finish(out_t *o) {
  if (o->cap) o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
}

size_t ta_topo_dump_cpulist(const ta_cpuset_t *s, char *buf, size_t cap) {
  out_t o = {buf, cap, 0};
  bool first = true;
  for (unsigned c = 0; c < TA_TOPO_MAX_CPUS; c++) {
    if (!ta_cpuset_has(s, c)) continue;
    unsigned e = c;
    while (e + 1 < TA_TOPO_MAX_CPUS && ta_cpuset_has(s, e + 1)) e++;
    if (e == c) put(&o, "%s%u", first ? "" : ",", c);
    else put(&o, "%s%u-%u", first ? "" : ",", c, e);
    first = false;
    c = e;
  }
  if (cap && o.len == 0) buf[0] = '\0';
  finish(&o);
  return o.len;
}

static void put_cpus(out_t *o, const ta_cpuset_t *s) {
  char tmp[8192];
  ta_topo_dump_cpulist(s, tmp, sizeof(tmp));
  put(o, "%s", tmp);
}

static void put_rank_json(out_t *o, const ta_topo_t *t, const ta_topo_initiator_t *in) {
  put(o, "[");
  for (unsigned i = 0; i < in->nrank; i++) {
    bool opens = i == 0 || in->group[i] != in->group[i - 1];
    bool closes = i + 1 == in->nrank || in->group[i + 1] != in->group[i];
    put(o, "%s%s%d%s", opens && i ? ", " : (i ? ", " : ""), opens ? "[" : "", t->node[in->rank[i]].os_index,
        closes ? "]" : "");
  }
  put(o, "]");
}

size_t ta_topo_dump_json(const ta_topo_t *t, const char *profile, char *buf, size_t cap) {
  out_t o = {buf, cap, 0};
  put(&o, "{\n  \"source\": \"%s\",\n  \"profile\": \"%s\",\n  \"nodes\": [", t->source ? t->source : "",
      profile ? profile : "generic");
  for (unsigned i = 0; i < t->nnodes; i++) {
    const ta_topo_node_t *nd = &t->node[i];
    put(&o, "%s\n    {\"os_index\": %d, \"kind\": \"%s\", \"cpus\": \"", i ? "," : "", nd->os_index,
        ta_topology_kind_name(nd->kind));
    put_cpus(&o, &nd->cpus);
    put(&o, "\", \"capacity_bytes\": %llu, \"usable\": %s, \"memory_tier\": ",
        (unsigned long long)nd->capacity_bytes, nd->usable ? "true" : "false");
    if (nd->memory_tier >= 0) put(&o, "%d}", nd->memory_tier);
    else put(&o, "null}");
  }
  put(&o, "\n  ],\n  \"initiators\": [");
  for (unsigned i = 0; i < t->ninitiators; i++) {
    const ta_topo_initiator_t *in = &t->initiator[i];
    put(&o, "%s\n    {\"cpus\": \"", i ? "," : "");
    put_cpus(&o, &in->cpus);
    if (in->home != TA_TOPO_NONE) put(&o, "\", \"home_node\": %d, \"rank\": ", t->node[in->home].os_index);
    else put(&o, "\", \"home_node\": null, \"rank\": ");
    put_rank_json(&o, t, in);
    put(&o, ", \"default_heap\": [");
    for (unsigned k = 0; k < in->nheap; k++) put(&o, "%s%d", k ? ", " : "", t->node[in->heap[k]].os_index);
    put(&o, "]}");
  }
  put(&o, "\n  ],\n  \"distances\": ");
  if (t->has_distance) {
    put(&o, "[");
    for (unsigned a = 0; a < t->nnodes; a++) {
      put(&o, "%s[", a ? ", " : "");
      for (unsigned b = 0; b < t->nnodes; b++) put(&o, "%s%u", b ? ", " : "", t->distance[a][b]);
      put(&o, "]");
    }
    put(&o, "]");
  } else {
    put(&o, "null");
  }
  put(&o, ",\n  \"hmat\": [");
  bool first = true;
  for (unsigned a = 0; a < t->nnodes; a++) {
    for (unsigned b = 0; b < t->nnodes; b++) {
      if (!t->latency[a][b] && !t->bandwidth[a][b]) continue;
      put(&o, "%s\n    {\"initiator\": %d, \"target\": %d, \"latency_ns\": ", first ? "" : ",", t->node[a].os_index,
          t->node[b].os_index);
      if (t->latency[a][b]) put(&o, "%u", t->latency[a][b]);
      else put(&o, "null");
      put(&o, ", \"bandwidth_mbs\": ");
      if (t->bandwidth[a][b]) put(&o, "%u}", t->bandwidth[a][b]);
      else put(&o, "null}");
      first = false;
    }
  }
  put(&o, "%s]\n}\n", first ? "" : "\n  ");
  finish(&o);
  return o.len;
}

static void put_size(out_t *o, uint64_t bytes) {
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  unsigned u = 0;
  double v = (double)bytes;
  while (v >= 1024 && u + 1 < TA_ARRAY_LEN(unit)) { v /= 1024; u++; }
  put(o, u ? "%8.1f %-3s" : "%8.0f %-3s", v, unit[u]);
}

size_t ta_topo_dump_table(const ta_topo_t *t, const char *profile, char *buf, size_t cap) {
  out_t o = {buf, cap, 0};
  put(&o, "source %s, CPU profile %s, %u node%s, %u CPU node%s\n\n", t->source ? t->source : "?",
      profile ? profile : "generic", t->nnodes, t->nnodes == 1 ? "" : "s", ta_topology_cpu_node_count(t),
      ta_topology_cpu_node_count(t) == 1 ? "" : "s");
  put(&o, "node  kind     usable  capacity      tier  cpus\n");
  for (unsigned i = 0; i < t->nnodes; i++) {
    const ta_topo_node_t *nd = &t->node[i];
    put(&o, "%4d  %-7s  %-6s  ", nd->os_index, ta_topology_kind_name(nd->kind), nd->usable ? "yes" : "no");
    put_size(&o, nd->capacity_bytes);
    if (nd->memory_tier >= 0) put(&o, "  %4d  ", nd->memory_tier);
    else put(&o, "     -  ");
    put_cpus(&o, &nd->cpus);
    put(&o, "%s\n", nd->ncpus ? "" : "(none)");
  }
  if (t->has_distance) {
    put(&o, "\ndistances (SLIT)\n    ");
    for (unsigned b = 0; b < t->nnodes; b++) put(&o, " %4d", t->node[b].os_index);
    put(&o, "\n");
    for (unsigned a = 0; a < t->nnodes; a++) {
      put(&o, "%4d", t->node[a].os_index);
      for (unsigned b = 0; b < t->nnodes; b++) put(&o, " %4u", t->distance[a][b]);
      put(&o, "\n");
    }
  }
  if (t->has_hmat) {
    put(&o, "\nHMAT (best initiators)   latency ns  bandwidth MB/s\n");
    for (unsigned a = 0; a < t->nnodes; a++)
      for (unsigned b = 0; b < t->nnodes; b++)
        if (t->latency[a][b] || t->bandwidth[a][b])
          put(&o, "  node %4d -> node %4d  %10u  %14u\n", t->node[a].os_index, t->node[b].os_index,
              t->latency[a][b], t->bandwidth[a][b]);
  }
  put(&o, "\ninitiator CPUs        home  tiers (nearest first; ties in brackets)  default heap\n");
  for (unsigned i = 0; i < t->ninitiators; i++) {
    const ta_topo_initiator_t *in = &t->initiator[i];
    char cpus[64];
    ta_topo_dump_cpulist(&in->cpus, cpus, sizeof(cpus));
    put(&o, "  %-18s ", cpus);
    if (in->home != TA_TOPO_NONE) put(&o, "%4d  ", t->node[in->home].os_index);
    else put(&o, "   -  ");
    size_t start = o.len;
    for (unsigned k = 0; k < in->nrank; k++) {
      bool opens = k == 0 || in->group[k] != in->group[k - 1];
      bool closes = k + 1 == in->nrank || in->group[k + 1] != in->group[k];
      put(&o, "%s%s%d%s", opens && k ? " " : (k ? "," : ""), opens ? "[" : "", t->node[in->rank[k]].os_index,
          closes ? "]" : "");
    }
    size_t used = o.len - start;
    put(&o, "%*s ", used < 40 ? (int)(40 - used) : 0, "");
    for (unsigned k = 0; k < in->nheap; k++) put(&o, "%s%d", k ? "," : "", t->node[in->heap[k]].os_index);
    put(&o, "\n");
  }
  finish(&o);
  return o.len;
}
