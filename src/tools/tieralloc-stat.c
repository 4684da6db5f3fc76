/* tieralloc-stat: shows a running process's live tieralloc statistics beside the kernel's view
 * of its memory, as a refreshing table or as JSON lines.
 *
 * It reads the snapshot the allocator publishes when started with TIERALLOC_CONF=stats_live:<ms>
 * (/dev/shm/tieralloc-<uid>-<pid>.json, mode 0600: only the process's user, and root, can read
 * it; the format, version 1, is in tieralloc-stat(1)) and /proc/<pid>/{numa_maps,smaps,
 * smaps_rollup}. Rates come from two snapshots and their own publication times, so they do not
 * depend on when this tool happened to wake up. Usage: tieralloc-stat(1). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "procmem.h"

/* Exit statuses, also listed in tieralloc-stat(1). */
enum {
  EXIT_ERROR = 1,
  EXIT_USAGE = 2,
  EXIT_NO_PROCESS = 3, /* no such process, or only a stale file of a process that is gone */
  EXIT_NOT_ENABLED = 4,
  EXIT_PERMISSION = 5,
};

#define SNAPSHOT_MAX (64u << 20)
#define SUPPORTED_VERSION 1

static const char shm_dir[] = "/dev/shm";

typedef struct {
  pid_t pid;
  char comm[64];
  uid_t uid[2]; /* real and effective: the name may carry either */
  uid_t fsuid;  /* the owner of files the process creates */
  uint64_t start_boot_ns;
} target_t;

typedef struct {
  ta_json_t *doc;
  uint64_t time_ns; /* publication, CLOCK_MONOTONIC */
  uint64_t interval_ms;
  uint64_t age_ns;  /* how old the snapshot was when read */
  bool stale;
  ta_procmem_t *kernel;
  int kernel_err;
} sample_t;

static uint64_t now_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: tieralloc-stat [-i SECONDS] [-n COUNT] [--once] [--json] PID\n"
          "  shows the live statistics of a process started with TIERALLOC_CONF=stats_live:<ms>\n"
          "  -i SECONDS  time between samples (default 1; fractions allowed)\n"
          "  -n COUNT    stop after COUNT samples (default: until interrupted)\n"
          "  --once      one sample (same as -n 1; rates need two samples)\n"
          "  --json      one JSON object per sample and line: the allocator's snapshot, the\n"
          "              kernel's view of the process and the rates\n");
}

static const char *user_name(uid_t uid, char *buf, size_t len) {
  struct passwd *pw = getpwuid(uid);
  if (pw) snprintf(buf, len, "%s", pw->pw_name);
  else snprintf(buf, len, "uid %u", (unsigned)uid);
  return buf;
}

/* Reads the target's owner, name and start time. Returns 0 or ENOENT (no such process). */
static int target_read(pid_t pid, target_t *t) {
  char path[64], line[256];
  memset(t, 0, sizeof(*t));
  t->pid = pid;
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "re");
  if (!f) return errno == ENOENT || errno == ESRCH ? ENOENT : errno;
  bool have_uid = false;
  while (fgets(line, sizeof(line), f)) {
    unsigned r, e, s, fs;
    if (sscanf(line, "Uid: %u %u %u %u", &r, &e, &s, &fs) == 4) {
      t->uid[0] = r;
      t->uid[1] = e;
      t->fsuid = fs;
      have_uid = true;
    } else if (!strncmp(line, "Name:", 5)) {
      char *n = line + 5;
      while (*n == ' ' || *n == '\t') n++;
      n[strcspn(n, "\n")] = 0;
      size_t len = strlen(n) < sizeof(t->comm) - 1 ? strlen(n) : sizeof(t->comm) - 1;
      memcpy(t->comm, n, len); /* the kernel's comm is at most 15 bytes, but escaped */
      t->comm[len] = 0;
    }
  }
  fclose(f);
  if (!have_uid) return ENOENT; /* a zombie between reads */
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  if ((f = fopen(path, "re"))) {
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long long start = 0;
    /* Fields after the name: state is 3rd, starttime 22nd. */
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
                           "%*d %*d %llu", &start) == 1)
      t->start_boot_ns = start * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
    fclose(f);
  }
  return 0;
}

