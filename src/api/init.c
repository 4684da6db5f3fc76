/* init.c: the start-up state machine and fork handling.
 *
 * Start-up (first allocation call): fork handlers (once) -> machine facts -> TIERALLOC_CONF ->
 * page geometry -> size classes -> arenas -> thread-cache exit hook -> ready. pthread_atfork may
 * call malloc: that call is served by the bootstrap allocator. The background thread and
 * topology refinement start later, off this path. */
#include "init.h"

#include "stats.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

enum { INIT_NONE, INIT_RUNNING, INIT_READY };
static ta_atomic(int) init_state = INIT_NONE;
static pthread_mutex_t init_mutex = PTHREAD_MUTEX_INITIALIZER;
static __thread bool in_init __attribute__((tls_model("initial-exec")));

/* Fork: the start-up lock first (a fork never happens in the middle of another thread's
 * start-up, whose half-built state and held lock the child would inherit), then every lock of
 * the allocator in rank order. */
static void prefork(void) {
  pthread_mutex_lock(&init_mutex);
  if (ta_atomic_load(&init_state, ta_mo_acquire) != INIT_READY) return;
  ta_tcache_prefork();
  ta_arena_prefork();
  ta_meta_prefork();
}

static void postfork_parent(void) {
  if (ta_atomic_load(&init_state, ta_mo_acquire) == INIT_READY) {
    ta_meta_postfork_parent();
    ta_arena_postfork_parent();
    ta_tcache_postfork_parent();
  }
  pthread_mutex_unlock(&init_mutex);
}

/* Set once the fork handlers are registered. */
static bool fork_handlers_in;

static void postfork_child(void) {
  fork_handlers_in = true; /* they ran, so they are in (see register_fork_handlers) */
  if (ta_atomic_load(&init_state, ta_mo_acquire) == INIT_READY) {
    ta_meta_postfork_child();
    ta_arena_postfork_child();
    ta_tcache_postfork_child();
    ta_background_postfork_child();
  }
  pthread_mutex_init(&init_mutex, NULL);
}

static void at_exit(void) {
  if (ta_conf.stats_live) ta_stats_unpublish();
  if (ta_conf.stats_print) {
    static ta_stats_t snap;
    static char text[128 * 1024];
    ta_stats_collect(&snap);
    size_t len = ta_stats_render_table(&snap, text, sizeof(text));
    ssize_t w = write(2, text, len < sizeof(text) ? len : sizeof(text) - 1);
    (void)w;
  }
}

ta_tier_policy_t ta_large_policy;

static void policy_init(void) {
  ta_large_policy.kind = (ta_tier_policy_kind_t)ta_conf.tier_policy; /* enum orders agree */
  ta_large_policy.threshold_bytes = ta_conf.tier_threshold_kb << 10;
  ta_large_policy.ratio_pct = (unsigned)ta_conf.tier_ratio_pct;
  const char *memkind = getenv("MEMKIND_MEM_TIERS");
  if (memkind && !ta_conf_was_set("tier_policy")) {
    const char *why;
    ta_tier_policy_t p = ta_large_policy;
    if (ta_tier_policy_from_memkind(memkind, &p, &why) == 0) {
      ta_large_policy = p;
    } else {
      ta_log("MEMKIND_MEM_TIERS='%s': %s; using tier_policy local", memkind, why);
      ta_large_policy.kind = TA_TIER_LOCAL;
    }
  } else if (!ta_conf_was_set("tier_policy")) {
    /* hotness is the default only where there is a far tier to demote to. */
    for (unsigned k = 0; k < ta_node_heap_count; k++)
      if (ta_node_heaps[ta_arena_heap_node(k)]->cpuless) {
        ta_large_policy.kind = TA_TIER_HOTNESS;
        ta_conf.tier_policy = TA_TIER_POLICY_HOTNESS; /* what opt.tier_policy reports */
      }
  }
  if (ta_large_policy.kind == TA_TIER_HOTNESS) ta_migrate_init();
}

