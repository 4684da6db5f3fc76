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

#include "init.h"

#define ALIGNMENT_MIN 16

static void *malloc_slow(size_t size);
static void free_slow(void *p, ta_extent_t *ext);

/* ---- fast paths ---- */

void *ta_malloc(size_t size) {
  if (ta_likely(size <= TA_SMALL_MAX)) {
    void *p = ta_tcache_pop(ta_tcache_self, ta_size_class_of(size));
    if (ta_likely(p != NULL)) return p;
  }
  return malloc_slow(size);
}

void ta_free(void *p) {
  ta_extent_t *ext = ta_pagemap_lookup(p);
  ta_tcache_t *tc = ta_tcache_self;
  if (ta_likely(ext != NULL && ext->kind == TA_EXTENT_SLAB && ext->node == tc->node &&
                ta_tcache_push(tc, ext->size_class, p)))
    return;
  free_slow(p, ext);
}

/* ---- slow paths ---- */

static __thread ta_arena_t *uncached_arena __attribute__((tls_model("initial-exec")));

static ta_arena_t *thread_arena(void) {
  ta_tcache_t *tc = ta_tcache_self;
  if (tc != &ta_tcache_empty) return tc->arena;
  if (!uncached_arena) uncached_arena = ta_arena_choose();
  return uncached_arena;
}

static void *class_slow(unsigned cls) {
  ta_tcache_t *tc = ta_tcache_get();
  void *p = tc ? ta_tcache_refill(tc, cls) : ta_arena_alloc_small(thread_arena(), cls);
  if (!p) errno = ENOMEM;
  return p;
}

static void *large_alloc(size_t size, size_t align, bool zero) {
  void *p = ta_arena_alloc_large(thread_arena(), size, align, zero);
  if (!p) errno = ENOMEM;
  return p;
}

static TA_NOINLINE void *malloc_slow(size_t size) {
  if (ta_unlikely(!ta_init_ensure())) {
    void *p = ta_boot_alloc(size, ALIGNMENT_MIN);
    if (!p) errno = ENOMEM;
    return p;
  }
  if (size <= TA_SMALL_MAX) {
    unsigned cls = ta_size_class_of(size);
    void *p = ta_tcache_pop(ta_tcache_self, cls); /* the first call ran before the tables */
    return p ? p : class_slow(cls);
  }
  return large_alloc(size, ALIGNMENT_MIN, false);
}

static TA_COLD void invalid_free(void *p, const char *what) {
  ta_log_fatal("%s(): invalid pointer %p (not allocated by tieralloc, already freed, or not the "
               "start of a block)", what, p);
}

static TA_NOINLINE void free_slow(void *p, ta_extent_t *ext) {
  if (p == NULL) return;
  if (ext == NULL) {
    if (ta_boot_owns(p)) return; /* bootstrap blocks are never reused */
    invalid_free(p, "free");
  }
  if (ext->kind == TA_EXTENT_LARGE) {
    if (ta_unlikely(ext->addr != p)) invalid_free(p, "free");
    ta_arena_free_large(ext);
    ta_background_after_free();
    return;
  }
  ta_tcache_t *tc = ta_tcache_self;
  if (tc != &ta_tcache_empty && ext->node == tc->node) {
    ta_tcache_flush_push(tc, ext->size_class, p);
  } else {
    /* No cache (disabled, thread exiting) or an object of another node: straight home. */
    ta_arena_flush(ext->size_class, &p, 1);
  }
  ta_background_after_free();
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
    if (ext->addr != p) invalid_free((void *)p, what);
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
  if (total > TA_SMALL_MAX && ta_init_ensure()) return large_alloc(total, ALIGNMENT_MIN, true);
  void *p = ta_malloc(total);
  if (p) memset(p, 0, total);
  return p;
}

/* An object of at least `size` bytes aligned to `align` (a power of two). Small sizes use the
 * first class whose objects are all aligned: slabs start on a page, so a class size that is a
 * multiple of align (align <= page) gives aligned objects. */
static void *aligned_alloc_impl(size_t align, size_t size) {
  if (align <= ALIGNMENT_MIN) return ta_malloc(size);
  if (!ta_init_ensure()) {
    void *p = ta_boot_alloc(size, align);
    if (!p) errno = ENOMEM;
    return p;
  }
  if (size <= TA_SMALL_MAX && align <= ta_hpa_geometry.page_size) {
    unsigned cls = ta_size_class_of(size < align ? align : size);
    while (cls < TA_NCLASSES && (ta_size_class_size(cls) & (align - 1))) cls++;
    if (cls < TA_NCLASSES) {
      void *p = ta_tcache_pop(ta_tcache_self, cls);
      return p ? p : class_slow(cls);
    }
  }
  if (size > PTRDIFF_MAX || align > PTRDIFF_MAX) {
    errno = ENOMEM;
    return NULL;
  }
  return large_alloc(size, align, false);
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

void *ta_realloc(void *p, size_t size) {
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
    old = ta_size_class_size(ext->size_class);
    if (size <= TA_SMALL_MAX && ta_size_class_of(size) == ext->size_class) return p;
  } else {
    if (ext->addr != p) invalid_free(p, "realloc");
    old = ext->usable;
    /* Large stays large in place: shrink, or grow into the free pages that follow. */
    if (size > TA_SMALL_MAX && size <= SIZE_MAX / 2 && ta_large_resize_in_place(ta_node_hpa, ext, size)) {
      if (ext->usable < old) ta_background_after_free();
      return p;
    }
  }
  void *q = ta_malloc(size);
  if (!q) return NULL; /* the old block is untouched */
  memcpy(q, p, old < size ? old : size);
  ta_free(p);
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

void ta_free_sized(void *p, size_t size) {
  (void)size;
  ta_free(p);
}

void ta_free_aligned_sized(void *p, size_t align, size_t size) {
  (void)align;
  (void)size;
  ta_free(p);
}

/* ---- libc names ---- */

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
