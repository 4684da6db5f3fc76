/* Workload "realloc": buffers that grow by realloc.
 *
 * Stands for string builders, serialisers and growable arrays (JSON output, redis's sds strings and
 * client query buffers, a vector of rows): a thousand buffers are open at once and grow in turn by
 * small appends, so neighbours stop each other from growing in place. Half grow by exactly what is
 * appended (a naive builder: one realloc per append), half double their capacity (a vector); the
 * 1% that grow past 64 KiB (up to 1 MiB) always double. When a buffer reaches its final size it is
 * shrunk to fit, read, freed and replaced. Work is fixed: the number of appends. Reported: appends
 * per second and the realloc calls made. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBUF 1000

typedef struct buf {
  char *p;
  size_t len, cap, final;
  int doubling;
} buf_t;

static void buf_new(buf_t *b, wl_rng_t *r) {
  int big = wl_rng_unit(r) < 0.01;
  b->final = big ? wl_rng_logrange(r, 65536, 1 << 20) : wl_rng_logrange(r, 64, 65536);
  /* A builder that reaches a megabyte one append at a time copies quadratically on any
   * allocator that cannot grow in place; real ones grow geometrically there (sds does past 1 MiB). */
  b->doubling = big ? 1 : (int)(wl_rng_next(r) & 1);
  b->len = 0;
  b->cap = 0;
  b->p = NULL;
}

int main(int argc, char **argv) {
  wl_args_t args;
  wl_args_parse(&args, argc, argv, "realloc", 0, 0);
  uint64_t appends = wl_count(&args, 3000000, 30000000);
  wl_rng_t rng;
  wl_rng_seed(&rng, args.seed);
  static buf_t bufs[NBUF];
  for (int i = 0; i < NBUF; i++) buf_new(&bufs[i], &rng);
  uint64_t reallocs = 0, finished = 0, checksum = 0;

  double t0 = wl_now(), c0 = wl_cpu_now();
  for (uint64_t n = 0; n < appends; n++) {
    buf_t *b = &bufs[n % NBUF];
    size_t add = wl_rng_range(&rng, 1, 64);
    if (b->len + add > b->cap) {
      size_t cap = b->doubling ? (b->cap ? b->cap * 2 : 16) : b->len + add;
      while (cap < b->len + add) cap *= 2;
      b->p = realloc(b->p, cap);
      b->cap = cap;
      reallocs++;
    }
    memset(b->p + b->len, (int)n, add);
    b->len += add;
    if (b->len >= b->final) {
      b->p = realloc(b->p, b->len); /* shrink to fit, as a finished string is kept */
      reallocs++;
      checksum += (unsigned char)b->p[0] + (unsigned char)b->p[b->len - 1];
      free(b->p);
      finished++;
      buf_new(b, &rng);
    }
  }
  double seconds = wl_now() - t0, cpu_seconds = wl_cpu_now() - c0;
  wl_mem_t steady;
  wl_mem_sample(&steady);
  for (int i = 0; i < NBUF; i++) free(bufs[i].p);

  wl_out_begin(&args);
  wl_out_timing(appends, seconds, cpu_seconds);
  wl_out_int("reallocs", (long long)reallocs);
  wl_out_int("buffers_finished", (long long)finished);
  wl_out_int("checksum", (long long)checksum);
  wl_out_mem("steady", &steady);
  wl_out_end();
  return 0;
}
