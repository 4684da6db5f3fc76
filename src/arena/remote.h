/* remote.h: frees of objects owned by another node travel home in batches. The freeing thread
 * collects pointers in its cache's remote buffer, then pushes the whole batch onto the owner
 * node's queue with one compare-and-swap (a lock-free LIFO of batches, many producers). The
 * owner drains its queue on its own slow paths, and the background thread drains every queue,
 * so objects reach their bins, on their node, even when the owner stays idle. */
#ifndef TA_REMOTE_H
#define TA_REMOTE_H

#include <stdint.h>

#include "bin.h"

TA_EXTERN_C_BEGIN

#define TA_REMOTE_BATCH 64

typedef struct ta_remote_batch {
  struct ta_remote_batch *next;
  uint32_t count;
  void *ptrs[TA_REMOTE_BATCH];
} ta_remote_batch_t;

typedef struct {
  ta_atomic(ta_remote_batch_t *) head;
  ta_atomic(uint64_t) pushed, drained; /* objects, for stats and tests */
} ta_remote_queue_t;

/* Pushes n (<= TA_REMOTE_BATCH) pointers as one batch. Returns 0, or ENOMEM when no batch
 * record could be had: the caller then frees the objects directly into their bins. */
int ta_remote_push(ta_remote_queue_t *q, void *const *ptrs, unsigned n);

/* Takes every queued batch; returns a list to pass to ta_remote_release, or NULL. */
ta_remote_batch_t *ta_remote_take(ta_remote_queue_t *q);
/* Frees a taken list's batch records. */
void ta_remote_release(ta_remote_queue_t *q, ta_remote_batch_t *list);

TA_INLINE bool ta_remote_is_empty(ta_remote_queue_t *q) {
  return ta_atomic_load(&q->head, ta_mo_relaxed) == NULL;
}

TA_EXTERN_C_END

#endif
