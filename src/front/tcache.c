/* tcache.c: creating, filling, flushing and destroying thread caches (see tcache.h).
 *
 * Capacity per class is the CPU profile's budget (32 KiB on x86-64 and Neoverse, 16 KiB on a
 * generic ARMv8.0 core) of objects, between 4 (2 above 16 KiB) and 128 slots: small classes batch
 * many objects per lock, large ones keep a thread from hoarding memory (a 256 KiB budget made
 * batches of large objects 2.5x faster but raised peak RSS by 30-60% on the realloc and cache
 * benchmarks, which matter more to servers; refilling stacks of 16 slots or fewer whole made
 * such batches 10% faster but left 1.5 MiB more in idle threads' caches on the cache benchmark).
 * Refill brings half a stack, flush returns the older half: the hot top stays in the thread.
 * Every GC_EVENTS slow-path events a pass returns half of each class that took no slow path
 * since the last pass, so a thread does not keep a full cache of classes it stopped using. */
#include "tcache.h"

#include <pthread.h>
#include <string.h>
#include <sys/auxv.h>

ta_tcache_t ta_tcache_empty;
uintptr_t ta_tcache_free_mark;
__thread ta_tcache_t *ta_tcache_self __attribute__((tls_model("initial-exec"))) = &ta_tcache_empty;
/* Set once a thread's cache is torn down at exit, so destructors that run later (C++
 * thread_local objects, other libraries' keys) are served without re-creating it. */
static __thread bool thread_done __attribute__((tls_model("initial-exec")));

__thread int ta_thread_tier __attribute__((tls_model("initial-exec"))) = -1;

static pthread_key_t exit_key;
static bool caching;
static ta_mutex_t list_lock = TA_MUTEX_INITIALIZER(TA_LOCK_RANK_TCACHE_LIST);
static ta_list_t live_caches = {&live_caches, &live_caches};

#define GC_EVENTS 256
/* A flush in a run of frees keeps 1/BURST_KEEP_SHARE of the stack (the most recent objects). */
#define BURST_KEEP_SHARE 8
/* Only above 4 KiB, where a slab holds a few objects and each kept one pins a slab; below it
 * a consumer thread's bigger flushes held the bin lock against its producer (xmalloc: +16%
 * CPU). */
#define BURST_MIN_SIZE 4096

static uint32_t slots_for(unsigned cls) {
  /* The CPU profile's budget (sized against the core's L2, docs/aarch64.md); 32 KiB where the
   * profile has none (x86-64). */
  uint32_t budget = ta_arch_profile()->tcache_class_bytes;
  uint32_t n = (budget ? budget : 32768u) / ta_class_info[cls].size;
  /* Above 16 KiB each cached object pins a slab of 2-4 objects (up to 128 KiB) that could
   * otherwise go back: 2 slots cut realloc's peak RSS by 2 MiB (of 47) and cost batches
   * nothing measurable now that emptied slabs are reused from the arena's slab cache. */
  uint32_t least = ta_class_info[cls].size > 16384 ? 2 : 4;
  return n < least ? least : n > 128 ? 128 : n;
}

static void flush_oldest(ta_cache_bin_t *bin, unsigned cls, uint32_t n) {
  ta_arena_flush(cls, bin->slots, n);
  memmove(bin->slots, bin->slots + n, (bin->count - n) * sizeof(void *));
  bin->count -= n;
}

/* Counts a slow-path event of class cls; every GC_EVENTS events, trims idle classes. */
static void gc_tick(ta_tcache_t *tc, unsigned cls) {
  tc->active[cls / 64] |= (uint64_t)1 << (cls % 64);
  if (++tc->events < GC_EVENTS) return;
  tc->events = 0;
  for (unsigned c = 0; c < TA_NCLASSES; c++) {
    ta_cache_bin_t *bin = &tc->bins[c];
    bool active = (tc->active[c / 64] >> (c % 64)) & 1;
    if (!active && bin->count > 1) flush_oldest(bin, c, bin->count / 2);
  }
  memset(tc->active, 0, sizeof(tc->active));
}

