/* background.h: layer L7 upkeep. The background thread is a short loop around ta_purge_step
 * and ta_migrate_step; tests call the steps directly with their own clock. */
#ifndef TA_BACKGROUND_H
#define TA_BACKGROUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcache.h"

TA_EXTERN_C_BEGIN

/* Does the upkeep due at `now`: releases spare slabs idle for a quarter of the decay period,
 * purges pages past their decay (budget 0 = no limit; force = everything now). Returns the
 * pages purged. */
size_t ta_purge_step(uint64_t now_ns, size_t budget_pages, bool force);

/* The hotness policy's round (migrate.c), due every migrate_interval_ms: samples tracked large
 * extents, demotes cold ones and promotes warm ones, moving at most budget_bytes (0 = no
 * limit; pacing to migrate_mb_s is separate). Returns the bytes moved. Does nothing unless
 * ta_migrate_init ran; a second concurrent caller returns 0 at once. */
size_t ta_migrate_step(uint64_t now_ns, size_t budget_bytes);
/* When the next round is due; UINT64_MAX when the hotness policy is off. */
uint64_t ta_migrate_next_due(void);
/* Start-up, under the hotness policy, after the arenas exist: the demotion targets per node,
 * and large extents are tracked from now on. */
void ta_migrate_init(void);
void ta_migrate_postfork_child(void);
/* Cumulative counters for the statistics; the access signal in force (ta_os_access_kind_t). */
extern ta_atomic(uint64_t) ta_migrate_demoted_bytes, ta_migrate_promoted_bytes, ta_migrate_fallbacks,
    ta_migrate_kernel_moved, ta_migrate_sampled_pages, ta_migrate_rounds;
extern ta_atomic(int) ta_migrate_access_kind;
/* How long the soft-dirty signal watches before each round's sample (ta_hotness_window; the
 * whole interval until the budget has blocks to rank). */
extern ta_atomic(uint64_t) ta_migrate_window_ns;

/* Called by free paths after memory went back to the page layer: starts the background thread
 * on first need, or (background_thread:false, or a thread could not be started) runs a purge
 * step inline at most every few milliseconds. */
void ta_background_after_free(void);

/* Called by allocation slow paths (thread-cache refills): starts the background thread once
 * the heaps have taken a few hugepage units that were not resident and thp_prefault is on, so
 * it faults the next ones in off the allocating threads. One relaxed load once it runs. */
void ta_background_after_refill(void);

/* Starts the background thread now if it does not run (idempotent; failures are reported once
 * and leave purging to the allocation paths). */
void ta_background_start(void);

/* Whether the background thread runs now. */
bool ta_background_is_running(void);

/* In a forked child the thread does not exist: it is started again on first need. */
void ta_background_postfork_child(void);

TA_EXTERN_C_END

#endif
