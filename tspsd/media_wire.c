/*
 * media_wire.c - the media front as a call front of tspsd (media_wire.h):
 * its host operations over the core, and the key that signs the tokens of
 * the 302 towards it.
 */
#include "media_wire.h"

#include "callfront.h"
#include "daemon.h"
#include "log.h"
#include "media/media_front.h"
#include "sip/sip_front.h"
#include "pool.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KEY_LEN 32

/* A voicemail event on its way from a storage thread (or a worker) to the
 * loop, where listeners live. */
typedef struct vm_note {
    char kind[24], change[12], user[64];
    tspsd_vm_msg m;
    unsigned nnew, nold;
    struct vm_note *next;
} vm_note;

struct tspsd_media_wire {
    tspsd *d;
    tspsd_media_front *mf;
    unsigned char key[KEY_LEN];
    char addr[64];
    uint16_t port;
    pthread_mutex_t qlock; /* notes */
    vm_note *notes, **tail;
    struct event *wake; /* on the loop: publish the notes */
};

/* The inbox is reached from workers (voicemail.get/act) while the front
 * may be stopping on the loop: hooks hold this lock for reading and find
 * the front here; media_stop takes it for writing and clears it before it
 * frees the front. Process state of the app (docs/style.md §1). */
static pthread_rwlock_t inbox_lock = PTHREAD_RWLOCK_INITIALIZER;
static tspsd_media_front *inbox_mf;

/* ---- the token key: made once, kept in the data folder, 0600 ---- */

static int read_all(int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static int load_key(const char *path, unsigned char *key)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        struct stat sb;
        int rc = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
                         sb.st_size == KEY_LEN &&
                         read_all(fd, key, KEY_LEN) == 0
                     ? 0
                     : -1;
        if (rc == 0 && (sb.st_mode & 077) != 0) {
            tspsd_log(TSPSD_LOG_WARN, 0, NULL,
                      "media token key readable by others: made 0600",
                      "path=%s", path);
            if (fchmod(fd, 0600) != 0)
                rc = -1;
        }
        close(fd);
        if (rc != 0)
            tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "media token key unusable",
                      "path=%s hint=\"remove it; tspsd makes a new one (calls "
                      "redirected in the last minutes then get 403)\"",
                      path);
        return rc;
    }
    if (errno != ENOENT) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "cannot open media token key",
                  "path=%s error=\"%s\"", path, strerror(errno));
        return -1;
    }
    if (RAND_bytes(key, KEY_LEN) != 1)
        return -1;
    char tmp[TSPSD_PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, key, KEY_LEN) != KEY_LEN || fsync(fd) != 0 ||
        close(fd) != 0 || rename(tmp, path) != 0) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "cannot write media token key",
                  "path=%s error=\"%s\"", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        return -1;
    }
    tspsd_log(TSPSD_LOG_INFO, 0, NULL, "media token key created", "path=%s",
              path);
    return 0;
}

