/* The vcard-dir source struct, shared by its files. */
#ifndef CMSB_VCARD_DIR_H
#define CMSB_VCARD_DIR_H

#include "vcard.h"

typedef struct vcd_source {
    cmsb_source base; /* first: the core hands this out */
    char *root;       /* the folder, no trailing '/' */
    vc_conf conf;
    int ino_fd; /* inotify, -1 until asked for */
    vc_buf cur; /* cursor text, kept to reuse its memory */
} vcd_source;

int vcd_full_path(const vcd_source *s, const char *rel, char *buf, size_t len);

typedef int (*vcd_event_fn)(void *arg, const tsps_event *ev,
                            const char *organizer);
/* Every event instance of every .ics file overlapping [from, to). */
int vcd_each_event(vcd_source *s, int64_t from, int64_t to, vcd_event_fn cb,
                   void *arg);

/* vcard_backref.c: write-back and related items */
int vcd_write_code(cmsb_source *base, const char *uid, const char *code);
int vcd_related(cmsb_source *base, const char *uid, const cmsb_criteria *crit,
                cmsb_item_cb cb, void *arg);

/* vcard_create.c: a new contact as a new file (CMSB_CAP_CREATE) */
int vcd_create_contact(cmsb_source *base, const tsps_contact *c,
                       const char *code, char *uid_out);

/* vcard_watch.c: inotify */
int vcd_watch_fd(cmsb_source *base, int *fd);
int vcd_watch_drain(cmsb_source *base);

#endif
