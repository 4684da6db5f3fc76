/* migrate.c: the hotness policy at work. ta_migrate_step, called from the background loop (and
 * by tests with their own clock), does one round every migrate_interval_ms:
 *   1. pins a window of tracked large extents (large.c; nothing waits on a pin);
 *   2. samples a few pages of each (at most SAMPLE, whatever the extent's size) with the access
 *      signal in force, and with a move_pages query on the same pages, to notice an extent the
 *      kernel moved on its own (NUMA balancing, memory tiering): its tier is corrected, counted;
 *   3. asks tier_hotness which to demote and promote, under the tier_local_mb budget;
 *   4. moves them a hugepage unit at a time with ta_tier_move at migrate_mb_s, with free pages
 *      of the extent's hugepages purged first and purging kept off them meanwhile (hpa.c); a
 *      full or missing far node falls back along the ranked tiers, counted;
 *   5. unpins, finishing any free that came in meanwhile.
 * With soft-dirty bits, the signal is re-armed (a clear of the whole process) `window` before the
 * next round rather than right after this one, so a page reads "accessed" only when it was
 * written in the last window: over a whole interval a page written a few times a second reads
 * the same as one written thousands of times, and the budget could not rank them. The window
 * shrinks while most pages read accessed and the budget has to rank (ta_hotness_window). Idle
 * page tracking re-arms each page as it reads it, so it watches the whole interval.
 * No allocator lock is held while sampling or moving; only the tracking lists' locks, briefly,
 * to pin and unpin. One round at a time (a second caller returns at once). Never allocates. */
#include <errno.h>
#include <string.h>

#include "background.h"
#include "conf.h"

#define SAMPLE 8        /* pages sampled per extent per round */
#define WINDOW 1024     /* extents looked at per round */
#define MAX_CHAIN 4     /* demotion targets per node, farthest first */

ta_atomic(uint64_t) ta_migrate_demoted_bytes, ta_migrate_promoted_bytes, ta_migrate_fallbacks,
    ta_migrate_kernel_moved, ta_migrate_sampled_pages, ta_migrate_rounds;
ta_atomic(int) ta_migrate_access_kind = TA_OS_ACCESS_NONE;
ta_atomic(uint64_t) ta_migrate_window_ns;

static ta_atomic(int) busy;
static uint64_t next_round_ns;
static uint64_t arm_ns;   /* soft-dirty: when to clear, one window before the next round */
static bool arm_pending;  /* that clear has not happened yet */
static unsigned round_sampled, round_accessed; /* this round's pages, for the window */
static bool ranking; /* last round: the budget could not hold every tracked block */
static uint64_t prev_round_ns, round_period_ns; /* the last round, and the time between rounds (averaged) */
static uint64_t split_left_ns; /* splitting time this round may still spend */
static bool far_node[TA_ARENA_HEAP_IDS]; /* by heap id (interleave heaps count as far) */
static int16_t promote_to[TA_ARENA_HEAP_IDS];           /* far node -> the CPU node it serves */
static int16_t demote_chain[TA_ARENA_HEAP_IDS][MAX_CHAIN]; /* CPU node -> far nodes, farthest first */

/* One round's working set, owned by the single stepping thread (busy). */
static ta_extent_t *pinned[WINDOW];
static ta_hpa_t *pinned_hpa[WINDOW];
static ta_hotness_item_t items[WINDOW];
static ta_hotness_item_t *scratch[WINDOW];
static ta_os_range_t ranges[WINDOW];

