/* tcache.h: layer L6, the thread cache and the fast path's only data structure.
 *
 * A thread's cache holds, per size class, a stack of free objects of that class. Pop and push
 * touch only the calling thread's memory: no lock, no atomic read-modify-write, no call. The
 * thread-local pointer starts at a shared empty cache whose stacks have no room, so the first
 * call of a thread takes the slow path (which creates its cache) without a NULL test on the
 * fast path. The cache itself lives in metadata; only the pointer and two flags (below) are in
 * initial-exec TLS, which keeps tieralloc's static TLS to about a hundred bytes (it can be
 * dlopen()ed late).
 *
 * An idle thread's cache is emptied by the background thread (ta_tcache_reclaim_idle): a
 * thread that stops calling the allocator (blocked on a queue, asleep, waiting for requests)
 * would otherwise pin the slabs under its cached objects for as long as it lives. The owner
 * pays no atomic read-modify-write and no fence for this, only two stores of constants per
 * fast-path call: a fast path sets `inside` before it reads its cache pointer and clears it
 * when it returns; every slow path and every other entry point that may touch the cache runs
 * with `depth` raised (ta_tcache_enter_slow/leave_slow), which nests (the slow paths' own
 * allocations, as pthread_setspecific's or pthread_create's, come back through the fast path,
 * whose exit clears `inside` under them). The reclaimer points the idle thread's cache pointer
 * at the empty cache, makes every running thread pass a memory barrier (ta_os_fence_threads),
 * then reads both: both clear means the owner is outside the allocator and its next call will
 * see the empty cache (and take the slow path, which re-attaches its cache under the list lock
 * after the reclaimer is done); either set means it may be inside with the old pointer, and
 * the reclaimer puts the pointer back and tries later. */
#ifndef TA_TCACHE_H
#define TA_TCACHE_H

#include <string.h>

#include "arena.h"

TA_EXTERN_C_BEGIN

typedef struct ta_cache_bin {
  void **slots;    /* slots[0..count) are cached objects, the top is slots[count - 1] */
  uint32_t count;
  uint32_t max;    /* 0 in the empty cache: every push and pop misses */
  /* The class's start_mul (size_class.h), copied here so free's object-start test reads the
   * line it reads anyway; the bound is the slab's (its shape's). */
  uint64_t start_mul;
} __attribute__((aligned(32))) ta_cache_bin_t; /* two a cache line, none across two */

/* Whether p, which the pagemap maps to `slab` of this bin's class, is the start of an object:
 * ta_slab_index(slab, p) != UINT32_MAX in one multiply and one compare (the offset is below the
 * slab's length, so below 2^32, as the test in size_class.h needs). The bound sits in the
 * record's first line, which free has just read for the header. */
TA_INLINE bool ta_cache_bin_is_object_start(const ta_cache_bin_t *bin, const ta_extent_t *slab,
                                            const void *p) {
  uint64_t off = (uintptr_t)p - (uintptr_t)slab->addr;
  return off * bin->start_mul < slab->start_limit;
}

typedef struct ta_tcache {
  uint32_t slab_key;   /* ta_extent_slab_key(node); 0 in the empty cache, so frees miss */
  uint32_t last_class; /* the class of this thread's last fast malloc, and the object it */
  void *last_obj;      /* handed out: free's guess of the bin (malloc.c); never trusted alone */
  uintptr_t free_mark; /* ta_tcache_free_mark, here so free's fast path finds it beside slab_key */
  /* One per class, then a sentinel that never has room (max 0), indexed by the pagemap's vacant
   * tag (slab.h): a free on a page with no live object always takes the slow path. */
  ta_cache_bin_t bins[TA_NCLASSES + 1];
  uint16_t node;
  ta_arena_t *arena;
  ta_list_t link;      /* on the list of live caches */
  /* For the reclaimer: the owner's TLS slots (valid while the cache is on the list, which its
   * thread leaves before exiting), its slow-path calls (written by the owner only), and what
   * the reclaimer saw of them last, and when. */
  struct ta_tcache_tls *tls;
  uint64_t slow_calls;
  uint64_t seen_calls, seen_ns;
  size_t alloc_size;
  uint32_t events;     /* slow-path events since the last trim */
  uint64_t active[(TA_NCLASSES + 63) / 64]; /* classes with a slow-path event since then */
  uint64_t refilled[(TA_NCLASSES + 63) / 64]; /* classes refilled since their last flush */
  /* Growth (tcache.c): per class, the slots its array has room for (at least max; the array is
   * in this block until the class first grows past its base), and the start, slow-path events
   * and kinds of event (refill, flush) of its current measuring window and the one before. */
  size_t grown_bytes; /* the sum over classes of (max - base) * size */
  uint16_t room[TA_NCLASSES];
  uint16_t window_events[TA_NCLASSES];
  uint8_t window_kinds[TA_NCLASSES];
  uint64_t window_start[TA_NCLASSES];
  /* Objects of another node, collected here and sent home as one batch. */
  uint32_t nremote;
  uint16_t remote_node;
  void *remote[TA_REMOTE_BATCH];
} ta_tcache_t;

