/*
 * fuzz_http.c - what the web UI parses from a request: the JSON body turned
 * into any control-protocol request (web_pb_from_json, then back with
 * web_pb_to_json and packed as the wire format), and the Cookie header.
 * Input: byte 0 picks the mode and the request kind, the rest is the body.
 */
#include <stdint.h>
#include <string.h>

#include <event2/http.h>

#include "web/web_internal.h"

static void fuzz_json(uint8_t pick, const uint8_t *data, size_t size)
{
    const ProtobufCMessageDescriptor *rd = &tsps__request__descriptor;
    const ProtobufCFieldDescriptor *f = &rd->fields[pick % rd->n_fields];
    tspsd_arena a = TSPSD_ARENA_INIT;
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    char err[200];

    if (j == NULL)
        return;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        const ProtobufCMessageDescriptor *md = f->descriptor;
        ProtobufCMessage *m = tspsd_arena_alloc(&a, md->sizeof_message);
        if (m != NULL) {
            md->message_init(m);
            if (web_pb_from_json(&a, j, m, err, sizeof(err)) == 0) {
                json_t *back = web_pb_to_json(m);
                size_t n = protobuf_c_message_get_packed_size(m);
                uint8_t *buf = tspsd_arena_alloc(&a, n + 1);
                if (buf != NULL)
                    protobuf_c_message_pack(m, buf);
                json_decref(back);
            }
        }
    }
    json_decref(j);
    tspsd_arena_free(&a);
}

static void fuzz_cookie(const uint8_t *data, size_t size)
{
    struct evhttp_request *req = evhttp_request_new(NULL, NULL);
    char hdr[4096], buf[80];
    if (req == NULL)
        return;
    if (size >= sizeof(hdr))
        size = sizeof(hdr) - 1;
    memcpy(hdr, data, size);
    hdr[size] = '\0';
    for (size_t i = 0; i < size; i++)
        if (hdr[i] == '\r' || hdr[i] == '\n' || hdr[i] == '\0')
            hdr[i] = ' ';
    evhttp_add_header(evhttp_request_get_input_headers(req), "Cookie", hdr);
    web_cookie(req, WEB_COOKIE, buf, sizeof(buf));
    web_cookie(req, "a", buf, 2);
    evhttp_request_free(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] == 0xff)
        fuzz_cookie(data + 1, size - 1);
    else
        fuzz_json(data[0], data + 1, size - 1);
    return 0;
}
