/*
 * media_call.c - one voicemail call's media: RTP/RTCP sockets, symmetric
 * RTP latching, 20 ms G.711 frames paced by the front's 2 ms monotonic tick,
 * the phases greeting -> beep -> record -> store, DTMF (RFC 4733, or in-band
 * through spandsp), silence, maximum length and RTP timeout.
 * Media thread only.
 */
#include "media_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define SILENCE_LEVEL                                                          \
    300 /* mean |sample| below this is silence (~ -40 dBFS)                    \
         */

static void on_digits(void *user, const char *digits, int len);
static void on_rtp(evutil_socket_t fd, short what, void *arg);
static void on_rtcp(evutil_socket_t fd, short what, void *arg);

static unsigned hash_str(const char *s)
{
    unsigned h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h % MF_HASH;
}

/* SSRC, sequence, timestamp and tags must not be guessable (RFC 3550 8.1;
 * a predictable To tag lets anyone send us a BYE). */
static uint32_t rand32(void)
{
    uint32_t v;

    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
        v = (uint32_t)random() ^ ((uint32_t)random() << 16);
    return v;
}

mf_call *tspsd_media__call_new(tspsd_media_front *mf, const char *call_id)
{
    mf_call *c;
    unsigned h;

    if (strlen(call_id) >= sizeof(((mf_call *)0)->call_id))
        return NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->mf = mf;
    c->rtp_fd = c->rtcp_fd = -1;
    c->serial = ++mf->serial;
    snprintf(c->call_id, sizeof(c->call_id), "%s", call_id);
    snprintf(c->to_tag, sizeof(c->to_tag), "mf%08x%08x%04llx", rand32(),
             rand32(), (unsigned long long)(c->serial & 0xffff));
    c->ssrc = rand32();
    c->seq = (uint16_t)rand32();
    c->ts = rand32();
    c->sdp_ver = rand32();
    c->dtmf = dtmf_rx_init(NULL, on_digits, c);
    if (c->dtmf == NULL) {
        free(c);
        return NULL;
    }
    h = hash_str(call_id);
    c->hnext = mf->hash[h];
    mf->hash[h] = c;
    mf->ncalls++;
    atomic_fetch_add_explicit(&mf->st_active, 1, memory_order_relaxed);
    return c;
}

void tspsd_media__call_stop_media(mf_call *c)
{
    tspsd_media_front *mf = c->mf;

    if (c->active) {
        if (c->aprev != NULL)
            c->aprev->anext = c->anext;
        else
            mf->active = c->anext;
        if (c->anext != NULL)
            c->anext->aprev = c->aprev;
        c->anext = c->aprev = NULL;
        c->active = 0;
    }
    if (c->rtp_ev != NULL)
        event_free(c->rtp_ev);
    if (c->rtcp_ev != NULL)
        event_free(c->rtcp_ev);
    c->rtp_ev = c->rtcp_ev = NULL;
    if (c->rtp_fd >= 0)
        close(c->rtp_fd);
    if (c->rtcp_fd >= 0)
        close(c->rtcp_fd);
    c->rtp_fd = c->rtcp_fd = -1;
}

void tspsd_media__call_free(mf_call *c)
{
    tspsd_media_front *mf;
    mf_call **pp;

    if (c == NULL)
        return;
    mf = c->mf;
    if (c->job_pending) { /* the storage thread still holds it */
        c->dead = 1;
        return;
    }
    tspsd_media__call_stop_media(c);
    for (pp = &mf->hash[hash_str(c->call_id)]; *pp != NULL;
         pp = &(*pp)->hnext) {
        if (*pp == c) {
            *pp = c->hnext;
            mf->ncalls--;
            atomic_fetch_sub_explicit(&mf->st_active, 1, memory_order_relaxed);
            break;
        }
    }
    if (c->invite != NULL)
        osip_message_free(c->invite);
    if (c->pending_bye != NULL)
        osip_message_free(c->pending_bye);
    dtmf_rx_free(c->dtmf);
    free(c->local_hdr);
    free(c->remote_hdr);
    free(c->remote_target);
    free(c->route);
    free(c->last_resp);
    tspsd_media__pcm_free(&c->greeting);
    tspsd_media__pcm_free(&c->beep);
    tspsd_media__pcm_free(&c->unavailable);
    tspsd_media__pcm_free(&c->rec);
    tspsd_media__ivr_free(c);
    free(c);
}