static void send_remote(ta_tcache_t *tc) {
  if (tc->nremote) ta_arena_send_home(tc->remote_node, tc->remote, tc->nremote);
  tc->nremote = 0;
}

static void flush_all(ta_tcache_t *tc) {
  for (unsigned c = 0; c < TA_NCLASSES; c++) {
    if (tc->bins[c].count) ta_arena_flush(c, tc->bins[c].slots, tc->bins[c].count);
    tc->bins[c].count = 0;
  }
  send_remote(tc);
}

/* Points the cache at an arena of `node`. */
static void settle(ta_tcache_t *tc, unsigned node) {
  tc->arena = ta_arena_choose(node);
  tc->node = (uint16_t)tc->arena->node;
  tc->slab_key = ta_extent_slab_key(tc->node);
}

static void destroy(void *arg) {
  ta_tcache_t *tc = arg;
  ta_tcache_self = &ta_tcache_empty;
  thread_done = true;
  flush_all(tc);
  ta_mutex_lock(&list_lock);
  ta_list_remove(&tc->link);
  ta_mutex_unlock(&list_lock);
  ta_meta_free(tc, tc->alloc_size);
}

/* The free-mark key: the kernel's 16 random bytes for this process (read without allocating),
 * or, where there are none, the clock and an address. Odd, so no mark is ever 0 (the value a
 * hand-out leaves). */
static uintptr_t mark_key(void) {
  uintptr_t key = (uintptr_t)ta_os_now_ns() ^ (uintptr_t)&exit_key;
  const void *random = (const void *)getauxval(AT_RANDOM);
  if (random) __builtin_memcpy(&key, (const char *)random + 8, sizeof(key));
  return key | 1;
}

int ta_tcache_boot(bool enabled) {
  caching = enabled;
  if (!ta_tcache_free_mark) ta_tcache_free_mark = mark_key();
  return enabled ? pthread_key_create(&exit_key, destroy) : 0;
}

ta_tcache_t *ta_tcache_get(void) {
  ta_tcache_t *tc = ta_tcache_self;
  if (tc != &ta_tcache_empty) return tc;
  if (!caching || thread_done) return NULL;
  size_t nslots = 0;
  for (unsigned c = 0; c < TA_NCLASSES; c++) nslots += slots_for(c);
  size_t size = sizeof(ta_tcache_t) + nslots * sizeof(void *);
  tc = ta_meta_alloc(size);
  if (!tc) return NULL;
  tc->alloc_size = size;
  tc->free_mark = ta_tcache_free_mark;
  void **slots = (void **)(tc + 1);
  for (unsigned c = 0; c < TA_NCLASSES; c++) {
    tc->bins[c].slots = slots;
    tc->bins[c].max = slots_for(c);
    tc->bins[c].start_mul = ta_class_info[c].start_mul;
    tc->bins[c].start_limit = ta_class_info[c].start_limit;
    slots += tc->bins[c].max;
  }
  settle(tc, ta_tcache_target_node());
  ta_mutex_lock(&list_lock);
  ta_list_push_back(&live_caches, &tc->link);
  ta_mutex_unlock(&list_lock);
  /* pthread_setspecific may allocate its second-level key array through malloc; the cache is
   * already usable, so that recursion is served normally. */
  ta_tcache_self = tc;
  pthread_setspecific(exit_key, tc);
  return tc;
}

unsigned ta_tcache_target_node(void) {
  int cpu = ta_os_current_cpu();
  if (ta_thread_tier > 0) {
    int node = ta_arena_tier_node(cpu, (unsigned)ta_thread_tier);
    if (node >= 0) return (unsigned)node;
  }
  return ta_arena_home_node(cpu);
}

ta_arena_t *ta_tcache_arena(ta_tcache_t *tc) {
  if (ta_node_heap_count > 1) {
    unsigned node = ta_tcache_target_node();
    if (node != tc->node) {
      flush_all(tc);
      settle(tc, node);
    }
    /* Frees of this node's objects made elsewhere come home here, in batches. */
    if (!ta_remote_is_empty(&ta_node_heaps[tc->node]->remote)) ta_arena_drain_remote(tc->node);
  }
  return tc->arena;
}

