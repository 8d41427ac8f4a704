/*
 * ctl_server.c - the control socket: TLS (bufferevent_openssl) connections
 * carrying length-prefixed protobuf frames. A bad frame or a failed
 * handshake closes only that connection, with a logged reason.
 */
#include "daemon.h"
#include "frame.h"
#include "log.h"
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A connection with its output staging buffer: replies to every frame of
 * one read go out in one write (one TLS record, one syscall) instead of
 * one each. Kept here, not in daemon.h: only this file writes to sockets.
 */
typedef struct conn_io {
    tspsd_conn c; /* first: a tspsd_conn * is a conn_io * */
    uint8_t *obuf;
    size_t olen, ocap;
    int batching;
    int throttled; /* stopped reading: the peer does not read its replies */
    struct event *resume; /* checks, while throttled, if it reads again;
                           * while closing, if the last reply went out */
    int closing;     /* access ended: read nothing more, close when flushed */
    int close_ticks; /* RESUME_US ticks spent closing */
    struct event *hs_timer; /* [control] handshake_timeout: TLS + Hello */
    char host[64];          /* peer address without the port */
} conn_io;

/* A peer that sends requests but does not read the replies stops being
 * read once this much waits for it, and is read again below OUT_LOW. */
#define OUT_HIGH (4u << 20)
#define OUT_LOW  (256u << 10)

/* A closing connection whose peer does not take its last reply is cut
 * after CLOSE_TICKS ticks of RESUME_US (5 s). */
#define RESUME_US   20000
#define CLOSE_TICKS 250

#define IO(c) ((conn_io *)(c))

/* Bytes queued for the peer: replies not yet encrypted, and TLS records
 * not yet written to the socket. */
static size_t queued_out(tspsd_conn *c)
{
    struct bufferevent *u = bufferevent_get_underlying(c->bev);
    return evbuffer_get_length(bufferevent_get_output(c->bev)) +
           (u != NULL ? evbuffer_get_length(bufferevent_get_output(u)) : 0) +
           IO(c)->olen;
}

static int flush_out(tspsd_conn *c)
{
    conn_io *io = IO(c);
    int rc = 0;
    if (io->olen > 0 && c->bev != NULL)
        rc = bufferevent_write(c->bev, io->obuf, io->olen);
    io->olen = 0;
    if (io->ocap > (256u << 10)) { /* a big reply once: do not keep it */
        free(io->obuf);
        io->obuf = NULL;
        io->ocap = 0;
    }
    return rc;
}

void tspsd_conn_destroy(tspsd_conn *c)
{
    if (IO(c)->resume != NULL)
        event_free(IO(c)->resume);
    if (IO(c)->hs_timer != NULL)
        event_free(IO(c)->hs_timer);
    tspsd_arena_free(&c->a.arena);
    free(IO(c)->obuf);
    free(c);
}

