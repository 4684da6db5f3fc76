/* idle_return.c: an idle process gives freed memory back by itself. It fills ~640 MiB (small
 * objects of many sizes and large blocks), frees everything, then makes no allocation call at
 * all while it watches its RSS. Passes when at least 90% of the memory the heap grew by has
 * gone back to the kernel before the deadline. Run with LD_PRELOAD=libtieralloc.so. */
#include <stdlib.h>
#include <string.h>

#include "idle_watch.h"

int main(int argc, char **argv) {
  double deadline_s = argc > 1 ? atof(argv[1]) : 10.0;
  enum { SMALL = 400000, LARGE = 64 };
  static void *small[SMALL], *large[LARGE];
  long base = idle_rss_kib();
  for (int i = 0; i < SMALL; i++) {
    small[i] = malloc(100 + (size_t)(i % 1900));
    memset(small[i], 1, 100 + (size_t)(i % 1900));
  }
  for (int i = 0; i < LARGE; i++) {
    large[i] = malloc((size_t)(1 + i % 5) << 20);
    memset(large[i], 2, (size_t)(1 + i % 5) << 20);
  }
  long peak = idle_rss_kib();
  for (int i = 0; i < SMALL; i++) free(small[i]);
  for (int i = 0; i < LARGE; i++) free(large[i]);
  return idle_watch(base, peak, deadline_s);
}
