/* decay.h: when freed pages go back to the kernel. Pure functions of time and counts, so the
 * policy is tested with a fake clock and the hugepage allocator only applies it. */
#ifndef TA_DECAY_H
#define TA_DECAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform.h"

TA_EXTERN_C_BEGIN

/* Pages freed at `since` are due for purging at `now` once they have stayed unused for the decay
 * period. A decay of 0 makes everything due at once. */
TA_INLINE bool ta_decay_is_due(uint64_t now_ns, uint64_t since_ns, uint64_t decay_ns) {
  return now_ns >= since_ns && now_ns - since_ns >= decay_ns;
}

/* Whether to purge the free pages of a hugepage that still holds `used` of its `pages` pages.
 * Purging splits a hugepage that is intact: the remaining live data then costs TLB misses and
 * the range cannot be collapsed again until it empties, so it is worth it only when most of the
 * hugepage is free (used <= break_pct% of it). A hugepage already broken costs nothing more. */
TA_INLINE bool ta_decay_should_break(size_t used, size_t pages, unsigned break_pct, bool broken) {
  if (broken) return true;
  if (break_pct == 0) return used == 0;
  return used * 100 <= (size_t)break_pct * pages;
}

TA_EXTERN_C_END

#endif
