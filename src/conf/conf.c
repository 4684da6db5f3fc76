/* conf.c: the TIERALLOC_CONF parser, generated from conf.def. It runs inside the first malloc,
 * so it reads the string in place and never allocates. */
#include "conf.h"

#include <stdlib.h>
#include <string.h>

ta_conf_t ta_conf;
static uint64_t set_mask; /* bit i: option i was given in TIERALLOC_CONF */

const ta_conf_option_t ta_conf_options[] = {
#define TA_CONF_BOOL(name, def, doc) {#name, TA_CONF_TYPE_BOOL, (def), 0, 1, "", doc},
#define TA_CONF_UINT(name, def, min, max, unit, doc) {#name, TA_CONF_TYPE_UINT, (def), (min), (max), unit, doc},
#define TA_CONF_ENUM(name, def, choices, doc) {#name, TA_CONF_TYPE_ENUM, (def), 0, 0, choices, doc},
#include "conf.def"
#undef TA_CONF_BOOL
#undef TA_CONF_UINT
#undef TA_CONF_ENUM
};
const size_t ta_conf_noptions = TA_ARRAY_LEN(ta_conf_options);

void ta_conf_defaults(ta_conf_t *conf) {
#define TA_CONF_BOOL(name, def, doc) conf->name = (def);
#define TA_CONF_UINT(name, def, min, max, unit, doc) conf->name = (def);
#define TA_CONF_ENUM(name, def, choices, doc) conf->name = (def);
#include "conf.def"
#undef TA_CONF_BOOL
#undef TA_CONF_UINT
#undef TA_CONF_ENUM
}

static void set_option(ta_conf_t *conf, size_t index, uint64_t value) {
  size_t i = 0;
#define TA_CONF_BOOL(name, def, doc) if (i++ == index) conf->name = value != 0;
#define TA_CONF_UINT(name, def, min, max, unit, doc) if (i++ == index) conf->name = value;
#define TA_CONF_ENUM(name, def, choices, doc) if (i++ == index) conf->name = (unsigned)value;
#include "conf.def"
#undef TA_CONF_BOOL
#undef TA_CONF_UINT
#undef TA_CONF_ENUM
}

/* Index of `val` among the '|'-separated choices, or -1. */
static int choice_index(const char *choices, const char *val, size_t vlen) {
  int index = 0;
  for (const char *c = choices;; index++) {
    const char *bar = strchr(c, '|');
    size_t clen = bar ? (size_t)(bar - c) : strlen(c);
    if (clen == vlen && memcmp(c, val, vlen) == 0) return index;
    if (!bar) return -1;
    c = bar + 1;
  }
}

/* The name of choice `index` of an enum option, for messages and docs ("" if out of range). */
size_t ta_conf_choice_name(const ta_conf_option_t *o, unsigned index, const char **name) {
  const char *c = o->unit;
  for (unsigned i = 0; i < index && c; i++) {
    c = strchr(c, '|');
    if (c) c++;
  }
  if (!c) {
    *name = "";
    return 0;
  }
  const char *bar = strchr(c, '|');
  *name = c;
  return bar ? (size_t)(bar - c) : strlen(c);
}

static bool token_is(const char *tok, size_t len, const char *word) {
  return strlen(word) == len && memcmp(tok, word, len) == 0;
}

/* Parses a decimal without overflow; false on anything else. */
static bool parse_uint(const char *s, size_t len, uint64_t *out) {
  if (len == 0 || len > 20) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    uint64_t d = (uint64_t)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

static int parse_item(ta_conf_t *conf, const char *item, size_t len) {
  const char *colon = memchr(item, ':', len);
  if (!colon) {
    ta_log("TIERALLOC_CONF: '%.*s' is not key:value; ignored", (int)len, item);
    return 1;
  }
  size_t klen = (size_t)(colon - item);
  const char *val = colon + 1;
  size_t vlen = len - klen - 1;
  for (size_t i = 0; i < ta_conf_noptions; i++) {
    const ta_conf_option_t *o = &ta_conf_options[i];
    if (!token_is(item, klen, o->name)) continue;
    uint64_t v;
    if (o->type == TA_CONF_TYPE_ENUM) {
      int index = choice_index(o->unit, val, vlen);
      if (index < 0) {
        const char *def;
        int dlen = (int)ta_conf_choice_name(o, (unsigned)o->def, &def);
        ta_log("TIERALLOC_CONF: %s: '%.*s' is not one of %s; using the default %.*s", o->name,
               (int)vlen, val, o->unit, dlen, def);
        return 1;
      }
      v = (uint64_t)index;
    } else if (o->type == TA_CONF_TYPE_BOOL) {
      if (token_is(val, vlen, "true") || token_is(val, vlen, "1")) v = 1;
      else if (token_is(val, vlen, "false") || token_is(val, vlen, "0")) v = 0;
      else {
        ta_log("TIERALLOC_CONF: %s: '%.*s' is not true or false; using the default %s", o->name,
               (int)vlen, val, o->def ? "true" : "false");
        return 1;
      }
    } else if (!parse_uint(val, vlen, &v) || v < o->min || v > o->max) {
      ta_log("TIERALLOC_CONF: %s: '%.*s' is not an integer in [%llu, %llu]%s%s; using the "
             "default %llu", o->name, (int)vlen, val, (unsigned long long)o->min,
             (unsigned long long)o->max, o->unit[0] ? " " : "", o->unit,
             (unsigned long long)o->def);
      return 1;
    }
    set_option(conf, i, v);
    if (conf == &ta_conf && i < 64) set_mask |= (uint64_t)1 << i;
    return 0;
  }
  ta_log("TIERALLOC_CONF: unknown key '%.*s' ignored (docs/tuning.md lists the options)", (int)klen,
         item);
  return 1;
}

int ta_conf_parse(ta_conf_t *conf, const char *text) {
  int errors = 0;
  if (!text) return 0;
  const char *p = text;
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    /* Tolerate spaces around items ("a:1, b:2"), since people write them. */
    while (len && (*p == ' ' || *p == '\t')) { p++; len--; }
    size_t trimmed = len;
    while (trimmed && (p[trimmed - 1] == ' ' || p[trimmed - 1] == '\t')) trimmed--;
    if (trimmed) errors += parse_item(conf, p, trimmed);
    if (!end) break;
    p = end + 1;
  }
  return errors;
}

void ta_conf_init(void) {
  ta_conf_defaults(&ta_conf);
  int errors = ta_conf_parse(&ta_conf, getenv("TIERALLOC_CONF"));
  if (errors && ta_conf.abort_conf) ta_log_fatal("TIERALLOC_CONF has errors and abort_conf is set");
}

bool ta_conf_was_set(const char *name) {
  for (size_t i = 0; i < ta_conf_noptions && i < 64; i++)
    if (strcmp(ta_conf_options[i].name, name) == 0) return (set_mask >> i) & 1;
  return false;
}
