/* tieralloc.c: the tieralloc_* functions of include/tieralloc.h. */
#include "tieralloc.h"

#include <errno.h>

#include "api.h"
#include "ctl.h"
#include "stats.h"

#define TA_STR2(x) #x
#define TA_STR(x) TA_STR2(x)

TA_EXPORT const char *tieralloc_version(void) {
  return TA_STR(TIERALLOC_VERSION_MAJOR) "." TA_STR(TIERALLOC_VERSION_MINOR) "." TA_STR(
      TIERALLOC_VERSION_PATCH);
}

size_t ta_purge_all(void) {
  if (!ta_init_ensure()) return 0;
  ta_tcache_flush_self();
  return ta_purge_step(ta_os_now_ns(), 0, true) << ta_hpa_geometry.page_shift;
}

TA_EXPORT size_t tieralloc_purge(void) { return ta_purge_all(); }

int ta_heap_info(tieralloc_heap_info_t *info) {
  if (!info) return EINVAL;
  if (!ta_init_ensure()) return EAGAIN;
  static ta_mutex_t lock = TA_MUTEX_INITIALIZER(TA_LOCK_RANK_INIT);
  static ta_stats_t s; /* 100+ KiB: not on a caller's stack */
  ta_mutex_lock(&lock);
  ta_stats_collect(&s);
  info->version = TIERALLOC_HEAP_INFO_VERSION;
  info->mapped = s.heap.mapped;
  info->active = s.heap.active;
  info->dirty = s.heap.dirty;
  info->purged = s.heap.purged;
  info->metadata = s.heap.metadata;
  info->hugepage_units_broken = s.heap.broken_units;
  info->allocated = s.heap.allocated;
  info->resident = s.heap.resident;
  ta_mutex_unlock(&lock);
  return 0;
}

TA_EXPORT int tieralloc_heap_info(tieralloc_heap_info_t *info) { return ta_heap_info(info); }

TA_EXPORT int tieralloc_ctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen) {
  return ta_ctl(name, oldp, oldlenp, newp, newlen);
}

TA_EXPORT void tieralloc_stats_print(void (*write_cb)(void *, const char *), void *opaque, unsigned flags) {
  ta_ctl_stats_print(write_cb, opaque, (flags & TIERALLOC_STATS_JSON) != 0);
}
