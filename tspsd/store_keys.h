/*
 * store_keys.h - every key prefix tspsd keeps in the engine's kv store, in
 * one place (docs/architecture.md, "Storage keys"). A new kind of record
 * gets its prefix here; nobody spells a prefix elsewhere.
 */
#ifndef TSPSD_STORE_KEYS_H
#define TSPSD_STORE_KEYS_H

#define TSPSD_KEY_TOKEN    "tspsd/token/"    /* <sha256 of token>: role, id */
#define TSPSD_KEY_DELEG    "tspsd/deleg/"    /* <user>/<attendant> */
#define TSPSD_KEY_SOURCE   "tspsd/source/"   /* <name>: a source added live */
#define TSPSD_KEY_WEBLINK  "tspsd/weblink/"  /* one-time login links */
#define TSPSD_KEY_WEBSESS  "tspsd/websess/"  /* web sessions */
#define TSPSD_KEY_WEBPW    "tspsd/webpw/"    /* web password hashes */
#define TSPSD_KEY_WEBSEEN  "tspsd/webseen/"  /* sessions' last use */
#define TSPSD_KEY_WEBPREFS "tspsd/webprefs/" /* <identity>: UI settings */
#define TSPSD_KEY_CHAT     "tspsd/chat/"     /* <call id>: chat room */
#define TSPSD_KEY_CHATINV  "tspsd/chatinv/"  /* chat invitations */
#define TSPSD_KEY_SIPDEV   "sip/dev/"        /* <username>: digest HA1s */
#define TSPSD_KEY_CLUSTER  "tspsd/cluster/"  /* rev; q/<seq>: for etcd */

#endif
