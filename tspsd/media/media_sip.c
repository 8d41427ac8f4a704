/*
 * media_sip.c - the SIP UAS of the media front (UDP, libosip2 parser):
 * INVITE (token check, SDP offer/answer), ACK, BYE, CANCEL, re-INVITE
 * (hold), OPTIONS; our own BYE when a message is done. Responses go back to
 * the address the request came from (like rport: right behind NAT).
 * Media thread only.
 */
#include "media_priv.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define T1_NS 500000000LL
#define T2_NS 4000000000LL

static unsigned hash_str(const char *s)
{
    unsigned h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h % MF_HASH;
}

mf_call *tspsd_media__call_find(tspsd_media_front *mf, const char *call_id)
{
    for (mf_call *c = mf->hash[hash_str(call_id)]; c != NULL; c = c->hnext)
        if (strcmp(c->call_id, call_id) == 0)
            return c;
    return NULL;
}

/* The whole Call-ID ("number@host"), as the key of a call. */
static int call_id_of(const osip_message_t *m, char *buf, size_t len)
{
    int n;

    if (m->call_id == NULL || m->call_id->number == NULL)
        return -1;
    if (m->call_id->host != NULL)
        n = snprintf(buf, len, "%s@%s", m->call_id->number, m->call_id->host);
    else
        n = snprintf(buf, len, "%s", m->call_id->number);
    return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

static mf_call *find_by_msg(tspsd_media_front *mf, const osip_message_t *m)
{
    char cid[256];

    if (call_id_of(m, cid, sizeof(cid)) != 0)
        return NULL;
    return tspsd_media__call_find(mf, cid);
}

static void send_raw(tspsd_media_front *mf, const char *buf, size_t len,
                     const struct sockaddr_in *to)
{
    (void)sendto(mf->sip_fd, buf, len, 0, (const struct sockaddr *)to,
                 sizeof(*to));
}

int tspsd_media__send_response(tspsd_media_front *mf, mf_call *c,
                               const osip_message_t *req,
                               const struct sockaddr_in *to, int code,
                               const char *sdp, int keep)
{
    osip_message_t *r = NULL;
    osip_via_t *via;
    char *str = NULL, contact[128];
    size_t len = 0;
    int rc = -1;

    if (osip_message_init(&r) != 0)
        return -1;
    osip_message_set_version(r, osip_strdup("SIP/2.0"));
    osip_message_set_status_code(r, code);
    osip_message_set_reason_phrase(
        r, osip_strdup(osip_message_get_reason(code)
                           ? osip_message_get_reason(code)
                           : "Unknown"));
    for (int i = 0; osip_message_get_via(req, i, &via) >= 0; i++) {
        osip_via_t *v2 = NULL;
        if (osip_via_clone(via, &v2) != 0)
            goto cleanup;
        osip_list_add(&r->vias, v2, -1);
    }
    if (osip_from_clone(req->from, &r->from) != 0 ||
        osip_to_clone(req->to, &r->to) != 0 ||
        osip_call_id_clone(req->call_id, &r->call_id) != 0 ||
        osip_cseq_clone(req->cseq, &r->cseq) != 0)
        goto cleanup;
    if (c != NULL && code > 100 && r->to != NULL) {
        osip_generic_param_t *tag = NULL;
        osip_to_get_tag(r->to, &tag);
        if (tag == NULL)
            osip_to_set_tag(r->to, osip_strdup(c->to_tag));
    }
    osip_message_set_header(r, "Server", "tspsd-media");
    if (code >= 200 && code < 300 && MSG_IS_INVITE(req)) {
        snprintf(contact, sizeof(contact), "<sip:vm@%s:%u>", mf->sip_addr,
                 (unsigned)mf->sip_port);
        osip_message_set_contact(r, contact);
        osip_message_set_allow(r, "INVITE, ACK, BYE, CANCEL, OPTIONS");
    }
    if (code >= 300 && code < 400 && c != NULL &&
        tspsd_media__ivr_contact(c) != NULL)
        osip_message_set_contact(r, tspsd_media__ivr_contact(c));
    if (code == 405 || code == 501)
        osip_message_set_allow(r, "INVITE, ACK, BYE, CANCEL, OPTIONS");
    if (sdp != NULL) {
        osip_message_set_content_type(r, "application/sdp");
        osip_message_set_body(r, sdp, strlen(sdp));
    }
    if (osip_message_to_str(r, &str, &len) != 0)
        goto cleanup;
    send_raw(mf, str, len, to);
    if (keep && c != NULL) {
        free(c->last_resp);
        c->last_resp = malloc(len);
        if (c->last_resp != NULL) {
            memcpy(c->last_resp, str, len);
            c->last_resp_len = len;
        }
    }
    rc = 0;
cleanup:
    osip_free(str);
    osip_message_free(r);
    return rc;
}

int tspsd_media__send_bye(tspsd_media_front *mf, mf_call *c)
{
    char msg[4096];
    int n;

    if (c->local_hdr == NULL || c->remote_hdr == NULL)
        return -1;
    if (!c->bye_sent) {
        c->our_cseq++;
        c->bye_sent = 1;
    }
    n = snprintf(msg, sizeof(msg),
                 "BYE %s SIP/2.0\r\n"
                 "Via: SIP/2.0/UDP %s:%u;branch=z9hG4bK-bye%llx-%u;rport\r\n"
                 "Max-Forwards: 70\r\n%s"
                 "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %u BYE\r\n"
                 "Content-Length: 0\r\n\r\n",
                 c->remote_target != NULL ? c->remote_target : "sip:invalid",
                 mf->sip_addr, (unsigned)mf->sip_port,
                 (unsigned long long)c->serial, c->our_cseq,
                 c->route != NULL ? c->route : "", c->local_hdr, c->remote_hdr,
                 c->call_id, c->our_cseq);
    if (n < 0 || (size_t)n >= sizeof(msg))
        return -1;
    send_raw(mf, msg, (size_t)n, &c->sig_peer);
    return 0;
}

/* Retransmit the 2xx until ACK (RFC 3261 13.3.1.4), our BYE until answered. */
void tspsd_media__sip_timers(tspsd_media_front *mf, mf_call *c, int64_t now)
{
    if (c->sip_state == SS_ANSWERED && c->last_resp != NULL &&
        now >= c->sip_retx_ns) {
        if (now >= c->sip_deadline_ns) {
            tspsd_media__log(mf, 1, "call=%llu msg=\"no ACK for 200: ending\"",
                             (unsigned long long)c->serial);
            c->sip_state = SS_CONFIRMED;
            tspsd_media__call_end(c, "no-ack");
            return;
        }
        send_raw(mf, c->last_resp, c->last_resp_len, &c->sig_peer);
        c->retx_ivl_ns =
            c->retx_ivl_ns * 2 > T2_NS ? T2_NS : c->retx_ivl_ns * 2;
        c->sip_retx_ns = now + c->retx_ivl_ns;
    }
    if (c->bye_sent && c->sip_state != SS_ENDED && now >= c->sip_retx_ns) {
        if (c->bye_tries >= 6) {
            c->sip_state = SS_ENDED;
            c->sip_deadline_ns = now;
            return;
        }
        c->bye_tries++;
        tspsd_media__send_bye(mf, c);
        c->sip_retx_ns = now + (T1_NS << (c->bye_tries > 3 ? 3 : c->bye_tries));
    }
}

static char *hdr_str_from(osip_from_t *f)
{
    char *s = NULL, *r;

    if (f == NULL || osip_from_to_str(f, &s) != 0)
        return NULL;
    r = strdup(s);
    osip_free(s);
    return r;
}

/* Remember what we need to send our own BYE later. */
static int dialog_setup(mf_call *c, osip_message_t *inv)
{
    osip_to_t *to = NULL;
    osip_contact_t *ct = NULL;
    osip_record_route_t *rr;
    char *s = NULL;
    size_t rlen = 0;

    if (osip_to_clone(inv->to, &to) != 0)
        return -1;
    osip_to_set_tag(to, osip_strdup(c->to_tag));
    c->local_hdr = hdr_str_from(to);
    osip_to_free(to);
    c->remote_hdr = hdr_str_from(inv->from);
    if (osip_message_get_contact(inv, 0, &ct) >= 0 && ct != NULL &&
        ct->url != NULL && osip_uri_to_str(ct->url, &s) == 0) {
        c->remote_target = strdup(s);
        osip_free(s);
    }
    for (int i = 0; osip_message_get_record_route(inv, i, &rr) >= 0; i++) {
        char *line;
        if (osip_record_route_to_str(rr, &s) != 0)
            continue;
        line = realloc(c->route, rlen + strlen(s) + 10);
        if (line != NULL) {
            c->route = line;
            rlen += (size_t)sprintf(c->route + rlen, "Route: %s\r\n", s);
        }
        osip_free(s);
    }
    return (c->local_hdr && c->remote_hdr) ? 0 : -1;
}

static void reply(tspsd_media_front *mf, osip_message_t *req,
                  const struct sockaddr_in *from, int code)
{
    tspsd_media__send_response(mf, NULL, req, from, code, NULL, 0);
}

static const char *body_of(osip_message_t *m, size_t *len)
{
    osip_body_t *b = NULL;

    *len = 0;
    if (osip_message_get_body(m, 0, &b) < 0 || b == NULL || b->body == NULL)
        return NULL;
    *len = b->length;
    return b->body;
}

static void on_invite(tspsd_media_front *mf, osip_message_t *req,
                      const struct sockaddr_in *from)
{
    osip_generic_param_t *totag = NULL;
    mf_call *c = find_by_msg(mf, req);
    tspsd_media_call_info info;
    mf_sdp_offer offer;
    const char *user, *body;
    char err[128];
    size_t blen;
    int rc, is_ivr;

    osip_to_get_tag(req->to, &totag);
    if (c != NULL && totag == NULL) { /* retransmitted INVITE */
        if (c->last_resp != NULL)
            send_raw(mf, c->last_resp, c->last_resp_len, from);
        return;
    }
    if (c != NULL) { /* re-INVITE: new SDP, hold or resume */
        char sdp[1024];
        int our_dir = MF_DIR_SENDRECV;
        if (c->sip_state != SS_CONFIRMED ||
            strcmp(totag->gvalue, c->to_tag) != 0) {
            reply(mf, req, from, c->sip_state == SS_ANSWERED ? 491 : 481);
            return;
        }
        body = body_of(req, &blen);
        if (body != NULL) {
            rc = tspsd_media__sdp_negotiate(body, blen, &offer, err,
                                            sizeof(err));
            if (rc != MF_SDP_OK) {
                tspsd_media__log(
                    mf, 1, "call=%llu msg=\"re-INVITE SDP refused\" why=\"%s\"",
                    (unsigned long long)c->serial, err);
                reply(mf, req, from, rc == MF_SDP_NOCODEC ? 488 : 400);
                return;
            }
            c->offer = offer;
            if (!c->latched)
                c->rtp_dest = offer.remote;
            our_dir = offer.dir == MF_DIR_SENDONLY   ? MF_DIR_RECVONLY
                      : offer.dir == MF_DIR_RECVONLY ? MF_DIR_SENDONLY
                      : offer.dir == MF_DIR_INACTIVE ? MF_DIR_INACTIVE
                                                     : MF_DIR_SENDRECV;
            c->dir_remote = offer.dir;
            /* on hold the caller sends nothing: do not time the call out */
            c->last_rtp_ns = tspsd_media__now_ns();
            tspsd_media__log(mf, 2, "call=%llu msg=\"re-INVITE\" dir=%d",
                             (unsigned long long)c->serial, offer.dir);
        }
        c->sdp_ver++;
        if (tspsd_media__sdp_answer(body != NULL ? &c->offer : NULL,
                                    mf->sip_addr, c->rtp_port, c->sdp_ver,
                                    our_dir, sdp, sizeof(sdp)) < 0)
            return;
        tspsd_media__send_response(mf, c, req, from, 200, sdp, 0);
        return;
    }
    if (totag != NULL) {
        reply(mf, req, from, 481);
        return;
    }
    /* the token is the user part of the Request-URI: vm.<token> for
     * voicemail, ivr.<token> for the user's IVR menus */
    user = req->req_uri != NULL ? req->req_uri->username : NULL;
    memset(&info, 0, sizeof(info));
    is_ivr = user != NULL && strncmp(user, "ivr.", 4) == 0;
    if (is_ivr && (mf->host->version < 2 || mf->host->route_digit == NULL)) {
        tspsd_media__log(mf, 1,
                         "msg=\"IVR INVITE refused: host cannot "
                         "route digits\"");
        reply(mf, req, from, 501);
        return;
    }
    if (user == NULL || (!is_ivr && strncmp(user, "vm.", 3) != 0) ||
        strlen(user) > 1024 ||
        mf->host->verify_token(mf->host_ctx, user + (is_ivr ? 4 : 3), &info) !=
            0 ||
        !tspsd_media__safe_name(info.user)) {
        tspsd_media__log(mf, 1, "msg=\"INVITE refused: missing or bad token\"");
        reply(mf, req, from, 403);
        return;
    }
    body = body_of(req, &blen);
    rc = tspsd_media__sdp_negotiate(body, blen, &offer, err, sizeof(err));
    if (rc == MF_SDP_MALFORMED) {
        tspsd_media__log(
            mf, 1, "msg=\"INVITE refused: malformed SDP\" why=\"%s\"", err);
        reply(mf, req, from, 400);
        return;
    }
    if (rc == MF_SDP_NOCODEC) {
        tspsd_media__log(
            mf, 1, "msg=\"INVITE refused: no common codec\" why=\"%s\"", err);
        reply(mf, req, from, 488);
        return;
    }
    if (mf->ncalls >= mf->cfg.max_calls || atomic_load(&mf->stopping)) {
        reply(mf, req, from, 486);
        return;
    }
    {
        char cid[256];
        c = call_id_of(req, cid, sizeof(cid)) == 0
                ? tspsd_media__call_new(mf, cid)
                : NULL;
    }
    if (c == NULL) {
        reply(mf, req, from, 500);
        return;
    }
    c->info = info;
    c->offer = offer;
    c->dir_remote = offer.dir;
    c->rtp_dest = offer.remote;
    c->sig_peer = *from;
    if (osip_message_clone(req, &c->invite) != 0 || dialog_setup(c, req) != 0) {
        reply(mf, req, from, 500);
        tspsd_media__call_free(c);
        return;
    }
    if (tspsd_media__call_open_rtp(c) != 0) {
        tspsd_media__log(mf, 0, "msg=\"no free RTP port\"");
        reply(mf, req, from, 503);
        tspsd_media__call_free(c);
        return;
    }
    if (is_ivr && tspsd_media__ivr_attach(c) != TSPSD_MEDIA_OK) {
        tspsd_media__log(mf, 1, "call=%llu msg=\"no valid IVR menus\" user=%s",
                         (unsigned long long)c->serial, info.user);
        reply(mf, req, from, 404);
        tspsd_media__call_free(c);
        return;
    }
    tspsd_media__log(mf, 2, "call=%llu msg=\"%s call\" user=%s code=%s",
                     (unsigned long long)c->serial,
                     is_ivr ? "ivr" : "voicemail", info.user, info.code);
    tspsd_media__send_response(mf, c, req, from, 100, NULL, 0);
    if (!is_ivr) /* the IVR answers 183 with SDP once its prompts are ready */
        tspsd_media__send_response(mf, c, req, from, 180, NULL, 1);
    {
        mf_job *job = calloc(1, sizeof(*job));
        if (job == NULL) {
            tspsd_media__send_response(mf, c, req, from, 500, NULL, 1);
            c->sip_state = SS_ENDED;
            return;
        }
        job->kind = JOB_PREPARE;
        job->call = c;
        c->job_pending = 1;
        tspsd_media__job_submit(mf, job);
    }
}

static void on_cancel(tspsd_media_front *mf, osip_message_t *req,
                      const struct sockaddr_in *from)
{
    mf_call *c = find_by_msg(mf, req);

    if (c == NULL) {
        reply(mf, req, from, 481);
        return;
    }
    reply(mf, req, from, 200);
    if (c->sip_state == SS_EARLY && c->invite != NULL) {
        tspsd_media__send_response(mf, c, c->invite, &c->sig_peer, 487, NULL,
                                   1);
        tspsd_media__log(mf, 2, "call=%llu msg=\"cancelled before answer\"",
                         (unsigned long long)c->serial);
        tspsd_media__call_stop_media(c);
        c->sip_state = SS_ENDED;
        c->phase = PH_DONE;
        c->sip_deadline_ns = tspsd_media__now_ns() + 5 * T2_NS;
    }
}

static void on_ack(tspsd_media_front *mf, osip_message_t *req)
{
    mf_call *c = find_by_msg(mf, req);

    if (c != NULL && c->sip_state == SS_ANSWERED)
        c->sip_state = SS_CONFIRMED;
}

static void on_bye(tspsd_media_front *mf, osip_message_t *req,
                   const struct sockaddr_in *from)
{
    mf_call *c = find_by_msg(mf, req);
    osip_generic_param_t *totag = NULL;

    osip_to_get_tag(req->to, &totag);
    if (c == NULL || totag == NULL || totag->gvalue == NULL ||
        strcmp(totag->gvalue, c->to_tag) != 0) {
        reply(mf, req, from, 481);
        return;
    }
    if (c->sip_state == SS_ANSWERED)
        c->sip_state = SS_CONFIRMED; /* BYE implies the ACK got lost */
    tspsd_media__call_bye(c, req, from);
}

/* NOTIFY for the subscription our REFER made (IVR fallback). */
static void on_notify(tspsd_media_front *mf, osip_message_t *req,
                      const struct sockaddr_in *from)
{
    mf_call *c = find_by_msg(mf, req);
    osip_header_t *ss = NULL;
    const char *body;
    size_t blen = 0;
    int terminated;

    if (c == NULL || c->ivr == NULL) {
        reply(mf, req, from, 481);
        return;
    }
    osip_message_header_get_byname(req, "subscription-state", 0, &ss);
    terminated = ss != NULL && ss->hvalue != NULL &&
                 strncasecmp(ss->hvalue, "terminated", 10) == 0;
    body = body_of(req, &blen);
    reply(mf, req, from,
          tspsd_media__ivr_notify(c, body, blen, terminated) == 0 ? 200 : 481);
}

void tspsd_media__sip_read(evutil_socket_t fd, short what, void *arg)
{
    tspsd_media_front *mf = arg;
    char buf[8192];

    for (int i = 0; i < 64; i++) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        osip_message_t *m = NULL;
        ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0,
                             (struct sockaddr *)&from, &fl);
        if (n <= 0)
            return;
        buf[n] = '\0';
        if (n < 16 || from.sin_family != AF_INET)
            continue; /* keep-alive CRLFs and runts */
        if (osip_message_init(&m) != 0)
            return;
        if (osip_message_parse(m, buf, (size_t)n) != 0 || m->call_id == NULL ||
            m->call_id->number == NULL || m->cseq == NULL || m->from == NULL ||
            m->to == NULL || osip_list_size(&m->vias) < 1) {
            tspsd_media__log(
                mf, 1, "msg=\"unparsable SIP message dropped\" bytes=%zd", n);
            osip_message_free(m);
            continue;
        }
        if (MSG_IS_RESPONSE(m)) {
            mf_call *c = find_by_msg(mf, m);
            if (c != NULL && c->bye_sent && MSG_IS_RESPONSE_FOR(m, "BYE") &&
                m->status_code >= 200) {
                c->sip_state = SS_ENDED;
                c->sip_deadline_ns = tspsd_media__now_ns();
            } else if (c != NULL && c->ivr != NULL &&
                       MSG_IS_RESPONSE_FOR(m, "REFER") &&
                       m->cseq->number != NULL) {
                tspsd_media__ivr_refer_response(
                    c, m->status_code,
                    (uint32_t)strtoul(m->cseq->number, NULL, 10));
            }
        } else if (MSG_IS_NOTIFY(m)) {
            on_notify(mf, m, &from);
        } else if (MSG_IS_INVITE(m)) {
            on_invite(mf, m, &from);
        } else if (MSG_IS_ACK(m)) {
            on_ack(mf, m);
        } else if (MSG_IS_BYE(m)) {
            on_bye(mf, m, &from);
        } else if (MSG_IS_CANCEL(m)) {
            on_cancel(mf, m, &from);
        } else if (MSG_IS_OPTIONS(m)) {
            reply(mf, m, &from, 200);
        } else {
            reply(mf, m, &from, 501);
        }
        osip_message_free(m);
    }
}
