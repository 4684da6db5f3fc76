// Bitmap operations checked against a plain bool-vector model over random operations.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "ds.h"

namespace {

size_t model_run(const std::vector<bool> &m, size_t n, size_t align) {
  for (size_t s = 0; s + n <= m.size(); s += align) {
    bool ok = true;
    for (size_t i = s; i < s + n && ok; i++) ok = !m[i];
    if (ok) return s;
  }
  return m.size();
}

TEST(Bitmap, RangesAndSearchesMatchModel) {
  const size_t nbits = 515;  // not a multiple of 64
  uint64_t map[TA_BITMAP_WORDS(515)] = {};
  std::vector<bool> model(nbits, false);
  std::mt19937 rng(42);
  for (int iter = 0; iter < 20000; iter++) {
    size_t a = rng() % nbits, n = rng() % (nbits - a) + 1;
    if (rng() % 2) {
      ta_bitmap_set_range(map, a, n);
      for (size_t i = a; i < a + n; i++) model[i] = true;
    } else {
      ta_bitmap_clear_range(map, a, n);
      for (size_t i = a; i < a + n; i++) model[i] = false;
    }
    size_t q = rng() % nbits, len = rng() % (nbits - q) + 1, cnt = 0;
    for (size_t i = q; i < q + len; i++) cnt += model[i];
    ASSERT_EQ(ta_bitmap_count_range(map, q, len), cnt);
    size_t fs = q;
    while (fs < nbits && !model[fs]) fs++;
    ASSERT_EQ(ta_bitmap_find_set(map, q, nbits), fs);
    size_t fc = q;
    while (fc < nbits && model[fc]) fc++;
    ASSERT_EQ(ta_bitmap_find_clear(map, q, nbits), fc);
    size_t want = rng() % 40 + 1, align = (size_t)1 << (rng() % 4);
    ASSERT_EQ(ta_bitmap_find_clear_run(map, nbits, want, align), model_run(model, want, align))
        << "want " << want << " align " << align;
    size_t longest = 0, cur = 0;
    for (size_t i = 0; i < nbits; i++) {
      cur = model[i] ? 0 : cur + 1;
      longest = std::max(longest, cur);
    }
    ASSERT_EQ(ta_bitmap_longest_clear_run(map, nbits), longest);
    for (bool set : {true, false}) {
      size_t s = q;
      while (s < nbits && model[s] != set) s++;
      size_t e = s;
      while (e < nbits && model[e] == set) e++;
      size_t end = 0;
      ASSERT_EQ(ta_bitmap_find_run(map, q, nbits, set, &end), s) << "set " << set;
      ASSERT_EQ(end, e) << "set " << set;
    }
    if (!model[q]) {  // the clear run around [q, q + n), any clear n inside it
      size_t s = q, e = q;
      while (s > 0 && !model[s - 1]) s--;
      while (e < nbits && !model[e]) e++;
      size_t n = rng() % (e - q) + 1, end = 0;
      ASSERT_EQ(ta_bitmap_clear_run_around(map, q, n, nbits, &end), s) << "at " << q << " n " << n;
      ASSERT_EQ(end, e) << "at " << q << " n " << n;
    }
  }
}

struct Item {
  ta_list_t link;
  int v;
};

TEST(List, PushRemoveOrder) {
  ta_list_t head;
  ta_list_init(&head);
  Item items[4];
  for (int i = 0; i < 4; i++) {
    items[i].v = i;
    ta_list_push_back(&head, &items[i].link);
  }
  ta_list_remove(&items[1].link);
  EXPECT_FALSE(ta_list_is_linked(&items[1].link));
  std::vector<int> seen;
  for (ta_list_t *l = head.next; l != &head; l = l->next) seen.push_back(ta_list_entry(l, Item, link)->v);
  EXPECT_EQ(seen, (std::vector<int>{0, 2, 3}));
  ta_list_push_front(&head, &items[1].link);
  EXPECT_EQ(ta_list_entry(head.next, Item, link)->v, 1);
}

}  // namespace
