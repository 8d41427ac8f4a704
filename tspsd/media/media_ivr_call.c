/*
 * media_ivr_call.c - an IVR call: the menu played as early media (183 with
 * SDP), digits (RFC 4733 or in-band) collected during it, replays on a
 * timeout or an invalid digit, sub-menus, and the end of the INVITE with
 * the 302 to the target the host's route_digit op returns.
 *
 * Fallback for callers that send no media in early media (their DTMF would
 * never arrive): when no RTP came within MF_IVR_EARLY_MS of the 183, the
 * call is answered (200), the menu starts again, and the chosen target is
 * reached by REFER (RFC 3515): 202, NOTIFY with a message/sipfrag status,
 * then our BYE.
 *
 * Runs on the media thread, except tspsd_media__ivr_prepare() (storage
 * thread, while the call waits for its job: the media thread does not touch
 * the prompts before the job comes back).
 */
#include "media_ivr.h"
#include "media_priv.h"

#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#define MF_IVR_EARLY_MS  3000 /* no RTP this long after the 183: answer */
#define MF_IVR_NOTIFY_NS 32000000000LL /* wait for the final NOTIFY */

enum { REFER_NONE = 0, REFER_SENT, REFER_ACCEPTED };

struct mf_ivr_state {
    tspsd_ivr menus;
    mf_pcm prompt[TSPSD_IVR_MAX_MENUS];
    int cur;        /* index of the menu playing */
    unsigned fails; /* timeouts + invalid digits in this menu */
    int waiting;    /* prompt done, waiting for a digit */
    int64_t deadline_ns;
    char path[TSPSD_IVR_MAX_DEPTH * TSPSD_IVR_NAME_MAX + 8];
    char contact[TSPSD_IVR_ACTION_MAX + 8];
    int64_t early_start_ns; /* when the 183 left */
    int refer_state;
    unsigned refer_tries;
    int64_t refer_retx_ns, refer_deadline_ns;
    uint32_t refer_cseq;
};

int tspsd_media__ivr_attach(mf_call *c)
{
    tspsd_media_front *mf = c->mf;
    char *text = NULL, err[256];
    size_t len = 0;
    int rc;

    c->ivr = calloc(1, sizeof(*c->ivr));
    text = malloc(TSPSD_IVR_TEXT_MAX * 2);
    if (c->ivr == NULL || text == NULL) {
        free(text);
        return TSPSD_MEDIA_ENOMEM;
    }
    rc = tspsd_media_ivr_get(mf, c->info.user, text, TSPSD_IVR_TEXT_MAX * 2,
                             &len);
    if (rc == TSPSD_MEDIA_OK)
        rc = tspsd_ivr_parse(text, len, &c->ivr->menus, err, sizeof(err));
    free(text);
    if (rc != TSPSD_MEDIA_OK)
        return rc;
    snprintf(c->ivr->path, sizeof(c->ivr->path), "%s",
             c->ivr->menus.menus[0].name);
    return TSPSD_MEDIA_OK;
}

void tspsd_media__ivr_free(mf_call *c)
{
    if (c->ivr == NULL)
        return;
    for (int i = 0; i < TSPSD_IVR_MAX_MENUS; i++)
        tspsd_media__pcm_free(&c->ivr->prompt[i]);
    free(c->ivr);
    c->ivr = NULL;
}

void tspsd_media__ivr_prepare(tspsd_media_front *mf, mf_call *c)
{
    const char *lang =
        c->info.language[0] ? c->info.language : mf->default_language;
    char path[4096];

    for (unsigned i = 0; i < c->ivr->menus.nmenus; i++) {
        const tspsd_ivr_menu *m = &c->ivr->menus.menus[i];
        int rc;
        if (m->prompt_kind == TSPSD_IVR_PROMPT_WAV) {
            snprintf(path, sizeof(path), "%s/%s", mf->data_dir, m->prompt);
            rc = tspsd_media__wav_load(path, &c->ivr->prompt[i]);
        } else {
            rc = tspsd_media__tts(mf->cache_dir, lang, m->prompt,
                                  &c->ivr->prompt[i]);
        }
        if (rc != 0)
            tspsd_media__log(mf, 1,
                             "call=%llu msg=\"ivr prompt unavailable\" "
                             "menu=%s",
                             (unsigned long long)c->serial, m->name);
    }
}

