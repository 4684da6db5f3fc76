/* fuzz_api.c: libFuzzer target driving random sequences of allocator calls (through the ta_*
 * entry points) against a shadow model: every byte written is read back intact, every pointer
 * is aligned as promised, live blocks never overlap, usable sizes cover the request. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

#define SLOTS 64

typedef struct {
  unsigned char *p;
  size_t size;
  unsigned char seed;
} block_t;

static block_t live[SLOTS];

/* Every byte of small blocks; for large ones every 61st byte and the last. The checking loops
 * are not coverage-instrumented: they are the harness, and instrumenting them made each input
 * cost a few hundred milliseconds. */
#define HARNESS __attribute__((no_sanitize("coverage")))
static size_t stride(size_t size) { return size <= 256 ? 1 : 61; }

HARNESS static void fill(block_t *b) {
  for (size_t i = 0; i < b->size; i += stride(b->size)) b->p[i] = (unsigned char)(b->seed + i * 31);
  if (b->size) b->p[b->size - 1] = (unsigned char)(b->seed + (b->size - 1) * 31);
}

HARNESS static bool intact_at(const block_t *b, const unsigned char *p, size_t i) {
  return p[i] == (unsigned char)(b->seed + i * 31);
}

HARNESS static void check(const block_t *b) {
  for (size_t i = 0; i < b->size; i += stride(b->size))
    if (!intact_at(b, b->p, i)) abort();
  if (b->size && !intact_at(b, b->p, b->size - 1)) abort();
}

HARNESS static void check_no_overlap(const block_t *b, int self) {
  for (int i = 0; i < SLOTS; i++) {
    if (i == self || !live[i].p) continue;
    uintptr_t a0 = (uintptr_t)b->p, a1 = a0 + (b->size ? b->size : 1);
    uintptr_t b0 = (uintptr_t)live[i].p, b1 = b0 + (live[i].size ? live[i].size : 1);
    if (a0 < b1 && b0 < a1) abort();
  }
}

static size_t pick_size(const uint8_t *d) {
  unsigned v = (unsigned)d[0] | (unsigned)d[1] << 8 | (unsigned)d[2] << 16;
  switch (d[0] & 3) {
    case 0: return v & 127;
    case 1: return v & 4095;
    case 2: return v & 0xffff;
    default: return v & 0x5fffff; /* up to 6 MiB: spans of several hugepages */
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  for (size_t off = 0; off + 5 <= size; off += 5) {
    const uint8_t *d = data + off;
    int slot = d[4] % SLOTS;
    block_t *b = &live[slot];
    size_t n = pick_size(d + 1);
    size_t align = (size_t)16 << (d[3] % 10); /* 16 .. 8 KiB */
    switch (d[0] % 7) {
      case 0: case 1: case 2: { /* allocate into the slot (freeing what was there) */
        if (b->p) { check(b); ta_free(b->p); b->p = NULL; }
        unsigned char *p;
        switch (d[0] % 3) {
          case 0: p = ta_malloc(n); break;
          case 1:
            p = ta_calloc(1, n);
            if (p) for (size_t i = 0; i < n; i += stride(n)) if (p[i]) abort();
            break;
          default: {
            void *q = NULL;
            if (ta_posix_memalign(&q, align, n) != 0) q = NULL;
            p = q;
            if (p && ((uintptr_t)p & (align - 1))) abort();
          }
        }
        if (!p) abort(); /* a few MiB must always be available */
        if ((uintptr_t)p & 15) abort();
        if (ta_malloc_usable_size(p) < n) abort();
        *b = (block_t){p, n, d[2]};
        check_no_overlap(b, slot);
        fill(b);
        break;
      }
      case 3: case 4: { /* realloc keeps the common prefix */
        if (!b->p) break;
        check(b);
        unsigned char *p = ta_realloc(b->p, n ? n : 1);
        if (!p) abort();
        size_t keep = b->size < (n ? n : 1) ? b->size : (n ? n : 1);
        for (size_t i = 0; i < keep; i += stride(b->size))
          if (!intact_at(b, p, i)) abort();
        b->p = p;
        b->size = n ? n : 1;
        check_no_overlap(b, slot);
        fill(b);
        break;
      }
      default: /* free */
        if (b->p) { check(b); ta_free(b->p); b->p = NULL; }
    }
  }
  for (int i = 0; i < SLOTS; i++)
    if (live[i].p) { check(&live[i]); ta_free(live[i].p); live[i].p = NULL; }
  return 0;
}
