/* idle_cached.c: an idle process gives memory back even when idle threads still hold objects
 * in their caches. Threads fill memory with objects of one size range, free them all
 * in a scattered order (so each thread's cache ends up holding some of them, each on a page
 * otherwise free), then block for ever without another allocator call. Two ranges (argument
 * 2):
 * - "large" (the default): two threads of 32 MiB, the classes between 4 and 12 KiB (slabs of
 *   4-13 objects), about 0.5 MiB per cache. Without the reclaim of idle caches and without the interior purge the
 *   slabs those objects pin (and the hugepage units around them) stay resident: RSS ends near
 *   10 MiB against a target of 8.5 (5.3 with the interior purge alone, on x86-64 with THP).
 * - "small": four threads of 8 MiB, 64 B to 2 KiB, up to 128 objects per class and cache,
 *   each pinning its page: only emptying the idle threads' caches (conf tcache_idle_ms) gives
 *   those pages back (RSS ends 9 MiB above the baseline without it, 1.6 with it, target 3.8).
 * The main thread makes no allocator call either while it watches its RSS (read with
 * open/read, which do not allocate). Passes when at least 90% of what the heap grew by has
 * gone back to the kernel before the deadline (argument 1, seconds). Run with
 * LD_PRELOAD=libtieralloc.so. */
#include <pthread.h>
#include <stdlib.h>

#include "idle_watch.h"

enum { MAX_THREADS = 4, MAX_OBJS = (32 << 20) / 64 };

static void *objs[MAX_THREADS][MAX_OBJS];
static int threads = 2;
static size_t per_thread = 32 << 20, size_min = 4097, size_max = 12288;
static pthread_barrier_t filled, freed;

static void *worker(void *arg) {
  int t = (int)(long)arg;
  size_t n = 0, bytes = 0;
  unsigned x = 12345u + (unsigned)t;
  while (bytes < per_thread && n < MAX_OBJS) {
    x = x * 1103515245u + 12345u;
    size_t size = size_min + (x >> 8) % (size_max - size_min);
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
  if (argc > 2 && strcmp(argv[2], "small") == 0) {
    threads = 4;
    per_thread = 8 << 20;
    size_min = 64;
    size_max = 2048;
  }
  pthread_barrier_init(&filled, NULL, threads + 1);
  pthread_barrier_init(&freed, NULL, threads + 1);
  long base = idle_rss_kib();
  for (long t = 0; t < threads; t++) {
    pthread_t tid;
    if (pthread_create(&tid, NULL, worker, (void *)t) != 0) return 2;
  }
  pthread_barrier_wait(&filled);
  long peak = idle_rss_kib();
  pthread_barrier_wait(&freed);
  return idle_watch(base, peak, deadline_s);
}
