/* libcmsbridge internals shared by the core files (not installed). */
#ifndef CMSB_INTERNAL_H
#define CMSB_INTERNAL_H

#include <cmsb/adapter.h>

/* The built-in adapters registered by cmsb_registry_open() are declared
 * in <cmsb/adapter.h> (cmsb_vcard_dir_adapter). */

#endif
