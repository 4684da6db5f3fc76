/* atomics_test: atomic.h's read-modify-write operations from C (the library's language), on
 * both AArch64 branches: inline LSE and LL/SC.
 *
 * 1. Semantics, single thread: returned old values, CAS failure reporting what it saw (also for
 *    a negative int, whose 32-bit bits must not be compared as 64-bit), pointers and 4/8-byte
 *    integers.
 * 2. Exact totals from 4 threads hammering one counter with fetch_add, fetch_sub, CAS loops and
 *    exchange, once per branch (the LSE branch only where the CPU has LSE).
 * 3. The LSE branch really executes LSE instructions: a child process forces the switch on and
 *    runs one fetch_add. It must exit normally where HWCAP_ATOMICS is set and die of SIGILL
 *    where it is not (Cortex-A72 under qemu): a build whose "LSE" branch were LL/SC would pass
 *    on A72 and fail here.
 * On x86-64 only the C11 path exists, and parts 1 and 2 run once. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform.h"

#if defined(__aarch64__) && !defined(__ARM_FEATURE_ATOMICS)
#include <sys/auxv.h>
#define HAVE_SWITCH 1
static bool hw_lse(void) { return (getauxval(AT_HWCAP) & (1ul << 8)) != 0; }
static void set_lse(bool on) { ta_arch_lse_inline = on; }
#else
#define HAVE_SWITCH 0
static bool hw_lse(void) { return false; }
static void set_lse(bool on) { (void)on; }
#endif

static int failures;
#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "atomics_test:%d: %s failed\n", __LINE__, #cond);      \
      failures++;                                                            \
    }                                                                        \
  } while (0)

static void semantics(void) {
  ta_atomic(uint64_t) u64 = 5;
  ta_atomic(unsigned) u32 = 7;
  ta_atomic(int) i32 = -1;
  static int a, b;
  ta_atomic(int *) ptr = &a;

  CHECK(ta_atomic_fetch_add(&u64, 3, ta_mo_relaxed) == 5);
  CHECK(ta_atomic_fetch_add(&u64, 1, ta_mo_acq_rel) == 8);
  CHECK(ta_atomic_fetch_sub(&u64, 4, ta_mo_seq_cst) == 9);
  CHECK(ta_atomic_load(&u64, ta_mo_relaxed) == 5);
  CHECK(ta_atomic_fetch_add(&u32, 0xffffffffu, ta_mo_relaxed) == 7); /* wraps to 6 */
  CHECK(ta_atomic_load(&u32, ta_mo_relaxed) == 6);
  CHECK(ta_atomic_fetch_sub(&i32, 1, ta_mo_release) == -1);
  CHECK(ta_atomic_load(&i32, ta_mo_relaxed) == -2);

  int expected = -2;
  CHECK(ta_atomic_cas(&i32, &expected, -7));
  CHECK(ta_atomic_load(&i32, ta_mo_relaxed) == -7);
  expected = 3;
  CHECK(!ta_atomic_cas(&i32, &expected, 9));
  CHECK(expected == -7);
  CHECK(ta_atomic_load(&i32, ta_mo_relaxed) == -7);

  uint64_t e64 = 1;
  CHECK(!ta_atomic_cas(&u64, &e64, 11));
  CHECK(e64 == 5);
  CHECK(ta_atomic_cas(&u64, &e64, 0xfffffffffffull));
  CHECK(ta_atomic_load(&u64, ta_mo_relaxed) == 0xfffffffffffull);

  int *ep = &b;
  CHECK(!ta_atomic_cas(&ptr, &ep, NULL));
  CHECK(ep == &a);
  CHECK(ta_atomic_cas(&ptr, &ep, &b));
  CHECK(ta_atomic_exchange(&ptr, (int *)NULL, ta_mo_acq_rel) == &b);
  CHECK(ta_atomic_exchange(&ptr, &a, ta_mo_relaxed) == NULL);
  CHECK(ta_atomic_exchange(&u32, 42u, ta_mo_seq_cst) == 6);
  CHECK(ta_atomic_load(&u32, ta_mo_relaxed) == 42);
}

enum { THREADS = 4, ROUNDS = 50000 };
static ta_atomic(uint64_t) counter64;
static ta_atomic(unsigned) counter32;
static ta_atomic(uint64_t) token; /* exchanged around: the sum of what is held stays constant */

static void *hammer(void *arg) {
  uint64_t mine = (uint64_t)(uintptr_t)arg;
  for (int i = 0; i < ROUNDS; i++) {
    ta_atomic_fetch_add(&counter64, 3, ta_mo_relaxed);
    ta_atomic_fetch_sub(&counter64, 1, ta_mo_acq_rel);
    unsigned seen = ta_atomic_load(&counter32, ta_mo_relaxed);
    while (!ta_atomic_cas(&counter32, &seen, seen + 1)) {
    }
    mine = ta_atomic_exchange(&token, mine, ta_mo_acq_rel);
  }
  return (void *)(uintptr_t)mine;
}

static void totals(const char *branch) {
  counter64 = 0;
  counter32 = 0;
  token = 1000;
  pthread_t t[THREADS];
  uint64_t held = 0;
  for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, hammer, (void *)(uintptr_t)(i + 1));
  for (int i = 0; i < THREADS; i++) {
    void *r;
    pthread_join(t[i], &r);
    held += (uint64_t)(uintptr_t)r;
  }
  held += ta_atomic_load(&token, ta_mo_relaxed);
  uint64_t c64 = ta_atomic_load(&counter64, ta_mo_relaxed);
  unsigned c32 = ta_atomic_load(&counter32, ta_mo_relaxed);
  printf("%s: counter64 %llu counter32 %u tokens %llu\n", branch, (unsigned long long)c64, c32,
         (unsigned long long)held);
  CHECK(c64 == 2ull * THREADS * ROUNDS);
  CHECK(c32 == (unsigned)THREADS * ROUNDS);
  CHECK(held == 1000 + 1 + 2 + 3 + 4);
}

static void lse_probe(void) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    set_lse(true);
    ta_atomic_fetch_add(&counter64, 1, ta_mo_relaxed);
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  if (hw_lse()) {
    printf("LSE probe: exited %d (the CPU has LSE)\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  } else {
    printf("LSE probe: %s (the CPU has no LSE)\n",
           WIFSIGNALED(status) && WTERMSIG(status) == SIGILL ? "SIGILL, as it must" : "no SIGILL");
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGILL);
  }
}

int main(void) {
  printf("atomics: %s, inline LSE %s\n", HAVE_SWITCH ? "run-time switch" : "compiler's own",
         ta_arch_atomics_are_lse() ? "on" : "off");
  CHECK(ta_arch_atomics_are_lse() == (HAVE_SWITCH && hw_lse()));
  bool saved = ta_arch_atomics_are_lse();
  if (HAVE_SWITCH) {
    set_lse(false);
    semantics();
    totals("LL/SC");
    if (hw_lse()) {
      set_lse(true);
      semantics();
      totals("LSE");
    }
    set_lse(saved);
    lse_probe();
  } else {
    semantics();
    totals("native");
  }
  if (failures) fprintf(stderr, "atomics_test: %d failures\n", failures);
  return failures ? 1 : 0;
}