/* RTP binds to the address the SDP advertises (never all interfaces). */
static int bind_port(const char *addr, uint16_t port, int *fd)
{
    struct sockaddr_in sa;

    *fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (*fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1 ||
        bind(*fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(*fd);
        *fd = -1;
        return -1;
    }
    return 0;
}

int tspsd_media__call_open_rtp(mf_call *c)
{
    tspsd_media_front *mf = c->mf;
    unsigned span =
        (unsigned)(mf->cfg.rtp_port_max - mf->cfg.rtp_port_min + 1) / 2;

    for (unsigned i = 0; i < span; i++) {
        uint16_t p = mf->next_port;
        mf->next_port = (uint16_t)(p + 2);
        if (mf->next_port + 1 > mf->cfg.rtp_port_max || mf->next_port < p)
            mf->next_port = (uint16_t)(mf->cfg.rtp_port_min & ~1u);
        if (p < mf->cfg.rtp_port_min)
            continue;
        if (bind_port(mf->sip_addr, p, &c->rtp_fd) != 0)
            continue;
        if (bind_port(mf->sip_addr, (uint16_t)(p + 1), &c->rtcp_fd) != 0) {
            close(c->rtp_fd);
            c->rtp_fd = -1;
            continue;
        }
        c->rtp_port = p;
        c->rtp_ev =
            event_new(mf->base, c->rtp_fd, EV_READ | EV_PERSIST, on_rtp, c);
        c->rtcp_ev =
            event_new(mf->base, c->rtcp_fd, EV_READ | EV_PERSIST, on_rtcp, c);
        if (c->rtp_ev == NULL || c->rtcp_ev == NULL ||
            event_add(c->rtp_ev, NULL) || event_add(c->rtcp_ev, NULL)) {
            tspsd_media__call_stop_media(c);
            return -1;
        }
        return 0;
    }
    return -1;
}

void tspsd_media__call_start_media(mf_call *c)
{
    tspsd_media_front *mf = c->mf;
    int64_t now = tspsd_media__now_ns();

    if (c->active)
        return;
    /* the first frame goes out on the next tick of the grid; calls thus
     * start on different ticks and spread over the ten phases of a frame */
    c->next_send_ns =
        mf->tick_base + ((now - mf->tick_base) / MF_TICK_NS + 1) * MF_TICK_NS;
    c->last_rtp_ns = now;
    c->answered_ns = now;
    c->anext = mf->active;
    c->aprev = NULL;
    if (mf->active != NULL)
        mf->active->aprev = c;
    mf->active = c;
    c->active = 1;
}

static void start_play(mf_call *c, int phase, const mf_pcm *p)
{
    c->phase = phase;
    c->playing = p;
    c->play_pos = 0;
}

void tspsd_media__call_prepared(mf_call *c, mf_job *job)
{
    tspsd_media_front *mf = c->mf;
    char sdp[1024];
    int our_dir;

    if (c->sip_state != SS_EARLY)
        return; /* cancelled meanwhile; reaped at its deadline */
    if (c->ivr != NULL) {
        tspsd_media__ivr_prepared(c);
        return;
    }
    c->greeting = job->greeting;
    c->beep = job->beep;
    c->unavailable = job->unavailable;
    memset(&job->greeting, 0, sizeof(job->greeting));
    memset(&job->beep, 0, sizeof(job->beep));
    memset(&job->unavailable, 0, sizeof(job->unavailable));
    our_dir =
        c->offer.dir == MF_DIR_RECVONLY ? MF_DIR_SENDONLY : MF_DIR_SENDRECV;
    if (tspsd_media__sdp_answer(&c->offer, mf->sip_addr, c->rtp_port,
                                c->sdp_ver, our_dir, sdp, sizeof(sdp)) < 0 ||
        tspsd_media__send_response(mf, c, c->invite, &c->sig_peer, 200, sdp,
                                   1) != 0) {
        tspsd_media__send_response(mf, c, c->invite, &c->sig_peer, 500, NULL,
                                   1);
        c->sip_state = SS_ENDED;
        c->sip_deadline_ns = tspsd_media__now_ns() + 32000000000LL;
        return;
    }
    atomic_fetch_add_explicit(&mf->st_answered, 1, memory_order_relaxed);
    c->sip_state = SS_ANSWERED;
    c->retx_ivl_ns = 500000000LL;
    c->sip_retx_ns = tspsd_media__now_ns() + c->retx_ivl_ns;
    c->sip_deadline_ns =
        tspsd_media__now_ns() + (int64_t)mf->cfg.no_answer_ms * 1000000LL;
    c->rec_max = (size_t)mf->cfg.max_message_ms * 8;
    tspsd_media__log(mf, 2, "call=%llu msg=\"answered\" greeting=%s full=%d",
                     (unsigned long long)c->serial, job->greeting_src,
                     job->full);
    tspsd_media__call_start_media(c);
    if (job->full) {
        c->end_after_final = 1;
        start_play(c, PH_FINAL, &c->greeting);
    } else {
        start_play(c, PH_GREETING, &c->greeting);
    }
}

/* Hang up from our side: BYE (retransmitted by the SIP timers). */
void tspsd_media__call_end(mf_call *c, const char *why)
{
    tspsd_media__call_stop_media(c);
    c->phase = PH_DONE;
    if (c->ivr != NULL && c->sip_state == SS_EARLY) {
        /* an IVR call still in early media: end the INVITE, no BYE */
        tspsd_media__log(c->mf, 2, "call=%llu msg=\"ivr ended\" why=%s",
                         (unsigned long long)c->serial, why);
        tspsd_media__send_response(c->mf, c, c->invite, &c->sig_peer, 480, NULL,
                                   1);
        c->sip_state = SS_ENDED;
        c->sip_deadline_ns = tspsd_media__now_ns() + 32000000000LL;
        return;
    }
    if (c->sip_state == SS_ENDED || c->bye_sent)
        return;
    tspsd_media__log(c->mf, 2, "call=%llu msg=\"hanging up\" why=%s",
                     (unsigned long long)c->serial, why);
    c->bye_tries = 0;
    tspsd_media__send_bye(c->mf, c);
    c->sip_retx_ns = tspsd_media__now_ns() + 500000000LL;
    c->sip_deadline_ns = c->sip_retx_ns + 32000000000LL;
}

/* Hand the recording to the storage thread; what happens next is decided
 * in tspsd_media__call_stored(). */
static void finish_recording(mf_call *c, const char *why)
{
    mf_job *job;

    if (c->phase != PH_RECORD)
        return;
    snprintf(c->end_reason, sizeof(c->end_reason), "%s", why);
    if (!c->voiced || c->rec.n < MF_FRAME_SAMPLES) {
        /* nothing but silence: no empty message */
        tspsd_media__log(c->mf, 2,
                         "call=%llu msg=\"no message recorded\" why=%s",
                         (unsigned long long)c->serial, why);
        c->phase = PH_DONE;
        if (c->pending_bye != NULL) {
            tspsd_media__send_response(c->mf, c, c->pending_bye,
                                       &c->pending_bye_peer, 200, NULL, 0);
            osip_message_free(c->pending_bye);
            c->pending_bye = NULL;
            c->sip_state = SS_ENDED;
            c->sip_deadline_ns = tspsd_media__now_ns() + 32000000000LL;
        } else {
            tspsd_media__call_end(c, why);
        }
        return;
    }
    job = calloc(1, sizeof(*job));
    if (job == NULL) {
        tspsd_media__call_end(c, "no-memory");
        return;
    }
    job->kind = JOB_STORE;
    job->call = c;
    job->rec = c->rec;
    memset(&c->rec, 0, sizeof(c->rec));
    c->phase = PH_STORING;
    c->job_pending = 1;
    tspsd_media__job_submit(c->mf, job);
}

void tspsd_media__call_stored(mf_call *c, mf_job *job)
{
    if (c->dead) {
        c->dead = 0;
        tspsd_media__call_free(c);
        return;
    }
    if (c->pending_bye != NULL) {
        /* the caller hung up: only now, with the message on disk, say 200 */
        tspsd_media__send_response(c->mf, c, c->pending_bye,
                                   &c->pending_bye_peer, 200, NULL, 0);
        osip_message_free(c->pending_bye);
        c->pending_bye = NULL;
        c->phase = PH_DONE;
        c->sip_state = SS_ENDED;
        c->sip_deadline_ns = tspsd_media__now_ns() + 32000000000LL;
        return;
    }
    if (job->rc != TSPSD_MEDIA_OK && c->unavailable.s != NULL && c->active) {
        c->end_after_final = 1;
        start_play(c, PH_FINAL, &c->unavailable);
        return;
    }
    tspsd_media__call_end(c, c->end_reason[0] ? c->end_reason : "stored");
}

void tspsd_media__call_bye(mf_call *c, osip_message_t *bye,
                           const struct sockaddr_in *peer)
{
    tspsd_media_front *mf = c->mf;

    if (c->phase == PH_RECORD || c->phase == PH_STORING) {
        if (c->pending_bye != NULL)
            return; /* retransmission: answered once stored */
        if (osip_message_clone(bye, &c->pending_bye) != 0) {
            tspsd_media__send_response(mf, c, bye, peer, 500, NULL, 0);
            return;
        }
        c->pending_bye_peer = *peer;
        tspsd_media__call_stop_media(c);
        if (c->phase == PH_RECORD)
            finish_recording(c, "hangup");
        return;
    }
    if (c->phase == PH_GREETING || c->phase == PH_BEEP)
        tspsd_media__log(
            mf, 2, "call=%llu msg=\"hung up during greeting: no message\"",
            (unsigned long long)c->serial);
    tspsd_media__send_response(mf, c, bye, peer, 200, NULL, 0);
    tspsd_media__call_stop_media(c);
    c->phase = PH_DONE;
    c->sip_state = SS_ENDED;
    c->sip_deadline_ns = tspsd_media__now_ns() + 32000000000LL;
}

void tspsd_media__call_digit(mf_call *c, char d, const char *how)
{
    if (++c->digits_seen > 64)
        return; /* a DTMF storm changes nothing more */
    tspsd_media__log(c->mf, 3, "call=%llu msg=\"digit\" via=%s",
                     (unsigned long long)c->serial, how);
    if (c->ivr != NULL) {
        tspsd_media__ivr_digit(c, d);
        return;
    }
    if (d != '#')
        return;
    if (c->phase == PH_GREETING)
        start_play(c, PH_BEEP, &c->beep); /* # skips the greeting */
    else if (c->phase == PH_RECORD)
        finish_recording(c, "pound");
}

static void on_digits(void *user, const char *digits, int len)
{
    mf_call *c = user;

    for (int i = 0; i < len; i++)
        tspsd_media__call_digit(c, digits[i], "inband");
}

static void record_frame(mf_call *c, const int16_t *pcm, size_t n)
{
    long acc = 0;

    for (size_t i = 0; i < n; i++)
        acc += pcm[i] < 0 ? -pcm[i] : pcm[i];
    if (tspsd_media__pcm_append(&c->rec, pcm, n) != 0) {
        finish_recording(c, "no-memory");
        return;
    }
    if (n > 0 && acc / (long)n < SILENCE_LEVEL) {
        c->silent_run += n;
    } else {
        c->silent_run = 0;
        c->voiced = 1;
    }
    if (c->mf->cfg.silence_ms > 0 &&
        c->silent_run >= (size_t)c->mf->cfg.silence_ms * 8) {
        /* trailing silence is not part of the message */
        c->rec.n -= c->silent_run < c->rec.n ? c->silent_run : c->rec.n;
        finish_recording(c, "silence");
    } else if (c->rec.n >= c->rec_max) {
        c->rec.n = c->rec_max;
        finish_recording(c, "max-length");
    }
}

static void handle_rtp(mf_call *c, const uint8_t *buf, size_t len)
{
    mf_rtp_pkt p;
    int16_t pcm[1024];

    if (tspsd_media__rtp_parse(buf, len, &p) != 0)
        return;
    if (c->offer.te_pt >= 0 && p.pt == c->offer.te_pt) {
        mf_dtmf_evt ev;
        /* one digit per event: the first packet of a new timestamp */
        if (tspsd_media__rfc4733_parse(p.payload, p.plen, &ev) == 0 &&
            (!c->last_evt_ts_valid || c->last_evt_ts != p.ts)) {
            c->last_evt_ts_valid = 1;
            c->last_evt_ts = p.ts;
            tspsd_media__call_digit(c, tspsd_media__dtmf_char(ev.event),
                                    "rfc4733");
        }
        return;
    }
    if ((p.pt != 0 && p.pt != 8) || p.plen == 0 || p.plen > 1024)
        return;
    if (p.pt == 0) {
        for (size_t i = 0; i < p.plen; i++)
            pcm[i] = ulaw_to_linear(p.payload[i]);
    } else {
        for (size_t i = 0; i < p.plen; i++)
            pcm[i] = alaw_to_linear(p.payload[i]);
    }
    dtmf_rx(c->dtmf, pcm, (int)p.plen);
    if (c->phase != PH_RECORD)
        return;
    if (c->have_rec_seq) {
        uint16_t gap = (uint16_t)(p.seq - c->rec_seq);
        if (gap == 0 || gap > 0x8000)
            return; /* duplicate or late: drop */
        /* lost packets (up to 1 s) become silence, so the length is right */
        for (uint16_t i = 1; i < gap && i <= 50 && c->phase == PH_RECORD; i++) {
            int16_t z[MF_FRAME_SAMPLES] = {0};
            record_frame(
                c, z, p.plen <= MF_FRAME_SAMPLES ? p.plen : MF_FRAME_SAMPLES);
        }
    }
    c->have_rec_seq = 1;
    c->rec_seq = p.seq;
    if (c->phase == PH_RECORD)
        record_frame(c, pcm, p.plen);
}

static void on_rtp(evutil_socket_t fd, short what, void *arg)
{
    mf_call *c = arg;
    tspsd_media_front *mf = c->mf;
    uint8_t buf[2048];

    /* bounded per wakeup, so a flood on one port cannot starve the rest */
    for (int i = 0; i < 32 && c->rtp_fd >= 0; i++) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n =
            recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            return;
        if (c->latched) {
            if (from.sin_addr.s_addr != c->rtp_dest.sin_addr.s_addr ||
                from.sin_port != c->rtp_dest.sin_port) {
                atomic_fetch_add_explicit(&mf->st_dropped, 1,
                                          memory_order_relaxed);
                continue;
            }
        } else {
            mf_rtp_pkt p;
            if (tspsd_media__rtp_parse(buf, (size_t)n, &p) != 0)
                continue;
            /* symmetric RTP: answer where the media really comes from */
            c->rtp_dest = from;
            c->latched = 1;
        }
        atomic_fetch_add_explicit(&mf->st_recv, 1, memory_order_relaxed);
        c->last_rtp_ns = tspsd_media__now_ns();
        handle_rtp(c, buf, (size_t)n);
    }
}

