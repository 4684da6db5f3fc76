/* stats.c: statistics from every layer into one snapshot, rendered as JSON or a table, and
 * published to /dev/shm for tieralloc-stat. Rendering writes into caller buffers with snprintf
 * (no allocation), so it is safe from the background thread and inside malloc_stats_print. */
#define _GNU_SOURCE
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "background.h"
#include "conf.h"

static int node_tier(const ta_topo_t *t, unsigned os_node) {
  const ta_topo_initiator_t *in = ta_topology_cpu_initiator(t, 0);
  int idx = ta_topology_node_index(t, (int)os_node);
  if (!in || idx < 0) return -1;
  for (unsigned i = 0; i < in->nrank; i++)
    if (in->rank[i] == idx) return in->group[i];
  return -1;
}

void ta_stats_collect(ta_stats_t *s) {
  memset(s, 0, sizeof(*s));
  s->time_ns = ta_os_now_ns();
  const ta_topo_t *topo = ta_topology_get();
  size_t page = ta_hpa_geometry.page_size;
  for (unsigned k = 0; k < ta_node_heap_count && k < TA_TOPO_MAX_NODES; k++) {
    unsigned node = ta_arena_heap_node(k);
    ta_node_heap_t *h = ta_node_heaps[node];
    ta_hpa_stats_t hs;
    ta_hpa_get_stats(&h->hpa, &hs);
    ta_stats_node_t *n = &s->node[s->nnodes++];
    n->node = node;
    int idx = topo ? ta_topology_node_index(topo, (int)node) : -1;
    n->kind = idx >= 0 ? ta_topology_kind_name(topo->node[idx].kind) : "unknown";
    n->tier = topo ? node_tier(topo, node) : -1;
    if (idx >= 0) ta_topo_dump_cpulist(&topo->node[idx].cpus, n->cpus, sizeof(n->cpus));
    n->mapped = hs.mapped_bytes;
    n->active = hs.active_pages * page;
    n->dirty = hs.dirty_pages * page;
    n->resident = n->active - hs.hollow_pages * page + n->dirty;
    n->purged = hs.purged_pages * page;
    n->hugepage_units = hs.units_in_use;
    n->broken_units = hs.broken_units;
    n->remote_frees_in = ta_atomic_load(&h->remote.drained, ta_mo_relaxed);
    n->bind_failures = hs.place_failures;
    n->arenas = h->narenas;
    s->heap.mapped += n->mapped;
    s->heap.active += n->active;
    s->heap.dirty += n->dirty;
    s->heap.purged += n->purged;
    s->heap.hollow += hs.hollow_pages * page;
    s->heap.interior_purged += hs.inside_purged_pages * page;
    s->heap.hugepage_units += n->hugepage_units;
    s->heap.broken_units += n->broken_units;
    s->heap.remote_frees += n->remote_frees_in;
    s->heap.bind_failures += n->bind_failures;
    s->heap.map_failures += hs.map_failures;
    s->heap.purge_failures += hs.purge_failures;
    s->heap.advise_failures += hs.advise_failures;
    s->heap.fresh_units += hs.fresh_units;
    s->heap.prefaulted_units += hs.prefaulted_units;
    s->heap.collapsed_units += hs.collapsed_units;
    s->heap.large_nmalloc += ta_atomic_load(&h->large_nmalloc, ta_mo_relaxed);
    s->heap.large_nfree += ta_atomic_load(&h->large_nfree, ta_mo_relaxed);
    s->heap.large_live_bytes += ta_atomic_load(&h->large_live_bytes, ta_mo_relaxed);
  }
  for (unsigned c = 0; c < TA_NCLASSES; c++) {
    ta_stats_class_t *cs = &s->cls[c];
    cs->size = ta_class_info[c].size;
    uint64_t shed_objs = 0;
    for (unsigned i = 0; i < ta_narenas; i++) {
      ta_bin_t *bin = &ta_arenas[i]->bins[c];
      ta_mutex_lock(&bin->lock);
      cs->nmalloc += bin->stats.nmalloc;
      cs->nfree += bin->stats.nfree;
      cs->live += bin->stats.live;
      cs->slabs += bin->stats.nslabs;
      cs->capacity += bin->stats.objs;
      cs->shed_pages += bin->stats.shed_pages;
      shed_objs += bin->stats.shed_objs;
      ta_mutex_unlock(&bin->lock);
      cs->transfer_cached += ta_transfer_cache_count(&ta_arenas[i]->transfer, c);
    }
    /* The bins count a transfer cache's objects as out (its slabs' free maps say taken); they
     * are free objects of the arena. Read under other locks than the bins', so a batch moving
     * meanwhile can be off by its size in one snapshot; never below zero. */
    cs->live = cs->live > cs->transfer_cached ? cs->live - cs->transfer_cached : 0;
    s->heap.transfer_cached += cs->transfer_cached * cs->size;
    cs->capacity -= shed_objs;
    s->heap.allocated += cs->live * cs->size;
  }
  /* Blocks in the large caches are freed ones, which their heaps still count (large_cache.h);
   * read apart from those counters, so a block moving meanwhile can be off in one snapshot. */
  for (unsigned i = 0; i < ta_narenas; i++) {
    ta_large_cache_t *lc = &ta_arenas[i]->large_cache;
    s->heap.large_cached += ta_atomic_load(&lc->bytes, ta_mo_relaxed);
    uint64_t hits = ta_atomic_load(&lc->hits, ta_mo_relaxed);
    s->heap.large_cache_hits += hits;
    s->heap.large_nmalloc += hits;
    s->heap.large_nfree += ta_atomic_load(&lc->puts, ta_mo_relaxed);
  }
  s->heap.large_live_bytes = s->heap.large_live_bytes > s->heap.large_cached
                                 ? s->heap.large_live_bytes - s->heap.large_cached : 0;
  s->heap.allocated += s->heap.large_live_bytes;
  ta_tcache_reclaim_counts(&s->heap.tcache_reclaims, &s->heap.tcache_reclaimed);
  s->heap.tcache_grown = ta_tcache_grown_bytes();
  s->heap.migrated_bytes = ta_atomic_load(&ta_tier_moved_bytes, ta_mo_relaxed);
  s->heap.migration_failures = ta_atomic_load(&ta_tier_move_failures, ta_mo_relaxed);
  s->heap.placement_fallbacks = ta_atomic_load(&ta_placement_fallbacks, ta_mo_relaxed);
  s->heap.demoted = ta_atomic_load(&ta_migrate_demoted_bytes, ta_mo_relaxed);
  s->heap.promoted = ta_atomic_load(&ta_migrate_promoted_bytes, ta_mo_relaxed);
  s->heap.demote_fallbacks = ta_atomic_load(&ta_migrate_fallbacks, ta_mo_relaxed);
  s->heap.kernel_moved = ta_atomic_load(&ta_migrate_kernel_moved, ta_mo_relaxed);
  s->heap.sampled_pages = ta_atomic_load(&ta_migrate_sampled_pages, ta_mo_relaxed);
  s->heap.migrate_rounds = ta_atomic_load(&ta_migrate_rounds, ta_mo_relaxed);
  s->heap.access_signal = ta_atomic_load(&ta_migrate_rounds, ta_mo_relaxed)
                              ? (uint64_t)ta_atomic_load(&ta_migrate_access_kind, ta_mo_relaxed)
                              : 0;
  s->heap.metadata = ta_meta_mapped();
  s->heap.resident = s->heap.active - s->heap.hollow + s->heap.dirty + s->heap.metadata;
  s->heap.retained = s->heap.mapped - s->heap.active - s->heap.dirty + s->heap.hollow;
}

