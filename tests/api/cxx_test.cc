// C++ allocation: new/delete in all their forms (array, over-aligned, explicit alignment, sized,
// nothrow) and the standard containers, and proof that they reach the process's malloc. Under
// LD_PRELOAD, libstdc++'s operator new must land in the preloaded allocator, not in glibc's heap:
// glibc's own counters (its mallinfo2, looked up inside libc.so.6 itself) must not move while we
// allocate tens of MiB with new; in a plain run they must move by that much, so the check can fail.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include <functional>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "api_util.h"

using namespace ta_api;

namespace {

// Bytes glibc's own malloc has handed out and not taken back, whoever the process's malloc is.
size_t glibc_bytes_in_use() {
  typedef struct mallinfo2 (*mallinfo2_fn)(void);
  static mallinfo2_fn fn = [] {
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    return libc ? (mallinfo2_fn)dlsym(libc, "mallinfo2") : nullptr;
  }();
  if (fn == nullptr) return 0;
  struct mallinfo2 mi = fn();
  return mi.uordblks + mi.hblkhd;
}

// Runs `allocate` (which keeps about `payload` bytes live until `release`) and checks that glibc's
// heap grew by it exactly when glibc is the process's malloc.
void expect_reaches_process_malloc(const char *what, size_t payload,
                                   const std::function<void()> &allocate,
                                   const std::function<void()> &release) {
  size_t before = glibc_bytes_in_use();
  allocate();
  size_t during = glibc_bytes_in_use();
  release();
  long grew = (long)during - (long)before;
  if (malloc_is_glibc()) {
    EXPECT_GE(grew, (long)(payload * 9 / 10)) << what << ": glibc's heap did not grow";
  } else {
    EXPECT_LT(grew, (long)(payload / 16))
        << what << " bypassed the preloaded malloc: glibc's own heap grew by " << grew
        << " bytes (malloc is " << provider_of("malloc") << ")";
  }
}

TEST(Cxx, NewAndDeleteReachTheProcessMalloc) {
  ASSERT_NE(dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD), nullptr);
  std::vector<char *> arrays;
  expect_reaches_process_malloc(
      "new char[]", 2000 * 1000 + (8u << 20),
      [&] {
        for (int i = 0; i < 2000; i++) arrays.push_back(new char[1000]);
        arrays.push_back(new char[8u << 20]);
        for (char *a : arrays) a[0] = 1;
      },
      [&] {
        for (char *a : arrays) delete[] a;
        arrays.clear();
      });

  struct Node {
    char bytes[200];
  };
  std::vector<Node *> nodes;
  expect_reaches_process_malloc(
      "new T", 40000 * sizeof(Node),
      [&] {
        for (int i = 0; i < 40000; i++) nodes.push_back(new Node());
      },
      [&] {
        for (Node *n : nodes) delete n;
        nodes.clear();
      });

  struct alignas(64) Line {
    char bytes[192];
  };
  std::vector<Line *> lines;
  expect_reaches_process_malloc(
      "aligned new (alignas(64))", 40000 * sizeof(Line),
      [&] {
        for (int i = 0; i < 40000; i++) lines.push_back(new Line());
      },
      [&] {
        for (Line *l : lines) delete l;
        lines.clear();
      });

  std::vector<void *> pages;
  expect_reaches_process_malloc(
      "operator new(align_val_t(4096))", 2000 * 8192,
      [&] {
        for (int i = 0; i < 2000; i++) pages.push_back(::operator new(8192, std::align_val_t(4096)));
      },
      [&] {
        for (void *p : pages) ::operator delete(p, 8192, std::align_val_t(4096));
        pages.clear();
      });

  expect_reaches_process_malloc(
      "nothrow new", 3000 * 3000,
      [&] {
        for (int i = 0; i < 3000; i++) arrays.push_back(new (std::nothrow) char[3000]);
      },
      [&] {
        for (char *a : arrays) ::operator delete[](a, std::nothrow);
        arrays.clear();
      });

  std::vector<int> v;
  expect_reaches_process_malloc(
      "std::vector growth", 4u << 22, [&] { for (int i = 0; i < (1 << 22); i++) v.push_back(i); },
      [&] { std::vector<int>().swap(v); });

  std::string s;
  expect_reaches_process_malloc(
      "std::string growth", 8u << 20, [&] { while (s.size() < (8u << 20)) s += "0123456789abcdef"; },
      [&] { std::string().swap(s); });

  std::map<int, std::string> m;
  expect_reaches_process_malloc(
      "std::map nodes", 100000 * 100,
      [&] { for (int i = 0; i < 100000; i++) m.emplace(i, std::string(60, 'x')); },
      [&] { m.clear(); });
}