static bool process_exists(pid_t pid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  return access(path, F_OK) == 0;
}

/* A left-over snapshot of a process that is gone, whoever's it was. */
static bool find_stale_file(pid_t pid, char *path, size_t len) {
  char tail[32];
  snprintf(tail, sizeof(tail), "-%d.json", (int)pid);
  DIR *d = opendir(shm_dir);
  if (!d) return false;
  bool found = false;
  struct dirent *e;
  size_t tl = strlen(tail);
  while (!found && (e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (!strncmp(e->d_name, "tieralloc-", 10) && n > tl && !strcmp(e->d_name + n - tl, tail)) {
      snprintf(path, len, "%s/%s", shm_dir, e->d_name);
      found = true;
    }
  }
  closedir(d);
  return found;
}

/* Does the process have libtieralloc mapped? 1 yes, 0 no, -1 cannot tell. */
static int maps_tieralloc(pid_t pid) {
  char path[64], line[4096];
  snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
  FILE *f = fopen(path, "re");
  if (!f) return -1;
  int found = 0;
  while (!found && fgets(line, sizeof(line), f))
    if (strstr(line, "/libtieralloc.so")) found = 1;
  fclose(f);
  return found;
}

static void say_not_enabled(const target_t *t) {
  int mapped = maps_tieralloc(t->pid);
  fprintf(stderr, "tieralloc-stat: pid %d (%s) publishes no live statistics (no %s/tieralloc-%u-%d.json).\n",
          (int)t->pid, t->comm, shm_dir, (unsigned)t->uid[0], (int)t->pid);
  if (mapped == 0)
    fprintf(stderr, "  It does not have libtieralloc.so loaded (unless it is statically linked with "
                    "libtieralloc.a).\n");
  else if (mapped == 1)
    fprintf(stderr, "  It runs on tieralloc, but live statistics are off (the default), or its first "
                    "snapshot is not out yet.\n");
  fprintf(stderr, "  Start it with TIERALLOC_CONF=stats_live:1000 (publish every 1000 ms), for "
                  "example:\n    tieralloc-run --conf stats_live:1000 -- COMMAND...\n");
}

static void say_permission(const target_t *t, const char *path) {
  char name[64];
  fprintf(stderr,
          "tieralloc-stat: permission denied: %s belongs to %s; a process's live statistics are "
          "readable only by its own user (the file is mode 0600). Run tieralloc-stat as %s.\n",
          path, user_name(t->fsuid, name, sizeof(name)), name);
}

/* Opens and parses the target's snapshot into s->doc. Returns 0 or an exit status, after saying
 * what went wrong on stderr. */
static int snapshot_read(const target_t *t, sample_t *s) {
  char path[512];
  int fd = -1, err = ENOENT;
  for (int i = 0; i < 2 && fd < 0; i++) {
    if (i == 1 && t->uid[1] == t->uid[0]) break;
    snprintf(path, sizeof(path), "%s/tieralloc-%u-%d.json", shm_dir, (unsigned)t->uid[i], (int)t->pid);
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && (i == 0 || errno != ENOENT)) err = errno;
  }
  if (fd < 0) {
    if (!process_exists(t->pid)) return EXIT_NO_PROCESS; /* it exited meanwhile */
    if (err == ENOENT) {
      say_not_enabled(t);
      return EXIT_NOT_ENABLED;
    }
    if (err == EACCES || err == EPERM) {
      say_permission(t, path);
      return EXIT_PERMISSION;
    }
    if (err == ELOOP) {
      fprintf(stderr, "tieralloc-stat: %s is a symbolic link; refusing to follow it\n", path);
      return EXIT_ERROR;
    }
    fprintf(stderr, "tieralloc-stat: %s: %s\n", path, strerror(err));
    return EXIT_ERROR;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    fprintf(stderr, "tieralloc-stat: %s is not a regular file\n", path);
    close(fd);
    return EXIT_ERROR;
  }
  /* Anyone may create files in /dev/shm: only trust one the process's own user wrote. */
  if (st.st_uid != t->fsuid && st.st_uid != t->uid[0] && st.st_uid != t->uid[1]) {
    char a[64], b[64];
    fprintf(stderr, "tieralloc-stat: %s is owned by %s, not by the process's user %s; not trusting it\n",
            path, user_name(st.st_uid, a, sizeof(a)), user_name(t->fsuid, b, sizeof(b)));
    close(fd);
    return EXIT_ERROR;
  }
  if (st.st_mode & 077)
    fprintf(stderr, "tieralloc-stat: warning: %s is readable by other users (mode %03o)\n", path,
            (unsigned)(st.st_mode & 0777));
  if ((uint64_t)st.st_size > SNAPSHOT_MAX) {
    fprintf(stderr, "tieralloc-stat: %s is %lld bytes, more than a snapshot can be\n", path,
            (long long)st.st_size);
    close(fd);
    return EXIT_ERROR;
  }
  size_t cap = (size_t)st.st_size + 1, len = 0;
  char *buf = malloc(cap);
  if (!buf) {
    close(fd);
    return EXIT_ERROR;
  }
  for (;;) { /* the file is replaced by rename, never rewritten: this fd sees one version */
    if (len == cap) {
      char *nb = len < SNAPSHOT_MAX ? realloc(buf, cap *= 2) : NULL;
      if (!nb) break;
      buf = nb;
    }
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fd);
  char why[160];
  int perr = ta_json_parse(buf, len, &s->doc, why, sizeof(why));
  free(buf);
  if (perr) {
    fprintf(stderr, "tieralloc-stat: %s is not a valid snapshot: %s\n", path,
            perr == EINVAL ? why : strerror(perr));
    return EXIT_ERROR;
  }
  if (s->doc->type != TA_JSON_OBJECT) {
    fprintf(stderr, "tieralloc-stat: %s is not a valid snapshot: not a JSON object\n", path);
    return EXIT_ERROR;
  }
  uint64_t version = ta_json_u64(s->doc, "version", 0);
  if (version != SUPPORTED_VERSION) {
    fprintf(stderr, "tieralloc-stat: %s has snapshot version %" PRIu64 "; this tieralloc-stat reads "
            "version %d (use the tieralloc-stat of the same tieralloc release)\n", path, version,
            SUPPORTED_VERSION);
    return EXIT_ERROR;
  }
  if (ta_json_u64(s->doc, "pid", 0) != (uint64_t)t->pid) {
    fprintf(stderr, "tieralloc-stat: %s names pid %" PRIu64 ", not %d\n", path,
            ta_json_u64(s->doc, "pid", 0), (int)t->pid);
    return EXIT_ERROR;
  }
  s->time_ns = ta_json_u64(s->doc, "time_ns", 0);
  s->interval_ms = ta_json_u64(s->doc, "interval_ms", 1000);
  uint64_t mono = now_ns(CLOCK_MONOTONIC);
  s->age_ns = mono > s->time_ns ? mono - s->time_ns : 0;
  /* Written before this process started (CLOCK_BOOTTIME is the clock of the start time): left
   * behind by an earlier process with the same pid, which exec or a crash kept from removing it. */
  uint64_t boot_offset = now_ns(CLOCK_BOOTTIME) - mono;
  if (t->start_boot_ns && s->time_ns + boot_offset + 1000000000ull < t->start_boot_ns) {
    fprintf(stderr, "tieralloc-stat: %s is stale: it was written before pid %d (%s) started, by "
            "an earlier process with the same pid; remove it\n", path, (int)t->pid, t->comm);
    return EXIT_NO_PROCESS;
  }
  uint64_t late_ms = 3 * s->interval_ms + 2000;
  s->stale = s->age_ns > late_ms * 1000000ull;
  return 0;
}

