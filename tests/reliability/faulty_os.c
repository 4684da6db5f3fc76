/* faulty_os.c: see faulty_os.h. */
#include "faulty_os.h"

#include "platform.h"

atomic_long fo_calls[FO_NPRIM];
atomic_long fo_failed[FO_NPRIM];
const char *const fo_names[FO_NPRIM] = {"map", "unmap", "purge", "advise_huge", "bind", "move_pages"};

typedef struct {
  atomic_int err;
  atomic_long skip, count;
  atomic_bool every; /* count was -1 */
  atomic_size_t min_size, max_size, align_eq;
} armed_rule_t;

static armed_rule_t rules[FO_NPRIM];

void fo_arm(fo_prim_t prim, fo_rule_t r) {
  armed_rule_t *a = &rules[prim];
  atomic_store(&a->err, 0); /* quiet while the fields change */
  atomic_store(&a->skip, r.skip);
  atomic_store(&a->every, r.count < 0);
  atomic_store(&a->count, r.count);
  atomic_store(&a->min_size, r.min_size);
  atomic_store(&a->max_size, r.max_size);
  atomic_store(&a->align_eq, r.align_eq);
  atomic_store(&a->err, r.err);
}

void fo_disarm(fo_prim_t prim) { atomic_store(&rules[prim].err, 0); }

void fo_disarm_all(void) {
  for (int i = 0; i < FO_NPRIM; i++) fo_disarm((fo_prim_t)i);
}

/* Decrements *n if it is positive; says whether it did. */
static bool take_one(atomic_long *n) {
  long v = atomic_load(n);
  while (v > 0)
    if (atomic_compare_exchange_weak(n, &v, v - 1)) return true;
  return false;
}

/* 0: let the call through; else the errno to fail it with. */
static int decide(fo_prim_t prim, size_t size, size_t align) {
  atomic_fetch_add(&fo_calls[prim], 1);
  armed_rule_t *a = &rules[prim];
  int err = atomic_load(&a->err);
  if (!err) return 0;
  if (size < atomic_load(&a->min_size)) return 0;
  size_t max = atomic_load(&a->max_size);
  if (max && size > max) return 0;
  size_t align_eq = atomic_load(&a->align_eq);
  if (align_eq && align != align_eq) return 0;
  if (take_one(&a->skip)) return 0;
  if (!atomic_load(&a->every) && !take_one(&a->count)) return 0;
  atomic_fetch_add(&fo_failed[prim], 1);
  return err;
}

static int fo_map(void **out, size_t size, size_t align) {
  int err = decide(FO_MAP, size, align);
  return err ? err : ta_os_linux_ops.map(out, size, align);
}

static int fo_unmap(void *addr, size_t size) {
  int err = decide(FO_UNMAP, size, 0);
  return err ? err : ta_os_linux_ops.unmap(addr, size);
}

static int fo_purge(void *addr, size_t size) {
  int err = decide(FO_PURGE, size, 0);
  return err ? err : ta_os_linux_ops.purge(addr, size);
}

static int fo_advise(void *addr, size_t size, bool on) {
  int err = decide(FO_ADVISE, size, 0);
  return err ? err : ta_os_linux_ops.advise_huge(addr, size, on);
}

static int fo_bind(void *addr, size_t size, int mode, const unsigned long *mask, unsigned long maxnode,
                   unsigned flags) {
  int err = decide(FO_BIND, size, 0);
  return err ? err : ta_os_linux_ops.bind(addr, size, mode, mask, maxnode, flags);
}

static int fo_move_pages(unsigned long count, void **pages, const int *nodes, int *status, int flags) {
  int err = decide(FO_MOVE_PAGES, count, 0);
  return err ? err : ta_os_linux_ops.move_pages(count, pages, nodes, status, flags);
}

static uint64_t fo_now(void) { return ta_os_linux_ops.now_ns(); }
static int fo_task_policy(int *mode) { return ta_os_linux_ops.task_policy(mode); }

static const ta_os_ops_t faulty_ops = {
    .map = fo_map,
    .unmap = fo_unmap,
    .purge = fo_purge,
    .advise_huge = fo_advise,
    .bind = fo_bind,
    .move_pages = fo_move_pages,
    .now_ns = fo_now,
    .task_policy = fo_task_policy,
};

void fo_install(void) { ta_os_set_ops(&faulty_ops); }
