/* profile.h: the CPU tuning profiles, one row each, as data. docs/aarch64.md cites the source of
 * every value; change a value there and here together.
 *
 * A row is matched by MIDR_EL1 implementer and part number only (never variant or revision: an
 * r3p1 and an r4p1 N1 are the same core). The row order is the order of the `profile` choices
 * in TIERALLOC_CONF after "auto", because conf.def builds its choice string from this list.
 *
 * X(id, "name", arch, implementer, part, cache_line, contended_pad, l1d_kib, l2_kib,
 *   tcache_class_bytes, slab_bytes, prefetch, lse)
 *   arch           TA_ARCH_ISA_AARCH64 or TA_ARCH_ISA_X86_64: the row is only picked there
 *   implementer    MIDR[31:24]; 0 with part 0 marks the architecture's fallback row
 *   part           MIDR[15:4] (the kernel's cputype.h spells these ARM_CPU_PART_*)
 *   cache_line     L1D line in bytes (0: read at run time)
 *   contended_pad  bytes that separate independently written hot state (false sharing plus the
 *                  prefetcher's pairing of lines, where the core has one)
 *   l1d_kib/l2_kib private L1 data and L2 per core (0: read at run time)
 *   tcache_class_bytes  thread-cache budget per size class: L2/32, so the few classes a thread
 *                  cycles through keep their cached objects inside its L2 (0: derive at run time)
 *   slab_bytes     preferred span of a small-object slab: the L1D, so the objects a thread
 *                  carves out of a fresh slab are still in L1 when they are handed out
 *   prefetch       prefetch the next object of a thread-cache stack for write on a pop (wide
 *                  out-of-order cores: a free load slot; small in-order cores: no)
 *   lse            the core implements the ARMv8.1 Large System Extensions atomics. The atomics
 *                  themselves follow the kernel's HWCAP_ATOMICS, not this column, so a wrong
 *                  profile override can never cause SIGILL. */
#ifndef TA_PROFILE_H
#define TA_PROFILE_H

#define TA_ARCH_ISA_X86_64 1
#define TA_ARCH_ISA_AARCH64 2

#define TA_ARCH_PROFILES(X)                                                                      \
  X(GENERIC_ARMV8, "generic-armv8.0", TA_ARCH_ISA_AARCH64, 0x00, 0x000, 64, 128, 32, 512, 16384, \
    32768, false, false)                                                                         \
  X(NEOVERSE_N1, "neoverse-n1", TA_ARCH_ISA_AARCH64, 0x41, 0xd0c, 64, 64, 64, 1024, 32768,       \
    65536, true, true)                                                                           \
  X(NEOVERSE_V1, "neoverse-v1", TA_ARCH_ISA_AARCH64, 0x41, 0xd40, 64, 64, 64, 1024, 32768,       \
    65536, true, true)                                                                           \
  X(NEOVERSE_N2, "neoverse-n2", TA_ARCH_ISA_AARCH64, 0x41, 0xd49, 64, 64, 64, 1024, 32768,       \
    65536, true, true)                                                                           \
  X(NEOVERSE_V2, "neoverse-v2", TA_ARCH_ISA_AARCH64, 0x41, 0xd4f, 64, 64, 64, 1024, 32768,       \
    65536, true, true)                                                                           \
  X(NEOVERSE_V3, "neoverse-v3", TA_ARCH_ISA_AARCH64, 0x41, 0xd84, 64, 64, 64, 2048, 65536,       \
    65536, true, true)                                                                           \
  X(X86_64, "x86-64", TA_ARCH_ISA_X86_64, 0x00, 0x000, 0, 128, 0, 0, 0, 0, true, false)

/* "auto|generic-armv8.0|neoverse-n1|...": the `profile` option's choices (conf.def). */
#define TA_PROFILE_CHOICE_(id, name, ...) "|" name
#define TA_ARCH_PROFILE_CHOICES "auto" TA_ARCH_PROFILES(TA_PROFILE_CHOICE_)

#endif