static void sample_free(sample_t *s) {
  ta_json_free(s->doc);
  free(s->kernel);
  memset(s, 0, sizeof(*s));
}

/* ---- printing ---- */

static const char *bytes(char *buf, size_t len, double v) {
  static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (v >= 1023.95 && u < 5) { /* so that 1023.99 KiB shows as 1.0 MiB */
    v /= 1024;
    u++;
  }
  if (u == 0) snprintf(buf, len, "%.0f B", v);
  else snprintf(buf, len, "%.1f %s", v, units[u]);
  return buf;
}

/* A rate column: "-" until there are two snapshots. */
static const char *rate_bytes(char *buf, size_t len, double v, bool known) {
  if (!known) return "-";
  bytes(buf, len - 2, v);
  strcat(buf, "/s");
  return buf;
}

static const char *rate_count(char *buf, size_t len, double v, bool known) {
  if (!known) return "-";
  snprintf(buf, len, "%.1f/s", v);
  return buf;
}

static const ta_json_t *node_of(const ta_json_t *nodes, uint64_t node) {
  if (!nodes || nodes->type != TA_JSON_ARRAY) return NULL;
  for (const ta_json_t *n = nodes->child; n; n = n->next)
    if (ta_json_u64(n, "node", UINT64_MAX) == node) return n;
  return NULL;
}

