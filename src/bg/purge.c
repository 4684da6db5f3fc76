/* purge.c: one step of memory return, the policy around the page layer's purge. */
#include "background.h"

#include "conf.h"

size_t ta_purge_step(uint64_t now, size_t budget, bool force) {
  uint64_t spare_age = ta_conf.dirty_decay_ms * 1000000ull / 4;
  uint64_t older_than = force ? UINT64_MAX : (now > spare_age ? now - spare_age : 0);
  return ta_arena_purge_step(now, older_than, budget, force);
}
