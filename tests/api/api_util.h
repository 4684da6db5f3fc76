// Helpers shared by the API conformance tests: byte patterns that tell blocks apart, alignment and
// resident-memory probes, and a view of which library the process's malloc symbols resolve to.
// The tests use only the standard allocation API, so they run unchanged on glibc and under
// LD_PRELOAD of any allocator.
#ifndef TA_TESTS_API_UTIL_H
#define TA_TESTS_API_UTIL_H

#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace ta_api {

// A byte that depends on the block's seed and the offset, so a block holding another block's bytes
// (overlap, double hand-out, lost copy in realloc) shows up as a mismatch.
inline uint8_t pattern_byte(uint64_t seed, size_t i) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + (i >> 6) * 0xBF58476D1CE4E5B9ull;
  return (uint8_t)((x >> 56) ^ (i & 0xff));
}

// The chunk hash is hoisted out of the byte loop: tests fill and check hundreds of MiB.
inline void fill(void *p, size_t n, uint64_t seed) {
  uint8_t *b = (uint8_t *)p;
  for (size_t c = 0; c < n; c += 64) {
    uint8_t h = pattern_byte(seed, c) ^ (uint8_t)(c & 0xff);
    size_t end = n - c < 64 ? n : c + 64;
    for (size_t i = c; i < end; i++) b[i] = h ^ (uint8_t)(i & 0xff);
  }
}

// Returns the first offset that does not hold the pattern, or SIZE_MAX when all of it does.
inline size_t first_mismatch(const void *p, size_t n, uint64_t seed) {
  const uint8_t *b = (const uint8_t *)p;
  for (size_t c = 0; c < n; c += 64) {
    uint8_t h = pattern_byte(seed, c) ^ (uint8_t)(c & 0xff);
    size_t end = n - c < 64 ? n : c + 64;
    for (size_t i = c; i < end; i++)
      if (b[i] != (h ^ (uint8_t)(i & 0xff))) return i;
  }
  return SIZE_MAX;
}

inline size_t first_nonzero(const void *p, size_t n) {
  const uint8_t *b = (const uint8_t *)p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != 0) return i;
  return SIZE_MAX;
}

inline bool is_aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

inline size_t next_pow2(size_t a) {
  size_t r = 1;
  while (r < a) r <<= 1;
  return r;
}

inline size_t page_size() { return (size_t)sysconf(_SC_PAGESIZE); }

inline size_t rss_bytes() {
  long pages_total = 0, pages_resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
  fclose(f);
  return (size_t)pages_resident * page_size();
}

// Sizes are laundered through a volatile so the compiler can neither fold an impossible request
// into a constant NULL nor warn that it exceeds the object size limit.
inline size_t opaque(size_t n) {
  volatile size_t v = n;
  return v;
}

// The shared object that defines `name` for this process (the preloaded library wins), or "".
inline std::string provider_of(const char *name) {
  void *sym = dlsym(RTLD_DEFAULT, name);
  Dl_info info;
  if (sym == nullptr || dladdr(sym, &info) == 0 || info.dli_fname == nullptr) return "";
  char resolved[4096];
  if (realpath(info.dli_fname, resolved) == nullptr) return info.dli_fname;
  return resolved;
}

inline bool malloc_is_glibc() {
  return provider_of("malloc").find("/libc.so") != std::string::npos;
}

// Monotonic deadline used to bound every loop, so a slow (sanitizer, emulated) build still ends.
class Deadline {
 public:
  explicit Deadline(double seconds)
      : end_(std::chrono::steady_clock::now() +
             std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                 std::chrono::duration<double>(seconds))) {}
  bool passed() const { return std::chrono::steady_clock::now() >= end_; }

 private:
  std::chrono::steady_clock::time_point end_;
};

class Stopwatch {
 public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// Small deterministic generator (splitmix64): the same seed gives the same run everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return (size_t)(next() % n); }
  // Mostly small sizes, sometimes medium, rarely large: the mix servers produce.
  size_t size(size_t small_max, size_t large_max) {
    uint64_t r = below(100);
    if (r < 80) return 1 + below(small_max);
    if (r < 97) return 1 + below(small_max * 64);
    return 1 + below(large_max);
  }

 private:
  uint64_t s_;
};

}  // namespace ta_api

#endif
