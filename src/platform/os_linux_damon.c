/* os_linux_damon.c: owns the DAMON access signal's conversation with the kernel's DAMON sysfs
 * interface (Documentation/admin-guide/mm/damon/usage.rst) and the snapshot it reads back.
 *
 * Layout used (kernel 6.2+ for tried_regions; checked on Debian's 6.12 in the test guest):
 *   <root>/kdamonds/nr_kdamonds
 *   <root>/kdamonds/K/state                     on | off | update_schemes_tried_regions
 *   <root>/kdamonds/K/state                     ... | commit (re-reads the inputs, running)
 *   <root>/kdamonds/K/contexts/nr_contexts, contexts/0/operations (fvaddr, else vaddr)
 *   .../contexts/0/monitoring_attrs/intervals/{sample_us,aggr_us,update_us}
 *   .../contexts/0/monitoring_attrs/nr_regions/{min,max}
 *   .../contexts/0/targets/nr_targets, targets/0/pid_target
 *   .../contexts/0/targets/0/regions/nr_regions, regions/N/{start,end}   (fvaddr's ranges)
 *   .../contexts/0/schemes/nr_schemes, schemes/0/action (stat)
 *   .../schemes/0/access_pattern/{sz,nr_accesses,age}/{min,max}   (all 0 by default: matches
 *        nothing, so the maxima are raised to match every region)
 *   .../schemes/0/tried_regions/N/{start,end,nr_accesses,age}, N from 0 in address order
 * fvaddr (checked on 6.12) monitors exactly the given ranges and never re-reads the mappings; vaddr
 * covers the whole address space with regions DAMON splits and merges itself, which in the
 * tiering benchmark (100-1000 regions over 640 blocks of 64 KiB-1 MiB) mixed hot and cold blocks
 * in most regions, so most regions read as used.
 * Seen in the guest: writing nr_kdamonds while a kdamond runs fails, and while none runs it
 * rebuilds every kdamond directory empty; update_schemes_tried_regions returns after ~0.5 s
 * under TCG; when the target process exits the kdamond turns itself off.
 *
 * Invariants: d->index >= 0 exactly while a kdamond is configured by us; d->regions[d->cur]
 * [0 .. nregions) are sorted by start and do not overlap (DAMON's region list is). */
#define _GNU_SOURCE
#include "os_linux_damon.h"

#include "os.h"
#include "path.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

const ta_os_damon_attrs_t ta_os_damon_default_attrs = {
    .sample_us = 5000, .aggr_us = 100000, .update_us = 1000000, .min_regions = 100, .max_regions = 1000};

/* --- paths and files, in fixed buffers -------------------------------------------------- */

/* <root>/kdamonds/K/<rest>, or <root>/kdamonds/<rest> when k < 0. */
static ta_path_t kpath(const ta_os_damon_t *d, int k, const char *rest) {
  ta_path_t p;
  ta_path_init(&p, d->root);
  ta_path_add(&p, "/kdamonds/");
  if (k >= 0) {
    ta_path_add_uint(&p, (uint64_t)k);
    ta_path_add(&p, "/");
  }
  ta_path_add(&p, rest);
  return p;
}

