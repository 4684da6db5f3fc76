/* fuzz_conf.c: libFuzzer target for the TIERALLOC_CONF parser. Any input must parse without
 * crashing, leave every option inside its declared range, and count each rejected item. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char text[4096];
  if (size >= sizeof(text)) size = sizeof(text) - 1;
  memcpy(text, data, size);
  text[size] = '\0';
  ta_conf_t conf;
  ta_conf_defaults(&conf);
  int errors = ta_conf_parse(&conf, text);
  if (errors < 0) abort();
  /* Every option stays within its declared range, whatever the input. */
#define TA_CONF_BOOL(name, def, doc) if ((int)conf.name != 0 && (int)conf.name != 1) abort();
#define TA_CONF_UINT(name, def, min, max, unit, doc) \
  if (conf.name < (uint64_t)(min) || conf.name > (uint64_t)(max)) abort();
#define TA_CONF_ENUM(name, def, choices, doc) \
  if (conf.name >= sizeof(choices)) abort(); /* an index, never past the choice list */
#include "conf.def"
#undef TA_CONF_BOOL
#undef TA_CONF_UINT
#undef TA_CONF_ENUM
  return 0;
}
