/* background.c: the background thread. On a multi-node machine it first refines the topology
 * with hwloc; then it sleeps until the next purge, hotness round (migrate.c) or stats_live
 * publication is due, at most a second so spare slabs are trimmed too, does it, and repeats;
 * it holds no lock while asleep. Migration runs only here, never on an allocating thread.
 * While asleep it also waits on ta_hpa_prefault_word: a heap that took a hugepage unit that is
 * not resident wakes it to fault the next ones in (conf thp_prefault). It starts on the first
 * free that returns pages, once the heaps have taken PREFAULT_START_UNITS fresh units with
 * prefaulting on, or at start-up only when stats_live asks for it: short-lived processes
 * (every shell command under LD_PRELOAD) never pay for it. */
#define _GNU_SOURCE
#include "background.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <signal.h>
#include <time.h>

#include "conf.h"
#include "stats.h"

enum { BG_OFF, BG_STARTING, BG_RUNNING, BG_FAILED };
static ta_atomic(int) state = BG_OFF;
static ta_atomic(uint64_t) next_inline_ns;
/* A thread started early to prefault may be asleep for up to a second when the first freed
 * pages appear: the first free wakes it (purge_now), so a short dirty_decay_ms is honoured. */
static ta_atomic(int) seen_free, purge_now;

#define MAX_SLEEP_NS 1000000000ull
#define INLINE_INTERVAL_NS 10000000ull
/* 8 MiB of 2 MiB hugepages: more than a shell command's heap. */
#define PREFAULT_START_UNITS 4

/* hwloc refinement, off the start-up path: the module next to this library (or on the loader
 * path), loaded once, only where the sysfs snapshot shows several nodes. A missing module or a
 * failed read leaves the sysfs snapshot in force; ctl "topology.source" tells which is used. */
static void refine_topology(void) {
  const ta_topo_t *old = ta_topology_get();
  if (!old || old->nnodes <= 1) return;
  char path[PATH_MAX] = "libtieralloc-hwloc.so";
  Dl_info info;
  if (dladdr((void *)refine_topology, &info) && info.dli_fname) {
    const char *slash = strrchr(info.dli_fname, '/');
    size_t dir = slash ? (size_t)(slash - info.dli_fname) + 1 : 0;
    if (dir + sizeof("libtieralloc-hwloc.so") < sizeof(path)) {
      memcpy(path, info.dli_fname, dir);
      memcpy(path + dir, "libtieralloc-hwloc.so", sizeof("libtieralloc-hwloc.so"));
    }
  }
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) h = dlopen("libtieralloc-hwloc.so", RTLD_NOW | RTLD_LOCAL);
  if (!h) return;
  int (*read_fn)(ta_topo_t *) = (int (*)(ta_topo_t *))dlsym(h, "tieralloc_hwloc_read");
  /* The process's malloc (this library's when preloaded); kept for ever once published. */
  ta_topo_t *t = read_fn ? malloc(sizeof(*t)) : NULL;
  if (t && read_fn(t) == 0) {
    ta_topology_merge(t, old);
    ta_topology_publish(t);
  } else {
    free(t);
  }
}

