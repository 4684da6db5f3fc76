/* misuse_cost.c: what misuse detection costs. Run under LD_PRELOAD with TIERALLOC_CONF unset
 * (default mode) and debug:true (measure-cost does both and prints the table in
 * docs/reliability.md). Prints, for each workload, the median of `reps` runs in ns per
 * operation (one malloc + one free = one operation). Not a test: a measurement. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *volatile sink;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* malloc then free at once, 64 bytes: the thread cache's best case. */
static double pairs(void) {
  const int n = 2000000;
  double t = now_ns();
  for (int i = 0; i < n; i++) {
    void *p = malloc(64);
    sink = p;
    free(p);
  }
  return (now_ns() - t) / n;
}

/* The same with free_sized, whose size check runs in every mode (-1: no free_sized here). */
static double sized_pairs(void) {
  void (*free_sized)(void *, size_t) = (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "free_sized");
  if (!free_sized) return -1;
  const int n = 2000000;
  double t = now_ns();
  for (int i = 0; i < n; i++) {
    void *p = malloc(64);
    sink = p;
    free_sized(p, 64);
  }
  return (now_ns() - t) / n;
}

/* 1000 blocks of 16..1024 bytes, written, then freed oldest first: fills and flushes. */
static double batches(void) {
  enum { B = 1000, ROUNDS = 400 };
  static void *v[B];
  double t = now_ns();
  for (int r = 0; r < ROUNDS; r++) {
    for (int i = 0; i < B; i++) {
      size_t s = 16 + rng() % 1009;
      v[i] = malloc(s);
      memset(v[i], 1, 16);
    }
    for (int i = 0; i < B; i++) free(v[i]);
  }
  return (now_ns() - t) / (B * ROUNDS);
}

/* 256 KiB blocks, 8 live at a time: the large path (page allocator). */
static double large(void) {
  enum { N = 20000 };
  void *v[8] = {0};
  double t = now_ns();
  for (int i = 0; i < N; i++) {
    free(v[i & 7]);
    v[i & 7] = malloc(256 * 1024);
    ((char *)v[i & 7])[0] = 1;
  }
  for (int i = 0; i < 8; i++) free(v[i]);
  return (now_ns() - t) / N;
}

/* A block grown by realloc from 16 bytes to 64 KiB in small steps, again and again. */
static double reallocs(void) {
  enum { CHAINS = 300 };
  long ops = 0;
  double t = now_ns();
  for (int c = 0; c < CHAINS; c++) {
    char *p = NULL;
    for (size_t s = 16; s <= 65536; s += s / 8 + 16, ops++) {
      p = realloc(p, s);
      p[s - 1] = 1;
    }
    free(p);
  }
  return (now_ns() - t) / ops;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 7;
  if (reps < 1 || reps > 99) reps = 7;
  static const struct { const char *name; double (*fn)(void); } w[] = {
      {"malloc+free 64 B", pairs}, {"malloc+free_sized 64 B", sized_pairs}, {"batch of 1000 small", batches},
      {"256 KiB blocks", large}, {"realloc growth", reallocs}};
  for (size_t k = 0; k < sizeof(w) / sizeof(w[0]); k++) {
    double r[99];
    w[k].fn(); /* warm up */
    for (int i = 0; i < reps; i++) r[i] = w[k].fn();
    qsort(r, (size_t)reps, sizeof(double), cmp);
    if (r[reps / 2] < 0) printf("%s\t-\n", w[k].name);
    else printf("%s\t%.1f\n", w[k].name, r[reps / 2]);
  }
  return 0;
}
