// heap_probe.h: what the kernel says about this process's memory, for heap tests.
#pragma once

#include <cstdio>
#include <cstring>
#include <string>

#include "proc_field.h"

namespace probe {

// A field of /proc/self/smaps_rollup or /proc/self/status, in KiB (-1 if absent).
inline long kib(const char *file, const char *field) { return proc_field(file, field); }
inline long rss_kib() { return kib("/proc/self/status", "VmRSS"); }
inline long anon_kib() { return kib("/proc/self/smaps_rollup", "Anonymous"); }
inline long anon_huge_kib() { return kib("/proc/self/smaps_rollup", "AnonHugePages"); }

inline int map_count() {
  FILE *f = fopen("/proc/self/maps", "r");
  int n = 0;
  for (int c; (c = fgetc(f)) != EOF;) n += c == '\n';
  fclose(f);
  return n;
}

inline std::string thp_mode() {
  FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  if (!f) return "";
  char buf[128] = {};
  fgets(buf, sizeof(buf), f);
  fclose(f);
  const char *b = strchr(buf, '['), *e = b ? strchr(b, ']') : nullptr;
  return b && e ? std::string(b + 1, e) : "";
}

}  // namespace probe
