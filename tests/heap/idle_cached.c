/* idle_cached.c: an idle process gives memory back even when idle threads still hold objects
 * in their caches. Two threads each fill 32 MiB with objects of the classes between 4 and
 * 12 KiB (slabs of 4-13 objects), free them all in a scattered order (so each thread's cache
 * ends up holding some of them, about 0.5 MiB, each in a slab otherwise free), then block for
 * ever without another allocator call. Without the interior purge the slabs those objects pin
 * (and the hugepage units around them) stay resident: RSS ends near 10 MiB against a target
 * of 8.5 (5.3 with it, on x86-64 with THP).
 * The main thread makes no allocator call either while it watches its RSS (read with
 * open/read, which do not allocate). Passes when at least 90% of what the heap grew by has
 * gone back to the kernel before the deadline (argument 1, seconds). Run with
 * LD_PRELOAD=libtieralloc.so. */
#include <pthread.h>
#include <stdlib.h>

#include "idle_watch.h"

enum { THREADS = 2, PER_THREAD = 32 << 20, MAX_OBJS = PER_THREAD / 4096 };

static void *objs[THREADS][MAX_OBJS];
static pthread_barrier_t filled, freed;

static void *worker(void *arg) {
  int t = (int)(long)arg;
  size_t n = 0, bytes = 0;
  unsigned x = 12345u + (unsigned)t;
  while (bytes < PER_THREAD && n < MAX_OBJS) {
    x = x * 1103515245u + 12345u;
    size_t size = 4097 + (x >> 8) % (12288 - 4097);
    objs[t][n] = malloc(size);
    if (!objs[t][n]) abort();
    memset(objs[t][n], 1, size);
    bytes += size;
    n++;
  }
  pthread_barrier_wait(&filled);
  /* Every object, in a stride order that visits the slabs scattered. */
  size_t stride = 7919 % n ? 7919 : 7907;
  for (size_t i = 0, k = 0; i < n; i++, k = (k + stride) % n) free(objs[t][k]);
  pthread_barrier_wait(&freed);
  for (;;) pause(); /* idle for ever, still holding its cache */
  return NULL;
}

int main(int argc, char **argv) {
  double deadline_s = argc > 1 ? atof(argv[1]) : 10.0;
  pthread_barrier_init(&filled, NULL, THREADS + 1);
  pthread_barrier_init(&freed, NULL, THREADS + 1);
  long base = idle_rss_kib();
  for (long t = 0; t < THREADS; t++) {
    pthread_t tid;
    if (pthread_create(&tid, NULL, worker, (void *)t) != 0) return 2;
  }
  pthread_barrier_wait(&filled);
  long peak = idle_rss_kib();
  pthread_barrier_wait(&freed);
  return idle_watch(base, peak, deadline_s);
}
