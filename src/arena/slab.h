/* slab.h: a slab is an extent of a few pages cut into objects of one class, in one of the
 * class's two shapes (size_class.h: the usual one, or the short one of a sparse class). Which objects
 * are free is a bitmap in the slab's extent record (metadata), not a list threaded through the
 * objects, so a heap overflow in user data cannot forge allocator state. The owning bin's lock
 * protects a slab's free map. */
#ifndef TA_SLAB_H
#define TA_SLAB_H

#include "size_class.h"

TA_EXTERN_C_BEGIN

/* A slab's length and object count. */
typedef struct {
  uint32_t pages, nobjs;
} ta_slab_shape_t;

TA_INLINE ta_slab_shape_t ta_slab_shape(unsigned cls, bool sparse) {
  const ta_class_info_t *ci = &ta_class_info[cls];
  return sparse ? (ta_slab_shape_t){ci->sparse_pages, ci->sparse_nobjs}
                : (ta_slab_shape_t){ci->slab_pages, ci->nobjs};
}

/* Bytes of a slab record whose free map holds nobjs objects. */
TA_INLINE size_t ta_slab_record_size(uint32_t nobjs) {
  return sizeof(ta_extent_t) + TA_BITMAP_WORDS(nobjs) * sizeof(uint64_t);
}

/* A fresh slab of that shape with every object free, registered in the pagemap. NULL when out
 * of memory. */
ta_extent_t *ta_slab_new(ta_hpa_t *hpa, unsigned cls, ta_slab_shape_t shape, unsigned arena, unsigned node);
/* Sets up a slab record whose pages are the shape's for class cls, every object free. A slab
 * taken from the slab cache keeps its count of purged pages (reused pages are given back to
 * the page layer's count as objects on them are handed out, ta_slab_reuse_pages). */
void ta_slab_reset(ta_extent_t *slab, unsigned cls, ta_slab_shape_t shape);
/* Unregisters the slab and returns its pages. pre: every object is free. */
void ta_slab_delete(ta_hpa_t *hpa, ta_extent_t *slab);

/* Pages of the slab that hold no object in use: every object overlapping them is free in the
 * free map (objects in thread caches are not). Sets their bits in pages[] (npages bits,
 * TA_BITMAP_WORDS(TA_HPA_MAX_UNIT_PAGES) words at most) and returns how many. */
size_t ta_slab_free_pages(const ta_extent_t *slab, uint64_t *pages);
/* The same, among the pages under the object at p only (what its return can have freed). */
size_t ta_slab_free_pages_under(const ta_extent_t *slab, const void *p, uint64_t *pages);

/* The pagemap tag, in place of the size class, of a slab page that holds no object in use (an
 * idle sparse slab's free page; bin.c tags them when it offers them to the interior purge). It
 * indexes the thread cache's sentinel bin, which never has room, so free() of a block there goes
 * to the slow path, and the slow path knows the block cannot be live: such a page may have been
 * purged, which erased the free marks (tcache.h) of the blocks on it, so without the tag a
 * double free of one would pass free's fast path. */
#define TA_SLAB_VACANT_TAG TA_NCLASSES

/* Tags the pages set in pages[] (ta_slab_free_pages) vacant. Under the bin's lock. */
void ta_slab_tag_vacant(ta_extent_t *slab, const uint64_t *pages);

/* After ta_slab_take handed out objs[0..n) of a slab with purged or vacant pages (npurged != 0
 * or vacant): tells the page layer that the pages under them are in use again, and gives them
 * their class tag back before any of the objects reaches a caller. */
void ta_slab_reuse_pages(ta_hpa_t *hpa, ta_extent_t *slab, void *const *objs, unsigned n);

/* Shedding (a draining class, bin.c): hands the pages set in pages[] (free pages of the slab,
 * ta_slab_free_pages) back to the page layer for good while the slab lives on with its other
 * pages. The objects that overlap them leave the free map and count in nshed: the slab holds
 * nobjs - nshed objects from then on, and is deleted (its remaining pages freed) when they are
 * all free. Their pagemap entries are cleared first, so a free of one of them no longer maps
 * to this slab. Returns the pages shed; 0 where the slab has more pages than the mask holds.
 * Under the bin's lock. */
size_t ta_slab_shed(ta_hpa_t *hpa, ta_extent_t *slab, const uint64_t *pages);

/* Objects the slab can still hold: those not lost to shed pages. */
TA_INLINE uint32_t ta_slab_capacity(const ta_extent_t *slab) { return slab->nobjs - slab->nshed; }

/* Whether object idx overlaps a shed page (it is gone: never free, never handed out). */
TA_INLINE bool ta_slab_object_shed(const ta_extent_t *slab, uint32_t idx) {
  size_t size = ta_class_info[slab->size_class].size;
  unsigned shift = ta_hpa_geometry.page_shift;
  size_t lo = ((size_t)idx * size) >> shift, hi = ((size_t)idx * size + size - 1) >> shift;
  uint64_t span = (hi - lo >= 63 ? ~0ull : ((2ull << (hi - lo)) - 1)) << lo;
  return (slab->shed & span) != 0;
}

/* Takes up to n free objects into out[]; returns how many. */
unsigned ta_slab_take(ta_extent_t *slab, void **out, unsigned n);

/* Index of the object at p, or UINT32_MAX when p is not the start of an object of this slab. */
TA_INLINE uint32_t ta_slab_index(const ta_extent_t *slab, const void *p) {
  const ta_class_info_t *ci = &ta_class_info[slab->size_class];
  uintptr_t off = (uintptr_t)p - (uintptr_t)slab->addr;
  uint32_t idx = (uint32_t)(((uint64_t)off * ci->div_magic) >> 32);
  if (ta_unlikely(idx >= slab->nobjs || (uintptr_t)idx * ci->size != off)) return UINT32_MAX;
  return idx;
}

/* Whether p, which the pagemap maps to this slab, is the start of one of its objects: the same
 * answer as ta_slab_index(slab, p) != UINT32_MAX, from the class table's multiply-and-compare
 * test (size_class.h) with the slab's own bound, without reading the record's bitmap line. */
TA_INLINE bool ta_slab_is_object_start(const ta_extent_t *slab, const void *p) {
  const ta_class_info_t *ci = &ta_class_info[slab->size_class];
  uint64_t off = (uintptr_t)p - (uintptr_t)slab->addr;
  return off * ci->start_mul < slab->start_limit;
}

/* Marks p free. Returns 0, or EINVAL for a pointer inside an object, or EALREADY when the
 * object is free already (a double free; an object on a shed page was free when it was shed);
 * the slab is unchanged then. */
int ta_slab_put(ta_extent_t *slab, void *p);

TA_EXTERN_C_END

#endif
