/* sysfs_noalloc: proves the bootstrap reader allocates nothing. This program replaces malloc and
 * friends with counting wrappers around glibc's own (__libc_*), arms the counter, runs
 * ta_topo_sysfs_read on this machine and on each fsroot given, and fails if any allocation
 * happened (stdio FILE, opendir, strdup and snprintf's rare paths all go through malloc). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topology.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

/* volatile: libc functions are declared "leaf" (they never call back into this file), so without
 * it the compiler may drop the stores around them. */
static volatile int armed;
/* TA_EXPORT: the build hides symbols by default, and a hidden malloc interposes nothing. */
static volatile unsigned long allocations;

TA_EXPORT void *malloc(size_t n) { allocations += armed; return __libc_malloc(n); }
TA_EXPORT void *calloc(size_t a, size_t b) { allocations += armed; return __libc_calloc(a, b); }
TA_EXPORT void *realloc(void *p, size_t n) { allocations += armed; return __libc_realloc(p, n); }
TA_EXPORT void *memalign(size_t a, size_t n) { allocations += armed; return __libc_memalign(a, n); }
TA_EXPORT void *aligned_alloc(size_t a, size_t n) { allocations += armed; return __libc_memalign(a, n); }
TA_EXPORT int posix_memalign(void **out, size_t a, size_t n) {
  allocations += armed;
  void *p = __libc_memalign(a, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
TA_EXPORT void free(void *p) { __libc_free(p); }

static ta_topo_t snapshot;

static int check(const char *root) {
  allocations = 0;
  armed = 1;
  int err = ta_topo_sysfs_read(&snapshot, root);
  armed = 0;
  printf("%-60s error %d, %u nodes, %lu allocations\n", root[0] ? root : "this machine", err, snapshot.nnodes,
         allocations);
  return err == 0 && allocations == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  /* The counter must see allocations libc makes internally, or a zero proves nothing. */
  armed = 1;
  FILE *f = fopen("/proc/self/status", "r");
  armed = 0;
  if (f) fclose(f);
  if (!f || allocations == 0) {
    printf("the counting malloc does not see libc's internal allocations (fopen: %lu)\n", allocations);
    return 1;
  }
  int bad = check("");
  for (int i = 1; i < argc; i++) bad |= check(argv[i]);
  return bad;
}