/* ---- tokens ---- */

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int unhex(const char *s, size_t n, unsigned char *out)
{
    if (n % 2 != 0)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int v = 0;
        for (int j = 0; j < 2; j++) {
            char c = s[2 * i + (size_t)j];
            int x = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                           : -1;
            if (x < 0)
                return -1;
            v = v * 16 + x;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

/* A field of the payload: `|` (the separator) becomes a space. */
static size_t put_field(char *p, size_t room, const char *v)
{
    size_t n = 0;
    for (; v != NULL && *v != '\0' && n + 1 < room; v++)
        p[n++] = *v == '|' ? ' ' : *v;
    p[n] = '\0';
    return n;
}

int tspsd_media_wire_token(tspsd *d, const char *user, const char *caller,
                           const char *contact, const char *code,
                           uint64_t history_id, const char *language,
                           int64_t now, char *buf, size_t len)
{
    struct tspsd_media_wire *w = d->media;
    char payload[512], hid[24];
    const char *fields[6] = {user, caller, contact, code, hid, language};
    size_t n = 0;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;

    if (w == NULL)
        return -1;
    snprintf(hid, sizeof(hid), "%" PRIu64, history_id);
    for (int i = 0; i < 6; i++) {
        n += put_field(payload + n, sizeof(payload) - n, fields[i]);
        if (n + 1 >= sizeof(payload))
            return -1;
        payload[n++] = '|';
    }
    int r = snprintf(payload + n, sizeof(payload) - n, "%lld",
                     (long long)(now + TSPSD_MEDIA_TOKEN_TTL_S));
    if (r < 0 || (size_t)r >= sizeof(payload) - n)
        return -1;
    n += (size_t)r;
    if (len < 2 * n + 1 + 64 + 1)
        return -1;
    HMAC(EVP_sha256(), w->key, KEY_LEN, (unsigned char *)payload, n, mac,
         &maclen);
    if (maclen != 32)
        return -1;
    hex((unsigned char *)payload, n, buf);
    buf[2 * n] = '.';
    hex(mac, 32, buf + 2 * n + 1);
    return (int)(2 * n + 1 + 64);
}

int tspsd_media_wire_uri(tspsd *d, int ivr, const char *token, char *buf,
                         size_t len)
{
    struct tspsd_media_wire *w = d->media;
    if (w == NULL)
        return -1;
    int r = snprintf(buf, len, "sip:%s.%s@%s:%u", ivr ? "ivr" : "vm", token,
                     w->addr, (unsigned)w->port);
    return r < 0 || (size_t)r >= len ? -1 : r;
}

/* ---- the host operations ---- */

struct tspsd_media_front *tspsd_media_wire_front(tspsd *d)
{
    return d->media != NULL ? d->media->mf : NULL;
}

static int host_verify(void *ctx, const char *token, tspsd_media_call_info *out)
{
    struct tspsd_media_wire *w = ctx;
    const char *dot = strchr(token, '.');
    unsigned char payload[513], mac[32], want[EVP_MAX_MD_SIZE];
    unsigned int wantlen = 0;
    char *fields[7], *save, *p;
    int nf = 0;

    if (dot == NULL || strlen(dot + 1) != 64 ||
        (size_t)(dot - token) / 2 >= sizeof(payload) ||
        unhex(token, (size_t)(dot - token), payload) != 0 ||
        unhex(dot + 1, 64, mac) != 0)
        return -1;
    size_t plen = (size_t)(dot - token) / 2;
    HMAC(EVP_sha256(), w->key, KEY_LEN, payload, plen, want, &wantlen);
    if (wantlen != 32 || CRYPTO_memcmp(mac, want, 32) != 0)
        return -1;
    payload[plen] = '\0';
    save = (char *)payload;
    while (nf < 7 && (p = strsep(&save, "|")) != NULL)
        fields[nf++] = p;
    if (nf != 7 || save != NULL || fields[0][0] == '\0' ||
        strtoll(fields[6], NULL, 10) < (long long)time(NULL))
        return -1;
    snprintf(out->user, sizeof(out->user), "%s", fields[0]);
    snprintf(out->caller, sizeof(out->caller), "%s", fields[1]);
    snprintf(out->contact, sizeof(out->contact), "%s", fields[2]);
    snprintf(out->code, sizeof(out->code), "%s", fields[3]);
    snprintf(out->history_id, sizeof(out->history_id), "%s", fields[4]);
    snprintf(out->language, sizeof(out->language), "%s", fields[5]);
    return 0;
}

/* A plain string field of the front's JSON ("id", "code", "history_id":
 * made by the front, no escapes) into out; "" when absent. */
static void json_field(const char *json, const char *name, char *out,
                       size_t len)
{
    char key[40];
    snprintf(key, sizeof(key), "\"%s\":\"", name);
    const char *p = strstr(json, key);
    size_t n = 0;
    if (p != NULL)
        for (p += strlen(key); *p != '\0' && *p != '"' && n + 1 < len; p++)
            out[n++] = isalnum((unsigned char)*p) || *p == '-' ? *p : '_';
    out[n] = '\0';
}

static void copy_msg(tspsd_vm_msg *o, const tspsd_media_message *m)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->id, sizeof(o->id), "%s", m->id);
    snprintf(o->caller, sizeof(o->caller), "%s", m->caller);
    snprintf(o->contact, sizeof(o->contact), "%s", m->contact);
    snprintf(o->code, sizeof(o->code), "%s", m->code);
    snprintf(o->history_id, sizeof(o->history_id), "%s", m->history_id);
    o->time = m->time;
    o->duration_ms = m->duration_ms;
    o->heard = m->heard;
}