extern ta_tcache_t ta_tcache_empty;

/* Free marks. Every small object that is free (in a thread cache, a remote batch or its slab)
 * holds p ^ ta_tcache_free_mark in its first word, written by free; every hand-out (a pop, or
 * an object taken straight from a bin) clears that word. So a block passed to free that still
 * holds its mark was freed and not handed out since: a double free, found with one load and one
 * compare however far back the first free was. The mark is a hint, never trusted alone: a
 * program may hold the same bytes by chance, so free's slow path confirms in the thread's cache
 * and the slab's free map before it reports anything (tcache_owns_free / ta_bin_is_live). The
 * key is random per process (AT_RANDOM), so a program cannot make a live block look free
 * without reading freed memory, and the mark is no link: forging it can only send a free to
 * the slow path, never corrupt a list. */
extern uintptr_t ta_tcache_free_mark;
typedef uintptr_t __attribute__((may_alias)) ta_mark_word_t;

/* The mark of block p: p ^ key. */
TA_INLINE uintptr_t ta_tcache_mark_of(const void *p, uintptr_t key) { return (uintptr_t)p ^ key; }
/* Whether p holds `mark` (ta_tcache_mark_of), its first byte read before the word. A program's
 * last store to a block is often narrower than a word (p[0] = c, a 4-byte field), and a word
 * load over a narrower store waits until the store reaches the cache instead of taking its
 * bytes from the store buffer: in free's fast path a malloc, 1-byte store, free loop ran 8.96 ns
 * a pair with the word load, 7.7 with this (AMD EPYC; tcmalloc 7.3). A byte load is forwarded;
 * the word is read only when the byte matches (a double free, or 1 in 256 of other blocks). */
TA_INLINE bool ta_tcache_holds_mark(const void *p, uintptr_t mark) {
  unsigned char first;
  memcpy(&first, &mark, 1); /* the byte a stored mark has at p[0], on either byte order */
  if (ta_likely(*(const unsigned char *)p != first)) return false;
  return *(const ta_mark_word_t *)p == mark;
}
TA_INLINE bool ta_tcache_is_marked(const void *p, uintptr_t key) {
  return ta_tcache_holds_mark(p, ta_tcache_mark_of(p, key));
}
TA_INLINE void ta_tcache_put_mark(void *p, uintptr_t mark) { *(ta_mark_word_t *)p = mark; }
TA_INLINE void ta_tcache_mark(void *p, uintptr_t key) { ta_tcache_put_mark(p, ta_tcache_mark_of(p, key)); }
TA_INLINE void ta_tcache_unmark(void *p) { *(ta_mark_word_t *)p = 0; }
/* One TLS block, so the fast path finds all three through one thread-pointer offset. The flags
 * sit a cache line away from the pointer: every call stores `inside` and then loads `self`, and
 * where the TLS layout put both in one line that store and load cost a malloc/free pair 13.4 ns
 * instead of 11.1 (AMD EPYC; 10.5 with no flag at all). */
typedef struct ta_tcache_tls {
  ta_tcache_t *self; /* the thread's cache; the empty cache when it has none or was reclaimed */
  char apart[64 - sizeof(ta_tcache_t *)];
  int inside;        /* a fast path is running */
  int depth;         /* slow paths and other entry points running (nested) */
} ta_tcache_tls_t;
extern __thread ta_tcache_tls_t ta_tcache_tls __attribute__((tls_model("initial-exec")));

/* Brackets a fast path. The store is ordered before the cache pointer's load only by the
 * compiler here; the reclaimer's barrier orders it for the CPU. */
