/*
 * media_wire.h - the media front (tspsd/media) wired into tspsd as a call
 * front: the host operations of tspsd_media_host (token check, events, the
 * user's registered devices for MWI, logging) and the signed tokens the
 * 302 to the media front carries. Part of the app (main.c, daemon.c): the
 * only place that includes both the core and the media room.
 */
#ifndef TSPSD_MEDIA_WIRE_H
#define TSPSD_MEDIA_WIRE_H

#include <stddef.h>
#include <stdint.h>

typedef struct tspsd tspsd;

/**
 * A user's voicemail URI that means "tsps's own voicemail" (the media
 * front): the SIP front swaps it for a signed media URI in the 302.
 */
#define TSPSD_MEDIA_VOICEMAIL_URI "tsps:voicemail"

/** Lifetime of a token in a 302's Contact, in seconds. */
#define TSPSD_MEDIA_TOKEN_TTL_S 120

/**
 * Start the media front when [media] enabled: load (or create, 0600) the
 * token key, open the front in [media] data_dir (default
 * <data_dir>/media), start its threads, register it as the call front
 * "media". @return 0 (also when disabled), -1 logged.
 * Thread-safety: the loop thread, at start.
 */
int tspsd_media_wire_start(tspsd *d);

/**
 * The call facts a token carries, signed with the key of tspsd_media_wire
 * (HMAC-SHA256): hex(payload) "." hex(mac), payload
 * "user|caller|contact|code|history_id|language|expires". `|` in a field
 * is replaced by a space.
 * @return the token length, or -1 (buffer too small, no key)
 * Thread-safety: safe after start.
 */
int tspsd_media_wire_token(tspsd *d, const char *user, const char *caller,
                           const char *contact, const char *code,
                           uint64_t history_id, const char *language,
                           int64_t now, char *buf, size_t len);

/**
 * "sip:vm.TOKEN@addr:port" (voicemail) or "sip:ivr.TOKEN@addr:port"
 * (`ivr` 1: the user's IVR menu) of the media front, for a 302's Contact.
 * @return the length, or -1 (front off, buffer too small)
 * Thread-safety: safe after start.
 */
int tspsd_media_wire_uri(tspsd *d, int ivr, const char *token, char *buf,
                         size_t len);

/**
 * The RFC 3842 message-summary body of `user`'s mailbox now (for the SIP
 * front's SUBSCRIBE/NOTIFY), with a Message-Account line for `account`
 * (may be NULL). @return the body length, or -1 (front off, store error,
 * buffer too small). Thread-safety: the loop thread.
 */
int tspsd_media_wire_mwi_body(tspsd *d, const char *user, const char *account,
                              char *out, size_t n);

/**
 * The running media front, NULL when it is off (or stopped).
 * Thread-safety: loop thread (the front is stopped from the loop).
 */
struct tspsd_media_front *tspsd_media_wire_front(tspsd *d);

/**
 * Register the media front's control requests (media_ctl.c: ivr.get,
 * ivr.put) in the handler table; they answer UNSUPPORTED while the front
 * is off. Call once, with the core's handlers.
 */
void tspsd_media_ctl_register(tspsd *d);

#endif
