/* tcache.c: creating, filling, flushing and destroying thread caches (see tcache.h).
 *
 * Capacity per class starts at the CPU profile's budget (32 KiB on x86-64 and Neoverse, 16 KiB on a
 * generic ARMv8.0 core) of objects, between 4 (2 above 16 KiB) and 128 slots: small classes batch
 * many objects per lock, large ones keep a thread from hoarding memory (a fixed 256 KiB budget
 * made batches of large objects 2.5x faster but raised peak RSS by 30-60% on the realloc and cache
 * benchmarks, which matter more to servers; refilling stacks of 16 slots or fewer whole made
 * such batches 10% faster but left 1.5 MiB more in idle threads' caches on the cache benchmark).
 * A class grows past that base only while its slow paths come back to back (GROW_EVENTS below),
 * which those benchmarks never do.
 * Refill brings half a stack, flush returns the older half: the hot top stays in the thread. A
 * class the thread only frees drains instead (drain_slots_for).
 * Both go through the transfer cache (transfer_cache.h) of the objects' arena before the bins,
 * so batches larger than a stack pass between threads and back without touching slab free
 * maps. A stack of 16 slots or fewer (objects of 2 KiB and up) refills whole when the transfer
 * cache has the objects: they are free objects pinned already, so this moves memory from the
 * arena to the thread without pinning more (the cache benchmark's RSS after idle stayed at
 * 15.2 MiB, where whole refills from the bins had raised it), and halves such a class's
 * refills.
 * Every GC_EVENTS slow-path events a pass returns half of each class that took no slow path
 * since the last pass, so a thread does not keep a full cache of classes it stopped using. */
#include "tcache.h"

#include <pthread.h>
#include <string.h>
#include <sys/auxv.h>

#include "conf.h"

ta_tcache_t ta_tcache_empty;
uintptr_t ta_tcache_free_mark;
__thread ta_tcache_tls_t ta_tcache_tls __attribute__((tls_model("initial-exec"))) = {.self = &ta_tcache_empty};
/* The thread's cache while ta_tcache_tls.self may point at the empty one because the reclaimer
 * emptied it (NULL before the first and after the last). */
static __thread ta_tcache_t *own_cache __attribute__((tls_model("initial-exec")));
/* Set once a thread's cache is torn down at exit, so destructors that run later (C++
 * thread_local objects, other libraries' keys) are served without re-creating it. */
static __thread bool thread_done __attribute__((tls_model("initial-exec")));

__thread int ta_thread_tier __attribute__((tls_model("initial-exec"))) = -1;

static pthread_key_t exit_key;
static bool caching;
/* Guards the list of live caches, and is held by the reclaimer for the whole of emptying a
 * cache, so an owner re-attaching its cache or a thread exiting waits for it. */
static ta_mutex_t list_lock = TA_MUTEX_INITIALIZER(TA_LOCK_RANK_TCACHE_LIST);
static ta_list_t live_caches = {&live_caches, &live_caches};
/* Reclaim: off once the kernel has no barrier; counts for the stats. */
static ta_atomic(int) fence_missing;
static ta_atomic(uint64_t) reclaimed_caches, reclaimed_bytes;
/* Growth of all threads' stacks beyond their base, bounded by GROWN_PROCESS_BYTES. */
static ta_atomic(uint64_t) grown_total;

#define GC_EVENTS 256
/* Stacks this small refill whole from the transfer cache (never from a bin). */
#define WHOLE_REFILL_SLOTS 16
/* Growth. A class's stack starts at its base (slots_for) and doubles, up to grown_slots_for, when
 * the thread's refills and flushes of that class come less than GROW_GAP_NS apart on average over
 * GROW_EVENTS of them, with both kinds among them. Each costs 50-100 ns (a lock, a batch copied),
 * so at that rate they take more than about 5% of the thread's time and a bigger stack, which
 * absorbs the thread's round trip from taking to giving back, pays for the memory it may hold. A
 * thread that only takes or only gives back a class (a producer, a consumer) gains nothing from
 * a bigger stack but bigger batches under the bin lock, and does not grow. A thread that does work
 * between its allocations (a server between requests) never gets there and keeps the base
 * budget. A class goes back down when it goes idle (the trim pass halves it) and when the cache is
 * emptied (idle thread, node move). A thread's growth is bounded in bytes (GROWN_THREAD_BYTES):
 * a class that would pass the bound first takes the other classes back to their base, so a thread
 * whose hot class moves (a loop over sizes) does not keep every class it went through at full
 * size until the trim pass. All threads' growth together is bounded too (GROWN_PROCESS_BYTES, as
 * tcmalloc bounds its thread caches), so a server with many busy threads does not hold 4 MiB of
 * free objects in each. The bigger array is allocated once, at the class's first growth, and
 * kept for the thread's life. */