/* The stored message `id` of `user` (the front's events carry only plain
 * fields, not the contact's name). 0 found, -1 not (deleted). */
static int find_msg(tspsd_media_front *mf, const char *user, const char *id,
                    tspsd_vm_msg *out)
{
    size_t cap = 128, n = 0;
    tspsd_media_message *v = NULL;
    int rc = TSPSD_MEDIA_ENOBUFS, found = -1;

    for (int tries = 0; tries < 3 && rc == TSPSD_MEDIA_ENOBUFS; tries++) {
        tspsd_media_message *nv = realloc(v, cap * sizeof(*v));
        if (nv == NULL)
            break;
        v = nv;
        rc = tspsd_media_inbox_list(mf, user, v, cap, &n);
        cap = n + 16;
    }
    for (size_t i = 0; rc == TSPSD_MEDIA_OK && i < n; i++) {
        if (strcmp(v[i].id, id) == 0) {
            copy_msg(out, &v[i]);
            found = 0;
            break;
        }
    }
    free(v);
    return found;
}

/* On the loop: hand the queued notes to every listener. */
static void publish_notes(evutil_socket_t fd, short what, void *arg)
{
    struct tspsd_media_wire *w = arg;
    vm_note *list;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&w->qlock);
    list = w->notes;
    w->notes = NULL;
    w->tail = &w->notes;
    pthread_mutex_unlock(&w->qlock);
    while (list != NULL) {
        vm_note *n = list;
        list = n->next;
        tspsd_events_publish_voicemail(w->d, n->kind, n->user, &n->m, n->change,
                                       n->nnew, n->nold);
        /* phones that subscribed to the lamp (SUBSCRIBE message-summary) */
        tspsd_sip_mwi_changed(w->d->sip, n->user);
        free(n);
    }
}

/* Storage threads (a new message) or the thread of an inbox hook (heard,
 * deleted): the event is logged with the message's id, handling code and
 * history id (not the caller's number or name), and queued for the loop,
 * which publishes it as "voicemail.new" or "voicemail.changed" with the
 * mailbox's counts. */
static void host_publish(void *ctx, const char *kind, const char *user,
                         const char *json)
{
    struct tspsd_media_wire *w = ctx;
    char id[40], code[40], hist[40];
    unsigned nnew = 0, nold = 0;
    vm_note *n;

    json_field(json, "id", id, sizeof(id));
    json_field(json, "code", code, sizeof(code));
    json_field(json, "history_id", hist, sizeof(hist));
    (void)tspsd_media_inbox_count(w->mf, user, &nnew, &nold);
    tspsd_log(TSPSD_LOG_INFO, 0, user, "voicemail event",
              "kind=%s id=%s code=%s history=%s new=%u old=%u", kind, id, code,
              hist, nnew, nold);
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return;
    const char *change = strcmp(kind, "voicemail.new") == 0     ? "new"
                         : strcmp(kind, "voicemail.heard") == 0 ? "heard"
                                                                : "deleted";
    snprintf(n->kind, sizeof(n->kind), "%s",
             change[0] == 'n' ? "voicemail.new" : "voicemail.changed");
    snprintf(n->change, sizeof(n->change), "%s", change);
    snprintf(n->user, sizeof(n->user), "%s", user);
    if (find_msg(w->mf, user, id, &n->m) != 0) {
        /* deleted: only its id (and the code when the front said it) */
        snprintf(n->m.id, sizeof(n->m.id), "%s", id);
        snprintf(n->m.code, sizeof(n->m.code), "%s", code);
    }
    n->nnew = nnew;
    n->nold = nold;
    pthread_mutex_lock(&w->qlock);
    *w->tail = n;
    w->tail = &n->next;
    pthread_mutex_unlock(&w->qlock);
    event_active(w->wake, EV_READ, 0);
}

