/* compiler.h: the few compiler hints every layer uses. */
#ifndef TA_COMPILER_H
#define TA_COMPILER_H

#define ta_likely(x) __builtin_expect(!!(x), 1)
#define ta_unlikely(x) __builtin_expect(!!(x), 0)
#define TA_INLINE static inline __attribute__((always_inline))
#define TA_NOINLINE __attribute__((noinline))
#define TA_COLD __attribute__((cold, noinline))
#define TA_EXPORT __attribute__((visibility("default")))
/* On declarations of data the fast path reads: hidden, so -fPIC code addresses it directly
 * rather than through the GOT (one load less; the AArch64 linker does not relax it). */
#define TA_HIDDEN __attribute__((visibility("hidden")))
#define TA_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#ifdef __cplusplus
#define TA_EXTERN_C_BEGIN extern "C" {
#define TA_EXTERN_C_END }
#else
#define TA_EXTERN_C_BEGIN
#define TA_EXTERN_C_END
#endif

#endif
