/*
 * media_internal.h - shared inside tspsd/media only (not installed).
 */
#ifndef TSPSD_MEDIA_INTERNAL_H
#define TSPSD_MEDIA_INTERNAL_H

#include "media_front.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define MF_FRAME_SAMPLES 160 /* 20 ms at 8 kHz */
#define MF_FRAME_NS      20000000LL
#define MF_TICK_NS       2000000LL /* pacing tick: calls spread over 10 phases */

/* ---- SDP (media_sdp.c) ---- */
enum { MF_DIR_SENDRECV = 0, MF_DIR_SENDONLY, MF_DIR_RECVONLY, MF_DIR_INACTIVE };
enum { MF_SDP_OK = 0, MF_SDP_MALFORMED = -1, MF_SDP_NOCODEC = -2 };

typedef struct mf_sdp_offer {
    struct sockaddr_in remote; /* c= + m=audio port (0.0.0.0 = hold) */
    int pt;                    /* chosen codec: 0 PCMU or 8 PCMA */
    int te_pt;                 /* telephone-event/8000 payload, -1 = none */
    int dir;                   /* the offerer's direction */
} mf_sdp_offer;

/**
 * Parse an SDP offer and pick PCMU/PCMA + telephone-event. Returns
 * MF_SDP_OK, MF_SDP_MALFORMED (why in err) or MF_SDP_NOCODEC.
 * Thread-safety: safe (parser_init() must have run once).
 */
int tspsd_media__sdp_negotiate(const char *body, size_t len, mf_sdp_offer *out,
                               char *err, size_t errlen);

/** Write our SDP answer (or offer when o == NULL). Returns length or -1. */
int tspsd_media__sdp_answer(const mf_sdp_offer *o, const char *addr,
                            uint16_t port, uint64_t sess_ver, int our_dir,
                            char *buf, size_t buflen);

/* ---- RTP (media_rtp.c) ---- */
typedef struct mf_rtp_pkt {
    int pt, marker;
    uint16_t seq;
    uint32_t ts, ssrc;
    const uint8_t *payload;
    size_t plen;
} mf_rtp_pkt;

typedef struct mf_dtmf_evt {
    int event; /* 0-9, 10 '*', 11 '#', 12-15 A-D */
    int end;
    int volume;
    uint16_t duration;
} mf_dtmf_evt;

/** Parse an RTP packet (RFC 3550). 0 or -1 when not valid RTP v2. */
int tspsd_media__rtp_parse(const uint8_t *buf, size_t len, mf_rtp_pkt *out);
/** Parse an RFC 4733 telephone-event payload. 0 or -1. */
int tspsd_media__rfc4733_parse(const uint8_t *p, size_t len, mf_dtmf_evt *out);
/** The character for an RFC 4733 event, 0 when none. */
char tspsd_media__dtmf_char(int event);
/** Write a 12-byte RTP header. */
void tspsd_media__rtp_header(uint8_t *buf, int pt, int marker, uint16_t seq,
                             uint32_t ts, uint32_t ssrc);

/* ---- audio (media_audio.c): runs on the storage thread ---- */
typedef struct mf_pcm {
    int16_t *s;
    size_t n;   /* samples at 8 kHz */
    size_t cap; /* allocated samples (0: exactly n, as loaded) */
} mf_pcm;

void tspsd_media__pcm_free(mf_pcm *p);
/** Load any WAV libsndfile reads, as 8 kHz mono. 0 or -1. */
int tspsd_media__wav_load(const char *path, mf_pcm *out);
/** Render text with espeak-ng in `lang`, cached under cache_dir. 0 / -1. */
int tspsd_media__tts(const char *cache_dir, const char *lang, const char *text,
                     mf_pcm *out);
/** The beep: 400 ms of 1 kHz from spandsp's tone generator. */
int tspsd_media__beep(mf_pcm *out);
/** Default prompt texts per language. */
const char *tspsd_media__prompt_text(const char *lang, const char *what);
/** Append 20 ms of silence frames. */
int tspsd_media__pcm_append(mf_pcm *dst, const int16_t *s, size_t n);

/* ---- store (media_store.c) ---- */
typedef struct mf_store mf_store;
int tspsd_media__store_open(const char *data_dir, mf_store **out);
void tspsd_media__store_close(mf_store *st);
/* One message of a group commit (store_put_many): in ci, pcm, n; out msg
 * and rc (TSPSD_MEDIA_OK, _EINVAL, _ENOBUFS quota, _ENOMEM, _EIO). */
typedef struct mf_store_item {
    const tspsd_media_call_info *ci;
    const int16_t *pcm;
    size_t n;
    tspsd_media_message msg;
    int rc;
} mf_store_item;
/* Store n messages durably (storage threads, any number at once) with one
 * file-system sync, one fsync per user folder and one LMDB commit; each item's
 * rc says how it went. Returns TSPSD_MEDIA_OK when at least one was stored. */
int tspsd_media__store_put_many(mf_store *st, mf_store_item *items, size_t n,
                                unsigned quota);
/* The LMDB record of a message (versioned, "TVM1"); 0 if buf is too small.
 * decode also reads the raw struct of records written before 0.4. */
size_t tspsd_media__rec_encode(const tspsd_media_message *m, unsigned char *b,
                               size_t len);
int tspsd_media__rec_decode(const void *data, size_t size,
                            tspsd_media_message *m);
/* store_put_many() of one message. */
int tspsd_media__store_put(mf_store *st, const tspsd_media_call_info *ci,
                           const int16_t *pcm, size_t n, unsigned quota,
                           tspsd_media_message *out);
int tspsd_media__store_count(mf_store *st, const char *user, unsigned *nnew,
                             unsigned *nold);
int tspsd_media__store_list(mf_store *st, const char *user,
                            tspsd_media_message *msgs, size_t max, size_t *n);
int tspsd_media__store_open_wav(mf_store *st, const char *user, const char *id,
                                int *fd);
int tspsd_media__store_mark(mf_store *st, const char *user, const char *id);
int tspsd_media__store_delete(mf_store *st, const char *user, const char *id);
/** Small per-user records beside the messages (kind "ivr": menus), one
 * LMDB transaction each. rec_get NUL-terminates; _ENOBUFS sets *len. */
int tspsd_media__store_rec_put(mf_store *st, const char *kind, const char *user,
                               const void *val, size_t len);
int tspsd_media__store_rec_get(mf_store *st, const char *kind, const char *user,
                               char *buf, size_t buflen, size_t *len);
int tspsd_media__store_rec_del(mf_store *st, const char *kind,
                               const char *user);
/** A user id / handling code that is safe as a path segment. */
bool tspsd_media__safe_name(const char *s);

/* ---- logging ---- */
void tspsd_media__log(tspsd_media_front *mf, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- MWI (media_mwi.c) ---- */
void tspsd_media__mwi_notify(tspsd_media_front *mf, const char *user);

int64_t tspsd_media__now_ns(void);

#endif
