/* json.h: a strict JSON reader and compact writer for the tools (tieralloc-stat reads the live
 * stats snapshot with it). Tools only: it allocates with malloc, so the library never links it.
 *
 * A parsed document is a tree of ta_json_t nodes owned by its root (free the root only). A
 * number keeps its literal text as well as its double, so counters above 2^53 are written back
 * exactly. The reader takes RFC 8259 JSON and nothing else: no comments, no trailing commas, no
 * NaN, nesting at most TA_JSON_MAX_DEPTH deep, and a string's \u escapes must form valid UTF-16. */
#ifndef TA_TOOLS_JSON_H
#define TA_TOOLS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TA_JSON_MAX_DEPTH 64

typedef enum {
  TA_JSON_NULL,
  TA_JSON_BOOL,
  TA_JSON_NUMBER,
  TA_JSON_STRING,
  TA_JSON_ARRAY,
  TA_JSON_OBJECT
} ta_json_type_t;

typedef struct ta_json ta_json_t;
struct ta_json {
  ta_json_type_t type;
  char *key;          /* member name when the parent is an object, else NULL */
  char *text;         /* a string's decoded bytes (NUL-terminated; may hold NULs, see len),
                         or a number's literal */
  size_t len;         /* bytes in text */
  double number;
  bool boolean;
  size_t count;       /* children of an array or object */
  ta_json_t *child;   /* first child, in document order */
  ta_json_t *next;    /* next sibling */
};

/* Parses len bytes of text into *out. Returns 0, EINVAL for text that is not one JSON value
 * (err then says what and at which byte offset), or ENOMEM. */
int ta_json_parse(const char *text, size_t len, ta_json_t **out, char *err, size_t errlen);

/* Frees a tree returned by ta_json_parse (NULL is fine). */
void ta_json_free(ta_json_t *root);

/* Member `key` of an object, or NULL (also when v is NULL or not an object). */
const ta_json_t *ta_json_get(const ta_json_t *v, const char *key);

/* The member's value when it is a number (or a bool: 0/1), else dflt. */
double ta_json_num(const ta_json_t *v, const char *key, double dflt);

/* The member's value as an unsigned integer: exact from the literal when it is a non-negative
 * integer that fits, else dflt. */
uint64_t ta_json_u64(const ta_json_t *v, const char *key, uint64_t dflt);

/* The member's string, or dflt. */
const char *ta_json_str(const ta_json_t *v, const char *key, const char *dflt);

/* Writes v as compact JSON on one line (no newline at the end). Returns 0 or an errno value. */
int ta_json_write(FILE *f, const ta_json_t *v);

/* Writes len bytes as a JSON string literal, quotes included. */
void ta_json_write_string(FILE *f, const char *s, size_t len);

#ifdef __cplusplus
}
#endif

#endif
