/*
 * sip_net.c - the SIP transports on the libevent loop: UDP (recvmmsg /
 * sendmmsg batches) and TCP (one bufferevent per connection, framed by
 * Content-Length).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "sip_internal.h"

#define MAX_CONNS  1024
#define TCP_IDLE_S 300
#define UDP_ROUNDS 16 /* batches per readiness event, for fairness */

struct sip_conn {
    sip_conn *next, *prev;
    uint64_t id;
    struct bufferevent *bev;
    sip_src src;
    tspsd_sip *s;
    int greeted; /* a first complete request arrived */
};

/* Same peer address (port ignored). */
static int same_host(const sip_src *a, const sip_src *b)
{
    const struct sockaddr *x = (const struct sockaddr *)&a->addr;
    const struct sockaddr *y = (const struct sockaddr *)&b->addr;
    if (x->sa_family != y->sa_family)
        return 0;
    if (x->sa_family == AF_INET)
        return ((const struct sockaddr_in *)x)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)y)->sin_addr.s_addr;
    if (x->sa_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)x)->sin6_addr,
                      &((const struct sockaddr_in6 *)y)->sin6_addr,
                      sizeof(struct in6_addr)) == 0;
    return 0;
}

static int make_addr(const char *host, int port, struct sockaddr_storage *ss,
                     int *len)
{
    char spec[128];
    *len = (int)sizeof(*ss);
    memset(ss, 0, sizeof(*ss));
    if (strchr(host, ':') != NULL && host[0] != '[')
        snprintf(spec, sizeof(spec), "[%s]:%d", host, port);
    else
        snprintf(spec, sizeof(spec), "%s:%d", host, port);
    if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)ss, len) != 0)
        return TSPS_EINVAL;
    return TSPS_OK;
}

/* ---- UDP ------------------------------------------------------------------
 */

void sip_net_flush(tspsd_sip *s)
{
    struct mmsghdr msgs[SIP_UDP_BATCH];
    struct iovec iov[SIP_UDP_BATCH];
    int n = s->nout, done = 0;

    s->nout = 0;
    if (n == 0 || s->udp_fd < 0)
        return;
    memset(msgs, 0, sizeof(msgs[0]) * (size_t)n);
    for (int i = 0; i < n; i++) {
        iov[i].iov_base = s->out_buf[i];
        iov[i].iov_len = s->out_len[i];
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &s->out_dst[i].addr;
        msgs[i].msg_hdr.msg_namelen = s->out_dst[i].addrlen;
    }
    while (done < n) {
        int k = sendmmsg(s->udp_fd, msgs + done, (unsigned)(n - done), 0);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            sip_log(s, TSPS_LOG_WARN, "msg=\"sip udp send failed\" err=\"%s\"",
                    strerror(errno));
            done++; /* skip the one that failed */
            continue;
        }
        done += k;
    }
}

static void udp_send(tspsd_sip *s, const sip_src *dst, const char *p, size_t n)
{
    if (s->udp_fd < 0)
        return;
    if (s->batching && n <= SIP_MAX_RESP) {
        if (s->nout == SIP_UDP_BATCH) {
            /* The queue is full mid-burst (a held call answers 100 + 180,
             * OPTIONS share the burst ...): what it holds may name calls
             * of this burst, so their history is committed before it
             * leaves, and the rest of the burst starts a new batch. */
            sip_burst_end(s);
            sip_net_flush(s);
            sip_burst_begin(s);
        }
        memcpy(s->out_buf[s->nout], p, n);
        s->out_len[s->nout] = n;
        s->out_dst[s->nout] = *dst;
        s->nout++;
        return;
    }
    if (sendto(s->udp_fd, p, n, 0, (const struct sockaddr *)&dst->addr,
               dst->addrlen) < 0)
        sip_log(s, TSPS_LOG_WARN, "msg=\"sip udp send failed\" err=\"%s\"",
                strerror(errno));
}

struct sip_event {
    int kind;
    uint64_t id;
    tsps_outcome oc;
    tsps_decision d;
};

