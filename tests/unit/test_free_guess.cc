// free's guess of the class (malloc.c): a free of the object this thread's last fast malloc
// handed out indexes that malloc's bin before the pagemap's answer arrives. The guess is checked
// against the pagemap's class before anything is stored, so one gone stale (the address is now
// an object of another class, which came to the thread some other way) never puts a block in
// another class's bin. Through the internal entry points, on the real OS.
#include <gtest/gtest.h>

#include "api.h"
#include "tcache.h"

namespace {

TEST(FreeGuess, TheLastMallocsObjectGoesBackToItsBin) {
  void *warm = ta_malloc(100);  // the cache exists and the class is stocked
  ta_free(warm);
  void *p = ta_malloc(100);
  ta_tcache_t *tc = ta_tcache_current();
  unsigned cls = ta_size_class_of(100);
  ASSERT_EQ(tc->last_obj, p) << "the fast path handed it out";
  ASSERT_EQ(tc->last_class, cls);
  uint32_t n = tc->bins[cls].count;
  ta_free(p);
  ASSERT_EQ(tc->bins[cls].count, n + 1);
  EXPECT_EQ(tc->bins[cls].slots[n], p);
}

TEST(FreeGuess, AStaleGuessNeverPutsABlockInAnotherClassesBin) {
  // 16-byte objects, each freed while the guess calls it a 32-byte one, as if this thread had
  // last allocated its address as a 32-byte object (freed elsewhere since, its slab emptied and
  // reused for 16-byte objects, and the block passed back here). Half of them would pass the
  // 32-byte class's object-start test, so without the check they would land in its bin.
  void *ps[64];
  for (void *&p : ps) p = ta_malloc(16);  // (the first starts the allocator: the class table)
  unsigned small = ta_size_class_of(16), other = ta_size_class_of(32);
  ASSERT_NE(small, other);
  ta_tcache_t *tc = ta_tcache_current();
  for (int i = 63; i >= 0; i--) {
    tc->last_obj = ps[i];
    tc->last_class = other;
    uint32_t nsmall = tc->bins[small].count, nother = tc->bins[other].count;
    ta_free(ps[i]);
    EXPECT_EQ(tc->bins[other].count, nother) << "the 32-byte bin took object " << i;
    if (tc->bins[small].count == nsmall + 1) {  // (else the bin was full and flushed)
      EXPECT_EQ(tc->bins[small].slots[nsmall], ps[i]);
    }
  }
  // Every one is a 16-byte object again, none a 32-byte one.
  void *again[64];
  for (void *&q : again) q = ta_malloc(32);
  for (void *q : again)
    for (void *p : ps) ASSERT_NE(q, p);
  for (void *q : again) ta_free(q);
}

}  // namespace
