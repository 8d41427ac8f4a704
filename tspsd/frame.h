/*
 * frame.h - control protocol framing: a 4-byte big-endian payload length,
 * then the payload (a serialised tsps.Request / tsps.Response). Pure
 * functions over byte buffers, so the decoder is a fuzz target.
 */
#ifndef TSPSD_FRAME_H
#define TSPSD_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define TSPSD_FRAME_HDR         4u
#define TSPSD_FRAME_MAX_DEFAULT (1u << 20) /* 1 MiB */

enum {
    TSPSD_FRAME_MORE = 0,    /* need more bytes */
    TSPSD_FRAME_OK = 1,      /* one frame: *payload, *plen, *consumed */
    TSPSD_FRAME_EEMPTY = -1, /* zero-length frame */
    TSPSD_FRAME_ETOOBIG = -2 /* length above the cap */
};

/**
 * Look for one complete frame at the start of buf.
 *
 * @return TSPSD_FRAME_OK, TSPSD_FRAME_MORE, or a negative error; on errors
 *         the connection must be closed (the stream cannot resync).
 */
int tspsd_frame_next(const uint8_t *buf, size_t len, size_t max,
                     const uint8_t **payload, size_t *plen, size_t *consumed);

/** Write the 4-byte header for a payload of `len` bytes. */
void tspsd_frame_header(uint8_t hdr[4], uint32_t len);

/** Read the length in a header. */
uint32_t tspsd_frame_len(const uint8_t hdr[4]);

/** Text for a negative result, for logs. */
const char *tspsd_frame_strerror(int rc);

#endif
