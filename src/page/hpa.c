/* hpa.c: the hugepage-aware page allocator (see hpa.h for the policy).
 *
 * Invariants, under hpa->lock:
 * - A unit's record (ta_hpage_t) exists from its first use on; a NULL record means fresh
 *   address space (never touched, reads as zero).
 * - used/dirty bitmaps are exact in every state: used = handed out, dirty = free and resident.
 *   A free page that is not dirty reads as zero.
 * - longest_free is exact in every unit in use. FILLER units with a free run sit in
 *   buckets[bucket_of(longest_free)]; units with dirty pages sit on dirty_filler (live data) or
 *   dirty_free (wholly free), each ordered by dirty_since.
 * - A wholly free unit with no dirty page is never broken (it was re-advised when purged).
 * - kept_since != 0 only on a dirty_filler unit that a purge step kept whole: the start of its
 *   current dirty stretch (ndirty > 0 without a break since).
 * - hollow is a subset of used: pages handed out whose owner (a slab with no object on them)
 *   had them purged by ta_hpa_purge_inside. They read as zero until the owner reuses them
 *   (ta_hpa_reuse_inside) or frees them, when they become free and clean, not dirty.
 * - ninside counts, for the purge step of inside_epoch only, the resident pages owners reported
 *   free inside their allocations (ta_hpa_note_inside): with the hollow pages they count as
 *   free when a purge step decides whether a unit is worth breaking.
 * - A PREFAULT unit is out of the free pool while ta_hpa_prefault_step faults it in without the
 *   lock (counted in hpa->prefaulting); nothing else touches it until it is FREE again. */
#include "hpa.h"

#include <errno.h>
#include <string.h>

#include "conf.h"
#include "decay.h"
#include "meta.h"

enum { UNIT_FILLER = 1, UNIT_SPAN = 2, UNIT_FREE = 3, UNIT_PREFAULT = 4 };
#define PREFAULT_MAX_AHEAD 16
#define KEEP_WHOLE_DECAYS 10
#define COLLAPSE_MAX 64 /* units collapsed when a heap goes on hugepages (maybe_go_huge) */
/* MADV_COLLAPSE fails with EAGAIN when a page of the unit is busy while the kernel isolates it
 * (another thread of the process touching it, a page locked for a moment): larson's second
 * unit stayed on base pages in 4 of 80 runs that way, for as long as khugepaged took to find
 * it. The kernel's advice is to try again; a few tries are enough. */
#define COLLAPSE_TRIES 4
#define NO_BUCKET 0xffffu

typedef struct ta_hpage {
  ta_list_t bucket_link;
  ta_list_t dirty_link;
  uintptr_t base;
  uint32_t nused, ndirty, longest_free;
  uint32_t nhollow;      /* see the invariants */
  uint32_t ninside;      /* valid while inside_epoch == the hpa's */
  uint32_t inside_epoch;
  uint16_t bucket;
  uint8_t state;
  bool broken;
  bool marked; /* advised MADV_NOHUGEPAGE */
  bool base_only; /* marked before anything in it was resident (ta_hpa_keep_base): base pages only */
  uint64_t dirty_since;
  uint64_t kept_since; /* see the invariants; 0 = not kept whole in this dirty stretch */
  uint64_t bits[]; /* used[words], then dirty[words], then hollow[words] */
} ta_hpage_t;

typedef struct ta_region {
  struct ta_region *next;
  uintptr_t base;
  size_t nunits;
  size_t nfree_units; /* fresh or wholly free */
  size_t meta_size;
  ta_hpage_t *units[];
} ta_region_t;

ta_hpa_geometry_t ta_hpa_geometry;
static size_t words; /* bitmap words per unit */
ta_atomic(uint32_t) ta_hpa_prefault_word;
ta_atomic(uint64_t) ta_hpa_fresh_units_total;

void ta_hpa_geometry_init(void) {
  ta_hpa_geometry_t *g = &ta_hpa_geometry;
  g->page_size = ta_os_info.page_size;
  g->page_shift = ta_os_info.page_shift;
  /* The unit the platform layer chose from the kernel's page and hugepage sizes: the PMD
   * hugepage, or on arm64 with 64 KiB pages the 2 MiB contiguous-PTE block, else 512 pages. */
  size_t unit = ta_os_info.hugepage_unit;
  if (unit < g->page_size || unit / g->page_size > TA_HPA_MAX_UNIT_PAGES) unit = g->page_size * 512;
  g->unit_size = unit;
  g->unit_pages = unit / g->page_size;
  g->hugepages = ta_conf.thp && ta_os_info.hugepage_unit_thp && unit == ta_os_info.hugepage_unit;
  words = TA_BITMAP_WORDS(g->unit_pages);
}

static inline uint64_t *used_bits(ta_hpage_t *hp) { return hp->bits; }
static inline uint64_t *dirty_bits(ta_hpage_t *hp) { return hp->bits + words; }
static inline uint64_t *hollow_bits(ta_hpage_t *hp) { return hp->bits + 2 * words; }

/* Pages of the unit holding live data, as far as the purge policy is concerned: used pages
 * less those their owners purged or reported free in this purge step. */
static size_t unit_in_use(const ta_hpa_t *hpa, const ta_hpage_t *hp) {
  size_t free_inside = hp->nhollow + (hp->inside_epoch == hpa->inside_epoch ? hp->ninside : 0);
  return hp->nused > free_inside ? hp->nused - free_inside : 0;
}

static unsigned bucket_of(size_t longest) {
  if (longest < 64) return (unsigned)longest;
  return 64 + (unsigned)(63 - __builtin_clzll(longest)) - 6;
}

