/* A program built against an installed tieralloc: its malloc must be tieralloc's. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tieralloc.h>

int main(void) {
  char *p = malloc(8196);
  memset(p, 1, 8196);
  /* 8336 is tieralloc's class for 8196 bytes; glibc would say 8200. */
  size_t usable = malloc_usable_size(p);
  free(p);
  printf("tieralloc %s, usable(8196) = %zu\n", tieralloc_version(), usable);
  return usable == 8336 ? 0 : 1;
}
