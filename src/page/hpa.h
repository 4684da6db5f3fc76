/* hpa.h: the hugepage-aware page allocator, one per (node, tier).
 *
 * Memory is managed in hugepage units (the kernel's PMD hugepage size read at run time, e.g.
 * 2 MiB on x86-64 with 4 KiB pages). Address space is reserved in large regions, advised
 * MADV_HUGEPAGE once per region (and bound once per region by the tier layer), and carved into
 * units, so the number of kernel mappings stays small. A heap that has handed out less than
 * conf thp_min_mb is on base pages (its regions marked MADV_NOHUGEPAGE) until it reaches it:
 * then its regions are advised and the units resident so far collapsed (ta_hpa_t.huge).
 * A request of at most one unit is served from a partly used unit (the "filler": the unit with
 * the shortest free run that fits, which is the fullest one that can take it), else from a
 * whole free unit; a larger request takes a span of whole units, whose unused tail pages go to
 * the filler.
 *
 * Freed pages stay resident ("dirty") for dirty_decay_ms, for reuse; ta_hpa_purge_step then
 * returns them. A whole free unit is purged as a whole and stays hugepage-advised. Free pages
 * inside a unit that still holds live data are purged only when ta_decay_should_break agrees,
 * or once the unit has been kept whole with dirty pages for ten decay periods;
 * the unit is then marked MADV_NOHUGEPAGE so khugepaged does not collapse it back to a resident
 * hugepage, and re-advised once it is wholly free and purged.
 *
 * Pages inside an allocation may be free too: a sparse slab has whole pages with no object in
 * use. Their owner reports them (ta_hpa_note_inside) and may have them purged while the
 * allocation stays (ta_hpa_purge_inside), under the same rule: they count as free when the
 * purge step weighs breaking a unit, and they are purged only when that break pays or the unit
 * is broken already. Such "hollow" pages read as zero until the owner reuses them
 * (ta_hpa_reuse_inside) or frees them.
 *
 * All functions are thread-safe (one lock per hpa, rank HPA). */
#ifndef TA_HPA_H
#define TA_HPA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ds.h"

TA_EXTERN_C_BEGIN

/* Geometry fixed at start-up from the kernel's page and hugepage sizes. */
typedef struct {
  size_t page_size;
  unsigned page_shift;
  size_t unit_size;       /* hugepage unit in bytes */
  size_t unit_pages;      /* base pages per unit, at most TA_HPA_MAX_UNIT_PAGES */
  bool hugepages;         /* advise MADV_HUGEPAGE (THP available and conf.thp) */
} ta_hpa_geometry_t;

#define TA_HPA_MAX_UNIT_PAGES 2048

extern ta_hpa_geometry_t ta_hpa_geometry;

/* Reads ta_os_info and ta_conf; call once before any hpa is used. */
void ta_hpa_geometry_init(void);

typedef struct ta_hpa_stats {
  size_t mapped_bytes;     /* address space reserved */
  size_t active_pages;     /* handed out */
  size_t dirty_pages;      /* free but resident */
  size_t purged_pages;     /* returned to the kernel, total */
  size_t broken_units;     /* units split on purpose now */
  size_t marked_units;     /* of those, marked MADV_NOHUGEPAGE (at most conf nohuge_marks_max) */
  size_t unmarked_breaks;  /* breaks left unmarked because the bound was reached, total */
  size_t units_in_use;     /* units holding live data */
  size_t place_failures;   /* regions left unbound because the placement hook failed */
  size_t map_failures;     /* reservations the kernel refused (each retried smaller once) */
  size_t purge_failures;   /* MADV_DONTNEED calls that failed (the pages stay counted dirty) */
  size_t advise_failures;  /* MADV_HUGEPAGE / MADV_NOHUGEPAGE calls that failed */
  size_t stale_breaks;     /* units broken because they were kept whole, dirty, for ten decay
                              periods (cumulative) */
  size_t hollow_pages;     /* pages handed out, purged inside their allocation now */
  size_t inside_purged_pages; /* of purged_pages, those purged inside allocations (cumulative) */
  size_t fresh_units;      /* units an allocating thread took while not resident, so its first
                              touch faulted them in (cumulative) */
  size_t prefaulted_units; /* units ta_hpa_prefault_step faulted in ahead of demand (cumulative) */
  size_t collapsed_units;  /* units made hugepages at once when the heap passed conf thp_min_mb
                              (cumulative) */
} ta_hpa_stats_t;

