// The aligned entry points as glibc 2.36 defines them (posix_memalign, aligned_alloc, memalign,
// valloc, pvalloc), their blocks freed and resized with the ordinary calls, and the C23 sized frees
// (free_sized, free_aligned_sized), looked up at run time because glibc 2.36 lacks them.
#include <dlfcn.h>
#include <errno.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include <algorithm>
#include <functional>
#include <vector>

#include "api_util.h"

using namespace ta_api;

namespace {

const size_t kMiB = 1u << 20;

// 16 B .. 32 MiB: the slab range, the page range, hugepage (2 MiB) and beyond.
std::vector<size_t> alignments() {
  std::vector<size_t> a;
  for (size_t x = 16; x <= 32 * kMiB; x *= 2) a.push_back(x);
  return a;
}

// Sizes around the alignment: below it, equal, just above, and a size unrelated to it.
std::vector<size_t> sizes_for(size_t a) {
  std::vector<size_t> s = {1, 24, a - 1, a, a + 1, a + a / 2, 100000};
  if (a >= 8 * kMiB) s = {1, a - 1, a + 1};  // keep the large cases cheap
  return s;
}

typedef void *(*aligned_fn)(size_t align, size_t size);

void *via_posix_memalign(size_t a, size_t n) {
  void *p = nullptr;
  return posix_memalign(&p, a, n) == 0 ? p : nullptr;
}

// Allocates every (alignment, size) pair, keeps several alive at once and checks alignment, the
// usable size, and that contents written to all of them survive.
void check_alignments(aligned_fn fn, const char *name, bool size_multiple_of_alignment) {
  for (size_t a : alignments()) {
    struct Block {
      void *p;
      size_t n;
    };
    std::vector<Block> live;
    for (size_t n : sizes_for(a)) {
      if (size_multiple_of_alignment) n = (n + a - 1) / a * a;
      void *p = fn(a, n);
      ASSERT_NE(p, nullptr) << name << "(" << a << ", " << n << ")";
      ASSERT_TRUE(is_aligned(p, a)) << name << "(" << a << ", " << n << ") gave " << p;
      ASSERT_GE(malloc_usable_size(p), n);
      fill(p, n, a ^ n);
      live.push_back({p, n});
    }
    for (Block &b : live) {
      ASSERT_EQ(first_mismatch(b.p, b.n, a ^ b.n), SIZE_MAX) << name << " alignment " << a;
      free(b.p);
    }
  }
}

TEST(PosixMemalign, HonoursAlignmentsUpTo32MiB) {
  check_alignments(via_posix_memalign, "posix_memalign", false);
}
TEST(AlignedAlloc, HonoursAlignmentsUpTo32MiB) {
  check_alignments(aligned_alloc, "aligned_alloc", true);
  check_alignments(aligned_alloc, "aligned_alloc", false);  // glibc accepts any size
}
TEST(Memalign, HonoursAlignmentsUpTo32MiB) { check_alignments(memalign, "memalign", false); }

// POSIX: the alignment must be a power of two multiple of sizeof(void *), else EINVAL and *memptr
// untouched (glibc does not modify it on failure; POSIX.1-2008 TC2 requires that).
TEST(PosixMemalign, RejectsInvalidAlignmentWithEinval) {
  const size_t bad[] = {0, 1, 2, 4, 3, 6, 12, 24, 48, 100, 4097, 3 * 4096,
                        SIZE_MAX / 2 + 2, SIZE_MAX};
  for (size_t a : bad) {
    void *sentinel = (void *)0x1234;
    void *p = sentinel;
    int r = posix_memalign(&p, opaque(a), 64);
    EXPECT_EQ(r, EINVAL) << "alignment " << a;
    EXPECT_EQ(p, sentinel) << "alignment " << a << ": *memptr changed on failure";
  }
  void *p = nullptr;
  ASSERT_EQ(posix_memalign(&p, opaque(sizeof(void *)), 64), 0) << "sizeof(void*) is valid";
  EXPECT_TRUE(is_aligned(p, 16));
  free(p);
}

TEST(PosixMemalign, ZeroSizeGivesFreeablePointer) {
  for (size_t a : {8, 16, 64, 4096, 1 << 21}) {
    void *p = nullptr;
    ASSERT_EQ(posix_memalign(&p, a, opaque(0)), 0);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(is_aligned(p, a));
    free(p);
  }
}

// glibc 2.36 rounds a non-power-of-two alignment of memalign up to the next power of two (and
// aligned_alloc is the same function there); an alignment above SIZE_MAX/2+1 is EINVAL and
// SIZE_MAX/2+1 itself cannot be satisfied (ENOMEM).
TEST(Memalign, RoundsNonPowerOfTwoAlignmentUp) {
  for (size_t a : {3, 5, 12, 24, 48, 100, 1000, 3 * 4096, 5000, 3 << 20}) {
    void *p = memalign(opaque(a), 40);
    ASSERT_NE(p, nullptr) << "alignment " << a;
    EXPECT_TRUE(is_aligned(p, std::max<size_t>(16, next_pow2(a))))
        << "memalign(" << a << ") gave " << p << ", not aligned to " << next_pow2(a);
    fill(p, 40, a);
    EXPECT_EQ(first_mismatch(p, 40, a), SIZE_MAX);
    free(p);
  }
  for (size_t a : {0, 1, 2, 4, 8}) {  // below the minimum: an ordinary 16-aligned block
    void *p = memalign(opaque(a), 40);
    ASSERT_NE(p, nullptr) << "alignment " << a;
    EXPECT_TRUE(is_aligned(p, 16));
    free(p);
  }
}

TEST(Memalign, ImpossibleAlignmentsFail) {
  errno = 0;
  EXPECT_EQ(memalign(opaque(SIZE_MAX / 2 + 2), 16), nullptr);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(memalign(opaque(SIZE_MAX), 16), nullptr);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(memalign(opaque(SIZE_MAX / 2 + 1), 16), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

// glibc up to 2.37 treats aligned_alloc as memalign (rounds the alignment up); glibc 2.38 and C17
// DR 460 make a non-power-of-two alignment fail with EINVAL. Either is glibc behaviour; a misaligned
// block, or NULL with another errno, is not.
TEST(AlignedAlloc, NonPowerOfTwoAlignmentIsRoundedUpOrEinval) {
  int rounded = 0, rejected = 0;
  for (size_t a : {3, 12, 24, 48, 100, 3 * 4096}) {
    errno = 0;
    void *p = aligned_alloc(opaque(a), 4 * a);
    if (p == nullptr) {
      EXPECT_EQ(errno, EINVAL) << "aligned_alloc(" << a << ")";
      rejected++;
    } else {
      EXPECT_TRUE(is_aligned(p, std::max<size_t>(16, next_pow2(a)))) << "alignment " << a;
      fill(p, 4 * a, a);
      EXPECT_EQ(first_mismatch(p, 4 * a, a), SIZE_MAX);
      free(p);
      rounded++;
    }
  }
  EXPECT_TRUE(rounded == 0 || rejected == 0) << "inconsistent: some rounded, some rejected";
  RecordProperty("non_pow2_alignment", rounded ? "rounded up" : "EINVAL");
  errno = 0;
  EXPECT_EQ(aligned_alloc(opaque(SIZE_MAX), 16), nullptr);
  EXPECT_EQ(errno, EINVAL);
}

TEST(Aligned, ImpossibleSizesFailWithEnomem) {
  errno = 0;
  EXPECT_EQ(aligned_alloc(4096, opaque(SIZE_MAX - 100)), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(memalign(kMiB, opaque(SIZE_MAX / 2)), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(memalign(2 * kMiB, opaque(SIZE_MAX - 2 * kMiB + 2)), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  void *p = (void *)0x1234;
  EXPECT_EQ(posix_memalign(&p, 4096, opaque(SIZE_MAX - 100)), ENOMEM);
  EXPECT_EQ(p, (void *)0x1234);
  errno = 0;
  EXPECT_EQ(valloc(opaque(SIZE_MAX - 100)), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(pvalloc(opaque(SIZE_MAX - 100)), nullptr);  // rounding up to a page would wrap
  EXPECT_EQ(errno, ENOMEM);
}

TEST(Valloc, IsPageAligned) {
  const size_t pg = page_size();
  std::vector<void *> live;
  for (size_t n : {(size_t)0, (size_t)1, pg - 1, pg, pg + 1, 3 * pg, kMiB, 10 * kMiB + 5}) {
    void *p = valloc(n);
    ASSERT_NE(p, nullptr) << n;
    ASSERT_TRUE(is_aligned(p, pg)) << "valloc(" << n << ") gave " << p;
    ASSERT_GE(malloc_usable_size(p), n);
    fill(p, n, n);
    live.push_back(p);
  }
  for (void *p : live) free(p);
}

// pvalloc(n) rounds n up to a whole page: all of that page is the caller's to write.
TEST(Pvalloc, RoundsSizeUpToAPageAndAllOfItIsWritable) {
  const size_t pg = page_size();
  for (size_t n : {(size_t)1, (size_t)100, pg - 1, pg, pg + 1, 5 * pg + 3, 3 * kMiB + 1}) {
    size_t rounded = (n + pg - 1) / pg * pg;
    void *before = malloc(64), *p = pvalloc(n), *after = malloc(64);
    ASSERT_NE(p, nullptr) << n;
    ASSERT_TRUE(is_aligned(p, pg)) << "pvalloc(" << n << ") gave " << p;
    ASSERT_GE(malloc_usable_size(p), rounded) << "pvalloc(" << n << ") did not round to a page";
    fill(before, 64, 1);
    fill(after, 64, 2);
    fill(p, rounded, n);
    EXPECT_EQ(first_mismatch(p, rounded, n), SIZE_MAX);
    EXPECT_EQ(first_mismatch(before, 64, 1), SIZE_MAX) << "pvalloc block overlaps a neighbour";
    EXPECT_EQ(first_mismatch(after, 64, 2), SIZE_MAX) << "pvalloc block overlaps a neighbour";
    free(before);
    free(p);
    free(after);
  }
  void *z = pvalloc(0);  // glibc: a page-aligned, freeable block
  ASSERT_NE(z, nullptr);
  EXPECT_TRUE(is_aligned(z, pg));
  free(z);
}

// Catches: an aligned block whose pointer is interior to its extent, which free() or realloc()
// then cannot find the start of (frees the wrong slot, or copies from the wrong base).
TEST(Aligned, BlocksAreFreedAndResizedWithTheOrdinaryCalls) {
  const size_t pg = page_size();
  struct Kind {
    const char *name;
    std::function<void *(size_t, size_t)> alloc;
  };
  const Kind kinds[] = {
      {"posix_memalign", [](size_t a, size_t n) { return via_posix_memalign(a, n); }},
      {"aligned_alloc", [](size_t a, size_t n) { return aligned_alloc(a, (n + a - 1) / a * a); }},
      {"memalign", [](size_t a, size_t n) { return memalign(a, n); }},
      {"valloc", [pg](size_t, size_t n) { return valloc(n + pg); }},
      {"pvalloc", [](size_t, size_t n) { return pvalloc(n); }},
  };
  for (const Kind &k : kinds)
    for (size_t a : {64, 256, 4096, 65536, 1 << 21})
      for (size_t n : {8, 1000, 70000, 3 << 20}) {
        uint8_t *p = (uint8_t *)k.alloc(a, n);
        ASSERT_NE(p, nullptr) << k.name;
        fill(p, n, a + n);
        // Grow: the contents move to an ordinary block (alignment may drop to 16).
        uint8_t *q = (uint8_t *)realloc(p, n * 3);
        ASSERT_NE(q, nullptr) << k.name << " " << a << " " << n;
        ASSERT_TRUE(is_aligned(q, 16));
        ASSERT_EQ(first_mismatch(q, n, a + n), SIZE_MAX) << k.name << " realloc up lost data";
        // Shrink.
        q = (uint8_t *)realloc(q, n / 2 + 1);
        ASSERT_NE(q, nullptr);
        ASSERT_EQ(first_mismatch(q, n / 2 + 1, a + n), SIZE_MAX) << k.name << " realloc down";
        free(q);
        // And one freed directly, with a neighbour allocated right after that must stay intact.
        p = (uint8_t *)k.alloc(a, n);
        ASSERT_NE(p, nullptr);
        fill(p, n, 1);
        free(p);
        void *r = malloc(n);
        ASSERT_NE(r, nullptr);
        fill(r, n, 2);
        ASSERT_EQ(first_mismatch(r, n, 2), SIZE_MAX);
        free(r);
      }
}

// Runs `cycle` (allocate 64 KiB, dirty it, release it) 20000 times: memory the release leaked
// would stay resident (1.25 GiB); memory really freed is reused.
void expect_released(const std::function<void()> &cycle, const char *what) {
  size_t before = rss_bytes();
  for (int i = 0; i < 20000; i++) cycle();
  size_t after = rss_bytes();
  EXPECT_LT(after - std::min(before, after), 256u << 20) << what << " does not release memory";
}

typedef void (*free_sized_fn)(void *, size_t);
typedef void (*free_aligned_sized_fn)(void *, size_t, size_t);

TEST(FreeSized, ReleasesBlocksOfEverySize) {
  free_sized_fn fs = (free_sized_fn)dlsym(RTLD_DEFAULT, "free_sized");
  if (fs == nullptr) GTEST_SKIP() << "this libc and preload have no free_sized (C23)";
  fs(nullptr, 0);
  Rng rng(11);
  std::vector<std::pair<void *, size_t>> live;
  for (int i = 0; i < 20000; i++) {
    size_t n = rng.size(2048, 1u << 20);
    void *p = (i % 3 == 0) ? calloc(1, n) : malloc(n);
    ASSERT_NE(p, nullptr);
    fill(p, n, n);
    live.push_back({p, n});
    if (live.size() > 200) {
      size_t j = rng.below(live.size());
      ASSERT_EQ(first_mismatch(live[j].first, live[j].second, live[j].second), SIZE_MAX);
      fs(live[j].first, live[j].second);  // the size the block was requested with
      live[j] = live.back();
      live.pop_back();
    }
  }
  for (auto &b : live) {
    ASSERT_EQ(first_mismatch(b.first, b.second, b.second), SIZE_MAX);
    fs(b.first, b.second);
  }
  void *r = realloc(malloc(10), 5000);  // the size after realloc is the one to pass
  ASSERT_NE(r, nullptr);
  fs(r, 5000);
  expect_released(
      [fs] {
        void *p = malloc(65536);
        memset(p, 1, 65536);
        fs(p, 65536);
      },
      "free_sized");
}

TEST(FreeAlignedSized, ReleasesAlignedBlocks) {
  free_aligned_sized_fn fas = (free_aligned_sized_fn)dlsym(RTLD_DEFAULT, "free_aligned_sized");
  if (fas == nullptr) GTEST_SKIP() << "this libc and preload have no free_aligned_sized (C23)";
  fas(nullptr, 64, 0);
  for (size_t a : alignments()) {
    std::vector<std::pair<void *, size_t>> live;
    for (size_t n : sizes_for(a)) {
      n = (n + a - 1) / a * a;
      void *p = aligned_alloc(a, n);
      ASSERT_NE(p, nullptr);
      fill(p, n, a + n);
      live.push_back({p, n});
    }
    for (auto &b : live) {
      ASSERT_EQ(first_mismatch(b.first, b.second, a + b.second), SIZE_MAX);
      fas(b.first, a, b.second);
    }
  }
  expect_released(
      [fas] {
        void *p = aligned_alloc(4096, 65536);
        memset(p, 1, 65536);
        fas(p, 4096, 65536);
      },
      "free_aligned_sized");
}

}  // namespace
