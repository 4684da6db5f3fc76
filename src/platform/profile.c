/* profile.c: the profile table (rows from profile.h), the pure choice of a row for a MIDR, and
 * the profile in force. Built for every architecture, so the table and the MIDR parsers are
 * unit-tested natively; the machine is reached only through arch_impl.h.
 *
 * The profile in force is chosen once: lazily on first use (auto), then again by ta_arch_init
 * at start-up when TIERALLOC_CONF names one. Lazy callers that race agree through `state`. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch_impl.h"
#include "atomic.h"
#include "log.h"

const ta_arch_profile_t ta_arch_profiles[TA_ARCH_PROFILE_COUNT] = {
#define TA_PROFILE_ROW_(id, nm, is, impl, prt, line, pad, l1d, l2, tc, slab, pf, ls)             \
  {.name = nm, .isa = is, .implementer = impl, .part = prt, .cache_line = line,                  \
   .contended_pad = pad, .l1d_kib = l1d, .l2_kib = l2, .tcache_class_bytes = tc,                 \
   .slab_bytes = slab, .prefetch = pf, .lse = ls},
    TA_ARCH_PROFILES(TA_PROFILE_ROW_)
#undef TA_PROFILE_ROW_
};

const ta_arch_profile_t *ta_arch_profile_for_midr(unsigned isa, uint64_t midr) {
  uint32_t implementer = (uint32_t)(midr >> 24) & 0xff, part = (uint32_t)(midr >> 4) & 0xfff;
  const ta_arch_profile_t *fallback = NULL;
  for (unsigned i = 0; i < TA_ARCH_PROFILE_COUNT; i++) {
    const ta_arch_profile_t *p = &ta_arch_profiles[i];
    if (p->isa != isa) continue;
    if (p->implementer == 0 && p->part == 0) {
      if (!fallback) fallback = p;
    } else if (p->implementer == implementer && p->part == part) {
      return p;
    }
  }
  return fallback;
}

const ta_arch_profile_t *ta_arch_profile_by_name(const char *name) {
  for (unsigned i = 0; i < TA_ARCH_PROFILE_COUNT; i++)
    if (name && strcmp(ta_arch_profiles[i].name, name) == 0) return &ta_arch_profiles[i];
  return NULL;
}

/* ---- MIDR parsers (pure) ---- */

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Parses "0x1f", "0X1F" or "31" (decimal, as cpuinfo spells "CPU variant"/"CPU revision" on some
 * kernels) at s; *ok is false when there are no digits. */
static uint64_t parse_number(const char *s, bool *ok) {
  while (*s == ' ' || *s == '\t') s++;
  uint64_t v = 0;
  *ok = false;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    for (s += 2; hex_digit(*s) >= 0; s++, *ok = true) v = v * 16 + (uint64_t)hex_digit(*s);
  } else {
    for (; *s >= '0' && *s <= '9'; s++, *ok = true) v = v * 10 + (uint64_t)(*s - '0');
  }
  return v;
}

uint64_t ta_arch_midr_from_sysfs(const char *text) {
  bool ok;
  uint64_t v = text ? parse_number(text, &ok) : 0;
  return text && ok ? v & 0xffffffffu : 0;
}

/* The value of the first "key<spaces/tabs>: value" line in text, or false. */
static bool cpuinfo_field(const char *text, const char *key, uint64_t *out) {
  size_t klen = strlen(key);
  for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
    if (strncmp(line, key, klen) != 0) continue;
    const char *c = line + klen;
    while (*c == ' ' || *c == '\t') c++;
    if (*c != ':') continue;
    bool ok;
    *out = parse_number(c + 1, &ok);
    return ok;
  }
  return false;
}