void ta_migrate_init(void) {
  /* Migration runs only on the background thread, never on an allocating one: without it the
   * policy places like local, and nothing is tracked. */
  if (!ta_conf.background_thread) return;
  memset(promote_to, 0xff, sizeof(promote_to));
  memset(demote_chain, 0xff, sizeof(demote_chain));
  for (unsigned k = 0; k < ta_node_heap_count; k++) {
    unsigned node = ta_arena_heap_node(k);
    far_node[node] = ta_node_heaps[node]->cpuless;
  }
  for (unsigned k = 0; k < ta_node_heap_count; k++) {
    unsigned node = ta_arena_heap_node(k);
    if (far_node[node]) continue;
    int cpu = -1;
    for (unsigned c = 0; c < TA_TOPO_MAX_CPUS && cpu < 0; c++)
      if (ta_arena_home_node((int)c) == node) cpu = (int)c;
    if (cpu < 0) continue;
    /* Farthest tier first: cold data goes as far as the policy allows, and falls back inward. */
    int tiers[TA_TOPO_MAX_NODES], n = 0;
    for (unsigned t = 1; t < TA_TOPO_MAX_NODES; t++) {
      int far = ta_arena_tier_node(cpu, t);
      if (far < 0) break;
      if (far_node[far]) tiers[n++] = far;
    }
    for (int i = 0; i < n && i < MAX_CHAIN; i++) {
      demote_chain[node][i] = (int16_t)tiers[n - 1 - i];
      if (promote_to[tiers[n - 1 - i]] < 0) promote_to[tiers[n - 1 - i]] = (int16_t)node;
    }
  }
  ta_large_tracking = true;
  /* Under a budget the blocks are ranked, and a block that shares a transparent hugepage must
   * be split off it before it can be watched or moved alone (split_shared_units): that took
   * ~3 s of each tiering benchmark run under TCG, with nothing watched meanwhile. Placed in base
   * pages from the start, it needs no split. */
  ta_large_keep_base = ta_conf.tier_local_mb > 0 && ta_conf.access_signal != TA_OS_ACCESS_NONE;
}

/* The CPU node an extent belongs on when hot. */
static int home_of(const ta_extent_t *ext) {
  if (!far_node[ext->node]) return ext->node;
  return promote_to[ext->node] >= 0 ? promote_to[ext->node] : (int)ta_arena_heap_node(0);
}

static ta_hotness_params_t params(void) {
  ta_hotness_params_t p;
  uint64_t interval = ta_conf.migrate_interval_ms * 1000000ull;
  p.cold_age_ns = ta_conf.cold_age_ms * 1000000ull;
  /* Activity is forgotten over about a cold age, so an extent that goes idle is cold by the
   * time it is old enough to move; at least two rounds per half-life, so a block busy every
   * round reaches 1 / (1 - 2^-0.5) = 3.4, above promote_score; a move is kept at least four
   * rounds. */
  /* Rounds, not the interval, are what a busy block is seen in: where rounds come later than
   * the interval (under DAMON a round waits for the kdamond's snapshot; a loaded machine), the
   * half-life follows them. In the tiering benchmark's loaded runs rounds came every 1.4 s at
   * a 500 ms interval, so a block busy in every round settled at a score of 1.6, under
   * promote_score, and nothing moved in 30 s. */
  uint64_t period = round_period_ns > interval ? round_period_ns : interval;
  p.half_life_ns = p.cold_age_ns / 4 > 2 * period ? p.cold_age_ns / 4 : 2 * period;
  p.min_residency_ns = 4 * interval > p.cold_age_ns / 2 ? 4 * interval : p.cold_age_ns / 2;
  p.min_bytes = (size_t)TA_SMALL_MAX + 1;
  p.demote_score = 0.25;
  p.promote_score = 2.0; /* about three busy rounds: one burst of writes is not enough */
  p.local_budget_bytes = ta_conf.tier_local_mb << 20;
  /* Under a budget, a block warm in about half a round's samples, averaged, may take the place
   * of one clearly colder (tier_hotness.c): the DRAM the hot blocks leave then holds the blocks
   * used most per byte, as the tiering benchmark's oracle's does. */
  p.swap_score = p.promote_score / 4;
  return p;
}

/* SAMPLE pages spread over the extent, the same ones every round: idle page tracking only
 * knows about pages it re-armed, and a page never marked idle reads as accessed. Where the
 * extent owns whole hugepage units, only those are sampled: both signals answer for a
 * transparent hugepage as a whole, so a page in a hugepage shared with busy neighbours (the
 * extent's partial head or tail unit) reads as used whenever they are. */
