/* Workload "sizeclass": malloc/free by size class on one thread.
 *
 * Stands for the innermost loop of every program: short-lived temporaries (a request buffer, a
 * parsed token, a small struct) allocated and freed right away. For each size in a list spanning
 * the small classes, plus the "power of two plus a header" sizes real servers ask for (a redis
 * 8 KiB value is an 8196-byte request), it runs two patterns: pairs (malloc then free at once: the
 * thread cache's hit path) and batches (64 allocations freed in allocation order, which walks the
 * cache past its top and exercises fill/flush). The time per operation of each size and pattern is
 * the best of SLICES equal slices, so a slice in which the shared machine preempted us does not
 * count; the headline ops and seconds are those of the best slice of every size and pattern
 * (each malloc and each free is one op). */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const size_t sizes[] = {8,    16,   24,   32,   48,   64,   80,   96,    128,   160,  192,
                               256,  320,  384,  512,  640,  768,  1024, 1280,  1536,  2048, 3072,
                               4096, 4100, 6144, 8192, 8196, 12288, 16384, 16400, 32768};
#define NSIZES (sizeof sizes / sizeof sizes[0])
#define BATCH 64
#define SLICES 5

/* One JSON object: each size's figure, keyed by the size. */
static void out_per_size(const char *name, const double *ns) {
  wl_out_obj_begin(name);
  for (size_t s = 0; s < NSIZES; s++) {
    char k[24];
    snprintf(k, sizeof k, "%zu", sizes[s]);
    wl_out_num(k, ns[s]);
  }
  wl_out_obj_end();
}

int main(int argc, char **argv) {
  wl_args_t args;
  wl_args_parse(&args, argc, argv, "sizeclass", 0, 0);
  /* Per size: pair iterations, and batch rounds of BATCH objects. */
  uint64_t pairs = wl_count(&args, 60000, 600000) / SLICES; /* per slice */
  uint64_t rounds = pairs / BATCH + 1;
  double pair_ns[NSIZES], batch_ns[NSIZES];
  uint64_t ops = 0;
  void *batch[BATCH];

  /* Warm-up: one pass at every size so first-touch costs of the allocator's start are not charged
   * to the first size measured. */
  for (size_t s = 0; s < NSIZES; s++) {
    for (int i = 0; i < BATCH; i++) batch[i] = malloc(sizes[s]);
    for (int i = 0; i < BATCH; i++) free(batch[i]);
  }

  double best_total = 0, best_cpu = 0;
  for (size_t s = 0; s < NSIZES; s++) {
    size_t size = sizes[s];
    double best_pair = 1e30, best_batch = 1e30, cpu_pair = 1e30, cpu_batch = 1e30;
    for (int slice = 0; slice < SLICES; slice++) {
      double t0 = wl_now(), c0 = wl_thread_cpu_now();
      for (uint64_t i = 0; i < pairs; i++) {
        char *p = malloc(size);
        p[0] = (char)i;
        WL_SINK(p);
        free(p);
      }
      double t1 = wl_now(), c1 = wl_thread_cpu_now();
      for (uint64_t r = 0; r < rounds; r++) {
        for (int i = 0; i < BATCH; i++) {
          char *p = malloc(size);
          p[0] = (char)i;
          batch[i] = p;
        }
        WL_SINK(batch);
        for (int i = 0; i < BATCH; i++) free(batch[i]);
      }
      double t2 = wl_now(), c2 = wl_thread_cpu_now();
      if (t1 - t0 < best_pair) best_pair = t1 - t0;
      if (t2 - t1 < best_batch) best_batch = t2 - t1;
      if (c1 - c0 < cpu_pair) cpu_pair = c1 - c0;
      if (c2 - c1 < cpu_batch) cpu_batch = c2 - c1;
    }
    ops += 2 * pairs + 2 * rounds * BATCH;
    best_total += best_pair + best_batch;
    best_cpu += cpu_pair + cpu_batch;
    pair_ns[s] = best_pair * 1e9 / (double)(2 * pairs);
    batch_ns[s] = best_batch * 1e9 / (double)(2 * rounds * BATCH);
  }
  double seconds = best_total;

  wl_mem_t steady;
  wl_mem_sample(&steady);
  wl_out_begin(&args);
  wl_out_timing(ops, seconds, best_cpu);
  wl_out_mem("steady", &steady);
  out_per_size("ns_per_op_pair", pair_ns);
  out_per_size("ns_per_op_batch", batch_ns);
  wl_out_end();
  return 0;
}