int ta_hpa_init(ta_hpa_t *hpa, unsigned node, uint64_t decay_ns, unsigned break_pct) {
  memset(hpa, 0, sizeof(*hpa));
  ta_mutex_init(&hpa->lock, TA_LOCK_RANK_HPA);
  ta_mutex_init(&hpa->track_lock, TA_LOCK_RANK_LARGE);
  ta_list_init(&hpa->tracked);
  hpa->node = node;
  hpa->decay_ns = decay_ns;
  hpa->break_pct = break_pct;
  hpa->nbuckets = bucket_of(ta_hpa_geometry.unit_pages) + 1;
  hpa->buckets = ta_meta_alloc(hpa->nbuckets * sizeof(ta_list_t));
  if (!hpa->buckets) return ENOMEM;
  for (unsigned b = 0; b < hpa->nbuckets; b++) ta_list_init(&hpa->buckets[b]);
  ta_list_init(&hpa->dirty_filler);
  ta_list_init(&hpa->dirty_free);
  hpa->huge_pages = (size_t)(ta_conf.thp_min_mb << 20) >> ta_hpa_geometry.page_shift;
  hpa->huge = ta_hpa_geometry.hugepages && hpa->huge_pages == 0;
  return 0;
}

/* ---- filler buckets and dirty lists ---- */

/* Files a unit in the bucket of its longest_free (none unless a FILLER with a free run). The
 * callers keep longest_free exact without a scan of the unit on every change: a free can only
 * lengthen the run around it, and an allocation can only shorten the longest if it came from a
 * run that long. A unit of scattered slabs has dozens of runs, and the scan was 8% of a
 * workload's time (frag) when every slab came or went with one. */
static unsigned filler_bucket(const ta_hpage_t *hp, size_t longest) {
  return hp->state == UNIT_FILLER && longest ? bucket_of(longest) : NO_BUCKET;
}

static void filler_update(ta_hpa_t *hpa, ta_hpage_t *hp) {
  unsigned b = filler_bucket(hp, hp->longest_free);
  if (b == hp->bucket) return;
  if (hp->bucket != NO_BUCKET) ta_list_remove(&hp->bucket_link);
  if (b != NO_BUCKET) ta_list_push_front(&hpa->buckets[b], &hp->bucket_link);
  hp->bucket = (uint16_t)b;
}

static void dirty_unlink(ta_hpage_t *hp) {
  if (ta_list_is_linked(&hp->dirty_link)) ta_list_remove(&hp->dirty_link);
}

/* ---- regions and units ---- */

static ta_region_t *region_new(ta_hpa_t *hpa, size_t min_units, size_t align) {
  const ta_hpa_geometry_t *g = &ta_hpa_geometry;
  size_t want = (size_t)(ta_conf.region_mb << 20) / g->unit_size;
  if (want < min_units) want = min_units;
  if (align < g->unit_size) align = g->unit_size;
  void *addr = NULL;
  int err = ta_os_map(&addr, want * g->unit_size, align);
  if (err) hpa->stats.map_failures++;
  if (err && want > min_units) {
    /* An address-space limit (RLIMIT_AS) may refuse a large reservation: take what we need. */
    want = min_units;
    err = ta_os_map(&addr, want * g->unit_size, align);
    if (err) hpa->stats.map_failures++;
  }
  if (err) return NULL;
  size_t meta_size = sizeof(ta_region_t) + want * sizeof(ta_hpage_t *);
  ta_region_t *r = ta_meta_alloc(meta_size);
  if (!r) {
    ta_os_unmap(addr, want * g->unit_size);
    return NULL;
  }
  /* A heap below conf thp_min_mb marks its regions off hugepages: where THP is "always" the
   * kernel would otherwise back them with hugepages all the same, and khugepaged would collapse
   * them. maybe_go_huge's advice replaces the mark. */
  if (g->hugepages && ta_os_advise_huge(addr, want * g->unit_size, hpa->huge) != 0) hpa->stats.advise_failures++;
  if (hpa->place_region && hpa->place_region(hpa, addr, want * g->unit_size) != 0)
    hpa->stats.place_failures++;
  r->base = (uintptr_t)addr;
  r->nunits = want;
  r->nfree_units = want;
  r->meta_size = meta_size;
  r->next = hpa->regions;
  hpa->regions = r;
  hpa->stats.mapped_bytes += want * g->unit_size;
  return r;
}

static ta_hpage_t *unit_record(ta_region_t *r, size_t idx) {
  ta_hpage_t *hp = r->units[idx];
  if (hp) return hp;
  hp = ta_meta_alloc(sizeof(ta_hpage_t) + 3 * words * sizeof(uint64_t));
  if (!hp) return NULL;
  hp->base = r->base + idx * ta_hpa_geometry.unit_size;
  hp->bucket = NO_BUCKET;
  hp->state = UNIT_FREE;
  r->units[idx] = hp;
  return hp;
}

static ta_region_t *region_of(ta_hpa_t *hpa, uintptr_t a) {
  ta_region_t *r = hpa->last_region;
  size_t unit = ta_hpa_geometry.unit_size;
  if (r && a >= r->base && a < r->base + r->nunits * unit) return r;
  for (r = hpa->regions; r; r = r->next)
    if (a >= r->base && a < r->base + r->nunits * unit) {
      hpa->last_region = r;
      return r;
    }
  return NULL;
}

static bool unit_is_free(ta_region_t *r, size_t i) {
  return r->units[i] == NULL || r->units[i]->state == UNIT_FREE;
}

/* The heap is about to hand out `more` pages: once its pages handed out reach conf thp_min_mb
 * it goes on hugepages. Its regions are advised; a unit marked MADV_NOHUGEPAGE while the heap
 * was small (kept off hugepages for a ranked block) is marked again, as the region's advice
 * cleared it; the units resident now, faulted in as base pages, go into `collapse` (at most
 * COLLAPSE_MAX; the rest are left to khugepaged), which ta_hpa_alloc collapses without the
 * lock. Returns how many. */
