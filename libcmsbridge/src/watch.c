/* Change notification for adapters over a folder tree (vcard-dir,
 * docs-dir): one inotify fd watching the folder and the folders below it,
 * and a drain that says whether anything the adapter reads changed. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define WATCH_MASK                                                             \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE |    \
     IN_ATTRIB)

/* Watch the folders below path (as deep as the adapters' scans go). */
static void watch_tree(int fd, const char *path, int depth, int max_depth)
{
    DIR *d;
    struct dirent *de;

    if (depth >= max_depth)
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
            watch_tree(fd, sub, depth + 1, max_depth);
    }
    closedir(d);
}

int cmsb__watch_open(const char *root, int max_depth, int *fd)
{
    int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

    *fd = -1;
    if (ino < 0)
        return CMSB_EIO;
    if (inotify_add_watch(ino, root, WATCH_MASK) < 0) {
        close(ino);
        return CMSB_EIO;
    }
    watch_tree(ino, root, 0, max_depth);
    *fd = ino;
    return CMSB_OK;
}

int cmsb__watch_drain(int fd, int (*relevant)(const char *name))
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    int hit = 0;

    if (fd < 0)
        return CMSB_EINVAL;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            const char *name = ev->len > 0 ? ev->name : "";
            /* writers' temp files start with '.' */
            if (name[0] != '.' && relevant(name))
                hit = 1;
            if (ev->mask & IN_Q_OVERFLOW)
                hit = 1;
            /* a folder that comes or goes may hold files: resync (a new
             * folder gets its own watch when the fd is made again; the
             * sync reads it anyway) */
            if ((ev->mask & IN_ISDIR) && name[0] != '.')
                hit = 1;
            p += sizeof(struct inotify_event) + ev->len;
        }
    }
    return hit;
}
