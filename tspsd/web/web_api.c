/*
 * web_api.c - the JSON API under /api/: a generic bridge onto the control
 * protocol handlers (POST /api/rpc/<request field>, same authz and audit as
 * tspsctl), and the pop-up's own views (live calls, one call with its
 * contact, history, related events and devices; acting on it; the user's
 * page preferences). Loop thread only.
 */
#include "web_internal.h"
#include "../store_keys.h"

#include "../log.h"
#include "../related.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int http_status(int code)
{
    switch (code) {
    case TSPS__CODE__OK:
        return 200;
    case TSPS__CODE__DENIED:
        return 403;
    case TSPS__CODE__UNAUTHENTICATED:
        return 401;
    case TSPS__CODE__NOT_FOUND:
        return 404;
    case TSPS__CODE__INVALID:
        return 400;
    case TSPS__CODE__EXISTS:
        return 409;
    case TSPS__CODE__UNSUPPORTED:
        return 501;
    default:
        return 500;
    }
}

json_t *web_decision_json(const tsps_decision *dec, uint64_t call_id)
{
    tspsd_arena a = TSPSD_ARENA_INIT;
    Tsps__Decision *m = tspsd_decision_msg(&a, dec, call_id, 1);
    json_t *j;

    if (m == NULL) {
        tspsd_arena_free(&a);
        return json_object();
    }
    m->json = (char *)"";
    j = web_pb_to_json(&m->base);
    json_object_del(j, "json");
    json_object_set_new(j, "code_source",
                        json_string(tsps_code_source_name(dec->code_source)));
    json_object_set_new(
        j, "status_source",
        json_string(tsps_status_source_name(dec->status_source)));
    json_object_set_new(j, "method_kind",
                        json_string(tsps_method_kind_name(dec->method.kind)));
    tspsd_arena_free(&a);
    return j;
}

json_t *web_response_json(const Tsps__Response *resp, int *status)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
        &tsps__code__descriptor, (int)resp->code);
    json_t *j = web_pb_to_json(&resp->base);
    json_object_set_new(j, "code",
                        json_string(ev != NULL ? ev->name : "INTERNAL"));
    *status = http_status((int)resp->code);
    return j;
}

/* On the worker: a handler that writes the store. */
static void rpc_run(web_job *j)
{
    Tsps__Response resp = TSPS__RESPONSE__INIT;
    j->h->fn(&j->c, &j->r, &resp);
    j->out = web_response_json(&resp, &j->status);
}

/* Run one control-protocol request as this session; reply with its JSON.
 * Takes the job (request message in its arena). */
static void run_request(tspsd_web *w, web_job *j)
{
    const tspsd_handler *h = NULL;
    Tsps__Request *r = &j->r;

    web_conn_init(w->d, &j->c, &j->s);
    if ((int)r->body_case > 0 && (int)r->body_case < TSPSD_MAX_HANDLERS)
        h = &w->d->handlers[r->body_case];
    if (h == NULL || h->fn == NULL ||
        r->body_case == TSPS__REQUEST__BODY_HELLO ||
        r->body_case == TSPS__REQUEST__BODY_SUBSCRIBE) {
        web_send_error(j->req, 404, "no such request (events: /api/events)");
        web_job_free(j);
        return;
    }
    atomic_fetch_add(&w->d->metrics.requests, 1);
    j->h = h;
    /* Store writes (and password hashing) never stall the loop. */
    int off = h->offload_for != NULL ? h->offload_for(r) : h->offload;
    if (off || r->body_case == TSPS__REQUEST__BODY_WEB_PASSWORD) {
        if (off == TSPSD_OFFLOAD_RELATED)
            j->lane = TSPSD_LANE_RELATED;
        else if (off == TSPSD_OFFLOAD_SYNC)
            j->lane = TSPSD_LANE_SYNC;
        web_job_submit(j);
        return;
    }
    rpc_run(j);
    tspsd_asker_end_access(&j->c);
    web_send_json(j->req, j->status, j->out);
    j->out = NULL;
    web_job_free(j);
}

/* A job for one request whose body is the oneof field `f` of Request:
 * the body is made in the job's arena, initialised and set in the
 * request; *body points at it. NULL after answering 500. */
static web_job *rpc_job(tspsd_web *w, struct evhttp_request *req,
                        const web_session *s, const ProtobufCFieldDescriptor *f,
                        void **body)
{
    const ProtobufCMessageDescriptor *md = f->descriptor;
    web_job *job = web_job_new(w, req, rpc_run);
    ProtobufCMessage *b =
        job != NULL ? tspsd_arena_alloc(&job->a, md->sizeof_message) : NULL;

    if (b == NULL) {
        web_job_free(job);
        web_send_error(req, 500, "out of memory");
        return NULL;
    }
    md->message_init(b);
    job->s = *s;
    tsps__request__init(&job->r);
    *(ProtobufCMessage **)((char *)&job->r + f->offset) = b;
    *(uint32_t *)((char *)&job->r + f->quantifier_offset) = f->id;
    *body = b;
    return job;
}