static unsigned maybe_go_huge(ta_hpa_t *hpa, size_t more, uintptr_t *collapse) {
  const ta_hpa_geometry_t *g = &ta_hpa_geometry;
  unsigned n = 0;
  if (hpa->huge || !g->hugepages || hpa->stats.active_pages + more < hpa->huge_pages) return 0;
  hpa->huge = true;
  for (ta_region_t *r = hpa->regions; r; r = r->next) {
    if (ta_os_advise_huge((void *)r->base, r->nunits * g->unit_size, true) != 0) hpa->stats.advise_failures++;
    for (size_t i = 0; i < r->nunits; i++) {
      ta_hpage_t *hp = r->units[i];
      if (!hp) continue;
      if (hp->marked && ta_os_advise_huge((void *)hp->base, g->unit_size, false) != 0)
        hpa->stats.advise_failures++;
      bool resident = hp->state != UNIT_FREE || hp->ndirty;
      if (resident && !hp->broken && n < COLLAPSE_MAX) collapse[n++] = hp->base;
    }
  }
  return n;
}

/* Takes a wholly free unit out of the free pool (its record made if it was fresh). The caller
 * sets the new state. Prefers the most recently freed resident unit: still a hugepage in RAM. */
static ta_hpage_t *take_free_unit(ta_hpa_t *hpa) {
  ta_hpage_t *hp = NULL;
  ta_region_t *r;
  if (!ta_list_is_empty(&hpa->dirty_free)) {
    hp = ta_list_entry(hpa->dirty_free.prev, ta_hpage_t, dirty_link);
    r = region_of(hpa, hp->base);
  } else {
    for (r = hpa->regions; r; r = r->next) {
      if (!r->nfree_units) continue;
      for (size_t i = 0; i < r->nunits; i++)
        if (unit_is_free(r, i)) {
          hp = unit_record(r, i);
          break;
        }
      if (hp) break;
    }
    if (!hp) {
      r = region_new(hpa, 1, 0);
      if (!r || !(hp = unit_record(r, 0))) return NULL;
    }
    /* Not resident: the first touch faults a whole hugepage in on the allocating thread. */
    hpa->stats.fresh_units++;
    ta_atomic_fetch_add(&ta_hpa_fresh_units_total, 1, ta_mo_relaxed);
    if (hpa->huge && ta_conf.thp_prefault && ta_conf.background_thread && !hpa->prefault_off)
      hpa->prefault_demand++;
  }
  dirty_unlink(hp);
  hp->kept_since = 0;
  r->nfree_units--;
  hpa->stats.units_in_use++;
  return hp;
}

/* Hands out [start, start + n) of a unit. */
static bool alloc_in_unit(ta_hpa_t *hpa, ta_hpage_t *hp, size_t start, size_t n) {
  size_t pages = ta_hpa_geometry.unit_pages, run_end;
  size_t run = ta_bitmap_clear_run_around(used_bits(hp), start, n, pages, &run_end);
  size_t dirty = ta_bitmap_count_range(dirty_bits(hp), start, n);
  ta_bitmap_set_range(used_bits(hp), start, n);
  if (run_end - run >= hp->longest_free) /* possibly the only run that long: look again */
    hp->longest_free = (uint32_t)ta_bitmap_longest_clear_run(used_bits(hp), pages);
  ta_bitmap_clear_range(dirty_bits(hp), start, n);
  hp->nused += (uint32_t)n;
  hp->ndirty -= (uint32_t)dirty;
  if (hp->ndirty == 0) {
    dirty_unlink(hp);
    hp->kept_since = 0; /* its holes were reused: a kept unit's stretch ends */
  }
  hpa->stats.active_pages += n;
  hpa->stats.dirty_pages -= dirty;
  filler_update(hpa, hp);
  return dirty == 0;
}

static ta_hpage_t *filler_find(ta_hpa_t *hpa, size_t n, size_t align, size_t *start) {
  size_t pages = ta_hpa_geometry.unit_pages;
  for (unsigned b = bucket_of(n); b < hpa->nbuckets; b++) {
    for (ta_list_t *l = hpa->buckets[b].next; l != &hpa->buckets[b]; l = l->next) {
      ta_hpage_t *hp = ta_list_entry(l, ta_hpage_t, bucket_link);
      if (hp->longest_free < n) continue;
      size_t s = ta_bitmap_find_clear_run(used_bits(hp), pages, n, align);
      if (s < pages) {
        *start = s;
        return hp;
      }
    }
  }
  return NULL;
}

static void *alloc_small(ta_hpa_t *hpa, size_t n, size_t align, bool *zeroed) {
  size_t start = 0;
  ta_hpage_t *hp = filler_find(hpa, n, align, &start);
  if (!hp) {
    hp = take_free_unit(hpa);
    if (!hp) return NULL;
    hp->state = UNIT_FILLER;
    if (hp->ndirty) {
      /* A resident free unit keeps its age: its dirty pages now sit beside live data. */
      ta_list_push_front(&hpa->dirty_filler, &hp->dirty_link);
    }
  }
  *zeroed = alloc_in_unit(hpa, hp, start, n);
  return (void *)(hp->base + (start << ta_hpa_geometry.page_shift));
}

static bool find_span(ta_hpa_t *hpa, size_t k, size_t align, ta_region_t **out_r, size_t *out_i) {
  size_t unit = ta_hpa_geometry.unit_size;
  for (ta_region_t *r = hpa->regions; r; r = r->next) {
    if (r->nfree_units < k) continue;
    for (size_t i = 0; i + k <= r->nunits;) {
      if ((r->base + i * unit) & (align - 1)) { i++; continue; }
      size_t j = 0;
      while (j < k && unit_is_free(r, i + j)) j++;
      if (j == k) {
        *out_r = r;
        *out_i = i;
        return true;
      }
      i += j + 1;
    }
  }
  return false;
}