/* ---- rendering ---- */

typedef ta_textbuf_t out_t;
#define put ta_textbuf_put

static void put_conf_json(out_t *o) {
  put(o, "\"conf\": {");
  for (size_t i = 0; i < ta_conf_noptions; i++) {
    const ta_conf_option_t *opt = &ta_conf_options[i];
    uint64_t v = ta_conf_value(&ta_conf, i);
    put(o, "%s\"%s\": ", i ? ", " : "", opt->name);
    if (opt->type == TA_CONF_TYPE_BOOL) {
      put(o, "%s", v ? "true" : "false");
    } else if (opt->type == TA_CONF_TYPE_ENUM) {
      const char *name;
      int len = (int)ta_conf_choice_name(opt, (unsigned)v, &name);
      put(o, "\"%.*s\"", len, name);
    } else {
      put(o, "%llu", (unsigned long long)v);
    }
  }
  put(o, "}");
}

size_t ta_stats_render_json(const ta_stats_t *s, char *buf, size_t cap) {
  out_t o = {buf, cap, 0};
  put(&o, "{\"version\": %d, \"pid\": %d, \"time_ns\": %llu, \"interval_ms\": %llu, \"profile\": \"%s\", ",
      TA_STATS_VERSION, (int)getpid(), (unsigned long long)s->time_ns,
      (unsigned long long)ta_conf.stats_live, ta_arch_profile_name());
  put_conf_json(&o);
  put(&o, ", \"heap\": {");
  const char *sep = "";
#define TA_STAT_HEAP(name, unit, doc) \
  put(&o, "%s\"" #name "\": %llu", sep, (unsigned long long)s->heap.name); sep = ", ";
#define TA_STAT_NODE(name, unit, doc)
#define TA_STAT_CLASS(name, unit, doc)
#include "stats.def"
#undef TA_STAT_HEAP
#undef TA_STAT_NODE
#undef TA_STAT_CLASS
  put(&o, "}, \"nodes\": [");
  for (unsigned i = 0; i < s->nnodes; i++) {
    const ta_stats_node_t *n = &s->node[i];
    put(&o, "%s{\"node\": %u, \"kind\": \"%s\", \"cpus\": \"%s\", \"tier\": %d", i ? ", " : "",
        n->node, n->kind, n->cpus, n->tier);
#define TA_STAT_HEAP(name, unit, doc)
#define TA_STAT_NODE(name, unit, doc) put(&o, ", \"" #name "\": %llu", (unsigned long long)n->name);
#define TA_STAT_CLASS(name, unit, doc)
#include "stats.def"
#undef TA_STAT_HEAP
#undef TA_STAT_NODE
#undef TA_STAT_CLASS
    put(&o, "}");
  }
  put(&o, "], \"classes\": [");
  sep = "";
  for (unsigned c = 0; c < TA_NCLASSES; c++) {
    const ta_stats_class_t *cs = &s->cls[c];
    if (!cs->nmalloc && !cs->slabs) continue;
    put(&o, "%s{\"class\": %u", sep, c);
#define TA_STAT_HEAP(name, unit, doc)
#define TA_STAT_NODE(name, unit, doc)
#define TA_STAT_CLASS(name, unit, doc) put(&o, ", \"" #name "\": %llu", (unsigned long long)cs->name);
#include "stats.def"
#undef TA_STAT_HEAP
#undef TA_STAT_NODE
#undef TA_STAT_CLASS
    put(&o, ", \"utilization\": %.4f}", cs->capacity ? (double)cs->live / (double)cs->capacity : 0.0);
    sep = ", ";
  }
  put(&o, "]}\n");
  return o.len;
}

static void put_bytes(out_t *o, uint64_t b) {
  static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)b;
  unsigned u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    u++;
  }
  put(o, u ? "%10.1f %-3s" : "%10.0f %-3s", v, units[u]);
}