#define GROW_EVENTS 16
#define GROW_GAP_NS 1000
#define GROWN_CLASS_BYTES (2u << 20)
#define GROWN_THREAD_BYTES (4u << 20)
#define GROWN_PROCESS_BYTES (32u << 20)
#define MAX_SLOTS 128
/* window_kinds: this window's kinds in the low bits, the previous window's shifted up by 2. */
#define KIND_TOOK 1u
#define KIND_GAVE 2u
#define KINDS_BOTH (KIND_TOOK | KIND_GAVE)

static uint32_t slots_for(unsigned cls) {
  /* The CPU profile's budget (sized against the core's L2, docs/aarch64.md); 32 KiB where the
   * profile has none (x86-64). */
  uint32_t budget = ta_arch_profile()->tcache_class_bytes;
  uint32_t n = (budget ? budget : 32768u) / ta_class_info[cls].size;
  /* Above 16 KiB each cached object pins a slab of 2-4 objects (up to 128 KiB) that could
   * otherwise go back: 2 slots cut realloc's peak RSS by 2 MiB (of 47) and cost batches
   * nothing measurable now that emptied slabs are reused from the arena's slab cache. */
  uint32_t least = ta_class_info[cls].size > 16384 ? 2 : 4;
  return n < least ? least : n > MAX_SLOTS ? MAX_SLOTS : n;
}

/* A class this thread only frees (a consumer, a lazy-free thread) keeps a stack of half its base
 * and flushes it whole when full (ta_tcache_flush_push): the same batches as a half flush of a
 * full base stack, so no more trips to the arena, but half the objects held back from the
 * threads that allocate them. On the cache benchmark its lazy-free thread held 4.2 MiB of
 * freed values in its stacks (of 52 MiB allocated); 1 MiB with this rule. */
static uint32_t drain_slots_for(unsigned cls) {
  uint32_t n = slots_for(cls) / 2;
  return n ? n : 1;
}

static uint32_t grown_slots_for(unsigned cls) {
  uint32_t n = GROWN_CLASS_BYTES / ta_class_info[cls].size, base = slots_for(cls);
  return n < base ? base : n > MAX_SLOTS ? MAX_SLOTS : n;
}

/* Returns the n oldest objects: to the arena's transfer cache when `arena` is given (a stack
 * overflowing in a run of frees, whose objects are likely wanted again soon by some thread of
 * the arena), else straight to their bins (classes gone idle, thread exit, a node move). */
static void flush_oldest(ta_cache_bin_t *bin, unsigned cls, uint32_t n, ta_arena_t *arena) {
  if (arena) ta_arena_release(arena, cls, bin->slots, n);
  else ta_arena_flush(cls, bin->slots, n);
  memmove(bin->slots, bin->slots + n, (bin->count - n) * sizeof(void *));
  bin->count -= n;
}

/* Brings the class's stack down to max slots (not below its base), returning the oldest objects
 * beyond it straight to their bins. */
static void shrink(ta_tcache_t *tc, unsigned cls, uint32_t max) {
  ta_cache_bin_t *bin = &tc->bins[cls];
  if (max >= bin->max) return;
  if (bin->count > max) flush_oldest(bin, cls, bin->count - max, NULL);
  size_t less = (size_t)(bin->max - max) * ta_class_info[cls].size;
  tc->grown_bytes -= less;
  ta_atomic_fetch_sub(&grown_total, less, ta_mo_relaxed);
  bin->max = max;
}

