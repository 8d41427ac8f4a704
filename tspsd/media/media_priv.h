/*
 * media_priv.h - the front's and the call's state, shared by media_front.c
 * (lifecycle, storage thread, inbox), media_sip.c (signalling) and
 * media_call.c (RTP, pacing, voicemail phases). Not installed.
 */
#ifndef TSPSD_MEDIA_PRIV_H
#define TSPSD_MEDIA_PRIV_H

#include "media_internal.h"

#include <event2/event.h>
#include <osipparser2/osip_parser.h>
#include <spandsp.h>
#include <stdatomic.h>

#define MF_HASH        1024
#define MF_WORKERS     4  /* storage threads: fsyncs of many hang-ups overlap */
#define MF_STORE_GROUP 64 /* recordings stored with one group commit */

typedef struct mf_call mf_call;
typedef struct mf_ivr_state mf_ivr_state;

enum mf_sip_state {
    SS_EARLY = 0, /* 180 sent, preparing prompts */
    SS_ANSWERED,  /* 200 sent, waiting for ACK */
    SS_CONFIRMED, /* ACK received */
    SS_ENDED,     /* BYE done / cancelled: lingers to absorb retransmits */
};

enum mf_phase {
    PH_NONE = 0,
    PH_GREETING,
    PH_BEEP,
    PH_RECORD,
    PH_STORING, /* recording handed to the storage thread */
    PH_FINAL,   /* playing "mailbox full/unavailable", then BYE */
    PH_DONE,
    PH_IVR, /* IVR menu in early media (media_ivr_call.c) */
};

enum mf_job_kind { JOB_PREPARE = 1, JOB_STORE };

typedef struct mf_job {
    struct mf_job *next;
    int kind;
    mf_call *call;
    /* PREPARE out */
    mf_pcm greeting, beep, unavailable;
    int full;
    char greeting_src[160];
    /* STORE in/out */
    mf_pcm rec;
    int rc;
    tspsd_media_message msg;
} mf_job;

struct mf_call {
    tspsd_media_front *mf;
    mf_call *hnext;         /* hash chain by Call-ID */
    mf_call *anext, *aprev; /* list of calls sending media */
    int active;             /* in the media list */
    uint64_t serial;        /* for logs */
    char call_id[256];
    char to_tag[24];
    char *local_hdr, *remote_hdr; /* To (ours, tagged) and From, as text */
    char *remote_target;          /* Contact URI of the caller */
    char *route;                  /* Route: lines from Record-Route */
    osip_message_t *invite;       /* kept to answer it (and CANCEL) */
    struct sockaddr_in sig_peer;  /* where the INVITE came from */
    char *last_resp;              /* last INVITE response, for retransmits */
    size_t last_resp_len;
    int sip_state;
    int resp_tries;
    int64_t sip_deadline_ns, sip_retx_ns, retx_ivl_ns;
    uint32_t our_cseq;
    int bye_tries;
    int bye_sent;
    osip_message_t *pending_bye; /* the caller's BYE, answered once stored */
    struct sockaddr_in pending_bye_peer;
    int job_pending, dead;
    tspsd_media_call_info info;
    /* media */
    mf_sdp_offer offer;
    int dir_remote;
    uint64_t sdp_ver;
    uint16_t rtp_port;
    int rtp_fd, rtcp_fd;
    struct event *rtp_ev, *rtcp_ev;
    struct sockaddr_in rtp_dest;
    int latched;
    uint32_t ssrc, ts;
    uint16_t seq;
    int64_t next_send_ns, last_rtp_ns, answered_ns;
    int phase;
    mf_pcm greeting, beep, unavailable;
    const mf_pcm *playing;
    size_t play_pos;
    mf_pcm rec;
    size_t rec_max, silent_run;
    int have_rec_seq, voiced;
    uint16_t rec_seq;
    int last_evt_ts_valid;
    uint32_t last_evt_ts;
    dtmf_rx_state_t *dtmf;
    unsigned digits_seen;
    int end_after_final;
    char end_reason[32];
    mf_ivr_state *ivr; /* non-NULL: an IVR call (media_ivr_call.c) */
};

