/* bin.c: filling from and returning to one class of one arena (see bin.h). */
#include "bin.h"

#include "arena.h"

#include <errno.h>

#include "conf.h"
#include "decay.h"

void ta_bin_init(ta_bin_t *bin) {
  ta_mutex_init(&bin->lock, TA_LOCK_RANK_BIN);
  ta_list_init(&bin->nonfull);
  bin->spare = NULL;
  bin->drain_bytes = 0;
}

/* A class with a handful of objects out (a size a program uses now and then, or one of the many
 * classes above 4 KiB a cache's values spread over) would leave most of each long slab free,
 * and those slots serve no other class: its new slabs take the short shape until it has
 * sparse_slabs slabs' worth of objects out. */
static ta_slab_shape_t new_slab_shape(const ta_bin_t *bin, unsigned cls) {
  const ta_class_info_t *ci = &ta_class_info[cls];
  return ta_slab_shape(cls, ci->sparse_pages != ci->slab_pages &&
                                bin->stats.live < (uint64_t)ta_conf.sparse_slabs * ci->nobjs);
}

static void slab_gone(ta_bin_t *bin, const ta_extent_t *slab) {
  bin->stats.nslabs--;
  bin->stats.objs -= slab->nobjs;
}

unsigned ta_bin_fill(ta_bin_t *bin, ta_hpa_t *hpa, unsigned cls, unsigned arena, unsigned node,
                     void **out, unsigned n) {
  unsigned got = 0;
  ta_mutex_lock(&bin->lock);
  uint64_t now = ta_atomic_load(&ta_arena_clock, ta_mo_relaxed);
  while (got < n) {
    ta_extent_t *slab;
    if (!ta_list_is_empty(&bin->nonfull)) {
      slab = ta_list_entry(bin->nonfull.next, ta_extent_t, link);
    } else {
      if (bin->spare) {
        slab = bin->spare;
        bin->spare = NULL;
      } else {
        ta_slab_shape_t shape = new_slab_shape(bin, cls);
        slab = ta_slab_cache_take(&ta_arenas[arena]->slab_cache, hpa, cls, shape, arena);
        if (!slab) slab = ta_slab_new(hpa, cls, shape, arena, node);
        if (!slab) break;
        bin->stats.nslabs++;
        bin->stats.objs += slab->nobjs;
      }
      ta_list_push_front(&bin->nonfull, &slab->link);
    }
    unsigned took = ta_slab_take(slab, out + got, n - got);
    if (ta_unlikely(slab->npurged || slab->vacant)) ta_slab_reuse_pages(hpa, slab, out + got, took);
    slab->usable = now; /* in use: its free pages are not idle */
    got += took;
    if (slab->nfree == 0) ta_list_remove(&slab->link);
  }
  bin->drain_bytes = 0; /* a take: the class is not draining */
  bin->stats.nfills++;
  bin->stats.nmalloc += got;
  bin->stats.live += got;
  ta_mutex_unlock(&bin->lock);
  return got;
}

/* ---- shedding ----
 * A phase that replaces values of one size by values of another (redis overwriting 4 KiB
 * values with 512-byte ones) frees the old class's objects at random and takes none: its slabs
 * end up sparse, each pinned by one or two live objects, while the new class faults in fresh
 * slabs. The peak comes during that phase, before any decay is due, so the interior purge
 * cannot lower it; and purging would split the hugepages. Instead, once the bin has taken back
 * drain_shed_kb with no take, each return hands the slab's whole free pages to the page layer
 * (ta_slab_shed): they stay resident and on their hugepage, dirty, and the next slab of any
 * class that fits is carved from them rather than from fresh memory. A class that takes again
 * stops shedding at once, so a busy class does not give pages away and ask for them back; the
 * pages it shed are gone from its slabs for good (the slab shrinks), not borrowed.
 * Only classes of at least a quarter page shed: a page of smaller objects rarely empties under
 * random frees, and looking after every return cost the frag benchmark's drain of 16-256 B
 * objects 4% of its CPU time for nothing. */