static void *alloc_span(ta_hpa_t *hpa, size_t n, size_t align_pages, bool *zeroed) {
  const ta_hpa_geometry_t *g = &ta_hpa_geometry;
  size_t k = (n + g->unit_pages - 1) / g->unit_pages;
  size_t align = align_pages << g->page_shift;
  if (align < g->unit_size) align = g->unit_size;
  ta_region_t *r;
  size_t first;
  if (!find_span(hpa, k, align, &r, &first)) {
    r = region_new(hpa, k, align);
    if (!r) return NULL;
    first = 0;
  }
  for (size_t i = 0; i < k; i++)
    if (!unit_record(r, first + i)) return NULL; /* records first: nothing half-done on failure */
  bool zero = true;
  for (size_t i = 0; i < k; i++) {
    ta_hpage_t *hp = r->units[first + i];
    size_t here = n - i * g->unit_pages < g->unit_pages ? n - i * g->unit_pages : g->unit_pages;
    dirty_unlink(hp);
    hp->kept_since = 0;
    hp->state = here == g->unit_pages ? UNIT_SPAN : UNIT_FILLER;
    if (hp->state == UNIT_FILLER && hp->ndirty)
      ta_list_push_front(&hpa->dirty_filler, &hp->dirty_link);
    zero &= alloc_in_unit(hpa, hp, 0, here);
  }
  r->nfree_units -= k;
  hpa->stats.units_in_use += k;
  *zeroed = zero;
  return (void *)(r->base + first * g->unit_size);
}

/* Collapses the units maybe_go_huge listed, without the lock: a unit freed, purged or broken
 * meanwhile is only made resident again (it reads the same; the kernel refuses a range marked
 * MADV_NOHUGEPAGE). A kernel without MADV_COLLAPSE leaves them to khugepaged, uncounted. */
static void collapse_units(ta_hpa_t *hpa, const uintptr_t *bases, unsigned n) {
  size_t done = 0, failed = 0;
  for (unsigned i = 0; i < n; i++) {
    int err = EAGAIN;
    for (unsigned t = 0; t < COLLAPSE_TRIES && err == EAGAIN; t++)
      err = ta_os_collapse((void *)bases[i], ta_hpa_geometry.unit_size);
    if (!err) done++;
    else if (err != EINVAL && err != ENOTSUP && err != ENOSYS) failed++;
  }
  ta_mutex_lock(&hpa->lock);
  hpa->stats.collapsed_units += done;
  hpa->stats.advise_failures += failed;
  ta_mutex_unlock(&hpa->lock);
}

void *ta_hpa_alloc(ta_hpa_t *hpa, size_t npages, size_t align_pages, bool *zeroed) {
  if (npages == 0) npages = 1;
  if (align_pages == 0) align_pages = 1;
  if (npages > SIZE_MAX / ta_hpa_geometry.page_size / 2) return NULL;
  ta_mutex_lock(&hpa->lock);
  void *p;
  size_t demand = hpa->prefault_demand;
  uintptr_t collapse[COLLAPSE_MAX];
  unsigned ncollapse = maybe_go_huge(hpa, npages, collapse);
  if (npages <= ta_hpa_geometry.unit_pages && align_pages <= ta_hpa_geometry.unit_pages)
    p = alloc_small(hpa, npages, align_pages, zeroed);
  else
    p = alloc_span(hpa, npages, align_pages, zeroed);
  bool wake = hpa->prefault_demand != demand;
  ta_mutex_unlock(&hpa->lock);
  if (ncollapse) collapse_units(hpa, collapse, ncollapse);
  if (wake) {
    ta_atomic_fetch_add(&ta_hpa_prefault_word, 1, ta_mo_release);
    ta_os_event_wake((const uint32_t *)&ta_hpa_prefault_word);
  }
  return p;
}

static void unbreak(ta_hpa_t *hpa, ta_hpage_t *hp);

static void free_in_unit(ta_hpa_t *hpa, ta_region_t *r, ta_hpage_t *hp, size_t off, size_t n,
                         uint64_t now) {
  if (hp->state == UNIT_SPAN) hp->state = UNIT_FILLER; /* a span unit freed in part */
  if (hp->state != UNIT_FILLER ||
      ta_bitmap_count_range(used_bits(hp), off, n) != n)
    ta_log_fatal("free of pages that are not allocated at %p (%zu pages): double free or heap "
                 "corruption", (void *)(hp->base + (off << ta_hpa_geometry.page_shift)), n);
  bool was_dirty = hp->ndirty != 0;
  size_t hollow = hp->nhollow ? ta_bitmap_count_range(hollow_bits(hp), off, n) : 0;
  ta_bitmap_clear_range(used_bits(hp), off, n);
  size_t pages = ta_hpa_geometry.unit_pages, run_end;
  size_t run = ta_bitmap_clear_run_around(used_bits(hp), off, n, pages, &run_end);
  if (run_end - run > hp->longest_free) hp->longest_free = (uint32_t)(run_end - run);
  if (hollow == 0) {
    ta_bitmap_set_range(dirty_bits(hp), off, n);
  } else {
    /* Pages the owner had purged read as zero: free and clean, not dirty. */
    for (size_t i = off; i < off + n; i++) {
      if (ta_bitmap_get(hollow_bits(hp), i)) ta_bitmap_clear(hollow_bits(hp), i);
      else ta_bitmap_set(dirty_bits(hp), i);
    }
    hp->nhollow -= (uint32_t)hollow;
    hpa->stats.hollow_pages -= hollow;
  }
  hp->nused -= (uint32_t)n;
  hp->ndirty += (uint32_t)(n - hollow);
  hpa->stats.active_pages -= n;
  hpa->stats.dirty_pages += n - hollow;
  if (!was_dirty && hp->ndirty) {
    hp->dirty_since = now;
    hp->kept_since = 0;
  }
  if (hp->nused == 0) {
    dirty_unlink(hp);
    hp->state = UNIT_FREE;
    filler_update(hpa, hp); /* leaves its bucket */
    r->nfree_units++;
    hpa->stats.units_in_use--;
    if (hp->ndirty) {
      ta_list_push_back(&hpa->dirty_free, &hp->dirty_link);
    } else if (hp->broken) {
      /* Wholly free and clean (its last pages were purged inside a slab): as the purge step
       * does for a unit it purges whole, make it one hugepage-advised range again. */
      unbreak(hpa, hp);
    }
  } else {
    if (!was_dirty && hp->ndirty) ta_list_push_back(&hpa->dirty_filler, &hp->dirty_link);
    filler_update(hpa, hp);
  }
}

