/* ds.h: layer L1 data structures, the umbrella header. */
#ifndef TA_DS_H
#define TA_DS_H

#include "bitmap.h"
#include "list.h"

#endif