static unsigned sample_pages(const ta_extent_t *ext, void **pages) {
  size_t unit = ta_hpa_geometry.unit_size;
  uintptr_t lo = (uintptr_t)ext->addr, hi = lo + ((size_t)ext->npages << ta_hpa_geometry.page_shift);
  uintptr_t ulo = (lo + unit - 1) & ~(uintptr_t)(unit - 1), uhi = hi & ~(uintptr_t)(unit - 1);
  if (uhi > ulo) {
    lo = ulo;
    hi = uhi;
  }
  size_t np = (hi - lo) >> ta_hpa_geometry.page_shift, n = np < SAMPLE ? np : SAMPLE;
  size_t shift = np / n / 2; /* the middle of each stretch */
  for (size_t i = 0; i < n; i++) {
    size_t idx = i * np / n + shift;
    pages[i] = (void *)(lo + (idx << ta_hpa_geometry.page_shift));
  }
  return (unsigned)n;
}

/* For a signal that watches given ranges only (DAMON with fvaddr): one sampled page of each
 * pinned extent, by address, one DAMON region each. One page, not the whole block: DAMON checks
 * a random page of a region each sample, and a page it has never checked reads "accessed" (its
 * idle flag was never set), so a hundred-page region reads busy for its first hundred samples.
 * While the budget ranks, only extents already split off shared hugepages are watched: a page
 * of a PMD-mapped transparent hugepage answers for the whole 2 MiB (DAMON clears and reads the
 * PMD's accessed bit), and in the tiering benchmark, where four blocks share each hugepage, an
 * unsplit block read busy in every sample whatever it did. An unwatched extent reads "not
 * sampled" (no region holds its pages) until a later round has split it. Single pages in
 * different blocks never touch, so DAMON cannot merge them. Shell sort: no allocation, a few
 * hundred entries. */
static void watch_pinned(size_t count) {
  size_t page = ta_hpa_geometry.page_size, n = 0;
  for (size_t i = 0; i < count; i++) {
    if (ranking && ta_hpa_geometry.hugepages && !pinned[i]->split) continue;
    void *pages[SAMPLE];
    unsigned k = sample_pages(pinned[i], pages);
    uintptr_t a = (uintptr_t)pages[k / 2];
    ranges[n++] = (ta_os_range_t){a, a + page};
  }
  if (!n) return; /* nothing watchable yet: the kdamond keeps what it had */
  for (size_t gap = n / 2; gap; gap /= 2)
    for (size_t i = gap; i < n; i++) {
      ta_os_range_t x = ranges[i];
      size_t j = i;
      for (; j >= gap && ranges[j - gap].start > x.start; j -= gap) ranges[j] = ranges[j - gap];
      ranges[j] = x;
    }
  ta_os_access_watch(ranges, (unsigned)n);
}

/* move_pages moves a transparent hugepage whole: moving a block that shares a hugepage with
 * neighbours would move them too (of another temperature, and behind their records' back:
 * measured in the tiering benchmark, the kernel moved twice the bytes migrate asked for, and
 * promotions dragged cold neighbours in while demotions dragged hot ones out). So the
 * hugepage units the block covers only in part are split first; units it owns whole move whole.
 * The same holds for sampling: both signals answer for a transparent hugepage as a whole, and a
 * hugepage that holds a few blocks reads "used" when any of them is (in the benchmark, every
 * hugepage of cold blocks read written in every 31 ms window), so while the budget has to rank
 * blocks, a block that shares hugepages is split once before it is sampled. The price: those
 * hugepages are 4 KiB pages from then on (TLB reach, and soft-dirty faults per 4 KiB page). */
static void split_shared_units(ta_extent_t *ext) {
  if (ext->split) return;
  ext->split = true;
  if (!ta_hpa_geometry.hugepages) return;
  size_t unit = ta_hpa_geometry.unit_size;
  uintptr_t lo = (uintptr_t)ext->addr, hi = lo + ((size_t)ext->npages << ta_hpa_geometry.page_shift);
  uintptr_t head_end = (lo + unit - 1) & ~(uintptr_t)(unit - 1), tail = hi & ~(uintptr_t)(unit - 1);
  if (lo & (unit - 1)) ta_os_split_huge((void *)lo, (head_end < hi ? head_end : hi) - lo);
  if ((hi & (unit - 1)) && tail >= head_end) ta_os_split_huge((void *)tail, hi - tail);
}

