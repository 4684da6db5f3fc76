/* malloc.c: the malloc family, read top to bottom: size -> class -> thread cache -> slow path.
 *
 * The fast paths (ta_malloc, ta_free) take one unlikely exit each, to a noinline slow path
 * below them. The libc names are aliases of the ta_* definitions, exported from this file so
 * calls inside tieralloc never go through the PLT. Semantics follow glibc 2.36: 16-byte
 * alignment, malloc(0) returns a unique pointer, realloc(p, 0) frees p and returns NULL,
 * memalign/aligned_alloc round an alignment up to a power of two, posix_memalign rejects one
 * that is not a power-of-two multiple of sizeof(void *). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "api.h"
#include "conf.h"

#define ALIGNMENT_MIN 16

static void *malloc_slow(size_t size);
static void free_slow(void *p);

/* ---- fast paths ---- */

/* Every entry point that may touch the thread's cache runs between ta_tcache_enter and
 * ta_tcache_leave, the slow paths and the other entries between their _slow forms (tcache.h:
 * how an idle thread's cache is reclaimed); the slow paths leave for the fast paths, so these
 * stay tail calls. */
void *ta_malloc(size_t size) {
  ta_tcache_enter();
  if (ta_likely(size <= TA_SMALL_MAX)) {
    ta_tcache_t *tc = ta_tcache_current();
    unsigned cls = ta_size_class_of(size);
    ta_cache_bin_t *bin = &tc->bins[cls];
    if (ta_likely(bin->count != 0)) {
      void *p = bin->slots[--bin->count];
      tc->last_class = cls; /* free's guess (below) */
      tc->last_obj = p;
      ta_tcache_unmark(p); /* handed out: no longer free (see the free marks in tcache.h) */
      ta_tcache_leave();
      return p;
    }
  }
  return malloc_slow(size);
}

/* Before a block enters the cache, two checks keep a bad pointer from ever being handed out:
 * it must be an object's start (an interior pointer is refused), and it must not hold its free
 * mark (a block still free: a double free, however many frees ago). Either failing goes to the
 * slow path, which tells a real misuse from a chance match and aborts before any state changes. */
void ta_free(void *p) {
  ta_tcache_enter();
  uintptr_t entry = ta_pagemap_entry(p);
  ta_extent_t *ext = ta_pagemap_entry_extent(entry);
  if (ta_likely(ext != NULL)) {
    ta_tcache_t *tc = ta_tcache_current();
    /* The class from the entry, not the record's header: the bin's loads need not wait for the
     * record. Only used once the header says a slab (a large extent's entry has class 0).
     * Freeing what this thread's last malloc handed out (a temporary), the bin is that malloc's,
     * known before p is: the branch, predicted, lets the bin's loads start without waiting for
     * the two pagemap loads behind p, which chain each pair to the one before (a pair 10.7 ns
     * instead of 7.4). It checks the entry's class too, so a guess gone stale goes by the entry.
     * The copies hide from the compiler that the two are equal there: it would use either, or
     * merge the paths into a select, and the bin would wait for the entry again. */
    unsigned cls = ta_pagemap_entry_class(entry), guess = tc->last_class, copy;
    __asm__("" : "=r"(copy) : "0"(guess));
    if (ta_likely(p == tc->last_obj && cls == guess)) {
      __asm__ volatile("" : "+r"(copy));
      cls = copy;
    }
    ta_cache_bin_t *bin = &tc->bins[cls];
    uint32_t header = ta_extent_header(ext);
    if (ta_likely((header & TA_EXTENT_KEY_MASK) == tc->slab_key)) { /* a slab of this node */
      uint32_t count = bin->count;
      void **slots = bin->slots; /* read before the mark's store, which may alias anything */
      uintptr_t mark = ta_tcache_mark_of(p, tc->free_mark);
      if (ta_likely(count != bin->max && !ta_tcache_holds_mark(p, mark) &&
                    ta_cache_bin_is_object_start(bin, ext, p))) {
        ta_tcache_put_mark(p, mark);
        slots[count] = p;
        bin->count = count + 1;
        ta_tcache_leave();
        return;
      }
    }
  }
  free_slow(p);
}

/* ---- slow paths ---- */

static __thread ta_arena_t *uncached_arena __attribute__((tls_model("initial-exec")));