// Catches: a preload whose malloc_usable_size does not know blocks from operator new (new went
// elsewhere) and a usable size smaller than the request.
TEST(Cxx, UsableSizeOfNewBlocksIsConsistent) {
  for (size_t n : {1, 100, 1000, 5000, 100000, 3 << 20}) {
    char *p = new char[n];
    size_t us = malloc_usable_size(p);
    EXPECT_GE(us, n);
    EXPECT_LT(us, n + n / 2 + 4096) << "usable size of new char[" << n << "] is implausible";
    memset(p, 7, us);
    delete[] p;
  }
}

TEST(Cxx, AlignedNewHonoursAlignment) {
  struct alignas(64) A64 {
    char c[64];
  };
  struct alignas(256) A256 {
    char c[10];
  };
  std::vector<std::unique_ptr<A64>> a;
  std::vector<std::unique_ptr<A256>> b;
  for (int i = 0; i < 5000; i++) {
    a.emplace_back(new A64());
    b.emplace_back(new A256());
    ASSERT_TRUE(is_aligned(a.back().get(), 64));
    ASSERT_TRUE(is_aligned(b.back().get(), 256));
  }
  A64 *arr = new A64[1000];
  ASSERT_TRUE(is_aligned(arr, 64));
  memset(arr, 1, sizeof(A64) * 1000);
  delete[] arr;
  for (size_t al : {16, 128, 4096, 65536, 1 << 21}) {
    for (size_t n : {1, 100, 4096, 3 << 20}) {
      void *p = ::operator new(n, std::align_val_t(al));
      ASSERT_TRUE(is_aligned(p, al)) << "align " << al << " size " << n;
      fill(p, n, al + n);
      ASSERT_EQ(first_mismatch(p, n, al + n), SIZE_MAX);
      if (n % 2)
        ::operator delete(p, std::align_val_t(al));
      else
        ::operator delete(p, n, std::align_val_t(al));  // sized and aligned
    }
  }
  void *q = ::operator new[](5000, std::align_val_t(4096), std::nothrow);
  ASSERT_NE(q, nullptr);
  ASSERT_TRUE(is_aligned(q, 4096));
  ::operator delete[](q, std::align_val_t(4096));
}

TEST(Cxx, SizedDeleteOfEverySize) {
  std::vector<std::pair<void *, size_t>> live;
  for (size_t n = 1; n <= 20000; n += (n < 1024 ? 1 : 37)) {
    void *p = ::operator new(n);
    fill(p, n, n);
    live.push_back({p, n});
  }
  for (auto &[p, n] : live) {
    ASSERT_EQ(first_mismatch(p, n, n), SIZE_MAX);
    ::operator delete(p, n);
  }
}

TEST(Cxx, ImpossibleRequestsThrowOrReturnNull) {
  void *p = nullptr;
  EXPECT_THROW(p = ::operator new(opaque(SIZE_MAX / 2)), std::bad_alloc);
  EXPECT_THROW(p = ::operator new(opaque(SIZE_MAX / 2), std::align_val_t(64)), std::bad_alloc);
  EXPECT_EQ(p, nullptr);
  EXPECT_EQ(::operator new(opaque(SIZE_MAX / 2), std::nothrow), nullptr);
  // Not SIZE_MAX - 100: libstdc++ 12 rounds an aligned request up to a multiple of the alignment
  // without an overflow check, so that size wraps to a tiny request before malloc sees it.
  EXPECT_EQ(::operator new[](opaque(SIZE_MAX / 2), std::align_val_t(4096), std::nothrow),
            nullptr);
}

// Containers growing large through many reallocations, with contents checked at the end.
TEST(Cxx, ContainersGrowLargeAndKeepContents) {
  std::map<std::string, std::vector<int>> m;
  std::unordered_map<int, std::string> u;
  std::vector<std::string> strings;
  for (int i = 0; i < 150000; i++) {
    std::string key = "key-" + std::to_string(i * 7919 % 150000);
    m[key].push_back(i);
    u[i] = std::string(i % 300, (char)('a' + i % 26));
    if (i % 10 == 0) strings.push_back(key + std::string(i % 1000, 'z'));
  }
  ASSERT_EQ(m.size(), 150000u);
  ASSERT_EQ(u.size(), 150000u);
  for (int i = 0; i < 150000; i += 7) {
    ASSERT_EQ(u[i], std::string(i % 300, (char)('a' + i % 26)));
    std::string key = "key-" + std::to_string(i * 7919 % 150000);
    ASSERT_EQ(m[key].size(), 1u);
    ASSERT_EQ(m[key][0], i);
  }
  for (size_t j = 0; j < strings.size(); j++) {
    int i = (int)j * 10;
    ASSERT_EQ(strings[j], "key-" + std::to_string(i * 7919 % 150000) + std::string(i % 1000, 'z'));
  }
  std::vector<std::vector<long>> nested(1000);
  for (int r = 0; r < 200; r++)
    for (int k = 0; k < 1000; k++) nested[k].push_back((long)r * k);
  for (int k = 0; k < 1000; k += 13)
    for (int r = 0; r < 200; r++) ASSERT_EQ(nested[k][r], (long)r * k);
}

}  // namespace
