/* ctl.c: the name tree (names are listed in docs/stats.md):
 *   version  epoch  background_thread  thread.tcache.flush
 *   opt.<option>                    every TIERALLOC_CONF option (read-only)
 *   stats.<heap statistic>          stats.node.<node>.<statistic>  stats.class.<class>.<statistic>
 *   arenas.narenas  arena.<i>.purge  arena.<i>.decay  (i may be 4096, jemalloc's "all arenas")
 *   topology.nnodes  topology.profile
 * Statistics are read from a snapshot taken when "epoch" is written, as in jemalloc, so a
 * program sees one consistent set of values between two epoch bumps. */
#include "ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "conf.h"
#include "stats.h"

static ta_mutex_t ctl_lock = TA_MUTEX_INITIALIZER(TA_LOCK_RANK_INIT);
static ta_stats_t snap;
static uint64_t epoch;

typedef enum {
  V_NONE, V_U64, V_SIZE, V_UNSIGNED, V_SSIZE, V_BOOL, V_STR, /* values */
  A_EPOCH, A_PURGE, A_FLUSH, A_BACKGROUND,                    /* names that act */
} kind_t;

typedef struct {
  kind_t kind;
  uint64_t u;
  const char *str;
} entry_t;

/* Splits off the next dot-separated component; returns its length. */
static size_t next_part(const char **name, const char **part) {
  *part = *name;
  const char *dot = strchr(*name, '.');
  size_t len = dot ? (size_t)(dot - *name) : strlen(*name);
  *name += len + (dot ? 1 : 0);
  return len;
}

static bool is(const char *part, size_t len, const char *word) {
  return strlen(word) == len && memcmp(part, word, len) == 0;
}

static bool number(const char *part, size_t len, unsigned long *out) {
  if (len == 0 || len > 9) return false;
  unsigned long v = 0;
  for (size_t i = 0; i < len; i++) {
    if (part[i] < '0' || part[i] > '9') return false;
    v = v * 10 + (unsigned long)(part[i] - '0');
  }
  *out = v;
  return true;
}

static bool lookup_opt(const char *part, size_t len, entry_t *e) {
  for (size_t i = 0; i < ta_conf_noptions; i++) {
    const ta_conf_option_t *o = &ta_conf_options[i];
    if (!is(part, len, o->name)) continue;
    uint64_t v = ta_conf_value(&ta_conf, i);
    e->u = v;
    if (o->type == TA_CONF_TYPE_BOOL) e->kind = V_BOOL;
    else if (o->type == TA_CONF_TYPE_ENUM) {
      /* choice names are not NUL-terminated inside the list: keep a copy per option */
      static char names[64][32];
      const char *n;
      size_t l = ta_conf_choice_name(o, (unsigned)v, &n);
      if (l >= sizeof(names[0]) || i >= 64) return false;
      memcpy(names[i], n, l);
      names[i][l] = '\0';
      e->kind = V_STR;
      e->str = names[i];
    }
    /* jemalloc's types, for programs that read these through mallctl */
    else if (is(part, len, "dirty_decay_ms")) e->kind = V_SSIZE;
    else if (is(part, len, "narenas")) e->kind = V_UNSIGNED;
    else e->kind = V_U64;
    return true;
  }
  return false;
}