struct ta_hpage;
struct ta_region;

typedef struct ta_hpa {
  ta_mutex_t lock;
  unsigned node;
  uint64_t decay_ns;
  unsigned break_pct;
  struct ta_region *regions;
  struct ta_region *last_region;     /* lookup cache */
  ta_list_t *buckets;                /* filler units by longest free run */
  unsigned nbuckets;
  ta_list_t dirty_filler;            /* units with live data and dirty pages, oldest first */
  ta_list_t dirty_free;              /* wholly free units still resident, oldest first */
  uint32_t inside_epoch;             /* the interior-purge round ta_hpa_note_inside counts for */
  /* Placement hook: called once for each fresh region before first touch (bind to a node);
   * an error is counted and the region is used unbound. Set by the tier layer, NULL = none. */
  int (*place_region)(struct ta_hpa *hpa, void *addr, size_t size);
  ta_hpa_stats_t stats;
  /* The range a migration is moving now (ta_hpa_migrate_begin/end), under lock: purge steps
   * leave the units it overlaps alone. lo == hi: none. */
  uintptr_t migrating_lo, migrating_hi;
  /* Large extents of this heap tracked for the hotness policy (large.c), under track_lock
   * (rank LARGE: taken before `lock`, never while holding it). */
  ta_mutex_t track_lock;
  ta_list_t tracked;
  size_t ntracked;
  /* Prefaulting (ta_hpa_prefault_step), under lock: units taken not resident since the last
   * step, units being faulted in now (out of the free pool), and whether the kernel refused. */
  size_t prefault_demand;
  unsigned prefaulting;
  bool prefault_off;
  /* Hugepages (under lock): off while the heap has handed out fewer than huge_pages pages
   * (conf thp_min_mb): its regions are marked off and its units not treated as hugepages.
   * The allocation that turns it on advises the regions and collapses the units already
   * resident (after dropping the lock); it stays on. */
  bool huge;
  size_t huge_pages;
} ta_hpa_t;

/* pre: ta_hpa_geometry_init ran. Returns 0 or ENOMEM. */
int ta_hpa_init(ta_hpa_t *hpa, unsigned node, uint64_t decay_ns, unsigned break_pct);

/* npages contiguous base pages whose address is a multiple of align_pages pages (a power of
 * two). *zeroed says whether every page is known to read as zero. NULL when out of memory. */
void *ta_hpa_alloc(ta_hpa_t *hpa, size_t npages, size_t align_pages, bool *zeroed);

/* Returns pages from ta_hpa_alloc (all of an allocation, or its tail when shrinking). Freeing
 * a page that is not allocated aborts with a message: it means heap corruption. */
void ta_hpa_free(ta_hpa_t *hpa, void *addr, size_t npages);

/* Grows an allocation in place by `more` pages if they are free and in the same unit.
 * Returns true on success. */
bool ta_hpa_try_grow(ta_hpa_t *hpa, void *addr, size_t npages, size_t more, bool *zeroed);

/* For a block the hotness policy will rank (large.c), just allocated and not touched yet: each
 * unit the block covers only in part and that holds nothing else resident is broken and marked
 * MADV_NOHUGEPAGE now, before the first touch, so it is faulted in base pages; later blocks
 * placed in such a unit are in base pages too. Returns true when every unit the block covers in
 * part is such a unit: no transparent hugepage is shared with a neighbour, so the policy need
 * not split one before it watches or moves the block (splitting the tiering benchmark's 640
 * blocks took ~3 s of each run under TCG). False otherwise (the unit held other data, or the
 * bound nohuge_marks_max was reached): the policy splits as before. The cost: such units are
 * never hugepages while they hold data (a ranked block sharing a hugepage is split anyway). */
