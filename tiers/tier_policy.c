/* tier_policy.c: which tier a plain large allocation goes to, the weighted interleave plan, and
 * the memkind compatibility spelling. Pure functions of their arguments: tested without a
 * machine. */
#include <errno.h>
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
    default: /* local, interleave (its own heap, not a far/local choice), hotness */
      return false;
  }
}

static unsigned gcd(unsigned a, unsigned b) {
  while (b) {
    unsigned t = a % b;
    a = b;
    b = t;
  }
  return a;
}

int ta_tier_interleave_plan(ta_interleave_t *p, const int *nodes, const uint32_t *bw, unsigned n,
                            ta_place_mode_t mode) {
  if (n == 0 || n > TA_INTERLEAVE_MAX_NODES) return EINVAL;
  memset(p, 0, sizeof(*p));
  p->nnodes = n;
  p->mode = mode;
  uint32_t top = 0;
  unsigned g = 0;
  bool known = true;
  for (unsigned i = 0; i < n; i++) {
    p->node[i] = nodes[i];
    if (!bw[i]) known = false;
    if (bw[i] > top) top = bw[i];
    g = gcd(bw[i], g);
  }
  for (unsigned i = 0; i < n; i++) {
    if (!known) p->weight[i] = 1;
    else if (top / g <= TA_INTERLEAVE_SCALE) p->weight[i] = bw[i] / g; /* exact: 20:10:8 is 10:5:4 */
    else {
      uint64_t w = ((uint64_t)bw[i] * TA_INTERLEAVE_SCALE + top / 2) / top;
      p->weight[i] = w ? (unsigned)w : 1;
    }
  }
  g = 0;
  for (unsigned i = 0; i < n; i++) g = gcd(p->weight[i], g);
  p->equal = true;
  for (unsigned i = 0; i < n; i++) {
    p->weight[i] /= g;
    p->period += p->weight[i];
    if (p->weight[i] != p->weight[0]) p->equal = false;
  }
  return 0;
}

unsigned ta_tier_interleave_pick(const ta_interleave_t *p, const uint64_t *given, uint64_t group) {
  /* Smallest (given + group) / weight, compared by cross-multiplying (no division, exact). */
  unsigned best = 0;
  for (unsigned i = 1; i < p->nnodes; i++) {
    unsigned __int128 mine = (unsigned __int128)(given[i] + group) * p->weight[best];
    unsigned __int128 theirs = (unsigned __int128)(given[best] + group) * p->weight[i];
    if (mine < theirs) best = i;
  }
  return best;
}

size_t ta_tier_interleave_runs(const ta_interleave_t *p, const uint64_t *given, size_t nchunks, size_t group) {
  if (nchunks == 0) return 0;
  if (p->equal) return 1; /* one MPOL_INTERLEAVE call */
  uint64_t g[TA_INTERLEAVE_MAX_NODES];
  memcpy(g, given, sizeof(g));
  size_t runs = 0;
  unsigned last = TA_INTERLEAVE_MAX_NODES;
  for (size_t done = 0; done < nchunks; done += group) {
    size_t step = nchunks - done < group ? nchunks - done : group;
    unsigned slot = ta_tier_interleave_pick(p, g, step);
    g[slot] += step;
    if (slot != last) runs++;
    last = slot;
  }
  return runs;
}

size_t ta_tier_interleave_group(const ta_interleave_t *p, const uint64_t *given, size_t nchunks, size_t allowed) {
  size_t group = 1;
  if (allowed == 0) allowed = 1;
  while (group < nchunks && ta_tier_interleave_runs(p, given, nchunks, group) > allowed) group *= 2;
  return group;
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
