// fork while other threads allocate: the child inherits whatever allocator locks those threads
// held at that instant, so an allocator without correct atfork handling deadlocks (or corrupts its
// state) in the child. Every child runs under alarm() and the parent waits with a deadline, so a
// deadlock is reported as a failure instead of hanging CI.
#include <errno.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "api_util.h"

using namespace ta_api;

namespace {

const int kChildTimeoutS = 10;

// Background load: threads that allocate, resize and free in a loop, over small, medium and
// large (page-level) sizes, so at any instant some of them hold allocator locks.
class Churn {
 public:
  explicit Churn(int threads) {
    for (int t = 0; t < threads; t++)
      threads_.emplace_back([this, t] {
        Rng rng(t * 31 + 3);
        void *slots[64] = {};
        while (!stop_.load(std::memory_order_relaxed)) {
          size_t i = rng.below(64);
          size_t n = rng.size(512, 4u << 20);
          switch (rng.below(3)) {
            case 0: free(slots[i]); slots[i] = malloc(n); break;
            case 1: free(slots[i]); slots[i] = calloc(1, n); break;
            default: {
              void *q = realloc(slots[i], n);
              if (q != nullptr) slots[i] = q;
            }
          }
          if (slots[i] != nullptr) memset(slots[i], (int)i, n < 64 ? n : 64);
          loops_.fetch_add(1, std::memory_order_relaxed);
        }
        for (void *p : slots) free(p);
      });
  }
  ~Churn() { stop(); }
  void stop() {
    stop_ = true;
    for (auto &t : threads_)
      if (t.joinable()) t.join();
  }
  long loops() const { return loops_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<long> loops_{0};
  std::vector<std::thread> threads_;
};

// What a child does: every kind of call, small to large, with contents checked. Returns 0 or the
// number of the step that failed. Runs in the child of a multithreaded parent, so it reports
// through the exit status only.
int child_work(int round) {
  Rng rng(round);
  std::vector<void *> live;
  for (int i = 0; i < 200; i++) {
    size_t n = rng.size(1024, 1u << 20);
    void *p = malloc(n);
    if (p == nullptr) return 1;
    fill(p, n, n);
    if (first_mismatch(p, n, n) != SIZE_MAX) return 2;
    live.push_back(p);
  }
  for (size_t n : {(size_t)100, (size_t)5000, (size_t)300000, (size_t)(2u << 20) + 1}) {
    uint8_t *z = (uint8_t *)calloc(1, n);
    if (z == nullptr) return 3;
    if (first_nonzero(z, n) != SIZE_MAX) return 4;
    fill(z, n, 9);
    z = (uint8_t *)realloc(z, n * 2 + 1);
    if (z == nullptr || first_mismatch(z, n, 9) != SIZE_MAX) return 5;
    z = (uint8_t *)realloc(z, n / 2 + 1);
    if (z == nullptr || first_mismatch(z, n / 2 + 1, 9) != SIZE_MAX) return 6;
    free(z);
  }
  void *a = nullptr;
  if (posix_memalign(&a, 1u << 21, 3u << 20) != 0 || !is_aligned(a, 1u << 21)) return 7;
  memset(a, 1, 3u << 20);
  free(a);
  for (void *p : live) free(p);
  return 0;
}

// Runs in the child: sometimes also from a new thread, since the child's thread machinery (thread
// caches, thread-exit cleanup) must work after fork too.
[[noreturn]] void child_main(int round) {
  alarm(kChildTimeoutS);  // a deadlock becomes death by SIGALRM, which the parent reports
  int rc = child_work(round);
  if (rc == 0 && round % 4 == 0) {
    std::thread t([&rc, round] { rc = child_work(round + 1000) ? 20 : 0; });
    t.join();
  }
  _exit(rc);
}

// Waits for pid with a deadline; on timeout kills it. Returns a description of what went wrong,
// or "" when the child exited 0.
std::string reap(pid_t pid) {
  Deadline deadline(kChildTimeoutS + 5);
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return "waitpid failed";
    if (deadline.passed()) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return "child hung (deadlock after fork)";
    }
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, nullptr);
  }
  if (WIFSIGNALED(status))
    return WTERMSIG(status) == SIGALRM ? "child deadlocked (SIGALRM after " +
                                             std::to_string(kChildTimeoutS) + " s)"
                                       : "child killed by signal " + std::to_string(WTERMSIG(status));
  if (WEXITSTATUS(status) != 0) return "child failed at step " + std::to_string(WEXITSTATUS(status));
  return "";
}

TEST(Fork, ChildAllocatesWhileParentThreadsAllocate) {
  Churn churn(3);
  Deadline deadline(5.0);
  Stopwatch timer;
  int forks = 0;
  for (; forks < 100 && !deadline.passed(); forks++) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0) << "fork failed: " << strerror(errno);
    if (pid == 0) child_main(forks);
    std::string err = reap(pid);
    ASSERT_EQ(err, "") << "fork " << forks;
    // The parent's heap must still work after every fork (atfork parent handler unlocks).
    void *p = malloc(1000 + forks);
    ASSERT_NE(p, nullptr);
    free(p);
  }
  churn.stop();
  RecordProperty("forks", forks);
  printf("forks: %d in %.1f s\n", forks, timer.seconds());
  EXPECT_GE(forks, 8) << "too few forks before the deadline";
  EXPECT_GT(churn.loops(), 0);
}

// The forking thread is not the main thread, and the child forks again: the child's allocator
// state after the first fork must itself survive a fork.
TEST(Fork, NestedForkFromAWorkerThread) {
  Churn churn(2);
  std::string err;
  std::thread forker([&err] {
    for (int round = 0; round < 15 && err.empty(); round++) {
      pid_t pid = fork();
      if (pid < 0) {
        err = "fork failed";
        return;
      }
      if (pid == 0) {
        alarm(kChildTimeoutS);
        if (child_work(round) != 0) _exit(30);
        pid_t grandchild = fork();
        if (grandchild < 0) _exit(31);
        if (grandchild == 0) child_main(round + 7);
        std::string e = reap(grandchild);
        _exit(e.empty() ? 0 : 32);
      }
      err = reap(pid);
      if (!err.empty()) err = "round " + std::to_string(round) + ": " + err;
    }
  });
  forker.join();
  churn.stop();
  EXPECT_EQ(err, "");
}

}  // namespace