/* Resolves a name against the snapshot. Caller holds ctl_lock. */
static bool resolve(const char *name, entry_t *e) {
  const char *part;
  size_t len = next_part(&name, &part);
  unsigned long n;
  *e = (entry_t){V_NONE, 0, NULL};
  if (is(part, len, "version") && !*name) {
    e->kind = V_STR;
    e->str = "0.1.0";
  } else if (is(part, len, "epoch") && !*name) {
    e->kind = A_EPOCH;
  } else if (is(part, len, "background_thread") && !*name) {
    e->kind = A_BACKGROUND;
  } else if (is(part, len, "thread")) {
    const char *p2;
    size_t l2 = next_part(&name, &p2);
    if (!is(p2, l2, "tcache")) return false;
    l2 = next_part(&name, &p2);
    if (!is(p2, l2, "flush") || *name) return false;
    e->kind = A_FLUSH;
  } else if (is(part, len, "opt")) {
    const char *p2;
    size_t l2 = next_part(&name, &p2);
    return !*name && lookup_opt(p2, l2, e);
  } else if (is(part, len, "arenas")) {
    const char *p2;
    size_t l2 = next_part(&name, &p2);
    if (!is(p2, l2, "narenas") || *name) return false;
    e->kind = V_UNSIGNED;
    e->u = ta_narenas;
  } else if (is(part, len, "arena")) {
    const char *p2;
    size_t l2 = next_part(&name, &p2);
    /* i == narenas means all arenas in older jemalloc (redis uses it), 4096 in newer ones */
    if (!number(p2, l2, &n) || (n > ta_narenas && n != 4096)) return false;
    l2 = next_part(&name, &p2);
    if (!(is(p2, l2, "purge") || is(p2, l2, "decay")) || *name) return false;
    e->kind = A_PURGE;
  } else if (is(part, len, "topology")) {
    const char *p2;
    size_t l2 = next_part(&name, &p2);
    if (*name) return false;
    if (is(p2, l2, "nnodes")) {
      e->kind = V_UNSIGNED;
      e->u = ta_topology_get()->nnodes;
    } else if (is(p2, l2, "profile")) {
      e->kind = V_STR;
      e->str = ta_arch_profile_name();
    } else if (is(p2, l2, "source")) {
      e->kind = V_STR;
      e->str = ta_topology_get()->source;
    } else {
      return false;
    }
  } else if (is(part, len, "stats")) {
    const char *p2;
    size_t l2 = next_part(&name, &p2);
    if (is(p2, l2, "node") || is(p2, l2, "class")) {
      bool node = is(p2, l2, "node");
      const char *p3;
      size_t l3 = next_part(&name, &p3);
      if (!number(p3, l3, &n)) return false;
      const char *p4;
      size_t l4 = next_part(&name, &p4);
      if (*name) return false;
      e->kind = V_SIZE;
      if (node) {
        const ta_stats_node_t *sn = NULL;
        for (unsigned i = 0; i < snap.nnodes; i++)
          if (snap.node[i].node == n) sn = &snap.node[i];
        if (!sn) return false;
#define TA_STAT_HEAP(name_, unit, doc)
#define TA_STAT_NODE(name_, unit, doc) if (is(p4, l4, #name_)) { e->u = sn->name_; return true; }
#define TA_STAT_CLASS(name_, unit, doc)
#include "stats.def"
#undef TA_STAT_HEAP
#undef TA_STAT_NODE
#undef TA_STAT_CLASS
      } else {
        if (n >= TA_NCLASSES) return false;
        const ta_stats_class_t *cs = &snap.cls[n];
#define TA_STAT_HEAP(name_, unit, doc)
#define TA_STAT_NODE(name_, unit, doc)
#define TA_STAT_CLASS(name_, unit, doc) if (is(p4, l4, #name_)) { e->u = cs->name_; return true; }
#include "stats.def"
#undef TA_STAT_HEAP
#undef TA_STAT_NODE
#undef TA_STAT_CLASS
      }
      return false;
    }
    if (*name) return false;
    e->kind = V_SIZE;
#define TA_STAT_HEAP(name_, unit, doc) if (is(p2, l2, #name_)) { e->u = snap.heap.name_; return true; }
#define TA_STAT_NODE(name_, unit, doc)
#define TA_STAT_CLASS(name_, unit, doc)
#include "stats.def"
#undef TA_STAT_HEAP
#undef TA_STAT_NODE
#undef TA_STAT_CLASS
    return false;
  } else {
    return false;
  }
  return true;
}

