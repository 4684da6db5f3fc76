/* locality.c: the NUMA locality benchmark (run inside the multi-node guest, one allocator per
 * process via LD_PRELOAD).
 *
 * Stands for a pipeline server: a producer thread on node 0 builds objects (requests, rows)
 * and hands them to a consumer thread on node 1, which frees each one and allocates its own
 * objects of the same sizes for its working set. A first-touch allocator that reuses the
 * freed memory hands node 0's pages to node 1's thread, so the consumer's working set drifts
 * to remote memory. The result is the fraction of the pages each thread's live objects sit
 * on that are local to it, read with move_pages. Prints one line: "<label> producer_local
 * consumer_local". */
#define _GNU_SOURCE
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OBJS 60000
#define QUEUE 1024

static void *queue[QUEUE];
static atomic_uint head, tail;
static void *consumer_objs[OBJS];
static void *producer_objs[OBJS];
static size_t sizes[OBJS];

static void pin(int cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  sched_setaffinity(0, sizeof(s), &s);
  sched_yield();
}

/* Fraction of the pages of objs[0..n) that are on `node`. */
static double local_fraction(void **objs, size_t n, int node) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE), total = 0, local = 0;
  void *pages[256];
  int status[256];
  size_t k = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n) pages[k++] = (void *)((uintptr_t)objs[i] & ~(page - 1));
    if (k == 256 || (i == n && k)) {
      if (move_pages(0, k, pages, NULL, status, 0) == 0)
        for (size_t j = 0; j < k; j++) {
          total++;
          local += status[j] == node;
        }
      k = 0;
    }
  }
  return total ? (double)local / (double)total : 0;
}

static void *producer(void *arg) {
  (void)arg;
  pin(0);
  unsigned seed = 1;
  for (size_t i = 0; i < OBJS; i++) {
    seed = seed * 1103515245u + 12345u;
    size_t n = 64 + (seed >> 16) % 4000;
    sizes[i] = n;
    char *p = malloc(n);
    memset(p, 1, n);
    while (atomic_load(&head) - atomic_load(&tail) >= QUEUE) sched_yield();
    queue[atomic_load(&head) % QUEUE] = p;
    atomic_fetch_add(&head, 1);
  }
  /* The producer's own working set, allocated after the hand-off. */
  for (size_t i = 0; i < OBJS; i++) {
    producer_objs[i] = malloc(sizes[i]);
    memset(producer_objs[i], 2, sizes[i]);
  }
  return NULL;
}

static void *consumer(void *arg) {
  (void)arg;
  pin(1);
  for (size_t i = 0; i < OBJS; i++) {
    while (atomic_load(&tail) == atomic_load(&head)) sched_yield();
    void *p = queue[atomic_load(&tail) % QUEUE];
    atomic_fetch_add(&tail, 1);
    free(p);
    consumer_objs[i] = malloc(sizes[i]);
    memset(consumer_objs[i], 3, sizes[i]);
  }
  return NULL;
}

int main(int argc, char **argv) {
  const char *label = argc > 1 ? argv[1] : "allocator";
  pthread_t p, c;
  pthread_create(&c, NULL, consumer, NULL);
  pthread_create(&p, NULL, producer, NULL);
  pthread_join(p, NULL);
  pthread_join(c, NULL);
  printf("%s %.4f %.4f\n", label, local_fraction(producer_objs, OBJS, 0),
         local_fraction(consumer_objs, OBJS, 1));
  return 0;
}