/* Per second change of doc.<obj>.<key> between two snapshots. */
static double per_s(const ta_json_t *cur, const ta_json_t *prev, const char *key, double dt) {
  return (ta_json_num(cur, key, 0) - ta_json_num(prev, key, 0)) / dt;
}

static void print_table(const target_t *t, const sample_t *s, const sample_t *prev, bool clear) {
  char a[32], b[32], c[32], d[32], e[32], f[32], user[64];
  const ta_json_t *doc = s->doc, *heap = ta_json_get(doc, "heap");
  bool known = prev && prev->doc && s->time_ns > prev->time_ns;
  double dt = known ? (double)(s->time_ns - prev->time_ns) / 1e9 : 1;
  const ta_json_t *pdoc = known ? prev->doc : NULL;
  if (clear) fputs("\033[H\033[2J", stdout);
  printf("pid %d (%s)  user %s  profile %s  snapshot every %" PRIu64 " ms, %.1f s old%s\n",
         (int)t->pid, t->comm, user_name(t->fsuid, user, sizeof(user)),
         ta_json_str(doc, "profile", "?"), s->interval_ms, (double)s->age_ns / 1e9,
         s->stale ? "  STALE: not updated for several intervals" : "");
  printf("heap    allocated %s  active %s  dirty %s  mapped %s  metadata %s\n",
         bytes(a, sizeof(a), ta_json_num(heap, "allocated", 0)),
         bytes(b, sizeof(b), ta_json_num(heap, "active", 0)),
         bytes(c, sizeof(c), ta_json_num(heap, "dirty", 0)),
         bytes(d, sizeof(d), ta_json_num(heap, "mapped", 0)),
         bytes(e, sizeof(e), ta_json_num(heap, "metadata", 0)));
  const ta_json_t *purges = ta_json_get(doc, "purges"), *mig = ta_json_get(doc, "migrations");
  /* purges and migrations are optional: a library without tier migration leaves them out. */
  printf("        purged %s (%s)", bytes(a, sizeof(a), ta_json_num(heap, "purged", 0)),
         rate_bytes(b, sizeof(b), known ? per_s(heap, ta_json_get(pdoc, "heap"), "purged", dt) : 0, known));
  if (purges)
    printf("  purges %s", rate_count(c, sizeof(c), known ? per_s(purges, ta_json_get(pdoc, "purges"), "count", dt) : 0, known));
  printf("  hugepage units %" PRIu64 ", broken %" PRIu64 "\n", ta_json_u64(heap, "hugepage_units", 0),
         ta_json_u64(heap, "broken_units", 0));
  if (mig) {
    const ta_json_t *pmig = ta_json_get(pdoc, "migrations");
    printf("        migrations in %s  out %s  %s  failures %" PRIu64 "\n",
           rate_count(a, sizeof(a), known ? per_s(mig, pmig, "in", dt) : 0, known),
           rate_count(b, sizeof(b), known ? per_s(mig, pmig, "out", dt) : 0, known),
           rate_bytes(c, sizeof(c), known ? per_s(mig, pmig, "bytes", dt) : 0, known),
           ta_json_u64(mig, "failures", 0));
  }
  const ta_procmem_t *k = s->kernel;
  if (k) {
    printf("kernel  rss %s  anonymous %s  on hugepages %s (%.0f%% of anonymous)  swap %s\n",
           bytes(a, sizeof(a), (double)k->rss), bytes(b, sizeof(b), (double)k->anonymous),
           bytes(c, sizeof(c), (double)k->anon_huge),
           k->anonymous ? 100.0 * (double)k->anon_huge / (double)k->anonymous : 0.0,
           bytes(d, sizeof(d), (double)k->swap));
  } else {
    printf("kernel  unavailable: %s\n", strerror(s->kernel_err));
  }
  printf("\n%4s %-5s %4s %-9s %10s %10s %10s %12s %6s %6s %10s | %10s %10s %5s\n", "node", "kind",
         "tier", "cpus", "active", "dirty", "mapped", "purged", "hp", "broken", "remote-in",
         "resident", "on-huge", "huge%");
  const ta_json_t *nodes = ta_json_get(doc, "nodes"), *pnodes = ta_json_get(pdoc, "nodes");
  bool shown[TA_PROCMEM_MAX_NODES] = {false};
  for (const ta_json_t *n = nodes && nodes->type == TA_JSON_ARRAY ? nodes->child : NULL; n; n = n->next) {
    uint64_t id = ta_json_u64(n, "node", 0);
    const ta_json_t *pn = known ? node_of(pnodes, id) : NULL;
    bool nk = pn != NULL;
    char tier[16];
    snprintf(tier, sizeof(tier), "%" PRIu64, ta_json_u64(n, "tier", 0));
    printf("%4" PRIu64 " %-5.5s %4s %-9.9s %10s %10s %10s %12s %6" PRIu64 " %6" PRIu64 " %10s | ", id,
           ta_json_str(n, "kind", "?"), ta_json_get(n, "tier") ? tier : "-",
           (ta_json_str(n, "cpus", "")[0] ? ta_json_str(n, "cpus", "") : "-"),
           bytes(a, sizeof(a), ta_json_num(n, "active", 0)),
           bytes(b, sizeof(b), ta_json_num(n, "dirty", 0)),
           bytes(c, sizeof(c), ta_json_num(n, "mapped", 0)),
           rate_bytes(d, sizeof(d), nk ? per_s(n, pn, "purged", dt) : 0, nk),
           ta_json_u64(n, "hugepage_units", 0), ta_json_u64(n, "broken_units", 0),
           rate_count(e, sizeof(e), nk ? per_s(n, pn, "remote_frees_in", dt) : 0, nk));
    if (k && k->has_nodes && id < TA_PROCMEM_MAX_NODES) {
      shown[id] = true;
      double res = (double)k->anon_bytes[id], huge = (double)k->huge_bytes[id];
      printf("%10s %10s %4.0f%%\n", bytes(a, sizeof(a), res), bytes(f, sizeof(f), huge),
             res > 0 ? 100 * huge / res : 0.0);
    } else {
      printf("%10s %10s %5s\n", "?", "?", "?");
    }
    if (ta_json_u64(n, "bind_failures", 0))
      printf("     node %" PRIu64 ": %" PRIu64 " regions could not be bound to it\n", id,
             ta_json_u64(n, "bind_failures", 0));
  }
  /* Nodes the allocator has no heap on, where the kernel still holds anonymous memory of the
   * process (thread stacks, memory from other allocators, pages the kernel moved). */
  for (int id = 0; k && k->has_nodes && id <= k->max_node; id++) {
    if (shown[id] || !k->anon_bytes[id]) continue;
    double res = (double)k->anon_bytes[id], huge = (double)k->huge_bytes[id];
    printf("%4d %-5s %4s %-9s %10s %10s %10s %12s %6s %6s %10s | %10s %10s %4.0f%%\n", id, "-", "-",
           "-", "-", "-", "-", "-", "-", "-", "-", bytes(a, sizeof(a), res),
           bytes(b, sizeof(b), huge), 100 * huge / res);
  }
  if (!clear) putchar('\n');
  fflush(stdout);
}

