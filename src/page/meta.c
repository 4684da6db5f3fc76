/* meta.c: metadata from the OS in 2 MiB chunks, carved in 64-byte granules with a free list per
 * size, so metadata never calls malloc and freed records are reused. Blocks above 64 KiB are
 * mapped on their own. One lock (rank META) protects the lists and the chunk cursor. */
#include "meta.h"

#include <string.h>

#define GRANULE 64u
#define MAX_SMALL (64u * 1024u)
#define CHUNK (2u * 1024u * 1024u)

typedef struct free_block {
  struct free_block *next;
} free_block_t;

static ta_mutex_t meta_lock = TA_MUTEX_INITIALIZER(TA_LOCK_RANK_META);
static free_block_t *free_lists[MAX_SMALL / GRANULE + 1];
static char *chunk_cur, *chunk_end;
static size_t mapped;

static size_t round_up(size_t n, size_t to) { return (n + to - 1) & ~(to - 1); }

void *ta_meta_alloc(size_t size) {
  size = round_up(size ? size : 1, GRANULE);
  if (size > MAX_SMALL) {
    void *p;
    size_t len = round_up(size, ta_os_info.page_size);
    if (ta_os_map(&p, len, ta_os_info.page_size) != 0) return NULL;
    ta_mutex_lock(&meta_lock);
    mapped += len;
    ta_mutex_unlock(&meta_lock);
    return p;
  }
  ta_mutex_lock(&meta_lock);
  free_block_t *b = free_lists[size / GRANULE];
  if (b) {
    free_lists[size / GRANULE] = b->next;
    ta_mutex_unlock(&meta_lock);
    memset(b, 0, size);
    return b;
  }
  if ((size_t)(chunk_end - chunk_cur) < size) {
    void *c;
    if (ta_os_map(&c, CHUNK, ta_os_info.page_size) != 0) {
      ta_mutex_unlock(&meta_lock);
      return NULL;
    }
    /* The rest of the old chunk is abandoned: at most 64 KiB, once per 2 MiB. */
    chunk_cur = c;
    chunk_end = chunk_cur + CHUNK;
    mapped += CHUNK;
  }
  void *p = chunk_cur;
  chunk_cur += size;
  ta_mutex_unlock(&meta_lock);
  return p; /* fresh chunk memory is zero */
}

void ta_meta_free(void *p, size_t size) {
  if (!p) return;
  size = round_up(size ? size : 1, GRANULE);
  if (size > MAX_SMALL) {
    size_t len = round_up(size, ta_os_info.page_size);
    ta_os_unmap(p, len);
    ta_mutex_lock(&meta_lock);
    mapped -= len;
    ta_mutex_unlock(&meta_lock);
    return;
  }
  free_block_t *b = p;
  ta_mutex_lock(&meta_lock);
  b->next = free_lists[size / GRANULE];
  free_lists[size / GRANULE] = b;
  ta_mutex_unlock(&meta_lock);
}

size_t ta_meta_mapped(void) {
  ta_mutex_lock(&meta_lock);
  size_t m = mapped;
  ta_mutex_unlock(&meta_lock);
  return m;
}

void ta_meta_prefork(void) { ta_mutex_lock(&meta_lock); }
void ta_meta_postfork_parent(void) { ta_mutex_unlock(&meta_lock); }
void ta_meta_postfork_child(void) { ta_mutex_postfork_child(&meta_lock); }
