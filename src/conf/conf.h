/* conf.h: layer L1 configuration, the umbrella header. `ta_conf` holds the options in force; it
 * is written once at start-up (ta_conf_init) and read-only afterwards. */
#ifndef TA_CONF_H
#define TA_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform.h"

TA_EXTERN_C_BEGIN

typedef struct {
#define TA_CONF_BOOL(name, def, doc) bool name;
#define TA_CONF_UINT(name, def, min, max, unit, doc) uint64_t name;
#define TA_CONF_ENUM(name, def, choices, doc) unsigned name;
#include "conf.def"
#undef TA_CONF_BOOL
#undef TA_CONF_UINT
#undef TA_CONF_ENUM
} ta_conf_t;

/* Indexes of enum choices, in the order conf.def lists them. */
enum { TA_NUMA_BIND_PREFERRED, TA_NUMA_BIND_BIND, TA_NUMA_BIND_NONE };
enum { TA_TIER_POLICY_LOCAL, TA_TIER_POLICY_THRESHOLD, TA_TIER_POLICY_RATIO, TA_TIER_POLICY_HOTNESS };

/* Whether TIERALLOC_CONF named an option (as opposed to it holding its default). */
bool ta_conf_was_set(const char *name);

extern ta_conf_t ta_conf;

/* Describes one option for generated docs and ctl. */
typedef enum { TA_CONF_TYPE_BOOL, TA_CONF_TYPE_UINT, TA_CONF_TYPE_ENUM } ta_conf_type_t;

typedef struct {
  const char *name;
  ta_conf_type_t type;
  uint64_t def, min, max;
  const char *unit;     /* enums: the choices, "a|b|c" */
  const char *doc;
} ta_conf_option_t;

extern const ta_conf_option_t ta_conf_options[];
extern const size_t ta_conf_noptions;

/* The name of choice `index` of an enum option: sets *name, returns its length. */
size_t ta_conf_choice_name(const ta_conf_option_t *o, unsigned index, const char **name);

/* The value of option `index` (ta_conf_options order): bools 0/1, enums the choice's index. */
uint64_t ta_conf_value(const ta_conf_t *conf, size_t index);

/* Fills *conf with the defaults. */
void ta_conf_defaults(ta_conf_t *conf);

/* Applies "key:value,key:value" to *conf. Each bad item (unknown key, malformed or out-of-range
 * value) is reported in one line on stderr that names the key and what is allowed, and that
 * option keeps its default. Returns the number of bad items. Never allocates. */
int ta_conf_parse(ta_conf_t *conf, const char *text);

/* Start-up: defaults, then TIERALLOC_CONF from the environment. */
void ta_conf_init(void);

TA_EXTERN_C_END

#endif