/* ---- the inbox seam (callfront.h) over the front's inbox API ---- */

static int media_code(int rc)
{
    switch (rc) {
    case TSPSD_MEDIA_OK:
        return TSPS_OK;
    case TSPSD_MEDIA_ENOTFOUND:
        return TSPS_ENOTFOUND;
    case TSPSD_MEDIA_EINVAL:
        return TSPS_EINVAL;
    case TSPSD_MEDIA_ENOMEM:
        return TSPS_ENOMEM;
    case TSPSD_MEDIA_ENOBUFS:
        return TSPS_ENOBUFS;
    case TSPSD_MEDIA_ESTATE:
        return TSPS_ESTATE;
    default:
        return TSPS_ESTORE;
    }
}

static int inbox_list(void *arg, const char *user, tspsd_vm_msg *msgs,
                      size_t max, size_t *n)
{
    tspsd_media_message *v = max > 0 ? calloc(max, sizeof(*v)) : NULL;
    int rc = TSPSD_MEDIA_ESTATE;
    (void)arg;
    *n = 0;
    if (max > 0 && v == NULL)
        return TSPS_ENOMEM;
    pthread_rwlock_rdlock(&inbox_lock);
    if (inbox_mf != NULL)
        rc = tspsd_media_inbox_list(inbox_mf, user, v, max, n);
    pthread_rwlock_unlock(&inbox_lock);
    for (size_t i = 0; i < *n && i < max; i++)
        copy_msg(&msgs[i], &v[i]);
    free(v);
    return media_code(rc);
}

static int inbox_open(void *arg, const char *user, const char *id, int *fd)
{
    int rc = TSPSD_MEDIA_ESTATE;
    (void)arg;
    *fd = -1;
    pthread_rwlock_rdlock(&inbox_lock);
    if (inbox_mf != NULL)
        rc = tspsd_media_inbox_open(inbox_mf, user, id, fd);
    pthread_rwlock_unlock(&inbox_lock);
    return media_code(rc);
}

static int inbox_change(const char *user, const char *id, int del)
{
    int rc = TSPSD_MEDIA_ESTATE;
    pthread_rwlock_rdlock(&inbox_lock);
    if (inbox_mf != NULL)
        rc = del ? tspsd_media_inbox_delete(inbox_mf, user, id)
                 : tspsd_media_inbox_mark_heard(inbox_mf, user, id);
    pthread_rwlock_unlock(&inbox_lock);
    return media_code(rc);
}

static int inbox_heard(void *arg, const char *user, const char *id)
{
    (void)arg;
    return inbox_change(user, id, 0);
}

static int inbox_remove(void *arg, const char *user, const char *id)
{
    (void)arg;
    return inbox_change(user, id, 1);
}

static int inbox_count(void *arg, const char *user, unsigned *nnew,
                       unsigned *nold)
{
    int rc = TSPSD_MEDIA_ESTATE;
    (void)arg;
    *nnew = *nold = 0;
    pthread_rwlock_rdlock(&inbox_lock);
    if (inbox_mf != NULL)
        rc = tspsd_media_inbox_count(inbox_mf, user, nnew, nold);
    pthread_rwlock_unlock(&inbox_lock);
    return media_code(rc);
}

static const tspsd_inbox_ops inbox_ops = {inbox_list, inbox_open, inbox_heard,
                                          inbox_remove, inbox_count};

typedef struct dev_walk {
    void (*cb)(void *, const char *);
    void *arg;
} dev_walk;

static int one_device(void *arg, const tsps_registration *r)
{
    dev_walk *dw = arg;
    if (r->contact[0] != '\0')
        dw->cb(dw->arg, r->contact);
    return 0;
}

