/* init.c: the start-up state machine and fork handling.
 *
 * Start-up (first allocation call): machine facts -> TIERALLOC_CONF -> page geometry -> size
 * classes -> arenas -> thread-cache exit hook -> ready -> fork handlers. Nothing here calls
 * malloc before "ready"; pthread_atfork, which may, runs after it. The background thread and
 * topology refinement start later, off this path. */
#include "init.h"

#include <pthread.h>
#include <string.h>

#include "conf.h"

enum { INIT_NONE, INIT_RUNNING, INIT_READY };
static ta_atomic(int) init_state = INIT_NONE;
static pthread_mutex_t init_mutex = PTHREAD_MUTEX_INITIALIZER;
static __thread bool in_init __attribute__((tls_model("initial-exec")));

static void prefork(void) {
  if (ta_atomic_load(&init_state, ta_mo_acquire) != INIT_READY) return;
  ta_arena_prefork();
  ta_meta_prefork();
  ta_tcache_prefork();
}

static void postfork_parent(void) {
  if (ta_atomic_load(&init_state, ta_mo_acquire) != INIT_READY) return;
  ta_tcache_postfork_parent();
  ta_meta_postfork_parent();
  ta_arena_postfork_parent();
}

static void postfork_child(void) {
  if (ta_atomic_load(&init_state, ta_mo_acquire) != INIT_READY) return;
  ta_tcache_postfork_child();
  ta_meta_postfork_child();
  ta_arena_postfork_child();
  ta_background_postfork_child();
}

static void start_up(void) {
  ta_os_init();
  ta_conf_init();
  ta_hpa_geometry_init();
  ta_size_class_init();
  unsigned narenas = ta_conf.narenas ? (unsigned)ta_conf.narenas : ta_os_info.ncpus;
  if (ta_arena_boot(narenas, ta_conf.dirty_decay_ms * 1000000ull, (unsigned)ta_conf.hugepage_break_pct) != 0)
    ta_log_fatal("out of memory while starting up");
  int err = ta_tcache_boot(ta_conf.tcache);
  if (err) ta_log("thread caches disabled: no thread-exit key (error %d)", err);
}

bool ta_init_ensure(void) {
  if (ta_likely(ta_atomic_load(&init_state, ta_mo_acquire) == INIT_READY)) return true;
  if (in_init) return false;
  pthread_mutex_lock(&init_mutex);
  if (ta_atomic_load(&init_state, ta_mo_acquire) != INIT_READY) {
    in_init = true;
    ta_atomic_store(&init_state, INIT_RUNNING, ta_mo_relaxed);
    start_up();
    ta_atomic_store(&init_state, INIT_READY, ta_mo_release);
    in_init = false;
    pthread_mutex_unlock(&init_mutex);
    pthread_atfork(prefork, postfork_parent, postfork_child);
    return true;
  }
  pthread_mutex_unlock(&init_mutex);
  return true;
}

/* ---- bootstrap allocator ---- */

#define BOOT_BYTES (64 * 1024)
static char boot_buf[BOOT_BYTES] __attribute__((aligned(4096)));
static size_t boot_used;

void *ta_boot_alloc(size_t size, size_t align) {
  /* Only the initialising thread gets here (others wait on init_mutex): no lock needed. */
  if (align < 16) align = 16;
  size_t start = (boot_used + 16 + align - 1) & ~(align - 1); /* room for a size header */
  if (size > BOOT_BYTES || start + size > BOOT_BYTES) return NULL;
  memcpy(boot_buf + start - sizeof(size_t), &size, sizeof(size_t));
  boot_used = start + size;
  return boot_buf + start;
}

bool ta_boot_owns(const void *p) {
  return (const char *)p >= boot_buf && (const char *)p < boot_buf + BOOT_BYTES;
}

size_t ta_boot_usable(const void *p) {
  size_t size;
  memcpy(&size, (const char *)p - sizeof(size_t), sizeof(size_t));
  return size;
}
