// Many threads: blocks freed by a thread other than the one that allocated them (producer and
// consumer threads), hundreds of short-lived threads that leave blocks to each other, and
// concurrent mixed operations. Contents are checked on every free, so a block that went home to
// the wrong place, or was handed out twice, shows up as corruption. Each test is bounded in time.
#include <gtest/gtest.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "api_util.h"

using namespace ta_api;

namespace {

struct Item {
  void *p;
  size_t n;
  uint64_t seed;
};

// A block records its own seed and size in its first bytes, so a consumer can check a block
// without trusting anything but the block.
void stamp(Item &it) {
  fill(it.p, it.n, it.seed);
  if (it.n >= 16) {
    memcpy(it.p, &it.seed, 8);
    memcpy((char *)it.p + 8, &it.n, 8);
  }
}

bool intact(const Item &it) {
  if (it.n >= 16) {
    uint64_t s;
    size_t n;
    memcpy(&s, it.p, 8);
    memcpy(&n, (char *)it.p + 8, 8);
    if (s != it.seed || n != it.n) return false;
    const uint8_t *b = (const uint8_t *)it.p;
    for (size_t i = 16; i < it.n; i++)
      if (b[i] != pattern_byte(it.seed, i)) return false;
    return true;
  }
  return first_mismatch(it.p, it.n, it.seed) == SIZE_MAX;
}

class Queue {
 public:
  void push(Item it) {
    std::lock_guard<std::mutex> g(m_);
    q_.push_back(it);
    cv_.notify_one();
  }
  // Returns false when the queue is closed and empty.
  bool pop(Item *out) {
    std::unique_lock<std::mutex> g(m_);
    cv_.wait(g, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return false;
    *out = q_.front();
    q_.pop_front();
    return true;
  }
  void close() {
    std::lock_guard<std::mutex> g(m_);
    closed_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Item> q_;
  bool closed_ = false;
};

// Catches: a remote free pushed onto the freeing thread's cache as if it were local, a lost
// remote-free queue entry (leak, counted below) or one delivered twice (double hand-out).
TEST(Threads, ProducersAllocateConsumersFree) {
  const int kProducers = 4, kConsumers = 4, kPerProducer = 25000;
  std::vector<Queue> queues(kConsumers);
  std::atomic<long> produced{0}, consumed{0}, corrupt{0}, null_results{0};
  Deadline deadline(5.0);
  std::vector<std::thread> consumers, producers;
  for (int c = 0; c < kConsumers; c++)
    consumers.emplace_back([&, c] {
      Item it;
      while (queues[c].pop(&it)) {
        if (!intact(it) || malloc_usable_size(it.p) < it.n) corrupt++;
        free(it.p);
        consumed++;
      }
    });
  for (int p = 0; p < kProducers; p++)
    producers.emplace_back([&, p] {
      Rng rng(1000 + p);
      for (int i = 0; i < kPerProducer && !deadline.passed(); i++) {
        Item it{nullptr, rng.size(256, 256 * 1024), rng.next()};
        it.p = (i % 5 == 0) ? calloc(1, it.n) : malloc(it.n);
        if (it.p == nullptr) {
          null_results++;
          continue;
        }
        stamp(it);
        queues[(p + i) % kConsumers].push(it);  // every consumer receives from every producer
        produced++;
      }
    });
  for (auto &t : producers) t.join();
  for (auto &q : queues) q.close();
  for (auto &t : consumers) t.join();
  EXPECT_EQ(null_results.load(), 0);
  EXPECT_EQ(corrupt.load(), 0) << "blocks damaged between allocation and remote free";
  EXPECT_EQ(produced.load(), consumed.load());
  EXPECT_GT(produced.load(), 2000) << "too little work done before the deadline";
}

// Catches: thread-exit cleanup that frees blocks still owned by the program, caches of dead
// threads whose blocks are reused while live, and leaks of per-thread state (the run creates 600
// threads; a per-thread leak of a MiB or more shows up as RSS).
TEST(Threads, ShortLivedThreadsHandBlocksToEachOther) {
  const int kThreads = 400, kWave = 8, kPerThread = 150;
  std::mutex m;
  std::deque<Item> handoff;
  std::atomic<long> corrupt{0}, null_results{0};
  Deadline deadline(6.0);
  size_t rss_before = rss_bytes();
  int started = 0;
  for (int wave = 0; started < kThreads && !deadline.passed(); wave++) {
    std::vector<std::thread> ts;
    for (int k = 0; k < kWave; k++, started++)
      ts.emplace_back([&, seed = (uint64_t)started] {
        Rng rng(seed * 77 + 1);
        std::vector<Item> mine;
        for (int i = 0; i < kPerThread; i++) {
          Item it{nullptr, rng.size(512, 64 * 1024), rng.next()};
          it.p = malloc(it.n);
          if (it.p == nullptr) {
            null_results++;
            continue;
          }
          stamp(it);
          mine.push_back(it);
        }
        // Free a third here, leave a third for any later thread, and take the oldest blocks left
        // by others (mostly from threads that have exited by now).
        std::vector<Item> theirs;
        {
          std::lock_guard<std::mutex> g(m);
          size_t take = std::min<size_t>(handoff.size(), 2 * kPerThread / 3);
          theirs.assign(handoff.begin(), handoff.begin() + take);
          handoff.erase(handoff.begin(), handoff.begin() + take);
          for (size_t i = 0; i < mine.size(); i += 3) handoff.push_back(mine[i]);
        }
        for (size_t i = 1; i < mine.size(); i += 3) {
          if (!intact(mine[i])) corrupt++;
          free(mine[i].p);
        }
        for (Item &it : theirs) {
          if (!intact(it)) corrupt++;
          free(it.p);
        }
        // The last third is freed by another thread only after this one has exited.
        std::lock_guard<std::mutex> g(m);
        for (size_t i = 2; i < mine.size(); i += 3) handoff.push_back(mine[i]);
      });
    for (auto &t : ts) t.join();
  }
  for (Item &it : handoff) {
    if (!intact(it)) corrupt++;
    free(it.p);
  }
  EXPECT_EQ(null_results.load(), 0);
  EXPECT_EQ(corrupt.load(), 0);
  EXPECT_GE(started, 50) << "too few threads before the deadline";
  size_t rss_after = rss_bytes();
  EXPECT_LT(rss_after - std::min(rss_after, rss_before), 512u << 20)
      << "resident memory keeps growing with dead threads";
}

// Every thread mixes malloc, calloc, realloc and free on its own blocks while others do the same,
// and also frees a share of blocks that another thread allocated.
TEST(Threads, ConcurrentMixedOperationsKeepContents) {
  const int kThreads = 6;
  std::atomic<long> corrupt{0}, ops{0};
  std::mutex m;
  std::vector<Item> shared;
  Deadline deadline(3.0);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++)
    ts.emplace_back([&, t] {
      Rng rng(t + 500);
      std::vector<Item> live;
      for (int op = 0; op < 400000 && !deadline.passed(); op++, ops++) {
        uint64_t r = rng.below(100);
        if (live.size() < 20 || r < 40) {
          Item it{nullptr, rng.size(300, 512 * 1024), rng.next()};
          it.p = r & 1 ? calloc(it.n, 1) : malloc(it.n);
          if (it.p == nullptr || (r & 1 && first_nonzero(it.p, it.n) != SIZE_MAX)) corrupt++;
          if (it.p == nullptr) continue;
          stamp(it);
          live.push_back(it);
        } else if (r < 70) {
          size_t j = rng.below(live.size());
          if (!intact(live[j])) corrupt++;
          free(live[j].p);
          live[j] = live.back();
          live.pop_back();
        } else if (r < 90) {
          size_t j = rng.below(live.size());
          Item &it = live[j];
          if (!intact(it)) corrupt++;
          size_t n = rng.size(300, 512 * 1024);
          void *q = realloc(it.p, n);
          if (q == nullptr) {
            corrupt++;
            continue;
          }
          it.p = q;
          it.n = n;
          it.seed = rng.next();
          stamp(it);
        } else {  // trade a block with the other threads
          size_t j = rng.below(live.size());
          Item give = live[j], got{nullptr, 0, 0};
          {
            std::lock_guard<std::mutex> g(m);
            shared.push_back(give);
            if (shared.size() > 1) {
              size_t k = rng.below(shared.size() - 1);
              got = shared[k];
              shared[k] = shared.back();
              shared.pop_back();
            }
          }
          live[j] = live.back();
          live.pop_back();
          if (got.p != nullptr) {
            if (!intact(got)) corrupt++;
            free(got.p);
          }
        }
      }
      for (Item &it : live) {
        if (!intact(it)) corrupt++;
        free(it.p);
      }
    });
  for (auto &t : ts) t.join();
  for (Item &it : shared) {
    if (!intact(it)) corrupt++;
    free(it.p);
  }
  EXPECT_EQ(corrupt.load(), 0);
  EXPECT_GT(ops.load(), 2000);
}

}  // namespace
