/* tieralloc-run: starts a program with tieralloc preloaded and a configuration, the way numactl
 * starts one with a NUMA policy, after checking everything it can before the program runs:
 * the library loads and is a tieralloc that replaces malloc, and the library's own parser
 * accepts the configuration. Usage: tieralloc-run(1).
 *
 * It is written in C rather than sh because the checks need dlopen/dlsym/dladdr and because
 * it must exec the command with its arguments exactly as given.
 *
 * The configuration check runs the library's parser, never a copy of it: through
 * tieralloc_conf_check() where the library exports it, else by starting this program again as a
 * probe (`--probe`, not for users) with the library preloaded and the configuration in
 * TIERALLOC_CONF; the probe allocates once, which makes the library read and report the
 * configuration on stderr, and prints which object serves malloc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Exit statuses of tieralloc-run itself, as env(1) and timeout(1) use them; anything else is
 * the command's own. */
enum { EXIT_RUN_FAILED = 125, EXIT_CANNOT_EXEC = 126, EXIT_NOT_FOUND = 127 };

#define PROBE_TIMEOUT_MS 10000

/* --policy NAME: the configuration items each policy stands for, in one table. A policy's
 * items go before --conf's, so --conf can still override them. */
static const struct {
  const char *name, *conf, *what;
} policies[] = {
  {"local", "numa_bind:preferred",
   "each thread's memory on its own node, falling back to other nodes when it is full (the default)"},
  {"local-strict", "numa_bind:bind",
   "each thread's memory on its own node or not at all (MPOL_BIND: may fail when the node is full)"},
  {"first-touch", "numa_bind:none",
   "no NUMA policy from tieralloc: pages land where they are first touched"},
};
#define NPOLICIES (sizeof(policies) / sizeof(policies[0]))

