/* libcmsbridge internals shared by the core files (not installed). */
#ifndef CMSB_INTERNAL_H
#define CMSB_INTERNAL_H

#include <cmsb/adapter.h>

/* The built-in adapters registered by cmsb_registry_open() are declared
 * in <cmsb/adapter.h> (cmsb_vcard_dir_adapter). */

/* Folder-tree change notification (watch.c), for adapters over folders.
 * cmsb__watch_open: an inotify fd (non-blocking, close-on-exec) watching
 * root and its folders down to max_depth; CMSB_EIO if root can't be
 * watched. cmsb__watch_drain: reads every pending event; 1 if a file for
 * which relevant(name) says so, a folder, or an overflow was seen, else 0;
 * CMSB_EINVAL for a closed fd. */
int cmsb__watch_open(const char *root, int max_depth, int *fd);
int cmsb__watch_drain(int fd, int (*relevant)(const char *name));

#endif
