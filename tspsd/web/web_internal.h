/* web_internal.h - shared between the tspsd/web/ sources only. */
#ifndef TSPSD_WEB_INTERNAL_H
#define TSPSD_WEB_INTERNAL_H

#include <jansson.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "../daemon.h"
#include "../pool.h"
#include "web.h"

#define WEB_RING                 512 /* events kept for Last-Event-ID replay */
#define WEB_CSRF_HDR             "X-CSRF-Token"
#define WEB_COOKIE               "tsps_session"
#define WEB_PRE_COOKIE           "tsps_pre"
#define WEB_MAX_BODY             65536
#define WEB_MAX_STREAMS          256 /* concurrent event streams */
#define WEB_STREAMS_PER_SESSION  4   /* a page or two, and a reconnect */
#define WEB_STREAMS_PER_IDENTITY 16  /* a user (guests: per chat room) */
#define WEB_GUESTS_PER_INVITE    4   /* guest sessions one invitation makes */
#define WEB_TOUCH_SLOTS          256 /* last-use writes remembered (web_auth.c) */
/* Login throttle (web_throttle.c). */
#define WEB_LOGIN_ACCOUNT_FAILS 5   /* failures per account ... */
#define WEB_LOGIN_ADDR_FAILS    20  /* ... and per source address ... */
#define WEB_LOGIN_WINDOW_S      900 /* ... within 15 minutes lock ... */
#define WEB_LOGIN_LOCK_S        300 /* ... password login for 5 minutes */
#define WEB_LOGIN_SLOTS         1024

/** A login failure counter: "u:<user>" or "a:<address>". */
typedef struct web_login_counter {
    char key[72];
    int fails;     /* failures since first */
    int inflight;  /* attempts being checked now */
    int64_t first; /* first failure of the window */
    int64_t until; /* locked until then (monotonic seconds) */
} web_login_counter;

/** A logged-in browser (or a chat guest). */
typedef struct web_session {
    char identity[TSPSD_IDENT_MAX]; /* "" for guests */
    int admin;
    int64_t expires;   /* absolute end ([web] session_lifetime) */
    int64_t created;   /* login time */
    int64_t last_used; /* as last recorded ([web] session_idle_timeout) */
    char csrf[65];
    uint64_t guest_call; /* guests: the one chat room they may use */
    char guest_name[64];
    char key[96]; /* kv key of the session */
} web_session;

typedef struct web_event {
    uint64_t id;
    char kind[32];
    char user[TSPSD_IDENT_MAX];
    char code[TSPS_CODE_MAX];
    uint64_t call_id;
    char *data; /* JSON text, malloc'd */
} web_event;

/** "call.related" to the streams whose identity has the related right
 * (web_sse.c). Loop thread. */
void web_sse_publish_related(tspsd *d, const tspsd_event *ev);

/** "voicemail.new" / "voicemail.changed" to the streams whose identity
 * may see the mailbox (web_sse.c). Loop thread. */
void web_sse_publish_voicemail(tspsd *d, const tspsd_event *ev);
/** One voicemail message as the web UI's JSON. */
json_t *web_vm_json(const char *user, const tspsd_vm_msg *m);

typedef struct web_client web_client;
typedef struct web_job web_job;

/** A request run on the worker pool's web lane (web_work.c). */
struct web_job {
    tspsd_work pw; /* the pool's handle */
    int lane;      /* 0: the web lane; TSPSD_LANE_RELATED for lookups */
    tspsd_web *w;
    struct evhttp_request *req;
    void (*run)(web_job *j);  /* on the worker: fills status, out */
    void (*done)(web_job *j); /* optional, on the loop before replying */
    web_session s;            /* who asks */
    tspsd_asker c;            /* for control-protocol handlers */
    tspsd_arena a;            /* the request message lives here */
    Tsps__Request r;
    const tspsd_handler *h;
    char user[TSPSD_IDENT_MAX];
    char secret[264]; /* a password: wiped after use */
    char addr[64];    /* the peer's address (login throttle) */
    char key[128];    /* a kv key to write (session last-use) */
    json_t *in;       /* request data the worker needs (owned) */
    uint64_t id;      /* a call id */
    char code[TSPS_CODE_MAX];
    int status;
    json_t *out;
    char cookie[65]; /* session id to set, "" = none */
    long cookie_age;
    int clear_pre;         /* drop the pre-login CSRF cookie */
    struct evbuffer *file; /* a download (GET /api/related/doc), or NULL */
    char fname[256];       /* its name */
    web_job *next;
};

struct tspsd_web {
    tspsd *d;
    struct evhttp *http;
    SSL_CTX *ssl;
    int port;
    char base_url[300];
    uint64_t next_event;
    web_event ring[WEB_RING];
    size_t ring_head; /* next slot */
    web_client *clients;
    size_t nclients;
    unsigned beats;
    struct event *heartbeat;
    uint64_t next_conn_id;
    web_login_counter logins[WEB_LOGIN_SLOTS];
    /* Last-use times written (or queued) lately, by session hash: at most
     * one store write per session per refresh interval (loop only). */
    struct {
        char hash[65];
        int64_t at;
    } touched[WEB_TOUCH_SLOTS];
};

/* ---- web_server.c ---- */
void web_send_json(struct evhttp_request *req, int status, json_t *j);
void web_send_error(struct evhttp_request *req, int status, const char *msg);
/** 200 with body (a file) as an attachment named name (Content-Disposition
 * attachment, application/octet-stream, no-store, the common headers). */
void web_send_download(struct evhttp_request *req, struct evbuffer *body,
                       const char *name);
