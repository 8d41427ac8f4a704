/* vcard-dir: change notification through inotify on the folder tree. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vcard_dir.h"

#define WATCH_MASK                                                             \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE |    \
     IN_ATTRIB)

/* Watch a folder and the folders below it (the scan goes as deep). */
static void watch_tree(int fd, const char *path, int depth)
{
    DIR *d;
    struct dirent *de;

    if (depth >= 8)
        return;
    d = opendir(path);
    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        char sub[4096];
        struct stat sb;
        if (de->d_name[0] == '.' ||
            (size_t)snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >=
                sizeof(sub) ||
            stat(sub, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        if (inotify_add_watch(fd, sub, WATCH_MASK) >= 0)
            watch_tree(fd, sub, depth + 1);
    }
    closedir(d);
}

int vcd_watch_fd(cmsb_source *base, int *fd)
{
    vcd_source *s = (vcd_source *)base;

    if (s->ino_fd < 0) {
        s->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (s->ino_fd < 0)
            return CMSB_EIO;
        if (inotify_add_watch(s->ino_fd, s->root, WATCH_MASK) < 0) {
            close(s->ino_fd);
            s->ino_fd = -1;
            return CMSB_EIO;
        }
        watch_tree(s->ino_fd, s->root, 0);
    }
    *fd = s->ino_fd;
    return CMSB_OK;
}

int vcd_watch_drain(cmsb_source *base)
{
    vcd_source *s = (vcd_source *)base;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    int hit = 0;

    if (s->ino_fd < 0)
        return CMSB_EINVAL;
    for (;;) {
        ssize_t n = read(s->ino_fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            const char *name = ev->len > 0 ? ev->name : "";
            const char *dot = strrchr(name, '.');
            /* writers' temp files start with '.'; only our file types */
            if (name[0] != '.' && dot != NULL &&
                (strcasecmp(dot, ".vcf") == 0 ||
                 strcasecmp(dot, ".vcard") == 0 ||
                 strcasecmp(dot, ".ics") == 0 || strcasecmp(dot, ".ical") == 0))
                hit = 1;
            if (ev->mask & IN_Q_OVERFLOW)
                hit = 1;
            /* a new folder may already hold files: resync (its own watch
             * comes when the fd is made again; sync reads it anyway) */
            if ((ev->mask & IN_ISDIR) &&
                (ev->mask & (IN_CREATE | IN_MOVED_TO)) && name[0] != '.')
                hit = 1;
            p += sizeof(struct inotify_event) + ev->len;
        }
    }
    return hit;
}