static void conn_free(tspsd_conn *c)
{
    tspsd *d = c->a.d;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        d->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    if (IO(c)->hs_timer != NULL)
        evtimer_del(IO(c)->hs_timer);
    if (c->bev != NULL) {
        SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
        /* No close_notify wait: the peer may be gone or hostile. */
        if (ssl != NULL)
            SSL_set_shutdown(ssl, SSL_RECEIVED_SHUTDOWN);
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    atomic_fetch_sub(&d->metrics.clients, 1);
    if (c->job_inflight) {
        /* The write worker still uses it: free when the job returns. */
        c->close_after_job = 1;
        return;
    }
    tspsd_conn_destroy(c);
}

static void conn_close(tspsd_conn *c, int level, const char *reason)
{
    char q[256];
    tspsd_log(level, 0, c->a.identity, "control connection closed",
              "conn=%llu peer=%s reason=%s", (unsigned long long)c->a.id,
              c->peer, tspsd_log_quote(reason, q, sizeof(q)));
    conn_free(c);
}

int tspsd_conn_send(tspsd_conn *c, const Tsps__Response *resp)
{
    conn_io *io = IO(c);
    size_t n = tsps__response__get_packed_size(resp);

    if (n > (64u << 20) || c->bev == NULL)
        return -1;
    if (io->ocap - io->olen < n + TSPSD_FRAME_HDR) {
        size_t cap = io->ocap ? io->ocap : 16384;
        while (cap - io->olen < n + TSPSD_FRAME_HDR)
            cap *= 2;
        uint8_t *nb = realloc(io->obuf, cap);
        if (nb == NULL)
            return -1;
        io->obuf = nb;
        io->ocap = cap;
    }
    tspsd_frame_header(io->obuf + io->olen, (uint32_t)n);
    tsps__response__pack(resp, io->obuf + io->olen + TSPSD_FRAME_HDR);
    io->olen += n + TSPSD_FRAME_HDR;
    /* Outside a read (events for subscribers), send at once. */
    return io->batching ? 0 : flush_out(c);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    tspsd_conn *c = arg;
    tspsd *d = c->a.d;
    struct evbuffer *in = bufferevent_get_input(bev);

    if (c->job_inflight || IO(c)->closing)
        return; /* resumed by tspsd_conn_job_done(); closing reads no more */
    IO(c)->batching = 1;
    for (;;) {
        if (IO(c)->closing)
            break; /* a request just ended this identity's access */
        if (queued_out(c) > OUT_HIGH) {
            struct timeval tv = {0, RESUME_US};
            IO(c)->throttled = 1;
            bufferevent_disable(bev, EV_READ);
            if (IO(c)->resume != NULL)
                evtimer_add(IO(c)->resume, &tv);
            break; /* resume_cb reads on */
        }
        size_t avail = evbuffer_get_length(in);
        const uint8_t *payload;
        size_t plen, used;
        uint8_t *p;
        int rc;

        if (avail < TSPSD_FRAME_HDR)
            break;
        p = evbuffer_pullup(in, TSPSD_FRAME_HDR);
        uint32_t n = tspsd_frame_len(p);
        if (n > 0 && n <= d->cfg.max_frame && avail < TSPSD_FRAME_HDR + n)
            break; /* wait for the rest before linearising */
        p = evbuffer_pullup(in, n > 0 && n <= d->cfg.max_frame
                                    ? (ev_ssize_t)(TSPSD_FRAME_HDR + n)
                                    : (ev_ssize_t)TSPSD_FRAME_HDR);
        rc = tspsd_frame_next(p,
                              n > 0 && n <= d->cfg.max_frame
                                  ? TSPSD_FRAME_HDR + n
                                  : TSPSD_FRAME_HDR,
                              d->cfg.max_frame, &payload, &plen, &used);
        if (rc < 0) {
            char why[96];
            atomic_fetch_add(&d->metrics.bad_frames, 1);
            snprintf(why, sizeof(why), "%s (%u bytes)",
                     tspsd_frame_strerror(rc), n);
            conn_close(c, TSPSD_LOG_WARN, why);
            return;
        }
        if (rc == TSPSD_FRAME_MORE)
            break;
        char why[160] = "";
        rc = tspsd_dispatch(c, payload, plen, why, sizeof(why));
        if (rc == 1) {
            /* On the write worker: no more frames until it answers. */
            evbuffer_drain(in, used);
            bufferevent_disable(bev, EV_READ);
            break;
        }
        tspsd_arena_reset(&c->a.arena);
        if (rc != 0) {
            atomic_fetch_add(&d->metrics.bad_frames, 1);
            conn_close(c, TSPSD_LOG_WARN, why);
            return;
        }
        evbuffer_drain(in, used);
    }
    IO(c)->batching = 0;
    flush_out(c);
}

/* A closing connection: wait for the reply of a request in flight and for
 * queued replies to leave, then close. */
static void closing_tick(tspsd_conn *c)
{
    struct timeval tv = {0, RESUME_US};

    if (IO(c)->close_ticks++ < CLOSE_TICKS &&
        (c->job_inflight || queued_out(c) > 0)) {
        evtimer_add(IO(c)->resume, &tv);
        return;
    }
    conn_close(c, TSPSD_LOG_INFO, "access revoked");
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    tspsd_conn *c = arg;
    struct timeval tv = {0, RESUME_US};

    (void)fd;
    (void)what;
    if (c->bev == NULL)
        return;
    if (IO(c)->closing) {
        closing_tick(c);
        return;
    }
    if (!IO(c)->throttled)
        return;
    if (queued_out(c) > OUT_LOW) {
        evtimer_add(IO(c)->resume, &tv);
        return;
    }
    IO(c)->throttled = 0;
    if (!c->job_inflight) {
        bufferevent_enable(c->bev, EV_READ);
        read_cb(c->bev, c);
    }
}

void tspsd_conn_job_done(tspsd_conn *c, const Tsps__Response *resp)
{
    c->job_inflight = 0;
    tspsd_conn_recheck_admin(c);
    /* Before the reply: whoever reads "revoked" finds those connections
     * already refusing to read (this one included, after this reply). */
    tspsd_asker_end_access(&c->a);
    if (c->close_after_job) {
        tspsd_conn_destroy(c);
        return;
    }
    if (tspsd_conn_send(c, resp) != 0) {
        tspsd_arena_reset(&c->a.arena);
        conn_close(c, TSPSD_LOG_WARN, "cannot queue reply");
        return;
    }
    tspsd_arena_reset(&c->a.arena);
    if (IO(c)->closing)
        return; /* closing_tick() closes once the reply is out */
    IO(c)->throttled = 0;
    bufferevent_enable(c->bev, EV_READ);
    /* Frames that arrived meanwhile are already buffered. */
    read_cb(c->bev, c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    tspsd_conn *c = arg;
    char reason[256];

    if (what & BEV_EVENT_CONNECTED) {
        SSL *ssl = bufferevent_openssl_get_ssl(bev);
        c->tls_up = 1;
        if (tspsd_tls_peer_identity(ssl, c->cert_identity,
                                    sizeof(c->cert_identity)) == 0 &&
            !tspsd_identity_valid(c->cert_identity)) {
            conn_close(c, TSPSD_LOG_WARN,
                       "client certificate names an invalid identity");
            return;
        }
        tspsd_log(TSPSD_LOG_DEBUG, 0, c->cert_identity, "control connection",
                  "conn=%llu peer=%s tls=%s", (unsigned long long)c->a.id,
                  c->peer, SSL_get_version(ssl));
        return;
    }
    if (what & BEV_EVENT_EOF) {
        conn_close(c, TSPSD_LOG_DEBUG, "peer closed");
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        unsigned long e = bufferevent_get_openssl_error(bev);
        if (e != 0) {
            char buf[200];
            ERR_error_string_n(e, buf, sizeof(buf));
            snprintf(reason, sizeof(reason), "%s: %s",
                     c->tls_up ? "TLS error" : "TLS handshake failed", buf);
            if (!c->tls_up)
                atomic_fetch_add(&c->a.d->metrics.tls_failures, 1);
        } else {
            int err = EVUTIL_SOCKET_ERROR();
            snprintf(reason, sizeof(reason), "%s%s",
                     c->tls_up ? "socket error: "
                               : "TLS handshake failed: socket error: ",
                     err != 0 ? evutil_socket_error_to_string(err)
                              : "connection reset");
            if (!c->tls_up)
                atomic_fetch_add(&c->a.d->metrics.tls_failures, 1);
        }
        conn_close(c, c->tls_up ? TSPSD_LOG_INFO : TSPSD_LOG_WARN, reason);
    }
}

/* ---- connection slots ----
 * Idle or hostile peers must not keep admins out:
 *  - a connection has [control] handshake_timeout seconds to finish TLS and
 *    authenticate (Hello with a certificate or token), else it is closed;
 *  - one address holds at most max_unauthenticated_per_address connections
 *    that have not authenticated yet;
 *  - when all max_clients slots are taken, a new connection takes the slot
 *    of the oldest one that has not authenticated;
 *  - authenticated non-admins take at most max_clients - admin_reserved
 *    slots: the rest stay for admins. */
static int authenticated(const tspsd_conn *c)
{
    return c->hello_done && c->a.identity[0] != '\0';
}

static void hs_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    tspsd_conn *c = arg;
    char why[96];
    (void)fd;
    (void)what;
    if (c->bev == NULL || authenticated(c) || IO(c)->closing)
        return;
    snprintf(why, sizeof(why), "not authenticated within %d s",
             c->a.d->cfg.ctl_handshake_timeout_s);
    if (!c->tls_up)
        atomic_fetch_add(&c->a.d->metrics.tls_failures, 1);
    conn_close(c, TSPSD_LOG_WARN, why);
}

/* Stop reading, send what is queued (a last reply), then close. */
static void begin_close(tspsd_conn *c)
{
    IO(c)->closing = 1;
    IO(c)->throttled = 0;
    c->subscribed = 0;
    bufferevent_disable(c->bev, EV_READ);
    if (IO(c)->resume != NULL) {
        struct timeval now = {0, 0};
        evtimer_add(IO(c)->resume, &now);
    }
}

int tspsd_ctl_admit(tspsd_conn *c, char *why, size_t whylen)
{
    tspsd *d = c->a.d;
    int reserved = tspsd_config_admin_reserved(&d->cfg);
    long users = 0, limit = (long)d->cfg.max_clients - reserved;
    if (c->a.admin || c->bev == NULL)
        return 0;
    for (tspsd_conn *o = d->conns; o != NULL; o = o->next)
        if (o != c && authenticated(o) && !o->a.admin && !IO(o)->closing)
            users++;
    if (!authenticated(c) || users < limit)
        return 0;
    snprintf(why, whylen,
             "server busy: the last %d control slots are kept for admins",
             reserved);
    tspsd_log(TSPSD_LOG_WARN, 0, c->a.identity, "control connection refused",
              "conn=%llu peer=%s reason=\"slots reserved for admins\" "
              "users=%ld",
              (unsigned long long)c->a.id, c->peer, users);
    begin_close(c);
    return -1;
}

/* May a connection from host come in? 0 = yes (the oldest unauthenticated
 * connection may have been closed to make room), else the reason. */
static const char *make_room(tspsd *d, const char *host)
{
    tspsd_conn *oldest = NULL;
    int from_host = 0;
    for (tspsd_conn *o = d->conns; o != NULL; o = o->next) {
        if (authenticated(o) || IO(o)->closing || o->bev == NULL)
            continue;
        from_host += strcmp(IO(o)->host, host) == 0;
        oldest = o; /* the list is newest first */
    }
    if (from_host >= d->cfg.ctl_max_unauth_per_addr)
        return "max_unauthenticated_per_address";
    if (atomic_load(&d->metrics.clients) < (long)d->cfg.max_clients)
        return NULL;
    if (oldest == NULL)
        return "max_clients";
    conn_close(oldest, TSPSD_LOG_WARN,
               "slot taken by a new connection (all slots used, this one "
               "had not authenticated)");
    return NULL;
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *sa, int salen, void *arg)
{
    tspsd *d = arg;
    tspsd_conn *c;
    SSL *ssl;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    (void)l;
    (void)salen;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
        port = ntohs(s4->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
        port = ntohs(s6->sin6_port);
    }
    const char *refuse = d->stopping ? "stopping" : make_room(d, host);
    if (refuse != NULL) {
        tspsd_log(TSPSD_LOG_WARN, 0, NULL, "control connection refused",
                  "peer=%s:%d reason=%s", host, port, refuse);
        evutil_closesocket(fd);
        return;
    }
    c = calloc(1, sizeof(conn_io));
    ssl = SSL_new(d->ssl_ctx);
    if (c == NULL || ssl == NULL) {
        free(c);
        SSL_free(ssl);
        evutil_closesocket(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->a.d = d;
    c->a.id = ++d->next_conn_id;
    c->a.session = c;
    snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
    snprintf(IO(c)->host, sizeof(IO(c)->host), "%s", host);
    /* TLS as a filter over a socket bufferevent: the socket is read and
     * written in large chunks (one readv for many pipelined records, one
     * writev for many replies) and OpenSSL works on memory. */
    struct bufferevent *under =
        bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->bev = under == NULL
                 ? NULL
                 : bufferevent_openssl_filter_new(
                       d->base, under, ssl, BUFFEREVENT_SSL_ACCEPTING,
                       BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (c->bev == NULL) {
        if (under != NULL)
            bufferevent_free(under);
        else
            evutil_closesocket(fd);
        SSL_free(ssl);
        free(c);
        return;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    c->next = d->conns;
    if (d->conns != NULL)
        d->conns->prev = c;
    d->conns = c;
    atomic_fetch_add(&d->metrics.clients, 1);
    bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
    IO(c)->resume = evtimer_new(d->base, resume_cb, c);
    IO(c)->hs_timer = evtimer_new(d->base, hs_timeout_cb, c);
    struct timeval hto = {d->cfg.ctl_handshake_timeout_s, 0};
    if (IO(c)->hs_timer != NULL)
        evtimer_add(IO(c)->hs_timer, &hto);
    /* Idle or stalled peers (half-sent frames) go away. */
    struct timeval rto = {300, 0};
    bufferevent_set_timeouts(c->bev, &rto, &rto);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

size_t tspsd_ctl_close_identity(tspsd *d, const char *identity)
{
    size_t n = 0;

    for (tspsd_conn *c = d->conns; c != NULL; c = c->next) {
        if (!c->hello_done || strcmp(c->a.identity, identity) != 0 ||
            IO(c)->closing || c->bev == NULL)
            continue;
        /* Close, not just forget the identity: the peer must see that its
         * access ended, and nothing it sends from now on is read. */
        begin_close(c);
        tspsd_log(TSPSD_LOG_INFO, 0, c->a.identity,
                  "control connection closing",
                  "conn=%llu peer=%s reason=\"access revoked\"",
                  (unsigned long long)c->a.id, c->peer);
        n++;
    }
    return n;
}

size_t tspsd_ctl_reapply_admins(tspsd *d)
{
    size_t n = 0;

    /* A connection with a job in flight is rechecked when it returns: the
     * worker reads c->a.admin meanwhile. */
    for (tspsd_conn *c = d->conns; c != NULL; c = c->next)
        if (!c->job_inflight && tspsd_conn_recheck_admin(c))
            n++;
    return n;
}

static void listener_error_cb(struct evconnlistener *l, void *arg)
{
    int err = EVUTIL_SOCKET_ERROR();
    (void)l;
    (void)arg;
    tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "control accept failed", "error=%d",
              err);
}

int tspsd_ctl_reload_tls(tspsd *d)
{
    char err[256];
    SSL_CTX *ctx = tspsd_tls_server_ctx(d->cfg.cert, d->cfg.key, d->cfg.ca, err,
                                        sizeof(err));
    if (ctx == NULL) {
        char q[300];
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "TLS setup failed",
                  "cert=%s error=%s", d->cfg.cert,
                  tspsd_log_quote(err, q, sizeof(q)));
        return -1;
    }
    SSL_CTX_free(d->ssl_ctx); /* live SSL objects hold their own reference */
    d->ssl_ctx = ctx;
    return 0;
}

int tspsd_conn_recheck_admin(tspsd_conn *c)
{
    int was = c->a.admin;

    if (!c->hello_done)
        return 0;
    int lost = tspsd_asker_recheck_admin(&c->a);
    if (c->a.admin != was)
        tspsd_log(TSPSD_LOG_INFO, 0, NULL,
                  c->a.admin ? "admin role granted to a live connection"
                             : "admin role withdrawn from a live connection",
                  "audit=1 identity=%s conn=%llu peer=%s", c->a.identity,
                  (unsigned long long)c->a.id, c->peer);
    return lost;
}

/* ---- the control server as a listener of the core (callfront.h) ---- */

static int may_see(tspsd_conn *c, const char *user, const char *code, int right)
{
    char why[160];
    if (c->sub_user[0] != '\0' && strcmp(c->sub_user, user) != 0)
        return 0;
    return tspsd_authz(&c->a, user, right, code, why, sizeof(why));
}

/* An event to every subscribed connection allowed to see it. */
static void ctl_publish(void *arg, const tspsd_event *e)
{
    tspsd *d = arg;
    tspsd_arena a = TSPSD_ARENA_INIT;
    Tsps__Event ev = TSPS__EVENT__INIT;
    Tsps__Response resp = TSPS__RESPONSE__INIT;
    Tsps__VoicemailMessage vm = TSPS__VOICEMAIL_MESSAGE__INIT;
    Tsps__VoicemailMessage *vms[1] = {&vm};
    int any = 0;

    for (tspsd_conn *c = d->conns; c != NULL; c = c->next)
        any |= c->subscribed;
    if (!any)
        return;
    ev.kind = (char *)e->kind;
    ev.call_id = e->call_id;
    ev.at = (int64_t)time(NULL);
    if (e->dec != NULL) {
        ev.user = (char *)e->dec->user;
        ev.decision = tspsd_decision_msg(&a, e->dec, e->call_id, 1);
        ev.outcome = (char *)tsps_outcome_name(e->outcome);
        if (ev.decision == NULL)
            goto done;
        ev.decision->outcome = ev.outcome;
        if (e->related_status != NULL) { /* "call.related" */
            ev.related = (Tsps__RelatedItem **)e->related;
            ev.n_related = e->nrelated;
            ev.related_status = (char *)e->related_status;
        }
    } else if (e->src != NULL) {
        ev.user = e->src->user;
        ev.source = (Tsps__Source *)e->src;
    } else if (e->vm_user != NULL && e->vm != NULL) {
        ev.user = (char *)e->vm_user;
        vm.id = (char *)e->vm->id;
        vm.user = (char *)e->vm_user;
        vm.caller = (char *)e->vm->caller;
        vm.contact_name = (char *)e->vm->contact;
        vm.code = (char *)e->vm->code;
        vm.time = e->vm->time;
        vm.duration_ms = e->vm->duration_ms;
        vm.heard = e->vm->heard != 0;
        vm.history_id = strtoull(e->vm->history_id, NULL, 10);
        vm.new_count = e->vm_new;
        vm.old_count = e->vm_old;
        vm.change = (char *)e->vm_change;
        resp.voicemail = vms;
        resp.n_voicemail = 1;
    }
    resp.event = &ev;
    for (tspsd_conn *c = d->conns; c != NULL; c = c->next) {
        if (!c->subscribed)
            continue;
        /* E-mails and documents are private: monitor alone does not
         * show them. */
        if (e->dec != NULL &&
            !may_see(c, e->dec->user, e->dec->code,
                     e->related_status != NULL ? TSPSD_RIGHT_RELATED
                                               : TSPSD_RIGHT_MONITOR))
            continue;
        if (e->src != NULL && !c->a.admin &&
            strcmp(e->src->user, c->a.identity) != 0)
            continue;
        /* Voicemail is private like e-mails (the related right). */
        if (e->vm_user != NULL &&
            !may_see(c, e->vm_user,
                     e->vm != NULL && e->vm->code[0] != '\0' ? e->vm->code
                                                             : NULL,
                     TSPSD_RIGHT_VOICEMAIL))
            continue;
        resp.id = c->sub_id;
        tspsd_conn_send(c, &resp);
    }
done:
    tspsd_arena_free(&a);
}

static size_t ctl_access_end(void *arg, const char *identity)
{
    return tspsd_ctl_close_identity(arg, identity);
}

static const tspsd_listener_ops ctl_listener = {
    "control", "connections", ctl_publish, ctl_access_end, NULL};

int tspsd_ctl_start(tspsd *d)
{
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    char addr[96];

    if (tspsd_ctl_reload_tls(d) != 0 ||
        tspsd_listener_add(d, &ctl_listener, d) != 0)
        return -1;
    tspsd_ctl_handlers_register(d);
    /* The address alone: libevent refuses "host:0", and port 0 (pick a
     * free port, written to client.conf) is documented. */
    snprintf(addr, sizeof(addr), strchr(d->cfg.ctl_listen, ':') ? "[%s]" : "%s",
             d->cfg.ctl_listen);
    if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sl) != 0) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "bad control listen address",
                  "listen=%s", addr);
        return -1;
    }
    if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port =
            htons((uint16_t)d->cfg.ctl_port);
    else
        ((struct sockaddr_in *)&ss)->sin_port =
            htons((uint16_t)d->cfg.ctl_port);
    snprintf(addr + strlen(addr), sizeof(addr) - strlen(addr), ":%d",
             d->cfg.ctl_port);
    d->listener = evconnlistener_new_bind(
        d->base, accept_cb, d,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 128,
        (struct sockaddr *)&ss, sl);
    if (d->listener == NULL) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "cannot listen for control",
                  "listen=%s error=\"%s\"", addr, strerror(errno));
        return -1;
    }
    evconnlistener_set_error_cb(d->listener, listener_error_cb);
    struct sockaddr_storage bound;
    socklen_t bl = sizeof(bound);
    getsockname(evconnlistener_get_fd(d->listener), (struct sockaddr *)&bound,
                &bl);
    d->ctl_port = ntohs(bound.ss_family == AF_INET6
                            ? ((struct sockaddr_in6 *)&bound)->sin6_port
                            : ((struct sockaddr_in *)&bound)->sin_port);
    tspsd_log(TSPSD_LOG_INFO, 0, NULL, "control listening", "listen=%s port=%d",
              d->cfg.ctl_listen, d->ctl_port);
    return 0;
}

void tspsd_ctl_stop(tspsd *d)
{
    if (d->listener != NULL) {
        evconnlistener_free(d->listener);
        d->listener = NULL;
    }
    while (d->conns != NULL)
        conn_free(d->conns);
    SSL_CTX_free(d->ssl_ctx);
    d->ssl_ctx = NULL;
}