static ta_arena_t *thread_arena(void) {
  ta_tcache_t *tc = ta_tcache_get();
  if (tc) return ta_tcache_arena(tc);
  /* No cache: follow the CPU on every call (the slow path is all this thread has). */
  unsigned node = ta_tcache_target_node();
  if (!uncached_arena || uncached_arena->node != node) uncached_arena = ta_arena_choose(node);
  return uncached_arena;
}

#define JUNK_ALLOC 0xa5
#define JUNK_FREE 0x5a

static void *class_slow(unsigned cls) {
  ta_tcache_t *tc = ta_tcache_get();
  void *p = tc ? ta_tcache_refill(tc, cls) : ta_arena_alloc_small(thread_arena(), cls);
  ta_background_after_refill();
  if (!p) errno = ENOMEM;
  else if (ta_unlikely(ta_conf.debug)) memset(p, JUNK_ALLOC, ta_size_class_size(cls));
  else ta_tcache_unmark(p); /* the refill's pop did already; a bin's object has its mark */
  return p;
}

/* Plain large blocks follow the tier policy (threshold, ratio, interleave) where a far tier
 * exists. */
static ta_arena_t *large_arena(size_t size) {
  /* hotness places every block locally and moves it later (src/bg/migrate.c). */
  if (ta_likely(ta_large_policy.kind == TA_TIER_LOCAL || ta_large_policy.kind == TA_TIER_HOTNESS) ||
      ta_thread_tier > 0)
    return thread_arena();
  if (ta_large_policy.kind == TA_TIER_INTERLEAVE) {
    ta_arena_t *spread = ta_arena_interleave(thread_arena()->node);
    return spread ? spread : thread_arena();
  }
  int far = ta_arena_far_node(ta_os_current_cpu());
  if (far < 0) return thread_arena();
  uint64_t far_bytes, local_bytes;
  ta_arena_large_split(&far_bytes, &local_bytes);
  if (!ta_tier_policy_far(&ta_large_policy, size, far_bytes, local_bytes)) return thread_arena();
  return ta_arena_choose((unsigned)far);
}

static void *large_alloc(size_t size, size_t align, bool zero) {
  /* The hotness policy works from the background thread: start it with the first block. */
  if (ta_unlikely(ta_large_tracking) && !ta_background_is_running()) ta_background_start();
  void *p = ta_arena_alloc_large(large_arena(size), size, align, zero);
  ta_background_after_refill();
  if (!p) errno = ENOMEM;
  else if (ta_unlikely(ta_conf.debug) && !zero) memset(p, JUNK_ALLOC, size);
  return p;
}

static void *malloc_miss(size_t size) {
  if (ta_unlikely(!ta_init_ensure())) {
    void *p = ta_init_running_here() ? ta_boot_alloc(size, ALIGNMENT_MIN) : NULL;
    if (!p) errno = ENOMEM;
    return p;
  }
  if (size <= TA_SMALL_MAX) {
    unsigned cls = ta_size_class_of(size);
    void *p = ta_tcache_pop(ta_tcache_current(), cls); /* the first call ran before the tables */
    return p ? p : class_slow(cls);
  }
  return large_alloc(size, ALIGNMENT_MIN, false);
}

static TA_NOINLINE void *malloc_slow(size_t size) {
  ta_tcache_enter_slow();
  void *p = malloc_miss(size);
  ta_tcache_leave_slow();
  return p;
}

static TA_COLD void invalid_free(void *p, const char *what) {
  ta_log_fatal("%s(): invalid pointer %p (not allocated by tieralloc, already freed, or not the "
               "start of a block)", what, p);
}

static TA_COLD void small_misuse(const char *fn, void *p, ta_extent_t *ext, const char *what) {
  ta_log_fatal("%s of %p (size class %u, %zu bytes): %s", fn, p, ext->size_class,
               ta_size_class_size(ext->size_class), what);
}

/* A large block kept in its arena's large cache (large_cache.h) is a freed one. */
static TA_COLD void large_misuse(const char *fn, void *p, ta_extent_t *ext, const char *what) {
  ta_log_fatal("%s of %p (large block, %zu bytes): %s", fn, p, ext->usable, what);
}

