/* bitmap.h: fixed-size bit sets over uint64_t words, set bit = "yes" (free, used, dirty: the
 * owner's choice). No allocation; the caller owns the words. */
#ifndef TA_BITMAP_H
#define TA_BITMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform.h"

TA_EXTERN_C_BEGIN

#define TA_BITMAP_WORDS(nbits) (((nbits) + 63) / 64)

TA_INLINE bool ta_bitmap_get(const uint64_t *map, size_t bit) {
  return (map[bit >> 6] >> (bit & 63)) & 1u;
}
TA_INLINE void ta_bitmap_set(uint64_t *map, size_t bit) { map[bit >> 6] |= (uint64_t)1 << (bit & 63); }
TA_INLINE void ta_bitmap_clear(uint64_t *map, size_t bit) {
  map[bit >> 6] &= ~((uint64_t)1 << (bit & 63));
}

/* Sets or clears bits [start, start + n). */
void ta_bitmap_set_range(uint64_t *map, size_t start, size_t n);
void ta_bitmap_clear_range(uint64_t *map, size_t start, size_t n);
/* Number of set bits in [start, start + n). */
size_t ta_bitmap_count_range(const uint64_t *map, size_t start, size_t n);
/* First set bit at or after `from`, below nbits; nbits if none. */
size_t ta_bitmap_find_set(const uint64_t *map, size_t from, size_t nbits);
/* First clear bit at or after `from`, below nbits; nbits if none. */
size_t ta_bitmap_find_clear(const uint64_t *map, size_t from, size_t nbits);
/* The first run of set bits (set) or clear bits (!set) at or after `from`, below nbits: returns
 * its start and stores its end in *end; nbits (and *end = nbits) if none. Walks every run with
 *   for (size_t pos = from, s, e; (s = ta_bitmap_find_run(map, pos, nbits, true, &e)) < nbits; pos = e) */
size_t ta_bitmap_find_run(const uint64_t *map, size_t from, size_t nbits, bool set, size_t *end);
/* Start of the first run of n clear bits whose start is a multiple of `align` (a power of two),
 * below nbits; nbits if none. */
size_t ta_bitmap_find_clear_run(const uint64_t *map, size_t nbits, size_t n, size_t align);
/* The run of clear bits holding [start, start + n), which must be clear, below nbits: returns
 * its start and stores its end in *end. Costs the run's length in words, not the map's. */
size_t ta_bitmap_clear_run_around(const uint64_t *map, size_t start, size_t n, size_t nbits, size_t *end);
/* Length of the longest run of clear bits below nbits. */
size_t ta_bitmap_longest_clear_run(const uint64_t *map, size_t nbits);

TA_EXTERN_C_END

#endif