static int write_str(const ta_path_t *p, const char *v) {
  if (p->overflow) return ENAMETOOLONG;
  int fd = open(p->s, O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return errno;
  size_t len = strlen(v);
  ssize_t w = write(fd, v, len);
  int err = w == (ssize_t)len ? 0 : w < 0 ? errno : EIO;
  close(fd);
  return err;
}

static int write_uint(const ta_path_t *p, uint64_t v) {
  ta_path_t num;
  ta_path_init(&num, NULL);
  ta_path_add_uint(&num, v);
  return write_str(p, num.s);
}

/* The file's first line without its newline, into buf. */
static int read_line_at(int dirfd, const char *name, char *buf, size_t size) {
  int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t r = read(fd, buf, size - 1);
  int err = r < 0 ? errno : 0;
  close(fd);
  if (err) return err;
  buf[r] = 0;
  char *nl = memchr(buf, '\n', (size_t)r);
  if (nl) *nl = 0;
  return 0;
}

static int parse_uint(const char *s, uint64_t *out) {
  uint64_t v = 0;
  if (*s < '0' || *s > '9') return EINVAL;
  for (; *s >= '0' && *s <= '9'; s++) v = v * 10 + (uint64_t)(*s - '0');
  *out = v;
  return 0;
}

static int read_uint_at(int dirfd, const char *name, uint64_t *out) {
  char buf[64];
  int err = read_line_at(dirfd, name, buf, sizeof(buf));
  return err ? err : parse_uint(buf, out);
}

static int read_line(const ta_path_t *p, char *buf, size_t size) {
  return p->overflow ? ENAMETOOLONG : read_line_at(AT_FDCWD, p->s, buf, size);
}

static int read_uint(const ta_path_t *p, uint64_t *out) {
  return p->overflow ? ENAMETOOLONG : read_uint_at(AT_FDCWD, p->s, out);
}

static bool line_is(const ta_os_damon_t *d, int k, const char *rest, const char *want) {
  char buf[64];
  ta_path_t p = kpath(d, k, rest);
  return read_line(&p, buf, sizeof(buf)) == 0 && strcmp(buf, want) == 0;
}

static bool uint_is(const ta_os_damon_t *d, int k, const char *rest, uint64_t want) {
  uint64_t v;
  ta_path_t p = kpath(d, k, rest);
  return read_uint(&p, &v) == 0 && v == want;
}

/* --- setting up ------------------------------------------------------------------------- */

/* A kdamond this code configured for a process that has gone: the kernel turned it off when
 * the process exited without stopping it (killed, _exit). Nobody else can still want it. */
static bool is_leftover(const ta_os_damon_t *d, int k) {
  uint64_t pid;
  ta_path_t p = kpath(d, k, "contexts/0/targets/0/pid_target");
  if (!line_is(d, k, "state", "off") || !uint_is(d, k, "contexts/nr_contexts", 1) ||
      !(line_is(d, k, "contexts/0/operations", "fvaddr") || line_is(d, k, "contexts/0/operations", "vaddr")) ||
      !uint_is(d, k, "contexts/0/targets/nr_targets", 1) ||
      !uint_is(d, k, "contexts/0/schemes/nr_schemes", 1) || !line_is(d, k, "contexts/0/schemes/0/action", "stat") ||
      read_uint(&p, &pid) != 0 || pid == 0 || pid > 0x7fffffff)
    return false;
  return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

static int configure(ta_os_damon_t *d, int k, pid_t pid, const ta_os_damon_attrs_t *a) {
  static const char *const ranges[] = {"sz", "nr_accesses", "age"};
  /* Each range's maximum: sz is an unsigned long, the other two unsigned ints. */
  static const uint64_t maxima[] = {UINT64_MAX, UINT32_MAX, UINT32_MAX};
  struct {
    const char *rest;
    uint64_t v;
    const char *s;
  } steps[] = {
      {"contexts/nr_contexts", 1, NULL},
      {"contexts/0/monitoring_attrs/intervals/sample_us", a->sample_us, NULL},
      {"contexts/0/monitoring_attrs/intervals/aggr_us", a->aggr_us, NULL},
      {"contexts/0/monitoring_attrs/intervals/update_us", a->update_us, NULL},
      {"contexts/0/monitoring_attrs/nr_regions/max", a->max_regions, NULL}, /* max first: min <= max */
      {"contexts/0/monitoring_attrs/nr_regions/min", a->min_regions, NULL},
      {"contexts/0/targets/nr_targets", 1, NULL},
      {"contexts/0/targets/0/pid_target", (uint64_t)pid, NULL},
      {"contexts/0/schemes/nr_schemes", 1, NULL},
      {"contexts/0/schemes/0/action", 0, "stat"},
  };
  for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
    ta_path_t p = kpath(d, k, steps[i].rest);
    int err = steps[i].s ? write_str(&p, steps[i].s) : write_uint(&p, steps[i].v);
    if (err) return err;
    if (i == 0) {
      /* fvaddr where the kernel knows it (a name it does not know is EINVAL), else vaddr. */
      ta_path_t ops = kpath(d, k, "contexts/0/operations");
      d->fixed = write_str(&ops, "fvaddr") == 0;
      if (!d->fixed && (err = write_str(&ops, "vaddr"))) return err;
    }
  }
  for (size_t i = 0; i < 3; i++) {
    ta_path_t p = kpath(d, k, "contexts/0/schemes/0/access_pattern/");
    ta_path_add(&p, ranges[i]);
    ta_path_t lo = p, hi = p;
    ta_path_add(&lo, "/min");
    ta_path_add(&hi, "/max");
    int err = write_uint(&hi, maxima[i]);
    if (!err) err = write_uint(&lo, 0);
    if (err) return err;
  }
  return 0;
}

int ta_os_damon_start(ta_os_damon_t *d, const char *root, pid_t pid, const ta_os_damon_attrs_t *attrs,
                      uint64_t now_ns) {
  d->index = -1;
  d->created = d->fixed = false;
  d->nregions = d->spare_n = d->misses = d->cur = d->watched = 0;
  d->watch_sig = 0;
  d->most = 1;
  size_t len = strlen(root);
  if (len >= sizeof(d->root)) return ENAMETOOLONG;
  memcpy(d->root, root, len + 1);
  uint64_t n;
  ta_path_t nr = kpath(d, -1, "nr_kdamonds");
  int err = read_uint(&nr, &n);
  if (err) return err;
  int k = -1;
  if (n == 0) {
    if ((err = write_uint(&nr, 1))) return err;
    k = 0;
    d->created = true;
  } else {
    for (int i = 0; i < (int)n && k < 0; i++)
      if (is_leftover(d, i)) k = i;
    if (k < 0) return EBUSY;
    d->created = n == 1; /* the only kdamond, and a leftover of ours: ours to remove */
  }
  d->index = k;
  d->aggr_ns = attrs->aggr_us * 1000;
  d->snap_ns = d->prev_snap_ns = now_ns;
  ta_path_t state = kpath(d, k, "state");
  if (!err) err = configure(d, k, pid, attrs);
  if (!err) err = write_str(&state, "on");
  if (err) ta_os_damon_stop(d);
  return err;
}

/* --- fixed ranges (fvaddr) --------------------------------------------------------------- */

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h;
}

