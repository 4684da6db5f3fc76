/* remote.c: the batched queue of frees that go home to another node (see remote.h). Pushers
 * CAS a batch onto the head; the consumer takes the whole list with one exchange, so there is
 * no ABA problem (nobody pops single elements). */
#include "remote.h"

#include <errno.h>
#include <string.h>

int ta_remote_push(ta_remote_queue_t *q, void *const *ptrs, unsigned n) {
  ta_remote_batch_t *b = ta_meta_alloc(sizeof(*b));
  if (!b) return ENOMEM;
  memcpy(b->ptrs, ptrs, n * sizeof(void *));
  b->count = n;
  ta_remote_batch_t *head = ta_atomic_load(&q->head, ta_mo_relaxed);
  do {
    b->next = head;
  } while (!ta_atomic_cas(&q->head, &head, b));
  ta_atomic_fetch_add(&q->pushed, n, ta_mo_relaxed);
  return 0;
}

ta_remote_batch_t *ta_remote_take(ta_remote_queue_t *q) {
  if (ta_remote_is_empty(q)) return NULL;
  return ta_atomic_exchange(&q->head, (ta_remote_batch_t *)NULL, ta_mo_acq_rel);
}

void ta_remote_release(ta_remote_queue_t *q, ta_remote_batch_t *list) {
  while (list) {
    ta_remote_batch_t *next = list->next;
    ta_atomic_fetch_add(&q->drained, list->count, ta_mo_relaxed);
    ta_meta_free(list, sizeof(*list));
    list = next;
  }
}
