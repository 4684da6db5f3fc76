/* json.c: the tools' strict JSON reader and compact writer (see json.h for the contract).
 * Recursive descent over a byte range; every node is malloc'ed and linked into its parent, so
 * a failure anywhere frees the partial tree through the root. */
#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *start, *p, *end;
  char *err;
  size_t errlen;
  int error; /* first error: EINVAL or ENOMEM */
} parser_t;

static void fail(parser_t *ps, int error, const char *fmt, ...) {
  if (ps->error) return;
  ps->error = error;
  if (!ps->err || !ps->errlen) return;
  int n;
  if (error == EINVAL && ps->p >= ps->end) { /* what a reader sees most: a truncated file */
    n = snprintf(ps->err, ps->errlen, "unexpected end of text");
  } else {
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(ps->err, ps->errlen, fmt, ap);
    va_end(ap);
  }
  if (n >= 0 && (size_t)n < ps->errlen)
    snprintf(ps->err + n, ps->errlen - (size_t)n, " at byte %zu", (size_t)(ps->p - ps->start));
}

static void skip_space(parser_t *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
    ps->p++;
}

static ta_json_t *new_node(parser_t *ps, ta_json_type_t type) {
  ta_json_t *v = calloc(1, sizeof(*v));
  if (!v) fail(ps, ENOMEM, "out of memory");
  else v->type = type;
  return v;
}

static bool literal(parser_t *ps, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return false;
  ps->p += n;
  return true;
}

static int hex4(const char *s) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else return -1;
  }
  return v;
}