/* Whether p, an object start in slab `ext`, is free now. Default mode: only a block holding its
 * free mark can be, and it is when a thread cache holds it (this thread's, then the others'),
 * its slab's free map says so, or its arena's transfer cache holds it. A marked block found
 * nowhere is in a remote queue, in transit between two of those places, or holds the mark's
 * bytes by chance: it is let through (a real double free then aborts when the second copy
 * reaches the free map). Debug mode has no caches: the free map alone answers. */
static bool small_is_free(ta_extent_t *ext, void *p) {
  ta_bin_t *bin = &ta_arenas[ext->arena]->bins[ext->size_class];
  /* A vacant page (slab.h) holds no live object, and its blocks may have lost their marks. */
  if (ta_unlikely(ta_conf.debug) || ta_pagemap_entry_class(ta_pagemap_entry(p)) == TA_SLAB_VACANT_TAG)
    return !ta_bin_is_live(bin, ext, p);
  if (!ta_tcache_is_marked(p, ta_tcache_free_mark)) return false;
  ta_tcache_t *tc = ta_tcache_current();
  if (tc != &ta_tcache_empty && ta_tcache_holds(tc, ext->size_class, p)) return true;
  return !ta_bin_is_live(bin, ext, p) ||
         ta_transfer_cache_holds(&ta_arenas[ext->arena]->transfer, ext->size_class, p) ||
         ta_tcache_others_hold(tc, ext->size_class, p);
}

/* Checks a small block passed to `fn` and aborts, before anything changes, when it is not a
 * live object's start. */
static void small_check(const char *fn, ta_extent_t *ext, void *p) {
  if (ta_unlikely(!ta_slab_is_object_start(ext, p)))
    small_misuse(fn, p, ext, "pointer inside an object, not its start");
  if (ta_unlikely(small_is_free(ext, p)))
    small_misuse(fn, p, ext, fn[0] == 'f' ? "double free" : "already freed");
}

/* Checks a large block passed to `fn` and aborts, before anything changes, when p is not its
 * start or the block is freed (kept in its arena's large cache). */
static void large_check(const char *fn, ta_extent_t *ext, void *p) {
  if (ta_unlikely(ext->addr != p)) invalid_free(p, fn);
  if (ta_unlikely(ext->cached)) large_misuse(fn, p, ext, fn[0] == 'f' ? "double free" : "already freed");
}

/* Looks p up again rather than taking the fast path's extent: one more live value there cost
 * the fast path a register spill. */
static void free_miss(void *p) {
  if (p == NULL) return;
  ta_extent_t *ext = ta_pagemap_lookup(p);
  if (ext == NULL) {
    if (ta_boot_owns(p)) return; /* bootstrap blocks are never reused */
    invalid_free(p, "free");
  }
  if (ext->kind == TA_EXTENT_LARGE) {
    large_check("free", ext, p);
    if (ta_unlikely(ta_conf.debug)) memset(p, JUNK_FREE, ext->usable);
    ta_arena_free_large(ext);
    ta_background_after_free();
    return;
  }
  small_check("free", ext, p);
  if (ta_unlikely(ta_conf.debug)) memset(p, JUNK_FREE, ta_size_class_size(ext->size_class));
  ta_tcache_mark(p, ta_tcache_free_mark);
  ta_tcache_t *tc = ta_tcache_attached();
  if (tc == NULL) {
    ta_arena_flush(ext->size_class, &p, 1); /* no cache (disabled, thread exiting): straight home */
  } else if (ext->node != tc->node) {
    if (ta_node_heaps[ext->node]->cpuless) {
      ta_arena_flush(ext->size_class, &p, 1); /* a far tier has no thread to drain a queue */
    } else {
      ta_tcache_free_remote(tc, p, ext->node); /* another node's object: home in a batch */
      return;
    }
  } else {
    ta_tcache_flush_push(tc, ext->size_class, p);
  }
  ta_background_after_free();
}

static TA_NOINLINE void free_slow(void *p) {
  ta_tcache_enter_slow();
  free_miss(p);
  ta_tcache_leave_slow();
}

/* ---- the rest of the family ---- */

static size_t usable_size(const void *p, const char *what) {
  if (p == NULL) return 0;
  ta_extent_t *ext = ta_pagemap_lookup(p);
  if (ext == NULL) {
    if (ta_boot_owns(p)) return ta_boot_usable(p);
    invalid_free((void *)p, what);
  }
  if (ext->kind == TA_EXTENT_LARGE) {
    large_check(what, ext, (void *)p);
    return ext->usable;
  }
  return ta_size_class_size(ext->size_class);
}