static int start_up(void) {
  ta_os_init();
  ta_conf_init();
  ta_arch_init(ta_conf.profile);
  ta_hpa_geometry_init();
  ta_size_class_init();
  ta_topology_init(); /* /sys only: no allocation; hwloc refines later, off this path */
  static const ta_place_mode_t modes[] = {TA_PLACE_PREFERRED, TA_PLACE_BIND, TA_PLACE_NONE};
  if (ta_arena_boot(ta_topology_get(), (unsigned)ta_conf.narenas, modes[ta_conf.numa_bind],
                    ta_conf.dirty_decay_ms * 1000000ull, (unsigned)ta_conf.hugepage_break_pct) != 0)
    return ENOMEM;
  policy_init();
  int err = ta_tcache_boot(ta_conf.tcache && !ta_conf.debug);
  if (err) ta_log("thread caches disabled: no thread-exit key (error %d)", err);
  return 0;
}

bool ta_init_running_here(void) { return in_init; }

/* The fork handlers are registered once, before any thread takes the start-up lock. Registered
 * under that lock, a fork between another thread's taking it and its registering left the
 * child a held lock and no handler to reset it (Stress.ForkUnderLoad: the child blocked on
 * init_mutex, 1 run in 10 under UBSan). A fork during pthread_once can leave the child to run
 * this again (glibc re-runs a once interrupted by fork); if the handlers were in by then they
 * ran, and postfork_child said so, so they are not registered twice (prefork would then take
 * init_mutex twice). */
static pthread_once_t fork_handlers_once = PTHREAD_ONCE_INIT;
static void register_fork_handlers(void) {
  if (!fork_handlers_in) pthread_atfork(prefork, postfork_parent, postfork_child);
  fork_handlers_in = true;
}

bool ta_init_ensure(void) {
  if (ta_likely(ta_atomic_load(&init_state, ta_mo_acquire) == INIT_READY)) return true;
  if (in_init) return false;
  /* Registering may allocate: this thread is in_init, so that is served by the bootstrap
   * allocator (no other thread uses it then: start-up waits for the registration). */
  in_init = true;
  pthread_once(&fork_handlers_once, register_fork_handlers);
  pthread_mutex_lock(&init_mutex);
  if (ta_atomic_load(&init_state, ta_mo_acquire) != INIT_READY) {
    ta_atomic_store(&init_state, INIT_RUNNING, ta_mo_relaxed);
    if (start_up() != 0) {
      /* No memory for the heap's own structures: every call fails with ENOMEM until memory
       * is there again (start-up is retried; what was built is kept and reused). */
      static bool said;
      if (!said) ta_log("out of memory while starting up: allocations fail with ENOMEM");
      said = true;
      ta_atomic_store(&init_state, INIT_NONE, ta_mo_relaxed);
      in_init = false;
      pthread_mutex_unlock(&init_mutex);
      errno = ENOMEM;
      return false;
    }
    ta_atomic_store(&init_state, INIT_READY, ta_mo_release);
    in_init = false;
    pthread_mutex_unlock(&init_mutex);
    if (ta_conf.stats_print || ta_conf.stats_live) atexit(at_exit);
    if (ta_conf.stats_live) ta_background_start();
    return true;
  }
  in_init = false;
  pthread_mutex_unlock(&init_mutex);
  return true;
}

/* ---- bootstrap allocator ---- */

#define BOOT_BYTES (64 * 1024)
static char boot_buf[BOOT_BYTES] __attribute__((aligned(64)));
static size_t boot_used;

void *ta_boot_alloc(size_t size, size_t align) {
  /* Only one thread at a time gets here: the one registering the fork handlers (before any
   * start-up) or the one starting up (others wait on init_mutex): no lock needed. The
   * alignment is of the address (valloc asks for a page, whatever the kernel's page size). */
  if (align < 16) align = 16;
  uintptr_t base = (uintptr_t)boot_buf;
  uintptr_t start = (base + boot_used + 16 + align - 1) & ~(uintptr_t)(align - 1); /* room for a size header */
  if (size > BOOT_BYTES || start + size > base + BOOT_BYTES) return NULL;
  memcpy((char *)start - sizeof(size_t), &size, sizeof(size_t));
  boot_used = start + size - base;
  return (void *)start;
}

bool ta_boot_owns(const void *p) {
  return (const char *)p >= boot_buf && (const char *)p < boot_buf + BOOT_BYTES;
}

size_t ta_boot_usable(const void *p) {
  size_t size;
  memcpy(&size, (const char *)p - sizeof(size_t), sizeof(size_t));
  return size;
}
