/* textbuf.h: printf into a caller's fixed buffer, counting what the whole text needs (like
 * snprintf), so renderers can run inside the allocator without allocating. */
#ifndef TA_TEXTBUF_H
#define TA_TEXTBUF_H

#include <stddef.h>

#include "platform.h"

TA_EXTERN_C_BEGIN

typedef struct {
  char *buf;
  size_t cap, len; /* len may exceed cap: the length the full text needs */
} ta_textbuf_t;

void ta_textbuf_put(ta_textbuf_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* NUL-terminates what fits. */
void ta_textbuf_finish(ta_textbuf_t *t);

TA_EXTERN_C_END

#endif
