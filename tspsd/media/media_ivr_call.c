/*
 * media_ivr_call.c - an IVR call: the menu played as early media (183 with
 * SDP), digits (RFC 4733 or in-band) collected during it, replays on a
 * timeout or an invalid digit, sub-menus, and the end of the INVITE with
 * the 302 to the target the host's route_digit op returns.
 *
 * Runs on the media thread, except tspsd_media__ivr_prepare() (storage
 * thread, while the call waits for its job: the media thread does not touch
 * the prompts before the job comes back).
 */
#include "media_ivr.h"
#include "media_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mf_ivr_state {
    tspsd_ivr menus;
    mf_pcm prompt[TSPSD_IVR_MAX_MENUS];
    int cur;        /* index of the menu playing */
    unsigned fails; /* timeouts + invalid digits in this menu */
    int waiting;    /* prompt done, waiting for a digit */
    int64_t deadline_ns;
    char path[TSPSD_IVR_MAX_DEPTH * TSPSD_IVR_NAME_MAX + 8];
    char contact[TSPSD_IVR_ACTION_MAX + 8];
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
    play_menu(c, 0);
}

/* End the INVITE: 302 to the target, or 500 when the host cannot route. */
static void route(mf_call *c, const char *digit, const char *action)
{
    tspsd_media_front *mf = c->mf;
    char target[TSPSD_IVR_ACTION_MAX], trace[256] = "";
    int rc;

    tspsd_media__call_stop_media(c);
    c->phase = PH_DONE;
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
        tspsd_media__send_response(mf, c, c->invite, &c->sig_peer, 302, NULL,
                                   1);
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
    if (c->phase == PH_IVR && c->ivr->waiting && now >= c->ivr->deadline_ns)
        failed(c, "timeout");
}

void tspsd_media__ivr_digit(mf_call *c, char d)
{
    const tspsd_ivr_menu *m;
    int i = tspsd_ivr_digit_index(d);
    char ds[2] = {d, '\0'};

    if (c->phase != PH_IVR || c->sip_state != SS_EARLY)
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
