// Stress through the allocator's internal entry points (ta_malloc and friends), so the same
// test runs in normal builds and under ASan, UBSan and TSan, where the sanitizer keeps the
// process's malloc. Each test is bounded in time.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "api.h"
#include "conf.h"

// Under ThreadSanitizer: fork takes every bin lock at once, more than its deadlock detector
// tracks. (Ignored in other builds.)
extern "C" __attribute__((visibility("default"))) const char *__tsan_default_options() {
  return "detect_deadlocks=0";
}

namespace {

using Clock = std::chrono::steady_clock;

// Fills a block with a pattern derived from its address and size, and checks it.
void fill(unsigned char *p, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 61) p[i] = (unsigned char)(((uintptr_t)p >> 4) + i + n);
  if (n) p[n - 1] = (unsigned char)n;
}
bool intact(const unsigned char *p, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 61)
    if (p[i] != (unsigned char)(((uintptr_t)p >> 4) + i + n)) return false;
  return n == 0 || p[n - 1] == (unsigned char)n;
}

size_t random_size(std::mt19937 &rng) {
  switch (rng() % 8) {
    case 0: return rng() % (1 << 20);   // large
    case 1: return 4096 + rng() % 61440;
    default: return rng() % 1024;
  }
}

struct Block {
  unsigned char *p;
  size_t n;
};

// Checks a block's pattern (counting a damaged one) and frees it.
void check_and_free(const Block &b, std::atomic<long> &corrupt) {
  if (!intact(b.p, b.n)) corrupt++;
  ta_free(b.p);
}

// One mailbox per thread: blocks handed to a thread are freed by it.
struct Mailboxes {
  explicit Mailboxes(int n) : box(n), locks(n) {}
  void give(int to, const std::vector<Block> &blocks) {
    std::lock_guard<std::mutex> g(locks[to]);
    box[to].insert(box[to].end(), blocks.begin(), blocks.end());
  }
  std::vector<Block> take(int t) {
    std::vector<Block> mine;
    std::lock_guard<std::mutex> g(locks[t]);
    mine.swap(box[t]);
    return mine;
  }
  std::vector<std::vector<Block>> box;
  std::vector<std::mutex> locks;
};

TEST(Stress, CrossThreadFreeStorm) {
  const int kThreads = 4;
  Mailboxes mail(kThreads);
  // Runs its 3 s and, where the build or the configuration is slow (a sanitizer, every page
  // purged as it is freed), at least kMinOps blocks.
  const long kMinOps = 10000;
  std::atomic<long> corrupt{0}, ops{0};
  auto deadline = Clock::now() + std::chrono::seconds(3);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++)
    ts.emplace_back([&, t] {
      std::mt19937 rng(t + 1);
      while (Clock::now() < deadline || ops.load() < kMinOps) {
        std::vector<Block> batch;
        for (int i = 0; i < 256; i++) {
          size_t n = random_size(rng);
          auto *p = (unsigned char *)ta_malloc(n);
          fill(p, n);
          batch.push_back({p, n});
        }
        mail.give((t + 1) % kThreads, batch);  // hand them to the next thread
        for (const Block &b : mail.take(t)) check_and_free(b, corrupt);
        ops += 256;
      }
    });
  for (auto &t : ts) t.join();
  for (int t = 0; t < kThreads; t++)
    for (const Block &b : mail.take(t)) check_and_free(b, corrupt);
  EXPECT_EQ(corrupt.load(), 0);
}

