/* Shared harness of the benchmark workloads: argument parsing, a seeded generator, a clock, memory
 * sampling of the process itself and the one-line JSON result. It owns no allocation policy: every
 * workload calls plain malloc/free, and the allocator under test is chosen by LD_PRELOAD.
 *
 * Contract: nothing here calls malloc, so sampling the process during an idle wait adds no allocator
 * traffic (files are read with open/read into static buffers and numbers are printed with snprintf,
 * which does not allocate for the integer and fixed-point formats used). Not thread-safe: only the
 * main thread calls the sampling and output functions. */
#ifndef TA_BENCH_HARNESS_H
#define TA_BENCH_HARNESS_H

#include <stddef.h>
#include <stdint.h>

/* Keeps the compiler from deleting a malloc/free pair or a store into memory it thinks is dead. */
#define WL_SINK(p) __asm__ volatile("" : : "r"(p) : "memory")

#define WL_MAX_NODES 64
#define WL_MAX_IDLE_SAMPLES 2048

typedef struct wl_args {
  const char *name;  /* workload name, for the result line */
  int quick;         /* 1: developer-sized run (seconds), 0: full run */
  double scale;      /* multiplies the op count / data size of the mode (default 1) */
  int threads;       /* worker threads, where the workload has a choice (default 2) */
  double idle_s;     /* idle wait after the burst, for workloads that measure it */
  uint64_t seed;     /* fixed by default so every allocator does the same work */
} wl_args_t;

/* One sample of this process's memory, all in KiB. node_kb is filled only where more than one
 * NUMA node is online (nnodes > 1); otherwise nnodes is 1 and node_kb[0] is not read. */
typedef struct wl_mem {
  long rss_kb, anon_kb, anon_huge_kb, hwm_kb;
  int nnodes;
  long node_kb[WL_MAX_NODES];
} wl_mem_t;

/* Parses --quick, --full, --scale F, --threads N, --idle S, --seed N. Exits with a usage message on a
 * bad argument. idle_quick/idle_full are the idle waits of each mode (0 where the workload has none). */
void wl_args_parse(wl_args_t *a, int argc, char **argv, const char *name, double idle_quick,
                   double idle_full);
/* Scales a per-mode count: quick or full value times --scale, at least 1. */
uint64_t wl_count(const wl_args_t *a, uint64_t quick, uint64_t full);

/* xoshiro256** seeded through splitmix64; one state per thread. */
typedef struct wl_rng { uint64_t s[4]; } wl_rng_t;
void wl_rng_seed(wl_rng_t *r, uint64_t seed);
uint64_t wl_rng_next(wl_rng_t *r);
/* Uniform in [lo, hi] (inclusive). */
uint64_t wl_rng_range(wl_rng_t *r, uint64_t lo, uint64_t hi);
/* Log-uniform in [lo, hi]: as many draws per doubling, as real size mixes are. */
uint64_t wl_rng_logrange(wl_rng_t *r, uint64_t lo, uint64_t hi);
double wl_rng_unit(wl_rng_t *r);

/* Monotonic seconds. */
double wl_now(void);
/* CPU seconds of the whole process (every thread, user + system): on a shared machine the work an
 * allocator costs shows here even when the wall clock is stretched by other processes. */
double wl_cpu_now(void);
/* CPU seconds of the calling thread. */
double wl_thread_cpu_now(void);
/* Writes one byte per page (and the last byte) so the allocation is really backed. */
void wl_touch(void *p, size_t size);

void wl_mem_sample(wl_mem_t *m);
/* With WL_ALLOC_STATS set in the environment, prints tieralloc's statistics table (when
 * tieralloc is the allocator) on stderr, headed by `checkpoint`; otherwise does nothing. For
 * breaking peak RSS down into active, dirty and metadata; the printing itself allocates. */
void wl_allocator_stats(const char *checkpoint);
int wl_numa_nodes(void);

/* The result line: "RESULT {...}\n" on stdout, built in a static buffer. Keys and values are
 * emitted in call order; nesting with obj/arr begin/end. */
void wl_out_begin(const wl_args_t *a);
void wl_out_key(const char *key);
void wl_out_int(const char *key, long long v);
void wl_out_num(const char *key, double v);
void wl_out_str(const char *key, const char *v);
void wl_out_mem(const char *key, const wl_mem_t *m);
void wl_out_obj_begin(const char *key);
void wl_out_obj_end(void);
void wl_out_arr_begin(const char *key);
void wl_out_arr_end(void);
/* Times the measured phase: ops done, its wall seconds and its CPU seconds become ops, seconds,
 * ops_per_s, cpu_seconds and ops_per_cpu_s. */
void wl_out_timing(uint64_t ops, double seconds, double cpu_seconds);
void wl_out_end(void);

/* The idle wait after a burst: sleeps idle_s seconds without touching the allocator and samples
 * memory every interval_s, then emits "idle": [[t, rss_kb, anon_kb, anon_huge_kb], ...] and
 * "idle_end": {...}. t = 0 is the call. */
void wl_idle_watch(double idle_s, double interval_s);

#endif