static void on_rtcp(evutil_socket_t fd, short what, void *arg)
{
    uint8_t buf[1500];

    /* receiver reports are read and dropped (we keep no RTCP state) */
    for (int i = 0; i < 16; i++)
        if (recv(fd, buf, sizeof(buf), 0) < 0)
            return;
}

static void send_frame(mf_call *c, int64_t sched, int64_t now)
{
    tspsd_media_front *mf = c->mf;
    uint8_t pkt[12 + MF_FRAME_SAMPLES];
    int16_t pcm[MF_FRAME_SAMPLES];
    size_t have = 0;
    int64_t late;
    unsigned bin;

    memset(pcm, 0, sizeof(pcm));
    if (c->playing != NULL && c->play_pos < c->playing->n) {
        have = c->playing->n - c->play_pos;
        if (have > MF_FRAME_SAMPLES)
            have = MF_FRAME_SAMPLES;
        memcpy(pcm, c->playing->s + c->play_pos, have * sizeof(int16_t));
        c->play_pos += have;
    }
    tspsd_media__rtp_header(pkt, c->offer.pt, 0, c->seq++, c->ts, c->ssrc);
    c->ts += MF_FRAME_SAMPLES;
    for (int i = 0; i < MF_FRAME_SAMPLES; i++)
        pkt[12 + i] =
            c->offer.pt == 0 ? linear_to_ulaw(pcm[i]) : linear_to_alaw(pcm[i]);
    if (c->dir_remote != MF_DIR_SENDONLY && c->dir_remote != MF_DIR_INACTIVE &&
        c->rtp_dest.sin_port != 0)
        (void)sendto(c->rtp_fd, pkt, sizeof(pkt), 0,
                     (struct sockaddr *)&c->rtp_dest, sizeof(c->rtp_dest));
    atomic_fetch_add_explicit(&mf->st_sent, 1, memory_order_relaxed);
    late = now - sched;
    bin = late <= 0 ? 0 : (unsigned)(late / 100000);
    if (bin > 199)
        bin = 199;
    atomic_fetch_add_explicit(&mf->st_late[bin], 1, memory_order_relaxed);
    /* end of what was playing: next phase */
    if (c->playing != NULL && c->play_pos >= c->playing->n) {
        if (c->phase == PH_GREETING) {
            start_play(c, PH_BEEP, &c->beep);
        } else if (c->phase == PH_BEEP) {
            c->playing = NULL;
            c->phase = PH_RECORD;
            c->have_rec_seq = 0;
            tspsd_media__log(mf, 3, "call=%llu msg=\"recording\"",
                             (unsigned long long)c->serial);
        } else if (c->phase == PH_FINAL) {
            c->playing = NULL;
            tspsd_media__call_end(c, "prompt-done");
        } else if (c->phase == PH_IVR) {
            tspsd_media__ivr_prompt_done(c);
        }
    }
}