static int read_value(const entry_t *e, void *oldp, size_t *oldlenp) {
  if (!oldp || !oldlenp) return 0;
  union {
    uint64_t u64;
    size_t size;
    unsigned uns;
    ssize_t ss;
    bool b;
    const char *str;
  } v;
  size_t size;
  switch (e->kind) {
    case V_U64: v.u64 = e->u; size = sizeof(uint64_t); break;
    case V_SIZE: v.size = (size_t)e->u; size = sizeof(size_t); break;
    case V_UNSIGNED: v.uns = (unsigned)e->u; size = sizeof(unsigned); break;
    case V_SSIZE: v.ss = (ssize_t)e->u; size = sizeof(ssize_t); break;
    case V_BOOL: v.b = e->u != 0; size = sizeof(bool); break;
    case V_STR: v.str = e->str; size = sizeof(const char *); break;
    default: return EPERM;
  }
  if (*oldlenp != size) {
    /* jemalloc copies what fits and says EINVAL */
    memcpy(oldp, &v, *oldlenp < size ? *oldlenp : size);
    *oldlenp = *oldlenp < size ? *oldlenp : size;
    return EINVAL;
  }
  memcpy(oldp, &v, size);
  return 0;
}

int ta_ctl(const char *name, void *oldp, size_t *oldlenp, const void *newp, size_t newlen) {
  if (!name) return EINVAL;
  if (!ta_init_ensure()) return EAGAIN;
  ta_mutex_lock(&ctl_lock);
  if (epoch == 0) { /* the first use takes a snapshot, so stats.* are never all zero */
    ta_stats_collect(&snap);
    epoch = 1;
  }
  entry_t e;
  int err = 0;
  if (!resolve(name, &e)) {
    err = ENOENT;
  } else if (e.kind == A_EPOCH) {
    if (newp) {
      if (newlen != sizeof(uint64_t)) err = EINVAL;
      else {
        ta_stats_collect(&snap);
        epoch++;
      }
    }
    entry_t v = {V_U64, epoch, NULL};
    if (!err) err = read_value(&v, oldp, oldlenp);
  } else if (e.kind == A_BACKGROUND) {
    entry_t v = {V_BOOL, ta_background_is_running(), NULL};
    err = read_value(&v, oldp, oldlenp);
    if (!err && newp) {
      if (newlen != sizeof(bool)) err = EINVAL;
      else if (*(const bool *)newp) ta_background_start();
      else err = EPERM; /* the background thread cannot be stopped */
    }
  } else if (e.kind == A_PURGE || e.kind == A_FLUSH) {
    if ((oldp && oldlenp && *oldlenp) || newp) err = EINVAL;
    ta_mutex_unlock(&ctl_lock);
    if (!err) {
      ta_tcache_flush_self();
      if (e.kind == A_PURGE) ta_purge_step(ta_os_now_ns(), 0, true);
    }
    return err;
  } else {
    err = newp ? EPERM : read_value(&e, oldp, oldlenp);
  }
  ta_mutex_unlock(&ctl_lock);
  return err;
}

bool ta_ctl_exists(const char *name) {
  if (!name || !ta_init_ensure()) return false;
  ta_mutex_lock(&ctl_lock);
  entry_t e;
  bool ok = resolve(name, &e);
  ta_mutex_unlock(&ctl_lock);
  return ok;
}

static void write_stderr(void *opaque, const char *text) {
  (void)opaque;
  size_t len = strlen(text);
  while (len) {
    ssize_t w = write(2, text, len);
    if (w <= 0) break;
    text += w;
    len -= (size_t)w;
  }
}

void ta_ctl_stats_print(void (*write_cb)(void *, const char *), void *opaque, bool json) {
  if (!ta_init_ensure()) return;
  static ta_mutex_t print_lock = TA_MUTEX_INITIALIZER(TA_LOCK_RANK_INIT);
  static ta_stats_t s;
  static char text[256 * 1024];
  ta_mutex_lock(&print_lock);
  ta_stats_collect(&s);
  size_t len = json ? ta_stats_render_json(&s, text, sizeof(text)) : ta_stats_render_table(&s, text, sizeof(text));
  if (len >= sizeof(text)) text[sizeof(text) - 1] = '\0';
  (write_cb ? write_cb : write_stderr)(opaque, text);
  ta_mutex_unlock(&print_lock);
}