int ta_os_damon_watch(ta_os_damon_t *d, const ta_os_damon_range_t *ranges, unsigned n) {
  if (d->index < 0) return ESRCH;
  if (!d->fixed) return ENOTSUP;
  unsigned cap = TA_OS_DAMON_CAPACITY * 2 / 3; /* max_nr_regions is 1.5 n */
  if (n > cap) n = cap;
  uint64_t sig = n;
  for (unsigned i = 0; i < n; i++) sig = mix(mix(sig, ranges[i].start), ranges[i].end);
  if (sig == d->watch_sig && n == d->watched) return 0;
  /* One page per region is checked each sample: stretch the sample interval so the kdamond
   * checks at most TA_OS_DAMON_CHECKS_PER_S pages a second. */
  uint64_t sample_us = 5000, per_region_us = 1000000 / TA_OS_DAMON_CHECKS_PER_S;
  if ((uint64_t)n * per_region_us > sample_us) sample_us = (uint64_t)n * per_region_us;
  uint64_t aggr_us = TA_OS_DAMON_SAMPLES_PER_AGGR * sample_us;
  if (aggr_us < 100000) aggr_us = 100000;
  uint64_t min_regions = n < 3 ? 3 : n, max_regions = min_regions + min_regions / 2;
  const char *C = "contexts/0/";
  struct {
    const char *rest;
    uint64_t v;
  } attrs[] = {
      /* Files are only inputs: the kernel checks them together at commit. */
      {"monitoring_attrs/intervals/sample_us", sample_us},
      {"monitoring_attrs/intervals/aggr_us", aggr_us},
      {"monitoring_attrs/nr_regions/max", max_regions},
      {"monitoring_attrs/nr_regions/min", min_regions},
  };
  int err = 0;
  for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]) && !err; i++) {
    ta_path_t p = kpath(d, d->index, C);
    ta_path_add(&p, attrs[i].rest);
    err = write_uint(&p, attrs[i].v);
  }
  ta_path_t base = kpath(d, d->index, "contexts/0/targets/0/regions/");
  ta_path_t nr = base;
  ta_path_add(&nr, "nr_regions");
  if (!err) err = write_uint(&nr, n); /* the kernel makes regions/0 .. n-1 */
  unsigned written = 0;
  for (unsigned i = 0; i < n && !err; i++) {
    uintptr_t start = ranges[i].start, end = ranges[i].end;
    ta_path_t r = base;
    ta_path_add_uint(&r, i);
    ta_path_t ps = r, pe = r;
    ta_path_add(&ps, "/start");
    ta_path_add(&pe, "/end");
    err = write_uint(&ps, start);
    if (!err) err = write_uint(&pe, end);
    written++;
  }
  ta_path_t state = kpath(d, d->index, "state");
  if (!err) err = write_str(&state, "commit");
  if (err) return err;
  d->aggr_ns = aggr_us * 1000;
  d->watch_sig = sig;
  d->watched = written;
  return 0;
}

/* --- the snapshot ----------------------------------------------------------------------- */

