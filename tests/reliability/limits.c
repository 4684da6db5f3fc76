/* limits.c: the allocator at the process's memory limits. `limits SCENARIO`:
 *   rlimit-as  RLIMIT_AS 128 MiB above the process's size, set before the allocator
 *              starts (so its first region_mb reservation is refused and retried at the size it
 *              needs): small, large and mixed requests run until NULL with ENOMEM; everything is
 *              freed; the same requests succeed again, as many of them.
 *   cgroup     a child in a memory cgroup of 96 MiB without swap. What can be promised: a
 *              program whose live data stays well under the limit runs for ever, however much it
 *              allocates in total (freed memory is reused, never piles up): 20 times the limit
 *              in rounds of different size mixes, freed across threads. What cannot: a cgroup
 *              limit is enforced when pages are touched, not when address space is reserved,
 *              so a program that really needs more is OOM-killed (SIGKILL) by the kernel rather
 *              than seeing NULL; the second child shows which happens here. Needs root and a
 *              writable memory controller (cgroup v2, or v1 as on some CI machines); otherwise
 *              it exits 77 (skipped) and says why.
 * Uses the ta_* entry points and reports without allocating. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "api.h"
#include "check.h"
#include "proc_field.h"
#include "tieralloc.h"

#define MiB ((size_t)1 << 20)
#define SKIP 77


/* ---- RLIMIT_AS ---- */

#define MAX_PTRS 400000
static void *ptrs[MAX_PTRS];

/* Allocates `size` (0: a mix) until NULL; returns the count. Blocks are not written: the limit
 * is on address space, and writing would only cost the machine memory. */
static size_t until_null(size_t size) {
  size_t n = 0;
  for (; n < MAX_PTRS; n++) {
    size_t s = size ? size : (n % 10 == 0 ? 300000 + n % 7 * 4096 : 16 + n * 97 % 30000);
    errno = 0;
    ptrs[n] = ta_malloc(s);
    if (!ptrs[n]) {
      CHECK(errno == ENOMEM, "NULL with errno %d (not ENOMEM) for %zu bytes", errno, s);
      return n;
    }
  }
  CHECK(0, "the limit was never reached with %d blocks of %zu bytes", MAX_PTRS, size);
  return n;
}

static void free_all(size_t n) {
  for (size_t i = 0; i < n; i++) ta_free(ptrs[i]);
}

static int scenario_rlimit_as(void) {
  long vm_kb = proc_field("/proc/self/status", "VmSize");
  CHECK(vm_kb > 0, "cannot read VmSize");
  size_t room = 128 * MiB;
  struct rlimit rl = {(rlim_t)vm_kb * 1024 + room, (rlim_t)vm_kb * 1024 + room};
  CHECK(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit: %s", strerror(errno));
  static const struct { const char *what; size_t size; } kinds[] = {
      {"small (1000 B)", 1000}, {"large (1 MiB)", MiB}, {"mixed", 0}, {"small (512 B)", 512}};
  for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
    size_t first = until_null(kinds[k].size);
    free_all(first);
    tieralloc_purge();
    size_t second = until_null(kinds[k].size);
    free_all(second);
    tieralloc_purge();
    say("RLIMIT_AS +%zu MiB, %s: %zu blocks before NULL/ENOMEM, %zu after freeing them all",
        room / MiB, kinds[k].what, first, second);
    CHECK(first > 0 && second * 10 >= first * 9, "after freeing everything, far fewer blocks fit");
  }
  /* Still a working process: a thread (its stack is address space too) and a normal workload. */
  void *p = ta_malloc(100);
  CHECK(p != NULL, "malloc after the limit was reached and everything freed");
  ta_free(p);
  say("PASS rlimit-as");
  return 0;
}

/* ---- cgroup memory limit ---- */

static char cg_dir[512];
static const char *cg_limit_file, *cg_swap_file, *cg_peak_file;