/** Request body as a JSON object (NULL: the caller answers 400). */
json_t *web_body_json(struct evhttp_request *req);
/** Value of a cookie, or NULL (into buf). */
const char *web_cookie(struct evhttp_request *req, const char *name, char *buf,
                       size_t len);
void web_set_cookie(struct evhttp_request *req, const char *name,
                    const char *value, long max_age);
/** The control-protocol Response as JSON; *status = HTTP status. */
json_t *web_response_json(const Tsps__Response *resp, int *status);
/** Reply 200 with the whole file fd (closed when sent) as `type`. */
void web_send_fd(struct evhttp_request *req, int fd, const char *type);
/** A query parameter of the URI (into buf), or NULL. */
const char *web_query(struct evhttp_request *req, const char *key, char *buf,
                      size_t len);
/** A conn that the control handlers and tspsd_authz accept. */
void web_conn_init(tspsd *d, tspsd_asker *c, const web_session *s);
int web_random_hex(char *out, size_t bytes);
/** The peer's IP address, as text ("unknown" when not known). */
void web_peer_addr(struct evhttp_request *req, char *out, size_t len);
void web_sha256_hex(const char *in, char out[65]);

/* ---- web_work.c ---- */
int web_work_start(tspsd_web *w);
/** Wait for the web lane of the pool, answer what finished. */
void web_work_stop(tspsd_web *w);
web_job *web_job_new(tspsd_web *w, struct evhttp_request *req,
                     void (*run)(web_job *j));
/** Queue it; the loop answers when it is done. */
void web_job_submit(web_job *j);
void web_job_free(web_job *j);

/* ---- web_auth.c ---- */
/** Store a new session (any thread); its id (the cookie) into sid. */
int web_session_new(tspsd_web *w, const char *identity, uint64_t guest_call,
                    const char *guest_name, web_session *out, char sid[65]);
/**
 * Session of the request, if it is still valid: stored, within its
 * lifetime, used within [web] session_idle_timeout. Refreshes its last
 * use (a store write on the web worker at most every
 * web_touch_interval() seconds). @return 0, or -1 (none / expired).
 */
int web_session_get(tspsd_web *w, struct evhttp_request *req, web_session *out);
/**
 * Reload the session stored under key (an event stream's): 0 while it
 * exists and is within its lifetime, else -1. An open stream is a use:
 * it is not idle, and its last use is refreshed as for a request.
 */
int web_session_recheck(tspsd_web *w, const char *key, web_session *out);
/** Seconds between two last-use writes of one session (1..60). */
int web_touch_interval(const tspsd_config *cfg);
int web_session_create(tspsd_web *w, struct evhttp_request *req,
                       const char *identity, uint64_t guest_call,
                       const char *guest_name, web_session *out);
void web_session_destroy(tspsd_web *w, const web_session *s);
/** 1 when the request carries the session's CSRF token. */
int web_csrf_ok(struct evhttp_request *req, const web_session *s);
/** /api/login, /api/logout, /api/csrf, /login?t= */
void web_h_login(tspsd_web *w, struct evhttp_request *req);
void web_h_logout(tspsd_web *w, struct evhttp_request *req);
void web_h_precsrf(tspsd_web *w, struct evhttp_request *req);
void web_h_link(tspsd_web *w, struct evhttp_request *req);
/** Delete expired sessions, login links and chat invitations. */
void web_purge_expired(tspsd_web *w);

/* ---- web_throttle.c (loop thread only) ---- */
/**
 * Start a password attempt for user (NULL: a name that cannot exist) from
 * addr: 0 = go ahead (counted as in flight), -1 = refuse with 429.
 */
int web_login_begin(tspsd_web *w, const char *user, const char *addr);
/** End it: ok 1 = right password, 0 = wrong, -1 = not checked. */
void web_login_end(tspsd_web *w, const char *user, const char *addr, int ok);

/* ---- web_pbjson.c ---- */
json_t *web_pb_to_json(const ProtobufCMessage *m);
/**
 * Fill a zeroed, initialised message from a JSON object; strings, arrays
 * and sub-messages live in the arena. @return 0 or -1 (reason in err).
 */
int web_pb_from_json(tspsd_arena *a, const json_t *j, ProtobufCMessage *m,
                     char *err, size_t errlen);

/* ---- web_api.c ---- */
void web_api(tspsd_web *w, struct evhttp_request *req, const char *path,
             const web_session *s);
json_t *web_decision_json(const tsps_decision *dec, uint64_t call_id);

/* ---- web_sse.c ---- */
void web_sse_open(tspsd_web *w, struct evhttp_request *req,
                  const web_session *s);
/** Append an event to the ring and send it to every stream allowed. */
void web_sse_emit(tspsd_web *w, const char *kind, const char *user,
                  const char *code, uint64_t call_id, json_t *data);
void web_sse_close_all(tspsd_web *w);
int web_sse_start(tspsd_web *w);
/** Is an event stream open on the session stored under key? */
int web_sse_has_session(tspsd_web *w, const char *key);
/** End the event streams of the session stored under key (logout). */
void web_sse_close_session(tspsd_web *w, const char *key);

/* ---- web_chat.c ---- */
void web_chat(tspsd_web *w, struct evhttp_request *req, const char *rest,
              const web_session *s);
void web_h_chat_join(tspsd_web *w, struct evhttp_request *req);
/** May this session see the chat room of call_id? */
int web_chat_may(tspsd_web *w, const web_session *s, uint64_t call_id,
                 const char *user, const char *code, int right);

/* ---- web_static.c (generated) ---- */
typedef struct web_asset {
    const char *path;
    const char *type;
    const unsigned char *data;
    size_t len;
} web_asset;
const web_asset *web_asset_find(const char *path);

#endif
