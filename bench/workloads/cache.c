/* Workload "cache": an in-memory cache server (redis / memcached style) without the network.
 *
 * Stands for the process tieralloc is built for: a hash table of string keys whose values follow a
 * realistic size mix (mostly small values with a long tail of large ones, after the Facebook ETC
 * and Twitter cache-trace studies), read and written with zipfian popularity (YCSB's generator,
 * theta 0.99, keys scrambled so hot keys are not neighbours), 30% of writes with a TTL that expires
 * lazily on access and through an active expiry sweep (as redis's activeExpireCycle), misses filled
 * cache-aside, and frees of large values handed to a background thread (redis's lazyfree / UNLINK),
 * so many frees are remote. After the measured phase it deletes everything (FLUSHALL ASYNC), then
 * stays idle — no allocation traffic at all — while it samples its RSS: an allocator that returns
 * memory in the background shows it here. Op count and seeds are fixed, so every allocator does
 * exactly the same work; the checksum proves it. */
#include "harness.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LAZY_MIN 512 /* values at least this large are freed by the lazyfree thread */
#define LAZY_BATCH 64
#define LAZY_RING 1024

typedef struct item {
  struct item *next;
  uint64_t hash;
  uint64_t expire_at; /* virtual time (op index); 0 = no TTL */
  char *val;
  uint32_t val_len;
  uint16_t key_len;
  char key[];
} item_t;

/* ---- the lazyfree thread and its bounded queue of batches ---- */

typedef struct lazy_batch {
  int n;
  void *p[LAZY_BATCH];
} lazy_batch_t;

static struct {
  pthread_mutex_t lock;
  pthread_cond_t work, room, drained;
  lazy_batch_t ring[LAZY_RING];
  unsigned head, tail;
  int busy, stop;
  uint64_t freed;
} lazy = {.lock = PTHREAD_MUTEX_INITIALIZER,
          .work = PTHREAD_COND_INITIALIZER,
          .room = PTHREAD_COND_INITIALIZER,
          .drained = PTHREAD_COND_INITIALIZER};

static lazy_batch_t pending; /* main thread's batch being filled */

static void *lazyfree_main(void *arg) {
  (void)arg;
  lazy_batch_t b;
  pthread_mutex_lock(&lazy.lock);
  for (;;) {
    while (lazy.head == lazy.tail && !lazy.stop) pthread_cond_wait(&lazy.work, &lazy.lock);
    if (lazy.head == lazy.tail) break;
    b = lazy.ring[lazy.tail % LAZY_RING];
    lazy.tail++;
    lazy.busy = 1;
    pthread_cond_signal(&lazy.room);
    pthread_mutex_unlock(&lazy.lock);
    for (int i = 0; i < b.n; i++) free(b.p[i]);
    pthread_mutex_lock(&lazy.lock);
    lazy.freed += (uint64_t)b.n;
    lazy.busy = 0;
    if (lazy.head == lazy.tail) pthread_cond_broadcast(&lazy.drained);
  }
  pthread_mutex_unlock(&lazy.lock);
  return NULL;
}

static void lazy_push_pending(void) {
  if (pending.n == 0) return;
  pthread_mutex_lock(&lazy.lock);
  while (lazy.head - lazy.tail == LAZY_RING) pthread_cond_wait(&lazy.room, &lazy.lock);
  lazy.ring[lazy.head % LAZY_RING] = pending;
  lazy.head++;
  pthread_cond_signal(&lazy.work);
  pthread_mutex_unlock(&lazy.lock);
  pending.n = 0;
}

static void lazy_free(void *p) {
  pending.p[pending.n++] = p;
  if (pending.n == LAZY_BATCH) lazy_push_pending();
}

static void lazy_drain(void) {
  lazy_push_pending();
  pthread_mutex_lock(&lazy.lock);
  while (lazy.head != lazy.tail || lazy.busy) pthread_cond_wait(&lazy.drained, &lazy.lock);
  pthread_mutex_unlock(&lazy.lock);
}

/* ---- zipfian key popularity (Gray et al., as in YCSB) ---- */

typedef struct zipf {
  uint64_t n;
  double theta, alpha, zetan, eta, half_pow_theta;
} zipf_t;

static void zipf_init(zipf_t *z, uint64_t n, double theta) {
  double zetan = 0, zeta2 = 1 + pow(0.5, theta);
  for (uint64_t i = 1; i <= n; i++) zetan += pow((double)i, -theta);
  z->n = n;
  z->theta = theta;
  z->alpha = 1 / (1 - theta);
  z->zetan = zetan;
  z->eta = (1 - pow(2.0 / (double)n, 1 - theta)) / (1 - zeta2 / zetan);
  z->half_pow_theta = pow(0.5, theta);
}