static void play_menu(mf_call *c, int idx)
{
    c->ivr->cur = idx;
    c->ivr->waiting = 0;
    c->phase = PH_IVR;
    c->playing = &c->ivr->prompt[idx];
    c->play_pos = 0;
}

void tspsd_media__ivr_prepared(mf_call *c)
{
    tspsd_media_front *mf = c->mf;
    char sdp[1024];
    int our_dir =
        c->offer.dir == MF_DIR_RECVONLY ? MF_DIR_SENDONLY : MF_DIR_SENDRECV;

    if (tspsd_media__sdp_answer(&c->offer, mf->sip_addr, c->rtp_port,
                                c->sdp_ver, our_dir, sdp, sizeof(sdp)) < 0 ||
        tspsd_media__send_response(mf, c, c->invite, &c->sig_peer, 183, sdp,
                                   1) != 0) {
        tspsd_media__send_response(mf, c, c->invite, &c->sig_peer, 500, NULL,
                                   1);
        c->sip_state = SS_ENDED;
        c->sip_deadline_ns = tspsd_media__now_ns() + 32000000000LL;
        return;
    }
    tspsd_media__log(mf, 2, "call=%llu msg=\"ivr early media\" menu=%s",
                     (unsigned long long)c->serial, c->ivr->path);
    tspsd_media__call_start_media(c);
    c->ivr->early_start_ns = tspsd_media__now_ns();
    play_menu(c, 0);
}

/* No media from the caller in early media: answer and play the menu again
 * in the dialog; the choice then goes out as a REFER. */
static void answer(mf_call *c, int64_t now)
{
    tspsd_media_front *mf = c->mf;
    char sdp[1024];
    int our_dir =
        c->offer.dir == MF_DIR_RECVONLY ? MF_DIR_SENDONLY : MF_DIR_SENDRECV;

    tspsd_media__log(mf, 2,
                     "call=%llu msg=\"ivr: no early media from caller, "
                     "answering (REFER fallback)\"",
                     (unsigned long long)c->serial);
    if (tspsd_media__sdp_answer(&c->offer, mf->sip_addr, c->rtp_port,
                                c->sdp_ver, our_dir, sdp, sizeof(sdp)) < 0 ||
        tspsd_media__send_response(mf, c, c->invite, &c->sig_peer, 200, sdp,
                                   1) != 0) {
        tspsd_media__call_end(c, "answer-failed");
        return;
    }
    atomic_fetch_add_explicit(&mf->st_answered, 1, memory_order_relaxed);
    c->sip_state = SS_ANSWERED;
    c->retx_ivl_ns = 500000000LL;
    c->sip_retx_ns = now + c->retx_ivl_ns;
    c->sip_deadline_ns = now + (int64_t)mf->cfg.no_answer_ms * 1000000LL;
    c->last_rtp_ns = now;
    c->ivr->fails = 0;
    play_menu(c, c->ivr->cur);
}

static int send_refer(mf_call *c)
{
    tspsd_media_front *mf = c->mf;
    char msg[4096];
    int n;

    if (c->local_hdr == NULL || c->remote_hdr == NULL)
        return -1;
    n = snprintf(msg, sizeof(msg),
                 "REFER %s SIP/2.0\r\n"
                 "Via: SIP/2.0/UDP %s:%u;branch=z9hG4bK-refer%llx-%u;rport\r\n"
                 "Max-Forwards: 70\r\n%s"
                 "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %u REFER\r\n"
                 "Contact: <sip:vm@%s:%u>\r\nRefer-To: %s\r\n"
                 "Content-Length: 0\r\n\r\n",
                 c->remote_target != NULL ? c->remote_target : "sip:invalid",
                 mf->sip_addr, (unsigned)mf->sip_port,
                 (unsigned long long)c->serial, c->ivr->refer_cseq,
                 c->route != NULL ? c->route : "", c->local_hdr, c->remote_hdr,
                 c->call_id, c->ivr->refer_cseq, mf->sip_addr,
                 (unsigned)mf->sip_port, c->ivr->contact);
    if (n < 0 || (size_t)n >= sizeof(msg))
        return -1;
    (void)sendto(mf->sip_fd, msg, (size_t)n, 0,
                 (const struct sockaddr *)&c->sig_peer, sizeof(c->sig_peer));
    return 0;
}

