/* arch.h: what differs between processor architectures; the build picks arch_<arch>.c.
 *
 * Owns the CPU tuning profile (profile.h holds the rows, profile.c the pure selection) and the
 * processor facts read at start-up: MIDR_EL1 and the LSE atomics on AArch64, the cache line on
 * both. Everything is read without allocating, so it can run inside the first malloc. */
#ifndef TA_ARCH_H
#define TA_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "profile.h"

TA_EXTERN_C_BEGIN

/* Destructive-interference size used to pad contended state whose layout is fixed at compile
 * time (globals, structs). It covers every row of profile.h: 64-byte lines plus the pairing of
 * lines by x86's adjacent-line prefetcher, and the 128-byte lines of some Arm cores (the arm64
 * kernel's ARCH_DMA_MINALIGN). State laid out at run time may use the profile's contended_pad. */
#define TA_CACHE_LINE 128

/* One tuning profile: a row of profile.h, with the 0 ("read at run time") columns filled in
 * once the profile is in force (ta_arch_profile()). */
typedef struct {
  const char *name;
  unsigned isa;               /* TA_ARCH_ISA_* */
  uint32_t implementer, part; /* MIDR_EL1 fields it matches; 0/0 for the fallback row */
  uint32_t cache_line;        /* L1D line, bytes */
  uint32_t contended_pad;     /* bytes between independently written hot fields */
  uint32_t l1d_kib, l2_kib;   /* per core */
  uint32_t tcache_class_bytes;/* thread-cache budget per size class */
  uint32_t slab_bytes;        /* preferred small-object slab span */
  bool prefetch;              /* prefetch the next thread-cache object on pop */
  bool lse;                   /* the core has ARMv8.1 LSE atomics (a fact of the row) */
} ta_arch_profile_t;

enum {
#define TA_PROFILE_ENUM_(id, ...) TA_ARCH_PROFILE_##id,
  TA_ARCH_PROFILES(TA_PROFILE_ENUM_)
#undef TA_PROFILE_ENUM_
  TA_ARCH_PROFILE_COUNT
};

/* The rows of profile.h, in order (index = TA_ARCH_PROFILE_*). Pure data. */
extern const ta_arch_profile_t ta_arch_profiles[TA_ARCH_PROFILE_COUNT];

/* The row for a MIDR_EL1 value on `isa`: the row whose implementer and part match, else the
 * isa's fallback row (generic-armv8.0 on AArch64, x86-64 on x86-64). Pure. */
const ta_arch_profile_t *ta_arch_profile_for_midr(unsigned isa, uint64_t midr);

/* The row named `name` (NULL if none). Pure. */
const ta_arch_profile_t *ta_arch_profile_by_name(const char *name);

/* Start-up, after TIERALLOC_CONF is parsed: `choice` is the conf `profile` option (0 = auto,
 * i = row i-1 of profile.h). Auto picks the row for this CPU's MIDR (x86-64: the x86-64 row);
 * a row of another architecture is reported and ignored. Idempotent: the last call wins.
 * Returns 0, or EINVAL when the override was ignored. Never allocates. */
int ta_arch_init(unsigned choice);

/* The profile in force. Before ta_arch_init it is the auto choice (detected on first use). */
const ta_arch_profile_t *ta_arch_profile(void);

/* Name of the profile in force ("neoverse-n1", "generic-armv8.0", "x86-64", ...). */
const char *ta_arch_profile_name(void);

/* This CPU's MIDR_EL1 and where it came from ("mrs", "sysfs", "cpuinfo"); 0 and "none" where
 * there is none (x86-64, or no source could be read). */
uint64_t ta_arch_midr(const char **source);

/* Whether the read-modify-write atomics of atomic.h run as inline LSE instructions (AArch64 with
 * HWCAP_ATOMICS); false means LL/SC loops on AArch64 and the native instructions on x86-64. */
bool ta_arch_atomics_are_lse(void);

/* The contiguous-PTE block the MMU can map with one TLB entry for this base page size (arm64:
 * 64 KiB with 4 KiB pages, 2 MiB with 16 KiB and 64 KiB pages); 0 where the architecture has
 * none (x86-64). Pure. */
size_t ta_arch_contpte_size(size_t page_size);

/* Writes "profile=NAME midr=0x... (src) line=64 pad=64 l1d=64K l2=1024K tcache=32768 slab=65536
 * prefetch=1 lse=1 atomics=lse" into buf (for tools, logs and stats); returns the length it
 * needed, as snprintf. */
size_t ta_arch_describe(char *buf, size_t size);

static inline void ta_arch_spin_pause(void) {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

TA_EXTERN_C_END

#endif
