/* extent.h: the record of one range of pages handed out by the page layer: a slab of small
 * objects or one large allocation. Extent records live in metadata (meta.c), never beside the
 * user's bytes, and the pagemap maps addresses to them.
 *
 * Ownership: `kind`, `size_class`, `node`, `arena`, `addr`, `npages` are fixed while the extent is
 * live and are read without locks (free's fast path reads `kind`, `size_class` and `node`).
 * The slab fields below `link` belong to the bin that owns the slab and change under its lock.
 * For a large extent `link` instead puts it on its node's tracking list (large.c, under that
 * list's lock), kept only while the hotness policy runs; `migrating`, `hint` and `heat` are
 * the tracking state: `migrating` changes under the list's lock, `heat`, `tier` and `strayed`
 * only in the migrating thread while the extent is pinned (migrating != 0). */
#ifndef TA_EXTENT_H
#define TA_EXTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ds.h"
#include "tiers.h"

TA_EXTERN_C_BEGIN

typedef enum { TA_EXTENT_SLAB = 1, TA_EXTENT_LARGE = 2 } ta_extent_kind_t;

/* A tracked large extent while the migrating thread works on it: PINNED, it may be sampled or
 * moved but not freed, resized or purged; a free that comes meanwhile marks it FREED and the
 * migrating thread finishes the free when it unpins it, so no allocating thread ever waits. */
typedef enum { TA_EXTENT_IDLE = 0, TA_EXTENT_PINNED = 1, TA_EXTENT_FREED = 2 } ta_extent_migrating_t;

typedef struct ta_extent {
  uint8_t kind;        /* ta_extent_kind_t */
  uint8_t size_class;  /* slabs: the class of every object in it */
  uint16_t node;       /* owner node, fixed for the extent's life */
  uint16_t tier;       /* kernel node its pages sit on now (= node until it migrates; changed
                        * only by migration, or corrected when the kernel moved it) */
  uint16_t arena;      /* index of the owning arena (large: whose large cache it goes to) */
  uint32_t npages;     /* length in base pages */
  uint32_t meta_size;  /* bytes of this record, for ta_meta_free */
  void *addr;
  size_t usable;       /* large: bytes the caller may use */
  /* Large: migration tracking (see above). */
  uint8_t migrating;   /* ta_extent_migrating_t */
  uint8_t hint;        /* TA_HOTNESS_HINT_* */
  bool tracked;        /* on its node's tracking list */
  bool armed;          /* the access signal was re-armed for it since it last moved */
  bool split;          /* the hugepages it shares with neighbours were split (migrate.c) */
  bool strayed;        /* some of its pages may sit on another node than `node` while `tier`,
                        * a majority, says home: a part of a move failed, or the kernel moved
                        * a few. Freeing it then purges, as for tier != node (large.c) */
  bool cached;         /* freed into its arena's large cache (large_cache.h), under its lock */
  union {
    ta_hotness_t heat; /* large */
    /* Slab: the object-start test's bound for this slab's shape (size_class.h), in the
     * record's first 64 bytes beside the header that free's fast path reads anyway. */
    uint64_t start_limit;
  };
  /* Slab state, under the owning bin's lock. `usable` is unused by slabs: it holds when the
   * bin last took from or returned to the slab (or, in a slab cache, when it was emptied), by
   * the arenas' coarse clock. */
  ta_list_t link;      /* slab: on the bin's list of slabs with free objects; large: tracking */
  /* 16 bits: at most 4096 objects per slab (16-byte objects on 64 KiB pages; size_class.c
   * checks), and the record stays within its 64-byte metadata granule for slabs of up to 64
   * objects. */
  uint16_t nfree;
  uint16_t nobjs;
  uint16_t npurged;    /* slab: pages of it returned to the kernel while it stays in its bin
                          (the interior purge, bin.c); they read as zero until reused */
  uint16_t nshed;      /* slab: objects lost to shed pages (below); they are never free again */
  uint32_t shed;       /* slab: bit p = page p was handed back to the page layer while the slab
                          lives (a draining class, bin.c); the page belongs to others now */
  bool vacant;         /* slab: some of its pages carry the vacant tag in the pagemap (slab.h) */
  uint64_t freemap[];  /* slab: bit i set = object i is free */
} ta_extent_t;

/* The first four bytes (kind, size_class, node) read as one little-endian word: the free fast
 * path tests "a slab of my node" with one load and one compare. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tieralloc supports little-endian targets only"
#endif
#define TA_EXTENT_KEY_MASK 0xffff00ffu
TA_INLINE uint32_t ta_extent_slab_key(unsigned node) { return TA_EXTENT_SLAB | ((uint32_t)node << 16); }
TA_INLINE uint32_t ta_extent_header(const ta_extent_t *ext) {
  uint32_t h;
  __builtin_memcpy(&h, ext, sizeof(h));
  return h;
}

TA_EXTERN_C_END

#endif
