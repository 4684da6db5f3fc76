/* Workload "frag": fragmentation after a change of object sizes.
 *
 * Stands for a long-running cache or database whose object sizes shift (memcached's "slab
 * calcification", redis fragmentation after a workload change): it fills memory with small
 * objects (16-256 B), frees 90% of them at random so the survivors are scattered over every page,
 * then allocates larger objects (512 B-4 KiB) until the live bytes are back where they were. An
 * allocator that cannot reuse the pages of the freed small objects for the new size grows to about
 * twice the live data. Reported: RSS over live bytes after each phase (1.0 would be perfect), and
 * the rate of all mallocs and frees. Live bytes count the requested sizes plus the workload's own
 * pointer arrays. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t live;

static void *alloc_obj(wl_rng_t *r, size_t lo, size_t hi, uint32_t *size_out) {
  size_t size = wl_rng_logrange(r, lo, hi);
  char *p = malloc(size);
  memset(p, (int)size, size < 64 ? size : 64); /* header-like write at the start */
  p[size - 1] = 1;
  *size_out = (uint32_t)size;
  live += size;
  return p;
}

static double ratio(const wl_mem_t *m) { return live ? (double)m->rss_kb * 1024.0 / (double)live : 0; }

int main(int argc, char **argv) {
  wl_args_t args;
  wl_args_parse(&args, argc, argv, "frag", 0, 0);
  uint64_t target = wl_count(&args, 64ull << 20, 512ull << 20); /* live bytes of the first fill */
  wl_rng_t rng;
  wl_rng_seed(&rng, args.seed);
  /* Upper bounds on object counts, from the smallest mean size of each phase. */
  size_t cap_small = (size_t)(target / 40) + 1024, cap_large = (size_t)(target / 1000) + 1024;
  void **small = malloc(cap_small * sizeof *small);
  uint32_t *small_size = malloc(cap_small * sizeof *small_size);
  void **large = malloc(cap_large * sizeof *large);
  uint32_t *large_size = malloc(cap_large * sizeof *large_size);
  uint64_t arrays = cap_small * (sizeof *small + sizeof *small_size) + cap_large * (sizeof *large + sizeof *large_size);
  memset(small, 0, cap_small * sizeof *small);
  memset(large, 0, cap_large * sizeof *large);
  live = arrays;
  uint64_t ops = 0;

  double t0 = wl_now(), c0 = wl_cpu_now();
  size_t nsmall = 0;
  while (live < target + arrays && nsmall < cap_small) {
    small[nsmall] = alloc_obj(&rng, 16, 256, &small_size[nsmall]);
    nsmall++;
  }
  ops += nsmall;
  wl_mem_t filled;
  double t_pause = wl_now(), c_pause = wl_cpu_now();
  wl_mem_sample(&filled);
  double r_filled = ratio(&filled);
  double paused = wl_now() - t_pause, cpu_paused = wl_cpu_now() - c_pause;

  size_t kept = 0;
  for (size_t i = 0; i < nsmall; i++) {
    if (wl_rng_next(&rng) % 10 != 0) {
      live -= small_size[i];
      free(small[i]);
      small[i] = NULL;
      ops++;
    } else {
      kept++;
    }
  }
  t_pause = wl_now(), c_pause = wl_cpu_now();
  wl_mem_t after_free;
  wl_mem_sample(&after_free);
  double r_after_free = ratio(&after_free);
  paused += wl_now() - t_pause, cpu_paused += wl_cpu_now() - c_pause;

  size_t nlarge = 0;
  while (live < target + arrays && nlarge < cap_large) {
    large[nlarge] = alloc_obj(&rng, 512, 4096, &large_size[nlarge]);
    nlarge++;
  }
  ops += nlarge;
  t_pause = wl_now(), c_pause = wl_cpu_now();
  wl_mem_t refilled;
  wl_mem_sample(&refilled);
  double r_refilled = ratio(&refilled);
  paused += wl_now() - t_pause, cpu_paused += wl_cpu_now() - c_pause;

  for (size_t i = 0; i < nsmall; i++)
    if (small[i]) free(small[i]), ops++;
  for (size_t i = 0; i < nlarge; i++) free(large[i]), ops++;
  double seconds = wl_now() - t0 - paused, cpu_seconds = wl_cpu_now() - c0 - cpu_paused;
  live = arrays;
  wl_mem_t freed;
  wl_mem_sample(&freed);

  wl_out_begin(&args);
  wl_out_timing(ops, seconds, cpu_seconds);
  wl_out_int("small_objects", (long long)nsmall);
  wl_out_int("small_kept", (long long)kept);
  wl_out_int("large_objects", (long long)nlarge);
  wl_out_int("target_bytes", (long long)target);
  wl_out_num("rss_over_live_filled", r_filled);
  wl_out_num("rss_over_live_after_free", r_after_free);
  wl_out_num("rss_over_live_refilled", r_refilled);
  wl_out_mem("filled", &filled);
  wl_out_mem("after_free", &after_free);
  wl_out_mem("steady", &refilled);
  wl_out_mem("freed", &freed);
  wl_out_end();
  free(small);
  free(small_size);
  free(large);
  free(large_size);
  return 0;
}