/* The same for the Request field numbered `body_case`. */
static web_job *rpc_job_case(tspsd_web *w, struct evhttp_request *req,
                             const web_session *s, uint32_t body_case,
                             void **body)
{
    return rpc_job(w, req, s,
                   protobuf_c_message_descriptor_get_field(
                       &tsps__request__descriptor, body_case),
                   body);
}

static void api_rpc(tspsd_web *w, struct evhttp_request *req, const char *name,
                    const web_session *s)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(
            &tsps__request__descriptor, name);
    ProtobufCMessage *body;
    char err[200];
    json_t *j;
    web_job *job;

    if (f == NULL || f->type != PROTOBUF_C_TYPE_MESSAGE ||
        !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) {
        web_send_error(req, 404, "no such request");
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        web_send_error(req, 405, "POST only");
        return;
    }
    j = web_body_json(req);
    if (j == NULL) {
        web_send_error(req, 400, "body must be a JSON object");
        return;
    }
    job = rpc_job(w, req, s, f, (void **)&body);
    if (job == NULL) {
        json_decref(j);
        return;
    }
    if (web_pb_from_json(&job->a, j, body, err, sizeof(err)) != 0) {
        json_decref(j);
        web_job_free(job);
        web_send_error(req, 400, err);
        return;
    }
    json_decref(j);
    run_request(w, job);
}

/* ---- live calls ---- */

typedef struct live_ctx {
    tspsd_web *w;
    tspsd_asker *c;
    json_t *arr;
    uint64_t want; /* one call, or 0 = all */
    int64_t since;
    int found;
} live_ctx;

static int ask_timeout(tspsd *d, const tsps_decision *dec)
{
    return dec->method.ask_timeout_s ? (int)dec->method.ask_timeout_s
                                     : d->cfg.sip_ask_timeout_s;
}

static int live_cb(void *arg, uint64_t id, const tsps_decision *dec,
                   int64_t since)
{
    live_ctx *lc = arg;
    char why[160];
    if (lc->want != 0) {
        if (id == lc->want) {
            lc->since = since;
            lc->found = 1;
            return 1;
        }
        return 0;
    }
    if (!tspsd_authz(lc->c, dec->user, TSPSD_RIGHT_MONITOR, dec->code, why,
                     sizeof(why)))
        return 0;
    json_t *j = web_decision_json(dec, id);
    json_object_set_new(j, "outcome", json_string("pending"));
    json_object_set_new(j, "held_since", json_integer(since));
    json_object_set_new(j, "held_until",
                        json_integer(since + ask_timeout(lc->w->d, dec)));
    json_object_set_new(
        j, "can_act",
        json_boolean(tspsd_authz(lc->c, dec->user, TSPSD_RIGHT_ACT, dec->code,
                                 why, sizeof(why))));
    json_array_append_new(lc->arr, j);
    return 0;
}

static void api_calls(tspsd_web *w, struct evhttp_request *req,
                      const web_session *s)
{
    tspsd_asker c;
    live_ctx lc = {w, &c, json_array(), 0, 0, 0};
    web_conn_init(w->d, &c, s);
    tspsd_pending_each(w->d, live_cb, &lc);
    web_send_json(req, 200,
                  json_pack("{s:o, s:I}", "calls", lc.arr, "now",
                            (json_int_t)time(NULL)));
}

/* ---- preferences (per identity): related-items window, favourites ---- */

static json_t *prefs_get(tspsd *d, const char *identity)
{
    char key[128], buf[8192];
    size_t n = 0;
    json_t *j = NULL;

    snprintf(key, sizeof(key), TSPSD_KEY_WEBPREFS "%s", identity);
    if (tsps_kv_get(d->eng, key, buf, sizeof(buf) - 1, &n) == TSPS_OK) {
        buf[n] = '\0';
        j = json_loads(buf, 0, NULL);
    }
    if (!json_is_object(j)) {
        json_decref(j);
        j = json_object();
    }
    if (!json_is_integer(json_object_get(j, "past_days")))
        json_object_set_new(j, "past_days", json_integer(30));
    if (!json_is_integer(json_object_get(j, "next_days")))
        json_object_set_new(j, "next_days", json_integer(14));
    if (!json_is_array(json_object_get(j, "favourites")))
        json_object_set_new(j, "favourites", json_array());
    return j;
}

static void prefs_run(web_job *j)
{
    char key[128];
    char *txt = json_dumps(j->in, JSON_COMPACT);
    int rc;

    snprintf(key, sizeof(key), TSPSD_KEY_WEBPREFS "%s", j->s.identity);
    rc = txt != NULL ? tsps_kv_put(j->w->d->eng, key, txt, strlen(txt))
                     : TSPS_ENOMEM;
    /* the other nodes of a cluster get them too */
    if (rc == TSPS_OK && j->w->d->prefs_written != NULL)
        j->w->d->prefs_written(j->w->d, j->s.identity, txt, strlen(txt));
    free(txt);
    if (rc != TSPS_OK) {
        j->status = 500;
        j->out = json_pack("{s:s}", "error", tsps_strerror(rc));
        return;
    }
    j->status = 200;
    j->out = json_incref(j->in);
}

