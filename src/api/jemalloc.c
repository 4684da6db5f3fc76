/* jemalloc.c: jemalloc's non-standard API, so a server built against jemalloc and run with
 * tieralloc preloaded (Debian's redis-server calls mallctl, nallocx and malloc_stats_print)
 * is served entirely by one allocator, and its memory reports tell the truth.
 *
 * Flags: MALLOCX_LG_ALIGN / MALLOCX_ALIGN (low 6 bits) and MALLOCX_ZERO are honoured;
 * MALLOCX_TCACHE and MALLOCX_ARENA are accepted and ignored (tieralloc picks the arena by
 * node). mallctl names are tieralloc's tree (ctl.c), which includes the ones such servers use:
 * epoch, stats.allocated/active/resident/mapped/retained/metadata, arenas.narenas,
 * arena.<i>.purge, thread.tcache.flush, background_thread, opt.*; others give ENOENT. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "api.h"
#include "ctl.h"

#define MALLOCX_LG_ALIGN_MASK 0x3f
#define MALLOCX_ZERO_FLAG 0x40

static size_t flag_align(int flags) {
  unsigned lg = (unsigned)flags & MALLOCX_LG_ALIGN_MASK;
  return lg ? (size_t)1 << lg : 0;
}

static void *alloc_flags(size_t size, int flags) {
  size_t align = flag_align(flags);
  void *p;
  if (align > 16) {
    if (ta_posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size) != 0) return NULL;
  } else {
    p = (flags & MALLOCX_ZERO_FLAG) ? ta_calloc(1, size) : ta_malloc(size);
    return p;
  }
  if (flags & MALLOCX_ZERO_FLAG) memset(p, 0, size);
  return p;
}

TA_EXPORT void *mallocx(size_t size, int flags) { return alloc_flags(size, flags); }

TA_EXPORT void *rallocx(void *p, size_t size, int flags) {
  size_t align = flag_align(flags);
  size_t old = ta_malloc_usable_size(p);
  if (align <= 16 || ((uintptr_t)p & (align - 1)) == 0) {
    if (align <= 16 || size <= old) {
      void *q = ta_realloc(p, size ? size : 1);
      if (q && (flags & MALLOCX_ZERO_FLAG) && size > old) memset((char *)q + old, 0, ta_malloc_usable_size(q) - old);
      if (!q || align <= 16 || ((uintptr_t)q & (align - 1)) == 0) return q;
      p = q; /* moved off alignment: copy once more below */
      old = ta_malloc_usable_size(p);
    }
  }
  void *q = alloc_flags(size, flags);
  if (!q) return NULL;
  memcpy(q, p, old < size ? old : size);
  ta_free(p);
  return q;
}

TA_EXPORT size_t xallocx(void *p, size_t size, size_t extra, int flags) {
  (void)flags;
  size_t old = ta_malloc_usable_size(p);
  size_t want = size + extra < size ? SIZE_MAX : size + extra;
  if (want <= old) return old;
  /* Only large blocks can grow in place (into the free pages after them). */
  ta_extent_t *ext = ta_pagemap_lookup(p);
  if (ext && ext->kind == TA_EXTENT_LARGE && ext->addr == p && ta_arena_resize_large(ext, want))
    return ext->usable;
  if (ext && ext->kind == TA_EXTENT_LARGE && ext->addr == p && extra && ta_arena_resize_large(ext, size))
    return ext->usable;
  return old;
}

TA_EXPORT size_t sallocx(const void *p, int flags) {
  (void)flags;
  return ta_malloc_usable_size((void *)p);
}

TA_EXPORT void dallocx(void *p, int flags) {
  (void)flags;
  ta_free(p);
}

TA_EXPORT void sdallocx(void *p, size_t size, int flags) {
  size_t align = flag_align(flags);
  if (align > 16) ta_free_aligned_sized(p, align, size);
  else ta_free_sized(p, size);
}