void ta_hpa_free(ta_hpa_t *hpa, void *addr, size_t npages) {
  const ta_hpa_geometry_t *g = &ta_hpa_geometry;
  uintptr_t a = (uintptr_t)addr;
  uint64_t now = ta_os_now_ns();
  ta_mutex_lock(&hpa->lock);
  ta_region_t *r = region_of(hpa, a);
  if (!r || (a & (g->page_size - 1)))
    ta_log_fatal("free of pages at %p that this heap never handed out", addr);
  while (npages) {
    size_t idx = (a - r->base) / g->unit_size;
    ta_hpage_t *hp = idx < r->nunits ? r->units[idx] : NULL;
    if (!hp) ta_log_fatal("free of pages at %p that this heap never handed out", (void *)a);
    size_t off = (a - hp->base) >> g->page_shift;
    size_t n = npages < g->unit_pages - off ? npages : g->unit_pages - off;
    free_in_unit(hpa, r, hp, off, n, now);
    a += n << g->page_shift;
    npages -= n;
  }
  ta_mutex_unlock(&hpa->lock);
}

bool ta_hpa_try_grow(ta_hpa_t *hpa, void *addr, size_t npages, size_t more, bool *zeroed) {
  const ta_hpa_geometry_t *g = &ta_hpa_geometry;
  uintptr_t a = (uintptr_t)addr;
  bool ok = false;
  ta_mutex_lock(&hpa->lock);
  ta_region_t *r = region_of(hpa, a);
  if (r) {
    ta_hpage_t *hp = r->units[(a - r->base) / g->unit_size];
    size_t off = (a - hp->base) >> g->page_shift;
    if (hp->state == UNIT_FILLER && off + npages + more <= g->unit_pages &&
        ta_bitmap_count_range(used_bits(hp), off + npages, more) == 0) {
      *zeroed = alloc_in_unit(hpa, hp, off + npages, more);
      ok = true;
    }
  }
  ta_mutex_unlock(&hpa->lock);
  return ok;
}

/* ---- purging ---- */

static void mark_broken(ta_hpa_t *hpa, ta_hpage_t *hp) {
  hp->broken = true;
  hpa->stats.broken_units++;
  if (hpa->stats.marked_units >= ta_conf.nohuge_marks_max) {
    hpa->stats.unmarked_breaks++;
    return;
  }
  if (ta_os_advise_huge((void *)hp->base, ta_hpa_geometry.unit_size, false) == 0) {
    hp->marked = true;
    hpa->stats.marked_units++;
  } else {
    hpa->stats.advise_failures++;
  }
}

static void unbreak(ta_hpa_t *hpa, ta_hpage_t *hp) {
  if (hp->marked) {
    /* A failed re-advice leaves the range 4 KiB-backed: slower, never wrong. A heap not on
     * hugepages yet leaves the mark to maybe_go_huge's advice of the whole region. */
    if (hpa->huge && ta_os_advise_huge((void *)hp->base, ta_hpa_geometry.unit_size, true) != 0)
      hpa->stats.advise_failures++;
    hp->marked = false;
    hpa->stats.marked_units--;
  }
  hp->broken = false;
  hp->base_only = false;
  hpa->stats.broken_units--;
}

static size_t purge_dirty_runs(ta_hpa_t *hpa, ta_hpage_t *hp) {
  const ta_hpa_geometry_t *g = &ta_hpa_geometry;
  size_t purged = 0, end = g->unit_pages;
  for (size_t pos = 0, s, e; (s = ta_bitmap_find_run(dirty_bits(hp), pos, end, true, &e)) < end; pos = e) {
    if (ta_os_purge((void *)(hp->base + (s << g->page_shift)), (e - s) << g->page_shift) == 0) {
      ta_bitmap_clear_range(dirty_bits(hp), s, e - s);
      purged += e - s;
    } else {
      hpa->stats.purge_failures++;
    }
  }
  hp->ndirty -= (uint32_t)purged;
  hpa->stats.dirty_pages -= purged;
  hpa->stats.purged_pages += purged;
  return purged;
}

/* A migration is moving pages of this unit: its free pages were purged when it began, and
 * nothing is purged under it until it ends. */
static bool is_migrating(const ta_hpa_t *hpa, const ta_hpage_t *hp) {
  return hp->base < hpa->migrating_hi && hp->base + ta_hpa_geometry.unit_size > hpa->migrating_lo;
}

