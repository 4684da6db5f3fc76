// Linked into every API test executable: proves the run tests the allocator it claims to. A preloaded
// run whose LD_PRELOAD silently failed would otherwise pass by testing glibc. The library expected
// is LD_PRELOAD (a single path, as ctest sets it); without it, malloc must be glibc's.
#include <gtest/gtest.h>

#include <string>

#include "api_util.h"

namespace {

std::string expected_library() {
  const char *e = getenv("LD_PRELOAD");
  if (e == nullptr || *e == '\0') return "";
  char resolved[4096];
  if (realpath(e, resolved) == nullptr) return e;
  return resolved;
}

TEST(Preload, MallocComesFromTheLibraryUnderTest) {
  std::string expected = expected_library();
  std::string got = ta_api::provider_of("malloc");
  if (expected.empty()) {
    EXPECT_TRUE(ta_api::malloc_is_glibc()) << "plain run, but malloc comes from " << got;
  } else {
    EXPECT_EQ(got, expected) << "LD_PRELOAD did not take effect";
  }
}

// A drop-in allocator must define every allocation entry point glibc has: one it lacks runs glibc's
// version against a heap glibc does not own (pvalloc, reallocarray; malloc_trim and mallinfo2
// would report glibc's empty arena), or is missing to programs built against a newer libc
// (free_sized, free_aligned_sized).
TEST(Preload, EveryEntryPointIsInterposed) {
  std::string expected = expected_library();
  if (expected.empty()) GTEST_SKIP() << "plain glibc run";
  const char *names[] = {"malloc",        "free",          "calloc",         "realloc",
                         "reallocarray",  "posix_memalign", "aligned_alloc", "memalign",
                         "valloc",        "pvalloc",       "malloc_usable_size",
                         "free_sized",    "free_aligned_sized", "malloc_trim",
                         "mallinfo2",     "mallinfo",      "malloc_stats"};
  std::string missing;
  for (const char *n : names)
    if (ta_api::provider_of(n) != expected) missing += std::string(" ") + n;
  EXPECT_TRUE(missing.empty()) << "not defined by " << expected << ":" << missing;
}

}  // namespace