static void api_prefs(tspsd_web *w, struct evhttp_request *req,
                      const web_session *s)
{
    json_t *b, *out, *fav;
    json_int_t past, next;

    if (evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
        web_send_json(req, 200, prefs_get(w->d, s->identity));
        return;
    }
    b = web_body_json(req);
    if (b == NULL) {
        web_send_error(req, 400, "body must be a JSON object");
        return;
    }
    past = json_integer_value(json_object_get(b, "past_days"));
    next = json_integer_value(json_object_get(b, "next_days"));
    fav = json_object_get(b, "favourites");
    if (past < 0 || past > 3650 || next < 0 || next > 3650 ||
        (fav != NULL && (!json_is_array(fav) || json_array_size(fav) > 50))) {
        json_decref(b);
        web_send_error(req, 400,
                       "past_days/next_days 0..3650, "
                       "favourites: up to 50 {label, number}");
        return;
    }
    out = json_pack("{s:I, s:I, s:[]}", "past_days", past, "next_days", next,
                    "favourites");
    for (size_t i = 0; fav != NULL && i < json_array_size(fav); i++) {
        json_t *e = json_array_get(fav, i);
        const char *l = json_string_value(json_object_get(e, "label"));
        const char *n = json_string_value(json_object_get(e, "number"));
        if (n == NULL || strlen(n) > 64 || (l != NULL && strlen(l) > 64) ||
            strspn(n, "+0123456789 -()") != strlen(n)) {
            json_decref(b);
            json_decref(out);
            web_send_error(req, 400, "a favourite needs a phone number");
            return;
        }
        json_array_append_new(
            json_object_get(out, "favourites"),
            json_pack("{s:s, s:s}", "label", l ? l : n, "number", n));
    }
    json_decref(b);
    web_job *j = web_job_new(w, req, prefs_run);
    if (j == NULL) {
        json_decref(out);
        web_send_error(req, 500, "out of memory");
        return;
    }
    j->s = *s;
    j->in = out;
    web_job_submit(j); /* the store write runs on the worker */
}

/* ---- one call: the pop-up's data ---- */

typedef struct hist_ctx {
    json_t *arr;
} hist_ctx;

static int hist_cb(void *arg, const tsps_call_record *r)
{
    hist_ctx *h = arg;
    char meth[256];
    if (tsps_method_format(&r->decision.method, meth, sizeof(meth), NULL) !=
        TSPS_OK)
        snprintf(meth, sizeof(meth), "%s",
                 tsps_method_kind_name(r->decision.method.kind));
    json_array_append_new(
        h->arr,
        json_pack("{s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s}", "call_id",
                  (json_int_t)r->id, "start", (json_int_t)r->start, "end",
                  (json_int_t)r->end, "outcome", tsps_outcome_name(r->outcome),
                  "method", meth, "code", r->decision.code, "actor",
                  r->decision.actor, "note", r->note));
    return 0;
}

typedef struct ev_ctx {
    json_t *arr;
    const tsps_contact *ct;
    const char *caller;
    int64_t now;
} ev_ctx;

static int attends(const tsps_event *e, const tsps_contact *ct,
                   const char *caller)
{
    char tel[TSPS_E164_MAX + 8];
    snprintf(tel, sizeof(tel), "tel:%s", caller);
    for (unsigned i = 0; i < e->nattendees; i++) {
        const char *a = e->attendees[i];
        if (caller[0] != '\0' &&
            (strcmp(a, tel) == 0 || strcmp(a, caller) == 0))
            return 1;
        for (unsigned k = 0; ct != NULL && k < ct->nemails; k++)
            if (strcasecmp(a, ct->emails[k]) == 0 ||
                (strncasecmp(a, "mailto:", 7) == 0 &&
                 strcasecmp(a + 7, ct->emails[k]) == 0))
                return 1;
    }
    return 0;
}

static int ev_cb(void *arg, const tsps_event *e)
{
    ev_ctx *ec = arg;
    if (e->cancelled || !attends(e, ec->ct, ec->caller))
        return 0;
    json_array_append_new(ec->arr, json_pack("{s:s, s:s, s:I, s:I, s:s}", "uid",
                                             e->uid, "summary", e->summary,
                                             "start", (json_int_t)e->start,
                                             "end", (json_int_t)e->end, "when",
                                             e->end <= ec->now    ? "past"
                                             : e->start > ec->now ? "next"
                                                                  : "now"));
    return 0;
}

static int reg_cb(void *arg, const tsps_registration *r)
{
    json_array_append_new(arg, json_pack("{s:s, s:s, s:s}", "label",
                                         r->label[0] ? r->label : r->contact,
                                         "contact", r->contact, "user_agent",
                                         r->user_agent));
    return 0;
}

