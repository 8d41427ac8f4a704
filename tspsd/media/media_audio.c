/*
 * media_audio.c - prompts and greetings as 8 kHz 16-bit mono PCM:
 * WAV files through libsndfile (+ libsamplerate for other rates), default
 * prompts rendered from text by libespeak-ng in the caller's language and
 * cached as WAV, the beep from spandsp's tone generator.
 * Runs on the storage thread only (espeak-ng keeps process-wide state).
 */
#include "media_internal.h"

#include <espeak-ng/speak_lib.h>
#include <fcntl.h>
#include <samplerate.h>
#include <sndfile.h>
#include <spandsp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void tspsd_media__pcm_free(mf_pcm *p)
{
    if (p == NULL)
        return;
    free(p->s);
    p->s = NULL;
    p->n = 0;
    p->cap = 0;
}

int tspsd_media__pcm_append(mf_pcm *dst, const int16_t *s, size_t n)
{
    /* recordings grow a frame at a time: grow the buffer geometrically */
    if (dst->n + n > dst->cap) {
        size_t cap = dst->cap * 2;
        int16_t *ns;
        if (cap < dst->n + n + 8000)
            cap = dst->n + n + 8000;
        ns = realloc(dst->s, cap * sizeof(int16_t));
        if (ns == NULL)
            return -1;
        dst->s = ns;
        dst->cap = cap;
    }
    if (s != NULL)
        memcpy(dst->s + dst->n, s, n * sizeof(int16_t));
    else
        memset(dst->s + dst->n, 0, n * sizeof(int16_t));
    dst->n += n;
    return 0;
}

/* float mono at `rate` -> int16 at 8 kHz */
static int to_8k(const float *in, size_t n, int rate, mf_pcm *out)
{
    float *tmp = NULL;
    size_t outn = n;
    int rc = -1;

    out->s = NULL;
    out->n = 0;
    if (rate != 8000) {
        SRC_DATA d;
        outn = (size_t)((double)n * 8000.0 / rate) + 16;
        tmp = calloc(outn, sizeof(float));
        if (tmp == NULL)
            return -1;
        memset(&d, 0, sizeof(d));
        d.data_in = in;
        d.input_frames = (long)n;
        d.data_out = tmp;
        d.output_frames = (long)outn;
        d.src_ratio = 8000.0 / rate;
        if (src_simple(&d, SRC_SINC_FASTEST, 1) != 0)
            goto cleanup;
        outn = (size_t)d.output_frames_gen;
        in = tmp;
    }
    out->s = calloc(outn + 1, sizeof(int16_t));
    if (out->s == NULL)
        goto cleanup;
    src_float_to_short_array(in, out->s, (int)outn);
    out->n = outn;
    rc = 0;
cleanup:
    free(tmp);
    return rc;
}

int tspsd_media__wav_load(const char *path, mf_pcm *out)
{
    SF_INFO info;
    SNDFILE *sf;
    float *buf = NULL, *mono = NULL;
    sf_count_t got;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    memset(&info, 0, sizeof(info));
    sf = sf_open(path, SFM_READ, &info);
    if (sf == NULL)
        return -1;
    /* at most 10 minutes of prompt */
    if (info.channels < 1 || info.channels > 8 || info.samplerate < 4000 ||
        info.samplerate > 192000 || info.frames <= 0 ||
        info.frames > (sf_count_t)info.samplerate * 600)
        goto cleanup;
    buf = calloc((size_t)info.frames * (size_t)info.channels, sizeof(float));
    mono = calloc((size_t)info.frames, sizeof(float));
    if (buf == NULL || mono == NULL)
        goto cleanup;
    got = sf_readf_float(sf, buf, info.frames);
    if (got <= 0)
        goto cleanup;
    for (sf_count_t i = 0; i < got; i++) {
        float acc = 0;
        for (int c = 0; c < info.channels; c++)
            acc += buf[i * info.channels + c];
        mono[i] = acc / (float)info.channels;
    }
    rc = to_8k(mono, (size_t)got, info.samplerate, out);
cleanup:
    free(buf);
    free(mono);
    sf_close(sf);
    return rc;
}

