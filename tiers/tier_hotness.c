/* tier_hotness.c: how hot an extent is, and whether it should move (see tiers.h). Pure: the
 * clock, the access samples and the parameters are passed in, so every decision is tested with
 * a fake clock and no machine.
 *
 * The score is an exponentially decaying average of sampled activity: each observation adds the
 * fraction of sampled pages found accessed (0..1) and the score halves every half_life_ns.
 * Hysteresis comes from three places: promotion needs a score well above the one that allows
 * demotion (promote_score > demote_score), demotion also needs the extent idle for cold_age_ns,
 * and an extent that just moved stays put for min_residency_ns either way.
 *
 * The signal is one bit per sampled page per round, so how long it watches sets what it can
 * tell apart: ta_hotness_window shortens the watch while the budget must rank blocks and most
 * pages read accessed (then a page read "accessed" means used within the last few tens of ms,
 * which a lukewarm page rarely is). */
#include <string.h>

#include "tiers.h"

static double decayed(const ta_hotness_t *h, const ta_hotness_params_t *p, uint64_t now) {
  if (now <= h->updated_ns || !p->half_life_ns) return h->score;
  double halves = (double)(now - h->updated_ns) / (double)p->half_life_ns;
  if (halves > 60) return 0;
  /* 2^-halves without libm: whole halvings by scaling, the remainder by a short series. */
  unsigned whole = (unsigned)halves;
  double frac = halves - whole, x = -frac * 0.6931471805599453, term = 1, e = 1;
  for (int k = 1; k < 12; k++) {
    term *= x / k;
    e += term;
  }
  double s = h->score * e;
  while (whole--) s *= 0.5;
  return s;
}

void ta_hotness_init(ta_hotness_t *h, uint64_t now, unsigned hint, bool far) {
  memset(h, 0, sizeof(*h));
  h->born_ns = h->updated_ns = now;
  h->last_active_ns = now; /* a fresh allocation was just written: it starts warm-ish, not hot */
  h->hint = (uint8_t)hint;
  h->far = far;
}

double ta_hotness_score(const ta_hotness_t *h, const ta_hotness_params_t *p, uint64_t now) {
  return decayed(h, p, now);
}

void ta_hotness_observe(ta_hotness_t *h, const ta_hotness_params_t *p, uint64_t now, unsigned sampled,
                        unsigned accessed) {
  double s = decayed(h, p, now);
  if (sampled) {
    if (accessed > sampled) accessed = sampled;
    s += (double)accessed / (double)sampled;
    if (accessed) h->last_active_ns = now;
  }
  if (s > TA_HOTNESS_SCORE_MAX) s = TA_HOTNESS_SCORE_MAX;
  h->score = s;
  if (now > h->updated_ns) h->updated_ns = now;
}

void ta_hotness_watch_from(ta_hotness_t *h, uint64_t now) {
  /* Far extents keep their record: idleness only decides demotion, and a hot hint's promotion
   * reads last_active_ns. */
  if (!h->far && now > h->last_active_ns) h->last_active_ns = now;
}

void ta_hotness_moved(ta_hotness_t *h, uint64_t now, bool far) {
  h->far = far;
  h->moved_ns = now;
}

static bool settled(const ta_hotness_t *h, const ta_hotness_params_t *p, uint64_t now) {
  return !h->moved_ns || (now >= h->moved_ns && now - h->moved_ns >= p->min_residency_ns);
}

ta_hotness_action_t ta_hotness_decide(const ta_hotness_t *h, const ta_hotness_params_t *p, uint64_t now,
                                      size_t bytes) {
  if (!settled(h, p, now) || h->hint == TA_HOTNESS_HINT_PLACED) return TA_HOTNESS_STAY;
  double s = decayed(h, p, now);
  if (!h->far) {
    if (h->hint == TA_HOTNESS_HINT_HOT) return TA_HOTNESS_STAY; /* only the budget demotes it */
    if (h->hint == TA_HOTNESS_HINT_COLD && s < p->promote_score) return TA_HOTNESS_DEMOTE;
    bool idle = now - h->last_active_ns >= p->cold_age_ns;
    if (bytes >= p->min_bytes && idle && s < p->demote_score) return TA_HOTNESS_DEMOTE;
    return TA_HOTNESS_STAY;
  }
  /* On the far tier: promotion needs sustained activity; a cold hint asks for twice as much. */
  double need = p->promote_score * (h->hint == TA_HOTNESS_HINT_COLD ? 2.0 : 1.0);
  if (h->hint == TA_HOTNESS_HINT_HOT && now - h->last_active_ns < p->cold_age_ns) return TA_HOTNESS_PROMOTE;
  return s >= need ? TA_HOTNESS_PROMOTE : TA_HOTNESS_STAY;
}

/* Shell sort of item pointers by score, coldest first: no allocation (glibc's qsort may
 * call malloc), and the arrays are a few hundred entries. */
static void sort_by_score(ta_hotness_item_t **v, size_t n) {
  for (size_t gap = n / 2; gap; gap /= 2)
    for (size_t i = gap; i < n; i++) {
      ta_hotness_item_t *x = v[i];
      size_t j = i;
      for (; j >= gap && v[j - gap]->score_now > x->score_now; j -= gap) v[j] = v[j - gap];
      v[j] = x;
    }
}

