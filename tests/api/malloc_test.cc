// malloc, free, calloc, reallocarray and malloc_usable_size as glibc defines them: alignment of every
// result, malloc(0), overflow and exhaustion as NULL + ENOMEM, zeroed calloc memory (also when it is
// recycled), and a usable size that is really usable.
#include <errno.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "api_util.h"

using namespace ta_api;

namespace {

// Catches: a class whose slot size is not a multiple of 16 (a 24-byte class hands out 8-aligned
// objects), and a large path that returns a header-offset pointer.
TEST(Malloc, SixteenByteAlignmentForEverySizeUpTo64KiB) {
  // Keep a window of blocks alive so consecutive requests land in different slots.
  std::vector<void *> window(64, nullptr);
  size_t k = 0;
  for (size_t s = 0; s <= 65536; s += (s < 4096 ? 1 : 7)) {
    void *p = malloc(opaque(s));
    ASSERT_NE(p, nullptr) << "size " << s;
    ASSERT_TRUE(is_aligned(p, 16)) << "size " << s << " gave " << p;
    if (s > 0) {
      ((volatile uint8_t *)p)[0] = 1;
      ((volatile uint8_t *)p)[s - 1] = 2;
    }
    free(window[k]);
    window[k] = p;
    k = (k + 1) % window.size();
  }
  for (void *p : window) free(p);
}

TEST(Malloc, SixteenByteAlignmentForLargeSizes) {
  for (size_t base = 64 * 1024; base <= 64u * 1024 * 1024; base *= 2) {
    for (size_t s : {base - 4097, base - 1, base, base + 1, base + 4095, base + base / 2}) {
      uint8_t *p = (uint8_t *)malloc(opaque(s));
      ASSERT_NE(p, nullptr) << "size " << s;
      ASSERT_TRUE(is_aligned(p, 16)) << "size " << s;
      for (size_t off = 0; off < s; off += 1 << 20) p[off] = (uint8_t)off;
      p[s - 1] = 7;
      free(p);
    }
  }
}

// Catches: malloc(0) returning NULL or a shared sentinel (two live "objects" at one address,
// which breaks programs that use addresses as keys) or a pointer free() rejects.
TEST(Malloc, ZeroSizeGivesUniqueFreeablePointers) {
  std::vector<void *> zero, other;
  for (int i = 0; i < 2000; i++) {
    void *p = malloc(opaque(0));
    ASSERT_NE(p, nullptr);
    ASSERT_TRUE(is_aligned(p, 16));
    zero.push_back(p);
    other.push_back(malloc(1 + i % 32));
  }
  std::set<void *> all(zero.begin(), zero.end());
  EXPECT_EQ(all.size(), zero.size()) << "malloc(0) handed out the same pointer twice";
  for (void *p : other) all.insert(p);
  EXPECT_EQ(all.size(), zero.size() + other.size()) << "malloc(0) aliases a live object";
  // A zero-size block is a real block: realloc can grow it.
  void *g = realloc(zero.back(), 100);
  ASSERT_NE(g, nullptr);
  fill(g, 100, 5);
  EXPECT_EQ(first_mismatch(g, 100, 5), SIZE_MAX);
  zero.back() = g;
  for (void *p : zero) free(p);
  for (void *p : other) free(p);
}

TEST(Malloc, FreeNullIsANoOp) {
  for (int i = 0; i < 1000; i++) free(nullptr);
  void *p = malloc(32);
  ASSERT_NE(p, nullptr);
  free(p);
}

// Catches: size arithmetic that wraps (size + header, rounding to a class or a page) and turns an
// impossible request into a tiny allocation, and a failure that forgets errno.
TEST(Malloc, ImpossibleSizesFailWithEnomem) {
  const size_t sizes[] = {SIZE_MAX,         SIZE_MAX - 1,      SIZE_MAX - 15,     SIZE_MAX - 4095,
                          SIZE_MAX - (1u << 21) + 1,          SIZE_MAX / 2,      SIZE_MAX / 2 + 1,
                          (size_t)PTRDIFF_MAX, (size_t)1 << 62, (size_t)1 << 60};
  for (size_t s : sizes) {
    errno = 0;
    void *p = malloc(opaque(s));
    EXPECT_EQ(p, nullptr) << "malloc(" << s << ") succeeded";
    EXPECT_EQ(errno, ENOMEM) << "malloc(" << s << ")";
    free(p);
  }
}

TEST(Calloc, OverflowingProductFailsWithEnomem) {
  const std::pair<size_t, size_t> cases[] = {
      {SIZE_MAX / 2, 3},           {3, SIZE_MAX / 2},          {SIZE_MAX, SIZE_MAX},
      {(size_t)1 << 32, (size_t)1 << 32}, {SIZE_MAX / 16 + 1, 16}, {2, SIZE_MAX / 2 + 1},
      {SIZE_MAX, 2}};
  for (auto [n, s] : cases) {
    errno = 0;
    void *p = calloc(opaque(n), opaque(s));
    EXPECT_EQ(p, nullptr) << "calloc(" << n << ", " << s << ") succeeded";
    EXPECT_EQ(errno, ENOMEM) << "calloc(" << n << ", " << s << ")";
    free(p);
  }
  // Large but representable products that no machine can back also fail cleanly.
  errno = 0;
  void *p = calloc(opaque((size_t)1 << 31), opaque((size_t)1 << 31));
  EXPECT_EQ(p, nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(Calloc, ZeroCountOrSizeGivesFreeablePointer) {
  void *a = calloc(0, 16), *b = calloc(16, 0), *c = calloc(0, 0);
  EXPECT_NE(a, nullptr);
  EXPECT_NE(b, nullptr);
  EXPECT_NE(c, nullptr);
  free(a);
  free(b);
  free(c);
}

// Catches: calloc skipping the memset because it believes memory is fresh from the OS while it is
// recycled from a freed block, a purged-then-reused page, or the tail of a split large block.
TEST(Calloc, MemoryIsZeroEvenWhenRecycled) {
  const size_t sizes[] = {1,    8,     16,    24,     100,        512,        1000,
                          4096, 8196,  16384, 100000, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024 + 8};
  for (size_t s : sizes) {
    size_t count = std::max<size_t>(1, std::min<size_t>(64, (8u << 20) / s));
    for (int round = 0; round < 20; round++) {
      std::vector<void *> blocks;
      for (size_t i = 0; i < count; i++) {
        void *p = malloc(s);
        ASSERT_NE(p, nullptr);
        memset(p, 0xA5, malloc_usable_size(p));  // dirty the whole block, tail included
        blocks.push_back(p);
      }
      for (void *p : blocks) free(p);
      blocks.clear();
      for (size_t i = 0; i < count; i++) {
        // Alternate the factorisation so both argument orders are exercised.
        uint8_t *p = (uint8_t *)((round & 1) ? calloc(s, 1) : calloc(1, s));
        ASSERT_NE(p, nullptr);
        size_t bad = first_nonzero(p, s);
        ASSERT_EQ(bad, SIZE_MAX) << "calloc(" << s << ") byte " << bad << " is not zero (round "
                                 << round << ")";
        blocks.push_back(p);
      }
      for (void *p : blocks) free(p);
    }
  }
}

TEST(Calloc, LargeFreshAndRecycledBlocksAreZero) {
  const size_t s = 64u << 20;
  for (int round = 0; round < 3; round++) {
    uint8_t *p = (uint8_t *)calloc(s / 8, 8);
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(first_nonzero(p, s), SIZE_MAX) << "round " << round;
    memset(p, 0x5A, s);
    free(p);
  }
}

// Catches: a usable size larger than the slot (writes into the neighbour), or smaller than asked.
TEST(UsableSize, IsAtLeastTheRequestAndAllOfItIsWritable) {
  std::vector<size_t> sizes;
  for (size_t s = 1; s <= 1024; s++) sizes.push_back(s);
  for (size_t s = 1024 + 16; s <= 8192; s += 16)
    for (size_t d : {(size_t)-1, (size_t)0, (size_t)1}) sizes.push_back(s + d);
  for (size_t b = 8192; b <= 4u << 20; b *= 2)
    for (size_t q : {b, b + b / 4, b + b / 2, b + 3 * b / 4})
      for (size_t d : {(size_t)-1, (size_t)0, (size_t)1}) sizes.push_back(q + d);
  for (size_t s : sizes) {
    const int n = s <= 1024 ? 8 : s <= 8192 ? 4 : 3;
    void *p[8];
    size_t us[8];
    for (int i = 0; i < n; i++) {
      p[i] = malloc(s);
      ASSERT_NE(p[i], nullptr);
      us[i] = malloc_usable_size(p[i]);
      ASSERT_GE(us[i], s) << "malloc_usable_size below the request";
      fill(p[i], us[i], s * 16 + i);
    }
    for (int i = 0; i < n; i++) {
      size_t bad = first_mismatch(p[i], us[i], s * 16 + i);
      ASSERT_EQ(bad, SIZE_MAX) << "size " << s << " block " << i << " usable " << us[i]
                               << " corrupted at " << bad << " by a neighbour's usable tail";
    }
    for (int i = 0; i < n; i++) free(p[i]);
  }
}

TEST(UsableSize, NullIsZero) { EXPECT_EQ(malloc_usable_size(nullptr), 0u); }

// Catches: two live blocks that overlap (a slot handed out twice, a split that miscounts).
TEST(Malloc, LiveBlocksNeverOverlap) {
  Rng rng(42);
  std::vector<std::pair<uintptr_t, size_t>> live;
  for (int i = 0; i < 30000; i++) {
    size_t s = rng.size(512, 2u << 20);
    void *p = malloc(s);
    ASSERT_NE(p, nullptr);
    live.push_back({(uintptr_t)p, malloc_usable_size(p)});
    if (rng.below(4) == 0) {  // free a random earlier one so slots are reused
      size_t j = rng.below(live.size());
      free((void *)live[j].first);
      live[j] = live.back();
      live.pop_back();
    }
  }
  std::sort(live.begin(), live.end());
  for (size_t i = 1; i < live.size(); i++)
    ASSERT_LE(live[i - 1].first + live[i - 1].second, live[i].first)
        << "block " << (void *)live[i - 1].first << " (usable " << live[i - 1].second
        << ") overlaps " << (void *)live[i].first;
  for (auto &b : live) free((void *)b.first);
}

// Random malloc/calloc/realloc/free with every block's contents checked against its seed: catches a
// free that corrupts another block, a freed block handed out while still live, lost realloc copies.
TEST(Malloc, RandomOperationsKeepEveryBlockIntact) {
  struct Block {
    void *p;
    size_t n;
    uint64_t seed;
  };
  Rng rng(7);
  std::vector<Block> live;
  Deadline deadline(5.0);
  for (int op = 0; op < 60000 && !deadline.passed(); op++) {
    uint64_t r = rng.below(100);
    if (live.size() < 50 || r < 40) {
      size_t n = rng.size(1024, 256 * 1024);
      Block b{r & 1 ? calloc(1, n) : malloc(n), n, rng.next()};
      ASSERT_NE(b.p, nullptr);
      if (r & 1) {
        ASSERT_EQ(first_nonzero(b.p, n), SIZE_MAX);
      }
      fill(b.p, n, b.seed);
      live.push_back(b);
    } else if (r < 75) {
      size_t j = rng.below(live.size());
      ASSERT_EQ(first_mismatch(live[j].p, live[j].n, live[j].seed), SIZE_MAX) << "op " << op;
      free(live[j].p);
      live[j] = live.back();
      live.pop_back();
    } else {
      size_t j = rng.below(live.size());
      Block &b = live[j];
      ASSERT_EQ(first_mismatch(b.p, b.n, b.seed), SIZE_MAX) << "op " << op;
      size_t n = rng.size(1024, 256 * 1024);
      void *q = realloc(b.p, n);
      ASSERT_NE(q, nullptr);
      ASSERT_EQ(first_mismatch(q, std::min(n, b.n), b.seed), SIZE_MAX) << "realloc lost data";
      b.p = q;
      b.n = n;
      b.seed = rng.next();
      fill(b.p, b.n, b.seed);
    }
  }
  for (Block &b : live) {
    ASSERT_EQ(first_mismatch(b.p, b.n, b.seed), SIZE_MAX);
    free(b.p);
  }
}

TEST(Reallocarray, OverflowFailsWithEnomemAndKeepsTheBlock) {
  errno = 0;
  void *p = reallocarray(nullptr, opaque(SIZE_MAX / 2), opaque(3));
  EXPECT_EQ(p, nullptr);
  EXPECT_EQ(errno, ENOMEM);

  void *b = malloc(200);
  ASSERT_NE(b, nullptr);
  fill(b, 200, 99);
  errno = 0;
  void *q = reallocarray(b, opaque((size_t)1 << 33), opaque((size_t)1 << 33));
  EXPECT_EQ(q, nullptr);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(first_mismatch(b, 200, 99), SIZE_MAX) << "failed reallocarray damaged the block";

  // A representable product behaves as realloc.
  q = reallocarray(b, opaque(100), opaque(40));
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(first_mismatch(q, 200, 99), SIZE_MAX);
  EXPECT_GE(malloc_usable_size(q), 4000u);
  fill(q, 4000, 100);
  q = reallocarray(q, opaque(10), opaque(10));
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(first_mismatch(q, 100, 100), SIZE_MAX);
  free(q);

  void *n = reallocarray(nullptr, opaque(16), opaque(16));  // NULL behaves as malloc
  ASSERT_NE(n, nullptr);
  EXPECT_TRUE(is_aligned(n, 16));
  free(n);
}

}  // namespace
