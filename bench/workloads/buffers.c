/* Workload "buffers": the working buffers of a database's queries, allocated and freed per query.
 *
 * Stands for the per-query memory of a SQL or analytics server: each query takes a read buffer,
 * a sort buffer, a join buffer and a result buffer of the sizes the server is configured with
 * (MySQL's read_buffer_size 128 KiB, sort_buffer_size 256 KiB, join_buffer_size 256 KiB; a 64 KiB
 * network buffer; a 1 MiB result set buffer), plus a few dozen small allocations (row
 * descriptors, expression nodes), uses the first pages of each buffer (most queries need little
 * of them), and frees everything when it ends. Threads (--threads, default 2) run queries
 * independently, as a server's connection threads do. What it measures is how fast an allocator
 * hands the same large sizes out again: the pages stay touched, so it is the allocator's own
 * work, not page faults. Work is fixed: the number of queries. */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const size_t buffer_sizes[] = {64 << 10, 128 << 10, 256 << 10, 256 << 10, 1 << 20};
#define NBUFFERS (sizeof buffer_sizes / sizeof buffer_sizes[0])
#define NSMALL 24
#define TOUCHED_PAGES 4 /* a query writes one line in each of its buffers' first pages */

typedef struct worker {
  pthread_t thread;
  uint64_t queries, seed, checksum;
} worker_t;

static void *run_queries(void *arg) {
  worker_t *w = arg;
  wl_rng_t rng;
  wl_rng_seed(&rng, w->seed);
  uint64_t sum = 0;
  for (uint64_t q = 0; q < w->queries; q++) {
    unsigned char *buf[NBUFFERS];
    void *small[NSMALL];
    for (size_t i = 0; i < NBUFFERS; i++) {
      buf[i] = malloc(buffer_sizes[i]);
      for (size_t pg = 0; pg < TOUCHED_PAGES; pg++) buf[i][pg * 4096] = (unsigned char)(q + pg);
    }
    for (int i = 0; i < NSMALL; i++) {
      size_t n = (size_t)wl_rng_range(&rng, 16, 512);
      small[i] = malloc(n);
      memset(small[i], i, 16);
    }
    for (size_t i = 0; i < NBUFFERS; i++) sum += buf[i][(q % TOUCHED_PAGES) * 4096];
    for (int i = NSMALL; i-- > 0;) free(small[i]);
    for (size_t i = NBUFFERS; i-- > 0;) free(buf[i]);
  }
  w->checksum = sum;
  return NULL;
}

int main(int argc, char **argv) {
  wl_args_t args;
  wl_args_parse(&args, argc, argv, "buffers", 0, 0);
  uint64_t queries = wl_count(&args, 200000, 2000000);
  int nt = args.threads > 0 ? args.threads : 1;
  worker_t *w = calloc((size_t)nt, sizeof *w);
  double t0 = wl_now(), c0 = wl_cpu_now();
  for (int t = 0; t < nt; t++) {
    w[t].queries = queries / (uint64_t)nt;
    w[t].seed = args.seed + (uint64_t)t;
    if (pthread_create(&w[t].thread, NULL, run_queries, &w[t]) != 0) {
      fprintf(stderr, "buffers: pthread_create failed\n");
      return 1;
    }
  }
  uint64_t checksum = 0, done = 0;
  for (int t = 0; t < nt; t++) {
    pthread_join(w[t].thread, NULL);
    checksum += w[t].checksum;
    done += w[t].queries;
  }
  double seconds = wl_now() - t0, cpu_seconds = wl_cpu_now() - c0;
  wl_mem_t steady;
  wl_mem_sample(&steady);
  free(w);

  wl_out_begin(&args);
  /* One op: one malloc and its free (the buffers and the small allocations of every query). */
  wl_out_timing(done * (NBUFFERS + NSMALL), seconds, cpu_seconds);
  wl_out_int("queries", (long long)done);
  wl_out_int("checksum", (long long)checksum);
  wl_out_mem("steady", &steady);
  wl_out_end();
  return 0;
}