uint64_t ta_arch_midr_from_cpuinfo(const char *text) {
  uint64_t implementer, part, variant = 0, revision = 0;
  if (!text || !cpuinfo_field(text, "CPU implementer", &implementer) ||
      !cpuinfo_field(text, "CPU part", &part))
    return 0;
  cpuinfo_field(text, "CPU variant", &variant);
  cpuinfo_field(text, "CPU revision", &revision);
  /* MIDR: implementer[31:24] variant[23:20] architecture[19:16] (0xf: "see ID registers")
   * part[15:4] revision[3:0]. */
  return (implementer & 0xff) << 24 | (variant & 0xf) << 20 | 0xfu << 16 | (part & 0xfff) << 4 |
         (revision & 0xf);
}

/* ---- the profile in force ---- */

enum { UNSET, CHOOSING, SET };
static ta_atomic(int) state = UNSET;
static ta_arch_profile_t active;
static uint64_t active_midr;
static const char *active_midr_source = "none";

static void install(const ta_arch_profile_t *row, uint64_t midr, const char *source) {
  active = *row;
  ta_arch_impl_fill_runtime(&active);
  active_midr = midr;
  active_midr_source = source;
}

static const ta_arch_profile_t *detect(uint64_t *midr, const char **source) {
  *midr = ta_arch_impl_read_midr(source);
  return ta_arch_profile_for_midr(ta_arch_impl_isa(), *midr);
}

int ta_arch_init(unsigned choice) {
  const char *source;
  uint64_t midr;
  const ta_arch_profile_t *row = detect(&midr, &source);
  int err = 0;
  if (choice > 0 && choice <= TA_ARCH_PROFILE_COUNT) {
    const ta_arch_profile_t *forced = &ta_arch_profiles[choice - 1];
    if (forced->isa == ta_arch_impl_isa()) {
      row = forced;
    } else {
      ta_log("TIERALLOC_CONF: profile: %s is for another architecture; using %s", forced->name,
             row->name);
      err = EINVAL;
    }
  } else if (choice > TA_ARCH_PROFILE_COUNT) {
    err = EINVAL;
  }
  /* Start-up is single-threaded here (the init mutex is held); lazy readers that already ran
   * saw the auto row, and the override only changes tuning numbers, never correctness. */
  ta_atomic_store(&state, CHOOSING, ta_mo_relaxed);
  install(row, midr, source);
  ta_atomic_store(&state, SET, ta_mo_release);
  return err;
}

const ta_arch_profile_t *ta_arch_profile(void) {
  if (ta_likely(ta_atomic_load(&state, ta_mo_acquire) == SET)) return &active;
  int expected = UNSET;
  if (ta_atomic_cas(&state, &expected, CHOOSING)) {
    const char *source;
    uint64_t midr;
    const ta_arch_profile_t *row = detect(&midr, &source);
    install(row, midr, source);
    ta_atomic_store(&state, SET, ta_mo_release);
  } else {
    while (ta_atomic_load(&state, ta_mo_acquire) != SET) ta_arch_spin_pause();
  }
  return &active;
}

const char *ta_arch_profile_name(void) { return ta_arch_profile()->name; }

uint64_t ta_arch_midr(const char **source) {
  ta_arch_profile();
  if (source) *source = active_midr_source;
  return active_midr;
}

size_t ta_arch_describe(char *buf, size_t size) {
  const ta_arch_profile_t *p = ta_arch_profile();
  int n = snprintf(buf, size,
                   "profile=%s midr=0x%08llx (%s) line=%u pad=%u l1d=%uK l2=%uK tcache=%u "
                   "slab=%u prefetch=%d lse=%d atomics=%s",
                   p->name, (unsigned long long)active_midr, active_midr_source, p->cache_line,
                   p->contended_pad, p->l1d_kib, p->l2_kib, p->tcache_class_bytes, p->slab_bytes,
                   p->prefetch, p->lse,
                   ta_arch_impl_isa() == TA_ARCH_ISA_X86_64 ? "x86"
                   : ta_arch_atomics_are_lse()              ? "lse"
                                                            : "llsc");
  return n < 0 ? 0 : (size_t)n;
}