TA_INLINE void ta_tcache_enter(void) {
  __atomic_store_n(&ta_tcache_tls.inside, 1, __ATOMIC_RELAXED);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
}
/* Release: the cache's stores of this call are visible to a reclaimer that sees it clear. */
TA_INLINE void ta_tcache_leave(void) { __atomic_store_n(&ta_tcache_tls.inside, 0, __ATOMIC_RELEASE); }
/* Brackets a slow path or an entry point without a fast path. */
TA_INLINE void ta_tcache_enter_slow(void) {
  __atomic_store_n(&ta_tcache_tls.depth, ta_tcache_tls.depth + 1, __ATOMIC_RELAXED);
  ta_tcache_enter();
}
TA_INLINE void ta_tcache_leave_slow(void) {
  __atomic_store_n(&ta_tcache_tls.depth, ta_tcache_tls.depth - 1, __ATOMIC_RELAXED);
  ta_tcache_leave();
}
/* The calling thread's cache pointer; another thread may store it, so it is read as an atomic
 * (a plain load on every target). */
TA_INLINE ta_tcache_t *ta_tcache_current(void) { return __atomic_load_n(&ta_tcache_tls.self, __ATOMIC_RELAXED); }

TA_INLINE void *ta_tcache_pop(ta_tcache_t *tc, unsigned cls) {
  ta_cache_bin_t *bin = &tc->bins[cls];
  if (ta_unlikely(bin->count == 0)) return NULL;
  void *p = bin->slots[--bin->count];
  ta_tcache_unmark(p);
  return p;
}


TA_INLINE bool ta_tcache_push(ta_tcache_t *tc, unsigned cls, void *p) {
  ta_cache_bin_t *bin = &tc->bins[cls];
  if (ta_unlikely(bin->count == bin->max)) return false;
  bin->slots[bin->count++] = p;
  return true;
}

/* ---- slow paths (tcache.c) ---- */

/* The calling thread's cache, created on first use; NULL when this thread has none and will
 * get none (caching disabled, the thread is exiting, or metadata memory ran out). */
ta_tcache_t *ta_tcache_get(void);
/* The calling thread's cache if it has one (re-attached if the reclaimer emptied it), else
 * NULL; never creates one. */
ta_tcache_t *ta_tcache_attached(void);
/* The calling thread's default tier (-1: its own node), set by tieralloc_thread_tier. */
extern __thread int ta_thread_tier __attribute__((tls_model("initial-exec")));

/* The node the calling thread's plain allocations should come from now: its default tier's
 * node from its current CPU, or the CPU's own node. */
unsigned ta_tcache_target_node(void);

/* The arena the calling thread should use now. On a multi-node machine this is where a thread
 * notices that it runs on another node: its cached objects go home and it follows. */
ta_arena_t *ta_tcache_arena(ta_tcache_t *tc);
/* Refills the class's stack from the arena and pops one; NULL when out of memory. */
void *ta_tcache_refill(ta_tcache_t *tc, unsigned cls);
/* Flushes the older half of the class's stack to the arenas, then pushes p. */
void ta_tcache_flush_push(ta_tcache_t *tc, unsigned cls, void *p);
/* Frees p, an object of `node` (not the cache's node): it goes into the remote batch. */
void ta_tcache_free_remote(ta_tcache_t *tc, void *p, unsigned node);
/* Whether p (an object of a slab, holding its free mark) is in this cache: in its class's
 * stack or the remote batch. A scan, for free's slow path only. */
bool ta_tcache_holds(const ta_tcache_t *tc, unsigned cls, const void *p);
/* Whether another live thread's cache holds p in its class-cls stack: a scan of every cache
 * under the list lock, for free's slow path when p holds its free mark (a double free whose
 * first free went into another thread's cache). */
bool ta_tcache_others_hold(const ta_tcache_t *self, unsigned cls, const void *p);
/* Returns every cached object of the calling thread to the arenas. */
void ta_tcache_flush_self(void);
/* The background thread's step: empties the cache of every other thread that has made no
 * slow-path call for idle_ns (and still has its cache attached), as described at the top.
 * Returns the bytes taken back. Does nothing where the kernel offers no barrier (ENOSYS). */
size_t ta_tcache_reclaim_idle(uint64_t now, uint64_t idle_ns);
/* Cumulative counts for the stats: caches emptied and bytes taken back by reclaim. */
void ta_tcache_reclaim_counts(uint64_t *caches, uint64_t *bytes);
/* For the stats: the room all threads' stacks have grown by beyond their base (tcache.c). */
uint64_t ta_tcache_grown_bytes(void);

/* Start-up: the thread-exit hook. Returns 0 or an errno value. */
int ta_tcache_boot(bool enabled);

void ta_tcache_prefork(void);
void ta_tcache_postfork_parent(void);
void ta_tcache_postfork_child(void);

TA_EXTERN_C_END

#endif