void *ta_calloc(size_t n, size_t size) {
  size_t total;
  if (ta_unlikely(__builtin_mul_overflow(n, size, &total))) {
    errno = ENOMEM;
    return NULL;
  }
  if (total > TA_SMALL_MAX && ta_init_ensure()) {
    ta_tcache_enter_slow();
    void *p = large_alloc(total, ALIGNMENT_MIN, true);
    ta_tcache_leave_slow();
    return p;
  }
  void *p = ta_malloc(total);
  if (p) memset(p, 0, total);
  return p;
}

/* An object of at least `size` bytes aligned to `align` (a power of two). Small sizes use the
 * first class whose objects are all aligned: slabs start on a page, so a class size that is a
 * multiple of align (align <= page) gives aligned objects. */
static void *aligned_alloc_miss(size_t align, size_t size) {
  if (align <= ALIGNMENT_MIN) return ta_malloc(size);
  if (!ta_init_ensure()) {
    void *p = ta_init_running_here() ? ta_boot_alloc(size, align) : NULL;
    if (!p) errno = ENOMEM;
    return p;
  }
  if (size <= TA_SMALL_MAX && align <= ta_hpa_geometry.page_size) {
    unsigned cls = ta_size_class_aligned(size, align);
    if (cls < TA_NCLASSES) {
      void *p = ta_tcache_pop(ta_tcache_current(), cls);
      return p ? p : class_slow(cls);
    }
  }
  if (size > PTRDIFF_MAX || align > PTRDIFF_MAX) {
    errno = ENOMEM;
    return NULL;
  }
  return large_alloc(size, align, false);
}

static void *aligned_alloc_impl(size_t align, size_t size) {
  ta_tcache_enter_slow();
  void *p = aligned_alloc_miss(align, size);
  ta_tcache_leave_slow();
  return p;
}

static size_t round_pow2(size_t x) {
  return x <= 1 ? 1 : (size_t)1 << (64 - __builtin_clzll(x - 1));
}

void *ta_memalign(size_t align, size_t size) {
  if (align > SIZE_MAX / 2 + 1) {
    errno = EINVAL;
    return NULL;
  }
  return aligned_alloc_impl(round_pow2(align), size);
}

int ta_posix_memalign(void **out, size_t align, size_t size) {
  if (align < sizeof(void *) || (align & (align - 1)) || align % sizeof(void *)) return EINVAL;
  int saved = errno;
  void *p = aligned_alloc_impl(align, size);
  if (!p) {
    int err = errno;
    errno = saved;
    return err ? err : ENOMEM;
  }
  *out = p;
  return 0;
}

void *ta_valloc(size_t size) {
  ta_os_init();
  return aligned_alloc_impl(ta_os_info.page_size, size);
}

void *ta_pvalloc(size_t size) {
  ta_os_init();
  size_t page = ta_os_info.page_size;
  if (size > SIZE_MAX - page) {
    errno = ENOMEM;
    return NULL;
  }
  size_t rounded = size ? (size + page - 1) & ~(page - 1) : page;
  return aligned_alloc_impl(page, rounded);
}

/* realloc's hysteresis (gperftools' tcmalloc grows by 1/4 and keeps shrinks down to 1/2;
 * mimalloc keeps shrinks down to 1/2): a block that must move to grow moves to at least
 * 1/RESIZE_SHARE more than it had, so a buffer grown by small appends (one realloc per append)
 * crosses the 6-12% apart size classes every few classes instead of at each one, and a request
 * that would save less than 1/RESIZE_SHARE of the block keeps it in place. The two shares must
 * be equal: a later request between the old size and the grown one must not move the block back
 * down. Either costs at most 1/RESIZE_SHARE of the block; a shrink that saves more still moves. */
#define RESIZE_SHARE 4