static json_t *contact_json(const tsps_contact *ct)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[], s:[]}",
                          "uid", ct->uid, "source", ct->source, "name",
                          ct->name, "org", ct->org, "code", ct->code,
                          "code_source", tsps_code_source_name(ct->code_source),
                          "code_detail", ct->code_detail, "numbers", "emails");
    for (unsigned i = 0; i < ct->nnumbers && i < TSPS_MAX_NUMBERS; i++)
        json_array_append_new(json_object_get(j, "numbers"),
                              json_string(ct->numbers[i]));
    for (unsigned i = 0; i < ct->nemails && i < TSPS_MAX_EMAILS; i++)
        json_array_append_new(json_object_get(j, "emails"),
                              json_string(ct->emails[i]));
    return j;
}

static void api_call(tspsd_web *w, struct evhttp_request *req,
                     const web_session *s, uint64_t id)
{
    tspsd *d = w->d;
    tspsd_asker c;
    tsps_call_record *rec = calloc(1, sizeof(*rec));
    tsps_contact ct;
    const tsps_decision *dec;
    live_ctx lc = {w, &c, NULL, id, 0, 0};
    char why[160], buf[16];
    int64_t now = (int64_t)time(NULL);
    json_t *j, *prefs;
    int have_ct = 0;

    if (rec == NULL) {
        web_send_error(req, 500, "out of memory");
        return;
    }
    web_conn_init(d, &c, s);
    dec = tspsd_pending_get(d, id);
    if (dec == NULL) {
        if (tsps_history_get(d->eng, id, rec) != TSPS_OK) {
            free(rec);
            web_send_error(req, 404, "no such call");
            return;
        }
        dec = &rec->decision;
    } else {
        tspsd_pending_each(d, live_cb, &lc);
        if (tsps_history_get(d->eng, id, rec) != TSPS_OK)
            memset(rec, 0, sizeof(*rec));
    }
    if (!tspsd_authz(&c, dec->user, TSPSD_RIGHT_MONITOR, dec->code, why,
                     sizeof(why))) {
        free(rec);
        web_send_error(req, 404, "no such call"); /* no leak of existence */
        return;
    }
    j = web_decision_json(dec, id);
    json_object_set_new(j, "held", json_boolean(lc.found));
    if (lc.found) {
        json_object_set_new(j, "outcome", json_string("pending"));
        json_object_set_new(j, "held_since", json_integer(lc.since));
        json_object_set_new(j, "held_until",
                            json_integer(lc.since + ask_timeout(d, dec)));
    } else {
        json_object_set_new(j, "outcome",
                            json_string(tsps_outcome_name(rec->outcome)));
        json_object_set_new(j, "start", json_integer(rec->start));
        json_object_set_new(j, "end", json_integer(rec->end));
        json_object_set_new(j, "note", json_string(rec->note));
    }
    json_object_set_new(j, "now", json_integer(now));
    json_object_set_new(
        j, "can_act",
        json_boolean(lc.found && tspsd_authz(&c, dec->user, TSPSD_RIGHT_ACT,
                                             dec->code, why, sizeof(why))));
    if (dec->contact_uid[0] != '\0' &&
        tsps_contact_get(d->eng, dec->user, dec->contact_uid, &ct) == TSPS_OK) {
        have_ct = 1;
        json_object_set_new(j, "contact", contact_json(&ct));
    }
    /* E-mails and documents come later, as "call.related" (or from the
     * related request): does this viewer get any? */
    json_object_set_new(
        j, "related_on",
        json_boolean(tspsd_related_has_sources(d, dec->user) &&
                     tspsd_authz(&c, dec->user, TSPSD_RIGHT_RELATED, dec->code,
                                 why, sizeof(why))));
    /* Related items, filtered by the viewer's window (query overrides). */
    prefs = prefs_get(d, s->identity);
    json_int_t past = json_integer_value(json_object_get(prefs, "past_days"));
    json_int_t next = json_integer_value(json_object_get(prefs, "next_days"));
    if (web_query(req, "past", buf, sizeof(buf)) != NULL)
        past = atoi(buf);
    if (web_query(req, "next", buf, sizeof(buf)) != NULL)
        next = atoi(buf);
    past = past < 0 ? 0 : past > 3650 ? 3650 : past;
    next = next < 0 ? 0 : next > 3650 ? 3650 : next;
    hist_ctx hc = {json_array()};
    if (dec->caller[0] != '\0')
        tsps_history_by_caller(d->eng, dec->user, dec->caller, 20, hist_cb,
                               &hc);
    /* Calls with a web chat: the transcript is kept with the call. */
    for (size_t i = 0; i < json_array_size(hc.arr); i++) {
        json_t *h = json_array_get(hc.arr, i);
        char key[64];
        size_t n = 0;
        snprintf(key, sizeof(key), TSPSD_KEY_CHAT "%lld",
                 (long long)json_integer_value(json_object_get(h, "call_id")));
        json_object_set_new(h, "chat",
                            json_boolean(tsps_kv_get(d->eng, key, NULL, 0,
                                                     &n) == TSPS_ENOBUFS));
    }
    json_object_set_new(j, "history", hc.arr);
    ev_ctx ec = {json_array(), have_ct ? &ct : NULL, dec->caller, now};
    tsps_event_list(d->eng, dec->user, now - past * 86400,
                    now + next * 86400 + 1, ev_cb, &ec);
    json_object_set_new(j, "events", ec.arr);
    json_object_set_new(
        j, "criteria",
        json_pack("{s:I, s:I}", "past_days", past, "next_days", next));
    json_t *devs = json_array();
    tsps_registration_list(d->eng, dec->user, now, reg_cb, devs);
    json_object_set_new(j, "devices", devs);
    json_object_set(j, "favourites", json_object_get(prefs, "favourites"));
    json_decref(prefs);
    free(rec);
    web_send_json(req, 200, j);
}