static void usage(FILE *f) {
  fprintf(f,
          "usage: tieralloc-run [--lib PATH] [--conf STRING] [--policy NAME] [--check] [--]\n"
          "                     COMMAND [ARGS...]\n"
          "  runs COMMAND with libtieralloc.so preloaded and TIERALLOC_CONF set, after checking both\n"
          "  --lib PATH     the library (default: ../lib*/libtieralloc.so beside this tool, the build\n"
          "                 tree it was built in, then the dynamic loader's search path)\n"
          "  --conf STRING  TIERALLOC_CONF items (key:value,...); they win over TIERALLOC_CONF from\n"
          "                 the environment and over --policy\n"
          "  --policy NAME  a placement policy:");
  for (size_t i = 0; i < NPOLICIES; i++) fprintf(f, "%s %s", i ? "," : "", policies[i].name);
  fprintf(f,
          "\n  --check        check the library, the configuration and COMMAND (optional), print\n"
          "                 what would run, and exit without running anything\n"
          "  exit status: COMMAND's own; 125 when tieralloc-run fails, 126 when COMMAND cannot be\n"
          "  run, 127 when it is not found\n");
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("tieralloc-run: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(EXIT_RUN_FAILED);
}

/* path made absolute without resolving symbolic links, so LD_PRELOAD names the library the way
 * the user or the install did (libtieralloc.so, not libtieralloc.so.0.1.0). */
static bool absolute(const char *path, char *out, size_t len) {
  char cwd[PATH_MAX];
  if (path[0] == '/') return snprintf(out, len, "%s", path) < (int)len;
  if (!getcwd(cwd, sizeof(cwd))) return false;
  return snprintf(out, len, "%s/%s", cwd, path) < (int)len;
}

static bool same_file(const char *a, const char *b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static bool is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- finding the library ---- */

static bool self_dir(char *dir, size_t len) {
  ssize_t n = readlink("/proc/self/exe", dir, len - 1);
  if (n <= 0) return false;
  dir[n] = 0;
  char *slash = strrchr(dir, '/');
  if (!slash) return false;
  *slash = 0;
  return true;
}

/* Where the library is: sets *how to a few words for --check. */
static bool find_library(char *out, size_t len, const char **how) {
  char dir[PATH_MAX], path[PATH_MAX + 64];
  if (self_dir(dir, sizeof(dir))) {
    /* An installed tool: <prefix>/bin/tieralloc-run and <prefix>/<libdir>/libtieralloc.so. */
    const char *libdirs[] = {TA_INSTALL_LIBDIR, "lib", "lib64"};
    for (size_t i = 0; i < sizeof(libdirs) / sizeof(libdirs[0]); i++) {
      snprintf(path, sizeof(path), "%s/../%s/libtieralloc.so", dir, libdirs[i]);
      if (is_file(path) && realpath(dir, out)) {
        /* the tool's real folder, then the relative step, keeping the library's own name */
        char *slash = strrchr(out, '/');
        if (slash) *slash = 0;
        snprintf(out + strlen(out), len - strlen(out), "/%s/libtieralloc.so", libdirs[i]);
        *how = "beside this tool";
        return true;
      }
    }
    /* The tool as built, still in its build tree: that tree's library, never from elsewhere, so
     * an installed tool does not pick up a stale build. */
    size_t blen = strlen(TA_BUILD_DIR);
    if (!strncmp(dir, TA_BUILD_DIR, blen) && (dir[blen] == '/' || !dir[blen]) &&
        is_file(TA_BUILD_LIB) && absolute(TA_BUILD_LIB, out, len)) {
      *how = "in this tool's build tree";
      return true;
    }
  }
  const char *names[] = {"libtieralloc.so." TA_SOVERSION, "libtieralloc.so"};
  for (size_t i = 0; i < 2; i++) {
    void *h = dlopen(names[i], RTLD_LAZY | RTLD_LOCAL);
    struct link_map *lm = NULL;
    if (h && dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name && lm->l_name[0] == '/') {
      snprintf(out, len, "%s", lm->l_name);
      dlclose(h);
      *how = "on the dynamic loader's search path";
      return true;
    }
    if (h) dlclose(h);
  }
  return false;
}

/* Loads the library here and checks it is a tieralloc that defines the libc names. */
static void check_library(const char *lib, char *version, size_t vlen, void **conf_check) {
  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!h) die("cannot load the library: %s", dlerror());
  const char *(*ver)(void) = (const char *(*)(void))dlsym(h, "tieralloc_version");
  if (!ver) die("%s is not a tieralloc library: it has no tieralloc_version", lib);
  snprintf(version, vlen, "%s", ver());
  Dl_info info;
  void *m = dlsym(h, "malloc");
  if (!m || !dladdr(m, &info) || !info.dli_fname || !same_file(info.dli_fname, lib))
    die("%s does not define malloc itself (a sanitizer build leaves the libc names out): "
        "preloading it would not replace the program's allocator", lib);
  *conf_check = dlsym(h, "tieralloc_conf_check");
  /* The handle stays open: conf_check lives in it. */
}

/* ---- the probe ---- */

/* Run as `tieralloc-run --probe` with the library preloaded: makes the library start (and so
 * parse TIERALLOC_CONF), then says which object serves malloc and which version it is. */
static int probe_main(void) {
  void *p = malloc(64);
  free(p);
  Dl_info info;
  void *m = dlsym(RTLD_DEFAULT, "malloc");
  const char *(*ver)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "tieralloc_version");
  printf("malloc-from %s\nversion %s\n", m && dladdr(m, &info) && info.dli_fname ? info.dli_fname : "?",
         ver ? ver() : "none");
  return 0;
}

typedef struct {
  char out[4096], err[16384];
  size_t nout, nerr;
  int status; /* waitpid status, or -1 when it timed out */
} probe_result_t;

