/* misuse_case.c: commits one memory-safety bug against the malloc family, for test_misuse.cc,
 * which runs it under LD_PRELOAD=libtieralloc.so in default and debug mode. It uses the libc
 * names only (it is an ordinary program with a bug). Output: a line per observation, then
 * "survived" if the process did not abort. Usage: misuse_case CASE */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wuse-after-free"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

static void say(const char *s) {
  fputs(s, stdout);
  fputc('\n', stdout);
  fflush(stdout);
}

/* Keeps the compiler from seeing through the misuse (it may warn or fold it away). */
static void *volatile sink;
static void *launder(void *p) {
  sink = p;
  return sink;
}

/* Every allocation goes through here: GCC deletes a malloc/free pair whose block is never used,
 * which would silently drop half of a bug. */
static void *M(size_t n) { return launder(malloc(n)); }

typedef void free_sized_fn(void *, size_t);

static free_sized_fn *get_free_sized(void) {
  free_sized_fn *f = (free_sized_fn *)dlsym(RTLD_DEFAULT, "free_sized");
  if (!f) {
    say("no free_sized in this process");
    exit(3);
  }
  return f;
}

/* Allocations handed out after the misuse: does any overlap a block still in use? */
static void probe_handouts(void *live, size_t live_size, size_t size, int n) {
  void *seen[16];
  int twice = 0, overlap = 0;
  for (int i = 0; i < n && i < 16; i++) {
    seen[i] = M(size);
    for (int j = 0; j < i; j++)
      if (seen[j] == seen[i]) twice = 1;
    uintptr_t a = (uintptr_t)seen[i], b = (uintptr_t)live;
    if (live && a < b + live_size && b < a + size) overlap = 1;
  }
  if (twice) say("handed out the same block twice");
  if (overlap) say("handed out a block overlapping a live one");
  if (!twice && !overlap) say("later allocations look sane");
}

/* After an abort: is the heap still sound? tieralloc promises to abort before it changes any
 * state, so allocations made from the SIGABRT handler (this is a test: the abort comes from a
 * known point in tieralloc, which holds no lock there) must be distinct blocks that overlap no
 * live one. A block the misuse had pushed into a thread cache would come back twice. */
static void *probe_live;
static size_t probe_live_size, probe_size;
static int probe_n;

static void on_abort(int sig) {
  (void)sig;
  say("after the abort:");
  probe_handouts(probe_live, probe_live_size, probe_size, probe_n);
  signal(SIGABRT, SIG_DFL); /* abort() re-raises when the handler returns */
}

static void probe_after_abort(void *live, size_t live_size, size_t size, int n) {
  probe_live = live;
  probe_live_size = live_size;
  probe_size = size;
  probe_n = n;
  signal(SIGABRT, on_abort);
}

static void *exit_thread(void *arg) {
  /* The misuse happens here; the thread's cache is flushed when it exits. */
  void (*body)(void) = (void (*)(void))arg;
  body();
  return NULL;
}

static void double_free_delayed_body(void) {
  void *a = M(64), *b = M(64);
  probe_after_abort(NULL, 0, 64, 3);
  free(a);
  free(b);
  free(launder(a));
  say("third free returned");
}

static char *interior_block; /* the live block interior_small_body freed from inside */

static void interior_small_body(void) {
  char *p = interior_block = M(64);
  probe_after_abort(p, 64, 64, 3);
  free(launder(p + 16));
  say("interior free returned");
}

/* Thread B frees a block into its own cache and stays alive (its cache is not flushed) until
 * main has freed the block again. */
static void *freed_by_b;
static pthread_mutex_t b_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t b_cond = PTHREAD_COND_INITIALIZER;
static int b_stage;

static void *thread_b(void *arg) {
  (void)arg;
  void *own = M(64); /* B's first call makes its cache */
  pthread_mutex_lock(&b_lock);
  free(freed_by_b);
  b_stage = 1;
  pthread_cond_broadcast(&b_cond);
  while (b_stage != 2) pthread_cond_wait(&b_cond, &b_lock);
  pthread_mutex_unlock(&b_lock);
  free(own);
  return NULL;
}