int ta_os_damon_read(ta_os_damon_t *d) {
  ta_os_damon_region_t *out = d->regions[!d->cur];
  unsigned n = 0;
  d->spare_n = 0;
  if (d->index < 0) return ESRCH;
  ta_path_t p = kpath(d, d->index, "contexts/0/schemes/0/tried_regions");
  if (p.overflow) return ENAMETOOLONG;
  int dirfd = open(p.s, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) return errno;
  int err = 0;
  for (unsigned i = 0; i < TA_OS_DAMON_CAPACITY; i++) {
    ta_path_t name;
    ta_path_init(&name, NULL);
    ta_path_add_uint(&name, i);
    ta_path_add(&name, "/");
    size_t base = name.n;
    static const char *const files[] = {"start", "end", "nr_accesses", "age"};
    uint64_t v[4] = {0, 0, 0, 0};
    int e = 0;
    unsigned f = 0;
    /* fvaddr answers from nr_accesses alone: age is not read (a quarter of the files, 640 a
     * round in the tiering benchmark, where one sysfs read costs tens of us under TCG). */
    for (unsigned nfiles = d->fixed ? 3 : 4; f < nfiles; f++) {
      ta_path_truncate(&name, base);
      ta_path_add(&name, files[f]);
      if ((e = read_uint_at(dirfd, name.s, &v[f]))) break;
    }
    if (e == ENOENT && f == 0) break; /* past the last region */
    if (e) {
      err = e;
      break;
    }
    if (v[1] <= v[0] || (n && v[0] < out[n - 1].end)) {
      err = EPROTO; /* not the sorted, disjoint list DAMON keeps */
      break;
    }
    out[n++] = (ta_os_damon_region_t){
        .start = (uintptr_t)v[0],
        .end = (uintptr_t)v[1],
        .nr_accesses = v[2] > UINT32_MAX ? UINT32_MAX : (uint32_t)v[2],
        .age = v[3] > UINT32_MAX ? UINT32_MAX : (uint32_t)v[3],
    };
  }
  close(dirfd);
  d->spare_n = err ? 0 : n;
  return err;
}

int ta_os_damon_refresh(ta_os_damon_t *d, uint64_t now_ns, unsigned attempts) {
  if (d->index < 0) return ESRCH;
  ta_path_t state = kpath(d, d->index, "state");
  int err = ENODATA;
  for (unsigned i = 0; i < attempts && err == ENODATA; i++) {
    err = write_str(&state, "update_schemes_tried_regions");
    if (!err) err = ta_os_damon_read(d);
    if (!err && !d->spare_n) err = ENODATA;
  }
  if (err) {
    if (++d->misses >= TA_OS_DAMON_KEEP_ROUNDS) d->nregions = 0;
    return err;
  }
  d->misses = 0;
  d->cur = !d->cur;
  d->nregions = d->spare_n;
  uint32_t most = 0;
  for (unsigned i = 0; i < d->nregions; i++)
    if (d->regions[d->cur][i].nr_accesses > most) most = d->regions[d->cur][i].nr_accesses;
  d->most = most ? most : 1;
  d->prev_snap_ns = d->snap_ns;
  d->snap_ns = now_ns;
  return 0;
}

int ta_os_damon_accessed(const ta_os_damon_t *d, uintptr_t addr) {
  unsigned lo = 0, hi = d->nregions;
  while (lo < hi) { /* the first region ending after addr */
    unsigned mid = lo + (hi - lo) / 2;
    if (d->regions[d->cur][mid].end <= addr) lo = mid + 1;
    else hi = mid;
  }
  const ta_os_damon_region_t *r = &d->regions[d->cur][lo];
  if (lo == d->nregions || r->start > addr) return -1;
  if (d->fixed) return (int)((r->nr_accesses < d->most ? r->nr_accesses : d->most) * TA_OS_ACCESS_FULL / d->most);
  if (r->nr_accesses) return TA_OS_ACCESS_FULL;
  uint64_t window = d->snap_ns - d->prev_snap_ns;
  return (uint64_t)r->age * d->aggr_ns < window ? TA_OS_ACCESS_FULL : 0;
}

void ta_os_damon_stop(ta_os_damon_t *d) {
  if (d->index < 0) return;
  ta_path_t state = kpath(d, d->index, "state");
  write_str(&state, "off"); /* fails when the kernel stopped it already: fine */
  if (d->created) {
    ta_path_t nr = kpath(d, -1, "nr_kdamonds");
    write_uint(&nr, 0);
  }
  d->index = -1;
  d->nregions = 0;
}
