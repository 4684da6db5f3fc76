/* arch.h: what differs between processor architectures; the build picks arch_<arch>.c. */
#ifndef TA_ARCH_H
#define TA_ARCH_H

#include <stddef.h>

#include "compiler.h"

TA_EXTERN_C_BEGIN

/* Destructive-interference size used to pad contended state. */
#define TA_CACHE_LINE 128

/* Name of the CPU tuning profile picked for this processor ("x86-64", "generic-armv8.0", ...). */
const char *ta_arch_profile_name(void);

static inline void ta_arch_spin_pause(void) {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

TA_EXTERN_C_END

#endif
