/*
 * h_voicemail.c - the voicemail inbox requests (voicemail.list,
 * voicemail.get, voicemail.act) over the inbox seam (callfront.h), so the
 * core names no media front (docs/media.md, "The inbox"). Who may ask: the
 * user, an admin, an attendant whose delegation grants `related` (messages
 * are private like e-mails), and then only for the delegation's codes.
 * Messages of one user are never shown to another: every lookup is by
 * (user, id), and the user is the one the rights were checked for.
 */
#include "daemon.h"
#include "handlers.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VM_CHUNK_MAX (512u * 1024u)
#define VM_OFF       "voicemail is off ([media] enabled = false)"

/* Message ids are made by the media front: letters, digits, '-', '_', '.'.
 * Anything else is refused before it reaches a path. */
static int id_valid(const char *id)
{
    size_t n = 0;
    if (id == NULL)
        return 0;
    for (const char *p = id; *p != '\0'; p++, n++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
              (ch == '.' && n > 0)))
            return 0;
    }
    return n > 0 && n < sizeof(((tspsd_vm_msg *)0)->id);
}

int tspsd_vm_list(tspsd *d, const char *user, tspsd_vm_msg **out, size_t *n)
{
    size_t cap = 128, got = 0;
    tspsd_vm_msg *v = NULL;
    int rc;

    *out = NULL;
    *n = 0;
    if (d->inbox == NULL)
        return TSPS_ESTATE;
    for (int tries = 0; tries < 3; tries++) {
        tspsd_vm_msg *nv = realloc(v, cap * sizeof(*v));
        if (nv == NULL) {
            free(v);
            return TSPS_ENOMEM;
        }
        v = nv;
        rc = d->inbox->list(d->inbox_arg, user, v, cap, &got);
        if (rc == TSPS_ENOBUFS) {
            cap = got + 16; /* a message may arrive meanwhile */
            continue;
        }
        if (rc != TSPS_OK) {
            free(v);
            return rc;
        }
        *out = v;
        *n = got;
        return TSPS_OK;
    }
    free(v);
    return TSPS_ESTORE;
}

int tspsd_vm_find(tspsd *d, const char *user, const char *id, tspsd_vm_msg *m)
{
    tspsd_vm_msg *v = NULL;
    size_t n = 0;
    int rc = tspsd_vm_list(d, user, &v, &n);

    if (rc != TSPS_OK)
        return rc;
    rc = TSPS_ENOTFOUND;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].id, id) == 0) {
            *m = v[i];
            rc = TSPS_OK;
            break;
        }
    }
    free(v);
    return rc;
}

/* The mailbox named by a request: "" = the asker's own. */
static const char *mailbox(const tspsd_asker *c, const char *user)
{
    return user != NULL && user[0] != '\0' ? user : c->identity;
}

static Tsps__VoicemailMessage *vm_msg(tspsd_asker *c, const char *user,
                                      const tspsd_vm_msg *m)
{
    Tsps__VoicemailMessage *o =
        tspsd_arena_alloc(&c->arena, sizeof(Tsps__VoicemailMessage));
    tsps_call_record rec;

    if (o == NULL)
        return NULL;
    tsps__voicemail_message__init(o);
    o->id = TSPSD_STR(a, m->id);
    o->user = TSPSD_STR(a, user);
    o->caller = TSPSD_STR(a, m->caller);
    o->contact_name = TSPSD_STR(a, m->contact);
    o->code = TSPSD_STR(a, m->code);
    o->time = m->time;
    o->duration_ms = m->duration_ms;
    o->heard = m->heard != 0;
    o->history_id = strtoull(m->history_id, NULL, 10);
    o->contact_uid = (char *)"";
    /* The call's record names the contact's uid; only a record of this
     * very user counts (history ids are global). */
    if (o->history_id != 0 &&
        tsps_history_get(c->d->eng, o->history_id, &rec) == TSPS_OK &&
        strcmp(rec.decision.user, user) == 0)
        o->contact_uid = TSPSD_STR(a, rec.decision.contact_uid);
    if (o->id == NULL || o->user == NULL || o->caller == NULL ||
        o->contact_name == NULL || o->code == NULL || o->contact_uid == NULL)
        return NULL;
    return o;
}

/* The first checks of every request: the right on the mailbox (without a
 * code: no store read for strangers), then (need_id) the inbox and the id.
 * @return 0 to go on, else the reply's code (resp filled). */