#define SHED_MIN_PAGE_SHARE 4

/* Only the pages under the object just returned are looked at: a page becomes free when its
 * last object comes back, so while the class drains each page is shed as it empties. (Pages
 * that were free before the class began to drain stay; the interior purge sees them.) */
static void shed_free_pages(ta_bin_t *bin, ta_hpa_t *hpa, ta_extent_t *slab, const void *p) {
  uint64_t pages[TA_BITMAP_WORDS(TA_HPA_MAX_UNIT_PAGES)];
  if (!ta_slab_free_pages_under(slab, p, pages)) return;
  uint32_t lost = slab->nshed;
  size_t n = ta_slab_shed(hpa, slab, pages);
  bin->stats.shed_pages += n;
  bin->stats.shed_objs += slab->nshed - lost;
  if (n && slab->nfree == 0) ta_list_remove(&slab->link); /* every free object was on them */
}

void ta_bin_put_locked(ta_bin_t *bin, ta_hpa_t *hpa, ta_extent_t *slab, void *p) {
  int err = ta_slab_put(slab, p);
  if (ta_unlikely(err))
    ta_log_fatal("%s of %p (size class %u, %u bytes): %s", "free", p, slab->size_class,
                 ta_class_info[slab->size_class].size,
                 err == EALREADY ? "double free" : "pointer inside an object, not its start");
  const ta_class_info_t *ci = &ta_class_info[slab->size_class];
  bin->stats.nfree++;
  bin->stats.live--;
  bin->drain_bytes += ci->size;
  uint64_t now = ta_atomic_load(&ta_arena_clock, ta_mo_relaxed);
  slab->usable = now;
  uint32_t cap = ta_slab_capacity(slab);
  if (slab->nfree == cap) {
    if (cap > 1) ta_list_remove(&slab->link); /* else it was full, off the list */
    if (slab->shed) { /* a shrunk slab is no use to another class: its pages go back */
      bin->stats.shed_objs -= slab->nshed;
      slab_gone(bin, slab);
      ta_slab_delete(hpa, slab);
    } else if (!bin->spare) {
      bin->spare = slab;
      bin->spare_since = now;
    } else {
      slab_gone(bin, slab);
      ta_slab_cache_put(&ta_arenas[slab->arena]->slab_cache, hpa, slab);
    }
  } else {
    if (slab->nfree == 1) ta_list_push_back(&bin->nonfull, &slab->link); /* was full */
    if (ta_unlikely(slab->npages > 1 && ci->size * SHED_MIN_PAGE_SHARE >= ta_hpa_geometry.page_size &&
                    ta_conf.drain_shed_kb &&
                    bin->drain_bytes >= (uint64_t)ta_conf.drain_shed_kb << 10))
      shed_free_pages(bin, hpa, slab, p);
  }
}

void ta_bin_trim(ta_bin_t *bin, ta_hpa_t *hpa, uint64_t older_than) {
  ta_mutex_lock(&bin->lock);
  if (bin->spare && bin->spare_since <= older_than) {
    slab_gone(bin, bin->spare);
    ta_slab_delete(hpa, bin->spare);
    bin->spare = NULL;
  }
  ta_mutex_unlock(&bin->lock);
}

bool ta_bin_is_live(ta_bin_t *bin, ta_extent_t *slab, const void *p) {
  uint32_t idx = ta_slab_index(slab, p);
  if (idx == UINT32_MAX) return false;
  ta_mutex_lock(&bin->lock);
  bool live = !ta_bitmap_get(slab->freemap, idx) && !(slab->shed && ta_slab_object_shed(slab, idx));
  ta_mutex_unlock(&bin->lock);
  return live;
}

/* ---- interior purge ----
 * A slab stays in its bin while any object of it is in use, however few: a sparse slab of a
 * large class (2-16 objects over up to 16 pages) then holds whole pages with no object in use,
 * resident for as long as the slab lives. The purge step offers those pages to the page layer
 * in two passes, noting them all first so that the hugepage policy weighs every free page of a
 * unit (ta_hpa_note_inside), then purging (ta_hpa_purge_inside). Only slabs the bin has not
 * touched for the decay period take part, so a busy class does not purge and refault in a
 * loop. The bin's lock is held across a slab's purge: no object on those pages can be handed
 * out while they are returned (the page layer likewise holds its lock across MADV_DONTNEED),
 * and the lock is let go between batches of slabs. */

