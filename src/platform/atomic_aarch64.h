/* atomic_aarch64.h: the read-modify-write atomics of atomic.h on AArch64 (C only), inline LSE
 * behind a run-time switch. Included by atomic.h; nothing else includes it.
 *
 * Why: ARMv8.0 cores (Cortex-A72, Graviton1) have no LSE and die of SIGILL on them; Neoverse
 * cores have them, and under contention an LSE atomic is done at the cache (far atomics) where an
 * LL/SC loop retries. gcc's -moutline-atomics covers both with a call to a libgcc helper per
 * atomic. Here each operation is `if (ta_arch_lse_inline) <one LSE instruction> else <LL/SC loop>`,
 * both inline: one load of a read-mostly byte and a predictable branch, no call. The flag
 * starts false (LL/SC is right everywhere) and is set from HWCAP_ATOMICS (arch_aarch64.c).
 * The library is built with -mno-outline-atomics so the else branch is the inline loop.
 * Built with a -march/-mcpu that has LSE (__ARM_FEATURE_ATOMICS), atomic.h skips this file and
 * the compiler emits LSE directly.
 *
 * Ordering: a relaxed operation uses the plain instruction; every other order uses the
 * acquire+release form (LDADDAL, SWPAL, CASAL), which is what gcc emits for seq_cst and is at
 * least as strong as acquire or release alone. Operands of 4 and 8 bytes (integers, pointers). */
#ifndef TA_ATOMIC_AARCH64_H
#define TA_ATOMIC_AARCH64_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

extern bool ta_arch_lse_inline __attribute__((visibility("hidden")));

#define TA_LSE_OP_(insn, size, ordered, p, v, r)                                                   \
  do {                                                                                             \
    if ((size) == 8) {                                                                             \
      uint64_t r8_;                                                                                \
      if (ordered)                                                                                 \
        __asm__ __volatile__(".arch_extension lse\n\t" insn "al %x2, %x0, %1"                      \
                             : "=&r"(r8_), "+Q"(*(volatile uint64_t *)(p))                         \
                             : "r"((uint64_t)(v))                                                  \
                             : "memory");                                                          \
      else                                                                                         \
        __asm__ __volatile__(".arch_extension lse\n\t" insn " %x2, %x0, %1"                        \
                             : "=&r"(r8_), "+Q"(*(volatile uint64_t *)(p))                         \
                             : "r"((uint64_t)(v))                                                  \
                             : "memory");                                                          \
      (r) = r8_;                                                                                   \
    } else {                                                                                       \
      uint32_t r4_;                                                                                \
      if (ordered)                                                                                 \
        __asm__ __volatile__(".arch_extension lse\n\t" insn "al %w2, %w0, %1"                      \
                             : "=&r"(r4_), "+Q"(*(volatile uint32_t *)(p))                         \
                             : "r"((uint32_t)(v))                                                  \
                             : "memory");                                                          \
      else                                                                                         \
        __asm__ __volatile__(".arch_extension lse\n\t" insn " %w2, %w0, %1"                        \
                             : "=&r"(r4_), "+Q"(*(volatile uint32_t *)(p))                         \
                             : "r"((uint32_t)(v))                                                  \
                             : "memory");                                                          \
      (r) = r4_;                                                                                   \
    }                                                                                              \
  } while (0)

static inline __attribute__((always_inline)) uint64_t ta_lse_ldadd(volatile void *p, uint64_t v,
                                                                   unsigned size, bool ordered) {
  uint64_t r;
  TA_LSE_OP_("ldadd", size, ordered, p, v, r);
  return r;
}

static inline __attribute__((always_inline)) uint64_t ta_lse_swp(volatile void *p, uint64_t v,
                                                                 unsigned size, bool ordered) {
  uint64_t r;
  TA_LSE_OP_("swp", size, ordered, p, v, r);
  return r;
}

