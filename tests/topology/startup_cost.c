/* startup_cost: measures what the topology costs a starting process: the sysfs bootstrap (what
 * every process pays inside its first malloc) and the hwloc refinement (paid later, on the
 * background thread), on this machine and on the dumps given as arguments. Prints medians; it
 * asserts nothing, timings are reported in docs/topology.md. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "topology.h"

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void measure(const char *what, const char *fsroot, int hwloc, int runs) {
  static ta_topo_t t;
  double s[64];
  if (runs > 64) runs = 64;
  for (int i = 0; i < runs; i++) {
    double t0 = now_us();
    int err;
    if (hwloc) {
      ta_topo_hwloc_opts_t o = {NULL, fsroot, 0};
      err = ta_topo_hwloc_read(&t, fsroot ? &o : NULL);
    } else {
      err = ta_topo_sysfs_read(&t, fsroot ? fsroot : "");
    }
    s[i] = now_us() - t0;
    if (err) {
      printf("%-40s %-6s error %d\n", what, hwloc ? "hwloc" : "sysfs", err);
      return;
    }
  }
  qsort(s, (size_t)runs, sizeof(double), cmp);
  printf("%-40s %-6s %3u nodes %4u cpus  median %8.1f us  min %8.1f us  (%d runs)\n", what,
         hwloc ? "hwloc" : "sysfs", t.nnodes, ta_cpuset_count(&t.online), s[runs / 2], s[0], runs);
}

int main(int argc, char **argv) {
  int runs = getenv("RUNS") ? atoi(getenv("RUNS")) : 21;
  measure("this machine", NULL, 0, runs);
  measure("this machine", NULL, 1, runs);
  for (int i = 1; i < argc; i++) {
    const char *name = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
    measure(name, argv[i], 0, runs);
    measure(name, argv[i], 1, runs);
  }
  return 0;
}
