/* idle_watch.h: the idle-return tests' common end: RSS read without allocating, and the watch
 * that passes once at least 90% of what the heap grew by has gone back to the kernel. */
#ifndef IDLE_WATCH_H
#define IDLE_WATCH_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc_field.h"

/* Resident KiB, read without allocating. */
static long idle_rss_kib(void) { return proc_field("/proc/self/status", "VmRSS"); }

/* Watches RSS every 100 ms, making no allocator call, until it is within a tenth of the growth
 * from base to peak (returns 0, PASS) or deadline_s has passed (returns 1, FAIL). */
static int idle_watch(long base, long peak, double deadline_s) {
  printf("RSS: baseline %ld KiB, peak %ld KiB\n", base, peak);
  fflush(stdout);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long target = base + (peak - base) / 10;
  for (;;) {
    usleep(100000);
    clock_gettime(CLOCK_MONOTONIC, &t);
    double el = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
    long rss = idle_rss_kib();
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

#endif
