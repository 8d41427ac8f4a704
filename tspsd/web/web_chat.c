/*
 * web_chat.c - web chat tied to a call record: a room per call id, its
 * transcript stored with the call in the kv store (TSPSD_KEY_CHAT "<id>"),
 * invitation links valid for a limited time (TSPSD_KEY_CHATINV "<sha256>")
 * that give a guest session for that room only, messages by POST and
 * delivery through the event stream ("chat.message").
 */
#include "web_internal.h"
#include "../store_keys.h"

#include "../log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHAT_MAX_MSGS 500
#define CHAT_MAX_TEXT 2000

static void room_key(uint64_t id, char *key, size_t len)
{
    snprintf(key, len, TSPSD_KEY_CHAT "%llu", (unsigned long long)id);
}

static json_t *room_load(tspsd *d, uint64_t id)
{
    char key[64];
    size_t n = 0;
    json_t *j = NULL;
    room_key(id, key, sizeof(key));
    if (tsps_kv_get(d->eng, key, NULL, 0, &n) != TSPS_ENOBUFS || n == 0)
        return NULL;
    char *buf = malloc(n + 1);
    if (buf == NULL)
        return NULL;
    if (tsps_kv_get(d->eng, key, buf, n, &n) == TSPS_OK)
        j = json_loadb(buf, n, 0, NULL);
    free(buf);
    return j;
}

static int room_save(tspsd *d, uint64_t id, const json_t *room)
{
    char key[64];
    char *txt = json_dumps(room, JSON_COMPACT);
    int rc;
    if (txt == NULL)
        return TSPS_ENOMEM;
    room_key(id, key, sizeof(key));
    rc = tsps_kv_put(d->eng, key, txt, strlen(txt));
    free(txt);
    return rc;
}

int web_chat_may(tspsd_web *w, const web_session *s, uint64_t call_id,
                 const char *user, const char *code, int right)
{
    tspsd_asker c;
    char why[160];
    if (s->guest_call != 0)
        return s->guest_call == call_id;
    web_conn_init(w->d, &c, s);
    return tspsd_authz(&c, user, right, code, why, sizeof(why));
}

/* The call's user and code (pending, else history). */
static int call_owner(tspsd *d, uint64_t id, char *user, char *code)
{
    const tsps_decision *dec = tspsd_pending_get(d, id);
    tsps_call_record *rec;
    if (dec != NULL) {
        snprintf(user, TSPS_ID_MAX, "%s", dec->user);
        snprintf(code, TSPS_CODE_MAX, "%s", dec->code);
        return 0;
    }
    rec = malloc(sizeof(*rec));
    if (rec == NULL || tsps_history_get(d->eng, id, rec) != TSPS_OK) {
        free(rec);
        return -1;
    }
    snprintf(user, TSPS_ID_MAX, "%s", rec->decision.user);
    snprintf(code, TSPS_CODE_MAX, "%s", rec->decision.code);
    free(rec);
    return 0;
}

static const char *speaker(const web_session *s, char *buf, size_t len)
{
    if (s->guest_call != 0)
        snprintf(buf, len, "%s (guest)",
                 s->guest_name[0] ? s->guest_name : "guest");
    else
        snprintf(buf, len, "%s", s->identity);
    return buf;
}

static void chat_invite(tspsd_web *w, struct evhttp_request *req, uint64_t id,
                        const web_session *s)
{
    char tok[65], h[65], key[128], val[64], url[512];
    json_t *b = web_body_json(req);
    json_int_t ttl = b ? json_integer_value(json_object_get(b, "ttl_s")) : 0;
    json_decref(b);
    if (ttl <= 0 || ttl > 7 * 86400)
        ttl = w->d->cfg.web_invite_s;
    if (s->guest_call != 0 || web_random_hex(tok, 32) != 0) {
        web_send_error(req, 403, "guests cannot invite");
        return;
    }
    web_sha256_hex(tok, h);
    snprintf(key, sizeof(key), TSPSD_KEY_CHATINV "%s", h);
    int64_t exp = (int64_t)time(NULL) + ttl;
    int n = snprintf(val, sizeof(val), "%llu\t%lld", (unsigned long long)id,
                     (long long)exp);
    if (tsps_kv_put(w->d->eng, key, val, (size_t)n) != TSPS_OK) {
        web_send_error(req, 500, "cannot store the invitation");
        return;
    }
    snprintf(url, sizeof(url), "%s/chat/join?t=%s", w->base_url, tok);
    web_send_json(
        req, 200,
        json_pack("{s:s, s:I}", "invite_url", url, "expires", (json_int_t)exp));
}

