// realloc as glibc defines it: NULL is malloc, size 0 frees, growing and shrinking keep the common
// prefix across every size-class boundary and into multi-MiB blocks, and a failure leaves the block
// untouched.
#include <errno.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include <algorithm>
#include <set>
#include <vector>

#include "api_util.h"

using namespace ta_api;

namespace {

// Every size from 1 to 1 KiB, then each quarter-doubling boundary up to 256 KiB and its
// neighbours: whatever the class table is, every class edge is crossed.
std::vector<size_t> boundary_sizes() {
  std::set<size_t> s;
  for (size_t i = 1; i <= 1024; i++) s.insert(i);
  for (size_t b = 1024; b <= 256 * 1024; b *= 2)
    for (size_t q = 0; q < 8; q++) {
      size_t edge = b + b * q / 8;
      for (size_t d : {edge - 17, edge - 1, edge, edge + 1, edge + 16}) s.insert(d);
    }
  return std::vector<size_t>(s.begin(), s.end());
}

TEST(Realloc, NullPointerIsMalloc) {
  for (size_t n : {0, 1, 24, 4096, 100000, 3 << 20}) {
    void *p = realloc(nullptr, opaque(n));
    ASSERT_NE(p, nullptr) << n;
    EXPECT_TRUE(is_aligned(p, 16));
    EXPECT_GE(malloc_usable_size(p), (size_t)n);
    fill(p, n, n);
    EXPECT_EQ(first_mismatch(p, n, n), SIZE_MAX);
    free(p);
  }
}

// glibc frees the block and returns NULL. A realloc(p, 0) that returned NULL without freeing would
// leak: 20000 dirty 64 KiB blocks (1.25 GiB) must not stay resident.
TEST(Realloc, ZeroSizeFreesAndReturnsNull) {
  size_t before = rss_bytes();
  for (int i = 0; i < 20000; i++) {
    void *p = malloc(64 * 1024);
    ASSERT_NE(p, nullptr);
    memset(p, i, 64 * 1024);
    void *q = realloc(p, opaque(0));
    ASSERT_EQ(q, nullptr) << "glibc's realloc(p, 0) frees p and returns NULL";
  }
  size_t grown = rss_bytes() - std::min(before, rss_bytes());
  EXPECT_LT(grown, 256u << 20) << "realloc(p, 0) does not free p: RSS grew by " << grown;
}

// Catches: a move that copies the new size instead of the old one (reads past the block), copies
// too little (loses the tail), or an in-place resize that crosses into the next slot.
TEST(Realloc, GrowAndShrinkThroughEveryClassBoundaryKeepsContents) {
  std::vector<size_t> sizes = boundary_sizes();
  void *guard_before = malloc(64), *p = malloc(1), *guard_after = malloc(64);
  ASSERT_TRUE(p && guard_before && guard_after);
  fill(guard_before, 64, 1001);
  fill(guard_after, 64, 1002);
  size_t cur = 1;
  fill(p, cur, 0);
  auto step = [&](size_t n, uint64_t seed) {
    void *q = realloc(p, n);
    ASSERT_NE(q, nullptr) << "realloc to " << n;
    ASSERT_TRUE(is_aligned(q, 16));
    size_t keep = std::min(cur, n);
    size_t bad = first_mismatch(q, keep, seed);
    ASSERT_EQ(bad, SIZE_MAX) << "realloc " << cur << " -> " << n << " lost byte " << bad;
    p = q;
    cur = n;
    fill(p, cur, seed + 1);
  };
  uint64_t seed = 0;
  for (size_t n : sizes) {
    step(n, seed);
    ASSERT_FALSE(HasFatalFailure());
    seed++;
  }
  for (auto it = sizes.rbegin(); it != sizes.rend(); ++it) {
    step(*it, seed);
    ASSERT_FALSE(HasFatalFailure());
    seed++;
  }
  free(p);
  EXPECT_EQ(first_mismatch(guard_before, 64, 1001), SIZE_MAX);
  EXPECT_EQ(first_mismatch(guard_after, 64, 1002), SIZE_MAX);
  free(guard_before);
  free(guard_after);
}

// Every pair of boundary sizes up to 16 KiB, starting from a fresh block each time so small blocks
// of every class (not only the ones a chain happens to visit) are resized to every other class.
TEST(Realloc, EveryPairOfSmallBoundarySizesKeepsContents) {
  std::vector<size_t> all = boundary_sizes(), sizes;
  for (size_t s : all)
    if (s <= 16384 && (s > 1024 || s % 8 == 0 || s % 8 == 1 || s % 8 == 7)) sizes.push_back(s);
  uint64_t seed = 1;
  for (size_t a : sizes)
    for (size_t b : sizes) {
      void *p = malloc(a);
      ASSERT_NE(p, nullptr);
      fill(p, a, seed);
      void *q = realloc(p, b);
      ASSERT_NE(q, nullptr);
      size_t bad = first_mismatch(q, std::min(a, b), seed);
      ASSERT_EQ(bad, SIZE_MAX) << "realloc " << a << " -> " << b << " lost byte " << bad;
      free(q);
      seed++;
    }
}

TEST(Realloc, MultiMiBBlocksKeepContents) {
  const size_t mib = 1u << 20;
  const size_t chain[] = {1 * mib, 2 * mib + 1, 3 * mib,      5 * mib - 3, 8 * mib,
                          13 * mib, 34 * mib + 7, 21 * mib, 4 * mib + 100, 100, 6 * mib};
  void *p = nullptr;
  size_t cur = 0;
  uint64_t seed = 500;
  for (size_t n : chain) {
    void *q = realloc(p, n);
    ASSERT_NE(q, nullptr) << n;
    ASSERT_TRUE(is_aligned(q, 16));
    size_t bad = first_mismatch(q, std::min(cur, n), seed);
    ASSERT_EQ(bad, SIZE_MAX) << "realloc " << cur << " -> " << n << " lost byte " << bad;
    p = q;
    cur = n;
    fill(p, cur, ++seed);
  }
  free(p);
}

// Repeated growth by small steps (how string builders and vectors without capacity grow).
TEST(Realloc, GrowingByOneByteKeepsContents) {
  uint8_t *p = nullptr;
  for (size_t n = 1; n <= 70000; n++) {
    uint8_t *q = (uint8_t *)realloc(p, n);
    ASSERT_NE(q, nullptr);
    q[n - 1] = (uint8_t)(n * 31);
    if ((n & (n - 1)) == 0 || n % 4093 == 0) {  // check everything now and then
      for (size_t i = 0; i < n; i++) ASSERT_EQ(q[i], (uint8_t)((i + 1) * 31)) << n << " " << i;
    }
    p = q;
  }
  free(p);
}

// Catches: a failed grow that frees or moves the block, or returns NULL without ENOMEM.
TEST(Realloc, FailureLeavesTheBlockIntact) {
  const size_t sizes[] = {1, 48, 1000, 20000, 300000, 5u << 20};
  const size_t huge[] = {SIZE_MAX, SIZE_MAX - 4095, SIZE_MAX / 2, (size_t)1 << 60};
  for (size_t s : sizes)
    for (size_t h : huge) {
      void *p = malloc(s);
      ASSERT_NE(p, nullptr);
      fill(p, s, s + h);
      errno = 0;
      void *q = realloc(p, opaque(h));
      EXPECT_EQ(q, nullptr) << "realloc(" << s << " -> " << h << ") succeeded";
      EXPECT_EQ(errno, ENOMEM);
      ASSERT_EQ(first_mismatch(p, s, s + h), SIZE_MAX) << "failed realloc damaged the block";
      q = realloc(p, s * 2);  // the block is still a live, resizable block
      ASSERT_NE(q, nullptr);
      ASSERT_EQ(first_mismatch(q, s, s + h), SIZE_MAX);
      free(q);
    }
}

TEST(Realloc, SameSizeAndTinyShrinksKeepContents) {
  for (size_t s : {(size_t)16, (size_t)100, (size_t)4096, (size_t)70000, (size_t)1 << 20}) {
    void *p = malloc(s);
    ASSERT_NE(p, nullptr);
    fill(p, s, s);
    for (int i = 0; i < 10; i++) {
      p = realloc(p, s);
      ASSERT_NE(p, nullptr);
      ASSERT_EQ(first_mismatch(p, s, s), SIZE_MAX);
    }
    for (size_t n = s; n > s - std::min<size_t>(s - 1, 64); n--) {
      p = realloc(p, n);
      ASSERT_NE(p, nullptr);
      ASSERT_EQ(first_mismatch(p, n, s), SIZE_MAX);
    }
    free(p);
  }
}

// A buffer grown by small appends (one realloc each, as a naive string builder does) must not
// be copied at every size class it crosses: a grown block moves to at least a quarter more (the
// hysteresis of malloc.c), so 16 bytes to 64 KiB in 8-byte steps moves a few dozen times, not
// once per class (about a hundred). A shrink that saves a quarter or more still gives the memory
// back.
TEST(Realloc, AppendGrowthMovesGeometricallyAndLargeShrinksReturnMemory) {
  char *p = static_cast<char *>(malloc(16));
  ASSERT_NE(p, nullptr);
  fill(p, 16, 7);
  int moves = 0;
  size_t n = 16;
  for (; n + 8 <= 64 * 1024; n += 8) {
    char *q = static_cast<char *>(realloc(p, opaque(n + 8)));
    ASSERT_NE(q, nullptr);
    ASSERT_GE(malloc_usable_size(q), n + 8);
    if (q != p) moves++;
    p = q;
  }
  EXPECT_LE(moves, 60) << "copied at nearly every size class";
  p = static_cast<char *>(realloc(p, opaque(1000)));
  ASSERT_NE(p, nullptr);
  EXPECT_LT(malloc_usable_size(p), (size_t)2000) << "a shrink to 1000 bytes kept a 64 KiB block";
  free(p);
}

}  // namespace