static void api_act(tspsd_web *w, struct evhttp_request *req,
                    const web_session *s, uint64_t id)
{
    json_t *b = web_body_json(req);
    const char *action =
        b ? json_string_value(json_object_get(b, "action")) : NULL;
    web_job *j;
    Tsps__CallAct *act;

    if (action == NULL || strlen(action) > 200) {
        json_decref(b);
        web_send_error(req, 400,
                       "{\"action\": \"forward NUMBER\" | "
                       "\"voicemail\" | \"attendant\" | "
                       "\"take DEVICE\" | \"reject\"}");
        return;
    }
    j = rpc_job_case(w, req, s, TSPS__REQUEST__BODY_CALL_ACT, (void **)&act);
    if (j == NULL) {
        json_decref(b);
        return;
    }
    act->call_id = id;
    act->action = tspsd_arena_strdup(&j->a, action);
    json_decref(b);
    run_request(w, j);
}

/* ---- GET /api/related/doc?call=ID&url=file://...: a related document ----
 * (or a Maildir mail). Served only to whom may see the related items of
 * that call's caller (the user, an admin, an attendant with the related
 * right for the caller's code), and only a link that the caller's lookup
 * gives, inside its source's folder (tspsd_related_doc_open). */

#define WEB_DOC_MAX (64 << 20) /* larger documents: open them at the source */

static void doc_run(web_job *j)
{
    tspsd *d = j->w->d;
    const char *url = json_string_value(json_object_get(j->in, "url"));
    const char *caller = json_string_value(json_object_get(j->in, "caller"));
    tsps_contact who;
    int known = 0, fd = -1, rc;
    int64_t size = 0;

    /* no caller (a withheld number): nothing is related to it */
    rc = tspsd_related_who(d, j->user, caller, &who, &known) == TSPS_OK
             ? tspsd_related_doc_open(d, j->user, &who, url, &fd, j->fname,
                                      sizeof(j->fname), &size)
             : TSPS_ENOTFOUND;
    if (rc != TSPS_OK) {
        j->status = rc == TSPS_EINVAL ? 400 : 404;
        j->out = json_pack("{s:s}", "error",
                           rc == TSPS_EINVAL
                               ? "url: the file:// link of a related document"
                               : "no such document for this caller");
        tspsd_log(TSPSD_LOG_INFO, j->id, j->user, "related document refused",
                  "by=%s reason=\"%s\"", j->s.identity,
                  rc == TSPS_EINVAL ? "bad link" : "not a related document");
        return;
    }
    if (size > WEB_DOC_MAX) {
        close(fd);
        j->status = 413;
        j->out = json_pack("{s:s}", "error",
                           "the document is over 64 MiB: open it where it is");
        return;
    }
    j->file = evbuffer_new();
    while (j->file != NULL) {
        int n = evbuffer_read(j->file, fd, 65536);
        if (n == 0)
            break;
        if (n < 0 || evbuffer_get_length(j->file) > WEB_DOC_MAX) {
            evbuffer_free(j->file);
            j->file = NULL;
        }
    }
    close(fd);
    if (j->file == NULL) {
        j->status = 500;
        j->out = json_pack("{s:s}", "error", "could not read the document");
        return;
    }
    tspsd_log(TSPSD_LOG_INFO, j->id, j->user, "related document served",
              "by=%s bytes=%zu", j->s.identity, evbuffer_get_length(j->file));
    j->status = 200;
}

/* On the loop: the file goes out instead of a JSON answer. */
static void doc_done(web_job *j)
{
    if (j->file == NULL || j->status != 200 || j->req == NULL)
        return;
    web_send_download(j->req, j->file, j->fname);
    j->req = NULL; /* answered */
}