/* End the INVITE: 302 to the target, or 500 when the host cannot route. */
static void route(mf_call *c, const char *digit, const char *action)
{
    tspsd_media_front *mf = c->mf;
    char target[TSPSD_IVR_ACTION_MAX], trace[256] = "";
    int rc, early = c->sip_state == SS_EARLY;

    if (early) {
        tspsd_media__call_stop_media(c);
        c->phase = PH_DONE;
    } else { /* answered: silence while the REFER runs */
        c->playing = NULL;
        c->ivr->waiting = 0;
    }
    rc = mf->host->route_digit(mf->host_ctx, &c->info, c->ivr->path, digit,
                               action, target, sizeof(target), trace,
                               sizeof(trace));
    if (rc == 0 && target[0] != '\0' && strchr(target, '>') == NULL &&
        strchr(target, '\r') == NULL && strchr(target, '\n') == NULL) {
        snprintf(c->ivr->contact, sizeof(c->ivr->contact), "<%s>", target);
        tspsd_media__log(mf, 2,
                         "call=%llu msg=\"ivr routed\" menu=%s digit=%s "
                         "trace=\"%s\"",
                         (unsigned long long)c->serial, c->ivr->path, digit,
                         trace);
        if (!early) {
            c->ivr->refer_cseq = ++c->our_cseq;
            c->ivr->refer_state = REFER_SENT;
            c->ivr->refer_tries = 0;
            c->ivr->refer_retx_ns = tspsd_media__now_ns() + 500000000LL;
            if (send_refer(c) != 0)
                tspsd_media__call_end(c, "refer-failed");
            return;
        }
        tspsd_media__send_response(mf, c, c->invite, &c->sig_peer, 302, NULL,
                                   1);
    } else if (!early) {
        tspsd_media__log(mf, 0,
                         "call=%llu msg=\"ivr: host could not route\" "
                         "menu=%s digit=%s",
                         (unsigned long long)c->serial, c->ivr->path, digit);
        tspsd_media__call_end(c, "no-route");
        return;
    } else {
        tspsd_media__log(mf, 0,
                         "call=%llu msg=\"ivr: host could not route\" "
                         "menu=%s digit=%s",
                         (unsigned long long)c->serial, c->ivr->path, digit);
        tspsd_media__send_response(mf, c, c->invite, &c->sig_peer, 500, NULL,
                                   1);
    }
    c->sip_state = SS_ENDED;
    c->sip_deadline_ns = tspsd_media__now_ns() + 32000000000LL;
}

/* Carry out an action: a sub-menu, or route. */
static void act(mf_call *c, const char *digit, const char *action)
{
    if (strncmp(action, "menu ", 5) == 0) {
        const tspsd_ivr_menu *m = tspsd_ivr_find(&c->ivr->menus, action + 5);
        size_t n = strlen(c->ivr->path);
        if (m == NULL) { /* checked at put; cannot happen */
            route(c, digit, "voicemail");
            return;
        }
        snprintf(c->ivr->path + n, sizeof(c->ivr->path) - n, "/%s", m->name);
        c->ivr->fails = 0;
        tspsd_media__log(c->mf, 2, "call=%llu msg=\"ivr sub-menu\" menu=%s",
                         (unsigned long long)c->serial, c->ivr->path);
        play_menu(c, (int)(m - c->ivr->menus.menus));
        return;
    }
    route(c, digit, action);
}

/* A timeout or an invalid digit: replay, or the default once used up. */
static void failed(mf_call *c, const char *why)
{
    const tspsd_ivr_menu *m = &c->ivr->menus.menus[c->ivr->cur];

    tspsd_media__log(c->mf, 2, "call=%llu msg=\"ivr %s\" menu=%s tries=%u",
                     (unsigned long long)c->serial, why, c->ivr->path,
                     c->ivr->fails + 1);
    if (c->ivr->fails++ < m->retries) {
        play_menu(c, c->ivr->cur);
        return;
    }
    act(c, "default", m->dflt);
}

