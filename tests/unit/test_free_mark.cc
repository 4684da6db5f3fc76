// free's fast path reads a block's first byte before its free mark's word (tcache.h), so that a
// program's last narrow store to the block is forwarded. The byte alone decides nothing: a block
// whose first byte, or whole word, holds its mark by chance is still a live block freed once,
// and must reach this thread's cache without a misuse report. Through the internal entry
// points, on the real OS.
#include <gtest/gtest.h>

#include <cstring>

#include "api.h"
#include "tcache.h"

namespace {

// Frees p and checks that it is the newest block in its class's bin.
void expect_cached(void *p, unsigned cls) {
  ta_tcache_t *tc = ta_tcache_current();
  uint32_t n = tc->bins[cls].count;
  ta_free(p);
  ASSERT_EQ(tc->bins[cls].count, n + 1) << "the bin was full: the test needs room";
  EXPECT_EQ(tc->bins[cls].slots[n], p);
}

TEST(FreeMark, AFirstByteLikeTheMarkIsNotAFreeBlock) {
  void *warm = ta_malloc(64);  // the cache exists and the class is stocked
  ta_free(warm);
  unsigned cls = ta_size_class_of(64);
  for (int i = 0; i < 32; i++) {
    auto *p = static_cast<unsigned char *>(ta_malloc(64));
    uintptr_t mark = ta_tcache_mark_of(p, ta_tcache_free_mark);
    std::memcpy(p, &mark, sizeof mark);
    p[sizeof mark - 1] ^= 0x5a;  // every byte but the last, the first included
    ASSERT_FALSE(ta_tcache_holds_mark(p, mark));
    expect_cached(p, cls);
    EXPECT_EQ(ta_malloc(64), p) << "handed out again, once";
  }
}

TEST(FreeMark, AWholeMarkByChanceIsConfirmedAndFreed) {
  // The slow path looks for the block in the caches and its slab's free map, finds it live,
  // and frees it like any other.
  void *warm = ta_malloc(64);
  ta_free(warm);
  unsigned cls = ta_size_class_of(64);
  void *p = ta_malloc(64);
  uintptr_t mark = ta_tcache_mark_of(p, ta_tcache_free_mark);
  std::memcpy(p, &mark, sizeof mark);
  ASSERT_TRUE(ta_tcache_holds_mark(p, mark));
  expect_cached(p, cls);
  EXPECT_EQ(ta_malloc(64), p);
}

TEST(FreeMark, AFreedBlockHoldsItsMark) {
  void *p = ta_malloc(64);
  ta_free(p);
  EXPECT_TRUE(ta_tcache_holds_mark(p, ta_tcache_mark_of(p, ta_tcache_free_mark)));
  EXPECT_EQ(ta_malloc(64), p);
}

}  // namespace