static void api_related_doc(tspsd_web *w, struct evhttp_request *req,
                            const web_session *s)
{
    tspsd *d = w->d;
    tspsd_asker c;
    tsps_call_record *rec;
    const tsps_decision *dec;
    char idbuf[32], url[TSPSD_PATH_MAX * 3], why[160];
    uint64_t id = 0;
    web_job *j;

    if (web_query(req, "call", idbuf, sizeof(idbuf)) != NULL)
        id = strtoull(idbuf, NULL, 10);
    if (id == 0 || web_query(req, "url", url, sizeof(url)) == NULL) {
        web_send_error(req, 400, "?call=ID&url=LINK of a related document");
        return;
    }
    rec = calloc(1, sizeof(*rec));
    if (rec == NULL) {
        web_send_error(req, 500, "out of memory");
        return;
    }
    web_conn_init(d, &c, s);
    dec = tspsd_pending_get(d, id);
    if (dec == NULL && tsps_history_get(d->eng, id, rec) == TSPS_OK)
        dec = &rec->decision;
    if (dec == NULL || !tspsd_authz(&c, dec->user, TSPSD_RIGHT_MONITOR,
                                    dec->code, why, sizeof(why))) {
        free(rec);
        web_send_error(req, 404, "no such call"); /* no leak of existence */
        return;
    }
    /* E-mails and documents are private: monitor alone does not do. */
    if (!tspsd_authz(&c, dec->user, TSPSD_RIGHT_RELATED, dec->code, why,
                     sizeof(why))) {
        char q[200];
        tspsd_log(TSPSD_LOG_WARN, id, dec->user, "related document refused",
                  "audit=1 by=%s reason=%s", s->identity,
                  tspsd_log_quote(why, q, sizeof(q)));
        free(rec);
        web_send_error(req, 403, why);
        return;
    }
    j = web_job_new(w, req, doc_run);
    if (j == NULL) {
        free(rec);
        web_send_error(req, 500, "out of memory");
        return;
    }
    j->s = *s;
    j->id = id;
    j->done = doc_done;
    j->lane = TSPSD_LANE_RELATED;
    snprintf(j->user, sizeof(j->user), "%s", dec->user);
    j->in =
        json_pack("{s:s, s:s}", "url", url, "caller",
                  dec->contact_uid[0] != '\0' ? dec->contact_uid : dec->caller);
    free(rec);
    if (j->in == NULL) {
        web_job_free(j);
        web_send_error(req, 500, "out of memory");
        return;
    }
    web_job_submit(j);
}

/* Users who delegated to this identity (for the console). */
static int deleg_cb(void *arg, const char *key, const void *val, size_t len)
{
    void **ctx = arg;
    const char *me = ctx[0];
    json_t *arr = ctx[1];
    const char *rest = key + strlen(TSPSD_KEY_DELEG);
    const char *slash = strrchr(rest, '/');
    if (slash == NULL || strcmp(slash + 1, me) != 0)
        return 0;
    Tsps__Delegation *dl = tsps__delegation__unpack(NULL, len, val);
    if (dl == NULL)
        return 0;
    json_array_append_new(arr, web_pb_to_json(&dl->base));
    tsps__delegation__free_unpacked(dl, NULL);
    return 0;
}

static void api_me(tspsd_web *w, struct evhttp_request *req,
                   const web_session *s)
{
    json_t *att = json_array();
    void *ctx[2] = {(void *)s->identity, att};
    tsps_user u;
    tsps_kv_list(w->d->eng, TSPSD_KEY_DELEG, deleg_cb, ctx);
    int is_user = tsps_user_get(w->d->eng, s->identity, &u) == TSPS_OK;
    web_send_json(req, 200,
                  json_pack("{s:s, s:b, s:b, s:s, s:o, s:o, s:s}", "identity",
                            s->identity, "admin", s->admin, "is_user", is_user,
                            "csrf", s->csrf, "attending", att, "prefs",
                            prefs_get(w->d, s->identity), "display_name",
                            is_user ? u.display_name : ""));
}

static void password_run(web_job *j)
{
    int rc = tspsd_web_set_password(j->w->d, j->s.identity, j->secret);
    OPENSSL_cleanse(j->secret, sizeof(j->secret));
    if (rc != TSPS_OK) {
        j->status = rc == TSPS_EINVAL ? 400 : 500;
        j->out = json_pack("{s:s}", "error",
                           rc == TSPS_EINVAL ? "password: 8 to 256 characters"
                                             : tsps_strerror(rc));
        return;
    }
    tspsd_log(TSPSD_LOG_INFO, 0, j->s.identity, "web password set", "by=%s",
              j->s.identity);
    j->status = 200;
    j->out = json_pack("{s:b}", "ok", 1);
}

static void api_password(tspsd_web *w, struct evhttp_request *req,
                         const web_session *s)
{
    json_t *b = web_body_json(req);
    const char *pw =
        b ? json_string_value(json_object_get(b, "password")) : NULL;
    web_job *j;

    if (pw == NULL || strlen(pw) < 8 || strlen(pw) > 256) {
        json_decref(b);
        web_send_error(req, 400, "password: 8 to 256 characters");
        return;
    }
    j = web_job_new(w, req, password_run);
    if (j == NULL) {
        json_decref(b);
        web_send_error(req, 500, "out of memory");
        return;
    }
    j->s = *s;
    snprintf(j->secret, sizeof(j->secret), "%s", pw);
    json_decref(b);
    web_job_submit(j);
}

