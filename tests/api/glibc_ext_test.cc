// glibc's malloc extensions (malloc.h) as glibc defines them, on whichever allocator serves
// malloc: malloc_trim returns freed memory to the kernel and says so, mallinfo2 and mallinfo
// count the bytes in use, malloc_stats prints to stderr. Under LD_PRELOAD of an allocator that
// lacks them, glibc's versions run on glibc's arena, which holds nothing, and these fail.
#include <gtest/gtest.h>
#include <malloc.h>
#include <string.h>

#include <string>
#include <vector>

#include "api_util.h"

using namespace ta_api;

namespace {

const size_t kBlock = 1000;

std::vector<char *> fill_blocks(size_t bytes) {
  std::vector<char *> v;
  for (size_t i = 0; i < bytes / kBlock; i++) {
    char *p = (char *)malloc(opaque(kBlock));
    memset(p, (int)i, kBlock);
    v.push_back(p);
  }
  return v;
}

TEST(MallocTrim, ReturnsFreedMemoryAndSaysSo) {
  std::vector<char *> v = fill_blocks(64 << 20);
  // A live block allocated after them keeps glibc from trimming the top of its heap by itself
  // when they are freed; tieralloc keeps freed pages resident for its decay period.
  char *live = (char *)malloc(opaque(kBlock));
  memset(live, 1, kBlock);
  for (char *p : v) free(p);
  size_t before = rss_bytes();
  EXPECT_EQ(malloc_trim(0), 1);
  size_t after = rss_bytes();
  EXPECT_LT(after + (32 << 20), before) << "RSS " << (before >> 20) << " MiB before the trim, "
                                        << (after >> 20) << " after";
  EXPECT_EQ(live[kBlock - 1], 1) << "a live block survives the trim";
  free(live);
}

TEST(Mallinfo2, CountsTheBytesInUse) {
  const size_t bytes = 16 << 20;
  struct mallinfo2 m0 = mallinfo2();
  std::vector<char *> v = fill_blocks(bytes);
  struct mallinfo2 m1 = mallinfo2();
  EXPECT_GE(m1.uordblks, m0.uordblks + bytes / kBlock * kBlock);
  EXPECT_EQ(m1.arena, m1.uordblks + m1.fordblks) << "arena is the bytes in use plus the free ones";
  for (char *p : v) free(p);
  struct mallinfo2 m2 = mallinfo2();
  // What a thread cache or glibc's tcache keeps still counts as in use: a little.
  EXPECT_LE(m2.uordblks + bytes - (1 << 20), m1.uordblks)
      << "in use " << m1.uordblks << " with the blocks, " << m2.uordblks << " after freeing them";
}

TEST(Mallinfo, TheIntVersionCountsTheBytesInUse) {
  const size_t bytes = 16 << 20;
  std::vector<char *> v = fill_blocks(bytes);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  struct mallinfo m = mallinfo();
#pragma GCC diagnostic pop
  EXPECT_GE((size_t)m.uordblks, bytes / kBlock * kBlock);
  EXPECT_GE(m.arena, m.uordblks);
  for (char *p : v) free(p);
}

TEST(MallocStats, PrintsToStderr) {
  void *p = malloc(opaque(100));
  testing::internal::CaptureStderr();
  malloc_stats();
  std::string out = testing::internal::GetCapturedStderr();
  free(p);
  EXPECT_NE(out.find("bytes"), std::string::npos) << out;
}

}  // namespace
