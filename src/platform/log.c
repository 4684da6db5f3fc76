/* log.c: one-line messages on stderr with a stack buffer and write(2): vsnprintf with plain
 * %s %d %u %zu %x %p conversions does not allocate in glibc. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void vlog(const char *fmt, va_list ap) {
  char buf[512];
  static const char prefix[] = "tieralloc: ";
  size_t n = sizeof(prefix) - 1;
  for (size_t i = 0; i < n; i++) buf[i] = prefix[i];
  int len = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
  if (len < 0) len = 0;
  n += (size_t)len < sizeof(buf) - n - 1 ? (size_t)len : sizeof(buf) - n - 2;
  buf[n++] = '\n';
  ssize_t r = write(2, buf, n);
  (void)r;
}

void ta_log(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(fmt, ap);
  va_end(ap);
}

void ta_log_fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(fmt, ap);
  va_end(ap);
  abort();
}
