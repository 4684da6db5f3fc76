/* Workload "larson": the Larson & Krishnan server simulation (ISMM 1998).
 *
 * Stands for a multithreaded server whose worker threads each hold a working set of objects that
 * live a while (sessions, buffers, parsed requests) and replace them at random, and whose
 * connections move between workers: when a worker finishes its share, a new thread takes over its
 * objects and frees them, so memory allocated by one thread is freed by another and threads come
 * and go. Each of the --threads slots owns an array of live objects of random sizes; a step frees
 * a random object and allocates a new one in its place. After each batch of steps the thread
 * exits and a fresh thread inherits the array. Work is fixed: slots x generations x steps. */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_SIZE 8
#define MAX_SIZE 1000

typedef struct slot {
  void **objs;
  size_t nobjs;
  uint64_t steps;
  wl_rng_t rng;
  uint64_t checksum;
} slot_t;

static void *generation(void *arg) {
  slot_t *s = arg;
  for (uint64_t i = 0; i < s->steps; i++) {
    size_t victim = wl_rng_next(&s->rng) % s->nobjs;
    size_t size = wl_rng_range(&s->rng, MIN_SIZE, MAX_SIZE);
    free(s->objs[victim]);
    char *p = malloc(size);
    p[0] = (char)size;
    p[size - 1] = (char)i;
    s->checksum += (unsigned char)p[0];
    s->objs[victim] = p;
  }
  return NULL;
}

int main(int argc, char **argv) {
  wl_args_t args;
  wl_args_parse(&args, argc, argv, "larson", 0, 0);
  size_t nobjs = 1000; /* per slot, as in the original benchmark's server setting */
  uint64_t generations = wl_count(&args, 100, 500);
  uint64_t steps = 50000; /* per thread and generation */
  int nslots = args.threads;
  slot_t *slots = calloc((size_t)nslots, sizeof *slots);
  for (int t = 0; t < nslots; t++) {
    slot_t *s = &slots[t];
    wl_rng_seed(&s->rng, args.seed + (uint64_t)t);
    s->nobjs = nobjs;
    s->steps = steps;
    s->objs = malloc(nobjs * sizeof *s->objs);
    for (size_t i = 0; i < nobjs; i++) s->objs[i] = malloc(wl_rng_range(&s->rng, MIN_SIZE, MAX_SIZE));
  }

  pthread_t *tids = calloc((size_t)nslots, sizeof *tids);
  double t0 = wl_now(), c0 = wl_cpu_now();
  for (uint64_t g = 0; g < generations; g++) {
    for (int t = 0; t < nslots; t++) pthread_create(&tids[t], NULL, generation, &slots[t]);
    for (int t = 0; t < nslots; t++) pthread_join(tids[t], NULL);
  }
  double seconds = wl_now() - t0, cpu_seconds = wl_cpu_now() - c0;

  wl_mem_t steady;
  wl_mem_sample(&steady);
  uint64_t checksum = 0;
  for (int t = 0; t < nslots; t++) {
    checksum += slots[t].checksum;
    for (size_t i = 0; i < nobjs; i++) free(slots[t].objs[i]);
    free(slots[t].objs);
  }
  free(tids);
  free(slots);

  uint64_t ops = 2 * (uint64_t)nslots * generations * steps; /* a malloc and a free per step */
  wl_out_begin(&args);
  wl_out_timing(ops, seconds, cpu_seconds);
  wl_out_mem("steady", &steady);
  wl_out_int("threads_created", (long long)(generations * (uint64_t)nslots));
  wl_out_int("checksum", (long long)checksum);
  wl_out_end();
  return 0;
}
