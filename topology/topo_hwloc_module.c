/* topo_hwloc_module.c: the entry point of libtieralloc-hwloc.so, the module that carries hwloc
 * for the allocator. libtieralloc itself links no hwloc (every preloaded process would load
 * libhwloc and libudev at start-up); its background thread dlopen()s this module once, on a
 * machine with several nodes, and swaps the refined snapshot in. */
#include "topology.h"

/* Fills *t from hwloc for this machine (ranked). Returns 0 or an errno value. */
TA_EXPORT int tieralloc_hwloc_read(ta_topo_t *t) { return ta_topo_hwloc_read(t, NULL); }
