/* dlopen_late.c: tieralloc loaded late with dlopen into a program already running on glibc's
 * malloc. Its initial-exec TLS must fit the loader's surplus, its own entry points must work
 * (blocks from its malloc freed by its free), and glibc's blocks must stay glibc's. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  char *before = malloc(1000); /* glibc's */
  memset(before, 1, 1000);
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    printf("FAIL: dlopen: %s\n", dlerror());
    return 1;
  }
  const char *(*version)(void) = (const char *(*)(void))dlsym(h, "tieralloc_version");
  void *(*ta_malloc)(size_t) = (void *(*)(size_t))dlsym(h, "malloc");
  void (*ta_free)(void *) = (void (*)(void *))dlsym(h, "free");
  size_t (*usable)(void *) = (size_t (*)(void *))dlsym(h, "malloc_usable_size");
  void *(*tier)(size_t, unsigned, unsigned) = (void *(*)(size_t, unsigned, unsigned))dlsym(h, "tieralloc_malloc_tier");
  if (!version || !ta_malloc || !ta_free || !usable || !tier) {
    printf("FAIL: missing symbols\n");
    return 1;
  }
  for (int round = 0; round < 3; round++) {
    void *blocks[2000];
    for (int i = 0; i < 2000; i++) {
      blocks[i] = ta_malloc((size_t)(i * 37 % 70000) + 1);
      memset(blocks[i], i, (size_t)(i * 37 % 70000) + 1);
    }
    if (usable(blocks[1]) < 38) {
      printf("FAIL: usable size\n");
      return 1;
    }
    for (int i = 0; i < 2000; i++) ta_free(blocks[i]);
  }
  void *t = tier(100000, 0, 1);
  ta_free(t);
  free(before); /* still glibc's block, freed by glibc */
  char *after = malloc(100);
  free(after);
  printf("dlopen late: tieralloc %s served 6000 blocks beside glibc: PASS\n", version());
  return 0;
}