#define INSIDE_BATCH 8

/* The runs of free pages of `slab` not purged yet, or 0 when it takes no part now. */
static size_t inside_pages(const ta_extent_t *slab, uint64_t now, uint64_t decay_ns, bool force,
                           uint64_t *pages) {
  if (!force && !ta_decay_is_due(now, slab->usable, decay_ns)) return 0;
  size_t n = ta_slab_free_pages(slab, pages);
  return n > slab->npurged ? n : 0; /* purged pages are free ones: all of them purged already */
}

/* Calls fn on each run of set bits of pages[] (npages bits) as an address range of the slab. */
static size_t each_run(ta_hpa_t *hpa, const ta_extent_t *slab, const uint64_t *pages, bool force,
                       size_t (*fn)(ta_hpa_t *, void *, size_t, bool)) {
  unsigned shift = ta_hpa_geometry.page_shift;
  size_t done = 0, np = slab->npages;
  for (size_t pos = 0, s, e; (s = ta_bitmap_find_run(pages, pos, np, true, &e)) < np; pos = e)
    done += fn(hpa, (char *)slab->addr + (s << shift), e - s, force);
  return done;
}

static size_t note(ta_hpa_t *hpa, void *addr, size_t npages, bool force) {
  (void)force;
  ta_hpa_note_inside(hpa, addr, npages);
  return 0;
}

void ta_bin_note_inside(ta_bin_t *bin, ta_hpa_t *hpa, unsigned cls, uint64_t now, bool force) {
  if (ta_class_info[cls].slab_pages < 2) return; /* a one-page slab on the list is not empty */
  uint64_t pages[TA_BITMAP_WORDS(TA_HPA_MAX_UNIT_PAGES)];
  ta_mutex_lock(&bin->lock);
  for (ta_list_t *l = bin->nonfull.next; l != &bin->nonfull; l = l->next) {
    ta_extent_t *slab = ta_list_entry(l, ta_extent_t, link);
    if (inside_pages(slab, now, hpa->decay_ns, force, pages)) each_run(hpa, slab, pages, force, note);
  }
  ta_mutex_unlock(&bin->lock);
}

size_t ta_bin_purge_inside(ta_bin_t *bin, ta_hpa_t *hpa, unsigned cls, uint64_t now, bool force) {
  if (ta_class_info[cls].slab_pages < 2) return 0;
  uint64_t pages[TA_BITMAP_WORDS(TA_HPA_MAX_UNIT_PAGES)];
  size_t purged = 0, visits = 0, batch = 0;
  ta_mutex_lock(&bin->lock);
  for (ta_list_t *l = bin->nonfull.next; l != &bin->nonfull; l = l->next) visits++;
  /* Each slab visited goes from the front to the back, so the walk survives letting the lock
   * go between batches; after a full turn the list is in its old order. */
  while (visits-- && !ta_list_is_empty(&bin->nonfull)) {
    ta_extent_t *slab = ta_list_entry(bin->nonfull.next, ta_extent_t, link);
    ta_list_remove(&slab->link);
    ta_list_push_back(&bin->nonfull, &slab->link);
    if (!inside_pages(slab, now, hpa->decay_ns, force, pages)) continue;
    ta_slab_tag_vacant(slab, pages); /* before the purge erases the free marks on them */
    size_t n = each_run(hpa, slab, pages, force, ta_hpa_purge_inside);
    slab->npurged += (uint32_t)n;
    purged += n;
    if (++batch == INSIDE_BATCH) {
      batch = 0;
      ta_mutex_unlock(&bin->lock);
      ta_mutex_lock(&bin->lock);
    }
  }
  ta_mutex_unlock(&bin->lock);
  return purged;
}
