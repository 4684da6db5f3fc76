/* Workload "xmalloc": producer/consumer across threads (after the xmalloc-test of Lever & Boreham).
 *
 * Stands for a pipelined server: a network thread allocates each request (or a storage engine's
 * writer allocates each record) and hands it to a worker that frees it when done, so nearly every
 * free is a remote free of memory another thread allocated. --threads N runs N/2 producers and N/2
 * consumers (at least one of each); producer i feeds consumer i through a bounded queue of batches.
 * Objects have random sizes from 16 B to 1 KiB and are written by the producer and read by the
 * consumer. Work is fixed: objects per producer. */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 64
#define QUEUE_BATCHES 64 /* bound on in-flight objects: 64 batches of 64 */

typedef struct queue {
  pthread_mutex_t lock;
  pthread_cond_t not_empty, not_full;
  void *ring[QUEUE_BATCHES][BATCH];
  unsigned head, tail; /* batches pushed / popped */
  int done;
} queue_t;

typedef struct pair {
  queue_t q;
  uint64_t objects;
  uint64_t seed;
  uint64_t checksum;
} pair_t;

static void *producer(void *arg) {
  pair_t *p = arg;
  wl_rng_t rng;
  wl_rng_seed(&rng, p->seed);
  void *batch[BATCH];
  for (uint64_t n = 0; n < p->objects; n += BATCH) {
    for (int i = 0; i < BATCH; i++) {
      size_t size = wl_rng_range(&rng, 16, 1024);
      unsigned char *o = malloc(size);
      o[0] = (unsigned char)size;
      o[size - 1] = (unsigned char)n;
      batch[i] = o;
    }
    pthread_mutex_lock(&p->q.lock);
    while (p->q.head - p->q.tail == QUEUE_BATCHES) pthread_cond_wait(&p->q.not_full, &p->q.lock);
    memcpy(p->q.ring[p->q.head % QUEUE_BATCHES], batch, sizeof batch);
    p->q.head++;
    pthread_cond_signal(&p->q.not_empty);
    pthread_mutex_unlock(&p->q.lock);
  }
  pthread_mutex_lock(&p->q.lock);
  p->q.done = 1;
  pthread_cond_signal(&p->q.not_empty);
  pthread_mutex_unlock(&p->q.lock);
  return NULL;
}

static void *consumer(void *arg) {
  pair_t *p = arg;
  void *batch[BATCH];
  for (;;) {
    pthread_mutex_lock(&p->q.lock);
    while (p->q.head == p->q.tail && !p->q.done) pthread_cond_wait(&p->q.not_empty, &p->q.lock);
    if (p->q.head == p->q.tail) {
      pthread_mutex_unlock(&p->q.lock);
      return NULL;
    }
    memcpy(batch, p->q.ring[p->q.tail % QUEUE_BATCHES], sizeof batch);
    p->q.tail++;
    pthread_cond_signal(&p->q.not_full);
    pthread_mutex_unlock(&p->q.lock);
    for (int i = 0; i < BATCH; i++) {
      p->checksum += *(unsigned char *)batch[i];
      free(batch[i]);
    }
  }
}

int main(int argc, char **argv) {
  wl_args_t args;
  wl_args_parse(&args, argc, argv, "xmalloc", 0, 0);
  int npairs = args.threads / 2 > 0 ? args.threads / 2 : 1;
  uint64_t objects = wl_count(&args, 4000000, 12000000) / (uint64_t)npairs / BATCH * BATCH;
  pair_t *pairs = calloc((size_t)npairs, sizeof *pairs);
  pthread_t *tids = calloc(2 * (size_t)npairs, sizeof *tids);
  for (int i = 0; i < npairs; i++) {
    pthread_mutex_init(&pairs[i].q.lock, NULL);
    pthread_cond_init(&pairs[i].q.not_empty, NULL);
    pthread_cond_init(&pairs[i].q.not_full, NULL);
    pairs[i].objects = objects;
    pairs[i].seed = args.seed + (uint64_t)i;
  }
  double t0 = wl_now(), c0 = wl_cpu_now();
  for (int i = 0; i < npairs; i++) {
    pthread_create(&tids[2 * i], NULL, consumer, &pairs[i]);
    pthread_create(&tids[2 * i + 1], NULL, producer, &pairs[i]);
  }
  for (int i = 0; i < 2 * npairs; i++) pthread_join(tids[i], NULL);
  double seconds = wl_now() - t0, cpu_seconds = wl_cpu_now() - c0;

  wl_mem_t steady;
  wl_mem_sample(&steady);
  uint64_t checksum = 0;
  for (int i = 0; i < npairs; i++) checksum += pairs[i].checksum;
  free(tids);
  free(pairs);

  wl_out_begin(&args);
  wl_out_timing(2 * objects * (uint64_t)npairs, seconds, cpu_seconds);
  wl_out_mem("steady", &steady);
  wl_out_int("checksum", (long long)checksum);
  wl_out_end();
  return 0;
}