size_t ta_hpa_purge_step(ta_hpa_t *hpa, uint64_t now, size_t budget, bool force) {
  const ta_hpa_geometry_t *g = &ta_hpa_geometry;
  size_t purged = 0;
  ta_mutex_lock(&hpa->lock);
  /* Wholly free units: purge whole, so the range stays one hugepage-advised mapping. */
  for (ta_list_t *l = hpa->dirty_free.next; l != &hpa->dirty_free && (!budget || purged < budget);) {
    ta_hpage_t *hp = ta_list_entry(l, ta_hpage_t, dirty_link);
    if (!force && !ta_decay_is_due(now, hp->dirty_since, hpa->decay_ns)) break;
    l = l->next;
    if (is_migrating(hpa, hp)) continue;
    dirty_unlink(hp);
    if (ta_os_purge((void *)hp->base, g->unit_size) != 0) {
      hpa->stats.purge_failures++;
      hp->dirty_since = now; /* counted as still dirty; retried a decay period later */
      ta_list_push_back(&hpa->dirty_free, &hp->dirty_link);
      break;
    }
    memset(dirty_bits(hp), 0, words * sizeof(uint64_t));
    purged += hp->ndirty;
    hpa->stats.dirty_pages -= hp->ndirty;
    hpa->stats.purged_pages += hp->ndirty;
    hp->ndirty = 0;
    if (hp->broken) unbreak(hpa, hp);
  }
  /* Units with live data: purge their free pages only when breaking the hugepage pays, or when
   * the unit has been kept whole with dirty pages for KEEP_WHOLE_DECAYS decay periods. Without
   * that bound, holes in a unit that stays more than break_pct used were kept resident for
   * ever, and a long-running server whose long-lived objects spread over more units grew by
   * those holes round after round. Ten periods: a hole that is reused within them (the common
   * case for a hot unit) never breaks the hugepage. */
  /* Units that cannot be purged now go back to the tail; visiting each unit at most once per
   * step keeps a failing MADV_DONTNEED (or a decay of 0) from looping with the lock held. */
  size_t visits = 0, limit = 0;
  for (ta_list_t *l = hpa->dirty_filler.next; l != &hpa->dirty_filler; l = l->next) limit++;
  for (ta_list_t *l = hpa->dirty_filler.next;
       l != &hpa->dirty_filler && (!budget || purged < budget) && visits++ < limit;) {
    ta_hpage_t *hp = ta_list_entry(l, ta_hpage_t, dirty_link);
    if (!force && !ta_decay_is_due(now, hp->dirty_since, hpa->decay_ns)) break;
    l = l->next;
    if (is_migrating(hpa, hp)) continue;
    dirty_unlink(hp);
    bool stale = hp->kept_since && now - hp->kept_since >= KEEP_WHOLE_DECAYS * hpa->decay_ns;
    if (force || stale ||
        ta_decay_should_break(unit_in_use(hpa, hp), g->unit_pages, hpa->break_pct,
                              hp->broken || !hpa->huge)) {
      hp->kept_since = 0;
      if (stale) hpa->stats.stale_breaks++;
      if (!hp->broken && hpa->huge) mark_broken(hpa, hp);
      purged += purge_dirty_runs(hpa, hp);
      if (hp->ndirty) { /* a purge failed: try again later */
        hp->dirty_since = now;
        ta_list_push_back(&hpa->dirty_filler, &hp->dirty_link);
      }
    } else {
      /* Kept whole: look again after another decay period. */
      if (!hp->kept_since) hp->kept_since = hp->dirty_since ? hp->dirty_since : 1;
      hp->dirty_since = now;
      ta_list_push_back(&hpa->dirty_filler, &hp->dirty_link);
    }
  }
  ta_mutex_unlock(&hpa->lock);
  return purged;
}

/* ---- interior purge: free pages inside allocations (slabs) ---- */

/* Calls fn on each unit's part of [addr, addr + npages pages), under the lock. Pages outside
 * this heap, or not handed out, mean the caller's bookkeeping is broken. */
static size_t for_each_unit_part(ta_hpa_t *hpa, void *addr, size_t npages,
                                 size_t (*fn)(ta_hpa_t *, ta_hpage_t *, size_t, size_t, bool), bool arg) {
  const ta_hpa_geometry_t *g = &ta_hpa_geometry;
  uintptr_t a = (uintptr_t)addr;
  size_t done = 0;
  ta_region_t *r = region_of(hpa, a);
  while (npages) {
    size_t idx = r ? (a - r->base) / g->unit_size : 0;
    ta_hpage_t *hp = r && idx < r->nunits ? r->units[idx] : NULL;
    size_t off = hp ? (a - hp->base) >> g->page_shift : 0;
    size_t n = npages < g->unit_pages - off ? npages : g->unit_pages - off;
    if (!hp || hp->state == UNIT_FREE || ta_bitmap_count_range(used_bits(hp), off, n) != n)
      ta_log_fatal("pages at %p inside an allocation are not allocated: heap corruption", (void *)a);
    done += fn(hpa, hp, off, n, arg);
    a += n << g->page_shift;
    npages -= n;
  }
  return done;
}

/* ---- base pages for blocks the hotness policy ranks ---- */

static size_t keep_base_part(ta_hpa_t *hpa, ta_hpage_t *hp, size_t off, size_t n, bool unused) {
  (void)off;
  (void)unused;
  if (n == ta_hpa_geometry.unit_pages) return 0; /* a whole unit is watched and moved whole */
  /* Nothing else lives in the unit and no freed page of it is resident: nothing of it is. (A
   * unit whose hugepage was split by an interior purge and which then emptied may keep pages no
   * one was given resident in a piece of the old hugepage; not told apart here.) */
  if (!hp->broken && hp->nused == n && hp->ndirty == 0) {
    mark_broken(hpa, hp);
    hp->base_only = hp->marked;
  }
  return hp->base_only ? 0 : 1;
}

bool ta_hpa_keep_base(ta_hpa_t *hpa, void *addr, size_t npages) {
  if (!ta_hpa_geometry.hugepages) return true;
  ta_mutex_lock(&hpa->lock);
  size_t shared = for_each_unit_part(hpa, addr, npages, keep_base_part, false);
  ta_mutex_unlock(&hpa->lock);
  return shared == 0;
}

void ta_hpa_begin_inside(ta_hpa_t *hpa) {
  ta_mutex_lock(&hpa->lock);
  hpa->inside_epoch++;
  ta_mutex_unlock(&hpa->lock);
}