static bool write_file(const char *dir, const char *name, const char *value) {
  char path[700];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  int fd = open(path, O_WRONLY);
  if (fd < 0) return false;
  ssize_t n = write(fd, value, strlen(value));
  close(fd);
  return n == (ssize_t)strlen(value);
}

static long read_long(const char *dir, const char *name) {
  char path[700], buf[64];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  return strtol(buf, NULL, 10);
}

/* Finds this process's memory cgroup and makes a child group in it; false (with a reason) when
 * that is not possible here. */
static bool cgroup_make(const char *name, char *why, size_t why_size) {
  if (geteuid() != 0) {
    snprintf(why, why_size, "not root");
    return false;
  }
  char buf[2048];
  int fd = open("/proc/self/cgroup", O_RDONLY);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
  if (fd >= 0) close(fd);
  if (n <= 0) {
    snprintf(why, why_size, "cannot read /proc/self/cgroup");
    return false;
  }
  buf[n] = 0;
  /* cgroup v2 with the memory controller: "0::/path". */
  char *v2 = strstr(buf, "0::");
  char ctrl[256] = "";
  fd = open("/sys/fs/cgroup/cgroup.controllers", O_RDONLY);
  if (fd >= 0) {
    ssize_t m = read(fd, ctrl, sizeof(ctrl) - 1);
    close(fd);
    ctrl[m > 0 ? m : 0] = 0;
  }
  if (v2 && strstr(ctrl, "memory")) {
    char *path = v2 + 3, *end = strchr(path, '\n');
    if (end) *end = 0;
    snprintf(cg_dir, sizeof(cg_dir), "/sys/fs/cgroup%s/%s", strcmp(path, "/") ? path : "", name);
    cg_limit_file = "memory.max";
    cg_swap_file = "memory.swap.max";
    cg_peak_file = "memory.peak";
  } else {
    /* cgroup v1: "N:memory:/path". */
    char *v1 = strstr(buf, ":memory:");
    if (!v1) {
      snprintf(why, why_size, "no memory controller in cgroup v2 or v1");
      return false;
    }
    char *path = v1 + 8, *end = strchr(path, '\n');
    if (end) *end = 0;
    snprintf(cg_dir, sizeof(cg_dir), "/sys/fs/cgroup/memory%s/%s", strcmp(path, "/") ? path : "", name);
    cg_limit_file = "memory.limit_in_bytes";
    cg_swap_file = "memory.memsw.limit_in_bytes";
    cg_peak_file = "memory.max_usage_in_bytes";
  }
  rmdir(cg_dir); /* a leftover of an interrupted run */
  if (mkdir(cg_dir, 0755) != 0) {
    snprintf(why, why_size, "cannot create %s: %s", cg_dir, strerror(errno));
    return false;
  }
  return true;
}

#define CG_LIMIT (96 * MiB)
#define LIVE (36 * MiB)

typedef struct {
  void **slots;
  size_t n;
} half_t;

static void *free_half(void *arg) {
  half_t *h = arg;
  for (size_t i = 0; i < h->n; i++) ta_free(h->slots[i]);
  return NULL;
}

/* The promise: live data of LIVE bytes, every byte written, allocated and freed 20 times over
 * the limit in rounds whose size mix changes, half of each round freed by another thread. */
static int child_churn(void) {
  size_t total = 0;
  static void *slots[MAX_PTRS];
  for (int round = 0; total < 20 * CG_LIMIT; round++) {
    size_t live = 0, n = 0;
    while (live < LIVE && n < MAX_PTRS) {
      size_t s;
      switch (round % 4) {
        case 0: s = 16 + (n * 37) % 512; break;           /* small objects */
        case 1: s = 4096 + (n * 4099) % 60000; break;     /* medium classes */
        case 2: s = 70000 + (n * 8191) % (2 * MiB); break; /* large blocks */
        default: s = n % 3 ? 24 + n % 2000 : 100000 + n % 500000;
      }
      void *p = ta_malloc(s);
      if (!p) return 10;
      memset(p, (int)(n & 0xff), s);
      slots[n++] = p;
      live += s;
    }
    half_t h = {slots, n / 2};
    pthread_t t;
    if (pthread_create(&t, NULL, free_half, &h) != 0) return 11;
    for (size_t i = n / 2; i < n; i++) ta_free(slots[i]);
    pthread_join(t, NULL);
    total += live;
  }
  return 0;
}

