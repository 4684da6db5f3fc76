/* page.h: layer L4, pages and extents, the umbrella header. */
#ifndef TA_PAGE_H
#define TA_PAGE_H

#include "decay.h"
#include "extent.h"
#include "hpa.h"
#include "large.h"
#include "meta.h"
#include "pagemap.h"

#endif
