/* faulty_os.h: the real Linux primitives with failures injected on demand, for whole-allocator
 * fault tests. Unlike tests/unit's in-memory fake, every call that is not failed goes to the
 * kernel, so the ops table can be installed at any time (before or after the allocator starts)
 * and the heap stays real memory. Rules and counters are atomics: the background thread may
 * call in while a test arms a rule. */
#ifndef TA_FAULTY_OS_H
#define TA_FAULTY_OS_H

#include <stdatomic.h>
#include <stddef.h>

typedef enum {
  FO_MAP,
  FO_UNMAP,
  FO_PURGE,
  FO_ADVISE,
  FO_BIND,
  FO_MOVE_PAGES,
  FO_NPRIM
} fo_prim_t;

/* Which calls of one primitive fail. A call is eligible when its size is within [min_size,
 * max_size] (max_size 0: no bound) and (map only) its alignment equals align_eq (0: any); of the
 * eligible calls, the first `skip` pass, then `count` fail (-1: all of them) with errno `err`.
 * err 0 disarms. For move_pages the "size" is the page count. */
typedef struct {
  int err;
  long skip;
  long count;
  size_t min_size;
  size_t max_size;
  size_t align_eq;
} fo_rule_t;

extern atomic_long fo_calls[FO_NPRIM];   /* calls that reached the table */
extern atomic_long fo_failed[FO_NPRIM];  /* of those, failed on purpose */

extern const char *const fo_names[FO_NPRIM];

/* Installs the table (idempotent). */
void fo_install(void);
void fo_arm(fo_prim_t prim, fo_rule_t rule);
void fo_disarm(fo_prim_t prim);
void fo_disarm_all(void);

#endif