static void deliver(tspsd_sip *s, int kind, uint64_t id, const tsps_decision *d,
                    tsps_outcome oc)
{
    if (s->hooks.call_event != NULL)
        s->hooks.call_event(s->hooks.arg, kind, id, d, oc);
}

/* Events held for the burst's commit, in order. */
static void deliver_queued(tspsd_sip *s)
{
    int n = s->nevq;
    s->nevq = 0;
    for (int i = 0; i < n; i++)
        deliver(s, s->evq[i].kind, s->evq[i].id, &s->evq[i].d, s->evq[i].oc);
}

void sip_emit(tspsd_sip *s, int kind, uint64_t id, const tsps_decision *d,
              tsps_outcome oc)
{
    if (s->hooks.call_event == NULL)
        return;
    if (s->burst == NULL) {
        deliver(s, kind, id, d, oc);
        return;
    }
    if (s->evq == NULL) {
        s->evq = calloc(SIP_EVQ, sizeof(*s->evq));
        if (s->evq == NULL) { /* cannot wait: commit now, then tell */
            sip_burst_end(s);
            deliver(s, kind, id, d, oc);
            return;
        }
    }
    if (s->nevq == SIP_EVQ) {
        /* full mid-burst: commit what the queue names, go on in a new
           batch (as udp_send does for responses) */
        sip_burst_end(s);
        sip_burst_begin(s);
        if (s->burst == NULL) {
            deliver(s, kind, id, d, oc);
            return;
        }
    }
    struct sip_event *e = &s->evq[s->nevq++];
    e->kind = kind;
    e->id = id;
    e->oc = oc;
    e->d = *d;
}

void sip_burst_begin(tspsd_sip *s)
{
    /* commit = async: nothing of the burst waits for a commit */
    if (s->hist != NULL || tsps_batch_begin(s->eng, &s->burst) != TSPS_OK)
        s->burst = NULL;
}

void sip_burst_end(tspsd_sip *s)
{
    int rc;
    if (s->burst == NULL) {
        deliver_queued(s);
        return;
    }
    rc = tsps_batch_commit(s->burst);
    s->burst = NULL;
    if (rc != TSPS_OK) {
        /* the calls are answered all the same: their ids are never given
           again (tsps_history_take_id), but they are not in history */
        s->stat_hist_fail += s->burst_calls;
        sip_log(s, TSPS_LOG_ERROR,
                "msg=\"sip burst commit failed, calls answered unrecorded\" "
                "calls=%u err=%s",
                s->burst_calls, tsps_errname(rc));
    }
    s->burst_calls = 0;
    deliver_queued(s);
}

static void udp_read(evutil_socket_t fd, short what, void *arg)
{
    tspsd_sip *s = arg;
    struct mmsghdr msgs[SIP_UDP_BATCH];
    struct iovec iov[SIP_UDP_BATCH];
    sip_src src[SIP_UDP_BATCH];

    for (int round = 0; round < UDP_ROUNDS; round++) {
        memset(msgs, 0, sizeof(msgs));
        for (int i = 0; i < SIP_UDP_BATCH; i++) {
            iov[i].iov_base = s->in_buf + (size_t)i * (SIP_MAX_MSG + 1);
            iov[i].iov_len = SIP_MAX_MSG;
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &src[i].addr;
            msgs[i].msg_hdr.msg_namelen = sizeof(src[i].addr);
        }
        int n = recvmmsg(fd, msgs, SIP_UDP_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            break;
        s->batching = 1;
        /* Group commit: the burst's store writes (history, bindings) join
         * one batch, committed before any response of the burst leaves. */
        sip_burst_begin(s);
        for (int i = 0; i < n; i++) {
            src[i].addrlen = msgs[i].msg_hdr.msg_namelen;
            src[i].proto = SIP_PROTO_UDP;
            src[i].conn_id = 0;
            char *p = iov[i].iov_base;
            size_t len = msgs[i].msg_len;
            if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
                sip_log(s, TSPS_LOG_WARN,
                        "msg=\"sip datagram truncated, dropped\"");
                continue;
            }
            p[len] = '\0';
            sip_process(s, p, len, &src[i]);
        }
        sip_burst_end(s);
        s->batching = 0;
        sip_net_flush(s);
        if (n < SIP_UDP_BATCH)
            break;
    }
}