bool ta_hpa_keep_base(ta_hpa_t *hpa, void *addr, size_t npages);

/* Purges what is due at `now`, at most budget_pages pages (0 = no limit); `force` ignores the
 * decay period (explicit purge requests). Returns the pages purged. */
size_t ta_hpa_purge_step(ta_hpa_t *hpa, uint64_t now_ns, size_t budget_pages, bool force);

/* Interior purge, for owners of allocations with free pages inside (slabs; bin.c). Each round:
 * begin; note every run of free resident-or-purged pages the owner will offer; then offer them
 * with purge_inside, which purges those not purged yet when the unit's policy allows (the unit
 * is broken already, hugepages are off, force, or what stays in use after counting every
 * noted and hollow page as free is at most break_pct of the unit; the unit is then broken).
 * Returns the pages purged now. The owner must keep the pages free of data meanwhile (hold its
 * own lock across the call); reuse_inside tells the heap that the owner hands those pages out
 * again (returns how many were hollow). Pages outside handed-out allocations abort. */
void ta_hpa_begin_inside(ta_hpa_t *hpa);
void ta_hpa_note_inside(ta_hpa_t *hpa, void *addr, size_t npages);
size_t ta_hpa_purge_inside(ta_hpa_t *hpa, void *addr, size_t npages, bool force);
size_t ta_hpa_reuse_inside(ta_hpa_t *hpa, void *addr, size_t npages);

/* Migration-aware purging, around moving the pages of [addr, addr + len) (one range per hpa
 * at a time): begin purges now the free resident pages of every unit the range overlaps, so a
 * hugepage move copies only live bytes (and a partly used hugepage is split, so only the
 * range's own pages move), and keeps purge steps off those units until end. Returns the pages
 * purged. */
size_t ta_hpa_migrate_begin(ta_hpa_t *hpa, void *addr, size_t len);
void ta_hpa_migrate_end(ta_hpa_t *hpa);

/* Prefaulting: moves the first touch of fresh hugepage units off allocating threads. Taking a
 * unit that is not resident (its first touch will fault in a whole hugepage: zeroing 2 MiB,
 * and with THP defrag at madvise possibly compacting memory, or in a guest with free page
 * reporting waiting for the hypervisor to back it again) bumps ta_hpa_prefault_word and wakes
 * its waiters. The background thread then calls ta_hpa_prefault_step, which faults in free
 * units until `ahead` resident wholly free units wait in the heap (ta_os_populate, lock not
 * held), so the next units taken are resident already. They count as dirty pages: unused ones
 * are purged after the decay period like any freed unit. Only heaps that took a non-resident
 * unit since the last step do anything, so an idle heap is never refilled. Returns the units
 * faulted in. ta_hpa_fresh_units_total counts non-resident units taken by all heaps. */
extern ta_atomic(uint32_t) ta_hpa_prefault_word;
extern ta_atomic(uint64_t) ta_hpa_fresh_units_total;
size_t ta_hpa_prefault_step(ta_hpa_t *hpa, unsigned ahead, uint64_t now_ns);

/* When the next purge is due; UINT64_MAX when nothing is dirty. */
uint64_t ta_hpa_next_due(ta_hpa_t *hpa);

void ta_hpa_get_stats(ta_hpa_t *hpa, ta_hpa_stats_t *out);
/* Units in use whose filler index (longest free run, bucket) disagrees with their pages: 0 in
 * a consistent heap. A full scan under the lock, for tests. */
size_t ta_hpa_check_index(ta_hpa_t *hpa);

void ta_hpa_prefork(ta_hpa_t *hpa);
void ta_hpa_postfork_parent(ta_hpa_t *hpa);
void ta_hpa_postfork_child(ta_hpa_t *hpa);

TA_EXTERN_C_END

#endif
