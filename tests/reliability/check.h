/* check.h: reporting for the reliability programs without allocating (a stack buffer and
 * write(2)), so a report works while the allocator is out of memory or half broken, and
 * pattern helpers that tell a block's bytes from any other block's. */
#ifndef TA_RELIABILITY_CHECK_H
#define TA_RELIABILITY_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void say(const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n > sizeof(buf) - 2) n = (int)sizeof(buf) - 2;
  buf[n++] = '\n';
  ssize_t w = write(1, buf, (size_t)n);
  (void)w;
}

/* CHECK(cond, fmt, ...): on failure, names the line and exits 1 (a test failure, not a crash). */
#define CHECK(cond, ...)                                     \
  do {                                                       \
    if (!(cond)) {                                           \
      say("FAIL %s:%d: %s", __FILE__, __LINE__, #cond);      \
      say("  " __VA_ARGS__);                                 \
      _exit(1);                                              \
    }                                                        \
  } while (0)

/* A byte pattern that depends on the block's identity (seed) and the offset. Every byte of the
 * first and last 256 bytes and every 509th byte between them. */
static inline unsigned char pattern_at(uint32_t seed, size_t i) {
  return (unsigned char)(seed * 2654435761u + i * 131u + (i >> 8));
}

static inline size_t pattern_next(size_t n, size_t i) {
  if (i < 256 || i + 256 >= n) return i + 1;
  size_t j = i + 509;
  return j + 256 >= n ? n - 256 : j;
}

static inline void pattern_fill(void *p, size_t n, uint32_t seed) {
  unsigned char *c = (unsigned char *)p;
  for (size_t i = 0; i < n; i = pattern_next(n, i)) c[i] = pattern_at(seed, i);
}

static inline bool pattern_ok(const void *p, size_t n, uint32_t seed) {
  const unsigned char *c = (const unsigned char *)p;
  for (size_t i = 0; i < n; i = pattern_next(n, i))
    if (c[i] != pattern_at(seed, i)) return false;
  return true;
}

#endif
