/* proc_field.h: one "Name: value" line of a /proc file (status, smaps_rollup, meminfo), read
 * with open/read into the stack: no stdio, so no malloc, for tests that measure the heap they
 * run on. C and C++. */
#ifndef TA_TEST_PROC_FIELD_H
#define TA_TEST_PROC_FIELD_H

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The number after "field:" at the start of a line (kB for sizes); -1 when the file cannot be
 * read or has no such line. */
static inline long proc_field(const char *file, const char *field) {
  char buf[16384];
  int fd = open(file, O_RDONLY);
  if (fd < 0) return -1;
  size_t have = 0;
  for (ssize_t n; have < sizeof(buf) - 1 && (n = read(fd, buf + have, sizeof(buf) - 1 - have)) > 0;)
    have += (size_t)n;
  close(fd);
  buf[have] = 0;
  size_t len = strlen(field);
  for (const char *line = buf; *line;) {
    if (strncmp(line, field, len) == 0 && line[len] == ':') return atol(line + len + 1);
    const char *nl = strchr(line, '\n');
    if (!nl) break;
    line = nl + 1;
  }
  return -1;
}

#endif
