// Microbenchmarks of tieralloc's fast-path pieces (Google Benchmark), linked against the layer
// libraries rather than libtieralloc.so, so each piece is timed alone:
//   size-class lookup (size_class.h), thread-cache push/pop (tcache.h), pagemap lookup
//   (pagemap.h), and the remote free: a batch of objects sent home to their node's queue by the
//   freeing thread (ta_arena_send_home) and drained into their bins by the owner
//   (ta_arena_drain_remote), beside the same-node path where a flush returns another thread's
//   objects straight to their bin (ta_arena_flush).
// The benchmark process itself keeps glibc's malloc: the layer libraries export no libc names.
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#include "conf.h"
#include "tcache.h"
#include "topology.h"

namespace {

// The start-up sequence of src/api/init.c up to the arenas (no thread caches, no background
// thread): what the pieces below need.
bool boot() {
  static bool done = [] {
    ta_os_init();
    ta_conf_init();
    ta_hpa_geometry_init();
    ta_size_class_init();
    ta_topology_init();
    return ta_arena_boot(ta_topology_get(), 2, TA_PLACE_NONE, 5000ull * 1000000ull, 50) == 0;
  }();
  return done;
}

std::vector<size_t> random_sizes(size_t n, size_t max, uint64_t seed) {
  std::mt19937_64 rng(seed);
  // Log-uniform: as many sizes per doubling, as programs ask.
  std::uniform_real_distribution<double> d(0, std::log2(double(max)));
  std::vector<size_t> out(n);
  for (auto &s : out) s = size_t(std::exp2(d(rng)));
  return out;
}

void BM_SizeClassLookup(benchmark::State &state) {
  if (!boot()) return state.SkipWithError("boot failed");
  auto sizes = random_sizes(4096, size_t(state.range(0)), 1);
  size_t i = 0;
  for (auto _ : state) {
    unsigned cls = ta_size_class_of(sizes[i++ & 4095]);
    benchmark::DoNotOptimize(cls);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SizeClassLookup)->Arg(1024)->Arg(TA_SMALL_MAX);

// One push and one pop of the same class: a malloc/free pair's cache traffic.
void BM_TcachePushPop(benchmark::State &state) {
  static ta_tcache_t tc;  // zeroed: every bin empty with no room, as ta_tcache_empty
  std::vector<void *> slots(256);
  const unsigned cls = 5;
  tc.bins[cls].slots = slots.data();
  tc.bins[cls].max = 256;
  tc.bins[cls].count = 32;
  char object[64];
  for (auto _ : state) {
    bool pushed = ta_tcache_push(&tc, cls, object);
    void *p = ta_tcache_pop(&tc, cls);
    benchmark::DoNotOptimize(pushed);
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(2 * state.iterations());
}
BENCHMARK(BM_TcachePushPop);

// Batches of 64 pushes then 64 pops: the stack moving over its range rather than at one slot.
void BM_TcacheBatch64(benchmark::State &state) {
  static ta_tcache_t tc;
  std::vector<void *> slots(256);
  const unsigned cls = 5;
  tc.bins[cls].slots = slots.data();
  tc.bins[cls].max = 256;
  std::vector<char> objects(64 * 64);
  for (auto _ : state) {
    for (int i = 0; i < 64; i++) ta_tcache_push(&tc, cls, &objects[64 * i]);
    for (int i = 0; i < 64; i++) benchmark::DoNotOptimize(ta_tcache_pop(&tc, cls));
  }
  state.SetItemsProcessed(128 * state.iterations());
}
BENCHMARK(BM_TcacheBatch64);

// Lookups of random addresses in a 256 MiB range registered in the pagemap with one extent per
// 64 KiB: the free path's first step. The range is reserved PROT_NONE; it is never touched.
void BM_PagemapLookup(benchmark::State &state) {
  if (!boot()) return state.SkipWithError("boot failed");
  const size_t span = size_t(256) << 20, chunk = size_t(64) << 10;
  static void *base = mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  static std::vector<ta_extent_t> extents(span / chunk);
  static bool registered = [] {
    for (size_t i = 0; i < span / chunk; i++)
      if (ta_pagemap_set(static_cast<char *>(base) + i * chunk, chunk, &extents[i]) != 0) return false;
    return true;
  }();
  if (base == MAP_FAILED || !registered) return state.SkipWithError("pagemap set-up failed");
  std::mt19937_64 rng(2);
  std::vector<char *> addrs(4096);
  for (auto &a : addrs) a = static_cast<char *>(base) + (rng() % span);
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(ta_pagemap_lookup(addrs[i++ & 4095]));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PagemapLookup);

// Same-node cross-thread free: 64 objects allocated from arena 0 are returned to their bin by
// ta_arena_flush, as a thread cache flushes objects another thread of the node allocated. Only
// the flush is timed. With two threads both flush into the same bin, so its lock is contended.
void BM_FlushToBin(benchmark::State &state) {
  if (!boot()) return state.SkipWithError("boot failed");
  const unsigned cls = ta_size_class_of(size_t(state.range(0)));
  void *ptrs[64];
  for (auto _ : state) {
    for (int i = 0; i < 64; i++) ptrs[i] = ta_arena_alloc_small(ta_arenas[0], cls);
    auto t0 = std::chrono::steady_clock::now();
    ta_arena_flush(cls, ptrs, 64);
    auto t1 = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  state.SetItemsProcessed(64 * state.iterations());
}
BENCHMARK(BM_FlushToBin)->Arg(64)->Arg(1024)->UseManualTime()->Threads(1)->Threads(2);

// Remote free: the freeing thread sends a batch of 64 objects to the owner node's queue (timed:
// what a free on another node costs its caller); the owner's drain into the bins is timed apart
// and reported as drain_ns_per_object. On a one-node machine the queue is node 0's own, which
// exercises the same code.
void BM_RemoteFree(benchmark::State &state) {
  if (!boot()) return state.SkipWithError("boot failed");
  const unsigned cls = ta_size_class_of(size_t(state.range(0)));
  const unsigned node = ta_arenas[0]->node;
  void *ptrs[64];
  double drain_s = 0;
  for (auto _ : state) {
    for (int i = 0; i < 64; i++) ptrs[i] = ta_arena_alloc_small(ta_arenas[0], cls);
    auto t0 = std::chrono::steady_clock::now();
    ta_arena_send_home(node, ptrs, 64);
    auto t1 = std::chrono::steady_clock::now();
    ta_arena_drain_remote(node);
    auto t2 = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
    drain_s += std::chrono::duration<double>(t2 - t1).count();
  }
  state.SetItemsProcessed(64 * state.iterations());
  state.counters["drain_ns_per_object"] = drain_s * 1e9 / (64.0 * double(state.iterations()));
}
BENCHMARK(BM_RemoteFree)->Arg(64)->Arg(1024)->UseManualTime();

}  // namespace

BENCHMARK_MAIN();
