/* tiering.c: the tiering benchmark's workload, run inside the multi-node guest under each
 * allocator (LD_PRELOAD swaps them; this binary is never linked to tieralloc).
 *
 * N objects of 64 KiB to 1 MiB (so a hot set is separable page by page) are allocated with
 * malloc and written whole, with the DRAM node's free memory first cut down to a budget below
 * the working set. Then, for a fixed time, accesses follow a known hot set: hot_pct% of the
 * objects take hot_share% of the accesses, and the hot set is drawn anew at each phase. An access
 * reads one byte of a random cache line of its object; with --mix rw (the default) it also writes
 * it back incremented, as a cache server does when it bumps an LRU stamp or a refcount on every
 * hit; --mix ro only reads (a read-mostly store). The difference matters to an allocator whose
 * access signal sees only writes (soft-dirty bits). About
 * every sample_ms the pages of every object are located with move_pages (no targets: ground
 * truth), and one line per sample reports the hot set's DRAM residency, the bytes migrated so
 * far (the kernel's pgmigrate_success and the allocator's own statistic where it has one), and
 * the MODELLED average access latency of the interval: each access costs the HMAT latency of
 * the node holding the page it touched (accesses pick a page uniformly inside their object, so
 * an object costs the mean over its pages). The oracle is the same interval's accesses against
 * the best placement of the same DRAM budget: objects by accesses per byte, greedily, the last
 * one in part (given at least the DRAM the allocator's objects hold). The guest runs under TCG emulation, so no wall-clock time is a result here: time
 * only paces the samples and the phases.
 *
 * Internal arrays come from mmap, so the allocator under test sees only the objects' mallocs. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <numaif.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  unsigned objects, min_kb, max_kb, hot_pct, hot_share, phases, sample_ms, seconds;
  unsigned budget_mb, seed;
  int dram, far;
  int write; /* --mix rw: each access also writes the byte it read */
  const char *name;
} opts_t;

typedef struct {
  char *p;
  size_t size, npages, first_page; /* first_page: index in the page arrays */
  uint64_t count;                  /* accesses in the current interval */
  double mean_ns;                  /* mean latency over its pages at the last sample */
  size_t on_dram;                  /* its pages on the DRAM node at the last sample */
  unsigned char hot;
} object_t;

static size_t page_size;
static double lat_dram, lat_far;

static void *map(size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("tiering: mmap");
    exit(2);
  }
  return p;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift64*: the same sequence under every allocator. */
static uint64_t rng_state;
static uint64_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}

static int read_text(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, cap - 1, f);
  buf[n] = 0;
  fclose(f);
  return 0;
}

/* HMAT latency (ns) of `node` from its nearest initiator: mean of read and write latency. */
static double hmat_latency(int node) {
  char path[160], buf[64];
  double sum = 0;
  int n = 0;
  for (int w = 0; w < 2; w++) {
    snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/access0/initiators/%s_latency", node,
             w ? "write" : "read");
    if (read_text(path, buf, sizeof(buf)) == 0 && atof(buf) > 0) {
      sum += atof(buf);
      n++;
    }
  }
  if (!n) {
    fprintf(stderr, "tiering: node %d has no HMAT latency in sysfs\n", node);
    exit(2);
  }
  return sum / n;
}