void tspsd_media__tick(evutil_socket_t fd, short what, void *arg)
{
    tspsd_media_front *mf = arg;
    uint64_t exp;
    int64_t now;
    mf_call *c, *next;

    if (read(fd, &exp, sizeof(exp)) < 0 && errno != EAGAIN)
        return;
    now = tspsd_media__now_ns();
    if (atomic_load(&mf->stopping)) {
        for (int i = 0; i < MF_HASH; i++)
            for (c = mf->hash[i]; c != NULL; c = c->hnext)
                if (c->phase == PH_RECORD) {
                    /* keep what was said: stored, then BYE (in _stop) */
                    tspsd_media__call_stop_media(c);
                    finish_recording(c, "shutdown");
                } else if (c->sip_state != SS_ENDED && c->phase != PH_DONE &&
                           c->phase != PH_STORING) {
                    tspsd_media__call_end(c, "shutdown");
                }
        event_base_loopbreak(mf->base);
        return;
    }
    for (c = mf->active; c != NULL; c = next) {
        next = c->anext;
        /* catch up at most 5 frames; beyond that, skip (a stall happened) */
        if (now - c->next_send_ns > 5 * MF_FRAME_NS)
            c->next_send_ns +=
                ((now - c->next_send_ns) / MF_FRAME_NS) * MF_FRAME_NS;
        while (c->active && c->next_send_ns <= now) {
            int64_t sched = c->next_send_ns;
            c->next_send_ns += MF_FRAME_NS;
            send_frame(c, sched, now);
        }
        if (c->active && c->ivr != NULL)
            tspsd_media__ivr_tick(c, now);
        if (c->active && c->dir_remote != MF_DIR_SENDONLY &&
            c->dir_remote != MF_DIR_INACTIVE &&
            now - c->last_rtp_ns >
                (int64_t)mf->cfg.rtp_timeout_ms * 1000000LL) {
            tspsd_media__log(mf, 1,
                             "call=%llu msg=\"no RTP from caller: ending\"",
                             (unsigned long long)c->serial);
            if (c->phase == PH_RECORD) {
                tspsd_media__call_stop_media(c);
                finish_recording(c, "rtp-timeout");
            } else {
                tspsd_media__call_end(c, "rtp-timeout");
            }
        }
    }
    /* signalling timers and reaping */
    for (int i = 0; i < MF_HASH; i++) {
        for (c = mf->hash[i]; c != NULL; c = next) {
            next = c->hnext;
            tspsd_media__sip_timers(mf, c, now);
            if (c->sip_state == SS_ENDED && now >= c->sip_deadline_ns &&
                !c->job_pending && c->pending_bye == NULL)
                tspsd_media__call_free(c);
        }
    }
}