/* Samples access and placement of one pinned extent. */
static void observe(ta_extent_t *ext, int kind, uint64_t now, const ta_hotness_params_t *p, uint64_t *local_bytes) {
  void *pages[SAMPLE];
  unsigned n = sample_pages(ext, pages);
  unsigned sampled = 0, accessed = 0;
  if (ranking && kind != TA_OS_ACCESS_NONE && !ext->split) {
    /* Splitting is slow where the machine is (under TCG on a loaded host, splitting all 640
     * blocks of the tiering benchmark in one round took 7.7 s, and the workload's faults on
     * the hugepages being split stalled it as long): a round splits for at most a quarter of
     * an interval (a whole one under DAMON, see migrate_step), and the rest waits for later
     * rounds, sampled as before meanwhile (under DAMON: not watched meanwhile). */
    if (split_left_ns) {
      /* Only the splitting is timed: under DAMON the round's first sample waits for the
       * kdamond's snapshot (0.1-0.8 s under TCG), and a deadline on the clock let that wait eat
       * the budget, so one block was split per round (about 40 of 640 in the benchmark's 30 s,
       * the rest read per hugepage, busy in every sample). */
      uint64_t t0 = ta_os_now_ns();
      split_shared_units(ext);
      uint64_t spent = ta_os_now_ns() - t0;
      split_left_ns = spent < split_left_ns ? split_left_ns - spent : 0;
      ext->armed = false; /* the bits read now are still the whole hugepage's */
    }
  }
  bool unwatched = kind != TA_OS_ACCESS_NONE && !ext->armed;
  if (kind != TA_OS_ACCESS_NONE) {
    int8_t state[SAMPLE];
    if (ta_os_access_sample(pages, n, state) == 0 && ext->armed) {
      for (unsigned i = 0; i < n; i++)
        if (state[i] >= 0) { /* graded: TA_OS_ACCESS_FULL a page */
          sampled += TA_OS_ACCESS_FULL;
          accessed += (unsigned)state[i];
        }
    }
    round_sampled += sampled;
    round_accessed += accessed;
    ext->armed = true; /* the first sample after a move only arms the signal */
  }
  ta_atomic_fetch_add(&ta_migrate_sampled_pages, n, ta_mo_relaxed);
  /* Where are they really? A majority elsewhere than we believe means the kernel moved it. */
  int status[SAMPLE], count[SAMPLE] = {0}, node[SAMPLE], kinds = 0, present = 0;
  if (ta_os_move_pages(n, pages, NULL, status, 0) == 0) {
    for (unsigned i = 0; i < n; i++) {
      if (status[i] < 0) continue;
      present++;
      if (status[i] != ext->node) ext->strayed = true; /* even a minority: the free purges it */
      int j = 0;
      while (j < kinds && node[j] != status[i]) j++;
      if (j == kinds) node[kinds++] = status[i];
      count[j]++;
    }
    int best = -1;
    for (int j = 0; j < kinds; j++)
      if (best < 0 || count[j] > count[best]) best = j;
    if (best >= 0 && 2 * count[best] > present && node[best] != ext->tier && node[best] < TA_TOPO_MAX_NODE_ID) {
      bool was_far = far_node[ext->tier], now_far = far_node[node[best]];
      if (!was_far && now_far) *local_bytes -= ext->usable < *local_bytes ? ext->usable : *local_bytes;
      if (was_far && !now_far) *local_bytes += ext->usable;
      ext->tier = (uint16_t)node[best];
      ta_hotness_moved(&ext->heat, now, now_far);
      ta_atomic_fetch_add(&ta_migrate_kernel_moved, 1, ta_mo_relaxed);
    }
  }
  ext->heat.far = far_node[ext->tier];
  if (unwatched) ta_hotness_watch_from(&ext->heat, now);
  ta_hotness_observe(&ext->heat, p, now, sampled, accessed);
}

