/*
 * web_sse.c - live events as server-sent events (GET /api/events): a ring
 * of recent events for Last-Event-ID replay, per-stream visibility through
 * tspsd_authz (an attendant sees only delegated users' calls within scope),
 * heartbeats. Fed by tspsd_events_publish() and the chat. A stream lives
 * no longer than its session: it ends when its identity is revoked
 * (tspsd_web_close_streams) and, at the next heartbeat, after a logout or
 * at the session's lifetime.
 */
#include "web_internal.h"

#include "../log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct web_client {
    tspsd_web *w;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    web_session s;
    tspsd_asker c;
    web_client *next;
};

static int may_see(web_client *cl, const web_event *e)
{
    char why[160];
    if (strncmp(e->kind, "chat.", 5) == 0)
        return web_chat_may(cl->w, &cl->s, e->call_id, e->user, e->code,
                            TSPSD_RIGHT_MONITOR);
    if (cl->s.guest_call != 0)
        return 0;
    tspsd_asker_recheck_admin(&cl->c); /* [admin] may have changed (SIGHUP) */
    if (strcmp(e->kind, "sync") == 0)
        return cl->c.admin || strcmp(e->user, cl->c.identity) == 0;
    /* E-mails, documents and voicemail are private: monitor alone does
     * not show them. */
    if (strncmp(e->kind, "voicemail.", 10) == 0)
        return tspsd_authz(&cl->c, e->user, TSPSD_RIGHT_VOICEMAIL,
                           e->code[0] != '\0' ? e->code : NULL, why,
                           sizeof(why));
    return tspsd_authz(&cl->c, e->user,
                       strcmp(e->kind, "call.related") == 0
                           ? TSPSD_RIGHT_RELATED
                           : TSPSD_RIGHT_MONITOR,
                       e->code, why, sizeof(why));
}

static void send_event(web_client *cl, const web_event *e)
{
    struct evbuffer *b = evbuffer_new();
    if (b == NULL)
        return;
    evbuffer_add_printf(b, "id: %llu\nevent: %s\ndata: %s\n\n",
                        (unsigned long long)e->id, e->kind, e->data);
    evhttp_send_reply_chunk(cl->req, b);
    evbuffer_free(b);
}

static void unlink_client(tspsd_web *w, web_client *cl)
{
    for (web_client **pp = &w->clients; *pp != NULL; pp = &(*pp)->next)
        if (*pp == cl) {
            *pp = cl->next;
            w->nclients--;
            break;
        }
    tspsd_arena_free(&cl->c.arena);
    free(cl);
}

/* End a stream from our side: the terminating chunk, then the connection
 * closes (a browser's EventSource then reconnects and gets a 401). */
static void end_stream(tspsd_web *w, web_client *cl)
{
    struct evhttp_request *req = cl->req;

    evhttp_connection_set_closecb(cl->evcon, NULL, NULL);
    unlink_client(w, cl);
    /* The headers went out long ago; evhttp still reads this one when the
     * reply ends and closes the connection instead of keeping it. */
    evhttp_add_header(evhttp_request_get_output_headers(req), "Connection",
                      "close");
    evhttp_send_reply_end(req);
}

size_t tspsd_web_close_streams(tspsd *d, const char *identity)
{
    tspsd_web *w = d != NULL ? d->web : NULL;
    size_t n = 0;

    if (w == NULL || identity == NULL || identity[0] == '\0')
        return 0;
    for (web_client *cl = w->clients, *next; cl != NULL; cl = next) {
        next = cl->next;
        if (cl->s.guest_call != 0 || strcmp(cl->s.identity, identity) != 0)
            continue;
        end_stream(w, cl);
        n++;
    }
    return n;
}

void web_sse_close_session(tspsd_web *w, const char *key)
{
    for (web_client *cl = w->clients, *next; cl != NULL; cl = next) {
        next = cl->next;
        if (strcmp(cl->s.key, key) == 0)
            end_stream(w, cl);
    }
}

int web_sse_has_session(tspsd_web *w, const char *key)
{
    for (web_client *cl = w->clients; cl != NULL; cl = cl->next)
        if (strcmp(cl->s.key, key) == 0)
            return 1;
    return 0;
}

static void on_close(struct evhttp_connection *evcon, void *arg)
{
    web_client *cl = arg;
    struct evhttp_request *req = cl->req;
    (void)evcon;
    unlink_client(cl->w, cl);
    /* A peer that went away mid-stream leaves the request detached from
     * its connection (libevent 2.1): it is ours to free then. When the
     * connection itself is being freed, it still owns the request. */
    if (evhttp_request_get_connection(req) == NULL)
        evhttp_request_free(req);
}