static int vm_enter(tspsd_asker *c, Tsps__Response *resp, const char *what,
                    const char *user, const char *id, int need_id)
{
    char why[160];
    if (!tspsd_identity_valid(user))
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "%s: name a user (admins have no mailbox)", what);
    if (!tspsd_authz(c, user, TSPSD_RIGHT_VOICEMAIL, NULL, why, sizeof(why)))
        return tspsd_refuse(c, resp, what, user, TSPS__CODE__DENIED, why);
    /* Voicemail off ([media] enabled = false): no mailbox holds anything
     * (the list is empty, says why), no message exists. */
    if (need_id && c->d->inbox == NULL)
        return tspsd_reply(c, resp, TSPS__CODE__NOT_FOUND,
                           "%s: no such message: %s", what, VM_OFF);
    if (need_id && !id_valid(id))
        return tspsd_reply(c, resp, TSPS__CODE__INVALID, "%s: bad message id",
                           what);
    return 0;
}

/* One message, with the right checked for its code. A message the asker
 * may not see is "no such message" after the audit line. */
static int vm_one(tspsd_asker *c, Tsps__Response *resp, const char *what,
                  const char *user, const char *id, tspsd_vm_msg *m)
{
    char why[160];
    int rc = tspsd_vm_find(c->d, user, id, m);
    if (rc == TSPS_ENOTFOUND)
        return tspsd_reply(c, resp, TSPS__CODE__NOT_FOUND,
                           "%s: no message %s of %s", what, id, user);
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc), "%s: %s", what,
                           tsps_strerror(rc));
    if (!tspsd_authz(c, user, TSPSD_RIGHT_VOICEMAIL, m->code, why,
                     sizeof(why))) {
        /* audited, then told it does not exist (as a call one may not see,
         * for explain): the code of a hidden message does not leak */
        tspsd_refuse(c, resp, what, user, TSPS__CODE__DENIED, why);
        return tspsd_reply(c, resp, TSPS__CODE__NOT_FOUND,
                           "%s: no message %s of %s", what, id, user);
    }
    return 0;
}

TSPSD_HANDLER(tspsd_h_voicemail_list)
{
    const char *user = mailbox(c, req->voicemail_list->user);
    tspsd_vm_msg *v = NULL;
    size_t n = 0;
    unsigned nnew = 0, nold = 0;
    char why[160];
    int rc = vm_enter(c, resp, "voicemail.list", user, NULL, 0);

    if (rc != 0)
        return rc;
    if (c->d->inbox == NULL) {
        resp->message = (char *)VM_OFF;
        return TSPS__CODE__OK;
    }
    rc = tspsd_vm_list(c->d, user, &v, &n);
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc),
                           "voicemail.list: %s", tsps_strerror(rc));
    for (size_t i = 0; i < n; i++) {
        /* An attendant limited to some codes sees only those messages. */
        if (!tspsd_authz(c, user, TSPSD_RIGHT_VOICEMAIL, v[i].code, why,
                         sizeof(why)))
            continue;
        Tsps__VoicemailMessage *o = vm_msg(c, user, &v[i]);
        if (o == NULL || tspsd_arena_push(&c->arena, (void ***)&resp->voicemail,
                                          &resp->n_voicemail, o) != 0) {
            free(v);
            return tspsd_reply(c, resp, TSPS__CODE__INTERNAL, "out of memory");
        }
        if (v[i].heard)
            nold++;
        else
            nnew++;
    }
    free(v);
    for (size_t i = 0; i < resp->n_voicemail; i++) {
        resp->voicemail[i]->new_count = nnew;
        resp->voicemail[i]->old_count = nold;
    }
    resp->message =
        tspsd_arena_printf(&c->arena, "%u new, %u heard", nnew, nold);
    return TSPS__CODE__OK;
}

