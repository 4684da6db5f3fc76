/* arch_x86_64.c: x86-64 facts. Cache line and page sizes come from os.h at run time. */
#include "arch.h"

const char *ta_arch_profile_name(void) { return "x86-64"; }