static uint64_t zipf_next(const zipf_t *z, wl_rng_t *r) {
  double u = wl_rng_unit(r), uz = u * z->zetan;
  uint64_t rank;
  if (uz < 1)
    rank = 0;
  else if (uz < 1 + z->half_pow_theta)
    rank = 1;
  else
    rank = (uint64_t)((double)z->n * pow(z->eta * u - z->eta + 1, z->alpha));
  if (rank >= z->n) rank = z->n - 1;
  /* Scramble: a bijection on [0, n) as long as the prime does not divide n. */
  return (rank * 2654435761ULL) % z->n;
}

/* ---- the table ---- */

static item_t **buckets;
static uint64_t nbuckets, nitems, live_bytes;
static uint64_t stat_hits, stat_misses, stat_sets, stat_dels, stat_expired, checksum;

static uint64_t hash_key(const char *k, size_t len) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a, then a finaliser for the low bits */
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)k[i]) * 1099511628211ULL;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  return h ^ (h >> 33);
}

/* Value size: the key's class is fixed (a key holds the same kind of thing all its life), the size
 * inside the class varies per write. Weights: 35% 8-64 B, 35% 64-512 B, 22% 512 B-4 KiB,
 * 7% 4-32 KiB, 1% 32-256 KiB. */
static uint32_t value_size(uint64_t key_id, wl_rng_t *r) {
  static const struct { unsigned weight; uint32_t lo, hi; } classes[] = {
      {35, 8, 64}, {35, 64, 512}, {22, 512, 4096}, {7, 4096, 32768}, {1, 32768, 262144}};
  unsigned pick = (unsigned)((key_id * 0x9e3779b97f4a7c15ULL) >> 32) % 100, acc = 0;
  for (size_t c = 0; c < sizeof classes / sizeof classes[0]; c++) {
    acc += classes[c].weight;
    if (pick < acc) return (uint32_t)wl_rng_logrange(r, classes[c].lo, classes[c].hi);
  }
  return 64;
}

static size_t item_bytes(const item_t *it) { return sizeof *it + it->key_len + it->val_len; }

static void free_value(char *val, uint32_t len) {
  if (len >= LAZY_MIN)
    lazy_free(val);
  else
    free(val);
}

static void item_delete(item_t **link) {
  item_t *it = *link;
  *link = it->next;
  live_bytes -= item_bytes(it);
  nitems--;
  free_value(it->val, it->val_len);
  free(it);
}

static item_t **item_find(const char *key, size_t len, uint64_t h) {
  item_t **link = &buckets[h & (nbuckets - 1)];
  while (*link && ((*link)->hash != h || (*link)->key_len != len || memcmp((*link)->key, key, len)))
    link = &(*link)->next;
  return link;
}

static void item_set(item_t **link, const char *key, size_t len, uint64_t h, uint64_t key_id,
                     uint64_t now, uint64_t ttl_lo, uint64_t ttl_hi, wl_rng_t *r) {
  uint32_t vlen = value_size(key_id, r);
  char *val = malloc(vlen);
  memset(val, (int)(key_id + now), vlen); /* the value arrives from the network: every byte written */
  uint64_t expire_at = wl_rng_unit(r) < 0.3 ? now + wl_rng_range(r, ttl_lo, ttl_hi) : 0;
  item_t *it = *link;
  if (it) {
    live_bytes -= it->val_len;
    free_value(it->val, it->val_len);
  } else {
    it = malloc(sizeof *it + len);
    memcpy(it->key, key, len);
    it->key_len = (uint16_t)len;
    it->hash = h;
    it->next = NULL;
    it->val_len = 0;
    *link = it;
    nitems++;
    live_bytes += sizeof *it + len;
  }
  it->val = val;
  it->val_len = vlen;
  it->expire_at = expire_at;
  live_bytes += vlen;
  stat_sets++;
}

/* One step of active expiry: look at a few buckets from a moving cursor. */
static void expire_cycle(uint64_t now, uint64_t *cursor, unsigned nb) {
  for (unsigned i = 0; i < nb; i++, (*cursor)++) {
    item_t **link = &buckets[*cursor & (nbuckets - 1)];
    while (*link) {
      if ((*link)->expire_at && (*link)->expire_at <= now) {
        item_delete(link);
        stat_expired++;
      } else {
        link = &(*link)->next;
      }
    }
  }
}