static void run_probe(const char *lib, const char *conf, probe_result_t *r) {
  int po[2], pe[2];
  memset(r, 0, sizeof(*r));
  if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) die("pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid < 0) die("fork: %s", strerror(errno));
  if (pid == 0) {
    dup2(po[1], 1);
    dup2(pe[1], 2);
    setenv("LD_PRELOAD", lib, 1);
    if (conf) setenv("TIERALLOC_CONF", conf, 1);
    else unsetenv("TIERALLOC_CONF");
    execl("/proc/self/exe", "tieralloc-run", "--probe", (char *)NULL);
    fprintf(stderr, "exec of the probe failed: %s\n", strerror(errno));
    _exit(EXIT_CANNOT_EXEC);
  }
  close(po[1]);
  close(pe[1]);
  struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  int open_fds = 2;
  while (open_fds > 0) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long left = PROBE_TIMEOUT_MS - ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
    if (left <= 0 || poll(fds, 2, (int)left) == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      r->status = -1;
      close(po[0]);
      close(pe[0]);
      return;
    }
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char *buf = i ? r->err : r->out;
      size_t *n = i ? &r->nerr : &r->nout, cap = (i ? sizeof(r->err) : sizeof(r->out)) - 1;
      char tmp[4096];
      ssize_t k = read(fds[i].fd, tmp, sizeof(tmp));
      if (k <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        open_fds--;
        continue;
      }
      size_t take = (size_t)k < cap - *n ? (size_t)k : cap - *n;
      memcpy(buf + *n, tmp, take);
      *n += take;
      buf[*n] = 0;
    }
  }
  waitpid(pid, &r->status, 0);
}

/* ---- the command ---- */

/* Finds COMMAND as execvp would. Returns 0, ENOENT or EACCES. */
static int resolve_command(const char *cmd, char *out, size_t len) {
  if (strchr(cmd, '/')) {
    snprintf(out, len, "%s", cmd);
    if (access(cmd, F_OK)) return ENOENT;
    return access(cmd, X_OK) || !is_file(cmd) ? EACCES : 0;
  }
  const char *path = getenv("PATH");
  if (!path) path = "/usr/local/bin:/usr/bin:/bin";
  int found = ENOENT;
  while (*path) {
    size_t n = strcspn(path, ":");
    snprintf(out, len, "%.*s%s%s", (int)n, path, n ? "/" : "", cmd);
    if (is_file(out)) {
      if (access(out, X_OK) == 0) return 0;
      found = EACCES;
    }
    path += n + (path[n] == ':');
  }
  return found;
}

/* Warns about programs whose malloc LD_PRELOAD cannot replace. */
static void check_command_binary(const char *path) {
  struct stat st;
  if (stat(path, &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID)))
    fprintf(stderr, "tieralloc-run: warning: %s is set-user-ID or set-group-ID: the loader ignores "
            "LD_PRELOAD paths for it, so it will not run on tieralloc\n", path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ElfW(Ehdr) eh;
  if (read(fd, &eh, sizeof(eh)) != (ssize_t)sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG)) {
    close(fd); /* a script: its interpreter is what gets preloaded */
    return;
  }
  if (eh.e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32)) {
    fprintf(stderr, "tieralloc-run: warning: %s is a %d-bit program and the library is not: the "
            "loader will skip the library\n", path, eh.e_ident[EI_CLASS] == ELFCLASS64 ? 64 : 32);
    close(fd);
    return;
  }
  bool interp = false;
  for (int i = 0; i < eh.e_phnum && !interp; i++) {
    ElfW(Phdr) ph;
    if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (size_t)i * eh.e_phentsize)) != (ssize_t)sizeof(ph)) break;
    if (ph.p_type == PT_INTERP) interp = true;
  }
  close(fd);
  if (!interp)
    fprintf(stderr, "tieralloc-run: warning: %s is statically linked: LD_PRELOAD cannot replace "
            "its malloc (link it with libtieralloc.a instead)\n", path);
}

/* ---- main ---- */