/* CASAL: *expected holds the bits compared against; on failure it gets the bits seen. */
static inline __attribute__((always_inline)) bool ta_lse_cas(volatile void *p, uint64_t *expected,
                                                             uint64_t desired, unsigned size) {
  if (size == 8) {
    uint64_t seen = *expected;
    __asm__ __volatile__(".arch_extension lse\n\tcasal %x0, %x2, %1"
                         : "+&r"(seen), "+Q"(*(volatile uint64_t *)p)
                         : "r"(desired)
                         : "memory");
    bool ok = seen == *expected;
    *expected = seen;
    return ok;
  }
  uint32_t want = (uint32_t)*expected, seen = want;
  __asm__ __volatile__(".arch_extension lse\n\tcasal %w0, %w2, %1"
                       : "+&r"(seen), "+Q"(*(volatile uint32_t *)p)
                       : "r"((uint32_t)desired)
                       : "memory");
  *expected = seen;
  return seen == want;
}

/* The value type of an atomic lvalue *p, without _Atomic (the comma drops the qualifier, as
 * gcc's own stdatomic.h does). Conversions go through uintptr_t so that pointers and integers
 * of either size convert without warnings. */
#define TA_LSE_T_(p) __typeof__((void)0, *(p))
#define TA_LSE_BITS_(x) ((uint64_t)(uintptr_t)(x))

#define ta_lse_fetch_add_(p, v, mo, neg)                                                           \
  __extension__({                                                                                  \
    __auto_type lp_ = (p);                                                                         \
    TA_LSE_T_(lp_) lv_ = (v), lr_;                                                                 \
    if (__builtin_expect(ta_arch_lse_inline, 1)) {                                                 \
      uint64_t bits_ = TA_LSE_BITS_(lv_);                                                          \
      lr_ = (TA_LSE_T_(lp_))(uintptr_t)ta_lse_ldadd((volatile void *)lp_, (neg) ? -bits_ : bits_, sizeof(*lp_),     \
                                                   (mo) != memory_order_relaxed);                  \
    } else {                                                                                       \
      lr_ = (neg) ? atomic_fetch_sub_explicit(lp_, lv_, mo) : atomic_fetch_add_explicit(lp_, lv_, mo); \
    }                                                                                              \
    lr_;                                                                                           \
  })

#define ta_lse_exchange_(p, v, mo)                                                                 \
  __extension__({                                                                                  \
    __auto_type lp_ = (p);                                                                         \
    TA_LSE_T_(lp_) lv_ = (v), lr_;                                                                 \
    if (__builtin_expect(ta_arch_lse_inline, 1))                                                   \
      lr_ = (TA_LSE_T_(lp_))(uintptr_t)ta_lse_swp((volatile void *)lp_, TA_LSE_BITS_(lv_), sizeof(*lp_),            \
                                                 (mo) != memory_order_relaxed);                    \
    else                                                                                           \
      lr_ = atomic_exchange_explicit(lp_, lv_, mo);                                                \
    lr_;                                                                                           \
  })

#define ta_lse_cas_(p, expected, desired)                                                          \
  __extension__({                                                                                  \
    __auto_type lp_ = (p);                                                                         \
    __auto_type le_ = (expected);                                                                  \
    TA_LSE_T_(lp_) ld_ = (desired);                                                                \
    bool lok_;                                                                                     \
    if (__builtin_expect(ta_arch_lse_inline, 1)) {                                                 \
      uint64_t bits_ = TA_LSE_BITS_(*le_);                                                         \
      lok_ = ta_lse_cas((volatile void *)lp_, &bits_, TA_LSE_BITS_(ld_), sizeof(*lp_));                             \
      if (!lok_) *le_ = (TA_LSE_T_(lp_))(uintptr_t)bits_;                                          \
    } else {                                                                                       \
      lok_ = atomic_compare_exchange_strong(lp_, le_, ld_);                                        \
    }                                                                                              \
    lok_;                                                                                          \
  })

#endif
