/* textbuf.c: see textbuf.h. */
#include "textbuf.h"

#include <stdarg.h>
#include <stdio.h>

void ta_textbuf_put(ta_textbuf_t *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t room = t->len < t->cap ? t->cap - t->len : 0;
  int n = vsnprintf(room ? t->buf + t->len : NULL, room, fmt, ap);
  va_end(ap);
  if (n > 0) t->len += (size_t)n;
}

void ta_textbuf_finish(ta_textbuf_t *t) {
  if (t->cap) t->buf[t->len < t->cap ? t->len : t->cap - 1] = '\0';
}