static void *realloc_impl(void *p, size_t size) {
  if (p == NULL) return ta_malloc(size);
  if (size == 0) {
    ta_free(p);
    return NULL;
  }
  ta_extent_t *ext = ta_pagemap_lookup(p);
  size_t old;
  if (ext == NULL) {
    if (!ta_boot_owns(p)) invalid_free(p, "realloc");
    old = ta_boot_usable(p);
  } else if (ext->kind == TA_EXTENT_SLAB) {
    small_check("realloc", ext, p);
    old = ta_size_class_size(ext->size_class);
    if (size <= old && size >= old - old / RESIZE_SHARE) return p;
    if (size <= TA_SMALL_MAX && ta_size_class_of(size) == ext->size_class) return p;
  } else {
    large_check("realloc", ext, p);
    old = ext->usable;
    /* Large stays large in place: shrink, or grow into the free pages that follow. */
    if (size > TA_SMALL_MAX && size <= SIZE_MAX / 2 && ta_arena_resize_large(ext, size)) {
      if (ext->usable < old) ta_background_after_free();
      return p;
    }
  }
  size_t want = size;
  if (size > old && size <= SIZE_MAX / 2) {
    size_t grown = old + old / RESIZE_SHARE;
    if (grown > size) want = size <= TA_SMALL_MAX && grown > TA_SMALL_MAX ? TA_SMALL_MAX : grown;
  }
  void *q = ta_malloc(want);
  if (!q) return NULL; /* the old block is untouched */
  memcpy(q, p, old < size ? old : size);
  ta_free(p);
  return q;
}

void *ta_realloc(void *p, size_t size) {
  ta_tcache_enter_slow();
  void *q = realloc_impl(p, size);
  ta_tcache_leave_slow();
  return q;
}

void *ta_reallocarray(void *p, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return ta_realloc(p, total);
}

size_t ta_malloc_usable_size(void *p) { return usable_size(p, "malloc_usable_size"); }

/* The size a caller passes to free_sized must be the size it asked for: a block of another
 * class (or page count) means the program's bookkeeping is wrong, so say so before anything
 * is freed. An aligned block may sit in a larger class, which free_aligned_sized accounts for. */
static TA_COLD void wrong_size(void *p, size_t size, size_t usable, const char *what) {
  ta_log_fatal("%s(%p, %zu): the block holds %zu bytes; the size is not the one it was "
               "allocated with", what, p, size, usable);
}

static void check_size(void *p, size_t size, size_t align, const char *what) {
  if (p == NULL) return;
  ta_extent_t *ext = ta_pagemap_lookup(p);
  if (ext == NULL || ta_boot_owns(p)) return; /* free() reports a foreign pointer itself */
  size_t usable = ext->kind == TA_EXTENT_LARGE ? ext->usable : ta_size_class_size(ext->size_class);
  if (size > usable) wrong_size(p, size, usable, what);
  if (ext->kind == TA_EXTENT_SLAB) {
    unsigned cls = ta_size_class_aligned(size, align);
    if (cls != ext->size_class) wrong_size(p, size, usable, what);
  } else if (usable - size >= ta_hpa_geometry.page_size) {
    /* Large blocks are the request rounded up to a page (also small requests whose alignment
     * exceeds a page). */
    wrong_size(p, size, usable, what);
  }
}

void ta_free_sized(void *p, size_t size) {
  check_size(p, size, ALIGNMENT_MIN, "free_sized");
  ta_free(p);
}

void ta_free_aligned_sized(void *p, size_t align, size_t size) {
  check_size(p, size, align, "free_aligned_sized");
  ta_free(p);
}

/* ---- libc names ---- */

/* Sanitizer builds keep the sanitizer's own malloc (it must see every block), and test the
 * allocator through the ta_* names instead. */
#if TIERALLOC_LIBC_NAMES
#define TA_ALIAS(name, target) extern __typeof(target) name __attribute__((alias(#target), visibility("default")))

TA_ALIAS(malloc, ta_malloc);
TA_ALIAS(free, ta_free);
TA_ALIAS(calloc, ta_calloc);
TA_ALIAS(realloc, ta_realloc);
TA_ALIAS(reallocarray, ta_reallocarray);
TA_ALIAS(posix_memalign, ta_posix_memalign);
TA_ALIAS(aligned_alloc, ta_memalign);
TA_ALIAS(memalign, ta_memalign);
TA_ALIAS(valloc, ta_valloc);
TA_ALIAS(pvalloc, ta_pvalloc);
TA_ALIAS(malloc_usable_size, ta_malloc_usable_size);
TA_ALIAS(free_sized, ta_free_sized);
TA_ALIAS(free_aligned_sized, ta_free_aligned_sized);
#endif