size_t ta_stats_render_table(const ta_stats_t *s, char *buf, size_t cap) {
  out_t o = {buf, cap, 0};
  put(&o, "tieralloc statistics (pid %d, profile %s)\n", (int)getpid(), ta_arch_profile_name());
#define TA_STAT_HEAP(name, unit, doc)                              \
  put(&o, "  %-20s", #name);                                       \
  if (strcmp(#unit, "bytes") == 0) put_bytes(&o, s->heap.name);    \
  else put(&o, "%14llu", (unsigned long long)s->heap.name);        \
  put(&o, "\n");
#define TA_STAT_NODE(name, unit, doc)
#define TA_STAT_CLASS(name, unit, doc)
#include "stats.def"
#undef TA_STAT_HEAP
#undef TA_STAT_NODE
#undef TA_STAT_CLASS
  put(&o, "\nnode kind    tier cpus          active         dirty        mapped   huge units  remote in\n");
  for (unsigned i = 0; i < s->nnodes; i++) {
    const ta_stats_node_t *n = &s->node[i];
    put(&o, "%4u %-7s %4d %-9s", n->node, n->kind, n->tier, n->cpus);
    put_bytes(&o, n->active);
    put_bytes(&o, n->dirty);
    put_bytes(&o, n->mapped);
    put(&o, " %10llu %10llu\n", (unsigned long long)n->hugepage_units, (unsigned long long)n->remote_frees_in);
  }
  put(&o, "\nclass      size         nmalloc           nfree            live   slabs  utilization  shed pages\n");
  for (unsigned c = 0; c < TA_NCLASSES; c++) {
    const ta_stats_class_t *cs = &s->cls[c];
    if (!cs->nmalloc && !cs->slabs) continue;
    put(&o, "%5u %9llu %15llu %15llu %15llu %7llu %11.1f%% %11llu\n", c, (unsigned long long)cs->size,
        (unsigned long long)cs->nmalloc, (unsigned long long)cs->nfree, (unsigned long long)cs->live,
        (unsigned long long)cs->slabs, cs->capacity ? 100.0 * (double)cs->live / (double)cs->capacity : 0.0,
        (unsigned long long)cs->shed_pages);
  }
  return o.len;
}

/* ---- the live file ---- */

static void live_path(char *buf, size_t cap, bool tmp) {
  snprintf(buf, cap, tmp ? "/dev/shm/.tieralloc-%u-%d.tmp" : "/dev/shm/tieralloc-%u-%d.json",
           (unsigned)getuid(), (int)getpid());
}

/* Held from the snapshot file's creation to its rename, and by the exit's unlink, which also
 * closes publishing: an exit that unlinked while the background thread was between the two
 * had the rename put the file back after the process was gone (seen once in tools.stat-redis). */
static ta_mutex_t live_lock = TA_MUTEX_INITIALIZER(TA_LOCK_RANK_INIT);
static bool live_closed;

int ta_stats_publish(void) {
  static ta_stats_t snap;    /* only the background thread publishes */
  static char text[256 * 1024];
  ta_stats_collect(&snap);
  size_t len = ta_stats_render_json(&snap, text, sizeof(text));
  if (len >= sizeof(text)) return E2BIG;
  char tmp[96], final[96];
  live_path(tmp, sizeof(tmp), true);
  live_path(final, sizeof(final), false);
  ta_mutex_lock(&live_lock);
  if (live_closed) {
    ta_mutex_unlock(&live_lock);
    return 0;
  }
  /* 0600, created fresh: never follows a link someone planted, never widens to others. */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST) {
    unlink(tmp); /* left by a crash of this pid's predecessor */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  }
  int err = 0;
  if (fd < 0) {
    err = errno;
  } else {
    ssize_t w = write(fd, text, len);
    err = w == (ssize_t)len ? 0 : (w < 0 ? errno : EIO);
    close(fd);
    if (!err && rename(tmp, final) != 0) err = errno;
    if (err) unlink(tmp);
  }
  ta_mutex_unlock(&live_lock);
  return err;
}

void ta_stats_unpublish(void) {
  char final[96];
  live_path(final, sizeof(final), false);
  ta_mutex_lock(&live_lock);
  live_closed = true;
  unlink(final);
  ta_mutex_unlock(&live_lock);
}

void ta_stats_postfork_child(void) {
  /* The child has its own pid, so its own file; the lock may have been held mid-publish. */
  ta_mutex_postfork_child(&live_lock);
  live_closed = false;
}