static void print_rate(const char *name, double v, bool known, bool *first) {
  printf("%s\"%s\":", *first ? "" : ",", name);
  *first = false;
  if (known) printf("%.6g", v);
  else fputs("null", stdout);
}

static void print_json(const target_t *t, const sample_t *s, const sample_t *prev) {
  bool known = prev && prev->doc && s->time_ns > prev->time_ns;
  double dt = known ? (double)(s->time_ns - prev->time_ns) / 1e9 : 1;
  const ta_json_t *doc = s->doc, *pdoc = known ? prev->doc : NULL;
  printf("{\"pid\":%d,\"comm\":", (int)t->pid);
  ta_json_write_string(stdout, t->comm, strlen(t->comm));
  printf(",\"uid\":%u,\"read_time_ns\":%" PRIu64 ",\"age_ms\":%.1f,\"stale\":%s,\"stats\":",
         (unsigned)t->fsuid, now_ns(CLOCK_MONOTONIC), (double)s->age_ns / 1e6, s->stale ? "true" : "false");
  ta_json_write(stdout, doc);
  const ta_procmem_t *k = s->kernel;
  if (k) {
    printf(",\"kernel\":{\"rss\":%" PRIu64 ",\"anonymous\":%" PRIu64 ",\"anon_huge_pages\":%" PRIu64
           ",\"swap\":%" PRIu64 ",\"nodes\":", k->rss, k->anonymous, k->anon_huge, k->swap);
    if (!k->has_nodes) {
      fputs("null", stdout);
    } else {
      putchar('[');
      bool first = true;
      for (int id = 0; id <= k->max_node; id++) {
        if (!k->anon_bytes[id]) continue;
        printf("%s{\"node\":%d,\"anon_resident\":%" PRIu64 ",\"anon_huge\":%" PRIu64 "}",
               first ? "" : ",", id, k->anon_bytes[id], k->huge_bytes[id]);
        first = false;
      }
      putchar(']');
    }
    putchar('}');
  } else {
    fputs(",\"kernel\":null", stdout);
  }
  printf(",\"rates\":{\"seconds\":");
  if (known) printf("%.6g", dt);
  else fputs("null", stdout);
  bool first = false;
  const ta_json_t *heap = ta_json_get(doc, "heap"), *mig = ta_json_get(doc, "migrations");
  const ta_json_t *purges = ta_json_get(doc, "purges");
  print_rate("purged_bytes", known ? per_s(heap, ta_json_get(pdoc, "heap"), "purged", dt) : 0, known, &first);
  bool kp = known && purges, km = known && mig;
  print_rate("purges", kp ? per_s(purges, ta_json_get(pdoc, "purges"), "count", dt) : 0, kp, &first);
  print_rate("purged_pages", kp ? per_s(purges, ta_json_get(pdoc, "purges"), "pages", dt) : 0, kp, &first);
  const ta_json_t *pmig = ta_json_get(pdoc, "migrations");
  print_rate("migrations_in", km ? per_s(mig, pmig, "in", dt) : 0, km, &first);
  print_rate("migrations_out", km ? per_s(mig, pmig, "out", dt) : 0, km, &first);
  print_rate("migrated_bytes", km ? per_s(mig, pmig, "bytes", dt) : 0, km, &first);
  fputs(",\"nodes\":[", stdout);
  const ta_json_t *nodes = ta_json_get(doc, "nodes"), *pnodes = ta_json_get(pdoc, "nodes");
  for (const ta_json_t *n = nodes && nodes->type == TA_JSON_ARRAY ? nodes->child : NULL; n; n = n->next) {
    uint64_t id = ta_json_u64(n, "node", 0);
    const ta_json_t *pn = known ? node_of(pnodes, id) : NULL;
    printf("%s{\"node\":%" PRIu64, n == nodes->child ? "" : ",", id);
    bool f2 = false;
    print_rate("purged_bytes", pn ? per_s(n, pn, "purged", dt) : 0, pn != NULL, &f2);
    print_rate("remote_frees_in", pn ? per_s(n, pn, "remote_frees_in", dt) : 0, pn != NULL, &f2);
    putchar('}');
  }
  fputs("]}}\n", stdout);
  fflush(stdout);
}