static int udp_open(tspsd_sip *s)
{
    struct sockaddr_storage ss;
    int len, one = 1, rcvbuf = 4 << 20;
    int rc = make_addr(s->cfg.listen, s->cfg.udp_port, &ss, &len);
    if (rc != TSPS_OK)
        return rc;
    s->udp_fd =
        socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->udp_fd < 0)
        return TSPS_EINVAL;
    setsockopt(s->udp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(s->udp_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    setsockopt(s->udp_fd, SOL_SOCKET, SO_SNDBUF, &rcvbuf, sizeof(rcvbuf));
    if (bind(s->udp_fd, (struct sockaddr *)&ss, (socklen_t)len) != 0) {
        sip_log(s, TSPS_LOG_ERROR,
                "msg=\"sip udp bind failed\" addr=%s port=%d err=\"%s\"",
                s->cfg.listen, s->cfg.udp_port, strerror(errno));
        return errno == EADDRINUSE ? TSPS_EBUSY : TSPS_EINVAL;
    }
    s->in_buf = malloc((size_t)SIP_UDP_BATCH * (SIP_MAX_MSG + 1));
    if (s->in_buf == NULL)
        return TSPS_ENOMEM;
    s->udp_ev =
        event_new(s->base, s->udp_fd, EV_READ | EV_PERSIST, udp_read, s);
    if (s->udp_ev == NULL || event_add(s->udp_ev, NULL) != 0)
        return TSPS_ENOMEM;
    return TSPS_OK;
}

/* ---- TCP ------------------------------------------------------------------
 */

static void conn_free(sip_conn *c)
{
    tspsd_sip *s = c->s;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    s->nconns--;
    bufferevent_free(c->bev);
    free(c);
}

static void tcp_read(struct bufferevent *bev, void *arg)
{
    sip_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    for (;;) {
        size_t avail = evbuffer_get_length(in), msglen = 0;
        if (avail == 0)
            return;
        size_t look = avail < SIP_MAX_MSG + 4 ? avail : SIP_MAX_MSG + 4;
        const char *p = (const char *)evbuffer_pullup(in, (ssize_t)look);
        if (p == NULL)
            return;
        int rc = sip_raw_frame(p, look, &msglen);
        if (rc == 0)
            return;
        if (rc < 0) {
            sip_log(c->s, TSPS_LOG_WARN,
                    "msg=\"sip tcp framing error, connection closed\" "
                    "conn=%llu",
                    (unsigned long long)c->id);
            conn_free(c);
            return;
        }
        if (!c->greeted && p[0] != '\r' && p[0] != '\n') {
            /* past the handshake: the long idle timeout from now on */
            struct timeval idle = {TCP_IDLE_S, 0};
            c->greeted = 1;
            bufferevent_set_timeouts(bev, &idle, NULL);
        }
        sip_process(c->s, p, msglen, &c->src);
        evbuffer_drain(in, msglen);
    }
}

static void tcp_event(struct bufferevent *bev, short what, void *arg)
{
    sip_conn *c = arg;
    if ((what & BEV_EVENT_TIMEOUT) && !c->greeted)
        sip_log(c->s, TSPS_LOG_INFO,
                "msg=\"sip tcp connection closed\" reason=no-request "
                "conn=%llu",
                (unsigned long long)c->id);
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        conn_free(c);
}

static void tcp_accept(struct evconnlistener *lis, evutil_socket_t fd,
                       struct sockaddr *sa, int salen, void *arg)
{
    tspsd_sip *s = arg;
    sip_src peer;
    int same = 0;
    memset(&peer, 0, sizeof(peer));
    memcpy(&peer.addr, sa,
           (size_t)salen < sizeof(peer.addr) ? (size_t)salen
                                             : sizeof(peer.addr));
    for (sip_conn *o = s->conns; o != NULL; o = o->next)
        same += same_host(&o->src, &peer);
    if (s->nconns >= MAX_CONNS || same >= s->cfg.tcp_max_per_address) {
        char ip[64];
        sip_src_ip(&peer, ip, sizeof(ip));
        sip_log(s, TSPS_LOG_WARN,
                "msg=\"sip tcp connection refused\" reason=%s src=%s",
                s->nconns >= MAX_CONNS ? "too-many" : "per-address-limit", ip);
        evutil_closesocket(fd);
        return;
    }
    sip_conn *c = calloc(1, sizeof(*c));
    struct bufferevent *bev =
        bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c == NULL || bev == NULL) {
        free(c);
        if (bev != NULL)
            bufferevent_free(bev);
        else
            evutil_closesocket(fd);
        return;
    }
    c->s = s;
    c->bev = bev;
    c->id = ++s->next_conn_id;
    memcpy(&c->src.addr, sa,
           (size_t)salen < sizeof(c->src.addr) ? (size_t)salen
                                               : sizeof(c->src.addr));
    c->src.addrlen = (socklen_t)salen;
    c->src.proto = SIP_PROTO_TCP;
    c->src.conn_id = c->id;
    c->next = s->conns;
    if (s->conns != NULL)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    /* until its first request, a connection has a short time to live */
    struct timeval hs = {s->cfg.tcp_handshake_s, 0};
    bufferevent_set_timeouts(bev, &hs, NULL);
    bufferevent_setcb(bev, tcp_read, NULL, tcp_event, c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static int tcp_open(tspsd_sip *s)
{
    struct sockaddr_storage ss;
    int len;
    int rc = make_addr(s->cfg.listen, s->cfg.tcp_port, &ss, &len);
    if (rc != TSPS_OK)
        return rc;
    s->tcp_lis = evconnlistener_new_bind(
        s->base, tcp_accept, s,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 128,
        (struct sockaddr *)&ss, len);
    if (s->tcp_lis == NULL) {
        sip_log(s, TSPS_LOG_ERROR,
                "msg=\"sip tcp bind failed\" addr=%s port=%d err=\"%s\"",
                s->cfg.listen, s->cfg.tcp_port, strerror(errno));
        return errno == EADDRINUSE ? TSPS_EBUSY : TSPS_EINVAL;
    }
    return TSPS_OK;
}

static void tcp_send(tspsd_sip *s, const sip_src *dst, const char *p, size_t n)
{
    for (sip_conn *c = s->conns; c != NULL; c = c->next) {
        if (c->id == dst->conn_id) {
            bufferevent_write(c->bev, p, n);
            return;
        }
    }
    sip_log(s, TSPS_LOG_INFO,
            "msg=\"sip tcp connection gone, response dropped\" conn=%llu",
            (unsigned long long)dst->conn_id);
}

void sip_net_send(tspsd_sip *s, const sip_src *dst, const char *p, size_t n)
{
    if (dst->proto == SIP_PROTO_TCP)
        tcp_send(s, dst, p, n);
    else
        udp_send(s, dst, p, n);
}

int sip_net_open(tspsd_sip *s)
{
    int rc = TSPS_OK;
    if (s->cfg.udp_port > 0)
        rc = udp_open(s);
    if (rc == TSPS_OK && s->cfg.tcp_port > 0)
        rc = tcp_open(s);
    return rc;
}

void sip_net_close(tspsd_sip *s)
{
    sip_net_flush(s);
    while (s->conns != NULL)
        conn_free(s->conns);
    if (s->tcp_lis != NULL)
        evconnlistener_free(s->tcp_lis);
    s->tcp_lis = NULL;
    if (s->udp_ev != NULL)
        event_free(s->udp_ev);
    s->udp_ev = NULL;
    if (s->udp_fd >= 0)
        close(s->udp_fd);
    s->udp_fd = -1;
    free(s->in_buf);
    s->in_buf = NULL;
    deliver_queued(s);
    free(s->evq);
    s->evq = NULL;
}
