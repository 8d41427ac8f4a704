/* vcard-dir: change notification through inotify on the folder tree. */
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "vcard_dir.h"

/* Only our file types. */
static int vcard_file(const char *name)
{
    const char *dot = strrchr(name, '.');

    return dot != NULL &&
           (strcasecmp(dot, ".vcf") == 0 || strcasecmp(dot, ".vcard") == 0 ||
            strcasecmp(dot, ".ics") == 0 || strcasecmp(dot, ".ical") == 0);
}

int vcd_watch_fd(cmsb_source *base, int *fd)
{
    vcd_source *s = (vcd_source *)base;

    if (s->ino_fd < 0) {
        /* the scan goes 8 folders deep */
        int rc = cmsb__watch_open(s->root, 8, &s->ino_fd);
        if (rc != CMSB_OK)
            return rc;
    }
    *fd = s->ino_fd;
    return CMSB_OK;
}

int vcd_watch_drain(cmsb_source *base)
{
    return cmsb__watch_drain(((vcd_source *)base)->ino_fd, vcard_file);
}
