/* os_linux_access.h: the Linux access signals (os_linux_access.c), wired into
 * ta_os_linux_ops by os_linux.c; everyone else calls them through ta_os_access_*. */
#ifndef TA_OS_LINUX_ACCESS_H
#define TA_OS_LINUX_ACCESS_H

#include <stdint.h>

int ta_os_linux_access_open(int want);
int ta_os_linux_access_sample(void *const *pages, unsigned n, int8_t *state);
int ta_os_linux_access_rearm(void);
int ta_os_linux_access_watch(const ta_os_range_t *ranges, unsigned n);

#endif
