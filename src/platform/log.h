/* log.h: messages to stderr that never allocate (safe inside malloc, before init, after fork). */
#ifndef TA_LOG_H
#define TA_LOG_H

#include "compiler.h"

TA_EXTERN_C_BEGIN

/* One line "tieralloc: <message>\n" on fd 2, written with a single write(2). */
void ta_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* ta_log, then abort(). For broken invariants and detected heap corruption. */
void ta_log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn, cold));

TA_EXTERN_C_END

#endif