/* a,b,c joined with commas, empty parts left out; NULL when all are empty. */
static char *join_conf(const char *parts[], size_t n) {
  size_t len = 1;
  for (size_t i = 0; i < n; i++) len += parts[i] ? strlen(parts[i]) + 1 : 0;
  char *s = malloc(len), *o = s;
  if (!s) die("out of memory");
  for (size_t i = 0; i < n; i++) {
    if (!parts[i] || !parts[i][0]) continue;
    if (o != s) *o++ = ',';
    o = stpcpy(o, parts[i]);
  }
  *o = 0;
  if (o == s) {
    free(s);
    return NULL;
  }
  return s;
}

/* Is `lib` already one of the entries of an LD_PRELOAD list (separated by spaces or colons)? */
static bool preload_has(const char *list, const char *lib) {
  size_t n = strlen(lib);
  for (const char *p = list; *p;) {
    size_t k = strcspn(p, ": ");
    if (k == n && !strncmp(p, lib, n)) return true;
    p += k;
    p += strspn(p, ": ");
  }
  return false;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "--probe")) return probe_main();
  const char *lib_arg = NULL, *conf_arg = NULL, *policy_arg = NULL;
  bool check = false;
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    const char **slot = !strcmp(a, "--lib") ? &lib_arg : !strcmp(a, "--conf") ? &conf_arg
                      : !strcmp(a, "--policy") ? &policy_arg : NULL;
    if (slot) {
      if (i + 1 >= argc) {
        fprintf(stderr, "tieralloc-run: %s needs a value\n", a);
        usage(stderr);
        return EXIT_RUN_FAILED;
      }
      *slot = argv[++i];
    } else if (!strncmp(a, "--lib=", 6)) lib_arg = a + 6;
    else if (!strncmp(a, "--conf=", 7)) conf_arg = a + 7;
    else if (!strncmp(a, "--policy=", 9)) policy_arg = a + 9;
    else if (!strcmp(a, "--check")) check = true;
    else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--")) {
      i++;
      break;
    } else if (a[0] == '-') {
      fprintf(stderr, "tieralloc-run: unknown option %s\n", a);
      usage(stderr);
      return EXIT_RUN_FAILED;
    } else {
      break;
    }
  }
  char **cmd = argv + i;
  if (!cmd[0] && !check) {
    fprintf(stderr, "tieralloc-run: no command to run\n");
    usage(stderr);
    return EXIT_RUN_FAILED;
  }

  const char *policy_conf = NULL;
  if (policy_arg) {
    for (size_t p = 0; p < NPOLICIES && !policy_conf; p++)
      if (!strcmp(policy_arg, policies[p].name)) policy_conf = policies[p].conf;
    if (!policy_conf) {
      fprintf(stderr, "tieralloc-run: unknown policy '%s'; the known policies are:\n", policy_arg);
      for (size_t p = 0; p < NPOLICIES; p++)
        fprintf(stderr, "  %-13s %s\n", policies[p].name, policies[p].what);
      return EXIT_RUN_FAILED;
    }
  }

  char lib[PATH_MAX];
  const char *how = "given with --lib";
  if (lib_arg) {
    if (!is_file(lib_arg)) die("no such library: %s", lib_arg);
    if (!absolute(lib_arg, lib, sizeof(lib))) die("%s: path too long", lib_arg);
  } else if (!find_library(lib, sizeof(lib), &how)) {
    die("cannot find libtieralloc.so beside this tool or on the loader's path; name it with --lib");
  }
  char version[64];
  void *conf_check = NULL;
  check_library(lib, version, sizeof(version), &conf_check);

  /* Later items win in the library's parser: environment, then --policy, then --conf. */
  const char *env_conf = getenv("TIERALLOC_CONF");
  const char *parts[] = {env_conf, policy_conf, conf_arg};
  char *conf = join_conf(parts, 3);

  probe_result_t pr;
  run_probe(lib, conf, &pr);
  if (pr.status == -1) die("the library did not start within %d s (probe timed out)", PROBE_TIMEOUT_MS / 1000);
  bool bad = false;
  if (conf_check) {
    char err[1024] = "";
    int rc = ((int (*)(const char *, char *, size_t))conf_check)(conf ? conf : "", err, sizeof(err));
    if (rc) {
      fprintf(stderr, "tieralloc-run: bad configuration: %s\n", err);
      bad = true;
    }
  }
  /* The library reports each bad item on stderr in one line naming TIERALLOC_CONF. */
  for (char *line = pr.err, *next; *line; line = next) {
    next = line + strcspn(line, "\n");
    if (*next) *next++ = 0;
    if (!*line) continue;
    if (strstr(line, "TIERALLOC_CONF")) {
      if (!conf_check) fprintf(stderr, "%s\n", line);
      bad = true;
    } else {
      fprintf(stderr, "tieralloc-run: the library said: %s\n", line);
    }
  }
  if (bad) {
    fprintf(stderr, "tieralloc-run: TIERALLOC_CONF=\"%s\" has errors (from", conf ? conf : "");
    const char *sep = " ";
    if (env_conf && *env_conf) { fprintf(stderr, "%sthe environment: \"%s\"", sep, env_conf); sep = "; "; }
    if (policy_conf) { fprintf(stderr, "%s--policy %s: \"%s\"", sep, policy_arg, policy_conf); sep = "; "; }
    if (conf_arg && *conf_arg) fprintf(stderr, "%s--conf: \"%s\"", sep, conf_arg);
    fprintf(stderr, "); not starting %s\n", cmd[0] ? cmd[0] : "anything");
    return EXIT_RUN_FAILED;
  }
  if (!WIFEXITED(pr.status) || WEXITSTATUS(pr.status) != 0) {
    if (WIFSIGNALED(pr.status))
      die("a test program with the library preloaded died of signal %d", WTERMSIG(pr.status));
    die("a test program with the library preloaded exited with status %d", WEXITSTATUS(pr.status));
  }
  char from[PATH_MAX] = "";
  const char *mf = strstr(pr.out, "malloc-from ");
  if (mf) sscanf(mf + 12, "%4095[^\n]", from);
  if (!from[0] || !same_file(from, lib))
    die("with %s preloaded, malloc still came from %s", lib, from[0] ? from : "an unknown object");

  char resolved[PATH_MAX + 256];
  int cerr = cmd[0] ? resolve_command(cmd[0], resolved, sizeof(resolved)) : 0;
  if (cmd[0] && !cerr) check_command_binary(resolved);

  const char *old_preload = getenv("LD_PRELOAD");
  char *preload;
  if (old_preload && *old_preload && !preload_has(old_preload, lib)) {
    preload = malloc(strlen(lib) + strlen(old_preload) + 2);
    if (!preload) die("out of memory");
    sprintf(preload, "%s:%s", lib, old_preload);
  } else {
    preload = strdup(old_preload && *old_preload ? old_preload : lib);
  }

  if (check) {
    printf("library         %s (%s)\n", lib, how);
    printf("version         %s\n", version);
    printf("conf check      %s\n", conf_check ? "tieralloc_conf_check" : "the library's start-up parser (probe)");
    printf("TIERALLOC_CONF  %s\n", conf ? conf : "(unset: defaults)");
    printf("LD_PRELOAD      %s\n", preload);
    if (cmd[0])
      printf("command         %s%s\n", cerr ? cmd[0] : resolved,
             cerr == ENOENT ? " (NOT FOUND)" : cerr ? " (NOT EXECUTABLE)" : "");
    return cmd[0] && cerr ? (cerr == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC) : 0;
  }
  if (cerr == ENOENT) {
    fprintf(stderr, "tieralloc-run: %s: command not found\n", cmd[0]);
    return EXIT_NOT_FOUND;
  }
  if (setenv("LD_PRELOAD", preload, 1) || (conf && setenv("TIERALLOC_CONF", conf, 1)))
    die("setenv: %s", strerror(errno));
  execvp(cmd[0], cmd);
  int e = errno;
  fprintf(stderr, "tieralloc-run: cannot run %s: %s\n", cmd[0], strerror(e));
  return e == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
}