static int host_devices(void *ctx, const char *user,
                        void (*cb)(void *cb_arg, const char *uri), void *arg)
{
    struct tspsd_media_wire *w = ctx;
    dev_walk dw = {cb, arg};
    int rc = tsps_registration_list(w->d->eng, user, (int64_t)time(NULL),
                                    one_device, &dw);
    return rc == TSPS_OK || rc == TSPS_ENOTFOUND ? 0 : -1;
}

static void host_log(void *ctx, int level, const char *line)
{
    (void)ctx;
    tspsd_log_fragment(level, line);
}

/* ---- IVR choices: the menu's action (an engine method) -> one URI ---- */

typedef struct ring_pick {
    const tsps_action *a;
    char uri[TSPS_URI_MAX];
    int rank; /* index of the matching label in a->devices; lower wins */
} ring_pick;

static int pick_device(void *arg, const tsps_registration *r)
{
    ring_pick *p = arg;
    int rank = p->a->ndevices == 0 ? 0 : -1;

    for (int i = 0; i < p->a->ndevices && rank < 0; i++)
        if (strcasecmp(p->a->devices[i], r->label) == 0)
            rank = i;
    if (rank >= 0 && r->contact[0] != '\0' &&
        (p->uri[0] == '\0' || rank < p->rank)) {
        snprintf(p->uri, sizeof(p->uri), "%s", r->contact);
        p->rank = rank;
    }
    return 0;
}

/* The IVR choice goes into the call's history record (its note), so the
 * call log and `tspsctl explain` say where the caller went. Written on the
 * pool's control lane: the media thread never waits for the disk. */
typedef struct ivr_note_job {
    tspsd_work w;
    tspsd *d;
    uint64_t id;
    char note[TSPS_DETAIL_MAX];
} ivr_note_job;

static void ivr_note_run(tspsd_work *w)
{
    ivr_note_job *j = (ivr_note_job *)w;
    int rc = tsps_history_set_outcome(j->d->eng, j->id, TSPS_OUTCOME_REDIRECTED,
                                      (int64_t)time(NULL), j->note);
    if (rc != TSPS_OK)
        tspsd_log(TSPSD_LOG_WARN, j->id, NULL, "ivr choice not in history",
                  "error=%s", tsps_errname(rc));
    free(j);
}

static void ivr_note(struct tspsd_media_wire *w, const char *history_id,
                     const char *trace)
{
    uint64_t id = strtoull(history_id, NULL, 10);
    ivr_note_job *j;
    if (id == 0 || (j = calloc(1, sizeof(*j))) == NULL)
        return;
    j->w.run = ivr_note_run;
    j->w.lane = TSPSD_LANE_CONTROL;
    j->d = w->d;
    j->id = id;
    snprintf(j->note, sizeof(j->note), "%s", trace);
    char *cut = strstr(j->note, " (caller "); /* the record names it */
    if (cut != NULL)
        *cut = '\0';
    if (tspsd_pool_submit(w->d, &j->w) != 0)
        free(j);
}

