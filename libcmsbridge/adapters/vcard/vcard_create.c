/* vcard-dir: a new contact as a new file `<folder>/<uid>.vcf`, written
 * atomically: a temp file in the folder (a dot name the scan ignores),
 * fsync, then a hard link to the final name, which fails rather than
 * replace a file that is already there; the folder is fsynced so the new
 * name survives a crash. The next sync (or the inotify watch) reads it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vcard_dir.h"

#define CREATE_ATTEMPTS 3 /* new uids tried when the name is taken */

static int write_new(const vcd_source *s, const char *path, const vc_buf *data)
{
    char tmp[4200];
    size_t off = 0;
    int fd, dfd;

    snprintf(tmp, sizeof(tmp), "%s/.new.tsps-XXXXXX", s->root);
    fd = mkstemp(tmp);
    if (fd < 0)
        return CMSB_EIO;
    while (off < data->len) {
        ssize_t n = write(fd, data->p + off, data->len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    /* mkstemp makes 0600: a contact file is as readable as its folder's
     * other files would be by default */
    if (off != data->len || fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
        close(fd);
        unlink(tmp);
        return CMSB_EIO;
    }
    close(fd);
    if (link(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return e == EEXIST ? CMSB_ECONFLICT : CMSB_EIO;
    }
    unlink(tmp);
    dfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return CMSB_OK;
}

int vcd_create_contact(cmsb_source *base, const tsps_contact *c,
                       const char *code, char *uid_out)
{
    vcd_source *s = (vcd_source *)base;
    char uid[64], path[4200];
    vc_buf card = {0};
    int rc = CMSB_ECONFLICT;

    for (int i = 0; i < CREATE_ATTEMPTS && rc == CMSB_ECONFLICT; i++) {
        rc = vc_new_uid(uid, sizeof(uid));
        if (rc == CMSB_OK)
            rc = vc_new_card(&s->conf, c, uid, code, &card);
        if (rc == CMSB_OK && snprintf(path, sizeof(path), "%s/%s.vcf", s->root,
                                      uid) >= (int)sizeof(path))
            rc = CMSB_EINVAL;
        if (rc == CMSB_OK)
            rc = write_new(s, path, &card);
    }
    if (rc == CMSB_OK) {
        snprintf(uid_out, TSPS_UID_MAX, "%s", uid);
        cmsb_source_log(base, TSPS_LOG_INFO,
                        "msg=\"contact created\" file=\"%s.vcf\" code=%s", uid,
                        code[0] ? code : "-");
    } else {
        cmsb_source_log(base, TSPS_LOG_WARN,
                        "msg=\"could not create contact\" folder=\"%s\" "
                        "err=%s",
                        s->root, cmsb_errname(rc));
    }
    vc_buf_free(&card);
    return rc;
}