/* Moves a pinned extent to the first of targets[] that takes it. Returns bytes moved. */
static size_t move(ta_hpa_t *hpa, ta_extent_t *ext, const int *targets, unsigned ntargets, uint64_t now) {
  size_t page = ta_hpa_geometry.page_size, unit = ta_hpa_geometry.unit_size;
  size_t len = (size_t)ext->npages << ta_hpa_geometry.page_shift, moved_pages = 0, failed = 0;
  int last = -1; /* the target of the last pass */
  bool promote = !far_node[targets[0]];
  ta_hpa_migrate_begin(hpa, ext->addr, len);
  split_shared_units(ext);
  for (unsigned t = 0; t < ntargets; t++) {
    if (targets[t] < 0) break;
    size_t moved = 0, present = 0;
    bool full = false;
    failed = 0;
    /* A hugepage unit at a time: each batch is one hugepage the kernel can move whole. */
    for (size_t off = 0; off < len; off += unit) {
      ta_tier_move_result_t r;
      size_t chunk = len - off < unit ? len - off : unit;
      ta_tier_move((char *)ext->addr + off, chunk, targets[t], ta_conf.migrate_mb_s, &r);
      moved += r.moved;
      failed += r.failed;
      present += r.pages - r.absent;
      if (r.first_error == ENOMEM) full = true;
    }
    moved_pages += moved;
    if (2 * moved >= present && present) ext->tier = (uint16_t)targets[t];
    else if (!present) ext->tier = (uint16_t)targets[t]; /* nothing resident: refaults land by policy */
    last = targets[t];
    if (!full) break;
    /* The node is full: what did not fit goes to the next tier in, or stays (counted). */
    ta_atomic_fetch_add(&ta_migrate_fallbacks, 1, ta_mo_relaxed);
  }
  ta_hpa_migrate_end(hpa);
  /* Every resident page is home only after a pass home in which none failed (a page already
   * there reads as moved); after any other move some may be away, whatever `tier` says. */
  ext->strayed = last != ext->node || failed;
  /* A move that got nowhere (every target full) is not tried again for a cold age. */
  bool stuck = moved_pages == 0 && far_node[ext->tier] != far_node[targets[0]];
  ta_hotness_moved(&ext->heat, stuck ? now + ta_conf.cold_age_ms * 1000000ull : now, far_node[ext->tier]);
  ext->armed = false;
  size_t bytes = moved_pages * page;
  ta_atomic_fetch_add(promote ? &ta_migrate_promoted_bytes : &ta_migrate_demoted_bytes, bytes, ta_mo_relaxed);
  return bytes;
}

/* Opens the soft-dirty window: clears every page's bit, so the next round sees the writes since. */
static void arm(void) {
  ta_os_access_rearm();
  arm_pending = false;
}

