/* topo_sysfs.c: the bootstrap reader. Builds a snapshot from <fsroot>/sys and <fsroot>/proc.
 *
 * It runs inside the first malloc call, before the allocator exists, so it allocates nothing:
 * no malloc, no stdio FILE, no opendir (which mallocs its buffer). Files are read with open/read
 * into stack buffers, directories listed with getdents64, paths built in fixed buffers (path.h).
 * Everything it learns goes into the caller's fixed-size ta_topo_t. The fsroot prefix lets tests run it on the
 * sysfs dumps of other machines.
 *
 * What it reads: node/online (or the node directories of older kernels), each node's cpumap,
 * meminfo and distance, access1 (or access0) HMAT initiators, cpu/online, the cgroup cpuset of the
 * process, dax devices and which driver holds them, NVIDIA's numa_status, memory_tiering, and the
 * first processor of /proc/cpuinfo. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "path.h"
#include "topology.h"

#define FILE_CAP 4096

/* ---- small string helpers (no libc formatting, to stay obviously allocation-free) ---------- */

static long p_read(const ta_path_t *p, char *buf, size_t cap) {
  if (p->overflow) { buf[0] = '\0'; return -1; }
  return ta_os_read_file(p->s, buf, cap);
}

static const char *skip_space(const char *s) {
  while (*s == ' ' || *s == '\t' || *s == '\n') s++;
  return s;
}

static unsigned long parse_num(const char **s) {
  unsigned long v = 0;
  while (**s >= '0' && **s <= '9') v = v * 10 + (unsigned long)(*(*s)++ - '0');
  return v;
}