static void *loop(void *arg) {
  (void)arg;
  refine_topology();
  uint64_t live_ns = ta_conf.stats_live * 1000000ull, next_live = 0;
  bool live_failed = false;
  uint32_t prefault_seen = ta_atomic_load(&ta_hpa_prefault_word, ta_mo_acquire);
  for (;;) {
    uint64_t now = ta_os_now_ns();
    if (ta_conf.thp_prefault) ta_arena_prefault_step(ta_conf.thp_prefault, now);
    /* Idle threads' caches first, so the slabs they empty start their decay now. */
    ta_tcache_reclaim_idle(now, ta_conf.tcache_idle_ms * 1000000ull);
    ta_purge_step(now, 0, false);
    /* A round moves at most what migrate_mb_s allows in one interval (MB/s * ms = 1000 B). */
    ta_migrate_step(now, ta_conf.migrate_mb_s * ta_conf.migrate_interval_ms * 1000);
    now = ta_os_now_ns();
    if (live_ns && now >= next_live) {
      int err = ta_stats_publish();
      if (err && !live_failed) ta_log("stats_live: cannot write the snapshot in /dev/shm (error %d)", err);
      live_failed = err != 0;
      next_live = now + live_ns;
    }
    uint64_t due = ta_arena_next_due();
    if (live_ns && next_live < due) due = next_live;
    if (ta_migrate_next_due() < due) due = ta_migrate_next_due();
    uint64_t wake = now + MAX_SLEEP_NS;
    if (due < wake) wake = due > now ? due : now + 1000000ull;
    /* Asleep until `wake`; a prefault wake-up does only that, then sleeps on. */
    for (;;) {
      ta_os_event_wait((const uint32_t *)&ta_hpa_prefault_word, prefault_seen, wake - now);
      now = ta_os_now_ns();
      if (ta_atomic_exchange(&purge_now, 0, ta_mo_acq_rel)) break;
      uint32_t word = ta_atomic_load(&ta_hpa_prefault_word, ta_mo_acquire);
      if (word != prefault_seen) {
        prefault_seen = word;
        if (ta_conf.thp_prefault) ta_arena_prefault_step(ta_conf.thp_prefault, now);
        now = ta_os_now_ns();
      }
      if (now >= wake) break;
    }
  }
  return NULL;
}

void ta_background_start(void) {
  int expected = BG_OFF;
  if (!ta_atomic_cas(&state, &expected, BG_STARTING)) return;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  /* The thread must never run the program's signal handlers. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t tid;
  int err = pthread_create(&tid, &attr, loop, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (err) {
    ta_log("cannot start the background purge thread (error %d); purging on allocation paths", err);
    ta_atomic_store(&state, BG_FAILED, ta_mo_release);
    return;
  }
  pthread_setname_np(tid, "tieralloc-bg");
  ta_atomic_store(&state, BG_RUNNING, ta_mo_release);
}

static TA_NOINLINE void first_free(void) {
  ta_atomic_store(&seen_free, 1, ta_mo_relaxed);
  ta_atomic_store(&purge_now, 1, ta_mo_release);
  ta_atomic_fetch_add(&ta_hpa_prefault_word, 1, ta_mo_release);
  ta_os_event_wake((const uint32_t *)&ta_hpa_prefault_word);
}

void ta_background_after_free(void) {
  int s = ta_atomic_load(&state, ta_mo_relaxed);
  if (ta_likely(s == BG_RUNNING || s == BG_STARTING)) {
    if (ta_unlikely(!ta_atomic_load(&seen_free, ta_mo_relaxed))) first_free();
    return;
  }
  if (s == BG_OFF && ta_conf.background_thread) {
    ta_atomic_store(&seen_free, 1, ta_mo_relaxed);
    ta_background_start();
    return;
  }
  uint64_t now = ta_os_now_ns();
  if (now < ta_atomic_load(&next_inline_ns, ta_mo_relaxed)) return;
  ta_atomic_store(&next_inline_ns, now + INLINE_INTERVAL_NS, ta_mo_relaxed);
  ta_purge_step(now, 0, false);
}

void ta_background_after_refill(void) {
  if (ta_likely(ta_atomic_load(&state, ta_mo_relaxed) != BG_OFF)) return;
  if (ta_conf.background_thread && ta_conf.thp_prefault && ta_hpa_geometry.hugepages &&
      ta_atomic_load(&ta_hpa_fresh_units_total, ta_mo_relaxed) >= PREFAULT_START_UNITS)
    ta_background_start();
}

bool ta_background_is_running(void) { return ta_atomic_load(&state, ta_mo_relaxed) == BG_RUNNING; }

void ta_background_postfork_child(void) {
  ta_migrate_postfork_child();
  ta_stats_postfork_child();
  ta_atomic_store(&state, BG_OFF, ta_mo_relaxed);
  ta_atomic_store(&next_inline_ns, 0, ta_mo_relaxed);
  ta_atomic_store(&seen_free, 0, ta_mo_relaxed);
  ta_atomic_store(&purge_now, 0, ta_mo_relaxed);
}
