/* bin.h: one size class of one arena: its slabs with free objects and one spare empty slab.
 * Thread caches fill from and flush to bins in batches, under the bin's lock. */
#ifndef TA_BIN_H
#define TA_BIN_H

#include "slab.h"

TA_EXTERN_C_BEGIN

typedef struct ta_bin_stats {
  uint64_t nfills, nflushes;  /* batches */
  uint64_t nmalloc, nfree;    /* objects handed out and returned */
  uint64_t nslabs;            /* slabs now */
  uint64_t objs;              /* objects those slabs hold, free or not (their shapes differ) */
  uint64_t live;              /* objects handed out and not returned (in use or cached) */
  uint64_t shed_pages;        /* pages of partly used slabs handed back while draining */
  uint64_t shed_objs;         /* objects lost to shed pages in the slabs there are now */
} ta_bin_stats_t;

typedef struct ta_bin {
  ta_mutex_t lock;
  ta_list_t nonfull;   /* slabs with at least one free object; fill takes from the front */
  ta_extent_t *spare;  /* an empty slab kept so a bin that drains and refills does not churn */
  uint64_t spare_since;
  uint64_t drain_bytes; /* bytes of objects returned since the last take (draining: bin.c) */
  ta_bin_stats_t stats;
} ta_bin_t;

void ta_bin_init(ta_bin_t *bin);

/* Takes up to n objects into out[] (new slabs from hpa as needed). Returns how many: fewer than
 * n, even 0, only when memory ran out. Takes the bin lock. */
unsigned ta_bin_fill(ta_bin_t *bin, ta_hpa_t *hpa, unsigned cls, unsigned arena, unsigned node,
                     void **out, unsigned n);

/* Returns one object of `slab` to the bin. pre: the caller holds bin->lock and slab belongs to
 * this bin. A pointer that is not an object start, or an object already free, aborts with a
 * message naming the address and class: the heap is corrupt or the program freed twice.
 * While the class drains (drain_shed_kb of returns with no take), the slab's whole free pages
 * go back to the page layer at once (ta_slab_shed), for slabs of other classes to reuse. */
void ta_bin_put_locked(ta_bin_t *bin, ta_hpa_t *hpa, ta_extent_t *slab, void *p);

/* Whether p is an allocated object of `slab` (takes the bin lock; for debug checks). */
bool ta_bin_is_live(ta_bin_t *bin, ta_extent_t *slab, const void *p);

/* Interior purge (one round per purge step, after ta_hpa_begin_inside on the bin's heap):
 * note_inside reports to the heap the whole pages with no object in use inside the class's
 * slabs that the bin has not touched for the heap's decay period (any slab with force), so
 * the heap's hugepage policy counts them as free; purge_inside then has the heap purge those
 * it allows, the slabs staying in the bin. Returns the pages purged. A page holding any
 * object that is in use or in a thread cache is never purged. Take the bin lock. */
void ta_bin_note_inside(ta_bin_t *bin, ta_hpa_t *hpa, unsigned cls, uint64_t now_ns, bool force);
size_t ta_bin_purge_inside(ta_bin_t *bin, ta_hpa_t *hpa, unsigned cls, uint64_t now_ns, bool force);

/* Releases the spare slab if it has been unused since before `older_than` (ns). */
void ta_bin_trim(ta_bin_t *bin, ta_hpa_t *hpa, uint64_t older_than);

TA_EXTERN_C_END

#endif
