/* Harness of the benchmark workloads (see harness.h): arguments, generator, clock, self-sampling of
 * memory from /proc without allocating, and the JSON result line. */
#define _GNU_SOURCE
#include "harness.h"

#include <dlfcn.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- arguments ---- */

static void usage(const char *name) {
  fprintf(stderr,
          "usage: %s [--quick | --full] [--scale F] [--threads N] [--idle SECONDS] [--seed N]\n"
          "Prints one line 'RESULT {json}' on stdout.\n",
          name);
  exit(2);
}

void wl_args_parse(wl_args_t *a, int argc, char **argv, const char *name, double idle_quick,
                   double idle_full) {
  memset(a, 0, sizeof *a);
  a->name = name;
  a->scale = 1.0;
  a->threads = 2;
  a->seed = 0x7a11a110c5eedULL;
  double idle = -1;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(arg, "--quick") == 0) {
      a->quick = 1;
    } else if (strcmp(arg, "--full") == 0) {
      a->quick = 0;
    } else if (strcmp(arg, "--scale") == 0 && val) {
      a->scale = strtod(val, NULL);
      i++;
    } else if (strcmp(arg, "--threads") == 0 && val) {
      a->threads = atoi(val);
      i++;
    } else if (strcmp(arg, "--idle") == 0 && val) {
      idle = strtod(val, NULL);
      i++;
    } else if (strcmp(arg, "--seed") == 0 && val) {
      a->seed = strtoull(val, NULL, 0);
      i++;
    } else {
      usage(name);
    }
  }
  if (a->scale <= 0 || a->threads < 1 || a->threads > 256) usage(name);
  a->idle_s = idle >= 0 ? idle : (a->quick ? idle_quick : idle_full);
}

uint64_t wl_count(const wl_args_t *a, uint64_t quick, uint64_t full) {
  double n = (double)(a->quick ? quick : full) * a->scale;
  return n < 1 ? 1 : (uint64_t)n;
}

