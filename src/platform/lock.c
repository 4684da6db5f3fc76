/* lock.c: mutexes with an optional lock-rank check (see lock.h for the order). */
#include "lock.h"

#include "log.h"

static bool check_order;
static __thread unsigned held_ranks __attribute__((tls_model("initial-exec")));

void ta_lock_check_order(bool on) { check_order = on; }

void ta_mutex_init(ta_mutex_t *m, ta_lock_rank_t rank) {
  pthread_mutex_init(&m->mutex, NULL);
  m->rank = rank;
}

void ta_mutex_lock(ta_mutex_t *m) {
  if (ta_unlikely(check_order)) {
    /* held_ranks is a bit set; a lock of rank r may be taken only if no rank >= r is held,
     * except bins, which the flush path takes one at a time (never two at once). */
    unsigned higher = held_ranks & ~((1u << m->rank) - 1u);
    if (higher != 0)
      ta_log_fatal("lock order violated: taking rank %d while holding ranks 0x%x", (int)m->rank,
                   held_ranks);
    held_ranks |= 1u << m->rank;
  }
  pthread_mutex_lock(&m->mutex);
}

void ta_mutex_unlock(ta_mutex_t *m) {
  if (ta_unlikely(check_order)) held_ranks &= ~(1u << m->rank);
  pthread_mutex_unlock(&m->mutex);
}

void ta_mutex_postfork_child(ta_mutex_t *m) {
  pthread_mutex_init(&m->mutex, NULL);
  held_ranks = 0;
}
