/* tieralloc.c: the tieralloc_* functions of include/tieralloc.h. */
#include "tieralloc.h"

#include <errno.h>

#include "init.h"

#define TA_STR2(x) #x
#define TA_STR(x) TA_STR2(x)

TA_EXPORT const char *tieralloc_version(void) {
  return TA_STR(TIERALLOC_VERSION_MAJOR) "." TA_STR(TIERALLOC_VERSION_MINOR) "." TA_STR(
      TIERALLOC_VERSION_PATCH);
}

TA_EXPORT size_t tieralloc_purge(void) {
  if (!ta_init_ensure()) return 0;
  ta_tcache_flush_self();
  return ta_purge_step(ta_os_now_ns(), 0, true) << ta_hpa_geometry.page_shift;
}

TA_EXPORT int tieralloc_heap_info(tieralloc_heap_info_t *info) {
  if (!info) return EINVAL;
  if (!ta_init_ensure()) return EAGAIN;
  ta_hpa_stats_t s;
  ta_hpa_get_stats(ta_node_hpa, &s);
  unsigned shift = ta_hpa_geometry.page_shift;
  info->version = TIERALLOC_HEAP_INFO_VERSION;
  info->mapped = s.mapped_bytes;
  info->active = s.active_pages << shift;
  info->dirty = s.dirty_pages << shift;
  info->purged = s.purged_pages << shift;
  info->metadata = ta_meta_mapped();
  info->hugepage_units_broken = s.broken_units;
  return 0;
}