static int save_wav(const char *path, const mf_pcm *p)
{
    char tmp[4096];
    SF_INFO info = {.samplerate = 8000,
                    .channels = 1,
                    .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf;
    int ok;

    /* storage threads may render the same prompt at once: own temp names */
    snprintf(tmp, sizeof(tmp), "%s.tmp%d-%d", path, (int)getpid(),
             (int)gettid());
    sf = sf_open(tmp, SFM_WRITE, &info);
    if (sf == NULL)
        return -1;
    ok = sf_write_short(sf, p->s, (sf_count_t)p->n) == (sf_count_t)p->n;
    ok = (sf_close(sf) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* espeak-ng is one process-wide synthesiser: serialise its use. */
static pthread_mutex_t tts_lock = PTHREAD_MUTEX_INITIALIZER;
static int tts_rate;

typedef struct tts_acc {
    float *s;
    size_t n, cap;
    int fail;
} tts_acc;

static int tts_cb(short *wav, int num, espeak_EVENT *ev)
{
    tts_acc *a = ev != NULL ? ev->user_data : NULL;

    if (a == NULL || wav == NULL || num <= 0)
        return 0;
    if (a->n + (size_t)num > a->cap) {
        size_t cap = (a->cap ? a->cap * 2 : 65536) + (size_t)num;
        float *ns = realloc(a->s, cap * sizeof(float));
        if (ns == NULL) {
            a->fail = 1;
            return 1;
        }
        a->s = ns;
        a->cap = cap;
    }
    for (int i = 0; i < num; i++)
        a->s[a->n++] = wav[i] / 32768.0f;
    return 0;
}

static uint64_t fnv1a(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *a; a++)
        h = (h ^ (uint8_t)*a) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (; *b; b++)
        h = (h ^ (uint8_t)*b) * 1099511628211ULL;
    return h;
}

int tspsd_media__tts(const char *cache_dir, const char *lang, const char *text,
                     mf_pcm *out)
{
    char path[4096];
    tts_acc acc = {0};
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (!tspsd_media__safe_name(lang))
        lang = "en";
    snprintf(path, sizeof(path), "%s/%s-%016llx.wav", cache_dir, lang,
             (unsigned long long)fnv1a(lang, text));
    if (access(path, R_OK) == 0 && tspsd_media__wav_load(path, out) == 0)
        return 0;
    pthread_mutex_lock(&tts_lock);
    if (tts_rate <= 0)
        tts_rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL, 0);
    if (tts_rate <= 0)
        goto unlock;
    espeak_SetSynthCallback(tts_cb);
    if (espeak_SetVoiceByName(lang) != EE_OK &&
        espeak_SetVoiceByName("en") != EE_OK)
        goto unlock;
    if (espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0,
                     espeakCHARS_UTF8, NULL, &acc) != EE_OK ||
        espeak_Synchronize() != EE_OK || acc.fail || acc.n == 0)
        goto unlock;
    rc = to_8k(acc.s, acc.n, tts_rate, out);
unlock:
    pthread_mutex_unlock(&tts_lock);
    free(acc.s);
    if (rc == 0)
        (void)save_wav(path, out); /* a cache miss next time is harmless */
    return rc;
}

int tspsd_media__beep(mf_pcm *out)
{
    tone_gen_descriptor_t *desc;
    tone_gen_state_t *gen = NULL;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    desc = tone_gen_descriptor_init(NULL, 1000, -10, 0, 0, 400, 0, 0, 0, 0);
    if (desc == NULL)
        return -1;
    gen = tone_gen_init(NULL, desc);
    out->n = 8000 * 400 / 1000;
    out->s = calloc(out->n, sizeof(int16_t));
    if (gen != NULL && out->s != NULL) {
        tone_gen(gen, out->s, (int)out->n);
        rc = 0;
    } else {
        tspsd_media__pcm_free(out);
    }
    tone_gen_free(gen);
    tone_gen_descriptor_free(desc);
    return rc;
}

/* clang-format off */
static const struct { const char *lang, *what, *text; } prompts[] = {
    {"en", "greeting", "The person you are calling is not available. "
                       "Please leave a message after the tone."},
    {"en", "full", "Sorry, this mailbox is full."},
    {"en", "unavailable", "Sorry, this mailbox is unavailable."},
    {"de", "greeting", "Der gewünschte Gesprächspartner ist nicht erreichbar. "
                       "Bitte hinterlassen Sie eine Nachricht nach dem Signalton."},
    {"de", "full", "Diese Mailbox ist leider voll."},
    {"de", "unavailable", "Diese Mailbox ist leider nicht verfügbar."},
};
/* clang-format on */

const char *tspsd_media__prompt_text(const char *lang, const char *what)
{
    const char *fallback = NULL;

    for (size_t i = 0; i < sizeof(prompts) / sizeof(prompts[0]); i++) {
        if (strcmp(prompts[i].what, what) != 0)
            continue;
        if (lang != NULL && strncasecmp(prompts[i].lang, lang, 2) == 0)
            return prompts[i].text;
        if (strcmp(prompts[i].lang, "en") == 0)
            fallback = prompts[i].text;
    }
    return fallback != NULL ? fallback : "";
}