void web_sse_open(tspsd_web *w, struct evhttp_request *req,
                  const web_session *s)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    const char *last = evhttp_find_header(evhttp_request_get_input_headers(req),
                                          "Last-Event-ID");
    char qbuf[32];
    uint64_t after = 0;
    web_client *cl;

    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        web_send_error(req, 405, "GET only");
        return;
    }
    if (w->nclients >= WEB_MAX_STREAMS) {
        web_send_error(req, 503, "too many event streams");
        return;
    }
    /* One session (or one user's sessions, or one chat room's guests)
     * must not take every stream slot. */
    int same_session = 0, same_who = 0;
    for (web_client *o = w->clients; o != NULL; o = o->next) {
        same_session += strcmp(o->s.key, s->key) == 0;
        same_who += s->guest_call != 0
                        ? o->s.guest_call == s->guest_call
                        : o->s.guest_call == 0 &&
                              strcmp(o->s.identity, s->identity) == 0;
    }
    if (same_session >= WEB_STREAMS_PER_SESSION ||
        same_who >= WEB_STREAMS_PER_IDENTITY) {
        tspsd_log(TSPSD_LOG_WARN, 0, s->identity, "event stream refused",
                  "reason=%s streams=%d",
                  same_session >= WEB_STREAMS_PER_SESSION ? "per_session"
                                                          : "per_identity",
                  same_session >= WEB_STREAMS_PER_SESSION ? same_session
                                                          : same_who);
        web_send_error(req, 429,
                       "too many event streams for this session: close a tab");
        return;
    }
    if (last == NULL)
        last = web_query(req, "last", qbuf, sizeof(qbuf));
    if (last != NULL)
        after = strtoull(last, NULL, 10);
    cl = calloc(1, sizeof(*cl));
    if (cl == NULL) {
        web_send_error(req, 500, "out of memory");
        return;
    }
    cl->w = w;
    cl->req = req;
    cl->s = *s;
    web_conn_init(w->d, &cl->c, s);
    cl->evcon = evhttp_request_get_connection(req);
    evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_send_reply_start(req, 200, "OK");
    evhttp_connection_set_closecb(cl->evcon, on_close, cl);
    evhttp_connection_set_timeout(cl->evcon, 24 * 3600);
    cl->next = w->clients;
    w->clients = cl;
    w->nclients++;
    struct evbuffer *b = evbuffer_new();
    if (b != NULL) {
        evbuffer_add_printf(b, "retry: 1500\n: hello %s\n\n",
                            s->guest_call ? "guest" : s->identity);
        evhttp_send_reply_chunk(req, b);
        evbuffer_free(b);
    }
    /* Replay what this stream missed (reconnects send Last-Event-ID). */
    if (after != 0) {
        for (size_t k = 0; k < WEB_RING; k++) {
            const web_event *e = &w->ring[(w->ring_head + k) % WEB_RING];
            if (e->data != NULL && e->id > after && may_see(cl, e))
                send_event(cl, e);
        }
    }
}

void web_sse_emit(tspsd_web *w, const char *kind, const char *user,
                  const char *code, uint64_t call_id, json_t *data)
{
    web_event *e = &w->ring[w->ring_head];
    char *txt = json_dumps(data, JSON_COMPACT);

    json_decref(data);
    if (txt == NULL)
        return;
    free(e->data);
    memset(e, 0, sizeof(*e));
    e->id = ++w->next_event;
    snprintf(e->kind, sizeof(e->kind), "%s", kind);
    snprintf(e->user, sizeof(e->user), "%s", user != NULL ? user : "");
    snprintf(e->code, sizeof(e->code), "%s", code != NULL ? code : "");
    e->call_id = call_id;
    e->data = txt;
    w->ring_head = (w->ring_head + 1) % WEB_RING;
    for (web_client *cl = w->clients; cl != NULL; cl = cl->next)
        if (may_see(cl, e))
            send_event(cl, e);
}