static int host_route_digit(void *ctx, const tspsd_media_call_info *call,
                            const char *menu_path, const char *digit,
                            const char *action, char *target, size_t target_len,
                            char *trace, size_t trace_len)
{
    struct tspsd_media_wire *w = ctx;
    tsps_method m;
    tsps_user u;
    char err[128], tok[1024];
    const char *to = NULL;
    ring_pick rp;

    if (tsps_method_parse(action, &m, err, sizeof(err)) != TSPS_OK) {
        snprintf(trace, trace_len, "IVR %s digit %s: bad action \"%s\": %s",
                 menu_path, digit, action, err);
        return -1;
    }
    int have_user = tsps_user_get(w->d->eng, call->user, &u) == TSPS_OK;
    switch (m.a.kind) {
    case TSPS_METHOD_RING:
        memset(&rp, 0, sizeof(rp));
        rp.a = &m.a;
        tsps_registration_list(w->d->eng, call->user, (int64_t)time(NULL),
                               pick_device, &rp);
        if (rp.uri[0] != '\0')
            to = rp.uri;
        break;
    case TSPS_METHOD_FORWARD:
    case TSPS_METHOD_ATTENDANT:
        to = m.a.target[0] != '\0' ? m.a.target
             : have_user && m.a.kind == TSPS_METHOD_ATTENDANT &&
                     u.attendant_uri[0] != '\0'
                 ? u.attendant_uri
                 : NULL;
        break;
    case TSPS_METHOD_VOICEMAIL: {
        const char *vm = m.a.target[0] != '\0' ? m.a.target
                         : have_user           ? u.voicemail_uri
                                               : "";
        if (vm[0] != '\0' && strcmp(vm, TSPSD_MEDIA_VOICEMAIL_URI) != 0) {
            to = vm;
            break;
        }
        uint64_t hid = strtoull(call->history_id, NULL, 10);
        if (tspsd_media_wire_token(
                w->d, call->user, call->caller, call->contact, call->code, hid,
                call->language, (int64_t)time(NULL), tok, sizeof(tok)) > 0 &&
            tspsd_media_wire_uri(w->d, 0, tok, target, target_len) > 0) {
            snprintf(trace, trace_len, "IVR %s digit %s -> %s (caller %s)",
                     menu_path, digit, action, call->caller);
            ivr_note(w, call->history_id, trace);
            return 0;
        }
        break;
    }
    default:
        break;
    }
    if (to == NULL) {
        snprintf(trace, trace_len,
                 "IVR %s digit %s -> %s: nowhere to send the call (caller %s)",
                 menu_path, digit, action, call->caller);
        return -1;
    }
    if (strchr(to, ':') != NULL)
        snprintf(target, target_len, "%s", to);
    else if (to[0] == '+')
        snprintf(target, target_len, "tel:%s", to);
    else
        snprintf(target, target_len, "sip:%s@%s", to, w->addr);
    snprintf(trace, trace_len, "IVR %s digit %s -> %s (caller %s)", menu_path,
             digit, action, call->caller);
    ivr_note(w, call->history_id, trace);
    return 0;
}

static const tspsd_media_host media_host = {
    .version = TSPSD_MEDIA_HOST_VERSION,
    .verify_token = host_verify,
    .publish = host_publish,
    .list_devices = host_devices,
    .log = host_log,
    .route_digit = host_route_digit,
};

int tspsd_media_wire_mwi_body(tspsd *d, const char *user, const char *account,
                              char *out, size_t n)
{
    unsigned nnew = 0, nold = 0;
    if (d->media == NULL || tspsd_media_inbox_count(d->media->mf, user, &nnew,
                                                    &nold) != TSPSD_MEDIA_OK)
        return -1;
    return tspsd_media_mwi_body(nnew, nold, account, out, n);
}

/* ---- the call front ---- */

static int media_metrics(void *arg, char *buf, size_t len)
{
    struct tspsd_media_wire *w = arg;
    tspsd_media_stats st;
    tspsd_media_front_stats(w->mf, &st);
    int r = snprintf(buf, len,
                     "tspsd_media_calls_answered_total %" PRIu64 "\n"
                     "tspsd_media_calls_active %" PRIu64 "\n"
                     "tspsd_media_messages_stored_total %" PRIu64 "\n"
                     "tspsd_media_store_failures_total %" PRIu64 "\n",
                     st.calls_answered, st.calls_active, st.messages_stored,
                     st.store_failures);
    return r < 0 ? 0 : (size_t)r >= len ? (int)len - 1 : r;
}

static void media_stop(void *arg)
{
    struct tspsd_media_wire *w = arg;
    tspsd *d = w->d;
    tspsd_inbox_set(d, NULL, NULL);
    pthread_rwlock_wrlock(&inbox_lock); /* waits for hooks in flight */
    inbox_mf = NULL;
    pthread_rwlock_unlock(&inbox_lock);
    tspsd_media_front_free(w->mf); /* stops: BYE, pending writes stored */
    publish_notes(-1, 0, w);       /* the last events still go out */
    event_free(w->wake);
    pthread_mutex_destroy(&w->qlock);
    OPENSSL_cleanse(w->key, sizeof(w->key));
    free(w);
    d->media = NULL;
    d->media_front = NULL;
}