/* ---- main ---- */

static int parse_pid(const char *s, pid_t *pid) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || end == s || v <= 0 || v > 0x3fffffff) return EINVAL;
  *pid = (pid_t)v;
  return 0;
}

int main(int argc, char **argv) {
  double interval = 1;
  long count = -1;
  bool json = false;
  const char *pid_arg = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-i") && i + 1 < argc) {
      char *end;
      interval = strtod(argv[++i], &end);
      if (*end || !(interval >= 0.01 && interval <= 86400)) {
        fprintf(stderr, "tieralloc-stat: -i wants seconds between 0.01 and 86400, not '%s'\n", argv[i]);
        return EXIT_USAGE;
      }
    } else if (!strcmp(a, "-n") && i + 1 < argc) {
      char *end;
      count = strtol(argv[++i], &end, 10);
      if (*end || count < 1) {
        fprintf(stderr, "tieralloc-stat: -n wants a count of at least 1, not '%s'\n", argv[i]);
        return EXIT_USAGE;
      }
    } else if (!strcmp(a, "--once")) {
      count = 1;
    } else if (!strcmp(a, "--json")) {
      json = true;
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (a[0] != '-' && !pid_arg) {
      pid_arg = a;
    } else {
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  pid_t pid;
  if (!pid_arg) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (parse_pid(pid_arg, &pid)) {
    fprintf(stderr, "tieralloc-stat: '%s' is not a process id\n", pid_arg);
    return EXIT_USAGE;
  }

  target_t t;
  if (target_read(pid, &t) != 0) {
    char stale[512];
    if (find_stale_file(pid, stale, sizeof(stale)))
      fprintf(stderr, "tieralloc-stat: no process %d; %s is a stale snapshot it left behind "
              "(it did not exit cleanly); remove it\n", (int)pid, stale);
    else
      fprintf(stderr, "tieralloc-stat: no such process: %d\n", (int)pid);
    return EXIT_NO_PROCESS;
  }
  bool clear = !json && isatty(STDOUT_FILENO);
  sample_t prev = {0}, cur = {0};
  for (long i = 0; count < 0 || i < count; i++) {
    if (i > 0) {
      struct timespec ts = {(time_t)interval, (long)((interval - (double)(time_t)interval) * 1e9)};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    }
    int st = snapshot_read(&t, &cur);
    if (st == EXIT_NO_PROCESS && !process_exists(pid)) {
      if (i == 0) fprintf(stderr, "tieralloc-stat: no such process: %d\n", (int)pid);
      else fprintf(stderr, "tieralloc-stat: process %d has exited\n", (int)pid);
      sample_free(&cur);
      sample_free(&prev);
      return i == 0 ? EXIT_NO_PROCESS : 0;
    }
    if (st) {
      sample_free(&cur);
      sample_free(&prev);
      return st;
    }
    if (cur.stale && i == 0)
      fprintf(stderr, "tieralloc-stat: warning: the snapshot of pid %d is %.1f s old (published "
              "every %" PRIu64 " ms): the process may be stopped or its background thread stalled\n",
              (int)pid, (double)cur.age_ns / 1e9, cur.interval_ms);
    char procdir[64];
    snprintf(procdir, sizeof(procdir), "/proc/%d", (int)pid);
    cur.kernel = malloc(sizeof(*cur.kernel));
    cur.kernel_err = cur.kernel ? ta_procmem_read(procdir, cur.kernel) : ENOMEM;
    if (cur.kernel_err) {
      free(cur.kernel);
      cur.kernel = NULL;
    }
    if (json) print_json(&t, &cur, &prev);
    else print_table(&t, &cur, &prev, clear);
    /* Keep the older snapshot while the writer has not published a new one, so a rate always
     * spans two different publications. */
    if (!prev.doc || cur.time_ns > prev.time_ns) {
      sample_free(&prev);
      prev = cur;
    } else {
      sample_free(&cur);
    }
    memset(&cur, 0, sizeof(cur));
  }
  sample_free(&prev);
  return 0;
}