size_t ta_migrate_step(uint64_t now, size_t budget) {
  if (!ta_large_tracking) return 0;
  if (now < next_round_ns && !(arm_pending && now >= arm_ns)) return 0;
  int expected = 0;
  if (!ta_atomic_cas(&busy, &expected, 1)) return 0;
  if (arm_pending) {
    /* Due to open the window (or late for it: then the round waits a window, rather than
     * reading bits that have gathered since the last round). */
    uint64_t window = ta_atomic_load(&ta_migrate_window_ns, ta_mo_relaxed);
    arm();
    if (now + window > next_round_ns) next_round_ns = now + window;
    ta_atomic_store(&busy, 0, ta_mo_release);
    return 0;
  }
  uint64_t interval = ta_conf.migrate_interval_ms * 1000000ull;
  next_round_ns = now + interval;
  if (prev_round_ns && now > prev_round_ns) {
    /* A gap of over four intervals is the program idling or the clock jumping, not slow rounds. */
    uint64_t gap = now - prev_round_ns < 4 * interval ? now - prev_round_ns : 4 * interval;
    round_period_ns = round_period_ns ? (3 * round_period_ns + gap) / 4 : gap;
  }
  prev_round_ns = now;
  ta_atomic_fetch_add(&ta_migrate_rounds, 1, ta_mo_relaxed);
  int kind = ta_os_access_open((int)ta_conf.access_signal);
  ta_atomic_store(&ta_migrate_access_kind, kind, ta_mo_relaxed);
  ta_hotness_params_t p = params();

  size_t n = 0;
  uint64_t local_bytes = 0;
  for (unsigned k = 0; k < ta_node_heap_count; k++) {
    ta_hpa_t *hpa = &ta_node_heaps[ta_arena_heap_node(k)]->hpa;
    size_t got = ta_large_pin(hpa, pinned + n, WINDOW - n, far_node, &local_bytes);
    for (size_t i = n; i < n + got; i++) pinned_hpa[i] = hpa;
    n += got;
  }
  /* Under DAMON a block still sharing hugepages is not watched at all (the signal is blind to
   * it, not just coarse), so splitting gets a whole interval there: with a quarter, a starved
   * benchmark guest (25 rounds in 30 s) took ~20 s to split its 640 blocks. */
  split_left_ns = kind == TA_OS_ACCESS_DAMON ? interval : interval / 4;
  round_sampled = round_accessed = 0;
  uint64_t tracked = 0;
  for (size_t i = 0; i < n; i++) {
    observe(pinned[i], kind, now, &p, &local_bytes);
    tracked += pinned[i]->usable;
  }
  /* Ranking is needed when the budget cannot hold every tracked block. */
  ranking = p.local_budget_bytes && (tracked > p.local_budget_bytes || local_bytes > p.local_budget_bytes);
  if (kind == TA_OS_ACCESS_SOFTDIRTY) {
    uint64_t window = ta_hotness_window(ta_atomic_load(&ta_migrate_window_ns, ta_mo_relaxed), interval,
                                        round_sampled, round_accessed, ranking);
    ta_atomic_store(&ta_migrate_window_ns, window, ta_mo_relaxed);
    if (window < interval) {
      arm_pending = true;
      arm_ns = next_round_ns - window;
    } else {
      arm();
    }
  } else if (kind == TA_OS_ACCESS_DAMON) {
    watch_pinned(n); /* after observe: the extents it split this round are watched from now */
    arm(); /* asks the kdamond for the next snapshot (os_linux_damon.c) */
  }

  for (size_t i = 0; i < n; i++) {
    items[i] = (ta_hotness_item_t){.heat = &pinned[i]->heat, .bytes = pinned[i]->usable, .ref = pinned[i]};
  }
  ta_hotness_plan(&p, now, items, n, local_bytes, scratch);

  /* Demotions first: they make the room promotions may need. */
  size_t done = 0;
  uint64_t moves_from = ta_os_now_ns();
  for (int pass = 0; pass < 2; pass++) {
    ta_hotness_action_t want = pass == 0 ? TA_HOTNESS_DEMOTE : TA_HOTNESS_PROMOTE;
    for (size_t i = 0; i < n; i++) {
      if (items[i].action != want || (budget && done >= budget)) continue;
      /* A round's moves take at most one interval (moving 4 KiB pages of split hugepages is
       * slow, under emulation very slow): what is left is decided afresh next round, on new
       * samples, rather than carried out on stale ones. */
      uint64_t t = ta_os_now_ns();
      if (t > moves_from && t - moves_from >= interval) break;
      ta_extent_t *ext = pinned[i];
      int targets[MAX_CHAIN] = {-1, -1, -1, -1};
      if (want == TA_HOTNESS_PROMOTE) {
        targets[0] = home_of(ext);
      } else {
        int home = home_of(ext);
        for (int t = 0; t < MAX_CHAIN; t++) targets[t] = demote_chain[home][t];
      }
      if (targets[0] < 0 || targets[0] == ext->tier) continue;
      done += move(pinned_hpa[i], ext, targets, MAX_CHAIN, now);
    }
  }
  for (size_t i = 0; i < n; i++) ta_large_unpin(pinned_hpa[i], pinned[i]);
  ta_atomic_store(&busy, 0, ta_mo_release);
  return done;
}

uint64_t ta_migrate_next_due(void) {
  if (!ta_large_tracking) return UINT64_MAX;
  return arm_pending && arm_ns < next_round_ns ? arm_ns : next_round_ns;
}

void ta_migrate_postfork_child(void) {
  ta_atomic_store(&busy, 0, ta_mo_relaxed);
  next_round_ns = 0;
  arm_pending = false; /* the child's first round re-arms, as the first round always does */
  ranking = false;
  prev_round_ns = round_period_ns = 0;
}