/* Working hours and time zone: the user themself (the control protocol's
 * user.put is admin-only and replaces the whole user). On the worker. The
 * changed user is written through the user.put handler, as an internal
 * admin once api_hours has checked the right, so that whatever wraps the
 * handler (the cluster publishes it to the other nodes) sees this write
 * like any other. */
static void hours_run(web_job *j)
{
    tspsd *d = j->w->d;
    tsps_user u;
    const char *tz = json_string_value(json_object_get(j->in, "tz"));
    const char *hours = json_string_value(json_object_get(j->in, "hours"));
    char hb[512] = "";
    int rc = tsps_user_get(d->eng, j->user, &u);

    if (rc == TSPS_OK && tz != NULL) {
        if (strlen(tz) >= sizeof(u.tz))
            rc = TSPS_ETZ;
        else
            snprintf(u.tz, sizeof(u.tz), "%s", tz[0] ? tz : "UTC");
    }
    if (rc == TSPS_OK && hours != NULL)
        rc = tsps_hours_parse(hours, &u.hours);
    if (rc == TSPS_OK)
        rc = tsps_hours_format(&u.hours, hb, sizeof(hb), NULL);
    if (rc != TSPS_OK) {
        j->status = rc == TSPS_ENOTFOUND ? 404 : 400;
        j->out = json_pack("{s:s}", "error", tsps_strerror(rc));
        return;
    }
    /* The user as user.put takes it: every field the protocol carries
     * (the engine's others are never set by tspsd), numbers untouched. */
    Tsps__Request r = TSPS__REQUEST__INIT;
    Tsps__UserPut up = TSPS__USER_PUT__INIT;
    Tsps__User m = TSPS__USER__INIT;
    Tsps__Response resp = TSPS__RESPONSE__INIT;
    tspsd_asker a;
    m.id = u.id;
    m.display_name = u.display_name;
    m.region = u.dialplan.region;
    m.tz = u.tz;
    m.hours = hb;
    m.attendant_uri = u.attendant_uri;
    m.voicemail_uri = u.voicemail_uri;
    up.user = &m;
    r.body_case = TSPS__REQUEST__BODY_USER_PUT;
    r.user_put = &up;
    memset(&a, 0, sizeof(a));
    a.d = d;
    snprintf(a.identity, sizeof(a.identity), "%s", j->s.identity);
    a.admin = 1; /* api_hours checked the own right: this one write only */
    a.role = TSPSD_ROLE_ADMIN;
    a.via_token = 1;
    int code = d->handlers[TSPS__REQUEST__BODY_USER_PUT].fn(&a, &r, &resp);
    if (code != TSPS__CODE__OK) {
        j->status = http_status(code);
        j->out = json_pack("{s:s}", "error",
                           resp.error != NULL ? resp.error : "user.put failed");
        tspsd_arena_free(&a.arena);
        return;
    }
    tspsd_arena_free(&a.arena);
    tspsd_log(TSPSD_LOG_INFO, 0, u.id, "hours set", "by=%s", j->s.identity);
    /* Hours saved are the hours that apply: the engine keeps "no working
     * hours" as every day 00:00-24:00, not as a flag that would ignore
     * what the page shows (docs/engine.md). */
    j->status = 200;
    j->out = json_pack("{s:s, s:s, s:b, s:s}", "tz", u.tz, "hours", hb,
                       "in_effect", 1, "note",
                       hours != NULL && hours[0] != '\0'
                           ? "saved: these working hours apply now"
                           : "");
}

static void api_hours(tspsd_web *w, struct evhttp_request *req,
                      const web_session *s)
{
    tspsd_asker c;
    char why[160];
    json_t *b = web_body_json(req);
    const char *user = b ? json_string_value(json_object_get(b, "user")) : NULL;
    web_job *j;

    web_conn_init(w->d, &c, s);
    if (user == NULL || !tspsd_identity_valid(user) ||
        (json_object_get(b, "tz") == NULL &&
         json_object_get(b, "hours") == NULL)) {
        json_decref(b);
        web_send_error(req, 400, "{user, tz, hours} required");
        return;
    }
    if (!tspsd_authz(&c, user, TSPSD_RIGHT_OWN, NULL, why, sizeof(why))) {
        json_decref(b);
        web_send_error(req, 403, why);
        return;
    }
    j = web_job_new(w, req, hours_run);
    if (j == NULL) {
        json_decref(b);
        web_send_error(req, 500, "out of memory");
        return;
    }
    j->s = *s;
    snprintf(j->user, sizeof(j->user), "%s", user);
    j->in = b;
    web_job_submit(j);
}

/* ---- the voicemail inbox: the same handlers (and authz) as tspsctl ---- */

/* The mailbox a request names: ?user= (GET) or "user" in the body (POST);
 * "" = the session's own. */
static void vm_user(struct evhttp_request *req, char *buf, size_t len)
{
    json_t *b;
    const char *u;
    buf[0] = '\0';
    if (evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
        web_query(req, "user", buf, len);
        return;
    }
    b = web_body_json(req);
    u = b != NULL ? json_string_value(json_object_get(b, "user")) : NULL;
    if (u != NULL)
        snprintf(buf, len, "%s", u);
    json_decref(b);
}