size_t ta_hotness_plan(const ta_hotness_params_t *p, uint64_t now, ta_hotness_item_t *items, size_t n,
                       uint64_t local_bytes, ta_hotness_item_t **scratch) {
  size_t nlocal = 0, nfar = 0, moves = 0;
  for (size_t i = 0; i < n; i++) {
    ta_hotness_item_t *it = &items[i];
    it->score_now = decayed(it->heat, p, now);
    it->action = ta_hotness_decide(it->heat, p, now, it->bytes);
    /* Under a budget, the budget decides which local blocks go: idleness alone would empty
     * DRAM the operator gave to these blocks of everything the signal missed (a block used a
     * little, or only read under soft-dirty), while the coldest still go first when room is
     * needed. A cold hint still demotes. */
    if (p->local_budget_bytes && it->action == TA_HOTNESS_DEMOTE && it->heat->hint != TA_HOTNESS_HINT_COLD)
      it->action = TA_HOTNESS_STAY;
    if (it->action == TA_HOTNESS_DEMOTE) local_bytes -= it->bytes < local_bytes ? it->bytes : local_bytes;
  }
  if (!p->local_budget_bytes) {
    for (size_t i = 0; i < n; i++) moves += items[i].action != TA_HOTNESS_STAY;
    return moves;
  }
  /* Under a budget: local extents staying local, coldest first, and promotion candidates,
   * hottest first. scratch has room for n pointers: locals from the front, far from the back. */
  ta_hotness_item_t **local = scratch, **far = scratch + n;
  for (size_t i = 0; i < n; i++) {
    ta_hotness_item_t *it = &items[i];
    if (it->heat->hint == TA_HOTNESS_HINT_PLACED) continue; /* the budget cannot move it either */
    if (!it->heat->far && it->action == TA_HOTNESS_STAY) local[nlocal++] = it;
    else if (it->heat->far && it->action == TA_HOTNESS_PROMOTE) *--far = it;
    else if (it->heat->far && it->action == TA_HOTNESS_STAY && p->swap_score > 0 && it->score_now >= p->swap_score &&
             it->heat->hint == TA_HOTNESS_HINT_NONE && settled(it->heat, p, now))
      *--far = it; /* may come in for a clearly colder local extent, or into free room */
  }
  nfar = (size_t)(scratch + n - far);
  sort_by_score(local, nlocal);
  sort_by_score(far, nfar); /* ascending: the hottest is last */
  size_t cold = 0; /* next local extent to give up, coldest first */
  /* Over budget: demote the coldest local extents that may move until it fits. */
  while (local_bytes > p->local_budget_bytes && cold < nlocal) {
    ta_hotness_item_t *it = local[cold++];
    if (!settled(it->heat, p, now)) continue;
    it->action = TA_HOTNESS_DEMOTE;
    local_bytes -= it->bytes < local_bytes ? it->bytes : local_bytes;
  }
  /* Promotions, hottest first: each must fit, possibly by demoting local extents clearly
   * colder than it: at most half its score less demote_score, so two near-equal extents do not
   * trade places every round. The margin is a ratio, not a fixed difference: the score is an
   * access rate, and a block read twice as often is worth its DRAM whatever the rates are (in
   * the tiering benchmark, DAMON reads the cold blocks the oracle keeps on DRAM at a third to a
   * tenth of the hot ones' rate, and a fixed margin of promote - demote score let none of them
   * in). It also lets a block just past promote_score displace the lukewarm, not only the idle. */
  for (size_t k = nfar; k-- > 0;) {
    ta_hotness_item_t *it = far[k];
    uint64_t freed = 0;
    size_t take = cold;
    if (local_bytes < p->local_budget_bytes && it->bytes <= p->local_budget_bytes - local_bytes) {
      it->action = TA_HOTNESS_PROMOTE;
      local_bytes += it->bytes; /* fits as it is */
      continue;
    }
    while (local_bytes - freed + it->bytes > p->local_budget_bytes && take < nlocal) {
      ta_hotness_item_t *victim = local[take];
      if (2 * victim->score_now + p->demote_score > it->score_now) break;
      if (settled(victim->heat, p, now) && freed + victim->bytes <= local_bytes) freed += victim->bytes;
      take++;
    }
    if (local_bytes - freed + it->bytes > p->local_budget_bytes) {
      it->action = TA_HOTNESS_STAY;
      continue;
    }
    for (; cold < take; cold++)
      if (settled(local[cold]->heat, p, now)) local[cold]->action = TA_HOTNESS_DEMOTE;
    local_bytes = local_bytes - freed + it->bytes;
    it->action = TA_HOTNESS_PROMOTE;
  }
  for (size_t i = 0; i < n; i++) moves += items[i].action != TA_HOTNESS_STAY;
  return moves;
}

uint64_t ta_hotness_window(uint64_t window_ns, uint64_t interval_ns, unsigned sampled, unsigned accessed,
                           bool ranking) {
  uint64_t lo = interval_ns / 16 ? interval_ns / 16 : 1;
  if (!window_ns || window_ns > interval_ns) window_ns = interval_ns;
  if (window_ns < lo) window_ns = lo;
  if (!sampled) return window_ns; /* nothing seen: no reason to change */
  if (ranking && 2ull * accessed > sampled) return window_ns / 2 > lo ? window_ns / 2 : lo;
  if (!ranking || 8ull * accessed < sampled) return window_ns * 2 < interval_ns ? window_ns * 2 : interval_ns;
  return window_ns;
}