TEST(Stress, ReallocChains) {
  const size_t kMax = 1 << 20;
  std::vector<std::thread> ts;
  std::atomic<long> bad{0};
  for (int t = 0; t < 3; t++)
    ts.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      // Each chain's block holds a prefix of its own pattern (the shared one from the chain's
      // offset), checked and extended by memcmp and memcpy (a byte loop over up to 1 MiB per
      // step took minutes under TSan).
      std::vector<unsigned char> shared(kMax + 80);
      for (size_t i = 0; i < shared.size(); i++) shared[i] = (unsigned char)(i * 7);
      for (int chain = 0; chain < 80; chain++) {
        const unsigned char *pattern = shared.data() + chain;
        size_t n = 1 + rng() % 64;
        auto *p = (unsigned char *)ta_malloc(n);
        memcpy(p, pattern, n);
        for (int step = 0; step < 40; step++) {
          size_t m = rng() % 3 == 0 ? 1 + rng() % (n + 1) : n + rng() % (3 * n + 100);
          m = std::min(m, kMax);
          p = (unsigned char *)ta_realloc(p, m);
          if (memcmp(p, pattern, std::min(n, m)) != 0) bad++;
          if (m > n) memcpy(p + n, pattern + n, m - n);
          n = m;
        }
        ta_free(p);
      }
    });
  for (auto &t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(Stress, ThreadChurn) {
  // Many short threads; each leaves objects for the next generation to free.
  std::atomic<void *> handoff[64] = {};
  for (int gen = 0; gen < 40; gen++) {
    std::vector<std::thread> ts;
    for (int t = 0; t < 8; t++)
      ts.emplace_back([&, t] {
        for (int i = 0; i < 200; i++) {
          void *p = ta_malloc((size_t)(t * 37 + i) % 3000);
          void *old = handoff[(t * 8 + i) % 64].exchange(p);
          ta_free(old);
        }
      });
    for (auto &t : ts) t.join();
  }
  for (auto &h : handoff) ta_free(h.exchange(nullptr));
}

// The reclaimer empties thread caches while their threads run, sleep and exit: every object
// keeps its contents and no object is handed out twice (a block given to two owners would fail
// one owner's pattern check). The reclaimer runs back to back with an idle time of 1 ns, so it
// also hits threads in the middle of calls (which must keep their caches).
TEST(Stress, ReclaimWhileInUse) {
  const int kThreads = 4;
  Mailboxes mail(kThreads);
  std::atomic<long> corrupt{0}, ops{0};
  std::atomic<bool> stop{false};
  if (ta_os_fence_threads() != 0) GTEST_SKIP() << "no membarrier(2) here: nothing is reclaimed";
  ta_free(ta_malloc(1));  // started up, as before the background thread's first step
  // The configurations of CMakeLists.txt's matrix that run without thread caches.
  if (!ta_conf.tcache || ta_conf.debug) GTEST_SKIP() << "no thread caches in this configuration";
  uint64_t caches0, bytes0, caches1, bytes1;
  ta_tcache_reclaim_counts(&caches0, &bytes0);
  std::thread reclaimer([&] {
    while (!stop) ta_tcache_reclaim_idle(ta_os_now_ns(), 1);
  });
  // Each phase lasts its time and, on a machine slow enough (a sanitizer build beside other
  // jobs), until the threads together have made min_ops calls' worth of bursts.
  auto worker = [&](int t, Clock::time_point until, long min_ops) {
    std::mt19937 rng(t + 77);
    std::vector<Block> held;
    while (Clock::now() < until || ops.load() < min_ops) {
      // A burst that mostly hits the cache, then frees in another order, some to a neighbour.
      for (int i = 0; i < 64; i++) {
        size_t n = rng() % 4 == 0 ? random_size(rng) : rng() % 512;
        auto *p = (unsigned char *)ta_malloc(n);
        fill(p, n);
        held.push_back({p, n});
      }
      std::shuffle(held.begin(), held.end(), rng);
      size_t keep = held.size() / 4;
      std::vector<Block> give(held.begin() + (long)keep, held.begin() + (long)keep + 8);
      for (size_t i = keep + 8; i < held.size(); i++) check_and_free(held[i], corrupt);
      held.resize(keep);
      mail.give((t + 1) % kThreads, give);
      for (const Block &b : mail.take(t)) check_and_free(b, corrupt);
      ops += 64;
      if (rng() % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
    }
    for (const Block &b : held) check_and_free(b, corrupt);
  };
  // Long-lived threads, then short-lived ones (a cache torn down while it may be reclaimed).
  std::vector<std::thread> ts;
  auto until = Clock::now() + std::chrono::seconds(2);
  for (int t = 0; t < kThreads; t++) ts.emplace_back(worker, t, until, 20000);
  for (auto &t : ts) t.join();
  ts.clear();
  for (int gen = 0; gen < 30; gen++) {
    auto soon = Clock::now() + std::chrono::milliseconds(10);
    for (int t = 0; t < kThreads; t++) ts.emplace_back(worker, t, soon, 0);
    for (auto &t : ts) t.join();
    ts.clear();
  }
  stop = true;
  reclaimer.join();
  for (int t = 0; t < kThreads; t++)
    for (const Block &b : mail.take(t)) check_and_free(b, corrupt);
  ta_tcache_reclaim_counts(&caches1, &bytes1);
  EXPECT_EQ(corrupt.load(), 0);
  EXPECT_GT(caches1 - caches0, 10u) << "the reclaimer emptied too few caches to test anything";
  EXPECT_GT(bytes1, bytes0);
}

TEST(Stress, ForkUnderLoad) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> ts;
  for (int t = 0; t < 2; t++)
    ts.emplace_back([&, t] {
      std::mt19937 rng(t);
      std::vector<void *> v;
      while (!stop) {
        v.push_back(ta_malloc(random_size(rng)));
        if (v.size() > 500) {
          for (void *p : v) ta_free(p);
          v.clear();
        }
      }
      for (void *p : v) ta_free(p);
    });
  for (int i = 0; i < 20; i++) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      alarm(20);  // a deadlock in the child becomes a failure, not a hang
      // Only tieralloc's entry points in the child: in sanitizer builds the process's malloc
      // (std::vector's) is the sanitizer's, whose own fork safety is not under test here.
      static void *v[2002];
      for (int j = 0; j < 2000; j++) v[j] = ta_malloc((size_t)j * 13 % 70000);
      v[2000] = ta_calloc(1000, 1000);
      v[2001] = ta_realloc(ta_malloc(10), 1 << 20);
      for (void *p : v) ta_free(p);
      _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "child died of signal " << WTERMSIG(status);
    ASSERT_EQ(WEXITSTATUS(status), 0);
  }
  stop = true;
  for (auto &t : ts) t.join();
}

}  // namespace