static void api_vm_list(tspsd_web *w, struct evhttp_request *req,
                        const web_session *s)
{
    char user[TSPSD_IDENT_MAX];
    Tsps__VoicemailList *b;
    web_job *job = rpc_job_case(w, req, s, TSPS__REQUEST__BODY_VOICEMAIL_LIST,
                                (void **)&b);

    if (job == NULL)
        return;
    vm_user(req, user, sizeof(user));
    b->user = tspsd_arena_strdup(&job->a, user);
    run_request(w, job);
}

static void api_vm_act(tspsd_web *w, struct evhttp_request *req,
                       const web_session *s, const char *id, const char *action)
{
    char user[TSPSD_IDENT_MAX];
    Tsps__VoicemailAct *b;
    web_job *job =
        rpc_job_case(w, req, s, TSPS__REQUEST__BODY_VOICEMAIL_ACT, (void **)&b);

    if (job == NULL)
        return;
    vm_user(req, user, sizeof(user));
    b->user = tspsd_arena_strdup(&job->a, user);
    b->id = tspsd_arena_strdup(&job->a, id);
    b->action = tspsd_arena_strdup(&job->a, action);
    run_request(w, job);
}

/* The WAV as audio/wav for the page's <audio>: rights and audit as
 * voicemail.get, then the file straight from its descriptor. */
static void api_vm_audio(tspsd_web *w, struct evhttp_request *req,
                         const web_session *s, const char *id)
{
    char user[TSPSD_IDENT_MAX];
    tspsd_asker c;
    Tsps__Response resp = TSPS__RESPONSE__INIT;
    tspsd_vm_msg m;
    int fd = -1, status;

    vm_user(req, user, sizeof(user));
    web_conn_init(w->d, &c, s);
    atomic_fetch_add(&w->d->metrics.requests, 1);
    int code = tspsd_vm_asker_open(&c, &resp, user[0] ? user : s->identity, id,
                                   &fd, &m);
    if (code != TSPS__CODE__OK) {
        json_t *j = web_response_json(&resp, &status);
        tspsd_arena_free(&c.arena);
        web_send_json(req, status, j);
        return;
    }
    tspsd_arena_free(&c.arena);
    web_send_fd(req, fd, "audio/wav");
}

void web_api(tspsd_web *w, struct evhttp_request *req, const char *path,
             const web_session *s)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    char *end;

    if (strcmp(path, "me") == 0) {
        api_me(w, req, s);
    } else if (strncmp(path, "rpc/", 4) == 0) {
        api_rpc(w, req, path + 4, s);
    } else if (strcmp(path, "calls") == 0 && m == EVHTTP_REQ_GET) {
        api_calls(w, req, s);
    } else if (strcmp(path, "prefs") == 0) {
        api_prefs(w, req, s);
    } else if (strcmp(path, "hours") == 0 && m == EVHTTP_REQ_POST) {
        api_hours(w, req, s);
    } else if (strcmp(path, "related/doc") == 0 && m == EVHTTP_REQ_GET) {
        api_related_doc(w, req, s);
    } else if (strcmp(path, "password") == 0 && m == EVHTTP_REQ_POST) {
        api_password(w, req, s);
    } else if (strcmp(path, "voicemail") == 0 && m == EVHTTP_REQ_GET) {
        api_vm_list(w, req, s);
    } else if (strncmp(path, "voicemail/", 10) == 0) {
        char id[64];
        const char *rest = path + 10, *sl = strchr(rest, '/');
        if (sl == NULL || (size_t)(sl - rest) >= sizeof(id) || sl == rest) {
            web_send_error(req, 404, "not found");
            return;
        }
        snprintf(id, sizeof(id), "%.*s", (int)(sl - rest), rest);
        if (strcmp(sl, "/audio") == 0 && m == EVHTTP_REQ_GET)
            api_vm_audio(w, req, s, id);
        else if (strcmp(sl, "/heard") == 0 && m == EVHTTP_REQ_POST)
            api_vm_act(w, req, s, id, "heard");
        else if (strcmp(sl, "/delete") == 0 && m == EVHTTP_REQ_POST)
            api_vm_act(w, req, s, id, "delete");
        else
            web_send_error(req, 404, "not found");
    } else if (strncmp(path, "call/", 5) == 0) {
        uint64_t id = strtoull(path + 5, &end, 10);
        if (id == 0 || end == path + 5) {
            web_send_error(req, 404, "no such call");
        } else if (*end == '\0' && m == EVHTTP_REQ_GET) {
            api_call(w, req, s, id);
        } else if (strcmp(end, "/act") == 0 && m == EVHTTP_REQ_POST) {
            api_act(w, req, s, id);
        } else {
            web_send_error(req, 404, "not found");
        }
    } else {
        web_send_error(req, 404, "not found");
    }
}