void tspsd_web_publish(tspsd *d, const char *kind, uint64_t call_id,
                       const tsps_decision *dec, tsps_outcome outcome,
                       const Tsps__Source *src)
{
    tspsd_web *w = d->web;
    int64_t now = (int64_t)time(NULL);
    json_t *j;

    if (w == NULL)
        return;
    j = json_pack("{s:s, s:I, s:I}", "kind", kind, "call_id",
                  (json_int_t)call_id, "at", (json_int_t)now);
    if (dec != NULL) {
        json_t *dj = web_decision_json(dec, call_id);
        json_object_set_new(dj, "outcome",
                            json_string(tsps_outcome_name(outcome)));
        if (outcome == TSPS_OUTCOME_PENDING) {
            unsigned t = dec->method.ask_timeout_s
                             ? dec->method.ask_timeout_s
                             : (unsigned)d->cfg.sip_ask_timeout_s;
            json_object_set_new(dj, "held_since", json_integer(now));
            json_object_set_new(dj, "held_until", json_integer(now + t));
        }
        json_object_set_new(j, "user", json_string(dec->user));
        json_object_set_new(j, "outcome",
                            json_string(tsps_outcome_name(outcome)));
        json_object_set_new(j, "decision", dj);
        web_sse_emit(w, kind, dec->user, dec->code, call_id, j);
    } else if (src != NULL) {
        json_object_set_new(j, "user", json_string(src->user));
        json_object_set_new(j, "source", web_pb_to_json(&src->base));
        web_sse_emit(w, kind, src->user, NULL, 0, j);
    } else {
        json_decref(j);
    }
}

void web_sse_publish_related(tspsd *d, const tspsd_event *ev)
{
    tspsd_web *w = d->web;
    json_t *j, *arr;

    if (w == NULL || ev->dec == NULL)
        return;
    arr = json_array();
    for (size_t i = 0; arr != NULL && i < ev->nrelated; i++)
        json_array_append_new(arr, web_pb_to_json(&ev->related[i]->base));
    j = json_pack("{s:s, s:I, s:I, s:s, s:o, s:s}", "kind", ev->kind, "call_id",
                  (json_int_t)ev->call_id, "at", (json_int_t)time(NULL), "user",
                  ev->dec->user, "related", arr != NULL ? arr : json_array(),
                  "related_status", ev->related_status);
    if (j != NULL)
        web_sse_emit(w, ev->kind, ev->dec->user, ev->dec->code, ev->call_id, j);
}

json_t *web_vm_json(const char *user, const tspsd_vm_msg *m)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:b, s:I}", "id",
                     m->id, "user", user, "caller", m->caller, "contact_name",
                     m->contact, "code", m->code, "time", (json_int_t)m->time,
                     "duration_ms", (int)m->duration_ms, "heard", m->heard,
                     "history_id",
                     (json_int_t)strtoull(m->history_id, NULL, 10));
}

void web_sse_publish_voicemail(tspsd *d, const tspsd_event *ev)
{
    tspsd_web *w = d->web;
    json_t *j;

    if (w == NULL || ev->vm_user == NULL || ev->vm == NULL)
        return;
    j = json_pack("{s:s, s:I, s:s, s:s, s:o, s:i, s:i}", "kind", ev->kind, "at",
                  (json_int_t)time(NULL), "user", ev->vm_user, "change",
                  ev->vm_change != NULL ? ev->vm_change : "", "message",
                  web_vm_json(ev->vm_user, ev->vm), "new", (int)ev->vm_new,
                  "old", (int)ev->vm_old);
    if (j != NULL)
        web_sse_emit(w, ev->kind, ev->vm_user, ev->vm->code, 0, j);
}

static void heartbeat(evutil_socket_t fd, short what, void *arg)
{
    tspsd_web *w = arg;
    (void)fd;
    (void)what;
    if (++w->beats % 40 == 0) /* every 10 minutes */
        web_purge_expired(w);
    for (web_client *cl = w->clients, *next; cl != NULL; cl = next) {
        web_session s;
        next = cl->next;
        /* Logged out, expired or revoked meanwhile: the stream ends too.
         * Still open: that is a use of the session. */
        if (web_session_recheck(w, cl->s.key, &s) != 0) {
            end_stream(w, cl);
            continue;
        }
        struct evbuffer *b = evbuffer_new();
        if (b == NULL)
            continue;
        evbuffer_add_printf(b, ": hb\n\n");
        evhttp_send_reply_chunk(cl->req, b);
        evbuffer_free(b);
    }
}

int web_sse_start(tspsd_web *w)
{
    struct timeval tv = {15, 0};
    /* Ids grow across restarts, so a reconnect never replays old ones. */
    w->next_event = (uint64_t)time(NULL) * 1000u;
    web_purge_expired(w);
    w->heartbeat = event_new(w->d->base, -1, EV_PERSIST, heartbeat, w);
    if (w->heartbeat == NULL)
        return -1;
    return event_add(w->heartbeat, &tv);
}

void web_sse_close_all(tspsd_web *w)
{
    while (w->clients != NULL) {
        web_client *cl = w->clients;
        evhttp_connection_set_closecb(cl->evcon, NULL, NULL);
        unlink_client(w, cl);
    }
    if (w->heartbeat != NULL)
        event_free(w->heartbeat);
    w->heartbeat = NULL;
}
