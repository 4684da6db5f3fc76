/* glibc_ext.c: glibc's malloc extensions (malloc.h) on tieralloc's heap. Without them a
 * preloaded program calling malloc_trim, mallinfo2 or malloc_stats runs glibc's versions on
 * glibc's arena, which holds nothing: a trim that returns nothing and counters that stay near
 * zero. mallopt and malloc_info are left to glibc: their parameters and XML describe glibc's
 * allocator, and a setting it accepts changes nothing here either way.
 *
 * mallinfo2's fields, in glibc's terms: arena is the heap's pages in use or kept resident
 * (active + dirty); uordblks the bytes handed out (class sizes; objects in thread caches
 * included); fordblks the rest of arena, so arena = uordblks + fordblks as in glibc's main
 * arena; keepcost what malloc_trim would return now (dirty). The others are 0: tieralloc has no
 * free-chunk lists, fastbins or per-block mappings (large blocks come from the same pages). */
#include <limits.h>
#include <malloc.h>
#include <string.h>

#include "api.h"
#include "ctl.h"

/* pad: glibc keeps that much at the top of its heap; tieralloc's heap has no top to keep. */
TA_EXPORT int malloc_trim(size_t pad) {
  (void)pad;
  return ta_purge_all() != 0;
}

static struct mallinfo2 heap_mallinfo(void) {
  struct mallinfo2 m;
  memset(&m, 0, sizeof(m));
  tieralloc_heap_info_t h;
  if (ta_heap_info(&h) != 0) return m;
  m.arena = h.active + h.dirty;
  m.uordblks = h.allocated < m.arena ? h.allocated : m.arena;
  m.fordblks = m.arena - m.uordblks;
  m.keepcost = h.dirty;
  return m;
}

TA_EXPORT struct mallinfo2 mallinfo2(void) { return heap_mallinfo(); }

static int saturate(size_t v) { return v > INT_MAX ? INT_MAX : (int)v; }

/* The deprecated int version: each field saturates at INT_MAX where glibc's would wrap. */
TA_EXPORT struct mallinfo mallinfo(void) {
  struct mallinfo2 m2 = heap_mallinfo();
  struct mallinfo m;
  memset(&m, 0, sizeof(m));
  m.arena = saturate(m2.arena);
  m.uordblks = saturate(m2.uordblks);
  m.fordblks = saturate(m2.fordblks);
  m.keepcost = saturate(m2.keepcost);
  return m;
}

/* glibc prints its arenas to stderr; this prints tieralloc's statistics table there. */
TA_EXPORT void malloc_stats(void) { ta_ctl_stats_print(NULL, NULL, false); }
