/*
 * media_mwi.c - RFC 3842 message waiting: the message-summary body, and the
 * unsolicited NOTIFY sent to each registered device of a user whose counts
 * changed. (SUBSCRIBE for message-summary is the SIP front's job; it can
 * build its NOTIFY body with tspsd_media_mwi_body().)
 * Runs on the storage thread or the caller of the inbox API; sendto() on
 * the front's UDP socket is safe beside the media thread.
 */
#include "media_priv.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

int tspsd_media_mwi_body(unsigned new_msgs, unsigned old_msgs,
                         const char *account, char *buf, size_t buflen)
{
    int n;

    n = snprintf(buf, buflen,
                 "Messages-Waiting: %s\r\n%s%s%sVoice-Message: %u/%u (0/0)\r\n",
                 new_msgs > 0 ? "yes" : "no",
                 account != NULL ? "Message-Account: " : "",
                 account != NULL ? account : "", account != NULL ? "\r\n" : "",
                 new_msgs, old_msgs);
    if (n < 0 || (size_t)n >= buflen)
        return -1;
    return n;
}

typedef struct notify_ctx {
    tspsd_media_front *mf;
    const char *user;
    char body[256];
    int blen;
} notify_ctx;

static void notify_one(void *arg, const char *uri)
{
    notify_ctx *nc = arg;
    tspsd_media_front *mf = nc->mf;
    osip_uri_t *u = NULL;
    struct sockaddr_in to;
    char msg[2048];
    unsigned r1 = (unsigned)random(), r2 = (unsigned)random();
    int n;

    if (uri == NULL || strlen(uri) > 512 || osip_uri_init(&u) != 0)
        return;
    if (osip_uri_parse(u, uri) != 0 || u->host == NULL) {
        tspsd_media__log(
            mf, 1, "msg=\"MWI: device URI does not parse\" user=%s", nc->user);
        goto cleanup;
    }
    memset(&to, 0, sizeof(to));
    to.sin_family = AF_INET;
    to.sin_port = htons(u->port != NULL ? (uint16_t)atoi(u->port) : 5060);
    if (inet_pton(AF_INET, u->host, &to.sin_addr) != 1) {
        tspsd_media__log(
            mf, 1, "msg=\"MWI: device host is not an IPv4 address\" user=%s",
            nc->user);
        goto cleanup;
    }
    n = snprintf(msg, sizeof(msg),
                 "NOTIFY %s SIP/2.0\r\n"
                 "Via: SIP/2.0/UDP %s:%u;branch=z9hG4bK-mwi%08x%08x;rport\r\n"
                 "Max-Forwards: 70\r\n"
                 "From: <sip:%s@%s:%u>;tag=mwi%08x\r\n"
                 "To: <%s>\r\n"
                 "Call-ID: mwi-%08x%08x@%s\r\n"
                 "CSeq: 1 NOTIFY\r\n"
                 "Contact: <sip:%s@%s:%u>\r\n"
                 "Event: message-summary\r\n"
                 "Subscription-State: active;expires=3600\r\n"
                 "Content-Type: application/simple-message-summary\r\n"
                 "Content-Length: %d\r\n\r\n%s",
                 uri, mf->sip_addr, (unsigned)mf->sip_port, r1, r2, nc->user,
                 mf->sip_addr, (unsigned)mf->sip_port, r1, uri, r1, r2,
                 mf->sip_addr, nc->user, mf->sip_addr, (unsigned)mf->sip_port,
                 nc->blen, nc->body);
    if (n > 0 && (size_t)n < sizeof(msg))
        (void)sendto(mf->sip_fd, msg, (size_t)n, 0, (struct sockaddr *)&to,
                     sizeof(to));
cleanup:
    osip_uri_free(u);
}

void tspsd_media__mwi_notify(tspsd_media_front *mf, const char *user)
{
    notify_ctx nc = {.mf = mf, .user = user};
    unsigned nnew, nold;
    char account[160];

    if (mf->host->list_devices == NULL)
        return;
    /* several threads change mailboxes: counting and sending under one
     * lock makes the last NOTIFY carry the last counts */
    pthread_mutex_lock(&mf->mwi_lock);
    if (tspsd_media__store_count(mf->store, user, &nnew, &nold) != 0)
        goto unlock;
    snprintf(account, sizeof(account), "sip:%s@%s", user, mf->sip_addr);
    nc.blen =
        tspsd_media_mwi_body(nnew, nold, account, nc.body, sizeof(nc.body));
    if (nc.blen < 0)
        goto unlock;
    (void)mf->host->list_devices(mf->host_ctx, user, notify_one, &nc);
unlock:
    pthread_mutex_unlock(&mf->mwi_lock);
}