/* On the worker: append to the stored transcript. */
static void chat_post_run(web_job *j)
{
    json_t *room = room_load(j->w->d, j->id);
    json_t *msgs = room != NULL ? json_object_get(room, "messages") : NULL;

    if (!json_is_array(msgs)) {
        j->status = 404;
        j->out = json_pack("{s:s}", "error", "no chat for this call");
    } else if (json_array_size(msgs) >= CHAT_MAX_MSGS) {
        j->status = 409;
        j->out = json_pack("{s:s}", "error", "this chat is full");
    } else {
        json_array_append(msgs, j->in);
        if (room_save(j->w->d, j->id, room) != TSPS_OK) {
            j->status = 500;
            j->out = json_pack("{s:s}", "error", "cannot store the message");
        } else {
            j->status = 200;
            j->out = json_incref(j->in);
        }
    }
    json_decref(room);
}

/* On the loop: stored, now deliver it to the room. */
static void chat_post_done(web_job *j)
{
    if (j->status != 200)
        return;
    json_t *ev = json_deep_copy(j->in);
    json_object_set_new(ev, "call_id", json_integer((json_int_t)j->id));
    web_sse_emit(j->w, "chat.message", j->user, j->code, j->id, ev);
}

static void chat_post(tspsd_web *w, struct evhttp_request *req, uint64_t id,
                      const web_session *s, const char *user, const char *code)
{
    char who[96];
    json_t *b = web_body_json(req);
    const char *text = b ? json_string_value(json_object_get(b, "text")) : NULL;
    web_job *j;

    if (text == NULL || text[0] == '\0' || strlen(text) > CHAT_MAX_TEXT) {
        json_decref(b);
        web_send_error(req, 400, "text: 1 to 2000 characters");
        return;
    }
    j = web_job_new(w, req, chat_post_run);
    if (j == NULL) {
        json_decref(b);
        web_send_error(req, 500, "out of memory");
        return;
    }
    j->done = chat_post_done;
    j->s = *s;
    j->id = id;
    snprintf(j->user, sizeof(j->user), "%s", user);
    snprintf(j->code, sizeof(j->code), "%s", code);
    j->in = json_pack("{s:s, s:s, s:I, s:b}", "from",
                      speaker(s, who, sizeof(who)), "text", text, "at",
                      (json_int_t)time(NULL), "guest", s->guest_call != 0);
    json_decref(b);
    web_job_submit(j);
}

