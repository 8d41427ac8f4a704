/*
 * sip_txn.c - INVITE server transactions (RFC 3261 17.2.1).
 *
 * Held ("ask") calls live in a list until resolved, timed out or cancelled;
 * their final response is retransmitted over UDP (Timer G, doubling from T1
 * to T2) until the ACK arrives or Timer H (64*T1) ends it. Calls answered at
 * once are not kept as transactions: their final response is remembered in a
 * fixed-size cache so that a retransmitted INVITE gets the same response
 * again instead of a second routing and a second history entry.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "sip_internal.h"

enum { HELD = 0, COMPLETED = 1 };

struct sip_held {
    sip_held *next, *prev;
    sip_held *by_key, *by_id, *by_user; /* index chains */
    uint64_t key_h, user_h;
    tspsd_sip *s;
    uint64_t id;
    char key[512];
    sip_src src;
    char *req; /* copy of the INVITE; raw spans point into it */
    sip_raw raw;
    char ruri_key[512];
    tsps_decision d;
    int state;
    char *last; /* last response sent */
    size_t last_len;
    struct event *timer;
    int g_ms;
    int64_t started_ms;
};

struct sip_cache_ent {
    uint64_t h;
    size_t keylen, len;
    char *data; /* key, then response */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sip_txn_key(const sip_raw *r, char *buf, size_t len)
{
    long cseq = sip_raw_cseq_num(r);
    int n = snprintf(buf, len, "%.*s|%.*s|%ld", (int)r->branch.n,
                     r->branch.p != NULL ? r->branch.p : "", (int)r->call_id.n,
                     r->call_id.p, cseq);
    return n < 0 || (size_t)n >= len ? -1 : n;
}

/* ---- cache of immediate final responses -----------------------------------
 */

int sip_txn_cache_init(tspsd_sip *s)
{
    s->cache = calloc(SIP_CACHE_SLOTS, sizeof(*s->cache));
    return s->cache == NULL ? TSPS_ENOMEM : TSPS_OK;
}

void sip_txn_cache_free(tspsd_sip *s)
{
    if (s->cache == NULL)
        return;
    for (size_t i = 0; i < SIP_CACHE_SLOTS; i++)
        free(s->cache[i].data);
    free(s->cache);
    s->cache = NULL;
}

void sip_txn_remember(tspsd_sip *s, const sip_raw *r, const char *resp,
                      size_t n)
{
    char key[512];
    int kl = sip_txn_key(r, key, sizeof(key));
    if (kl < 0 || s->cache == NULL)
        return;
    uint64_t h = sip_hash(SIP_HASH_INIT, key, (size_t)kl);
    sip_cache_ent *e = &s->cache[h % SIP_CACHE_SLOTS];
    char *data = realloc(e->data, (size_t)kl + n);
    if (data == NULL)
        return;
    memcpy(data, key, (size_t)kl);
    memcpy(data + kl, resp, n);
    e->data = data;
    e->h = h;
    e->keylen = (size_t)kl;
    e->len = n;
}

static sip_cache_ent *cache_find(tspsd_sip *s, const char *key, size_t kl)
{
    if (s->cache == NULL)
        return NULL;
    uint64_t h = sip_hash(SIP_HASH_INIT, key, kl);
    sip_cache_ent *e = &s->cache[h % SIP_CACHE_SLOTS];
    if (e->data == NULL || e->h != h || e->keylen != kl ||
        memcmp(e->data, key, kl) != 0)
        return NULL;
    return e;
}

/* ---- held calls ------------------------------------------------------------
 *
 * Indexed three ways (chained hash tables of s->held_buckets heads each):
 * by transaction key (retransmissions, ACK, CANCEL), by call id (resolve)
 * and by user (the per-user cap). No lookup walks all held calls.
 */

int sip_txn_index_init(tspsd_sip *s)
{
    size_t n = 1024;
    while (n < (size_t)s->cfg.max_held * 2 && n < ((size_t)1 << 20))
        n <<= 1;
    s->held_buckets = n;
    s->held_idx = calloc(3 * n, sizeof(*s->held_idx));
    return s->held_idx == NULL ? TSPS_ENOMEM : TSPS_OK;
}

void sip_txn_index_free(tspsd_sip *s)
{
    free(s->held_idx);
    s->held_idx = NULL;
}

static sip_held **bucket(tspsd_sip *s, int which, uint64_t h)
{
    return &s->held_idx[(size_t)which * s->held_buckets +
                        (h & (s->held_buckets - 1))];
}

static uint64_t id_hash(uint64_t id)
{
    return sip_hash(SIP_HASH_INIT, &id, sizeof(id));
}

static void unlink_chain(sip_held **head, sip_held *h, size_t off)
{
    for (sip_held **pp = head; *pp != NULL;
         pp = (sip_held **)((char *)*pp + off)) {
        if (*pp == h) {
            *pp = *(sip_held **)((char *)h + off);
            return;
        }
    }
}

static void index_add(tspsd_sip *s, sip_held *h)
{
    sip_held **b = bucket(s, 0, h->key_h);
    h->by_key = *b;
    *b = h;
    b = bucket(s, 1, id_hash(h->id));
    h->by_id = *b;
    *b = h;
    b = bucket(s, 2, h->user_h);
    h->by_user = *b;
    *b = h;
}

static void index_del(tspsd_sip *s, sip_held *h)
{
    unlink_chain(bucket(s, 0, h->key_h), h, offsetof(sip_held, by_key));
    unlink_chain(bucket(s, 1, id_hash(h->id)), h, offsetof(sip_held, by_id));
    unlink_chain(bucket(s, 2, h->user_h), h, offsetof(sip_held, by_user));
}

static uint64_t user_hash(const char *user)
{
    return sip_hash(SIP_HASH_INIT, user, strlen(user));
}

/* Calls of `user` held now (waiting for a decision), from unknown callers
 * in *unknown. Walks only the user's bucket. */
static int held_of_user(tspsd_sip *s, const char *user, int *unknown)
{
    uint64_t uh = user_hash(user);
    int n = 0;
    *unknown = 0;
    for (sip_held *h = *bucket(s, 2, uh); h != NULL; h = h->by_user) {
        if (h->user_h != uh || h->state != HELD || strcmp(h->d.user, user) != 0)
            continue;
        n++;
        if (h->d.contact_uid[0] == '\0')
            (*unknown)++;
    }
    return n;
}

int sip_txn_hold_room(tspsd_sip *s, const tsps_decision *d, int *retry_after)
{
    int unknown = 0;
    *retry_after = 0;
    if (s->nheld >= s->cfg.max_held) {
        *retry_after = 5;
        return 503;
    }
    int n = held_of_user(s, d->user, &unknown);
    int cap = s->cfg.max_held_per_user;
    /* unknown callers get half of a user's room, so that a flood of
       them leaves room for the user's contacts */
    if (n >= cap || (d->contact_uid[0] == '\0' && unknown >= (cap + 1) / 2)) {
        *retry_after = 10;
        return 486;
    }
    return 0;
}

static void held_free(sip_held *h)
{
    tspsd_sip *s = h->s;
    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        s->held = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
    s->nheld--;
    index_del(s, h);
    if (h->timer != NULL)
        event_free(h->timer);
    free(h->req);
    free(h->last);
    free(h);
}

static sip_held *held_find(tspsd_sip *s, const sip_raw *r)
{
    char key[512];
    int kl;
    if (s->held == NULL || (kl = sip_txn_key(r, key, sizeof(key))) < 0)
        return NULL;
    uint64_t kh = sip_hash(SIP_HASH_INIT, key, (size_t)kl);
    for (sip_held *h = *bucket(s, 0, kh); h != NULL; h = h->by_key)
        if (h->key_h == kh && strcmp(h->key, key) == 0)
            return h;
    return NULL;
}

static int set_last(sip_held *h, const char *p, size_t n)
{
    char *c = malloc(n);
    if (c == NULL)
        return TSPS_ENOMEM;
    memcpy(c, p, n);
    free(h->last);
    h->last = c;
    h->last_len = n;
    return TSPS_OK;
}

static void arm(sip_held *h, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(h->timer, &tv);
}

/* Send the final response for decision d and enter COMPLETED. emit: tell
 * the hooks (the end is ours: close); else the owner of the held call,
 * who asked for this answer, announces it. */
static tsps_outcome finish(sip_held *h, const tsps_decision *d, int timeout,
                           const char *why, int emit)
{
    tspsd_sip *s = h->s;
    char out[SIP_MAX_RESP], note[64];
    sip_buf b = {out, 0, sizeof(out), 0};
    sip_final fin;
    int64_t now = (int64_t)time(NULL);

    if (d != &h->d)
        h->d = *d;
    sip_redirect_build(s, &b, &h->raw, &h->src, &h->d, h->id, now, h->ruri_key,
                       timeout, &fin);
    if (b.err) {
        b.len = 0;
        b.err = 0;
        sip_resp_begin(&b, &h->raw, &h->src, 500, NULL);
        sip_resp_end(&b);
        fin.code = 500;
        fin.outcome = TSPS_OUTCOME_FAILED;
    }
    sip_send(s, &h->src, out, b.len);
    set_last(h, out, b.len);
    h->state = COMPLETED;
    snprintf(note, sizeof(note), "%d %s (%s)", fin.code, sip_reason(fin.code),
             why);
    int rc = tsps_history_set_outcome(s->eng, h->id, fin.outcome, now, note);
    if (rc != TSPS_OK)
        sip_log(s, TSPS_LOG_WARN,
                "msg=\"history outcome not saved\" call=%llu err=%s",
                (unsigned long long)h->id, tsps_errname(rc));
    sip_log(s, TSPS_LOG_INFO,
            "msg=\"held call answered\" call=%llu code=%d by=%s",
            (unsigned long long)h->id, fin.code, why);
    if (emit)
        sip_emit(s, TSPSD_SIP_CALL_ENDED, h->id, &h->d, fin.outcome);
    if (h->src.proto != SIP_PROTO_UDP) {
        held_free(h); /* reliable transport: no retransmission */
        return fin.outcome;
    }
    h->g_ms = SIP_T1_MS;
    h->started_ms = now_ms();
    arm(h, h->g_ms);
    return fin.outcome;
}

/* Close with a call still held (its owner did not answer it): 480, no
 * policy here - the owner of held calls answers them before the close. */
static void answer_unavailable(sip_held *h, const char *actor)
{
    tsps_decision nd = h->d;
    memset(&nd.method, 0, sizeof(nd.method));
    nd.method.kind = TSPS_METHOD_REJECT;
    nd.method.a.kind = TSPS_METHOD_REJECT;
    nd.method.a.reject = TSPS_REJECT_UNAVAILABLE;
    nd.ntargets = 0;
    nd.flags |= TSPS_DEC_FALLBACK;
    finish(h, &nd, 0, actor, 1);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    sip_held *h = arg;
    (void)fd;
    (void)what;
    if (h->state == HELD)
        return; /* not armed while held: the owner times it out */
    /* COMPLETED over UDP: Timer G retransmits, Timer H gives up */
    if (now_ms() - h->started_ms >= SIP_TH_MS) {
        sip_log(h->s, TSPS_LOG_INFO,
                "msg=\"no ACK for final response\" call=%llu",
                (unsigned long long)h->id);
        held_free(h);
        return;
    }
    sip_send(h->s, &h->src, h->last, h->last_len);
    h->g_ms = h->g_ms * 2 > SIP_T2_MS ? SIP_T2_MS : h->g_ms * 2;
    arm(h, h->g_ms);
}

int sip_txn_hold(tspsd_sip *s, const sip_raw *r, const sip_src *src,
                 const tsps_decision *d, uint64_t id, const char *ruri_key)
{
    char out[SIP_MAX_RESP];
    sip_buf b = {out, 0, sizeof(out), 0};
    sip_held *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return TSPS_ENOMEM;
    h->s = s;
    h->id = id;
    h->src = *src;
    h->d = *d;
    h->state = HELD;
    snprintf(h->ruri_key, sizeof(h->ruri_key), "%s", ruri_key);
    h->req = malloc(r->len + 1);
    h->timer = event_new(s->base, -1, 0, timer_cb, h);
    if (h->req == NULL || h->timer == NULL ||
        sip_txn_key(r, h->key, sizeof(h->key)) < 0) {
        if (h->timer != NULL)
            event_free(h->timer);
        free(h->req);
        free(h);
        return TSPS_ENOMEM;
    }
    memcpy(h->req, r->buf, r->len);
    h->req[r->len] = '\0';
    sip_raw_scan(h->req, r->len, &h->raw);
    h->key_h = sip_hash(SIP_HASH_INIT, h->key, strlen(h->key));
    h->user_h = user_hash(d->user);

    h->next = s->held;
    if (s->held != NULL)
        s->held->prev = h;
    s->held = h;
    s->nheld++;
    index_add(s, h);

    sip_resp_begin(&b, r, src, 100, NULL);
    sip_resp_end(&b);
    sip_send(s, src, out, b.len);
    b.len = 0;
    sip_resp_begin(&b, r, src, 180, NULL);
    sb_printf(&b, "X-Tsps-Call-Id: %llu\r\n", (unsigned long long)id);
    sip_resp_end(&b);
    sip_send(s, src, out, b.len);
    set_last(h, out, b.len);

    /* No timer while held: the owner of held calls (the daemon's core)
     * times it out and answers it with tspsd_sip_answer(). */
    sip_log(s, TSPS_LOG_INFO,
            "msg=\"call held for decision\" call=%llu user=%s",
            (unsigned long long)id, d->user);
    sip_emit(s, TSPSD_SIP_CALL_OFFERED, id, d, TSPS_OUTCOME_PENDING);
    return TSPS_OK;
}

int tspsd_sip_answer(tspsd_sip *s, uint64_t call_id, const tsps_decision *d,
                     int timeout, tsps_outcome *outcome)
{
    if (s == NULL || d == NULL)
        return TSPS_EINVAL;
    if (s->held_idx == NULL)
        return TSPS_ENOTFOUND;
    for (sip_held *h = *bucket(s, 1, id_hash(call_id)); h != NULL;
         h = h->by_id) {
        if (h->id == call_id && h->state == HELD) {
            event_del(h->timer);
            tsps_outcome oc = finish(h, d, timeout,
                                     timeout               ? "timeout"
                                     : d->actor[0] != '\0' ? d->actor
                                                           : "resolve",
                                     0);
            if (outcome != NULL)
                *outcome = oc;
            sip_net_flush(s);
            return TSPS_OK;
        }
    }
    return TSPS_ENOTFOUND;
}

int tspsd_sip_resolve(tspsd_sip *s, uint64_t call_id, const tsps_decision *d)
{
    return tspsd_sip_answer(s, call_id, d, 0, NULL);
}

int sip_txn_absorb(tspsd_sip *s, const sip_raw *r, const sip_src *src)
{
    sip_held *h = held_find(s, r);
    if (h != NULL) {
        sip_send(s, src, h->last, h->last_len);
        return 1;
    }
    char key[512];
    int kl = sip_txn_key(r, key, sizeof(key));
    if (kl < 0)
        return 0;
    sip_cache_ent *e = cache_find(s, key, (size_t)kl);
    if (e == NULL)
        return 0;
    sip_send(s, src, e->data + e->keylen, e->len);
    return 1;
}

void sip_txn_ack(tspsd_sip *s, const sip_raw *r)
{
    sip_held *h = held_find(s, r);
    if (h != NULL && h->state == COMPLETED)
        held_free(h); /* Timer G stops; later ACK copies are ignored */
}

void sip_txn_cancel(tspsd_sip *s, const sip_raw *r, const sip_src *src)
{
    char out[SIP_MAX_RESP], key[512];
    sip_buf b = {out, 0, sizeof(out), 0};
    sip_held *h = held_find(s, r);
    int kl = sip_txn_key(r, key, sizeof(key));
    int known =
        h != NULL || (kl >= 0 && cache_find(s, key, (size_t)kl) != NULL);

    sip_resp_begin(&b, r, src, known ? 200 : 481, NULL);
    sip_resp_end(&b);
    sip_send(s, src, out, b.len);
    if (h == NULL || h->state != HELD)
        return;

    event_del(h->timer);
    b.len = 0;
    sip_resp_begin(&b, &h->raw, &h->src, 487, NULL);
    sb_printf(&b, "X-Tsps-Call-Id: %llu\r\n", (unsigned long long)h->id);
    sip_resp_end(&b);
    sip_send(s, &h->src, out, b.len);
    set_last(h, out, b.len);
    h->state = COMPLETED;
    int64_t now = (int64_t)time(NULL);
    tsps_history_set_outcome(s->eng, h->id, TSPS_OUTCOME_MISSED, now,
                             "487 Request Terminated (cancel)");
    sip_log(s, TSPS_LOG_INFO, "msg=\"held call cancelled\" call=%llu",
            (unsigned long long)h->id);
    sip_emit(s, TSPSD_SIP_CALL_ENDED, h->id, &h->d, TSPS_OUTCOME_MISSED);
    if (h->src.proto != SIP_PROTO_UDP) {
        held_free(h);
        return;
    }
    h->g_ms = SIP_T1_MS;
    h->started_ms = now_ms();
    arm(h, h->g_ms);
}

void sip_txn_close_all(tspsd_sip *s)
{
    while (s->held != NULL) {
        sip_held *h = s->held;
        if (h->state == HELD) {
            event_del(h->timer);
            answer_unavailable(h, "shutdown");
            if (s->held != h)
                continue; /* finish() freed it (TCP) */
        }
        held_free(h);
    }
    sip_net_flush(s);
}
