/* tier_move.c: where pages really are, and moving them. Both use move_pages(2): with no target
 * nodes it reports each page's node (ground truth, not the allocator's belief), with targets it
 * migrates. Work goes in batches of TA_TIER_BATCH pages, paced to migrate_mb_s so a migration
 * cannot flood the memory bus; pages not faulted in yet (-ENOENT, or -EFAULT as Linux 6.1
 * answers for untouched anonymous memory) are reported, not errors. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tiers.h"

#define BATCH 256

ta_atomic(uint64_t) ta_tier_moved_bytes;
ta_atomic(uint64_t) ta_tier_move_failures;
static ta_atomic(uint64_t) pace_next_ns; /* earliest time the next batch may start */

static size_t page_size(void) { return ta_os_info.page_size ? ta_os_info.page_size : 4096; }

int ta_tier_census(const void *addr, size_t len, ta_tier_census_t *out) {
  memset(out, 0, sizeof(*out));
  out->majority_node = -1;
  if (!len) return 0;
  size_t page = page_size();
  uintptr_t a = (uintptr_t)addr & ~(uintptr_t)(page - 1), end = (uintptr_t)addr + len;
  void *pages[BATCH];
  int status[BATCH];
  while (a < end) {
    unsigned n = 0;
    for (; n < BATCH && a < end; n++, a += page) pages[n] = (void *)a;
    int err = ta_os_move_pages(n, pages, NULL, status, 0);
    if (err) return err;
    for (unsigned i = 0; i < n; i++) {
      out->pages++;
      if (status[i] < 0) {
        out->absent++;
        continue;
      }
      if (status[i] < TA_TOPO_MAX_NODE_ID) out->per_node[status[i] < 64 ? status[i] : 63]++;
    }
  }
  size_t best = 0;
  for (int node = 0; node < 64; node++)
    if (out->per_node[node] > best) {
      best = out->per_node[node];
      out->majority_node = node;
    }
  out->on_majority = best;
  return 0;
}

static void pace(size_t bytes, uint64_t mb_s) {
  if (!mb_s) return;
  uint64_t cost = (uint64_t)bytes * 1000ull / mb_s; /* ns at mb_s MB/s (1 MB = 10^6 B) */
  uint64_t now = ta_os_now_ns();
  uint64_t start = ta_atomic_load(&pace_next_ns, ta_mo_relaxed);
  if (start < now) start = now;
  ta_atomic_store(&pace_next_ns, start + cost, ta_mo_relaxed);
  if (start > now) {
    uint64_t wait = start - now;
    struct timespec ts = {(time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull)};
    nanosleep(&ts, NULL);
  }
}

int ta_tier_move(void *addr, size_t len, int node, uint64_t mb_s, ta_tier_move_result_t *out) {
  memset(out, 0, sizeof(*out));
  if (!len) return 0;
  if (node < 0 || node >= TA_TOPO_MAX_NODE_ID) return EINVAL;
  size_t page = page_size();
  uintptr_t a = (uintptr_t)addr & ~(uintptr_t)(page - 1), end = (uintptr_t)addr + len;
  void *pages[BATCH];
  int nodes[BATCH], status[BATCH];
  while (a < end) {
    unsigned n = 0;
    for (; n < BATCH && a < end; n++, a += page) {
      pages[n] = (void *)a;
      nodes[n] = node;
    }
    pace((size_t)n * page, mb_s);
    /* MPOL_MF_MOVE: only pages mapped by this process alone. */
    int err = ta_os_move_pages(n, pages, nodes, status, 2 /* MPOL_MF_MOVE */);
    if (err) {
      out->pages += n;
      out->failed += n;
      if (!out->first_error) out->first_error = err;
      ta_atomic_fetch_add(&ta_tier_move_failures, n, ta_mo_relaxed);
      continue;
    }
    /* Pages busy for a moment (a transparent hugepage being split, a page under I/O or
     * locked) are tried again a few times before they count as failures. */
    for (int attempt = 0; attempt < 4; attempt++) {
      void *again[BATCH];
      unsigned busy = 0;
      for (unsigned i = 0; i < n; i++)
        if (status[i] == -EBUSY || status[i] == -EAGAIN) again[busy++] = pages[i];
      if (!busy) break;
      sched_yield();
      int retry[BATCH];
      if (ta_os_move_pages(busy, again, nodes, retry, 2) != 0) break;
      for (unsigned i = 0, j = 0; i < n && j < busy; i++)
        if (status[i] == -EBUSY || status[i] == -EAGAIN) status[i] = retry[j++];
    }
    for (unsigned i = 0; i < n; i++) {
      out->pages++;
      if (status[i] == node) {
        out->moved++;
      } else if (status[i] == -ENOENT || status[i] == -EFAULT) {
        /* Not faulted in: -ENOENT per the manual, -EFAULT from 6.1 for anonymous memory. */
        out->absent++;
      } else {
        out->failed++;
        if (!out->first_error) out->first_error = status[i] < 0 ? -status[i] : EIO;
      }
    }
  }
  ta_atomic_fetch_add(&ta_tier_moved_bytes, out->moved * page, ta_mo_relaxed);
  ta_atomic_fetch_add(&ta_tier_move_failures, out->failed, ta_mo_relaxed);
  return out->failed ? (out->first_error ? out->first_error : EIO) : 0;
}

uint64_t ta_tier_node_free_bytes(int node) {
  char path[96], buf[4096];
  snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", node);
  if (ta_os_read_file(path, buf, sizeof(buf)) <= 0) return UINT64_MAX; /* unknown: do not refuse */
  const char *p = strstr(buf, "MemFree:");
  if (!p) return UINT64_MAX;
  p += 8;
  while (*p == ' ') p++;
  uint64_t kb = 0;
  while (*p >= '0' && *p <= '9') kb = kb * 10 + (uint64_t)(*p++ - '0');
  return kb * 1024;
}
