/* Workload "large": large allocations, touched and freed.
 *
 * Stands for the big buffers of database and analytics servers: sort and hash-join buffers, column
 * batches, I/O and compression buffers, a cache's large values. Sizes are log-uniform from 64 KiB to
 * 4 MiB (quick) or 32 MiB (full); a window of 8 buffers is live, each new one replaces the oldest;
 * every page of a buffer is written (or, for the 25% made by calloc, read: a fresh zeroed page need
 * not be written by the allocator). This measures how an allocator gets large memory from the OS and
 * gives it back: page faults, mmap/munmap, reuse of freed ranges and hugepage use. Work is fixed:
 * the number of allocations. Reported: allocations per second and GiB touched per second. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW 8

int main(int argc, char **argv) {
  wl_args_t args;
  wl_args_parse(&args, argc, argv, "large", 0, 0);
  uint64_t count = wl_count(&args, 6000, 6000);
  size_t max_size = args.quick ? 4u << 20 : 32u << 20;
  wl_rng_t rng;
  wl_rng_seed(&rng, args.seed);
  void *window[WINDOW] = {0};
  uint64_t bytes = 0, checksum = 0;

  double t0 = wl_now(), c0 = wl_cpu_now();
  for (uint64_t n = 0; n < count; n++) {
    size_t size = wl_rng_logrange(&rng, 64 << 10, max_size);
    int zeroed = wl_rng_next(&rng) % 4 == 0;
    unsigned char *p = zeroed ? calloc(1, size) : malloc(size);
    if (zeroed) {
      for (size_t off = 0; off < size; off += 4096) checksum += p[off];
    } else {
      wl_touch(p, size);
    }
    bytes += size;
    free(window[n % WINDOW]);
    window[n % WINDOW] = p;
  }
  double seconds = wl_now() - t0, cpu_seconds = wl_cpu_now() - c0;
  wl_mem_t steady;
  wl_mem_sample(&steady);
  for (int i = 0; i < WINDOW; i++) free(window[i]);
  wl_mem_t freed;
  wl_mem_sample(&freed);

  wl_out_begin(&args);
  wl_out_timing(count, seconds, cpu_seconds);
  wl_out_num("gib_per_s", seconds > 0 ? (double)bytes / seconds / (double)(1ull << 30) : 0);
  wl_out_int("bytes", (long long)bytes);
  wl_out_int("checksum", (long long)checksum);
  wl_out_mem("steady", &steady);
  wl_out_mem("freed", &freed);
  wl_out_end();
  return 0;
}