static uint64_t node_meminfo_kb(int node, const char *key) {
  char path[96], buf[4096];
  snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", node);
  if (read_text(path, buf, sizeof(buf)) != 0) return 0;
  const char *p = strstr(buf, key);
  return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* Sum of the node's zones' low watermarks, bytes: below it the kernel serves from other nodes. */
static uint64_t low_watermark(int node) {
  static char buf[1 << 20];
  if (read_text("/proc/zoneinfo", buf, sizeof(buf)) != 0) return 0;
  uint64_t pages = 0;
  char head[32];
  snprintf(head, sizeof(head), "Node %d, zone", node);
  for (const char *z = strstr(buf, head); z; z = strstr(z + 1, head)) {
    const char *low = strstr(z, "\n        low ");
    const char *next = strstr(z + 1, "Node ");
    if (low && (!next || low < next)) pages += strtoull(low + 14, NULL, 10);
  }
  return pages * page_size;
}

static uint64_t vmstat(const char *key) {
  static char buf[1 << 16];
  if (read_text("/proc/vmstat", buf, sizeof(buf)) != 0) return 0;
  char k[64];
  snprintf(k, sizeof(k), "\n%s ", key);
  const char *p = strstr(buf, k);
  return p ? strtoull(p + strlen(k), NULL, 10) : 0;
}

/* One of the allocator's own statistics, where it keeps them (tieralloc: stats.migrated_bytes,
 * stats.access_signal); -1 under an allocator without tieralloc_ctl. */
static long long allocator_stat(const char *name) {
  int (*ctl)(const char *, void *, size_t *, void *, size_t) =
      (int (*)(const char *, void *, size_t *, void *, size_t))dlsym(RTLD_DEFAULT, "tieralloc_ctl");
  if (!ctl) return -1;
  uint64_t epoch = 1, v = 0;
  size_t len = sizeof(v);
  if (ctl("epoch", NULL, NULL, &epoch, sizeof(epoch)) != 0) return -1;
  if (ctl(name, &v, &len, NULL, 0) != 0) return -1;
  return (long long)v;
}

/* Cuts the DRAM node's free memory down to the budget with a bound, touched filler, so that the
 * working set does not fit there. Returns the DRAM bytes left to the workload: free memory
 * above the low watermark. */
static uint64_t fill_dram(const opts_t *o) {
  uint64_t wm = low_watermark(o->dram), want = (uint64_t)o->budget_mb << 20;
  unsigned long mask = 1ul << o->dram;
  for (int round = 0; round < 8; round++) {
    uint64_t free_b = node_meminfo_kb(o->dram, "MemFree:") << 10;
    if (free_b <= wm + want + (4u << 20)) break;
    size_t bytes = (size_t)(free_b - wm - want) & ~(page_size - 1);
    char *p = map(bytes);
    if (mbind(p, bytes, MPOL_BIND, &mask, sizeof(mask) * 8, 0) != 0) {
      perror("tiering: mbind of the DRAM filler");
      exit(2);
    }
    for (size_t off = 0; off < bytes; off += page_size) p[off] = 1;
  }
  uint64_t free_b = node_meminfo_kb(o->dram, "MemFree:") << 10;
  return free_b > wm ? free_b - wm : 0;
}

/* Oracle: the same accesses against the best fractional placement of `budget` DRAM bytes. */
static int by_density(const void *a, const void *b) {
  const object_t *x = *(object_t *const *)a, *y = *(object_t *const *)b;
  double dx = (double)x->count / (double)x->size, dy = (double)y->count / (double)y->size;
  return dx < dy ? 1 : dx > dy ? -1 : 0;
}

/* The oracle's latency; *cold_share gets the share of the cold objects' accesses it serves
 * from DRAM (what it does with the DRAM the hot set leaves, the diagnostic beside ours). */
static double oracle_ns(object_t *obj, object_t **order, unsigned n, uint64_t budget, double *cold_share) {
  for (unsigned i = 0; i < n; i++) order[i] = &obj[i];
  qsort(order, n, sizeof(*order), by_density);
  double left = (double)budget, cost = 0, total = 0, cold = 0, cold_dram = 0;
  for (unsigned i = 0; i < n; i++) {
    object_t *x = order[i];
    double pages = (double)(x->npages * page_size);
    double frac = left >= pages ? 1.0 : left > 0 ? left / pages : 0.0;
    left -= frac * pages;
    cost += (double)x->count * (frac * lat_dram + (1 - frac) * lat_far);
    total += (double)x->count;
    if (!x->hot) {
      cold += (double)x->count;
      cold_dram += (double)x->count * frac;
    }
  }
  *cold_share = cold ? cold_dram / cold : 0;
  return total ? cost / total : 0;
}

static void pick_hot(object_t *obj, unsigned n, unsigned nhot, unsigned *hot, unsigned *cold) {
  for (unsigned i = 0; i < n; i++) obj[i].hot = 0;
  for (unsigned k = 0; k < nhot;) {
    unsigned i = (unsigned)(rnd() % n);
    if (!obj[i].hot) {
      obj[i].hot = 1;
      k++;
    }
  }
  unsigned h = 0, c = 0;
  for (unsigned i = 0; i < n; i++) {
    if (obj[i].hot) hot[h++] = i;
    else cold[c++] = i;
  }
}

static unsigned opt(int argc, char **argv, const char *name, unsigned def) {
  for (int i = 1; i + 1 < argc; i++)
    if (!strcmp(argv[i], name)) return (unsigned)strtoul(argv[i + 1], NULL, 10);
  return def;
}

int main(int argc, char **argv) {
  opts_t o = {
      .objects = opt(argc, argv, "--objects", 640),
      .min_kb = opt(argc, argv, "--min-kb", 64),
      .max_kb = opt(argc, argv, "--max-kb", 1024),
      .hot_pct = opt(argc, argv, "--hot-pct", 10),
      .hot_share = opt(argc, argv, "--hot-share", 90),
      .phases = opt(argc, argv, "--phases", 3),
      .sample_ms = opt(argc, argv, "--sample-ms", 1000),
      .seconds = opt(argc, argv, "--seconds", 30),
      .budget_mb = opt(argc, argv, "--budget-mb", 128),
      .seed = opt(argc, argv, "--seed", 1),
      .dram = (int)opt(argc, argv, "--dram-node", 0),
      .far = (int)opt(argc, argv, "--far-node", 1),
      .write = 1,
      .name = "unnamed",
  };
  for (int i = 1; i + 1 < argc; i++) {
    if (!strcmp(argv[i], "--name")) o.name = argv[i + 1];
    if (!strcmp(argv[i], "--mix")) {
      if (strcmp(argv[i + 1], "ro") && strcmp(argv[i + 1], "rw")) {
        fprintf(stderr, "tiering: --mix is ro or rw, not '%s'\n", argv[i + 1]);
        return 2;
      }
      o.write = !strcmp(argv[i + 1], "rw");
    }
  }
  page_size = (size_t)sysconf(_SC_PAGESIZE);
  lat_dram = hmat_latency(o.dram);
  lat_far = hmat_latency(o.far);
  rng_state = 0x9e3779b97f4a7c15ull ^ o.seed;

  uint64_t budget = fill_dram(&o);
  uint64_t mig0 = vmstat("pgmigrate_success");
  unsigned n = o.objects, nhot = n * o.hot_pct / 100;
  if (nhot == 0) nhot = 1;
  object_t *obj = map(n * sizeof(object_t));
  object_t **order = map(n * sizeof(object_t *));
  unsigned *hot = map(n * sizeof(unsigned)), *cold = map(n * sizeof(unsigned));
  size_t npages = 0, bytes = 0;
  for (unsigned i = 0; i < n; i++) {
    size_t kb = o.min_kb + (size_t)(rnd() % (o.max_kb - o.min_kb + 1));
    obj[i].size = kb << 10;
    obj[i].p = malloc(obj[i].size);
    if (!obj[i].p) {
      fprintf(stderr, "tiering: malloc of %zu bytes failed\n", obj[i].size);
      return 2;
    }
    memset(obj[i].p, (int)(i & 0xff), obj[i].size);
    uintptr_t first = (uintptr_t)obj[i].p & ~(page_size - 1);
    obj[i].npages = ((uintptr_t)obj[i].p + obj[i].size - first + page_size - 1) / page_size;
    obj[i].first_page = npages;
    npages += obj[i].npages;
    bytes += obj[i].size;
  }
  void **pages = map(npages * sizeof(void *));
  int *status = map(npages * sizeof(int));
  for (unsigned i = 0; i < n; i++) {
    uintptr_t first = (uintptr_t)obj[i].p & ~(page_size - 1);
    for (size_t k = 0; k < obj[i].npages; k++) pages[obj[i].first_page + k] = (void *)(first + k * page_size);
  }
  printf("config name=%s mix=%s objects=%u hot=%u hot_share=%u working_set=%zu budget=%llu lat_dram=%.0f "
         "lat_far=%.0f phases=%u seconds=%u page=%zu\n",
         o.name, o.write ? "rw" : "ro", n, nhot, o.hot_share, bytes, (unsigned long long)budget, lat_dram, lat_far, o.phases,
         o.seconds, page_size);
  fflush(stdout);

  double start = now_s(), next_sample = start + o.sample_ms / 1000.0;
  unsigned phase = 0;
  pick_hot(obj, n, nhot, hot, cold);
  uint64_t interval_accesses = 0;
  unsigned long long checksum = 0;
  for (;;) {
    for (int k = 0; k < 4096; k++) {
      object_t *x = (rnd() % 100 < o.hot_share) ? &obj[hot[rnd() % nhot]] : &obj[cold[rnd() % (n - nhot)]];
      size_t off = (size_t)(rnd() % (x->size / 64)) * 64;
      volatile char *c = x->p + off;
      checksum += (unsigned char)*c;
      if (o.write) *c = (char)(*c + 1);
      x->count++;
    }
    interval_accesses += 4096;
    double t = now_s();
    if (t < next_sample) continue;
    /* Sample: where is every page now? */
    if (move_pages(0, npages, pages, NULL, status, 0) != 0) {
      perror("tiering: move_pages");
      return 2;
    }
    size_t hot_pages = 0, hot_dram = 0, dram = 0, far = 0, absent = 0;
    double cost = 0, total = 0;
    /* Diagnostics of the DRAM the hot set leaves: the share of cold accesses served from DRAM,
     * and the mean size of cold objects mostly on DRAM (the oracle keeps the smallest: accesses
     * are per object, so they are the densest). */
    double cold_acc = 0, cold_acc_dram = 0, cold_dram_kb = 0;
    unsigned cold_dram_objs = 0;
    for (unsigned i = 0; i < n; i++) {
      object_t *x = &obj[i];
      size_t on_dram = 0, on_far = 0;
      for (size_t k = 0; k < x->npages; k++) {
        int s = status[x->first_page + k];
        if (s == o.dram) on_dram++;
        else if (s >= 0) on_far++; /* any other node costs the far latency */
        else absent++;
      }
      /* Pages move_pages cannot see (kernel NUMA balancing makes sampled pages PROT_NONE for a
       * moment) are left out: the object costs the mean over the pages that were seen. */
      size_t seen = on_dram + on_far;
      x->on_dram = on_dram;
      x->mean_ns = seen ? (on_dram * lat_dram + on_far * lat_far) / (double)seen : lat_far;
      dram += on_dram;
      far += on_far;
      if (x->hot) {
        hot_pages += seen;
        hot_dram += on_dram;
      }
      cost += (double)x->count * x->mean_ns;
      total += (double)x->count;
      if (!x->hot && seen) {
        cold_acc += (double)x->count;
        cold_acc_dram += (double)x->count * (double)on_dram / (double)seen;
        if (2 * on_dram > seen) {
          cold_dram_objs++;
          cold_dram_kb += (double)(x->size >> 10);
        }
      }
    }
    /* The oracle's DRAM: the budget, or what the objects hold there now if that is more (the
     * kernel's watermarks are not exact), so it never has less DRAM than the allocator used. */
    uint64_t dram_bytes = (uint64_t)dram * page_size;
    double oracle_cold_share;
    double oracle = oracle_ns(obj, order, n, dram_bytes > budget ? dram_bytes : budget, &oracle_cold_share);
    printf("sample name=%s t=%.2f phase=%u hot_residency=%.4f modelled_ns=%.2f oracle_ns=%.2f "
           "dram_bytes=%zu far_bytes=%zu absent_pages=%zu kernel_migrated=%llu allocator_migrated=%lld "
           "accesses=%llu access_signal=%lld rounds=%lld cold_dram_share=%.4f oracle_cold_dram_share=%.4f "
           "cold_dram_objects=%u cold_dram_mean_kb=%.0f\n",
           o.name, t - start, phase, hot_pages ? (double)hot_dram / (double)hot_pages : 0.0,
           total ? cost / total : 0.0, oracle, (size_t)dram_bytes, far * page_size, absent,
           (unsigned long long)((vmstat("pgmigrate_success") - mig0) * page_size), allocator_stat("stats.migrated_bytes"),
           (unsigned long long)interval_accesses, allocator_stat("stats.access_signal"),
           allocator_stat("stats.migrate_rounds"), cold_acc ? cold_acc_dram / cold_acc : 0.0, oracle_cold_share,
           cold_dram_objs, cold_dram_objs ? cold_dram_kb / cold_dram_objs : 0.0);
    fflush(stdout);
    for (unsigned i = 0; i < n; i++) obj[i].count = 0;
    interval_accesses = 0;
    t = now_s();
    if (t - start >= o.seconds) break;
    unsigned want_phase = (unsigned)((t - start) * o.phases / o.seconds);
    if (want_phase != phase && want_phase < o.phases) {
      phase = want_phase;
      pick_hot(obj, n, nhot, hot, cold);
    }
    next_sample = t + o.sample_ms / 1000.0;
  }
  for (unsigned i = 0; i < n; i++) free(obj[i].p);
  printf("done name=%s checksum=%llu demoted=%lld promoted=%lld kernel_moved=%lld demote_fallbacks=%lld "
         "sampled_pages=%lld\n",
         o.name, checksum, allocator_stat("stats.demoted"), allocator_stat("stats.promoted"),
         allocator_stat("stats.kernel_moved"), allocator_stat("stats.demote_fallbacks"),
         allocator_stat("stats.sampled_pages"));
  /* Flushed here, not at exit: memkind's libmemtier releases its heap in a destructor that runs
   * before stdio's final flush, and the buffered line came out as NUL bytes. */
  fflush(stdout);
  return 0;
}
