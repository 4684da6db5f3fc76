/* path.h: file paths built in a fixed buffer, for the sysfs and procfs readers that run inside
 * the allocator (no malloc, no printf). A part that does not fit is left out whole and marks the
 * path as overflowed; callers refuse such a path (ENAMETOOLONG) rather than open a truncated
 * one. */
#ifndef TA_PATH_H
#define TA_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

TA_EXTERN_C_BEGIN

#define TA_PATH_CAP 512

typedef struct {
  char s[TA_PATH_CAP];
  size_t n;
  bool overflow;
} ta_path_t;

/* Starts the path at root (NULL: empty). */
void ta_path_init(ta_path_t *p, const char *root);
void ta_path_add(ta_path_t *p, const char *part);
/* Appends v in decimal. */
void ta_path_add_uint(ta_path_t *p, uint64_t v);
/* Cuts the path back to its first n bytes (a length it had), which fit. */
void ta_path_truncate(ta_path_t *p, size_t n);

TA_EXTERN_C_END

#endif
