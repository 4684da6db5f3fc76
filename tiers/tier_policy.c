/* tier_policy.c: which tier a plain large allocation goes to, and the memkind compatibility
 * spelling. Pure functions of their arguments: tested without a machine. */
#include <string.h>

#include "tiers.h"

bool ta_tier_policy_far(const ta_tier_policy_t *p, size_t size, uint64_t far_bytes, uint64_t local_bytes) {
  switch (p->kind) {
    case TA_TIER_THRESHOLD:
      return size >= p->threshold_bytes;
    case TA_TIER_RATIO: {
      /* Put this block where it moves the split toward the target: far when the far share,
       * counting this block as local, would fall below the ratio. */
      uint64_t total = far_bytes + local_bytes + size;
      return far_bytes * 100 < (uint64_t)p->ratio_pct * total;
    }
    default:
      return false;
  }
}

static bool word(const char *s, size_t len, const char *w) { return strlen(w) == len && memcmp(s, w, len) == 0; }

static bool number(const char *s, size_t len, unsigned *out) {
  if (len == 0 || len > 6) return false;
  unsigned v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  *out = v;
  return true;
}

int ta_tier_policy_from_memkind(const char *text, ta_tier_policy_t *out, const char **why) {
  /* "KMEM_DAX:1,DRAM:4,POLICY:STATIC_RATIO": tier names with ratios, then the policy. */
  unsigned dram = 0, far = 0;
  int policy = -1;
  *why = NULL;
  for (const char *p = text; *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *colon = memchr(p, ':', len);
    if (!colon) {
      *why = "an item is not NAME:VALUE";
      return -1;
    }
    size_t klen = (size_t)(colon - p), vlen = len - klen - 1;
    const char *v = colon + 1;
    unsigned n;
    if (word(p, klen, "POLICY")) {
      if (word(v, vlen, "STATIC_RATIO")) policy = TA_TIER_RATIO;
      else if (word(v, vlen, "DYNAMIC_THRESHOLD")) policy = TA_TIER_THRESHOLD;
      else {
        *why = "POLICY is neither STATIC_RATIO nor DYNAMIC_THRESHOLD";
        return -1;
      }
    } else if (word(p, klen, "DRAM")) {
      if (!number(v, vlen, &n) || n == 0) {
        *why = "DRAM needs a positive ratio";
        return -1;
      }
      dram = n;
    } else if (word(p, klen, "KMEM_DAX") || word(p, klen, "FS_DAX")) {
      if (!number(v, vlen, &n) || n == 0) {
        *why = "KMEM_DAX needs a positive ratio";
        return -1;
      }
      far = n;
    } else {
      *why = "unknown tier (DRAM, KMEM_DAX, FS_DAX and POLICY are understood)";
      return -1;
    }
    if (!end) break;
    p = end + 1;
  }
  if (policy < 0) {
    *why = "no POLICY";
    return -1;
  }
  if (!dram || !far) {
    *why = "both DRAM and KMEM_DAX ratios are needed";
    return -1;
  }
  out->kind = (ta_tier_policy_kind_t)policy;
  out->ratio_pct = (unsigned)((uint64_t)far * 100 / (far + dram));
  /* DYNAMIC_THRESHOLD adapts a size threshold to hold the ratio; tieralloc keeps the ratio
   * per block instead, which holds it without a threshold to tune. */
  if (policy == TA_TIER_THRESHOLD) out->kind = TA_TIER_RATIO;
  return 0;
}
