/* idle_return.c: an idle process gives freed memory back by itself. It fills ~640 MiB (small
 * objects of many sizes and large blocks), frees everything, then makes no allocation call at
 * all while it watches its RSS. Passes when at least 90% of the memory the heap grew by has
 * gone back to the kernel before the deadline. Run with LD_PRELOAD=libtieralloc.so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long rss_kib(void) {
  char line[256];
  long v = -1;
  FILE *f = fopen("/proc/self/status", "r");
  while (f && fgets(line, sizeof(line), f))
    if (strncmp(line, "VmRSS:", 6) == 0) v = atol(line + 6);
  if (f) fclose(f);
  return v;
}

int main(int argc, char **argv) {
  double deadline_s = argc > 1 ? atof(argv[1]) : 10.0;
  enum { SMALL = 400000, LARGE = 64 };
  static void *small[SMALL], *large[LARGE];
  long base = rss_kib();
  for (int i = 0; i < SMALL; i++) {
    small[i] = malloc(100 + (size_t)(i % 1900));
    memset(small[i], 1, 100 + (size_t)(i % 1900));
  }
  for (int i = 0; i < LARGE; i++) {
    large[i] = malloc((size_t)(1 + i % 5) << 20);
    memset(large[i], 2, (size_t)(1 + i % 5) << 20);
  }
  long peak = rss_kib();
  for (int i = 0; i < SMALL; i++) free(small[i]);
  for (int i = 0; i < LARGE; i++) free(large[i]);
  printf("RSS: baseline %ld KiB, peak %ld KiB\n", base, peak);
  fflush(stdout);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long target = base + (peak - base) / 10;
  for (;;) {
    usleep(100000);
    clock_gettime(CLOCK_MONOTONIC, &t);
    double el = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
    long rss = rss_kib();
    if (rss <= target) {
      printf("RSS %ld KiB <= target %ld KiB after %.1f s idle: PASS\n", rss, target, el);
      return 0;
    }
    if (el > deadline_s) {
      printf("RSS %ld KiB still above target %ld KiB after %.1f s idle: FAIL\n", rss, target, el);
      return 1;
    }
  }
}