struct tspsd_media_front {
    tspsd_media_config cfg;
    char *data_dir, *sip_addr, *default_language;
    char cache_dir[4096], greet_dir[4096];
    const tspsd_media_host *host;
    void *host_ctx;
    mf_store *store;
    int sip_fd;
    uint16_t sip_port;
    struct event_base *base;
    struct event *sip_ev, *tick_ev, *wake_ev;
    int tick_fd, wake_fd;
    int64_t tick_base; /* ticks fire at tick_base + k * MF_TICK_NS */
    pthread_t thread, worker[MF_WORKERS];
    int nworkers;
    int running;
    atomic_int stopping;
    /* calls (media thread only) */
    mf_call *hash[MF_HASH];
    mf_call *active;
    unsigned ncalls;
    uint64_t serial;
    uint16_t next_port;
    /* storage thread queues */
    pthread_mutex_t qlock;
    pthread_mutex_t mwi_lock; /* count + NOTIFY in order of the changes */
    pthread_cond_t qcond;
    mf_job *todo, *todo_tail, *done, *done_tail;
    int worker_stop;
    /* stats */
    _Atomic uint64_t st_answered, st_active, st_stored, st_store_fail;
    _Atomic uint64_t st_sent, st_recv, st_dropped;
    _Atomic uint64_t st_late[200];
};

/* media_front.c */
void tspsd_media__job_submit(tspsd_media_front *mf, mf_job *job);
void tspsd_media__job_free(mf_job *job);

/* media_sip.c */
void tspsd_media__sip_read(evutil_socket_t fd, short what, void *arg);
int tspsd_media__send_response(tspsd_media_front *mf, mf_call *c,
                               const osip_message_t *req,
                               const struct sockaddr_in *to, int code,
                               const char *sdp, int keep);
int tspsd_media__send_bye(tspsd_media_front *mf, mf_call *c);
void tspsd_media__sip_timers(tspsd_media_front *mf, mf_call *c, int64_t now);
mf_call *tspsd_media__call_find(tspsd_media_front *mf, const char *call_id);

/* media_call.c */
mf_call *tspsd_media__call_new(tspsd_media_front *mf, const char *call_id);
void tspsd_media__call_free(mf_call *c);
int tspsd_media__call_open_rtp(mf_call *c);
void tspsd_media__call_start_media(mf_call *c);
void tspsd_media__call_stop_media(mf_call *c);
void tspsd_media__call_prepared(mf_call *c, mf_job *job);
void tspsd_media__call_stored(mf_call *c, mf_job *job);
void tspsd_media__call_end(mf_call *c, const char *why);
void tspsd_media__call_bye(mf_call *c, osip_message_t *bye,
                           const struct sockaddr_in *peer);
void tspsd_media__call_digit(mf_call *c, char d, const char *how);
void tspsd_media__tick(evutil_socket_t fd, short what, void *arg);

/* media_ivr_call.c */
int tspsd_media__ivr_attach(mf_call *c);
void tspsd_media__ivr_free(mf_call *c);
void tspsd_media__ivr_prepare(tspsd_media_front *mf, mf_call *c);
void tspsd_media__ivr_prepared(mf_call *c);
void tspsd_media__ivr_prompt_done(mf_call *c);
void tspsd_media__ivr_tick(mf_call *c, int64_t now);
void tspsd_media__ivr_digit(mf_call *c, char d);
const char *tspsd_media__ivr_contact(const mf_call *c);
void tspsd_media__ivr_refer_response(mf_call *c, int status, uint32_t cseq);
/* NOTIFY of our REFER's subscription: 0 (answer 200) or -1 (481). */
int tspsd_media__ivr_notify(mf_call *c, const char *body, size_t len,
                            int terminated);

#endif
