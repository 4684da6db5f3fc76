/* path.c: fixed-buffer paths (path.h). */
#include "path.h"

#include <string.h>

void ta_path_init(ta_path_t *p, const char *root) {
  p->n = 0;
  p->overflow = false;
  p->s[0] = '\0';
  if (root) ta_path_add(p, root);
}

void ta_path_add(ta_path_t *p, const char *part) {
  size_t len = strlen(part);
  if (p->n + len + 1 > sizeof(p->s)) {
    p->overflow = true;
    return;
  }
  memcpy(p->s + p->n, part, len + 1);
  p->n += len;
}

void ta_path_add_uint(ta_path_t *p, uint64_t v) {
  char digits[24], *e = digits + sizeof(digits) - 1;
  *e = '\0';
  do *--e = (char)('0' + v % 10);
  while ((v /= 10));
  ta_path_add(p, e);
}

void ta_path_truncate(ta_path_t *p, size_t n) {
  p->n = n;
  p->s[n] = '\0';
  p->overflow = false;
}