static size_t note_part(ta_hpa_t *hpa, ta_hpage_t *hp, size_t off, size_t n, bool unused) {
  (void)unused;
  if (hp->inside_epoch != hpa->inside_epoch) {
    hp->inside_epoch = hpa->inside_epoch;
    hp->ninside = 0;
  }
  size_t resident = n - (hp->nhollow ? ta_bitmap_count_range(hollow_bits(hp), off, n) : 0);
  hp->ninside += (uint32_t)resident;
  return resident;
}

void ta_hpa_note_inside(ta_hpa_t *hpa, void *addr, size_t npages) {
  ta_mutex_lock(&hpa->lock);
  for_each_unit_part(hpa, addr, npages, note_part, false);
  ta_mutex_unlock(&hpa->lock);
}

static size_t purge_part(ta_hpa_t *hpa, ta_hpage_t *hp, size_t off, size_t n, bool force) {
  const ta_hpa_geometry_t *g = &ta_hpa_geometry;
  if (is_migrating(hpa, hp)) return 0;
  /* The same rule as for the unit's free pages (ta_hpa_purge_step): a whole hugepage is split
   * only when what is left in use after the purge is worth less than keeping it whole. */
  if (!force && !ta_decay_should_break(unit_in_use(hpa, hp), g->unit_pages, hpa->break_pct,
                                       hp->broken || !hpa->huge))
    return 0;
  size_t purged = 0;
  /* The runs not purged yet. */
  for (size_t pos = off, s, e; (s = ta_bitmap_find_run(hollow_bits(hp), pos, off + n, false, &e)) < off + n;
       pos = e) {
    if (!hp->broken && hpa->huge) mark_broken(hpa, hp);
    if (ta_os_purge((void *)(hp->base + (s << g->page_shift)), (e - s) << g->page_shift) == 0) {
      ta_bitmap_set_range(hollow_bits(hp), s, e - s);
      purged += e - s;
    } else {
      hpa->stats.purge_failures++;
    }
  }
  /* The purge step kept this unit whole although its free pages were due (kept_since): now
   * that it is broken they have no reason to wait another decay period. */
  if (purged && hp->broken && hp->ndirty && hp->kept_since) {
    dirty_unlink(hp);
    hp->kept_since = 0;
    purge_dirty_runs(hpa, hp);
    if (hp->ndirty) ta_list_push_back(&hpa->dirty_filler, &hp->dirty_link); /* a purge failed */
  }
  if (hp->inside_epoch == hpa->inside_epoch)
    hp->ninside = hp->ninside > purged ? hp->ninside - (uint32_t)purged : 0;
  hp->nhollow += (uint32_t)purged;
  hpa->stats.hollow_pages += purged;
  hpa->stats.purged_pages += purged;
  hpa->stats.inside_purged_pages += purged;
  return purged;
}

size_t ta_hpa_purge_inside(ta_hpa_t *hpa, void *addr, size_t npages, bool force) {
  ta_mutex_lock(&hpa->lock);
  size_t purged = for_each_unit_part(hpa, addr, npages, purge_part, force);
  ta_mutex_unlock(&hpa->lock);
  return purged;
}

static size_t reuse_part(ta_hpa_t *hpa, ta_hpage_t *hp, size_t off, size_t n, bool unused) {
  (void)unused;
  size_t hollow = hp->nhollow ? ta_bitmap_count_range(hollow_bits(hp), off, n) : 0;
  if (!hollow) return 0;
  ta_bitmap_clear_range(hollow_bits(hp), off, n);
  hp->nhollow -= (uint32_t)hollow;
  hpa->stats.hollow_pages -= hollow;
  return hollow;
}

size_t ta_hpa_reuse_inside(ta_hpa_t *hpa, void *addr, size_t npages) {
  ta_mutex_lock(&hpa->lock);
  size_t n = for_each_unit_part(hpa, addr, npages, reuse_part, false);
  ta_mutex_unlock(&hpa->lock);
  return n;
}

size_t ta_hpa_migrate_begin(ta_hpa_t *hpa, void *addr, size_t len) {
  const ta_hpa_geometry_t *g = &ta_hpa_geometry;
  uintptr_t lo = (uintptr_t)addr & ~(uintptr_t)(g->unit_size - 1);
  uintptr_t hi = ((uintptr_t)addr + len + g->unit_size - 1) & ~(uintptr_t)(g->unit_size - 1);
  size_t purged = 0;
  ta_mutex_lock(&hpa->lock);
  hpa->migrating_lo = lo;
  hpa->migrating_hi = hi;
  for (uintptr_t a = lo; a < hi; a += g->unit_size) {
    ta_region_t *r = region_of(hpa, a);
    ta_hpage_t *hp = r ? r->units[(a - r->base) / g->unit_size] : NULL;
    if (!hp || !hp->ndirty || hp->state == UNIT_FREE) continue;
    dirty_unlink(hp);
    if (!hp->broken && hpa->huge) mark_broken(hpa, hp);
    purged += purge_dirty_runs(hpa, hp);
    if (hp->ndirty) ta_list_push_back(&hpa->dirty_filler, &hp->dirty_link); /* a purge failed */
  }
  ta_mutex_unlock(&hpa->lock);
  return purged;
}

void ta_hpa_migrate_end(ta_hpa_t *hpa) {
  ta_mutex_lock(&hpa->lock);
  hpa->migrating_lo = hpa->migrating_hi = 0;
  ta_mutex_unlock(&hpa->lock);
}

/* ---- prefaulting ---- */

/* A unit faulted in (or, after a failure, possibly in part) goes back to the free pool as
 * resident: all its pages dirty, so the decay purges it if nothing takes it. */