static bool starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "0-3,8,10-11" into a bit set of `limit` bits. Numbers >= limit: E2BIG. */
static int parse_list(const char *s, uint64_t *bits, unsigned limit) {
  s = skip_space(s);
  while (*s >= '0' && *s <= '9') {
    unsigned long a = parse_num(&s), b = a;
    if (*s == '-') { s++; b = parse_num(&s); }
    if (b < a) return EINVAL;
    if (b >= limit) return E2BIG;
    for (unsigned long i = a; i <= b; i++) bits[i / 64] |= (uint64_t)1 << (i % 64);
    if (*s == ',') s++;
  }
  return 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* "0000,0000003f" (most significant 32-bit word first) into a CPU set. */
static int parse_mask(const char *s, ta_cpuset_t *set) {
  size_t len = strlen(s);
  while (len && (s[len - 1] == '\n' || s[len - 1] == ' ')) len--;
  unsigned bit = 0;
  for (size_t i = len; i-- > 0;) {
    if (s[i] == ',') continue;
    int v = hexval(s[i]);
    if (v < 0) return EINVAL;
    for (int b = 0; b < 4; b++, bit++) {
      if (!(v >> b & 1)) continue;
      if (bit >= TA_TOPO_MAX_CPUS) return E2BIG;
      ta_cpuset_set(set, bit);
    }
  }
  return 0;
}

/* Calls fn(name, ctx) for each entry of a directory; getdents64 into a stack buffer. */
typedef int (*dir_fn)(const char *name, void *ctx);
struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static int dir_each(const ta_path_t *p, dir_fn fn, void *ctx) {
  if (p->overflow) return ENAMETOOLONG;
  int fd = open(p->s, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  char buf[2048] __attribute__((aligned(8)));
  int err = 0;
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
    if (n < 0) { err = errno; break; }
    if (n == 0) break;
    for (long off = 0; off < n && !err;) {
      struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
      off += d->d_reclen;
      if (d->d_name[0] == '.') continue;
      err = fn(d->d_name, ctx);
    }
    if (err) break;
  }
  close(fd);
  return err;
}

/* "<prefix><number>" -> number, or -1. */
static long name_number(const char *name, const char *prefix) {
  if (!starts_with(name, prefix)) return -1;
  const char *s = name + strlen(prefix);
  if (*s < '0' || *s > '9') return -1;
  unsigned long v = parse_num(&s);
  return *s ? -1 : (long)v;
}

/* ---- the reader --------------------------------------------------------------------------- */

typedef struct {
  ta_topo_t *t;
  const char *root;
  uint64_t present[TA_TOPO_MAX_NODE_ID / 64];   /* online node numbers */
  int16_t index_of[TA_TOPO_MAX_NODE_ID];        /* node number -> snapshot index, -1 */
  int err;
} reader_t;

static int collect_node_dir(const char *name, void *ctx) {
  reader_t *r = ctx;
  long id = name_number(name, "node");
  if (id < 0) return 0;
  if (id >= TA_TOPO_MAX_NODE_ID) return E2BIG;
  r->present[id / 64] |= (uint64_t)1 << (id % 64);
  return 0;
}

static int collect_cpu_dir(const char *name, void *ctx) {
  ta_cpuset_t *set = ctx;
  long id = name_number(name, "cpu");
  if (id < 0) return 0;
  if (id >= TA_TOPO_MAX_CPUS) return E2BIG;
  ta_cpuset_set(set, (unsigned)id);
  return 0;
}

static int read_online_cpus(reader_t *r) {
  ta_topo_t *t = r->t;
  ta_path_t p;
  char buf[FILE_CAP];
  ta_path_init(&p, r->root);
  ta_path_add(&p, "/sys/devices/system/cpu/online");
  if (p_read(&p, buf, sizeof(buf)) > 0 && buf[0] >= '0' && buf[0] <= '9')
    return parse_list(buf, t->online.bits, TA_TOPO_MAX_CPUS);
  /* Old dumps have no online file: every cpuN directory whose own online file is not "0". */
  ta_cpuset_t dirs;
  memset(&dirs, 0, sizeof(dirs));
  ta_path_init(&p, r->root);
  ta_path_add(&p, "/sys/devices/system/cpu");
  int err = dir_each(&p, collect_cpu_dir, &dirs);
  if (err) return err;
  for (unsigned c = 0; c < TA_TOPO_MAX_CPUS; c++) {
    if (!ta_cpuset_has(&dirs, c)) continue;
    ta_path_init(&p, r->root);
    ta_path_add(&p, "/sys/devices/system/cpu/cpu");
    ta_path_add_uint(&p, c);
    ta_path_add(&p, "/online");
    if (p_read(&p, buf, sizeof(buf)) > 0 && buf[0] == '0') continue;
    ta_cpuset_set(&t->online, c);
  }
  return 0;
}

static void read_packages(reader_t *r) {
  ta_topo_t *t = r->t;
  char buf[64];
  ta_path_t p;
  for (unsigned c = 0; c < t->ncpus_max; c++) {
    t->cpu_package[c] = -1;
    if (!ta_cpuset_has(&t->online, c)) continue;
    /* Only the CPUs without a node need their package (to find nearby nodes), and of the others
     * the first CPU of each node stands for the node: one file each, not one per CPU. */
    uint8_t n = t->cpu_node[c];
    if (n != TA_TOPO_NONE) {
      bool first = true;
      for (unsigned k = 0; k < c && first; k++) first = t->cpu_node[k] != n;
      if (!first) continue;
    }
    ta_path_init(&p, r->root);
    ta_path_add(&p, "/sys/devices/system/cpu/cpu");
    ta_path_add_uint(&p, c);
    ta_path_add(&p, "/topology/physical_package_id");
    if (p_read(&p, buf, sizeof(buf)) > 0 && buf[0] >= '0' && buf[0] <= '9') {
      const char *s = buf;
      t->cpu_package[c] = (int16_t)parse_num(&s);
    }
  }
}

static void node_path(ta_path_t *p, const reader_t *r, int os_index, const char *file) {
  ta_path_init(p, r->root);
  ta_path_add(p, "/sys/devices/system/node/node");
  ta_path_add_uint(p, (unsigned long)os_index);
  ta_path_add(p, file);
}

/* Adds one node: CPUs (online only), capacity. A node whose CPUs overlap an earlier node's is
 * dropped, as hwloc drops it: a CPU has one home. */
static int read_node(reader_t *r, int os_index) {
  ta_topo_t *t = r->t;
  if (t->nnodes == TA_TOPO_MAX_NODES) return E2BIG;
  ta_topo_node_t *nd = &t->node[t->nnodes];
  memset(nd, 0, sizeof(*nd));
  nd->os_index = os_index;
  nd->memory_tier = -1;
  char buf[FILE_CAP];
  ta_path_t p;
  ta_cpuset_t cpus;
  memset(&cpus, 0, sizeof(cpus));
  node_path(&p, r, os_index, "/cpumap");
  int err = 0;
  if (p_read(&p, buf, sizeof(buf)) > 0) {
    err = parse_mask(buf, &cpus);
  } else {
    node_path(&p, r, os_index, "/cpulist");
    if (p_read(&p, buf, sizeof(buf)) > 0) err = parse_list(buf, cpus.bits, TA_TOPO_MAX_CPUS);
  }
  if (err) return err;
  for (size_t w = 0; w < TA_ARRAY_LEN(cpus.bits); w++) {
    cpus.bits[w] &= t->online.bits[w];
    for (unsigned i = 0; i < t->nnodes; i++)
      if (cpus.bits[w] & t->node[i].cpus.bits[w]) return 0;   /* overlapping: dropped */
  }
  nd->cpus = cpus;
  nd->ncpus = ta_cpuset_count(&cpus);
  nd->has_cpus = nd->ncpus > 0;
  node_path(&p, r, os_index, "/meminfo");
  if (p_read(&p, buf, sizeof(buf)) > 0) {
    const char *m = strstr(buf, "MemTotal:");
    if (m) {
      m = skip_space(m + 9);
      nd->capacity_bytes = (uint64_t)parse_num(&m) * 1024;
    }
  }
  r->index_of[os_index] = (int16_t)t->nnodes;
  t->nnodes++;
  return 0;
}

/* Row `row` of the SLIT: one value per online node, in node-number order. */
static int read_distances(reader_t *r, int os_index) {
  ta_topo_t *t = r->t;
  char buf[FILE_CAP];
  ta_path_t p;
  node_path(&p, r, os_index, "/distance");
  if (p_read(&p, buf, sizeof(buf)) <= 0) return 0;
  int from = r->index_of[os_index];
  const char *s = buf;
  for (int id = 0; id < TA_TOPO_MAX_NODE_ID; id++) {
    if (!(r->present[id / 64] >> (id % 64) & 1)) continue;
    s = skip_space(s);
    if (*s < '0' || *s > '9') return 0;   /* short row: keep what we have */
    unsigned long d = parse_num(&s);
    if (r->index_of[id] >= 0) t->distance[from][r->index_of[id]] = (uint8_t)(d > 255 ? 255 : d);
  }
  t->has_distance = true;
  return 0;
}

typedef struct {
  reader_t *r;
  int target;
  uint32_t latency, bandwidth;
} hmat_ctx_t;

static int hmat_initiator(const char *name, void *ctx) {
  hmat_ctx_t *h = ctx;
  long id = name_number(name, "node");
  if (id < 0 || id >= TA_TOPO_MAX_NODE_ID || h->r->index_of[id] < 0) return 0;
  int from = h->r->index_of[id];
  h->r->t->latency[from][h->target] = h->latency;
  h->r->t->bandwidth[from][h->target] = h->bandwidth;
  if (h->latency || h->bandwidth) h->r->t->has_hmat = true;
  return 0;
}

/* HMAT as the kernel exports it: the best initiators of each target with one latency and one
 * bandwidth. access1 counts CPUs only; access0 also generic initiators (GPUs, accelerators). */
static void read_hmat(reader_t *r, int os_index) {
  static const char *const classes[] = {"/access1", "/access0"};
  char buf[64];
  ta_path_t p;
  for (size_t k = 0; k < 2; k++) {
    hmat_ctx_t h = {r, r->index_of[os_index], 0, 0};
    node_path(&p, r, os_index, classes[k]);
    ta_path_add(&p, "/initiators/read_latency");
    bool have = false;
    if (p_read(&p, buf, sizeof(buf)) > 0) {
      const char *s = buf;
      h.latency = (uint32_t)parse_num(&s);
      have = true;
    }
    node_path(&p, r, os_index, classes[k]);
    ta_path_add(&p, "/initiators/read_bandwidth");
    if (p_read(&p, buf, sizeof(buf)) > 0) {
      const char *s = buf;
      h.bandwidth = (uint32_t)parse_num(&s);
      have = true;
    }
    if (!have) continue;
    node_path(&p, r, os_index, classes[k]);
    ta_path_add(&p, "/initiators");
    dir_each(&p, hmat_initiator, &h);
    return;
  }
}

/* dax devices: the driver (kmem = onlined as a node) and the device path say what the memory
 * is: under platform/hmem.N it is soft-reserved (SPM), under an ndbus region NVDIMM, under a
 * CXL region CXL. */
static int dax_device(const char *name, void *ctx) {
  reader_t *r = ctx;
  ta_path_t p;
  char buf[64], link[TA_PATH_CAP];
  ta_path_init(&p, r->root);
  ta_path_add(&p, "/sys/bus/dax/devices/");
  ta_path_add(&p, name);
  ta_path_add(&p, "/target_node");
  if (p_read(&p, buf, sizeof(buf)) <= 0 || buf[0] < '0' || buf[0] > '9') return 0;
  const char *s = buf;
  unsigned long node = parse_num(&s);
  if (node >= TA_TOPO_MAX_NODE_ID || r->index_of[node] < 0) return 0;   /* not onlined */
  ta_path_init(&p, r->root);
  ta_path_add(&p, "/sys/bus/dax/devices/");
  ta_path_add(&p, name);
  if (p.overflow) return 0;
  long n = readlink(p.s, link, sizeof(link) - 1);
  if (n <= 0) return 0;
  link[n] = '\0';
  ta_topo_node_t *nd = &r->t->node[r->index_of[node]];
  if (strstr(link, "/ndbus") || strstr(link, "/pmem")) nd->dax = TA_DAX_NVM;
  else if (strstr(link, "/cxl") || strstr(link, "ACPI0017") || strstr(link, "/region"))
    nd->dax = TA_DAX_CXL;
  else if (strstr(link, "hmem")) nd->dax = TA_DAX_SPM;
  return 0;
}

static int nvidia_gpu(const char *name, void *ctx) {
  reader_t *r = ctx;
  ta_path_t p;
  char buf[FILE_CAP];
  ta_path_init(&p, r->root);
  ta_path_add(&p, "/proc/driver/nvidia/gpus/");
  ta_path_add(&p, name);
  ta_path_add(&p, "/numa_status");
  if (p_read(&p, buf, sizeof(buf)) <= 0) return 0;
  const char *s = strstr(buf, "Node:");
  if (!s) return 0;
  s = skip_space(s + 5);
  if (*s < '0' || *s > '9') return 0;
  unsigned long node = parse_num(&s);
  if (node < TA_TOPO_MAX_NODE_ID && r->index_of[node] >= 0) r->t->node[r->index_of[node]].gpu = true;
  return 0;
}

static int memory_tier(const char *name, void *ctx) {
  reader_t *r = ctx;
  long tier = name_number(name, "memory_tier");
  if (tier < 0) return 0;
  ta_path_t p;
  char buf[FILE_CAP];
  ta_path_init(&p, r->root);
  ta_path_add(&p, "/sys/devices/virtual/memory_tiering/");
  ta_path_add(&p, name);
  ta_path_add(&p, "/nodelist");
  if (p_read(&p, buf, sizeof(buf)) <= 0) return 0;
  uint64_t nodes[TA_TOPO_MAX_NODE_ID / 64] = {0};
  if (parse_list(buf, nodes, TA_TOPO_MAX_NODE_ID)) return 0;
  for (int id = 0; id < TA_TOPO_MAX_NODE_ID; id++)
    if ((nodes[id / 64] >> (id % 64) & 1) && r->index_of[id] >= 0)
      r->t->node[r->index_of[id]].memory_tier = (int)tier;
  return 0;
}

/* The process's cpuset: mems from /proc/self/status (what the kernel enforces), CPUs from the
 * cgroup's cpuset (not the affinity mask: threads may widen theirs within the cpuset): cgroup2's
 * cpuset.cpus.effective, or v1's cpuset.cpus as hwloc reads it (v1's effective_* files can be
 * narrower in dumps than what hwloc reports, and the two readers must agree). Dumps have no
 * status file, so mems come from the cgroup too. Absent data: no restriction. Only the first
 * 4 KiB of /proc/mounts are searched: cgroup mounts come early. */
static bool cgroup_file(reader_t *r, const char *v2name, const char *v1name, char *out, size_t cap) {
  char mounts[FILE_CAP], self[512];
  ta_path_t p;
  ta_path_init(&p, r->root);
  ta_path_add(&p, "/proc/self/cpuset");
  if (p_read(&p, self, sizeof(self)) <= 0) return false;
  size_t len = strlen(self);
  while (len && self[len - 1] == '\n') self[--len] = '\0';
  if (strcmp(self, "/") == 0) self[0] = '\0';
  ta_path_init(&p, r->root);
  ta_path_add(&p, "/proc/mounts");
  if (p_read(&p, mounts, sizeof(mounts)) <= 0) return false;
  /* Lines "dev mountpoint type options ...": a cgroup2 mount, or a v1 mount with cpuset. */
  for (char *line = mounts; line && *line;) {
    char *next = strchr(line, '\n');
    if (next) *next++ = '\0';
    char *f[4] = {0};
    char *s = line;
    for (int i = 0; i < 4 && s; i++) {
      f[i] = s;
      s = strchr(s, ' ');
      if (s) *s++ = '\0';
    }
    line = next;
    if (!f[3]) continue;
    const char *name = NULL;
    if (strcmp(f[2], "cgroup2") == 0) name = v2name;
    else if (strcmp(f[2], "cgroup") == 0 && strstr(f[3], "cpuset")) name = v1name;
    if (!name) continue;
    ta_path_init(&p, r->root);
    ta_path_add(&p, f[1]);
    ta_path_add(&p, self);
    ta_path_add(&p, "/");
    ta_path_add(&p, name);
    if (p_read(&p, out, cap) > 0 && out[0] >= '0' && out[0] <= '9') return true;
  }
  return false;
}

static void read_allowed(reader_t *r, uint64_t *mems) {
  ta_topo_t *t = r->t;
  char buf[FILE_CAP];
  t->allowed = t->online;
  if (cgroup_file(r, "cpuset.cpus.effective", "cpuset.cpus", buf, sizeof(buf))) {
    ta_cpuset_t cpus;
    memset(&cpus, 0, sizeof(cpus));
    if (parse_list(buf, cpus.bits, TA_TOPO_MAX_CPUS) == 0)
      for (size_t w = 0; w < TA_ARRAY_LEN(cpus.bits); w++) t->allowed.bits[w] &= cpus.bits[w];
  }
  ta_path_t p;
  ta_path_init(&p, r->root);
  ta_path_add(&p, "/proc/self/status");
  if (p_read(&p, buf, sizeof(buf)) > 0) {
    const char *m = strstr(buf, "Mems_allowed_list:");
    if (m && parse_list(m + 18, mems, TA_TOPO_MAX_NODE_ID) == 0) return;
  }
  if (cgroup_file(r, "cpuset.mems.effective", "cpuset.mems", buf, sizeof(buf))) {
    uint64_t got[TA_TOPO_MAX_NODE_ID / 64] = {0};
    if (parse_list(buf, got, TA_TOPO_MAX_NODE_ID) == 0) {
      memcpy(mems, got, sizeof(got));
      return;
    }
  }
  memset(mems, 0xff, TA_TOPO_MAX_NODE_ID / 8);
}

/* AArch64 without "CPU part" lines (some kernels, some dumps): MIDR_EL1 of the first online CPU,
 * implementer in bits 31:24, part number in bits 15:4. */
static void read_midr(reader_t *r) {
  ta_topo_t *t = r->t;
  for (unsigned c = 0; c < t->ncpus_max; c++) {
    if (!ta_cpuset_has(&t->online, c)) continue;
    char buf[64];
    ta_path_t p;
    ta_path_init(&p, r->root);
    ta_path_add(&p, "/sys/devices/system/cpu/cpu");
    ta_path_add_uint(&p, c);
    ta_path_add(&p, "/regs/identification/midr_el1");
    if (p_read(&p, buf, sizeof(buf)) <= 0 || buf[0] != '0' || buf[1] != 'x') return;
    unsigned long v = 0;
    for (const char *s = buf + 2; hexval(*s) >= 0; s++) v = v * 16 + (unsigned long)hexval(*s);
    t->arch = TA_ARCH_AARCH64;
    t->cpu_implementer = (unsigned)(v >> 24 & 0xff);
    t->cpu_part = (unsigned)(v >> 4 & 0xfff);
    return;
  }
}

/* The first processor's identity. Only the first 4 KiB are read: enough for one entry. */
static void read_cpuinfo(reader_t *r) {
  ta_topo_t *t = r->t;
  char buf[FILE_CAP];
  ta_path_t p;
  ta_path_init(&p, r->root);
  ta_path_add(&p, "/proc/cpuinfo");
  if (p_read(&p, buf, sizeof(buf)) <= 0) {
    read_midr(r);
    return;
  }
  const char *s;
  if ((s = strstr(buf, "CPU implementer"))) {
    t->arch = TA_ARCH_AARCH64;
    if ((s = strstr(s, "0x"))) {
      s += 2;
      unsigned v = 0;
      while (hexval(*s) >= 0) v = v * 16 + (unsigned)hexval(*s++);
      t->cpu_implementer = v;
    }
    if ((s = strstr(buf, "CPU part")) && (s = strstr(s, "0x"))) {
      s += 2;
      unsigned v = 0;
      while (hexval(*s) >= 0) v = v * 16 + (unsigned)hexval(*s++);
      t->cpu_part = v;
    }
    if (!t->cpu_part) read_midr(r);
  } else if (strstr(buf, "vendor_id") && strstr(buf, "flags")) {
    t->arch = TA_ARCH_X86_64;
  } else {
    t->arch = TA_ARCH_OTHER;
  }
  /* Xeon Phi: by name, or Intel family 6 models 87 (Knights Landing) and 133 (Knights Mill),
   * which is all some dumps keep. */
  t->xeon_phi = strstr(buf, "Xeon Phi") != NULL;
  if (!t->xeon_phi && strstr(buf, "GenuineIntel") && (s = strstr(buf, "cpu family"))) {
    s = strchr(s, ':');
    unsigned long family = 0, model = 0;
    if (s) { s = skip_space(s + 1); family = parse_num(&s); }
    const char *m = strstr(buf, "\nmodel\t");
    if (m && (m = strchr(m, ':'))) { m = skip_space(m + 1); model = parse_num(&m); }
    t->xeon_phi = family == 6 && (model == 87 || model == 133);
  }
}

int ta_topo_sysfs_read(ta_topo_t *t, const char *fsroot) {
  reader_t rd;
  reader_t *r = &rd;
  memset(r, 0, sizeof(*r));
  memset(t, 0, sizeof(*t));
  memset(t->cpu_node, TA_TOPO_NONE, sizeof(t->cpu_node));
  memset(t->cpu_initiator, TA_TOPO_NONE, sizeof(t->cpu_initiator));
  memset(r->index_of, 0xff, sizeof(r->index_of));
  t->source = "sysfs";
  r->t = t;
  r->root = fsroot ? fsroot : "";

  int err = read_online_cpus(r);
  if (err) return err;
  for (unsigned c = 0; c < TA_TOPO_MAX_CPUS; c++)
    if (ta_cpuset_has(&t->online, c)) t->ncpus_max = c + 1;

  char buf[FILE_CAP];
  ta_path_t p;
  ta_path_init(&p, r->root);
  ta_path_add(&p, "/sys/devices/system/node/online");
  if (p_read(&p, buf, sizeof(buf)) > 0 && buf[0] >= '0' && buf[0] <= '9') {
    err = parse_list(buf, r->present, TA_TOPO_MAX_NODE_ID);
  } else {
    ta_path_init(&p, r->root);
    ta_path_add(&p, "/sys/devices/system/node");
    err = dir_each(&p, collect_node_dir, r);
  }
  if (err) return err;
  for (int id = 0; id < TA_TOPO_MAX_NODE_ID; id++) {
    if (!(r->present[id / 64] >> (id % 64) & 1)) continue;
    node_path(&p, r, id, "");
    if (access(p.s, F_OK) != 0) { r->present[id / 64] &= ~((uint64_t)1 << (id % 64)); continue; }
    if ((err = read_node(r, id))) return err;
  }
  if (t->nnodes == 0) return ENOENT;
  for (unsigned n = 0; n < t->nnodes; n++) {
    for (unsigned c = 0; c < t->ncpus_max; c++)
      if (ta_cpuset_has(&t->node[n].cpus, c)) t->cpu_node[c] = (uint8_t)n;
    read_distances(r, t->node[n].os_index);
    read_hmat(r, t->node[n].os_index);
  }
  read_packages(r);

  uint64_t mems[TA_TOPO_MAX_NODE_ID / 64] = {0};
  read_allowed(r, mems);
  for (unsigned n = 0; n < t->nnodes; n++) {
    int id = t->node[n].os_index;
    t->node[n].usable = (mems[id / 64] >> (id % 64) & 1) && t->node[n].capacity_bytes > 0;
  }

  ta_path_init(&p, r->root);
  ta_path_add(&p, "/sys/bus/dax/devices");
  dir_each(&p, dax_device, r);
  ta_path_init(&p, r->root);
  ta_path_add(&p, "/proc/driver/nvidia/gpus");
  dir_each(&p, nvidia_gpu, r);
  ta_path_init(&p, r->root);
  ta_path_add(&p, "/sys/devices/virtual/memory_tiering");
  dir_each(&p, memory_tier, r);
  read_cpuinfo(r);
  if (t->xeon_phi)
    for (unsigned n = 0; n < t->nnodes; n++) t->node[n].knl_mcdram = !t->node[n].has_cpus;

  ta_topo_rank_classify(t);
  return ta_topo_rank_build(t);
}
