/*
 * fuzz_sip.c - libFuzzer target over the SIP front's message path: raw scan,
 * TCP framing, osip parse, registrar / redirect / hold-for-decision and
 * response building (sip_process), without sockets: responses go to a sink
 * that checks they are well-formed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>

#include "sip_internal.h"

static tsps_engine *eng;
static struct event_base *base;
static tspsd_sip *sip;
static unsigned iterations;

static void sink(tspsd_sip *s, const sip_src *dst, const char *p, size_t n)
{
    /* every response is a complete SIP response ending in a blank line */
    if (n < 12 || memcmp(p, "SIP/2.0 ", 8) != 0 ||
        memcmp(p + n - 4, "\r\n\r\n", 4) != 0)
        abort();
}

static void provision(void)
{
    static const char *const rules[][3] = {
        {"VIP", "any", "ring"},
        {"FAMILY", "any", "ring sequential then voicemail"},
        {"BLOCK", "any", "reject busy"},
        {"ASK", "any", "ask timeout=5 then forward +4930777777"},
        {"UNKNOWN", "any", "voicemail"},
        {"*", "dnd", "forward sip:+4930111111@127.0.0.1"},
    };
    static const char *const contacts[][3] = {
        {"a", "VIP", "+4930222222"},
        {"b", "FAMILY", "+4930333333"},
        {"c", "BLOCK", "+4930999999"},
        {"d", "ASK", "+4930444444"},
    };
    tsps_user u;
    tsps_user_init(&u);
    snprintf(u.id, sizeof(u.id), "alice");
    snprintf(u.dialplan.region, sizeof(u.dialplan.region), "DE");
    snprintf(u.voicemail_uri, sizeof(u.voicemail_uri), "sip:vm@example.org");
    u.flags |= TSPS_USER_NO_HOURS;
    tsps_user_put(eng, &u);
    tsps_number_add(eng, "alice", "+4930111111");
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        tsps_method m;
        if (tsps_method_parse(rules[i][2], &m, NULL, 0) == TSPS_OK)
            tsps_code_set(eng, "alice", rules[i][0],
                          (tsps_status)tsps_status_parse(rules[i][1]), &m);
    }
    for (size_t i = 0; i < sizeof(contacts) / sizeof(contacts[0]); i++) {
        tsps_contact c;
        tsps_contact_init(&c);
        snprintf(c.uid, sizeof(c.uid), "%s", contacts[i][0]);
        snprintf(c.code, sizeof(c.code), "%s", contacts[i][1]);
        snprintf(c.numbers[0], sizeof(c.numbers[0]), "%s", contacts[i][2]);
        c.nnumbers = 1;
        tsps_contact_put(eng, "alice", &c);
    }
    tspsd_sip_device_set(eng, "127.0.0.1", "alice-desk", "alice", "desk",
                         "secret");
    tsps_registration r;
    tsps_registration_init(&r);
    snprintf(r.contact, sizeof(r.contact), "sip:alice@127.0.0.1:5099");
    r.expires = 4102444800; /* 2100 */
    tsps_registration_put(eng, "alice", &r);
}

static void open_front(void)
{
    tspsd_sip_config sc;
    memset(&sc, 0, sizeof(sc));
    sc.listen = "127.0.0.1";
    sc.auth_register = (iterations / 500) % 2; /* both registrar modes */
    if (tspsd_sip_open(base, eng, &sc, NULL, &sip) != TSPS_OK)
        abort();
    sip->send = sink;
}

static void setup(void)
{
    char dir[] = "/tmp/fuzz-sip-XXXXXX";
    if (mkdtemp(dir) == NULL)
        abort();
    tsps_config cfg = TSPS_CONFIG_INIT;
    cfg.path = dir;
    cfg.flags = TSPS_OPEN_NOSYNC;
    if (tsps_engine_open(&cfg, &eng) != TSPS_OK)
        abort();
    provision();
    base = event_base_new();
    open_front();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (eng == NULL)
        setup();
    if (size > SIP_MAX_MSG)
        return 0;
    /* an exact-size copy: reads past the end are caught by ASan */
    char *buf = malloc(size > 0 ? size : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);

    sip_src src;
    memset(&src, 0, sizeof(src));
    struct sockaddr_in *a = (struct sockaddr_in *)&src.addr;
    a->sin_family = AF_INET;
    a->sin_port = htons(5070);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    src.addrlen = sizeof(*a);
    src.proto = size > 0 && (data[0] & 1) ? SIP_PROTO_TCP : SIP_PROTO_UDP;

    size_t off = 0, msglen = 0;
    if (src.proto == SIP_PROTO_TCP) {
        /* TCP: frame the stream, then process each message */
        while (off < size &&
               sip_raw_frame(buf + off, size - off, &msglen) == 1 &&
               msglen > 0) {
            sip_process(sip, buf + off, msglen, &src);
            off += msglen;
        }
    } else {
        sip_process(sip, buf, size, &src);
    }
    free(buf);
    event_base_loop(base, EVLOOP_NONBLOCK);
    if (++iterations % 500 == 0) {
        /* held calls pile up without a running loop: answer them all */
        tspsd_sip_close(sip);
        open_front();
    }
    return 0;
}