static void prefault_done(ta_hpa_t *hpa, ta_region_t *r, ta_hpage_t *hp, uint64_t now, bool resident) {
  const ta_hpa_geometry_t *g = &ta_hpa_geometry;
  hp->state = UNIT_FREE;
  r->nfree_units++;
  if (!resident) return;
  ta_bitmap_set_range(dirty_bits(hp), 0, g->unit_pages);
  hpa->stats.dirty_pages += g->unit_pages - hp->ndirty;
  hp->ndirty = (uint32_t)g->unit_pages;
  hp->dirty_since = now;
  hp->kept_since = 0;
  ta_list_push_back(&hpa->dirty_free, &hp->dirty_link);
}

size_t ta_hpa_prefault_step(ta_hpa_t *hpa, unsigned ahead, uint64_t now) {
  const ta_hpa_geometry_t *g = &ta_hpa_geometry;
  ta_hpage_t *batch[PREFAULT_MAX_AHEAD];
  ta_region_t *where[PREFAULT_MAX_AHEAD];
  int err[PREFAULT_MAX_AHEAD];
  unsigned n = 0;
  if (ahead > PREFAULT_MAX_AHEAD) ahead = PREFAULT_MAX_AHEAD;
  ta_mutex_lock(&hpa->lock);
  if (!hpa->prefault_demand || hpa->prefault_off || hpa->prefaulting || !hpa->huge) {
    ta_mutex_unlock(&hpa->lock);
    return 0;
  }
  hpa->prefault_demand = 0;
  /* Resident wholly free units are taken first (take_free_unit): they count as ahead. */
  unsigned resident = 0;
  for (ta_list_t *l = hpa->dirty_free.next; l != &hpa->dirty_free && resident < ahead; l = l->next)
    resident++;
  /* The units take_free_unit would reach next, in its order; regions are never created here. */
  for (ta_region_t *r = hpa->regions; r && resident + n < ahead; r = r->next) {
    for (size_t i = 0; r->nfree_units && i < r->nunits && resident + n < ahead; i++) {
      if (!unit_is_free(r, i) || (r->units[i] && r->units[i]->ndirty)) continue;
      ta_hpage_t *hp = unit_record(r, i);
      if (!hp) break;
      hp->state = UNIT_PREFAULT;
      r->nfree_units--;
      batch[n] = hp;
      where[n++] = r;
    }
  }
  hpa->prefaulting = n;
  ta_mutex_unlock(&hpa->lock);
  for (unsigned k = 0; k < n; k++) err[k] = ta_os_populate((void *)batch[k]->base, g->unit_size);
  size_t done = 0;
  ta_mutex_lock(&hpa->lock);
  for (unsigned k = 0; k < n; k++) {
    /* No support (kernels before 5.14, ops without it): nothing was touched; stop asking. */
    bool unsupported = err[k] == EINVAL || err[k] == ENOTSUP || err[k] == ENOSYS;
    if (unsupported) hpa->prefault_off = true;
    prefault_done(hpa, where[k], batch[k], now, !unsupported);
    if (!err[k]) done++;
  }
  hpa->prefaulting = 0;
  hpa->stats.prefaulted_units += done;
  ta_mutex_unlock(&hpa->lock);
  return done;
}

uint64_t ta_hpa_next_due(ta_hpa_t *hpa) {
  uint64_t due = UINT64_MAX;
  ta_mutex_lock(&hpa->lock);
  if (!ta_list_is_empty(&hpa->dirty_free))
    due = ta_list_entry(hpa->dirty_free.next, ta_hpage_t, dirty_link)->dirty_since + hpa->decay_ns;
  if (!ta_list_is_empty(&hpa->dirty_filler)) {
    uint64_t d = ta_list_entry(hpa->dirty_filler.next, ta_hpage_t, dirty_link)->dirty_since + hpa->decay_ns;
    if (d < due) due = d;
  }
  ta_mutex_unlock(&hpa->lock);
  return due;
}

void ta_hpa_get_stats(ta_hpa_t *hpa, ta_hpa_stats_t *out) {
  ta_mutex_lock(&hpa->lock);
  *out = hpa->stats;
  ta_mutex_unlock(&hpa->lock);
}

size_t ta_hpa_check_index(ta_hpa_t *hpa) {
  size_t bad = 0;
  ta_mutex_lock(&hpa->lock);
  for (ta_region_t *r = hpa->regions; r; r = r->next)
    for (size_t i = 0; i < r->nunits; i++) {
      ta_hpage_t *hp = r->units[i];
      if (!hp || hp->state == UNIT_FREE || hp->state == UNIT_PREFAULT) continue;
      size_t longest = ta_bitmap_longest_clear_run(used_bits(hp), ta_hpa_geometry.unit_pages);
      bad += hp->longest_free != longest || hp->bucket != filler_bucket(hp, longest);
    }
  ta_mutex_unlock(&hpa->lock);
  return bad;
}

/* track_lock (rank LARGE) is handled by large.c's fork functions, before every hpa lock. */
void ta_hpa_prefork(ta_hpa_t *hpa) { ta_mutex_lock(&hpa->lock); }
void ta_hpa_postfork_parent(ta_hpa_t *hpa) { ta_mutex_unlock(&hpa->lock); }
void ta_hpa_postfork_child(ta_hpa_t *hpa) {
  ta_mutex_postfork_child(&hpa->lock);
  /* Units the parent's background thread was faulting in: back to the pool, maybe resident. */
  for (ta_region_t *r = hpa->regions; r && hpa->prefaulting; r = r->next)
    for (size_t i = 0; i < r->nunits && hpa->prefaulting; i++)
      if (r->units[i] && r->units[i]->state == UNIT_PREFAULT) {
        prefault_done(hpa, r, r->units[i], ta_os_now_ns(), true);
        hpa->prefaulting--;
      }
  hpa->migrating_lo = hpa->migrating_hi = 0; /* the migrating thread is not in the child */
}