TSPSD_HANDLER(tspsd_h_voicemail_get)
{
    const Tsps__VoicemailGet *r = req->voicemail_get;
    const char *user = mailbox(c, r->user);
    tspsd_vm_msg m;
    struct stat sb;
    int fd = -1;
    int rc = vm_enter(c, resp, "voicemail.get", user, r->id, 1);

    if (rc != 0 ||
        (rc = vm_one(c, resp, "voicemail.get", user, r->id, &m)) != 0)
        return rc;
    rc = tspsd_vm_open(c->d, user, r->id, &fd);
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc),
                           "voicemail.get: %s", tsps_strerror(rc));
    Tsps__VoicemailMessage *o = vm_msg(c, user, &m);
    if (o == NULL || fstat(fd, &sb) != 0) {
        close(fd);
        return tspsd_reply(c, resp, TSPS__CODE__INTERNAL,
                           "voicemail.get: cannot read the message");
    }
    o->wav_bytes = (uint64_t)sb.st_size;
    size_t want = r->max_bytes == 0 || r->max_bytes > VM_CHUNK_MAX
                      ? VM_CHUNK_MAX
                      : r->max_bytes;
    uint64_t left =
        r->offset < o->wav_bytes ? o->wav_bytes - r->offset : (uint64_t)0;
    if (want > left)
        want = (size_t)left;
    uint8_t *buf = want > 0 ? tspsd_arena_alloc(&c->arena, want) : NULL;
    size_t got = 0;
    while (got < want && buf != NULL) {
        ssize_t k = pread(fd, buf + got, want - got, (off_t)(r->offset + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (want > 0 && got != want) {
        tspsd_log(TSPSD_LOG_ERROR, 0, user, "voicemail read failed",
                  "id=%s offset=%llu", m.id, (unsigned long long)r->offset);
        return tspsd_reply(c, resp, TSPS__CODE__INTERNAL,
                           "voicemail.get: cannot read the message");
    }
    resp->audio.data = buf;
    resp->audio.len = got;
    if (tspsd_arena_push(&c->arena, (void ***)&resp->voicemail,
                         &resp->n_voicemail, o) != 0)
        return tspsd_reply(c, resp, TSPS__CODE__INTERNAL, "out of memory");
    return TSPS__CODE__OK;
}

int tspsd_vm_open(tspsd *d, const char *user, const char *id, int *fd)
{
    *fd = -1;
    if (d->inbox == NULL)
        return TSPS_ESTATE;
    return d->inbox->open(d->inbox_arg, user, id, fd);
}

int tspsd_vm_asker_open(tspsd_asker *c, Tsps__Response *resp, const char *user,
                        const char *id, int *fd, tspsd_vm_msg *m)
{
    int rc = vm_enter(c, resp, "voicemail.get", user, id, 1);
    *fd = -1;
    if (rc != 0 || (rc = vm_one(c, resp, "voicemail.get", user, id, m)) != 0)
        return rc;
    rc = tspsd_vm_open(c->d, user, id, fd);
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc),
                           "voicemail.get: %s", tsps_strerror(rc));
    return TSPS__CODE__OK;
}

TSPSD_HANDLER(tspsd_h_voicemail_act)
{
    const Tsps__VoicemailAct *r = req->voicemail_act;
    const char *user = mailbox(c, r->user);
    tspsd_vm_msg m;
    int del;
    int rc = vm_enter(c, resp, "voicemail.act", user, r->id, 1);

    if (rc != 0)
        return rc;
    if (r->action != NULL && strcmp(r->action, "heard") == 0)
        del = 0;
    else if (r->action != NULL && strcmp(r->action, "delete") == 0)
        del = 1;
    else
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "voicemail.act: action is \"heard\" or \"delete\"");
    rc = vm_one(c, resp, "voicemail.act", user, r->id, &m);
    if (rc != 0)
        return rc;
    rc = del ? c->d->inbox->remove(c->d->inbox_arg, user, r->id)
             : c->d->inbox->heard(c->d->inbox_arg, user, r->id);
    if (rc != TSPS_OK)
        return tspsd_reply(c, resp, tspsd_code_from_tsps(rc),
                           "voicemail.act: %s", tsps_strerror(rc));
    tspsd_log(TSPSD_LOG_INFO, 0, user,
              del ? "voicemail deleted" : "voicemail heard", "id=%s by=%s",
              m.id, c->identity);
    if (!del)
        m.heard = 1;
    Tsps__VoicemailMessage *o = vm_msg(c, user, &m);
    if (o != NULL)
        tspsd_arena_push(&c->arena, (void ***)&resp->voicemail,
                         &resp->n_voicemail, o);
    resp->message = tspsd_arena_printf(&c->arena, "%s %s",
                                       del ? "deleted" : "marked heard", m.id);
    return TSPS__CODE__OK;
}