/* Doubles the class's stack (see GROW_EVENTS). */
static void grow(ta_tcache_t *tc, unsigned cls) {
  ta_cache_bin_t *bin = &tc->bins[cls];
  uint32_t base = slots_for(cls);
  if (bin->max < base) bin->max = base; /* a draining stack: from its base */
  uint32_t most = grown_slots_for(cls);
  if (bin->max >= most) return;
  uint32_t max = bin->max * 2 < most ? bin->max * 2 : most;
  size_t more = (size_t)(max - bin->max) * ta_class_info[cls].size;
  if (tc->grown_bytes + more > GROWN_THREAD_BYTES ||
      ta_atomic_load(&grown_total, ta_mo_relaxed) + more > GROWN_PROCESS_BYTES) {
    for (unsigned c = 0; c < TA_NCLASSES; c++)
      if (c != cls) shrink(tc, c, slots_for(c));
    if (tc->grown_bytes + more > GROWN_THREAD_BYTES) return;
  }
  /* Claimed before it is used, so threads growing at once never pass the bound together. */
  if (ta_atomic_fetch_add(&grown_total, more, ta_mo_relaxed) + more > GROWN_PROCESS_BYTES) {
    ta_atomic_fetch_sub(&grown_total, more, ta_mo_relaxed);
    return;
  }
  if (tc->room[cls] < most) {
    void **slots = ta_meta_alloc(most * sizeof(void *));
    if (!slots) { /* stays at its size */
      ta_atomic_fetch_sub(&grown_total, more, ta_mo_relaxed);
      return;
    }
    /* Under the list lock: ta_tcache_others_hold reads the array under it. The old array, in the
     * cache's block, is cleared so no stale copy of a pointer is ever found there. */
    ta_mutex_lock(&list_lock);
    memcpy(slots, bin->slots, bin->count * sizeof(void *));
    memset(bin->slots, 0, tc->room[cls] * sizeof(void *));
    bin->slots = slots;
    tc->room[cls] = (uint16_t)most;
    ta_mutex_unlock(&list_lock);
  }
  tc->grown_bytes += more;
  bin->max = max;
}

/* Counts a slow-path call for the reclaimer, which reads it from another thread. */
static void count_slow_call(ta_tcache_t *tc) {
  __atomic_store_n(&tc->slow_calls, tc->slow_calls + 1, __ATOMIC_RELAXED);
}

/* Counts a slow-path event of class cls, a refill (took) or a flush: grows the class when its
 * events come fast; every GC_EVENTS events of the thread, trims idle classes. */
static void gc_tick(ta_tcache_t *tc, unsigned cls, bool took) {
  count_slow_call(tc);
  tc->active[cls / 64] |= (uint64_t)1 << (cls % 64);
  tc->window_kinds[cls] |= took ? KIND_TOOK : KIND_GAVE;
  if (++tc->window_events[cls] == GROW_EVENTS) {
    uint64_t now = ta_os_now_ns();
    /* Both kinds over this window and the one before: a batch as long as two windows of events
     * would otherwise fill each with one kind. */
    unsigned kinds = (tc->window_kinds[cls] | tc->window_kinds[cls] >> 2) & KINDS_BOTH;
    if (now - tc->window_start[cls] < (uint64_t)GROW_EVENTS * GROW_GAP_NS && kinds == KINDS_BOTH)
      grow(tc, cls);
    tc->window_start[cls] = now;
    tc->window_events[cls] = 0;
    tc->window_kinds[cls] = (uint8_t)((tc->window_kinds[cls] & KINDS_BOTH) << 2);
  }
  if (++tc->events < GC_EVENTS) return;
  tc->events = 0;
  for (unsigned c = 0; c < TA_NCLASSES; c++) {
    ta_cache_bin_t *bin = &tc->bins[c];
    bool active = (tc->active[c / 64] >> (c % 64)) & 1;
    if (active) continue;
    if (bin->count > 1) flush_oldest(bin, c, bin->count / 2, NULL);
    uint32_t base = slots_for(c);
    if (bin->max > base) shrink(tc, c, bin->max / 2 > base ? bin->max / 2 : base);
  }
  memset(tc->active, 0, sizeof(tc->active));
}

static void send_remote(ta_tcache_t *tc) {
  if (tc->nremote) ta_arena_send_home(tc->remote_node, tc->remote, tc->nremote);
  tc->nremote = 0;
}