/* No held calls: the engine's decision reaches the media front as a 302
 * of the SIP front, so `answer` is NULL. */
static const tspsd_front_ops media_front_ops = {"media", NULL, NULL,
                                                media_metrics, media_stop};

int tspsd_media_wire_start(tspsd *d)
{
    const tspsd_config *c = &d->cfg;
    char dir[TSPSD_PATH_MAX], keyp[TSPSD_PATH_MAX + 32];
    tspsd_media_config mc = TSPSD_MEDIA_CONFIG_INIT;

    if (!c->media_enabled)
        return 0;
    struct tspsd_media_wire *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -1;
    w->d = d;
    pthread_mutex_init(&w->qlock, NULL);
    w->tail = &w->notes;
    w->wake = event_new(d->base, -1, 0, publish_notes, w);
    if (w->wake == NULL)
        goto fail;
    if (c->media_data_dir[0] != '\0')
        snprintf(dir, sizeof(dir), "%s", c->media_data_dir);
    else if (snprintf(dir, sizeof(dir), "%s/media", c->data_dir) >=
             (int)sizeof(dir))
        goto fail;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "cannot make media folder",
                  "path=%s error=\"%s\"", dir, strerror(errno));
        goto fail;
    }
    snprintf(keyp, sizeof(keyp), "%s/media-token.key", c->data_dir);
    if (load_key(keyp, w->key) != 0)
        goto fail;
    mc.data_dir = dir;
    mc.sip_addr = c->media_sip_addr;
    mc.sip_port = (uint16_t)c->media_sip_port;
    mc.rtp_port_min = (uint16_t)c->media_rtp_port_min;
    mc.rtp_port_max = (uint16_t)c->media_rtp_port_max;
    mc.max_calls = (unsigned)c->media_max_calls;
    mc.rtp_timeout_ms = (unsigned)c->media_rtp_timeout_ms;
    mc.max_message_ms = (unsigned)c->media_max_message_ms;
    mc.silence_ms = (unsigned)c->media_silence_ms;
    mc.quota_messages = (unsigned)c->media_quota_messages;
    mc.no_answer_ms = (unsigned)c->media_no_answer_ms;
    mc.default_language = c->media_default_language;
    mc.rt_priority = c->media_rt_priority;
    int rc = tspsd_media_front_new(&mc, &media_host, w, &w->mf);
    if (rc == TSPSD_MEDIA_OK)
        rc = tspsd_media_front_start(w->mf);
    if (rc != TSPSD_MEDIA_OK) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "media front did not start",
                  "sip_addr=%s sip_port=%d data_dir=%s error=\"%s\"",
                  c->media_sip_addr, c->media_sip_port, dir,
                  tspsd_media_strerror(rc));
        goto fail;
    }
    snprintf(w->addr, sizeof(w->addr), "%s", c->media_sip_addr);
    w->port = tspsd_media_front_sip_port(w->mf);
    d->media = w;
    if (tspsd_front_add(d, &media_front_ops, w, &d->media_front) != 0) {
        d->media = NULL;
        goto fail;
    }
    pthread_rwlock_wrlock(&inbox_lock);
    inbox_mf = w->mf;
    pthread_rwlock_unlock(&inbox_lock);
    tspsd_inbox_set(d, &inbox_ops, w);
    tspsd_log(TSPSD_LOG_INFO, 0, NULL, "media front listening",
              "sip_addr=%s sip_port=%u rtp_ports=%d-%d data_dir=%s", w->addr,
              (unsigned)w->port, c->media_rtp_port_min, c->media_rtp_port_max,
              dir);
    return 0;
fail:
    tspsd_media_front_free(w->mf);
    publish_notes(-1, 0, w); /* frees what a started front queued */
    if (w->wake != NULL)
        event_free(w->wake);
    pthread_mutex_destroy(&w->qlock);
    OPENSSL_cleanse(w->key, sizeof(w->key));
    free(w);
    return -1;
}
