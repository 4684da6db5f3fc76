/* arch_aarch64.c: AArch64 facts. Neoverse profile selection by MIDR part lands with the AArch64
 * issue; until then every Arm core runs the generic ARMv8.0 profile. */
#include "arch.h"

const char *ta_arch_profile_name(void) { return "generic-armv8.0"; }