void web_chat(tspsd_web *w, struct evhttp_request *req, const char *rest,
              const web_session *s)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    char user[TSPS_ID_MAX], code[TSPS_CODE_MAX], *end;
    uint64_t id = strtoull(rest, &end, 10);
    json_t *room;

    if (id == 0 || end == rest || call_owner(w->d, id, user, code) != 0 ||
        !web_chat_may(w, s, id, user, code, TSPSD_RIGHT_MONITOR)) {
        web_send_error(req, 404, "no such call");
        return;
    }
    /* Opening a chat, inviting and writing act on the call: a user's own
     * calls, or an attendant granted "act" (guests: their own room). */
    if (m != EVHTTP_REQ_GET && s->guest_call == 0 &&
        !web_chat_may(w, s, id, user, code, TSPSD_RIGHT_ACT)) {
        web_send_error(req, 403, "chatting on this call needs the act right");
        return;
    }
    room = room_load(w->d, id);
    if (room == NULL) {
        if (s->guest_call != 0 || m != EVHTTP_REQ_POST || *end != '\0') {
            web_send_error(req, 404, "no chat for this call");
            return;
        }
        room =
            json_pack("{s:I, s:s, s:I, s:s, s:[]}", "call_id", (json_int_t)id,
                      "user", user, "created", (json_int_t)time(NULL),
                      "created_by", s->identity, "messages");
        if (room_save(w->d, id, room) != TSPS_OK) {
            json_decref(room);
            web_send_error(req, 500, "cannot store the chat");
            return;
        }
        tspsd_log(TSPSD_LOG_INFO, id, user, "web chat opened", "by=%s",
                  s->identity);
    }
    if (*end == '\0' && (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_POST)) {
        json_object_set_new(
            room, "me",
            json_string(s->guest_call ? s->guest_name : s->identity));
        json_object_set_new(room, "csrf", json_string(s->csrf));
        json_object_set_new(room, "guest", json_boolean(s->guest_call != 0));
        web_send_json(req, 200, room);
        return;
    }
    if (strcmp(end, "/msg") == 0 && m == EVHTTP_REQ_POST)
        chat_post(w, req, id, s, user, code);
    else if (strcmp(end, "/invite") == 0 && m == EVHTTP_REQ_POST)
        chat_invite(w, req, id, s);
    else
        web_send_error(req, 404, "not found");
    json_decref(room);
}

void web_h_chat_join(tspsd_web *w, struct evhttp_request *req)
{
    char tok[80], name[64], h[65], key[128], val[64], to[64];
    size_t vl = 0;
    web_session s;

    if (web_query(req, "t", tok, sizeof(tok)) == NULL || strlen(tok) != 64)
        goto bad;
    web_sha256_hex(tok, h);
    snprintf(key, sizeof(key), TSPSD_KEY_CHATINV "%s", h);
    if (tsps_kv_get(w->d->eng, key, val, sizeof(val) - 1, &vl) != TSPS_OK)
        goto bad;
    val[vl] = '\0';
    char *tab = strchr(val, '\t');
    if (tab == NULL || strtoll(tab + 1, NULL, 10) <= (int64_t)time(NULL)) {
        tsps_kv_put(w->d->eng, key, NULL, 0);
        goto bad;
    }
    uint64_t id = strtoull(val, NULL, 10);
    /* "ID\tEXPIRY[\tGUESTS]": one invitation admits a few guests, not
     * everyone it is forwarded to. */
    char *tab2 = strchr(tab + 1, '\t');
    long guests = tab2 != NULL ? strtol(tab2 + 1, NULL, 10) : 0;
    if (guests >= WEB_GUESTS_PER_INVITE) {
        tspsd_log(TSPSD_LOG_WARN, id, NULL, "chat invitation used up",
                  "guests=%ld", guests);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location",
                          "/login.html?error=invite-full");
        evhttp_send_reply(req, 303, "See Other", NULL);
        return;
    }
    {
        char nv[64];
        long long exp = strtoll(tab + 1, NULL, 10);
        int n = snprintf(nv, sizeof(nv), "%llu\t%lld\t%ld",
                         (unsigned long long)id, exp, guests + 1);
        if (n < 0 || (size_t)n >= sizeof(nv) ||
            tsps_kv_put(w->d->eng, key, nv, (size_t)n) != TSPS_OK) {
            web_send_error(req, 500, "cannot store the invitation");
            return;
        }
    }
    if (web_query(req, "name", name, sizeof(name)) == NULL)
        snprintf(name, sizeof(name), "guest");
    if (web_session_create(w, req, "", id, name, &s) != 0) {
        web_send_error(req, 500, "cannot store the session");
        return;
    }
    snprintf(to, sizeof(to), "/chat.html?call=%llu", (unsigned long long)id);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Location", to);
    evhttp_send_reply(req, 303, "See Other", NULL);
    return;
bad:
    evhttp_add_header(evhttp_request_get_output_headers(req), "Location",
                      "/login.html?error=invite");
    evhttp_send_reply(req, 303, "See Other", NULL);
}