void tspsd_media__ivr_prompt_done(mf_call *c)
{
    c->playing = NULL;
    c->ivr->waiting = 1;
    c->ivr->deadline_ns =
        tspsd_media__now_ns() +
        (int64_t)c->ivr->menus.menus[c->ivr->cur].timeout_s * 1000000000LL;
}

void tspsd_media__ivr_tick(mf_call *c, int64_t now)
{
    mf_ivr_state *st = c->ivr;

    if (st->refer_state == REFER_SENT && now >= st->refer_retx_ns) {
        if (++st->refer_tries > 6) {
            tspsd_media__call_end(c, "refer-no-answer");
            return;
        }
        (void)send_refer(c);
        st->refer_retx_ns =
            now + (500000000LL << (st->refer_tries > 3 ? 3 : st->refer_tries));
        return;
    }
    if (st->refer_state == REFER_ACCEPTED && now >= st->refer_deadline_ns) {
        tspsd_media__call_end(c, "refer-no-notify");
        return;
    }
    if (c->sip_state == SS_EARLY && c->phase == PH_IVR &&
        c->last_rtp_ns <= st->early_start_ns &&
        now - st->early_start_ns >= MF_IVR_EARLY_MS * 1000000LL) {
        answer(c, now);
        return;
    }
    if (c->phase == PH_IVR && st->waiting && st->refer_state == REFER_NONE &&
        now >= st->deadline_ns)
        failed(c, "timeout");
}

void tspsd_media__ivr_refer_response(mf_call *c, int status, uint32_t cseq)
{
    if (c->ivr == NULL || c->ivr->refer_state != REFER_SENT ||
        cseq != c->ivr->refer_cseq || status < 200)
        return;
    if (status >= 300) {
        tspsd_media__log(c->mf, 1,
                         "call=%llu msg=\"ivr: REFER refused\" "
                         "status=%d",
                         (unsigned long long)c->serial, status);
        tspsd_media__call_end(c, "refer-refused");
        return;
    }
    tspsd_media__log(c->mf, 2,
                     "call=%llu msg=\"ivr: REFER accepted\" "
                     "status=%d",
                     (unsigned long long)c->serial, status);
    c->ivr->refer_state = REFER_ACCEPTED;
    c->ivr->refer_deadline_ns = tspsd_media__now_ns() + MF_IVR_NOTIFY_NS;
}

int tspsd_media__ivr_notify(mf_call *c, const char *body, size_t len,
                            int terminated)
{
    int status = 0;
    char frag[64];
    size_t n = len < sizeof(frag) - 1 ? len : sizeof(frag) - 1;

    if (c->ivr == NULL || c->ivr->refer_state == REFER_NONE)
        return -1;
    if (body != NULL) {
        memcpy(frag, body, n);
        frag[n] = '\0';
        if (sscanf(frag, "SIP/2.0 %3d", &status) != 1)
            status = 0;
    }
    tspsd_media__log(c->mf, 2,
                     "call=%llu msg=\"ivr: transfer progress\" sipfrag=%d",
                     (unsigned long long)c->serial, status);
    if (status >= 200 || terminated) {
        c->ivr->refer_state = REFER_NONE;
        tspsd_media__call_end(c, status >= 200 && status < 300
                                     ? "transferred"
                                     : "transfer-failed");
    }
    return 0;
}

void tspsd_media__ivr_digit(mf_call *c, char d)
{
    const tspsd_ivr_menu *m;
    int i = tspsd_ivr_digit_index(d);
    char ds[2] = {d, '\0'};

    if (c->phase != PH_IVR || c->ivr->refer_state != REFER_NONE ||
        c->sip_state == SS_ENDED || c->bye_sent)
        return;
    m = &c->ivr->menus.menus[c->ivr->cur];
    if (i < 0 || m->digits[i][0] == '\0') {
        failed(c, "invalid digit");
        return;
    }
    act(c, ds, m->digits[i]);
}

const char *tspsd_media__ivr_contact(const mf_call *c)
{
    return c->ivr != NULL && c->ivr->contact[0] != '\0' ? c->ivr->contact
                                                        : NULL;
}
