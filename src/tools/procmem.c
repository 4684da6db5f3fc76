/* procmem.c: reads a process's numa_maps, smaps and smaps_rollup into a ta_procmem_t (the
 * rules of what counts are in procmem.h). The three files are read one after another, not
 * atomically: a mapping that appears or goes in between is counted without its hugepage share,
 * which the next sample corrects. */
#include "procmem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  uint64_t start;
  uint64_t anon_huge; /* bytes */
} mapping_t;

typedef struct {
  mapping_t *v;
  size_t n, cap;
} mappings_t;

static FILE *open_in(const char *dir, const char *name, int *err) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "re");
  if (!f) *err = errno;
  return f;
}

/* smaps: the AnonHugePages of every mapping, by start address (the kernel lists them in
 * address order, so the array comes out sorted). */
static int read_smaps(const char *dir, mappings_t *m) {
  int err = 0;
  FILE *f = open_in(dir, "smaps", &err);
  if (!f) return err;
  char *line = NULL;
  size_t cap = 0;
  mapping_t *cur = NULL;
  while (getline(&line, &cap, f) > 0) {
    uint64_t a, b, kb;
    if (sscanf(line, "%" SCNx64 "-%" SCNx64 " ", &a, &b) == 2) {
      if (m->n == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 256;
        mapping_t *nv = realloc(m->v, ncap * sizeof(*nv));
        if (!nv) {
          err = ENOMEM;
          break;
        }
        m->v = nv;
        m->cap = ncap;
      }
      cur = &m->v[m->n++];
      cur->start = a;
      cur->anon_huge = 0;
    } else if (cur && sscanf(line, "AnonHugePages: %" SCNu64 " kB", &kb) == 1) {
      cur->anon_huge = kb * 1024;
    }
  }
  free(line);
  fclose(f);
  return err;
}

static uint64_t huge_of(const mappings_t *m, uint64_t start) {
  size_t lo = 0, hi = m->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (m->v[mid].start < start) lo = mid + 1;
    else hi = mid;
  }
  return lo < m->n && m->v[lo].start == start ? m->v[lo].anon_huge : 0;
}

static int read_numa_maps(const char *dir, const mappings_t *m, ta_procmem_t *out) {
  int err = 0;
  FILE *f = open_in(dir, "numa_maps", &err);
  if (!f) return err;
  char *line = NULL;
  size_t cap = 0;
  uint64_t pages[TA_PROCMEM_MAX_NODES] = {0};
  while (getline(&line, &cap, f) > 0) {
    char *save = NULL, *tok = strtok_r(line, " \n", &save);
    if (!tok) continue;
    uint64_t start = strtoull(tok, NULL, 16), page_kb = 4, total = 0;
    bool file = false;
    int lo = TA_PROCMEM_MAX_NODES, hi = -1;
    while ((tok = strtok_r(NULL, " \n", &save))) {
      int node;
      uint64_t n;
      char end;
      if (!strncmp(tok, "file=", 5)) file = true;
      else if (sscanf(tok, "kernelpagesize_kB=%" SCNu64, &n) == 1) page_kb = n;
      else if (sscanf(tok, "N%d=%" SCNu64 "%c", &node, &n, &end) == 2 && node >= 0 &&
               node < TA_PROCMEM_MAX_NODES) {
        pages[node] = n;
        total += n;
        if (node < lo) lo = node;
        if (node > hi) hi = node;
      }
    }
    if (file || hi < 0) {
      for (int i = lo; i <= hi; i++) pages[i] = 0;
      continue;
    }
    out->mappings++;
    uint64_t huge = huge_of(m, start);
    for (int i = lo; i <= hi; i++) {
      if (!pages[i]) continue;
      out->anon_bytes[i] += pages[i] * page_kb * 1024;
      /* Split in proportion to the pages on each node; exact for a one-node mapping. */
      out->huge_bytes[i] += (uint64_t)((double)huge * (double)pages[i] / (double)total);
      if (i > out->max_node) out->max_node = i;
      pages[i] = 0;
    }
  }
  free(line);
  fclose(f);
  return 0;
}

static int read_rollup(const char *dir, ta_procmem_t *out) {
  int err = 0;
  FILE *f = open_in(dir, "smaps_rollup", &err);
  if (!f) return err;
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    uint64_t kb;
    if (sscanf(line, "Rss: %" SCNu64 " kB", &kb) == 1) out->rss = kb * 1024;
    else if (sscanf(line, "Anonymous: %" SCNu64 " kB", &kb) == 1) out->anonymous = kb * 1024;
    else if (sscanf(line, "AnonHugePages: %" SCNu64 " kB", &kb) == 1) out->anon_huge = kb * 1024;
    else if (sscanf(line, "Swap: %" SCNu64 " kB", &kb) == 1) out->swap = kb * 1024;
  }
  free(line);
  fclose(f);
  return 0;
}

int ta_procmem_read(const char *dir, ta_procmem_t *out) {
  memset(out, 0, sizeof(*out));
  out->max_node = -1;
  mappings_t m = {0};
  int err = read_rollup(dir, out);
  if (!err) err = read_smaps(dir, &m);
  if (!err) {
    /* A kernel built without NUMA has no numa_maps: the totals still stand. */
    err = read_numa_maps(dir, &m, out);
    out->has_nodes = err == 0;
    if (err == ENOENT) err = 0;
  }
  free(m.v);
  return err;
}