static size_t make_key(char *buf, uint64_t id) { return (size_t)snprintf(buf, 32, "user:%010llu", (unsigned long long)id); }

int main(int argc, char **argv) {
  wl_args_t args;
  wl_args_parse(&args, argc, argv, "cache", 2, 10);
  uint64_t keys = wl_count(&args, 20000, 150000);
  uint64_t ops = wl_count(&args, 600000, 6000000);
  uint64_t ttl_lo = ops / 50, ttl_hi = ops / 5;
  nbuckets = 1;
  while (nbuckets < keys) nbuckets <<= 1;
  buckets = calloc(nbuckets, sizeof *buckets);
  pthread_t lazy_tid;
  pthread_create(&lazy_tid, NULL, lazyfree_main, NULL);

  wl_rng_t rng;
  wl_rng_seed(&rng, args.seed);
  zipf_t zipf;
  zipf_init(&zipf, keys, 0.99);
  char key[32];

  /* Load: every key once, as a restarted cache warms up. */
  double t_load = wl_now();
  for (uint64_t id = 0; id < keys; id++) {
    size_t len = make_key(key, id);
    uint64_t h = hash_key(key, len);
    item_set(item_find(key, len, h), key, len, h, id, 0, ttl_lo, ttl_hi, &rng);
  }
  lazy_drain();
  double load_s = wl_now() - t_load;
  wl_mem_t loaded;
  wl_mem_sample(&loaded);

  double t0 = wl_now(), c0 = wl_cpu_now();
  uint64_t cursor = 0;
  for (uint64_t now = 1; now <= ops; now++) {
    uint64_t id = zipf_next(&zipf, &rng);
    size_t len = make_key(key, id);
    uint64_t h = hash_key(key, len);
    item_t **link = item_find(key, len, h);
    double op = wl_rng_unit(&rng);
    if (*link && (*link)->expire_at && (*link)->expire_at <= now) {
      item_delete(link); /* lazy expiry on access */
      stat_expired++;
    }
    if (op < 0.75) {
      if (*link) {
        stat_hits++;
        checksum += (unsigned char)(*link)->val[0] + (unsigned char)(*link)->val[(*link)->val_len - 1];
      } else {
        stat_misses++; /* cache-aside: the client fetches from the database and sets */
        item_set(link, key, len, h, id, now, ttl_lo, ttl_hi, &rng);
      }
    } else if (op < 0.95) {
      item_set(link, key, len, h, id, now, ttl_lo, ttl_hi, &rng);
    } else if (*link) {
      item_delete(link);
      stat_dels++;
    }
    if (now % 1000 == 0) expire_cycle(now, &cursor, 64);
  }
  lazy_drain();
  double seconds = wl_now() - t0, cpu_seconds = wl_cpu_now() - c0;
  wl_mem_t steady;
  wl_mem_sample(&steady);
  wl_allocator_stats("steady");
  uint64_t steady_live = live_bytes, steady_items = nitems;

  /* FLUSHALL ASYNC: unlink everything, large values go to the lazyfree thread. */
  double t_flush = wl_now();
  for (uint64_t b = 0; b < nbuckets; b++)
    while (buckets[b]) item_delete(&buckets[b]);
  free(buckets);
  lazy_drain();
  double flush_s = wl_now() - t_flush;
  wl_mem_t freed;
  wl_mem_sample(&freed);

  wl_out_begin(&args);
  wl_out_timing(ops, seconds, cpu_seconds);
  wl_out_num("load_s", load_s);
  wl_out_num("flush_s", flush_s);
  wl_out_int("keys", (long long)keys);
  wl_out_int("live_items", (long long)steady_items);
  wl_out_int("live_bytes", (long long)steady_live);
  wl_out_int("hits", (long long)stat_hits);
  wl_out_int("misses", (long long)stat_misses);
  wl_out_int("sets", (long long)stat_sets);
  wl_out_int("dels", (long long)stat_dels);
  wl_out_int("expired", (long long)stat_expired);
  wl_out_int("lazy_freed", (long long)lazy.freed);
  wl_out_int("checksum", (long long)checksum);
  wl_out_mem("loaded", &loaded);
  wl_out_mem("steady", &steady);
  wl_out_mem("freed", &freed);
  wl_idle_watch(args.idle_s, args.quick ? 0.1 : 0.25);
  wl_out_end();

  pthread_mutex_lock(&lazy.lock);
  lazy.stop = 1;
  pthread_cond_signal(&lazy.work);
  pthread_mutex_unlock(&lazy.lock);
  pthread_join(lazy_tid, NULL);
  return 0;
}