/* Beyond the promise: touch more than the limit. */
static int child_over(void) {
  size_t got = 0;
  for (;;) {
    void *p = ta_malloc(4 * MiB);
    if (!p) return 20; /* NULL: the allocator saw the limit */
    memset(p, 1, 4 * MiB);
    got += 4 * MiB;
    if (got > 4 * CG_LIMIT) return 21; /* neither NULL nor killed: the limit is not enforced */
  }
}

static int run_in_cgroup(int (*body)(void), int *sig) {
  pid_t pid = fork();
  if (pid == 0) {
    char me[32];
    snprintf(me, sizeof(me), "%d", (int)getpid());
    if (!write_file(cg_dir, "cgroup.procs", me)) _exit(30);
    alarm(120);
    _exit(body());
  }
  int st = 0;
  waitpid(pid, &st, 0);
  *sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int scenario_cgroup(void) {
  char why[600];
  char name[64];
  snprintf(name, sizeof(name), "tieralloc-limits-%d", (int)getpid());
  if (!cgroup_make(name, why, sizeof(why))) {
    say("SKIP cgroup: %s", why);
    return SKIP;
  }
  char v[32];
  snprintf(v, sizeof(v), "%zu", CG_LIMIT);
  bool ok = write_file(cg_dir, cg_limit_file, v);
  /* No swap: v2 has its own knob; v1's memsw must be >= the limit (absent without swap
   * accounting, which is the same thing). */
  write_file(cg_dir, cg_swap_file, strcmp(cg_swap_file, "memory.swap.max") ? v : "0");
  if (!ok) {
    rmdir(cg_dir);
    say("SKIP cgroup: cannot write %s/%s", cg_dir, cg_limit_file);
    return SKIP;
  }
  int sig = 0;
  int rc = run_in_cgroup(child_churn, &sig);
  long peak = read_long(cg_dir, cg_peak_file);
  say("cgroup (%s) limit %zu MiB: churn of 20x the limit with %zu MiB live: %s%d, peak usage %ld MiB",
      cg_dir, CG_LIMIT / MiB, LIVE / MiB, sig ? "killed by signal " : "exit ", sig ? sig : rc,
      peak >= 0 ? peak / (long)MiB : -1);
  int over_sig = 0;
  int over_rc = run_in_cgroup(child_over, &over_sig);
  const char *what = over_sig == SIGKILL ? "OOM-killed by the kernel (SIGKILL), as documented"
                     : over_rc == 20     ? "NULL from malloc"
                     : over_rc == 21     ? "neither NULL nor killed: the limit was not enforced"
                                         : "another end";
  say("cgroup: touching more than the limit: %s (exit %d, signal %d)", what, over_rc, over_sig);
  rmdir(cg_dir);
  CHECK(sig == 0 && rc == 0, "a program whose live data stays under the limit must not die (rc %d, signal %d)", rc, sig);
  CHECK(over_sig == SIGKILL || over_rc == 20 || over_rc == 21,
        "over the limit the child must be OOM-killed or see NULL, not crash (rc %d, signal %d)", over_rc, over_sig);
  say("PASS cgroup");
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "rlimit-as")) return scenario_rlimit_as();
  if (argc == 2 && !strcmp(argv[1], "cgroup")) return scenario_cgroup();
  say("usage: limits rlimit-as|cgroup");
  return 2;
}