/* Empties every stack and brings grown ones back to their base. */
static void flush_all(ta_tcache_t *tc) {
  for (unsigned c = 0; c < TA_NCLASSES; c++) {
    if (tc->bins[c].count) ta_arena_flush(c, tc->bins[c].slots, tc->bins[c].count);
    tc->bins[c].count = 0;
    tc->bins[c].max = slots_for(c);
  }
  if (tc->grown_bytes) ta_atomic_fetch_sub(&grown_total, tc->grown_bytes, ta_mo_relaxed);
  tc->grown_bytes = 0;
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
  thread_done = true;
  /* Off the list first: a reclaimer emptying this cache finishes before the thread's TLS,
   * which it writes, goes away, and none starts after. */
  ta_mutex_lock(&list_lock);
  ta_list_remove(&tc->link);
  __atomic_store_n(&ta_tcache_tls.self, &ta_tcache_empty, __ATOMIC_RELAXED);
  own_cache = NULL;
  ta_mutex_unlock(&list_lock);
  flush_all(tc);
  for (unsigned c = 0; c < TA_NCLASSES; c++)
    if (tc->room[c] > slots_for(c)) ta_meta_free(tc->bins[c].slots, tc->room[c] * sizeof(void *));
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

ta_tcache_t *ta_tcache_attached(void) {
  ta_tcache_t *tc = ta_tcache_current();
  if (tc != &ta_tcache_empty) return tc;
  if (!own_cache) return NULL;
  /* Emptied by the reclaimer: taking the lock waits for it to finish. */
  ta_mutex_lock(&list_lock);
  tc = own_cache;
  __atomic_store_n(&ta_tcache_tls.self, tc, __ATOMIC_RELAXED);
  ta_mutex_unlock(&list_lock);
  return tc;
}

ta_tcache_t *ta_tcache_get(void) {
  ta_tcache_t *tc = ta_tcache_attached();
  if (tc) return tc;
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
    tc->room[c] = (uint16_t)tc->bins[c].max;
    tc->bins[c].start_mul = ta_class_info[c].start_mul;
    slots += tc->bins[c].max;
  }
  settle(tc, ta_tcache_target_node());
  tc->tls = &ta_tcache_tls;
  ta_mutex_lock(&list_lock);
  ta_list_push_back(&live_caches, &tc->link);
  own_cache = tc;
  __atomic_store_n(&ta_tcache_tls.self, tc, __ATOMIC_RELAXED);
  ta_mutex_unlock(&list_lock);
  /* pthread_setspecific may allocate its second-level key array through malloc; the cache is
   * already usable, so that recursion is served normally. */
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
  gc_tick(tc, cls, true);
  ta_cache_bin_t *bin = &tc->bins[cls];
  tc->refilled[cls / 64] |= (uint64_t)1 << (cls % 64);
  uint32_t base = slots_for(cls);
  if (bin->max < base) bin->max = base; /* it allocates again: not draining */
  unsigned want = bin->max / 2 ? bin->max / 2 : 1;
  unsigned most = bin->max <= WHOLE_REFILL_SLOTS ? bin->max : want;
  bin->count = ta_arena_fill(tc->arena, cls, bin->slots, want, most);
  return ta_tcache_pop(tc, cls);
}

void ta_tcache_flush_push(ta_tcache_t *tc, unsigned cls, void *p) {
  ta_cache_bin_t *bin = &tc->bins[cls];
  gc_tick(tc, cls, false);
  if (bin->count == bin->max) { /* else it has room: it just grew, or free missed for another reason */
    uint64_t bit = (uint64_t)1 << (cls % 64);
    /* A grown class has dense refills and flushes both (gc_tick): not a consumer's. */
    bool draining = !(tc->refilled[cls / 64] & bit) && bin->max <= slots_for(cls) && ta_conf.tcache_drain;
    tc->refilled[cls / 64] &= ~bit;
    if (draining) {
      /* No refill since the last flush: this thread only frees this class now (a consumer, or
       * the end of a burst of frees), and what it keeps only pins slabs that the allocating
       * threads would refill from. The stack goes down to drain_slots_for and empties whole,
       * p with it. */
      uint32_t drain = drain_slots_for(cls);
      if (bin->max > drain) bin->max = drain;
      if (bin->count < tc->room[cls]) {
        bin->slots[bin->count++] = p;
        flush_oldest(bin, cls, bin->count, tc->arena);
      } else {
        flush_oldest(bin, cls, bin->count, tc->arena);
        ta_arena_release(tc->arena, cls, &p, 1);
      }
      return;
    }
    flush_oldest(bin, cls, bin->count / 2 ? bin->count / 2 : bin->count, tc->arena);
  }
  bin->slots[bin->count++] = p;
}

void ta_tcache_free_remote(ta_tcache_t *tc, void *p, unsigned node) {
  count_slow_call(tc);
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
  ta_tcache_enter_slow();
  ta_tcache_t *tc = ta_tcache_current();
  if (tc != &ta_tcache_empty) flush_all(tc);
  ta_tcache_leave_slow();
}

static size_t cached_bytes(const ta_tcache_t *tc) {
  size_t bytes = 0;
  for (unsigned c = 0; c < TA_NCLASSES; c++) bytes += (size_t)tc->bins[c].count * ta_class_info[c].size;
  for (uint32_t i = 0; i < tc->nremote; i++) {
    ta_extent_t *ext = ta_pagemap_lookup(tc->remote[i]);
    if (ext) bytes += ta_size_class_size(ext->size_class);
  }
  return bytes;
}

/* Caches detached per barrier: one membarrier (an interrupt on every CPU running a thread of
 * the process) serves a whole batch. */
