/* lock.h: the allocator's mutex and the one declaration of the lock order.
 *
 * Lock order (a thread may take a lock only while holding locks of lower rank):
 *   init < tcache_list < transfer < bin < slab_cache < large < hpa < meta.
 * The thread-cache list lock is held while an idle thread's cache is flushed into the arenas
 * (tcache.c), so it comes before every arena lock. An arena's transfer cache lock is taken
 * alone and nothing is taken under it.
 * A bin lock is held while its slab is taken from the arena's slab cache or the hugepage
 * allocator; the slab cache returns slabs to the hugepage allocator under its own lock; the
 * hugepage allocator takes metadata while holding its lock; nothing takes a bin while holding
 * hpa or meta. A heap's large-extent tracking list (large) is held while a tracked extent is
 * resized.
 * With TIERALLOC_DEBUG-style checks on (ta_lock_check_order), a thread records the highest rank it
 * holds and a violation aborts with a message naming both ranks. */
#ifndef TA_LOCK_H
#define TA_LOCK_H

#include <pthread.h>
#include <stdbool.h>

#include "compiler.h"

TA_EXTERN_C_BEGIN

typedef enum {
  TA_LOCK_RANK_INIT = 1,
  TA_LOCK_RANK_TCACHE_LIST = 2,
  TA_LOCK_RANK_TRANSFER = 3,
  TA_LOCK_RANK_BIN = 4,
  TA_LOCK_RANK_SLAB_CACHE = 5,
  TA_LOCK_RANK_LARGE_CACHE = 6,
  TA_LOCK_RANK_LARGE = 7,
  TA_LOCK_RANK_HPA = 8,
  TA_LOCK_RANK_META = 9,
} ta_lock_rank_t;

typedef struct {
  pthread_mutex_t mutex;
  ta_lock_rank_t rank;
} ta_mutex_t;

#define TA_MUTEX_INITIALIZER(r) {PTHREAD_MUTEX_INITIALIZER, (r)}

void ta_mutex_init(ta_mutex_t *m, ta_lock_rank_t rank);
void ta_mutex_lock(ta_mutex_t *m);
void ta_mutex_unlock(ta_mutex_t *m);
/* After fork(), in the child: the lock was held by the forking thread (prepare took it), so it is
 * made fresh rather than unlocked by a thread that does not own it. */
void ta_mutex_postfork_child(ta_mutex_t *m);

/* Turns lock-order checking on for the whole process (off by default: it costs a TLS access). */
void ta_lock_check_order(bool on);

TA_EXTERN_C_END

#endif
