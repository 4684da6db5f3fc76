/* arch_impl.h: what each arch_<arch>.c provides to profile.c. Private to the platform layer
 * (platform.h does not include it); tests include it to reach the pure parsers. */
#ifndef TA_ARCH_IMPL_H
#define TA_ARCH_IMPL_H

#include "arch.h"

TA_EXTERN_C_BEGIN

/* TA_ARCH_ISA_* of the build. */
unsigned ta_arch_impl_isa(void);

/* Reads this CPU's MIDR_EL1 (0 and "none" where there is none) and the LSE hardware capability,
 * without allocating. */
uint64_t ta_arch_impl_read_midr(const char **source);

/* Fills the columns of a row that are 0 ("read at run time") from the running machine. */
void ta_arch_impl_fill_runtime(ta_arch_profile_t *p);

/* Pure parsers, shared by both builds so that the x86-64 unit tests cover them:
 * the MIDR from sysfs regs/identification/midr_el1 text ("0x00000000413fd0c1\n"), and from
 * /proc/cpuinfo text (the first "CPU implementer", "CPU variant", "CPU part" and "CPU revision"
 * lines). 0 when the text has none. */
uint64_t ta_arch_midr_from_sysfs(const char *text);
uint64_t ta_arch_midr_from_cpuinfo(const char *text);

TA_EXTERN_C_END

#endif
