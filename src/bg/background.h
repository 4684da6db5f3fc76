/* background.h: layer L7 upkeep. The background thread is a short loop around ta_purge_step;
 * tests call the step directly with their own clock. */
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

/* Called by free paths after memory went back to the page layer: starts the background thread
 * on first need, or (background_thread:false, or a thread could not be started) runs a purge
 * step inline at most every few milliseconds. */
void ta_background_after_free(void);

/* Starts the background thread now if it does not run (idempotent; failures are reported once
 * and leave purging to the allocation paths). */
void ta_background_start(void);

/* Whether the background thread runs now. */
bool ta_background_is_running(void);

/* In a forked child the thread does not exist: it is started again on first need. */
void ta_background_postfork_child(void);

TA_EXTERN_C_END

#endif