static size_t put_utf8(char *out, unsigned cp) {
  if (cp < 0x80) { out[0] = (char)cp; return 1; }
  if (cp < 0x800) {
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* Parses a string literal at ps->p (which is at '"'); returns the decoded bytes in a new buffer
 * (never longer than the literal, since every escape is at least as long as its UTF-8). */
static char *parse_string(parser_t *ps, size_t *lenp) {
  const char *s = ++ps->p;
  const char *q = s;
  while (q < ps->end && *q != '"') q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
  if (q >= ps->end) {
    ps->p = ps->end; /* reported as the end of the text, like every other truncation */
    fail(ps, EINVAL, "unterminated string");
    return NULL;
  }
  char *out = malloc((size_t)(q - s) + 1), *o = out;
  if (!out) {
    fail(ps, ENOMEM, "out of memory");
    return NULL;
  }
  while (ps->p < q) {
    unsigned char c = (unsigned char)*ps->p;
    if (c < 0x20) {
      fail(ps, EINVAL, "control character in a string");
      goto bad;
    }
    if (c != '\\') {
      *o++ = (char)c;
      ps->p++;
      continue;
    }
    char e = ps->p[1];
    ps->p += 2;
    switch (e) {
      case '"': *o++ = '"'; break;
      case '\\': *o++ = '\\'; break;
      case '/': *o++ = '/'; break;
      case 'b': *o++ = '\b'; break;
      case 'f': *o++ = '\f'; break;
      case 'n': *o++ = '\n'; break;
      case 'r': *o++ = '\r'; break;
      case 't': *o++ = '\t'; break;
      case 'u': {
        int hi = q - ps->p >= 4 ? hex4(ps->p) : -1;
        if (hi < 0) {
          fail(ps, EINVAL, "bad \\u escape");
          goto bad;
        }
        ps->p += 4;
        unsigned cp = (unsigned)hi;
        if (hi >= 0xd800 && hi <= 0xdbff) {
          int lo = q - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u' ? hex4(ps->p + 2) : -1;
          if (lo < 0xdc00 || lo > 0xdfff) {
            fail(ps, EINVAL, "unpaired surrogate in a \\u escape");
            goto bad;
          }
          ps->p += 6;
          cp = 0x10000 + (((unsigned)hi - 0xd800) << 10) + ((unsigned)lo - 0xdc00);
        } else if (hi >= 0xdc00 && hi <= 0xdfff) {
          fail(ps, EINVAL, "unpaired surrogate in a \\u escape");
          goto bad;
        }
        o += put_utf8(o, cp);
        break;
      }
      default:
        ps->p -= 1;
        fail(ps, EINVAL, "bad escape '\\%c'", e);
        goto bad;
    }
  }
  ps->p = q + 1;
  *o = 0;
  *lenp = (size_t)(o - out);
  return out;
bad:
  free(out);
  return NULL;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static ta_json_t *parse_number(parser_t *ps) {
  const char *s = ps->p, *q = s;
  if (q < ps->end && *q == '-') q++;
  if (q < ps->end && *q == '0') q++;
  else if (q < ps->end && is_digit(*q)) while (q < ps->end && is_digit(*q)) q++;
  else goto bad;
  if (q < ps->end && *q == '.') {
    q++;
    if (q >= ps->end || !is_digit(*q)) goto bad;
    while (q < ps->end && is_digit(*q)) q++;
  }
  if (q < ps->end && (*q == 'e' || *q == 'E')) {
    q++;
    if (q < ps->end && (*q == '+' || *q == '-')) q++;
    if (q >= ps->end || !is_digit(*q)) goto bad;
    while (q < ps->end && is_digit(*q)) q++;
  }
  ta_json_t *v = new_node(ps, TA_JSON_NUMBER);
  if (!v) return NULL;
  v->len = (size_t)(q - s);
  v->text = malloc(v->len + 1);
  if (!v->text) {
    free(v);
    fail(ps, ENOMEM, "out of memory");
    return NULL;
  }
  memcpy(v->text, s, v->len);
  v->text[v->len] = 0;
  v->number = strtod(v->text, NULL);
  ps->p = q;
  return v;
bad:
  ps->p = q;
  fail(ps, EINVAL, "malformed number");
  return NULL;
}

static ta_json_t *parse_value(parser_t *ps, int depth);

/* Arrays and objects: `close` ends the list; objects read "key": before each value. */
static ta_json_t *parse_list(parser_t *ps, int depth, bool object) {
  if (depth >= TA_JSON_MAX_DEPTH) {
    fail(ps, EINVAL, "nested deeper than %d", TA_JSON_MAX_DEPTH);
    return NULL;
  }
  char close = object ? '}' : ']';
  ta_json_t *v = new_node(ps, object ? TA_JSON_OBJECT : TA_JSON_ARRAY);
  if (!v) return NULL;
  ps->p++;
  skip_space(ps);
  if (ps->p < ps->end && *ps->p == close) {
    ps->p++;
    return v;
  }
  ta_json_t **tail = &v->child;
  for (;;) {
    char *key = NULL;
    size_t keylen = 0;
    skip_space(ps);
    if (object) {
      if (ps->p >= ps->end || *ps->p != '"') {
        fail(ps, EINVAL, "expected a member name");
        break;
      }
      if (!(key = parse_string(ps, &keylen))) break;
      skip_space(ps);
      if (ps->p >= ps->end || *ps->p != ':') {
        free(key);
        fail(ps, EINVAL, "expected ':'");
        break;
      }
      ps->p++;
    }
    ta_json_t *item = parse_value(ps, depth + 1);
    if (!item) {
      free(key);
      break;
    }
    item->key = key;
    *tail = item;
    tail = &item->next;
    v->count++;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == close) {
      ps->p++;
      return v;
    }
    fail(ps, EINVAL, "expected ',' or '%c'", close);
    break;
  }
  ta_json_free(v);
  return NULL;
}

static ta_json_t *parse_value(parser_t *ps, int depth) {
  skip_space(ps);
  if (ps->p >= ps->end) {
    fail(ps, EINVAL, "unexpected end of text");
    return NULL;
  }
  char c = *ps->p;
  if (c == '{' || c == '[') return parse_list(ps, depth, c == '{');
  if (c == '"') {
    size_t len;
    char *s = parse_string(ps, &len);
    if (!s) return NULL;
    ta_json_t *v = new_node(ps, TA_JSON_STRING);
    if (!v) {
      free(s);
      return NULL;
    }
    v->text = s;
    v->len = len;
    return v;
  }
  if (c == '-' || is_digit(c)) return parse_number(ps);
  ta_json_t *v = NULL;
  if (literal(ps, "true") || literal(ps, "false")) {
    if ((v = new_node(ps, TA_JSON_BOOL))) v->boolean = c == 't';
  } else if (literal(ps, "null")) {
    v = new_node(ps, TA_JSON_NULL);
  } else {
    fail(ps, EINVAL, "unexpected character '%c'", c);
  }
  return v;
}

int ta_json_parse(const char *text, size_t len, ta_json_t **out, char *err, size_t errlen) {
  parser_t ps = {text, text, text + len, err, errlen, 0};
  if (err && errlen) err[0] = 0;
  *out = NULL;
  ta_json_t *v = parse_value(&ps, 0);
  if (v) {
    skip_space(&ps);
    if (ps.p != ps.end) fail(&ps, EINVAL, "text after the value");
  }
  if (ps.error) {
    ta_json_free(v);
    return ps.error;
  }
  *out = v;
  return 0;
}

void ta_json_free(ta_json_t *v) {
  while (v) {
    ta_json_t *next = v->next;
    ta_json_free(v->child);
    free(v->key);
    free(v->text);
    free(v);
    v = next;
  }
}

const ta_json_t *ta_json_get(const ta_json_t *v, const char *key) {
  if (!v || v->type != TA_JSON_OBJECT) return NULL;
  for (const ta_json_t *c = v->child; c; c = c->next)
    if (!strcmp(c->key, key)) return c;
  return NULL;
}

double ta_json_num(const ta_json_t *v, const char *key, double dflt) {
  const ta_json_t *m = ta_json_get(v, key);
  if (m && m->type == TA_JSON_NUMBER) return m->number;
  if (m && m->type == TA_JSON_BOOL) return m->boolean;
  return dflt;
}

uint64_t ta_json_u64(const ta_json_t *v, const char *key, uint64_t dflt) {
  const ta_json_t *m = ta_json_get(v, key);
  if (!m || m->type != TA_JSON_NUMBER || m->text[0] == '-') return dflt;
  uint64_t x = 0;
  for (const char *s = m->text; *s; s++) {
    if (!is_digit(*s)) return dflt; /* a fraction or exponent: not an integer literal */
    unsigned d = (unsigned)(*s - '0');
    if (x > (UINT64_MAX - d) / 10) return dflt;
    x = x * 10 + d;
  }
  return x;
}

const char *ta_json_str(const ta_json_t *v, const char *key, const char *dflt) {
  const ta_json_t *m = ta_json_get(v, key);
  return m && m->type == TA_JSON_STRING ? m->text : dflt;
}

void ta_json_write_string(FILE *f, const char *s, size_t len) {
  fputc('"', f);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c == '\n') fputs("\\n", f);
    else if (c == '\t') fputs("\\t", f);
    else if (c == '\r') fputs("\\r", f);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

int ta_json_write(FILE *f, const ta_json_t *v) {
  switch (v->type) {
    case TA_JSON_NULL: fputs("null", f); break;
    case TA_JSON_BOOL: fputs(v->boolean ? "true" : "false", f); break;
    case TA_JSON_NUMBER: fputs(v->text, f); break;
    case TA_JSON_STRING: ta_json_write_string(f, v->text, v->len); break;
    case TA_JSON_ARRAY:
    case TA_JSON_OBJECT: {
      bool object = v->type == TA_JSON_OBJECT;
      fputc(object ? '{' : '[', f);
      for (const ta_json_t *c = v->child; c; c = c->next) {
        if (c != v->child) fputc(',', f);
        if (object) {
          ta_json_write_string(f, c->key, strlen(c->key));
          fputc(':', f);
        }
        ta_json_write(f, c);
      }
      fputc(object ? '}' : ']', f);
      break;
    }
  }
  return ferror(f) ? EIO : 0;
}