void *ta_tcache_refill(ta_tcache_t *tc, unsigned cls) {
  ta_tcache_arena(tc);
  gc_tick(tc, cls);
  ta_cache_bin_t *bin = &tc->bins[cls];
  tc->refilled[cls / 64] |= (uint64_t)1 << (cls % 64);
  unsigned want = bin->max / 2 ? bin->max / 2 : 1;
  ta_arena_t *a = tc->arena;
  bin->count = ta_bin_fill(&a->bins[cls], a->hpa, cls, a->index, a->node, bin->slots, want);
  return ta_tcache_pop(tc, cls);
}

void ta_tcache_flush_push(ta_tcache_t *tc, unsigned cls, void *p) {
  ta_cache_bin_t *bin = &tc->bins[cls];
  gc_tick(tc, cls);
  uint64_t bit = (uint64_t)1 << (cls % 64);
  uint32_t n = bin->count / 2 ? bin->count / 2 : bin->count;
  /* No refill since the last flush: this thread only frees this class now (a consumer, or the
   * end of a burst of frees), so the objects it keeps would only pin their slabs; all but a
   * few go back. */
  if (!(tc->refilled[cls / 64] & bit) && ta_class_info[cls].size > BURST_MIN_SIZE)
    n = bin->count - bin->count / BURST_KEEP_SHARE;
  tc->refilled[cls / 64] &= ~bit;
  flush_oldest(bin, cls, n);
  bin->slots[bin->count++] = p;
}

void ta_tcache_free_remote(ta_tcache_t *tc, void *p, unsigned node) {
  if (tc->nremote && tc->remote_node != node) send_remote(tc);
  tc->remote_node = (uint16_t)node;
  tc->remote[tc->nremote++] = p;
  if (tc->nremote == TA_REMOTE_BATCH) send_remote(tc);
}

bool ta_tcache_holds(const ta_tcache_t *tc, unsigned cls, const void *p) {
  const ta_cache_bin_t *bin = &tc->bins[cls];
  for (uint32_t i = bin->count; i-- > 0;)
    if (bin->slots[i] == p) return true;
  for (uint32_t i = 0; i < tc->nremote; i++)
    if (tc->remote[i] == p) return true;
  return false;
}

bool ta_tcache_others_hold(const ta_tcache_t *self, unsigned cls, const void *p) {
  bool found = false;
  ta_mutex_lock(&list_lock);
  for (ta_list_t *l = live_caches.next; l != &live_caches && !found; l = l->next) {
    const ta_tcache_t *tc = ta_list_entry(l, ta_tcache_t, link);
    if (tc == self) continue;
    /* Read while its thread pushes and pops: a racy read of metadata that is never unmapped
     * while the cache is on the list. A block that moves while we look may be missed (the
     * call is let through, as before), never misreported: it was in that cache and marked. */
    const volatile ta_cache_bin_t *bin = &tc->bins[cls];
    uint32_t n = bin->count < bin->max ? bin->count : bin->max;
    for (uint32_t i = 0; i < n && !found; i++) found = ((void *const volatile *)bin->slots)[i] == p;
  }
  ta_mutex_unlock(&list_lock);
  return found;
}

void ta_tcache_flush_self(void) {
  ta_tcache_t *tc = ta_tcache_self;
  if (tc != &ta_tcache_empty) flush_all(tc);
}

void ta_tcache_prefork(void) { ta_mutex_lock(&list_lock); }
void ta_tcache_postfork_parent(void) { ta_mutex_unlock(&list_lock); }

void ta_tcache_postfork_child(void) {
  ta_mutex_postfork_child(&list_lock);
  /* Only the forking thread exists in the child. Other threads' caches hold objects the child
   * can never free through them; they stay allocated (as in every allocator with thread
   * caches), and their records leave the list so nothing walks a dead thread's cache. */
  ta_tcache_t *self = ta_tcache_self;
  ta_list_init(&live_caches);
  if (self != &ta_tcache_empty) ta_list_push_back(&live_caches, &self->link);
}
