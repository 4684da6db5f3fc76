/* platform.h: layer L0, the umbrella header. Higher layers include only this. */
#ifndef TA_PLATFORM_H
#define TA_PLATFORM_H

#include "arch.h"
#include "atomic.h"
#include "compiler.h"
#include "lock.h"
#include "log.h"
#include "os.h"

#endif
