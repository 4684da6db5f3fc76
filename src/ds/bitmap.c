/* bitmap.c: range operations and searches for bitmap.h. Word at a time where it matters. */
#include "bitmap.h"

static inline uint64_t mask_range(size_t lo, size_t hi) {
  /* Bits [lo, hi) of one word, 0 <= lo < hi <= 64. */
  uint64_t high = hi == 64 ? ~(uint64_t)0 : (((uint64_t)1 << hi) - 1);
  return high & ~(((uint64_t)1 << lo) - 1);
}

void ta_bitmap_set_range(uint64_t *map, size_t start, size_t n) {
  size_t end = start + n;
  while (start < end) {
    size_t w = start >> 6, lo = start & 63;
    size_t hi = (end - (w << 6)) < 64 ? end - (w << 6) : 64;
    map[w] |= mask_range(lo, hi);
    start = (w << 6) + hi;
  }
}

void ta_bitmap_clear_range(uint64_t *map, size_t start, size_t n) {
  size_t end = start + n;
  while (start < end) {
    size_t w = start >> 6, lo = start & 63;
    size_t hi = (end - (w << 6)) < 64 ? end - (w << 6) : 64;
    map[w] &= ~mask_range(lo, hi);
    start = (w << 6) + hi;
  }
}

size_t ta_bitmap_count_range(const uint64_t *map, size_t start, size_t n) {
  size_t end = start + n, count = 0;
  while (start < end) {
    size_t w = start >> 6, lo = start & 63;
    size_t hi = (end - (w << 6)) < 64 ? end - (w << 6) : 64;
    count += (size_t)__builtin_popcountll(map[w] & mask_range(lo, hi));
    start = (w << 6) + hi;
  }
  return count;
}

static size_t find(const uint64_t *map, size_t from, size_t nbits, uint64_t flip) {
  while (from < nbits) {
    size_t w = from >> 6;
    uint64_t word = (map[w] ^ flip) & ~(((uint64_t)1 << (from & 63)) - 1);
    if (word) {
      size_t bit = (w << 6) + (size_t)__builtin_ctzll(word);
      return bit < nbits ? bit : nbits;
    }
    from = (w + 1) << 6;
  }
  return nbits;
}

size_t ta_bitmap_find_set(const uint64_t *map, size_t from, size_t nbits) {
  return find(map, from, nbits, 0);
}

size_t ta_bitmap_find_clear(const uint64_t *map, size_t from, size_t nbits) {
  return find(map, from, nbits, ~(uint64_t)0);
}

size_t ta_bitmap_find_run(const uint64_t *map, size_t from, size_t nbits, bool set, size_t *end) {
  size_t s = find(map, from, nbits, set ? 0 : ~(uint64_t)0);
  *end = s >= nbits ? nbits : find(map, s, nbits, set ? ~(uint64_t)0 : 0);
  return s;
}

size_t ta_bitmap_find_clear_run(const uint64_t *map, size_t nbits, size_t n, size_t align) {
  size_t start = 0;
  while (start + n <= nbits) {
    start = ta_bitmap_find_clear(map, start, nbits);
    if (align > 1) start = (start + align - 1) & ~(align - 1);
    if (start + n > nbits) break;
    size_t used = ta_bitmap_find_set(map, start, start + n);
    if (used == start + n) return start;
    start = used + 1;
  }
  return nbits;
}

size_t ta_bitmap_clear_run_around(const uint64_t *map, size_t start, size_t n, size_t nbits, size_t *end) {
  *end = ta_bitmap_find_set(map, start + n, nbits);
  for (size_t pos = start; pos > 0;) { /* down to the set bit before start */
    size_t w = (pos - 1) >> 6, below = pos - (w << 6);
    uint64_t word = map[w] & (below == 64 ? ~(uint64_t)0 : (((uint64_t)1 << below) - 1));
    if (word) return (w << 6) + (size_t)(64 - __builtin_clzll(word));
    pos = w << 6;
  }
  return 0;
}

size_t ta_bitmap_longest_clear_run(const uint64_t *map, size_t nbits) {
  size_t best = 0;
  for (size_t pos = 0, s, e; (s = ta_bitmap_find_run(map, pos, nbits, false, &e)) < nbits; pos = e)
    if (e - s > best) best = e - s;
  return best;
}