#define RECLAIM_BATCH 64

/* Empties the caches of batch[0..n), whose threads looked idle, except those whose thread is
 * inside the allocator (see tcache.h for why this is safe without the owners' help). Called
 * with list_lock held, so no such thread can exit or re-attach meanwhile. Returns the bytes
 * taken and counts the caches emptied. */
static size_t reclaim(ta_tcache_t **batch, unsigned n, uint64_t *emptied) {
  for (unsigned i = 0; i < n; i++) __atomic_store_n(&batch[i]->tls->self, &ta_tcache_empty, __ATOMIC_RELAXED);
  int err = ta_os_fence_threads();
  if (err) ta_atomic_store(&fence_missing, 1, ta_mo_relaxed); /* stats.tcache_reclaims stays 0 */
  size_t total = 0;
  for (unsigned i = 0; i < n; i++) {
    ta_tcache_t *tc = batch[i];
    /* inside first, with acquire: a nested fast path that cleared it under a running slow
     * path wrote depth before, so depth then reads raised. */
    if (err || __atomic_load_n(&tc->tls->inside, __ATOMIC_ACQUIRE) ||
        __atomic_load_n(&tc->tls->depth, __ATOMIC_RELAXED)) {
      /* Inside, perhaps with the old pointer: it keeps its cache. Whatever it did meanwhile
       * with the empty one (a free straight to its bin, a re-attach waiting on the lock) is
       * consistent with getting the cache back. */
      __atomic_store_n(&tc->tls->self, tc, __ATOMIC_RELAXED);
      continue;
    }
    size_t bytes = cached_bytes(tc);
    flush_all(tc);
    total += bytes;
    *emptied += bytes != 0;
  }
  return total;
}

size_t ta_tcache_reclaim_idle(uint64_t now, uint64_t idle_ns) {
  if (!caching || idle_ns == 0 || ta_atomic_load(&fence_missing, ta_mo_relaxed)) return 0;
  ta_tcache_t *mine = own_cache, *batch[RECLAIM_BATCH];
  unsigned n = 0;
  size_t total = 0;
  uint64_t caches = 0;
  ta_mutex_lock(&list_lock);
  for (ta_list_t *l = live_caches.next; l != &live_caches; l = l->next) {
    ta_tcache_t *tc = ta_list_entry(l, ta_tcache_t, link);
    /* A detached cache is empty until its thread comes back. */
    if (tc == mine || __atomic_load_n(&tc->tls->self, __ATOMIC_RELAXED) != tc) continue;
    uint64_t calls = __atomic_load_n(&tc->slow_calls, __ATOMIC_RELAXED);
    if (calls != tc->seen_calls || tc->seen_ns == 0) {
      tc->seen_calls = calls;
      tc->seen_ns = now;
      continue;
    }
    if (now - tc->seen_ns < idle_ns) continue;
    tc->seen_ns = now; /* tried: not again before another idle period */
    batch[n++] = tc;
    if (n == RECLAIM_BATCH) {
      total += reclaim(batch, n, &caches);
      n = 0;
    }
  }
  if (n) total += reclaim(batch, n, &caches);
  ta_mutex_unlock(&list_lock);
  if (caches) {
    ta_atomic_fetch_add(&reclaimed_caches, caches, ta_mo_relaxed);
    ta_atomic_fetch_add(&reclaimed_bytes, total, ta_mo_relaxed);
  }
  return total;
}

void ta_tcache_reclaim_counts(uint64_t *caches, uint64_t *bytes) {
  *caches = ta_atomic_load(&reclaimed_caches, ta_mo_relaxed);
  *bytes = ta_atomic_load(&reclaimed_bytes, ta_mo_relaxed);
}

uint64_t ta_tcache_grown_bytes(void) { return ta_atomic_load(&grown_total, ta_mo_relaxed); }

void ta_tcache_prefork(void) { ta_mutex_lock(&list_lock); }
void ta_tcache_postfork_parent(void) { ta_mutex_unlock(&list_lock); }

void ta_tcache_postfork_child(void) {
  ta_mutex_postfork_child(&list_lock);
  /* Only the forking thread exists in the child. Other threads' caches hold objects the child
   * can never free through them; they stay allocated (as in every allocator with thread
   * caches), and their records leave the list so nothing walks a dead thread's cache. */
  ta_tcache_t *self = own_cache;
  ta_list_init(&live_caches);
  if (self) ta_list_push_back(&live_caches, &self->link);
  ta_atomic_store(&grown_total, self ? self->grown_bytes : 0, ta_mo_relaxed);
}