TA_EXPORT size_t nallocx(size_t size, int flags) {
  /* The usable size mallocx would give, without allocating. */
  size_t align = flag_align(flags);
  if (size > PTRDIFF_MAX) return 0;
  if (!ta_init_ensure()) return size;
  if (align <= 16 && size <= TA_SMALL_MAX) return ta_size_class_size(ta_size_class_of(size));
  if (align <= ta_hpa_geometry.page_size && size <= TA_SMALL_MAX) {
    unsigned cls = ta_size_class_aligned(size, align);
    if (cls < TA_NCLASSES) return ta_size_class_size(cls);
  }
  size_t page = ta_hpa_geometry.page_size;
  return (size + page - 1) & ~(page - 1);
}

TA_EXPORT int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen) {
  return ta_ctl(name, oldp, oldlenp, newp, newlen);
}

/* MIBs: each name component becomes one number, a numeric component its value with the top
 * bit set, a word its index in a small table of words seen. Programs may change numeric
 * components (the arena index) between calls, as jemalloc allows. */
#define MIB_NUMBER ((size_t)1 << (sizeof(size_t) * 8 - 1))
#define MAX_WORDS 256
static char words[MAX_WORDS][40];
static unsigned nwords;
static ta_mutex_t words_lock = TA_MUTEX_INITIALIZER(TA_LOCK_RANK_INIT);

static int word_index(const char *w, size_t len) {
  if (len >= sizeof(words[0])) return -1;
  ta_mutex_lock(&words_lock);
  for (unsigned i = 0; i < nwords; i++)
    if (strlen(words[i]) == len && memcmp(words[i], w, len) == 0) {
      ta_mutex_unlock(&words_lock);
      return (int)i;
    }
  int i = -1;
  if (nwords < MAX_WORDS) {
    memcpy(words[nwords], w, len);
    words[nwords][len] = '\0';
    i = (int)nwords++;
  }
  ta_mutex_unlock(&words_lock);
  return i;
}

TA_EXPORT int mallctlnametomib(const char *name, size_t *mibp, size_t *miblenp) {
  if (!name || !mibp || !miblenp) return EINVAL;
  if (!ta_ctl_exists(name)) return ENOENT;
  size_t n = 0;
  for (const char *p = name; *p;) {
    const char *dot = strchr(p, '.');
    size_t len = dot ? (size_t)(dot - p) : strlen(p);
    if (n == *miblenp) return EINVAL;
    bool digits = len > 0;
    size_t v = 0;
    for (size_t i = 0; i < len; i++) {
      if (p[i] < '0' || p[i] > '9') digits = false;
      else v = v * 10 + (size_t)(p[i] - '0');
    }
    if (digits) {
      mibp[n++] = v | MIB_NUMBER;
    } else {
      int w = word_index(p, len);
      if (w < 0) return ENOMEM;
      mibp[n++] = (size_t)w;
    }
    p += len + (dot ? 1 : 0);
  }
  *miblenp = n;
  return 0;
}

TA_EXPORT int mallctlbymib(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
                           size_t newlen) {
  char name[256];
  size_t len = 0;
  for (size_t i = 0; i < miblen; i++) {
    char part[48];
    if (mib[i] & MIB_NUMBER) {
      size_t v = mib[i] & ~MIB_NUMBER, k = 0;
      char rev[24];
      do rev[k++] = (char)('0' + v % 10); while ((v /= 10) && k < sizeof(rev));
      for (size_t j = 0; j < k; j++) part[j] = rev[k - 1 - j];
      part[k] = '\0';
    } else {
      if (mib[i] >= nwords) return ENOENT;
      memcpy(part, words[mib[i]], sizeof(words[0]));
      part[sizeof(words[0])] = '\0';
    }
    size_t pl = strlen(part);
    if (len + pl + 2 > sizeof(name)) return ENOENT;
    if (i) name[len++] = '.';
    memcpy(name + len, part, pl);
    len += pl;
  }
  name[len] = '\0';
  return ta_ctl(name, oldp, oldlenp, newp, newlen);
}

TA_EXPORT void malloc_stats_print(void (*write_cb)(void *, const char *), void *cbopaque, const char *opts) {
  ta_ctl_stats_print(write_cb, cbopaque, opts && strchr(opts, 'J'));
}
