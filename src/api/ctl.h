/* ctl.h: the one name tree behind tieralloc_ctl and jemalloc's mallctl (docs/stats.md). */
#ifndef TA_CTL_H
#define TA_CTL_H

#include <stddef.h>

#include "init.h"

TA_EXTERN_C_BEGIN

/* mallctl semantics: reads copy into *oldp (*oldlenp must be the value's size: EINVAL
 * otherwise), writes take newp/newlen (EPERM for read-only names); ENOENT for unknown names. */
int ta_ctl(const char *name, void *oldp, size_t *oldlenp, const void *newp, size_t newlen);
/* Whether `name` exists (without acting on it). */
bool ta_ctl_exists(const char *name);

/* Writes the statistics through write_cb (stderr when NULL), as JSON or a table. */
void ta_ctl_stats_print(void (*write_cb)(void *, const char *), void *opaque, bool json);

TA_EXTERN_C_END

#endif