/* ---- generator ---- */

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void wl_rng_seed(wl_rng_t *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t wl_rng_next(wl_rng_t *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

uint64_t wl_rng_range(wl_rng_t *r, uint64_t lo, uint64_t hi) {
  return lo + wl_rng_next(r) % (hi - lo + 1);
}

double wl_rng_unit(wl_rng_t *r) { return (double)(wl_rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t wl_rng_logrange(wl_rng_t *r, uint64_t lo, uint64_t hi) {
  double v = exp(log((double)lo) + wl_rng_unit(r) * (log((double)hi + 1) - log((double)lo)));
  uint64_t n = (uint64_t)v;
  return n < lo ? lo : n > hi ? hi : n;
}

double wl_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double wl_cpu_now(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

double wl_thread_cpu_now(void) { return clock_s(CLOCK_THREAD_CPUTIME_ID); }

void wl_touch(void *p, size_t size) {
  volatile char *c = p;
  for (size_t off = 0; off < size; off += 4096) c[off] = (char)off;
  if (size) c[size - 1] = 1;
}

/* ---- memory sampling: /proc files read into static buffers ---- */

static char file_buf[1 << 16];

/* Reads a whole small file (status, smaps_rollup) into file_buf; returns its length or -1. */
static long read_small(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  long n = 0;
  for (;;) {
    ssize_t r = read(fd, file_buf + n, sizeof file_buf - 1 - (size_t)n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += r;
    if ((size_t)n >= sizeof file_buf - 1) break;
  }
  close(fd);
  file_buf[n] = 0;
  return n;
}

/* Value in kB of "Field:   123 kB" in file_buf, or -1. */
static long field_kb(const char *field) {
  size_t len = strlen(field);
  for (const char *p = file_buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
    if (strncmp(p, field, len) == 0 && p[len] == ':') return strtol(p + len + 1, NULL, 10);
  }
  return -1;
}

int wl_numa_nodes(void) {
  static int cached = 0;
  if (cached) return cached;
  /* "0", "0-1", "0,2-3": count every listed node. */
  long n = read_small("/sys/devices/system/node/online");
  int count = 0;
  if (n > 0) {
    const char *p = file_buf;
    while (*p >= '0' && *p <= '9') {
      char *end;
      long lo = strtol(p, &end, 10), hi = lo;
      if (*end == '-') hi = strtol(end + 1, &end, 10);
      count += (int)(hi - lo + 1);
      p = *end == ',' ? end + 1 : end;
    }
  }
  cached = count > 0 ? count : 1;
  return cached;
}

/* Sums resident kB per node from /proc/self/numa_maps, streamed line by line: the file can be
 * larger than the buffer. Each line has "N<node>=<pages>" and "kernelpagesize_kB=<k>". */
static void numa_residency(wl_mem_t *m) {
  memset(m->node_kb, 0, sizeof m->node_kb);
  int fd = open("/proc/self/numa_maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  size_t have = 0;
  for (;;) {
    ssize_t r = read(fd, file_buf + have, sizeof file_buf - 1 - have);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0 && have == 0) break;
    have += r > 0 ? (size_t)r : 0;
    file_buf[have] = 0;
    char *line = file_buf, *nl;
    while ((nl = strchr(line, '\n')) != NULL || (r <= 0 && *line)) {
      if (nl) *nl = 0;
      long page_kb = 4;
      const char *k = strstr(line, "kernelpagesize_kB=");
      if (k) page_kb = strtol(k + 18, NULL, 10);
      for (const char *p = strstr(line, " N"); p; p = strstr(p + 1, " N")) {
        char *end;
        long node = strtol(p + 2, &end, 10);
        if (end == p + 2 || *end != '=') continue;
        long pages = strtol(end + 1, NULL, 10);
        if (node >= 0 && node < WL_MAX_NODES) m->node_kb[node] += pages * page_kb;
      }
      if (!nl) {
        line += strlen(line);
        break;
      }
      line = nl + 1;
    }
    size_t rest = have - (size_t)(line - file_buf);
    memmove(file_buf, line, rest);
    have = rest;
    if (r <= 0) break;
    if (have >= sizeof file_buf - 1) have = 0; /* a line longer than the buffer: skip it */
  }
  close(fd);
}

void wl_mem_sample(wl_mem_t *m) {
  memset(m, 0, sizeof *m);
  if (read_small("/proc/self/smaps_rollup") > 0) {
    m->rss_kb = field_kb("Rss");
    m->anon_kb = field_kb("Anonymous");
    m->anon_huge_kb = field_kb("AnonHugePages");
  }
  if (read_small("/proc/self/status") > 0) {
    m->hwm_kb = field_kb("VmHWM");
    if (m->rss_kb < 0) m->rss_kb = field_kb("VmRSS");
  }
  m->nnodes = wl_numa_nodes();
  if (m->nnodes > 1) numa_residency(m);
}

void wl_allocator_stats(const char *checkpoint) {
  /* Off unless asked for: looking the symbol up and printing call the allocator. */
  if (!getenv("WL_ALLOC_STATS")) return;
  typedef void (*print_fn)(void (*)(void *, const char *), void *, unsigned);
  print_fn print = (print_fn)dlsym(RTLD_DEFAULT, "tieralloc_stats_print");
  if (!print) return;
  fprintf(stderr, "== allocator statistics at %s ==\n", checkpoint);
  print(NULL, NULL, 0);
}

/* ---- JSON result line ---- */

static char out_buf[1 << 17];
static size_t out_len;
static int out_need_comma;

static void out_raw(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out_buf + out_len, sizeof out_buf - out_len, fmt, ap);
  va_end(ap);
  if (n > 0) out_len += (size_t)n < sizeof out_buf - out_len ? (size_t)n : sizeof out_buf - out_len - 1;
}

void wl_out_key(const char *key) {
  if (out_need_comma) out_raw(",");
  if (key) out_raw("\"%s\":", key);
  out_need_comma = 1;
}

void wl_out_begin(const wl_args_t *a) {
  out_len = 0;
  out_need_comma = 0;
  out_raw("RESULT {");
  wl_out_str("workload", a->name);
  wl_out_str("mode", a->quick ? "quick" : "full");
  wl_out_num("scale", a->scale);
  wl_out_int("threads", a->threads);
}

void wl_out_int(const char *key, long long v) {
  wl_out_key(key);
  out_raw("%lld", v);
}

void wl_out_num(const char *key, double v) {
  wl_out_key(key);
  if (isfinite(v))
    out_raw("%.6g", v);
  else
    out_raw("null");
}

void wl_out_str(const char *key, const char *v) {
  wl_out_key(key);
  out_raw("\"%s\"", v);
}

void wl_out_obj_begin(const char *key) {
  wl_out_key(key);
  out_raw("{");
  out_need_comma = 0;
}

void wl_out_obj_end(void) {
  out_raw("}");
  out_need_comma = 1;
}

void wl_out_arr_begin(const char *key) {
  wl_out_key(key);
  out_raw("[");
  out_need_comma = 0;
}

void wl_out_arr_end(void) {
  out_raw("]");
  out_need_comma = 1;
}

void wl_out_mem(const char *key, const wl_mem_t *m) {
  wl_out_obj_begin(key);
  wl_out_int("rss_kb", m->rss_kb);
  wl_out_int("anon_kb", m->anon_kb);
  wl_out_int("anon_huge_kb", m->anon_huge_kb);
  wl_out_int("hwm_kb", m->hwm_kb);
  if (m->nnodes > 1) {
    wl_out_obj_begin("node_kb");
    for (int i = 0; i < m->nnodes && i < WL_MAX_NODES; i++) {
      char k[16];
      snprintf(k, sizeof k, "%d", i);
      wl_out_int(k, m->node_kb[i]);
    }
    wl_out_obj_end();
  }
  wl_out_obj_end();
}

void wl_out_timing(uint64_t ops, double seconds, double cpu_seconds) {
  wl_out_int("ops", (long long)ops);
  wl_out_num("seconds", seconds);
  wl_out_num("ops_per_s", seconds > 0 ? (double)ops / seconds : 0);
  wl_out_num("cpu_seconds", cpu_seconds);
  wl_out_num("ops_per_cpu_s", cpu_seconds > 0 ? (double)ops / cpu_seconds : 0);
}

void wl_out_end(void) {
  out_raw("}\n");
  size_t off = 0;
  while (off < out_len) {
    ssize_t w = write(1, out_buf + off, out_len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
}

/* ---- idle wait ---- */

static struct {
  float t;
  long rss_kb, anon_kb, anon_huge_kb;
} idle_samples[WL_MAX_IDLE_SAMPLES];

static void sleep_until(double deadline) {
  for (;;) {
    double left = deadline - wl_now();
    if (left <= 0) return;
    struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
    nanosleep(&ts, NULL);
  }
}

void wl_idle_watch(double idle_s, double interval_s) {
  double t0 = wl_now();
  int n = 0;
  wl_mem_t m;
  for (int i = 0;; i++) {
    double at = t0 + i * interval_s;
    if (at > t0 + idle_s + 1e-9) break;
    sleep_until(at);
    wl_mem_sample(&m);
    if (n < WL_MAX_IDLE_SAMPLES) {
      idle_samples[n].t = (float)(wl_now() - t0);
      idle_samples[n].rss_kb = m.rss_kb;
      idle_samples[n].anon_kb = m.anon_kb;
      idle_samples[n].anon_huge_kb = m.anon_huge_kb;
      n++;
    }
  }
  wl_out_num("idle_s", idle_s);
  wl_out_arr_begin("idle");
  for (int i = 0; i < n; i++) {
    wl_out_key(NULL);
    out_raw("[%.3f,%ld,%ld,%ld]", idle_samples[i].t, idle_samples[i].rss_kb, idle_samples[i].anon_kb,
            idle_samples[i].anon_huge_kb);
  }
  wl_out_arr_end();
  wl_out_mem("idle_end", &m);
}