static void run_in_thread(void (*body)(void)) {
  pthread_t t;
  pthread_create(&t, NULL, exit_thread, (void *)body);
  pthread_join(t, NULL);
  say("thread exited");
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  const char *c = argv[1];
  /* The first free of a large block starts tieralloc's background thread, whose start-up
   * allocates; do that now, so no case sees one of its blocks land on a freed address. */
  free(M(1 << 20));
  static char not_heap[256];
  if (!strcmp(c, "double-free-small")) {
    void *p = M(64);
    free(p);
    free(launder(p));
  } else if (!strcmp(c, "double-free-small-delayed")) {
    double_free_delayed_body();
    probe_handouts(NULL, 0, 64, 3);
  } else if (!strcmp(c, "double-free-small-thread-exit")) {
    run_in_thread(double_free_delayed_body);
  } else if (!strcmp(c, "double-free-large")) {
    /* 4 MiB: above what the large cache keeps, so the first free unmaps the block's record */
    void *p = M(4 << 20);
    free(p);
    free(launder(p));
  } else if (!strcmp(c, "double-free-large-cached")) {
    /* 256 KiB: a block its arena's large cache keeps (conf large_cache_kb) */
    void *p = M(256 << 10);
    free(p);
    free(launder(p));
  } else if (!strcmp(c, "realloc-freed-large-cached")) {
    void *p = M(256 << 10);
    free(p);
    sink = realloc(launder(p), 2 << 20);
  } else if (!strcmp(c, "double-free-large-reused")) {
    /* The block's address is handed out again before the second free: that free releases the
     * new owner's block. No allocator without a quarantine can tell. */
    void *p = M(1 << 20);
    free(p);
    void *q = M(1 << 20);
    free(launder(p));
    say(q == p ? "the second free released the new block at the same address" : "the address was not reused");
  } else if (!strcmp(c, "foreign-pointer")) {
    free(launder(not_heap + 16));
  } else if (!strcmp(c, "foreign-stack-pointer")) {
    char local[64];
    free(launder(local));
  } else if (!strcmp(c, "double-free-small-other-cache")) {
    freed_by_b = M(64);
    pthread_t b;
    pthread_create(&b, NULL, thread_b, NULL);
    pthread_mutex_lock(&b_lock);
    while (b_stage != 1) pthread_cond_wait(&b_cond, &b_lock);
    pthread_mutex_unlock(&b_lock);
    free(launder(freed_by_b));
    say("second free returned");
    void *mine = M(64);
    say(mine == freed_by_b ? "this thread got the block B's cache also holds" : "this thread got another block");
    pthread_mutex_lock(&b_lock);
    b_stage = 2;
    pthread_cond_broadcast(&b_cond);
    pthread_mutex_unlock(&b_lock);
    pthread_join(b, NULL);
  } else if (!strcmp(c, "double-free-small-transfer")) {
    /* The first free overflows the thread cache: the oldest half of the stack, the block among
     * it, goes to the arena's transfer cache (not to its slab, whose free map still says
     * "taken"). The statistics say where it is before the second free. */
    void *a = M(64), *other[130];
    for (int i = 0; i < 130; i++) other[i] = M(64);
    probe_after_abort(NULL, 0, 64, 3);
    free(a);
    for (int i = 0; i < 130; i++) free(other[i]);
    int (*ctl)(const char *, void *, size_t *, void *, size_t) =
        (int (*)(const char *, void *, size_t *, void *, size_t))dlsym(RTLD_DEFAULT, "tieralloc_ctl");
    uint64_t epoch = 1, held = 0;
    size_t len = sizeof(held);
    if (ctl && ctl("epoch", NULL, NULL, &epoch, sizeof(epoch)) == 0 &&
        ctl("stats.class.3.transfer_cached", &held, &len, NULL, 0) == 0 && held > 0)
      say("the transfer cache holds blocks of the class");
    free(launder(a));
    say("second free returned");
    probe_handouts(NULL, 0, 64, 3);
  } else if (!strcmp(c, "double-free-small-far")) {
    /* The first free is long gone from the cache's top: 200 other blocks were freed after it,
     * so it has been flushed to its slab. */
    void *a = M(64), *other[200];
    for (int i = 0; i < 200; i++) other[i] = M(64);
    probe_after_abort(NULL, 0, 64, 3);
    free(a);
    for (int i = 0; i < 200; i++) free(other[i]);
    free(launder(a));
    say("second free returned");
    probe_handouts(NULL, 0, 64, 3);
  } else if (!strcmp(c, "double-free-small-purged")) {
    /* Sparse slabs of a large class (13 blocks of 4352 bytes a slab; one block in 13 stays
     * live): the purge returns the whole free pages inside them, which erases the free marks
     * of the freed blocks there. A second free of such a block must still be caught. */
    enum { N = 13 * 16 };
    static char *blk[N];
    for (int i = 0; i < N; i++) blk[i] = M(4300);
    for (int i = 0; i < N; i++)
      if (i % 13) free(blk[i]);
    size_t (*purge)(void) = (size_t (*)(void))dlsym(RTLD_DEFAULT, "tieralloc_purge");
    if (!purge) {
      say("no tieralloc_purge in this process");
      return 3;
    }
    purge();
    char *victim = NULL; /* a freed block whose first word reads zero: its page was purged */
    for (int i = 0; i < N && !victim; i++)
      if (i % 13 && *(volatile uint64_t *)blk[i] == 0) victim = blk[i];
    if (!victim) {
      say("no freed block on a purged page");
      return 3;
    }
    probe_after_abort(NULL, 0, 4300, 3);
    free(launder(victim));
    say("second free returned");
    probe_handouts(NULL, 0, 4300, 3);
  } else if (!strcmp(c, "interior-small")) {
    interior_small_body();
    probe_handouts(interior_block, 64, 64, 2);
  } else if (!strcmp(c, "interior-short-slab-tail")) {
    /* The first block of its class: its slab has the short shape (conf sparse_slabs), one
     * 7936-byte object in two 4 KiB pages. p + 7936 is inside the slab, where the second object
     * of the class's usual 31-page slab would start: the tail, no object. */
    char *p = M(7936);
    probe_after_abort(p, 7936, 7936, 3);
    free(launder(p + 7936));
    say("tail free returned");
  } else if (!strcmp(c, "interior-small-thread-exit")) {
    run_in_thread(interior_small_body);
  } else if (!strcmp(c, "interior-large")) {
    char *p = M(1 << 20);
    free(launder(p + 4096));
  } else if (!strcmp(c, "free-sized-larger")) {
    void *p = M(100);
    probe_after_abort(p, 112, 112, 3);
    get_free_sized()(p, 1000);
  } else if (!strcmp(c, "free-sized-smaller-class")) {
    void *p = M(100);
    get_free_sized()(p, 10);
  } else if (!strcmp(c, "free-sized-large")) {
    void *p = M(1 << 20);
    get_free_sized()(p, 100000);
  } else if (!strcmp(c, "free-sized-right")) {
    void *p = M(100);
    get_free_sized()(p, 100);
    void *q = M(1 << 20);
    get_free_sized()(q, 1 << 20);
  } else if (!strcmp(c, "realloc-interior-small")) {
    char *p = M(64);
    probe_after_abort(p, 64, 64, 3);
    void *q = realloc(launder(p + 16), 64);
    say(q == p + 16 ? "realloc returned the interior pointer" : "realloc returned another block");
  } else if (!strcmp(c, "realloc-freed-large")) {
    void *p = M(4 << 20);
    free(p);
    sink = realloc(launder(p), 2 << 20);
  } else if (!strcmp(c, "realloc-freed-small")) {
    void *p = M(64);
    probe_after_abort(NULL, 0, 64, 3);
    free(p);
    void *q = realloc(launder(p), 64);
    say(q == p ? "realloc returned the freed block itself" : "realloc returned another block");
    probe_handouts(q, 64, 64, 2);
  } else if (!strcmp(c, "junk")) {
    unsigned char *p = M(64);
    printf("new byte 0x%02x\n", p[10]);
    memset(p, 1, 64);
    free(p);
    printf("freed byte 0x%02x\n", ((volatile unsigned char *)launder(p))[10]);
  } else {
    say("unknown case");
    return 2;
  }
  say("survived");
  return 0;
}
