/*
 * cluster_wire.c - the cluster room wired into tspsd (cluster_wire.h,
 * docs/cluster.md).
 *
 * State keys under [cluster] prefix, each holding the packed write request
 * that made it (a Tsps__Request, id 0):
 *   user/<id>                  user.put, the web UI's hours page
 *                              (delete: user.delete); without numbers:
 *                              each number of a user.put is its own key
 *   number/<user>/<number>     number.add     (delete: number.remove)
 *   rule/<user>/<code>/<status> code.set      (delete: code.delete)
 *   status/<user>              status.set     (deleted with the user)
 *   deleg/<user>/<attendant>   delegate       (delete: delegate remove)
 *   source/<name>              source.add     (delete: source.remove)
 *   device/<username>          device.add     (delete: device.remove);
 *                              the value is the stored credential record
 *                              (digest HA1s), never the password
 *   prefs/<identity>           the web UI's POST /api/prefs (the stored
 *                              JSON object; no request carries it)
 *
 * The writing node applies a write first (the handler ran: its reply
 * says so) and then publishes it; every node, the writer too, applies
 * every event of the watch in revision order. Applying is idempotent, so
 * the writer's own echo changes nothing, and when two nodes write one key
 * at once, each may route with its own value for a moment, then all end
 * with the value etcd ordered last.
 */
#include "cluster_wire.h"

#include "cluster/cluster.h"
#include "daemon.h"
#include "handlers.h"
#include "log.h"
#include "store_keys.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <time.h>

#include <jansson.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "client.h"

#define KEY_REV   TSPSD_KEY_CLUSTER "rev"
#define KEY_Q     TSPSD_KEY_CLUSTER "q/"
#define KEY_SHARD TSPSD_KEY_CLUSTER "shard/" /* <user>: the map's copy */
/* <user>: a user held here outside the map: "0" moving in (move-user,
 * before the flip), else the time (epoch s) its keys go (moved away) */
#define KEY_HOLD TSPSD_KEY_CLUSTER "hold/"
/* <user>/<shard>: a shard the user moved away from (its nodes keep the
 * calls they routed for the user: history asks them too) */
#define KEY_WAS TSPSD_KEY_CLUSTER "was/"

struct tspsd_cluster_wire {
    tspsd *d;
    tspsd_cluster *cl;
    tspsd_front *front;
    tspsd_handler_fn orig[TSPSD_MAX_HANDLERS]; /* the wrapped handlers */
    /* The applied revision not yet stored (watcher thread; read by stop
     * after the join), and when it was last stored. */
    int64_t rev_pending;
    double rev_stored_ms;
    char sip[96];     /* the SIP front's address, "" when off (registry) */
    char ctl[96];     /* the control socket's address, "" when not reachable */
    char node[64];    /* this node's name (Decision.node) */
    char secret[256]; /* [cluster] peer_secret_file's secret, "" = none */
    char peer_ca[4096]; /* CA file of the peers' control certificates */
    /* The registry as last read (history across nodes): used while etcd
     * is unreachable. Guarded by peers_mu. */
    pthread_mutex_t peers_mu;
    char *peers_json; /* a JSON array of node records, NULL = never read */
    atomic_uint_fast64_t skipped; /* events of other shards' users */
    pthread_mutex_t hold_mu;      /* hold markers: watcher vs. tick */
};

/* The applied revision is stored at most this often: one LMDB commit per
 * event would double the commits of a burst. A node that dies re-applies
 * at most this much from etcd (applying is idempotent). */
#define REV_STORE_MS 100.0

static const int write_kinds[] = {
    TSPS__REQUEST__BODY_USER_PUT,   TSPS__REQUEST__BODY_USER_DELETE,
    TSPS__REQUEST__BODY_NUMBER_ADD, TSPS__REQUEST__BODY_NUMBER_REMOVE,
    TSPS__REQUEST__BODY_CODE_SET,   TSPS__REQUEST__BODY_CODE_DELETE,
    TSPS__REQUEST__BODY_STATUS_SET, TSPS__REQUEST__BODY_DELEGATE,
    TSPS__REQUEST__BODY_SOURCE_ADD, TSPS__REQUEST__BODY_SOURCE_REMOVE,
    TSPS__REQUEST__BODY_DEVICE_ADD, TSPS__REQUEST__BODY_DEVICE_REMOVE,
};

#define DEVICE_PREFIX "device/"
#define SHARD_PREFIX  "shard/"
#define MOVING_PREFIX "moving/" /* <user>: target shard of a move-user */
#define READY_PREFIX  "ready/"  /* <user>/<node>: a target node has it */
#define WAS_PREFIX    "was/"    /* <user>/<shard>: a shard the user left */
#define PREFS_PREFIX  "prefs/"
#define PREFS_MAX     8191 /* what the web UI reads back at most */

/* A fresh node reads users before what hangs off them. */
static const char *const range_order[] = {
    "shard/",  "user/",   "number/", "rule/", "status/", "deleg/",
    "source/", "device/", "prefs/",  "was/",  NULL};

/* A key part: not empty, no '/', printable. */
static int part_ok(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > 200)
        return 0;
    for (const char *p = s; *p != '\0'; p++)
        if (*p == '/' || (unsigned char)*p < 0x20)
            return 0;
    return 1;
}

/* The state key of a write request; 0, or -1 (not a replicated write or
 * parts that cannot be a key). *del = the write removes its key. */
static int key_of(const Tsps__Request *r, char *key, size_t len, int *del)
{
    const char *a = NULL, *b = NULL, *c = NULL, *kind = NULL;
    char st[32];
    *del = 0;
    switch (r->body_case) {
    case TSPS__REQUEST__BODY_USER_PUT:
        kind = "user";
        a = r->user_put->user ? r->user_put->user->id : NULL;
        break;
    case TSPS__REQUEST__BODY_USER_DELETE:
        kind = "user";
        a = r->user_delete->id;
        *del = 1;
        break;
    case TSPS__REQUEST__BODY_NUMBER_ADD:
        kind = "number";
        a = r->number_add->user;
        b = r->number_add->number;
        break;
    case TSPS__REQUEST__BODY_NUMBER_REMOVE:
        kind = "number";
        a = r->number_remove->user;
        b = r->number_remove->number;
        *del = 1;
        break;
    case TSPS__REQUEST__BODY_CODE_SET:
    case TSPS__REQUEST__BODY_CODE_DELETE: {
        const Tsps__Rule *ru = r->body_case == TSPS__REQUEST__BODY_CODE_SET
                                   ? r->code_set->rule
                                   : r->code_delete->rule;
        if (ru == NULL)
            return -1;
        kind = "rule";
        a = ru->user;
        b = ru->code;
        /* one key per rule: "" is "any", statuses in any case are one */
        c = ru->status != NULL && ru->status[0] != '\0' ? ru->status : "any";
        if (strlen(c) >= sizeof(st))
            return -1;
        for (size_t i = 0; i <= strlen(c); i++)
            st[i] = (char)tolower((unsigned char)c[i]);
        c = st;
        *del = r->body_case == TSPS__REQUEST__BODY_CODE_DELETE;
        break;
    }
    case TSPS__REQUEST__BODY_STATUS_SET:
        kind = "status";
        a = r->status_set->user;
        break;
    case TSPS__REQUEST__BODY_DELEGATE:
        if (r->delegate->delegation == NULL)
            return -1;
        kind = "deleg";
        a = r->delegate->delegation->user;
        b = r->delegate->delegation->attendant;
        *del = r->delegate->remove;
        break;
    case TSPS__REQUEST__BODY_SOURCE_ADD:
        if (r->source_add->source == NULL)
            return -1;
        kind = "source";
        a = r->source_add->source->name;
        break;
    case TSPS__REQUEST__BODY_SOURCE_REMOVE:
        kind = "source";
        a = r->source_remove->name;
        *del = 1;
        break;
    case TSPS__REQUEST__BODY_DEVICE_ADD:
        kind = "device";
        a = r->device_add->username;
        break;
    case TSPS__REQUEST__BODY_DEVICE_REMOVE:
        kind = "device";
        a = r->device_remove->username;
        *del = 1;
        break;
    default:
        return -1;
    }
    if (!part_ok(a) || (b != NULL && !part_ok(b)) || (c != NULL && !part_ok(c)))
        return -1;
    int n = c != NULL   ? snprintf(key, len, "%s/%s/%s/%s", kind, a, b, c)
            : b != NULL ? snprintf(key, len, "%s/%s/%s", kind, a, b)
                        : snprintf(key, len, "%s/%s", kind, a);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* A user's number as the store keeps it (E.164, normalised with the
 * user's dial plan, as number.add and number.remove do): 0, or -1. */
static int number_e164(struct tspsd_cluster_wire *w, const char *user,
                       const char *number, char *out, size_t len)
{
    tsps_user u;
    tsps_number n;
    if (tsps_user_get(w->d->eng, user, &u) != TSPS_OK ||
        tsps_normalize(number, &u.dialplan, &n) != TSPS_OK ||
        n.kind != TSPS_NUM_E164 || strlen(n.e164) >= len)
        return -1;
    memcpy(out, n.e164, strlen(n.e164) + 1);
    return 0;
}

/* ---- the shard map (docs/cluster.md, "Shards") ----
 * shard/<user> in etcd names the user's shard; a user without one is in
 * [cluster] default_shard. Every node keeps a copy of the map in its store
 * (KEY_SHARD), so a restarted node knows it before the watch catches up. */

/* The shard of `user` into out. */
static void user_shard(struct tspsd_cluster_wire *w, const char *user,
                       char *out, size_t len)
{
    char key[300];
    size_t n = 0;
    snprintf(key, sizeof(key), KEY_SHARD "%s", user);
    if (strlen(user) < 200 &&
        tsps_kv_get(w->d->eng, key, out, len - 1, &n) == TSPS_OK && n > 0) {
        out[n] = '\0';
        return;
    }
    snprintf(out, len, "%s", w->d->cfg.cluster_default_shard);
}

/* The hold of `user`: 1 and *until, or 0 (none). */
static int hold_get(struct tspsd_cluster_wire *w, const char *user,
                    long long *until)
{
    char key[300], v[32];
    size_t n = 0;
    snprintf(key, sizeof(key), KEY_HOLD "%s", user);
    if (tsps_kv_get(w->d->eng, key, v, sizeof(v) - 1, &n) != TSPS_OK)
        return 0;
    v[n] = '\0';
    *until = strtoll(v, NULL, 10);
    return 1;
}

/* The user's keys belong in this node's store: the node is in no shard
 * (it holds everyone), or the user is in its shard. */
static int user_here(struct tspsd_cluster_wire *w, const char *user)
{
    char sh[64];
    long long until = 0;
    if (w->d->cfg.cluster_shard[0] == '\0' || user == NULL || user[0] == '\0')
        return 1;
    user_shard(w, user, sh, sizeof(sh));
    if (strcmp(sh, w->d->cfg.cluster_shard) == 0)
        return 1;
    /* moving in ("0"), or moved away and still in its grace period: once
     * the grace is over the user is not here, even before the tick has
     * removed her keys (a write then would be refused a moment later,
     * or find her half gone) */
    return strlen(user) < 200 && hold_get(w, user, &until) &&
           (until == 0 || until > (long long)time(NULL));
}

/* The user a state key (and its value) belongs to into out, or "" for a
 * key of every node (prefs, a source without a user). */
static void key_user(const char *key, const void *val, size_t len, char *out,
                     size_t olen)
{
    static const char *const per_user[] = {"user/", "number/", "rule/",
                                           "status/", "deleg/"};
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(per_user) / sizeof(per_user[0]); i++) {
        size_t pl = strlen(per_user[i]);
        if (strncmp(key, per_user[i], pl) == 0) {
            size_t n = strcspn(key + pl, "/");
            if (n < olen)
                snprintf(out, olen, "%.*s", (int)n, key + pl);
            return;
        }
    }
    if (val == NULL)
        return;
    if (strncmp(key, DEVICE_PREFIX, strlen(DEVICE_PREFIX)) == 0) {
        /* the record: "v1\n<owner>\n..." */
        const char *v = val;
        const char *nl = len > 3 ? memchr(v + 3, '\n', len - 3) : NULL;
        if (nl != NULL && memcmp(v, "v1\n", 3) == 0 &&
            (size_t)(nl - v - 3) < olen)
            snprintf(out, olen, "%.*s", (int)(nl - v - 3), v + 3);
        return;
    }
    if (strncmp(key, "source/", 7) == 0) {
        Tsps__Request *r = tsps__request__unpack(NULL, len, val);
        if (r != NULL && r->body_case == TSPS__REQUEST__BODY_SOURCE_ADD &&
            r->source_add->source != NULL)
            snprintf(out, olen, "%s", r->source_add->source->user);
        if (r != NULL)
            tsps__request__free_unpacked(r, NULL);
    }
}

/* The user a write request is about ("" when none or not known here). */
static void request_user(const Tsps__Request *r, char *out, size_t len)
{
    char key[700];
    int del;
    out[0] = '\0';
    if (r->body_case == TSPS__REQUEST__BODY_SOURCE_ADD) {
        if (r->source_add->source != NULL)
            snprintf(out, len, "%s", r->source_add->source->user);
    } else if (r->body_case == TSPS__REQUEST__BODY_DEVICE_ADD) {
        snprintf(out, len, "%s", r->device_add->user);
    } else if (key_of(r, key, sizeof(key), &del) == 0) {
        key_user(key, NULL, 0, out, len);
    }
}

static void publish(struct tspsd_cluster_wire *w, const Tsps__Request *req)
{
    /* A number's key is its E.164 form, however it was written, so that
     * number.remove "+12125550100" deletes what number.add "(212)
     * 555-0100" made. */
    char e164[64];
    Tsps__Request norm;
    Tsps__NumberAdd nadd;
    Tsps__NumberRemove nrem;
    if (req->body_case == TSPS__REQUEST__BODY_NUMBER_ADD &&
        number_e164(w, req->number_add->user, req->number_add->number, e164,
                    sizeof(e164)) == 0) {
        norm = *req;
        nadd = *req->number_add;
        nadd.number = e164;
        norm.number_add = &nadd;
        req = &norm;
    } else if (req->body_case == TSPS__REQUEST__BODY_NUMBER_REMOVE &&
               number_e164(w, req->number_remove->user,
                           req->number_remove->number, e164,
                           sizeof(e164)) == 0) {
        norm = *req;
        nrem = *req->number_remove;
        nrem.number = e164;
        norm.number_remove = &nrem;
        req = &norm;
    }
    char key[700], sub[720];
    int del;
    if (key_of(req, key, sizeof(key), &del) != 0) {
        tspsd_log(TSPSD_LOG_WARN, 0, NULL,
                  "cluster: write applied here only (no state key)",
                  "request=%d", (int)req->body_case);
        return;
    }
    if (del) {
        tspsd_cluster_publish(w->cl, key, NULL, 0, 1);
        if (req->body_case == TSPS__REQUEST__BODY_USER_DELETE) {
            /* the user's other keys go with it */
            static const char *const kinds[] = {"number", "rule", "deleg"};
            const char *id = req->user_delete->id;
            for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
                snprintf(sub, sizeof(sub), "%s/%s/", kinds[i], id);
                tspsd_cluster_publish(w->cl, sub, NULL, 0, 1);
            }
            snprintf(sub, sizeof(sub), "status/%s", id);
            tspsd_cluster_publish(w->cl, sub, NULL, 0, 1);
        }
        return;
    }
    if (req->body_case == TSPS__REQUEST__BODY_DEVICE_ADD) {
        /* the credential record as stored here: no password leaves */
        char rec[512];
        size_t rl = 0;
        int rc = tspsd_device_record_get(w->d->eng, req->device_add->username,
                                         rec, sizeof(rec), &rl);
        if (rc != TSPS_OK) {
            tspsd_log(TSPSD_LOG_WARN, 0, NULL,
                      "cluster: device record unreadable; applied here only",
                      "key=%s error=\"%s\"", key, tsps_strerror(rc));
            return;
        }
        tspsd_cluster_publish(w->cl, key, rec, rl, 0);
        return;
    }
    Tsps__Request copy = *req;
    Tsps__UserPut up;
    Tsps__User u;
    copy.id = 0;
    if (req->body_case == TSPS__REQUEST__BODY_USER_PUT) {
        /* The user without its numbers; each number is its own key, so a
         * later number.remove (its key deleted) is not undone by a node
         * that reads the user key from scratch. */
        up = *req->user_put;
        u = *req->user_put->user;
        u.n_numbers = 0;
        u.numbers = NULL;
        up.user = &u;
        copy.user_put = &up;
    }
    size_t n = tsps__request__get_packed_size(&copy);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL,
                  "cluster: out of memory; write applied here only", "key=%s",
                  key);
        return;
    }
    tsps__request__pack(&copy, buf);
    tspsd_cluster_publish(w->cl, key, buf, n, 0);
    free(buf);
    if (req->body_case == TSPS__REQUEST__BODY_USER_PUT) {
        const Tsps__User *in = req->user_put->user;
        for (size_t i = 0; i < in->n_numbers; i++) {
            Tsps__Request nr = TSPS__REQUEST__INIT;
            Tsps__NumberAdd na = TSPS__NUMBER_ADD__INIT;
            na.user = in->id;
            na.number = in->numbers[i];
            nr.body_case = TSPS__REQUEST__BODY_NUMBER_ADD;
            nr.number_add = &na;
            publish(w, &nr);
        }
    }
}

/* d->prefs_written: an identity's web UI preferences (the JSON object POST
 * /api/prefs stored under TSPSD_KEY_WEBPREFS), written here; no request
 * carries them. */
static void publish_prefs(tspsd *d, const char *identity, const char *json,
                          size_t len)
{
    struct tspsd_cluster_wire *w = d->cluster;
    char key[300];
    if (w == NULL)
        return;
    if (!part_ok(identity) || len > PREFS_MAX) {
        tspsd_log(TSPSD_LOG_WARN, 0, NULL,
                  "cluster: web preferences applied here only", "bytes=%zu",
                  len);
        return;
    }
    snprintf(key, sizeof(key), PREFS_PREFIX "%s", identity);
    tspsd_cluster_publish(w->cl, key, json, len, 0);
}

/* Another node's preferences: a JSON object, stored as they came. */
static int apply_prefs(struct tspsd_cluster_wire *w, const char *identity,
                       const void *val, size_t len)
{
    char key[300];
    json_error_t je;
    if (!tspsd_identity_valid(identity) || len > PREFS_MAX)
        return TSPS_EINVAL;
    json_t *j = json_loadb(val, len, 0, &je);
    int ok = json_is_object(j);
    json_decref(j);
    if (!ok)
        return TSPS_EINVAL;
    snprintf(key, sizeof(key), TSPSD_KEY_WEBPREFS "%s", identity);
    return tsps_kv_put(w->d->eng, key, val, len);
}

/* Every replicated write goes through here (control and web alike). */
static int wrapped(tspsd_asker *c, const Tsps__Request *req,
                   Tsps__Response *resp)
{
    struct tspsd_cluster_wire *w = c->d->cluster;
    int kind = (int)req->body_case;
    char user[TSPSD_IDENT_MAX], sh[64];
    if (w == NULL || kind <= 0 || kind >= TSPSD_MAX_HANDLERS ||
        w->orig[kind] == NULL)
        return tspsd_reply(c, resp, TSPS__CODE__INTERNAL, "cluster stopped");
    /* A user of another shard: this node does not hold their keys, and
     * writing them here would put them in a store they do not belong to. */
    request_user(req, user, sizeof(user));
    if (!user_here(w, user)) {
        user_shard(w, user, sh, sizeof(sh));
        tspsd_log(TSPSD_LOG_INFO, 0, c->identity,
                  "cluster: write for another shard's user refused",
                  "user=%s shard=%s node_shard=%s", user, sh,
                  w->d->cfg.cluster_shard);
        return tspsd_reply(c, resp, TSPS__CODE__INVALID,
                           "user %s is in shard %s; this node serves shard "
                           "%s: write through a node of shard %s",
                           user, sh, w->d->cfg.cluster_shard, sh);
    }
    int rc = w->orig[kind](c, req, resp);
    if (rc == TSPS__CODE__OK)
        publish(w, req);
    return rc;
}

/* ---- applying events ---- */

typedef struct end_job {
    tspsd *d;
    char identity[TSPSD_IDENT_MAX];
} end_job;

static void end_on_loop(evutil_socket_t fd, short what, void *arg)
{
    end_job *j = arg;
    (void)fd, (void)what;
    tspsd_access_end(j->d, j->identity, "user.delete");
    free(j);
}

static int run(struct tspsd_cluster_wire *w, const Tsps__Request *req,
               const char *key, int64_t rev)
{
    tspsd_asker a;
    Tsps__Response resp = TSPS__RESPONSE__INIT;
    int kind = (int)req->body_case;

    memset(&a, 0, sizeof(a));
    a.d = w->d;
    snprintf(a.identity, sizeof(a.identity), "cluster");
    a.admin = 1;
    a.role = TSPSD_ROLE_ADMIN;
    a.via_token = 1; /* not re-derived from [admin] */
    int rc = w->orig[kind](&a, req, &resp);
    if (rc != TSPS__CODE__OK && rc != TSPS__CODE__NOT_FOUND &&
        rc != TSPS__CODE__EXISTS)
        tspsd_log(TSPSD_LOG_WARN, 0, NULL, "cluster: event not applied",
                  "key=\"%.200s\" revision=%" PRId64 " error=\"%.200s\"", key,
                  rev, resp.error ? resp.error : "");
    else
        tspsd_log(TSPSD_LOG_DEBUG, 0, NULL, "cluster: event applied",
                  "key=\"%.200s\" revision=%" PRId64 " code=%d", key, rev, rc);
    if (a.end_access[0] != '\0') {
        /* live sessions of a deleted user close on the loop */
        end_job *j = calloc(1, sizeof(*j));
        if (j != NULL) {
            j->d = w->d;
            snprintf(j->identity, sizeof(j->identity), "%s", a.end_access);
            if (event_base_once(w->d->base, -1, EV_TIMEOUT, end_on_loop, j,
                                NULL) != 0)
                free(j);
        }
    }
    tspsd_arena_free(&a.arena);
    return rc;
}

/* A delete event: the request that removes what `key` names. */
static void apply_delete(struct tspsd_cluster_wire *w, const char *key,
                         int64_t rev)
{
    char tmp[700], *parts[5] = {0}, *save = NULL;
    int n = 0;
    if (strlen(key) >= sizeof(tmp))
        return;
    memcpy(tmp, key, strlen(key) + 1);
    for (char *t = strtok_r(tmp, "/", &save); t != NULL && n < 5;
         t = strtok_r(NULL, "/", &save))
        parts[n++] = t;
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__UserDelete ud = TSPS__USER_DELETE__INIT;
    Tsps__NumberRemove nr = TSPS__NUMBER_REMOVE__INIT;
    Tsps__CodeDelete cd = TSPS__CODE_DELETE__INIT;
    Tsps__Rule ru = TSPS__RULE__INIT;
    Tsps__Delegate dg = TSPS__DELEGATE__INIT;
    Tsps__Delegation dl = TSPS__DELEGATION__INIT;
    Tsps__SourceRemove sr = TSPS__SOURCE_REMOVE__INIT;
    if (n == 2 && strcmp(parts[0], "device") == 0) {
        int rc = tspsd_device_record_put(w->d->eng, parts[1], NULL, 0);
        if (rc != TSPS_OK)
            tspsd_log(TSPSD_LOG_WARN, 0, NULL, "cluster: event not applied",
                      "key=\"%.200s\" revision=%" PRId64 " error=\"%s\"", key,
                      rev, tsps_strerror(rc));
        return;
    }
    if (n == 2 && strcmp(parts[0], "source") == 0) {
        sr.name = parts[1];
        req.body_case = TSPS__REQUEST__BODY_SOURCE_REMOVE;
        req.source_remove = &sr;
    } else if (n == 2 && strcmp(parts[0], "user") == 0) {
        ud.id = parts[1];
        req.body_case = TSPS__REQUEST__BODY_USER_DELETE;
        req.user_delete = &ud;
    } else if (n == 3 && strcmp(parts[0], "number") == 0) {
        nr.user = parts[1];
        nr.number = parts[2];
        req.body_case = TSPS__REQUEST__BODY_NUMBER_REMOVE;
        req.number_remove = &nr;
    } else if (n == 4 && strcmp(parts[0], "rule") == 0) {
        ru.user = parts[1];
        ru.code = parts[2];
        ru.status = parts[3];
        cd.rule = &ru;
        req.body_case = TSPS__REQUEST__BODY_CODE_DELETE;
        req.code_delete = &cd;
    } else if (n == 3 && strcmp(parts[0], "deleg") == 0) {
        dl.user = parts[1];
        dl.attendant = parts[2];
        dg.delegation = &dl;
        dg.remove = 1;
        req.body_case = TSPS__REQUEST__BODY_DELEGATE;
        req.delegate = &dg;
    } else {
        return; /* status/<user>: gone with its user; unknown: ignored */
    }
    run(w, &req, key, rev);
}

static void hold_set(struct tspsd_cluster_wire *w, const char *user,
                     long long until)
{
    char key[300], v[32];
    int n = snprintf(v, sizeof(v), "%lld", until);
    snprintf(key, sizeof(key), KEY_HOLD "%s", user);
    tsps_kv_put(w->d->eng, key, v, (size_t)n);
}

static void hold_clear(struct tspsd_cluster_wire *w, const char *user)
{
    char key[300];
    snprintf(key, sizeof(key), KEY_HOLD "%s", user);
    tsps_kv_put(w->d->eng, key, NULL, 0);
}

static int mine(struct tspsd_cluster_wire *w, const char *user)
{
    char sh[64];
    user_shard(w, user, sh, sizeof(sh));
    return strcmp(sh, w->d->cfg.cluster_shard) == 0;
}

/* The user leaves this node's store after the grace period. hold_mu. */
static void hold_leave(struct tspsd_cluster_wire *w, const char *user)
{
    long long until =
        (long long)time(NULL) + w->d->cfg.cluster_handover_grace_s;
    hold_set(w, user, until);
    tspsd_log(TSPSD_LOG_INFO, 0, user,
              "cluster: user left this shard; kept for the grace period",
              "grace_s=%d", w->d->cfg.cluster_handover_grace_s);
}

/* shard/<user>: the map's copy in this node's store. A user who leaves
 * our shard stays for [cluster] handover_grace_s (calls on their way
 * here still route), one who arrives is ours for good. */
static void apply_shard(struct tspsd_cluster_wire *w, const char *user,
                        const void *val, size_t len, int64_t rev)
{
    char key[300];
    int rc = TSPS_EINVAL;
    if (!part_ok(user) || (val != NULL && (len == 0 || len >= 64 ||
                                           memchr(val, '/', len) != NULL))) {
        tspsd_log(TSPSD_LOG_WARN, 0, NULL,
                  "cluster: shard map entry not applied",
                  "user=\"%.200s\" revision=%" PRId64 " error=\"bad value\"",
                  user, rev);
        return;
    }
    pthread_mutex_lock(&w->hold_mu);
    int sharded = w->d->cfg.cluster_shard[0] != '\0';
    tsps_user u;
    /* was ours and is here (a user new to the map was never loaded) */
    int was = sharded && mine(w, user) &&
              tsps_user_get(w->d->eng, user, &u) == TSPS_OK;
    snprintf(key, sizeof(key), KEY_SHARD "%s", user);
    rc = tsps_kv_put(w->d->eng, key, val, val != NULL ? len : 0);
    if (rc != TSPS_OK && rc != TSPS_ENOTFOUND)
        tspsd_log(TSPSD_LOG_WARN, 0, NULL,
                  "cluster: shard map entry not applied",
                  "user=\"%.200s\" revision=%" PRId64 " error=\"%s\"", user,
                  rev, tsps_strerror(rc));
    else if (sharded && mine(w, user))
        hold_clear(w, user);
    else if (was)
        hold_leave(w, user);
    pthread_mutex_unlock(&w->hold_mu);
}

typedef struct load_ctx {
    struct tspsd_cluster_wire *w;
    const char *user;
    size_t n;
} load_ctx;

static void on_apply(void *arg, const char *key, const void *val, size_t len,
                     int64_t rev);

/* A key read from etcd for a user moving in: applied when it is theirs. */
static void load_one(void *arg, const char *key, const void *val, size_t len,
                     int64_t rev)
{
    load_ctx *l = arg;
    char user[TSPSD_IDENT_MAX];
    key_user(key, val, len, user, sizeof(user));
    if (strcmp(user, l->user) != 0)
        return;
    on_apply(l->w, key, val, len, rev);
    l->n++;
}

/* moving/<user> = SHARD: a move-user to SHARD began (put) or ended
 * (delete). The target shard's nodes read the user's keys now, apply
 * every later event of theirs, and say ready; the flip of shard/<user>
 * follows. A move that ended without a flip lets the user go again. */
static void apply_moving(struct tspsd_cluster_wire *w, const char *user,
                         const void *val, size_t len, int64_t rev)
{
    const char *sh = w->d->cfg.cluster_shard;
    long long until = 0;
    if (sh[0] == '\0' || !part_ok(user))
        return;
    pthread_mutex_lock(&w->hold_mu);
    if (val == NULL) {
        if (!mine(w, user) && hold_get(w, user, &until) && until == 0)
            hold_leave(w, user);
        pthread_mutex_unlock(&w->hold_mu);
        return;
    }
    if (len != strlen(sh) || memcmp(val, sh, len) != 0 || mine(w, user)) {
        pthread_mutex_unlock(&w->hold_mu);
        return;
    }
    hold_set(w, user, 0);
    pthread_mutex_unlock(&w->hold_mu);
    static const char *const parts[] = {
        "user/", "number/", "rule/", "status/", "deleg/", "source/", "device/"};
    load_ctx l = {w, user, 0};
    char part[300];
    int bad = 0;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (i < 5)
            snprintf(part, sizeof(part), "%s%s%s", parts[i], user,
                     i == 0 || i == 3 ? "" : "/");
        else
            snprintf(part, sizeof(part), "%s", parts[i]);
        bad |= tspsd_cluster_read(w->cl, part, load_one, &l) != 0;
    }
    if (bad) {
        /* no ready: the mover times out and the user stays where it is */
        tspsd_log(TSPSD_LOG_WARN, 0, user,
                  "cluster: user moving in not loaded (etcd); not ready",
                  "revision=%" PRId64, rev);
        return;
    }
    snprintf(part, sizeof(part), READY_PREFIX "%s/%s", user,
             tspsd_cluster_node(w->cl));
    tspsd_cluster_publish(w->cl, part, sh, strlen(sh), 0);
    tspsd_log(TSPSD_LOG_INFO, 0, user, "cluster: user moving in loaded; ready",
              "keys=%zu revision=%" PRId64, l.n, rev);
}

/* was/<user>/<shard> (put by move-user's flip, for every node): the
 * user's calls of before the move are on that shard's nodes. */
static void apply_was(struct tspsd_cluster_wire *w, const char *rest,
                      const void *val, int64_t rev)
{
    char key[300], user[TSPSD_IDENT_MAX];
    const char *slash = strchr(rest, '/');
    size_t ul = slash != NULL ? (size_t)(slash - rest) : 0;
    if (slash != NULL && ul > 0 && ul < sizeof(user)) {
        memcpy(user, rest, ul);
        user[ul] = '\0';
    }
    if (slash == NULL || ul == 0 || ul >= sizeof(user) || !part_ok(user) ||
        !part_ok(slash + 1) || strlen(slash + 1) >= 64) {
        tspsd_log(TSPSD_LOG_WARN, 0, NULL, "cluster: bad key not applied",
                  "key=\"was/%.200s\" revision=%" PRId64, rest, rev);
        return;
    }
    snprintf(key, sizeof(key), KEY_WAS "%s", rest);
    int rc = tsps_kv_put(w->d->eng, key, val != NULL ? "" : NULL, 0);
    tspsd_log(TSPSD_LOG_DEBUG, 0, user, "cluster: shard left applied",
              "shard=%s revision=%" PRId64 " code=%d", slash + 1, rev, rc);
    if (rc != TSPS_OK && rc != TSPS_ENOTFOUND)
        tspsd_log(TSPSD_LOG_WARN, 0, user, "cluster: event not applied",
                  "key=\"was/%.200s\" revision=%" PRId64 " error=\"%s\"", rest,
                  rev, tsps_strerror(rc));
}

static void on_apply(void *arg, const char *key, const void *val, size_t len,
                     int64_t rev)
{
    struct tspsd_cluster_wire *w = arg;
    char want[700], user[TSPSD_IDENT_MAX];
    int del;

    if (strncmp(key, SHARD_PREFIX, strlen(SHARD_PREFIX)) == 0) {
        apply_shard(w, key + strlen(SHARD_PREFIX), val, len, rev);
        return;
    }
    if (strncmp(key, MOVING_PREFIX, strlen(MOVING_PREFIX)) == 0) {
        apply_moving(w, key + strlen(MOVING_PREFIX), val, len, rev);
        return;
    }
    if (strncmp(key, READY_PREFIX, strlen(READY_PREFIX)) == 0)
        return; /* for the mover only */
    if (strncmp(key, WAS_PREFIX, strlen(WAS_PREFIX)) == 0) {
        apply_was(w, key + strlen(WAS_PREFIX), val, rev);
        return;
    }
    if (val == NULL) {
        apply_delete(w, key, rev);
        return;
    }
    key_user(key, val, len, user, sizeof(user));
    if (!user_here(w, user)) {
        /* another shard's user: kept out of this node's store */
        tspsd_log(TSPSD_LOG_DEBUG, 0, NULL,
                  "cluster: event of another shard's user skipped",
                  "key=\"%.200s\" revision=%" PRId64, key, rev);
        atomic_fetch_add(&w->skipped, 1);
        return;
    }
    if (strncmp(key, PREFS_PREFIX, strlen(PREFS_PREFIX)) == 0) {
        int rc = apply_prefs(w, key + strlen(PREFS_PREFIX), val, len);
        if (rc != TSPS_OK)
            tspsd_log(TSPSD_LOG_WARN, 0, NULL, "cluster: event not applied",
                      "key=\"%.200s\" revision=%" PRId64 " error=\"%s\"", key,
                      rev, tsps_strerror(rc));
        return;
    }
    if (strncmp(key, DEVICE_PREFIX, strlen(DEVICE_PREFIX)) == 0) {
        const char *username = key + strlen(DEVICE_PREFIX);
        int rc = part_ok(username)
                     ? tspsd_device_record_put(w->d->eng, username, val, len)
                     : TSPS_EINVAL;
        if (rc != TSPS_OK)
            tspsd_log(TSPSD_LOG_WARN, 0, NULL, "cluster: event not applied",
                      "key=\"%.200s\" revision=%" PRId64 " error=\"%s\"", key,
                      rev, tsps_strerror(rc));
        return;
    }
    Tsps__Request *req = tsps__request__unpack(NULL, len, val);
    if (req == NULL || key_of(req, want, sizeof(want), &del) != 0 || del ||
        strcmp(want, key) != 0) {
        /* a value some other writer (or damage) left: not ours to apply */
        tspsd_log(TSPSD_LOG_WARN, 0, NULL,
                  "cluster: damaged or foreign value ignored",
                  "key=\"%.200s\" revision=%" PRId64 " bytes=%zu", key, rev,
                  len);
        if (req != NULL)
            tsps__request__free_unpacked(req, NULL);
        return;
    }
    run(w, req, key, rev);
    tsps__request__free_unpacked(req, NULL);
}

/* ---- the end of a grace period: a moved user's keys leave ---- */

typedef struct names {
    char (*v)[TSPSD_IDENT_MAX];
    size_t n, cap;
    const char *user; /* filter: sources and devices of this user */
    size_t skip;      /* the key prefix's length */
} names;

static void names_add(names *l, const char *s, size_t len)
{
    if (len >= TSPSD_IDENT_MAX)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        void *v = realloc(l->v, cap * sizeof(*l->v));
        if (v == NULL)
            return;
        l->v = v;
        l->cap = cap;
    }
    memcpy(l->v[l->n], s, len);
    l->v[l->n++][len] = '\0';
}

/* hold/<user> with its deadline: users whose grace is over */
static int expired_cb(void *arg, const char *key, const void *val, size_t len)
{
    names *l = arg;
    char v[32];
    if (len == 0 || len >= sizeof(v))
        return 0;
    memcpy(v, val, len);
    v[len] = '\0';
    long long until = strtoll(v, NULL, 10);
    if (until > 0 && until <= (long long)time(NULL))
        names_add(l, key + l->skip, strlen(key + l->skip));
    return 0;
}

static int source_of_cb(void *arg, const char *key, const void *val, size_t len)
{
    names *l = arg;
    Tsps__Source *src = tsps__source__unpack(NULL, len, val);
    if (src != NULL && strcmp(src->user, l->user) == 0)
        names_add(l, key + l->skip, strlen(key + l->skip));
    if (src != NULL)
        tsps__source__free_unpacked(src, NULL);
    return 0;
}

static int device_of_cb(void *arg, const char *key, const void *val, size_t len)
{
    names *l = arg;
    char owner[TSPSD_IDENT_MAX];
    key_user(DEVICE_PREFIX, val, len, owner, sizeof(owner));
    if (strcmp(owner, l->user) == 0)
        names_add(l, key + l->skip, strlen(key + l->skip));
    return 0;
}

static int key_cb(void *arg, const char *key, const void *val, size_t len)
{
    (void)val, (void)len;
    names_add(arg, key, strlen(key));
    return 0;
}

/* Remove a user's keys from this node's store (the user is in another
 * shard now); nothing is published. hold_mu. */
static void drop_user(struct tspsd_cluster_wire *w, const char *user)
{
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__UserDelete ud = TSPS__USER_DELETE__INIT;
    Tsps__SourceRemove sr = TSPS__SOURCE_REMOVE__INIT;
    char pre[300];
    names l = {0};

    ud.id = (char *)user;
    req.body_case = TSPS__REQUEST__BODY_USER_DELETE;
    req.user_delete = &ud;
    run(w, &req, "(moved away)", 0);
    l.user = user;
    l.skip = strlen(TSPSD_KEY_SOURCE);
    tsps_kv_list(w->d->eng, TSPSD_KEY_SOURCE, source_of_cb, &l);
    req.body_case = TSPS__REQUEST__BODY_SOURCE_REMOVE;
    req.source_remove = &sr;
    for (size_t i = 0; i < l.n; i++) {
        sr.name = l.v[i];
        run(w, &req, "(moved away)", 0);
    }
    l.n = 0;
    l.skip = strlen(TSPSD_KEY_SIPDEV);
    tsps_kv_list(w->d->eng, TSPSD_KEY_SIPDEV, device_of_cb, &l);
    for (size_t i = 0; i < l.n; i++)
        tspsd_device_record_put(w->d->eng, l.v[i], NULL, 0);
    l.n = 0;
    snprintf(pre, sizeof(pre), TSPSD_KEY_DELEG "%s/", user);
    tsps_kv_list(w->d->eng, pre, key_cb, &l);
    for (size_t i = 0; i < l.n; i++)
        tsps_kv_put(w->d->eng, l.v[i], NULL, 0);
    free(l.v);
    tspsd_log(TSPSD_LOG_INFO, 0, user,
              "cluster: moved user's keys removed after the grace period",
              NULL);
}

static void on_tick(void *arg)
{
    struct tspsd_cluster_wire *w = arg;
    names l = {0};
    l.skip = strlen(KEY_HOLD);
    tsps_kv_list(w->d->eng, KEY_HOLD, expired_cb, &l);
    for (size_t i = 0; i < l.n; i++) {
        long long until = 0;
        pthread_mutex_lock(&w->hold_mu);
        /* still away (it may have come back meanwhile) */
        if (hold_get(w, l.v[i], &until) && until > 0 &&
            until <= (long long)time(NULL)) {
            if (!mine(w, l.v[i]))
                drop_user(w, l.v[i]);
            hold_clear(w, l.v[i]);
        }
        pthread_mutex_unlock(&w->hold_mu);
    }
    free(l.v);
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void store_rev(struct tspsd_cluster_wire *w, int64_t rev)
{
    char s[32];
    int n = snprintf(s, sizeof(s), "%" PRId64, rev);
    int rc = tsps_kv_put(w->d->eng, KEY_REV, s, (size_t)n);
    if (rc != TSPS_OK)
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL,
                  "cluster: cannot store the applied revision",
                  "revision=%" PRId64 " error=\"%s\"", rev, tsps_strerror(rc));
    w->rev_pending = 0;
    w->rev_stored_ms = mono_ms();
}

static void on_applied(void *arg, int64_t rev)
{
    struct tspsd_cluster_wire *w = arg;
    if (mono_ms() - w->rev_stored_ms < REV_STORE_MS) {
        w->rev_pending = rev; /* the next event after the pause, or stop */
        return;
    }
    store_rev(w, rev);
}

/* Queued writes in the store: [del][keylen hi][keylen lo] key value. */
static void on_queue_save(void *arg, uint64_t seq, const char *key,
                          const void *val, size_t len, int del)
{
    struct tspsd_cluster_wire *w = arg;
    char k[64];
    size_t kl = strlen(key);
    uint8_t *b = malloc(3 + kl + len);
    if (b == NULL || kl > 0xffff) {
        free(b);
        return;
    }
    b[0] = (uint8_t)del;
    b[1] = (uint8_t)(kl >> 8);
    b[2] = (uint8_t)kl;
    memcpy(b + 3, key, kl);
    if (len)
        memcpy(b + 3 + kl, val, len);
    snprintf(k, sizeof(k), KEY_Q "%016" PRIx64, seq);
    int rc = tsps_kv_put(w->d->eng, k, b, 3 + kl + len);
    if (rc != TSPS_OK)
        tspsd_log(TSPSD_LOG_WARN, 0, NULL,
                  "cluster: cannot keep a queued write in the store",
                  "key=\"%.200s\" error=\"%s\"", key, tsps_strerror(rc));
    free(b);
}

static void on_queue_drop(void *arg, uint64_t seq)
{
    struct tspsd_cluster_wire *w = arg;
    char k[64];
    snprintf(k, sizeof(k), KEY_Q "%016" PRIx64, seq);
    tsps_kv_put(w->d->eng, k, NULL, 0);
}

static int requeue_one(void *arg, const char *key, const void *val, size_t len)
{
    struct tspsd_cluster_wire *w = arg;
    const uint8_t *b = val;
    char k[0x10000];
    uint64_t seq = strtoull(key + strlen(KEY_Q), NULL, 16);
    if (len < 3)
        return 0;
    size_t kl = ((size_t)b[1] << 8) | b[2];
    if (kl == 0 || 3 + kl > len)
        return 0;
    memcpy(k, b + 3, kl);
    k[kl] = '\0';
    tspsd_cluster_requeue(w->cl, seq, k, b + 3 + kl, len - 3 - kl, b[0] != 0);
    return 0;
}

/* ---- metrics and status ---- */

size_t tspsd_cluster_wire_status(tspsd *d, char *buf, size_t len)
{
    struct tspsd_cluster_wire *w = d->cluster;
    tspsd_cluster_stats st;
    if (w == NULL || len == 0)
        return 0;
    tspsd_cluster_stats_get(w->cl, &st);
    int r = snprintf(buf, len,
                     "node %s\netcd %s\netcd_up %d\nwatching %d\n"
                     "applied_revision %" PRId64 "\netcd_revision %" PRId64
                     "\nqueued_writes %" PRIu64 "\npublished %" PRIu64
                     "\napplied %" PRIu64 "\ndropped %" PRIu64 "\n",
                     tspsd_cluster_node(w->cl), d->cfg.cluster_etcd, st.etcd_up,
                     st.watching, st.applied_rev, st.etcd_rev, st.queued,
                     st.published, st.applied, st.dropped);
    return r < 0 ? 0 : (size_t)r >= len ? len - 1 : (size_t)r;
}

static int cluster_metrics(void *arg, char *buf, size_t len)
{
    struct tspsd_cluster_wire *w = arg;
    tspsd_cluster_stats st;
    char l[200]; /* the labels of every line: node and shard */
    tspsd_cluster_stats_get(w->cl, &st);
    snprintf(l, sizeof(l), "node=\"%s\",shard=\"%s\"",
             tspsd_cluster_node(w->cl), w->d->cfg.cluster_shard);
    int r =
        snprintf(buf, len,
                 "# TYPE tspsd_cluster_etcd_up gauge\n"
                 "tspsd_cluster_etcd_up{%s} %d\n"
                 "# TYPE tspsd_cluster_applied_revision gauge\n"
                 "tspsd_cluster_applied_revision{%s} %" PRId64 "\n"
                 "# TYPE tspsd_cluster_config_revision gauge\n"
                 "tspsd_cluster_config_revision{%s} %" PRId64 "\n"
                 "# TYPE tspsd_cluster_etcd_revision gauge\n"
                 "tspsd_cluster_etcd_revision{%s} %" PRId64 "\n"
                 "# TYPE tspsd_cluster_queued_writes gauge\n"
                 "tspsd_cluster_queued_writes{%s} %" PRIu64 "\n"
                 "# TYPE tspsd_cluster_published_total counter\n"
                 "tspsd_cluster_published_total{%s} %" PRIu64 "\n"
                 "# TYPE tspsd_cluster_applied_total counter\n"
                 "tspsd_cluster_applied_total{%s} %" PRIu64 "\n"
                 "# TYPE tspsd_cluster_dropped_total counter\n"
                 "tspsd_cluster_dropped_total{%s} %" PRIu64 "\n"
                 "# TYPE tspsd_cluster_watch_connects_total counter\n"
                 "tspsd_cluster_watch_connects_total{%s} %" PRIu64 "\n"
                 "# TYPE tspsd_cluster_registered gauge\n"
                 "tspsd_cluster_registered{%s} %d\n"
                 "# TYPE tspsd_cluster_draining gauge\n"
                 "tspsd_cluster_draining{%s} %d\n"
                 "# TYPE tspsd_cluster_held_calls gauge\n"
                 "tspsd_cluster_held_calls{%s} %u\n"
                 "# TYPE tspsd_cluster_echo_skipped_total counter\n"
                 "tspsd_cluster_echo_skipped_total{%s} %" PRIu64 "\n"
                 "# TYPE tspsd_cluster_other_shard_skipped_total counter\n"
                 "tspsd_cluster_other_shard_skipped_total{%s} %" PRIu64 "\n",
                 l, st.etcd_up, l, st.applied_rev, l, st.config_rev, l,
                 st.etcd_rev, l, st.queued, l, st.published, l, st.applied, l,
                 st.dropped, l, st.reconnects, l, st.registered, l,
                 atomic_load(&w->d->draining), l, atomic_load(&w->d->held_now),
                 l, st.echo_skipped, l, (uint64_t)atomic_load(&w->skipped));
    return r < 0 ? 0 : (size_t)r >= len ? (int)len - 1 : r;
}

/* The registry record of this node (cluster.h, node_info): what
 * `tspsctl cluster status` lists. Cluster thread. */
static size_t node_info(void *arg, char *buf, size_t len)
{
    struct tspsd_cluster_wire *w = arg;
    tspsd_cluster_stats st;
    tspsd_cluster_stats_get(w->cl, &st);
    const tspsd_config *c = &w->d->cfg;
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:I,s:I,s:b,s:i,s:b}", "node", tspsd_cluster_node(w->cl),
        "shard", c->cluster_shard, "sip", w->sip, "revision",
        (json_int_t)st.config_rev, "applied", (json_int_t)st.applied_rev,
        "draining", atomic_load(&w->d->draining), "held_calls",
        (int)atomic_load(&w->d->held_now), "etcd_up", st.etcd_up);
    if (o != NULL && w->ctl[0] != '\0')
        json_object_set_new(o, "ctl", json_string(w->ctl));
    /* tspsctl cluster move-user: the shard of users without a map key */
    if (o != NULL && c->cluster_shard[0] != '\0')
        json_object_set_new(o, "default_shard",
                            json_string(c->cluster_default_shard));
    char *t = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    size_t n = t != NULL && strlen(t) < len ? strlen(t) : 0;
    if (n > 0)
        memcpy(buf, t, n);
    free(t);
    return n;
}

/* d->route_note: while etcd is unreachable, the note a route's trace
 * carries (tsps_decision_note): 1, or 0 when the rules are current. */
static int route_note(tspsd *d, char *what, size_t wlen, char *text,
                      size_t tlen)
{
    struct tspsd_cluster_wire *w = d->cluster;
    tspsd_cluster_stats st;
    char when[40];
    if (w == NULL || wlen == 0 || tlen == 0)
        return 0;
    tspsd_cluster_stats_get(w->cl, &st);
    if (st.etcd_up || st.down_since <= 0)
        return 0;
    time_t t = (time_t)(st.down_since / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(what, wlen, "configuration may be stale");
    snprintf(text, tlen,
             "as of etcd revision %" PRId64 "; etcd unreachable since %s; "
             "later changes of other nodes not applied here",
             st.applied_rev, when);
    return 1;
}

/* ---- history across nodes (docs/cluster.md, "History across nodes") ----
 * A node answers a history request with its own calls and those of every
 * other live node of the user's shard: it asks each over its control
 * socket, as a peer (the shared secret), for the same request with
 * `local` and the asker's identity, then merges newest first. */

/* A peer answers within this, or its calls are left out (and named). */
#define PEER_TIMEOUT_MS 2000
#define PEERS_MAX       64

static int peer_check(tspsd *d, const char *token)
{
    struct tspsd_cluster_wire *w = d->cluster;
    size_t n = strlen(token);
    return w != NULL && w->secret[0] != '\0' && n == strlen(w->secret) &&
           CRYPTO_memcmp(token, w->secret, n) == 0;
}

static int history_offload(const Tsps__Request *req)
{
    return req->history != NULL && req->history->local ? TSPSD_OFFLOAD_WRITE
                                                       : TSPSD_OFFLOAD_RELATED;
}

static void registry_one(void *arg, const char *key, const void *val,
                         size_t len, int64_t rev)
{
    json_t *arr = arg, *o = json_loadb(val, len, 0, NULL);
    (void)key, (void)rev;
    if (json_is_object(o) && json_array_size(arr) < PEERS_MAX)
        json_array_append(arr, o);
    json_decref(o);
}

/* The live nodes' records (node/<name> keys, leased): from etcd now, or as
 * last read while etcd is unreachable (*stale = 1). NULL when never read. */
static json_t *registry_nodes(struct tspsd_cluster_wire *w, int *stale)
{
    json_t *arr = json_array();
    *stale = 0;
    if (arr != NULL &&
        tspsd_cluster_read(w->cl, "node/", registry_one, arr) == 0) {
        char *t = json_dumps(arr, JSON_COMPACT);
        pthread_mutex_lock(&w->peers_mu);
        free(w->peers_json);
        w->peers_json = t;
        pthread_mutex_unlock(&w->peers_mu);
        return arr;
    }
    json_decref(arr);
    *stale = 1;
    pthread_mutex_lock(&w->peers_mu);
    arr = w->peers_json != NULL ? json_loads(w->peers_json, 0, NULL) : NULL;
    pthread_mutex_unlock(&w->peers_mu);
    return arr;
}

static void *arena_pb_alloc(void *a, size_t n)
{
    return tspsd_arena_alloc(a, n);
}

static void arena_pb_free(void *a, void *p)
{
    (void)a, (void)p; /* the arena goes with the reply */
}

/* Ask one peer (`ctl` "host:port") for the calls; add them to resp. 0, or
 * -1 with why. */
static int ask_peer(struct tspsd_cluster_wire *w, tspsd_asker *c,
                    const Tsps__History *h, const Tsps__Delegation *dl,
                    const char *ctl, size_t want, int64_t cur_start,
                    const char *cur_node, uint64_t cur_id, Tsps__Response *resp,
                    char *why, size_t whylen)
{
    char host[96];
    const char *colon = strrchr(ctl, ':');
    tspsd_client *cl = NULL;
    Tsps__Response *pr = NULL;
    if (colon == NULL || (size_t)(colon - ctl) >= sizeof(host)) {
        snprintf(why, whylen, "bad control address %s", ctl);
        return -1;
    }
    memcpy(host, ctl, (size_t)(colon - ctl));
    host[colon - ctl] = '\0';
    tspsd_client_opts o = {.host = host,
                           .port = atoi(colon + 1),
                           .ca = w->peer_ca,
                           .token = w->secret,
                           .timeout_ms = PEER_TIMEOUT_MS};
    if (tspsd_client_connect(&o, &cl, why, whylen) != 0)
        return -1;
    Tsps__Request req = TSPS__REQUEST__INIT;
    Tsps__History q = *h;
    q.local = 1;
    q.for_identity = c->identity;
    q.for_admin = c->admin;
    q.for_delegation = (Tsps__Delegation *)dl;
    q.limit = (uint32_t)want;
    q.before_id = cur_id;
    q.before_start = cur_id != 0 ? cur_start : 0;
    q.before_node = (char *)(cur_id != 0 ? cur_node : "");
    req.body_case = TSPS__REQUEST__BODY_HISTORY;
    req.history = &q;
    int rc = tspsd_client_call(cl, &req, &pr, why, whylen);
    tspsd_client_close(cl);
    if (rc != 0)
        return -1;
    if (pr->code != TSPS__CODE__OK) {
        snprintf(why, whylen, "%s", pr->error[0] ? pr->error : "refused");
        tsps__response__free_unpacked(pr, NULL);
        return -1;
    }
    /* Its calls into the reply's arena: they go out with the reply. */
    ProtobufCAllocator al = {arena_pb_alloc, arena_pb_free, &c->arena};
    size_t len = tsps__response__get_packed_size(pr);
    uint8_t *buf = malloc(len > 0 ? len : 1);
    Tsps__Response *copy = NULL;
    if (buf != NULL) {
        tsps__response__pack(pr, buf);
        copy = tsps__response__unpack(&al, len, buf);
        free(buf);
    }
    tsps__response__free_unpacked(pr, NULL);
    for (size_t i = 0; copy != NULL && i < copy->n_calls; i++)
        if (tspsd_arena_push(&c->arena, (void ***)&resp->calls, &resp->n_calls,
                             copy->calls[i]) != 0)
            copy = NULL;
    if (copy == NULL) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    return 0;
}

/* Newest first by (start, node, id): the order every node pages by. */
static int call_order(const void *a, const void *b)
{
    const Tsps__Decision *x = *(Tsps__Decision *const *)a,
                         *y = *(Tsps__Decision *const *)b;
    if (x->start != y->start)
        return x->start > y->start ? -1 : 1;
    int n = strcmp(x->node, y->node);
    if (n != 0)
        return n > 0 ? -1 : 1;
    return x->call_id > y->call_id ? -1 : x->call_id < y->call_id ? 1 : 0;
}

/* The shards the user was ever in (was/ keys), after the current one. */
typedef struct shard_set {
    char s[8][64];
    size_t n;
    size_t skip; /* strlen of the listed prefix */
} shard_set;

static int was_cb(void *arg, const char *key, const void *val, size_t len)
{
    shard_set *ss = arg;
    (void)val, (void)len;
    if (ss->n < sizeof(ss->s) / sizeof(ss->s[0]))
        snprintf(ss->s[ss->n++], sizeof(ss->s[0]), "%s", key + ss->skip);
    return 0;
}

static int in_set(const shard_set *ss, const char *sh)
{
    for (size_t i = 0; i < ss->n; i++)
        if (strcmp(ss->s[i], sh) == 0)
            return 1;
    return 0;
}

static void history_merge(tspsd_asker *c, const Tsps__History *h,
                          const Tsps__Delegation *dl, Tsps__Response *resp,
                          size_t want, int64_t cur_start, const char *cur_node,
                          uint64_t cur_id)
{
    struct tspsd_cluster_wire *w = c->d->cluster;
    char pre[300], why[300], missing[1024] = "";
    size_t ml = 0;
    int stale = 0;
    shard_set ss = {.n = 1};
    if (w == NULL || w->secret[0] == '\0')
        return;
    /* the user's shard, and those she moved away from: their nodes keep
     * the calls they routed for her */
    user_shard(w, h->user, ss.s[0], sizeof(ss.s[0]));
    if (strlen(h->user) < 200) {
        snprintf(pre, sizeof(pre), KEY_WAS "%s/", h->user);
        ss.skip = strlen(pre);
        tsps_kv_list(w->d->eng, pre, was_cb, &ss);
    }
    json_t *nodes = registry_nodes(w, &stale), *o;
    size_t i;
    json_array_foreach(nodes, i, o)
    {
        const char *name = json_string_value(json_object_get(o, "node"));
        const char *nsh = json_string_value(json_object_get(o, "shard"));
        const char *ctl = json_string_value(json_object_get(o, "ctl"));
        if (name == NULL || strcmp(name, w->node) == 0 || nsh == NULL ||
            (nsh[0] != '\0' && !in_set(&ss, nsh)))
            continue; /* ourselves, or a node that never had the user */
        if (ctl == NULL || ctl[0] == '\0')
            snprintf(why, sizeof(why), "no control address in its record");
        else if (ask_peer(w, c, h, dl, ctl, want, cur_start, cur_node, cur_id,
                          resp, why, sizeof(why)) == 0)
            continue;
        tspsd_log(TSPSD_LOG_WARN, 0, c->identity,
                  "cluster: history of a node left out", "peer=%s error=\"%s\"",
                  name, why);
        int k = snprintf(missing + ml, sizeof(missing) - ml, "%snode %s (%s)",
                         ml > 0 ? ", " : "", name, why);
        if (k > 0)
            ml = ml + (size_t)k < sizeof(missing) ? ml + (size_t)k
                                                  : sizeof(missing) - 1;
    }
    json_decref(nodes);
    if (resp->n_calls > 1)
        qsort(resp->calls, resp->n_calls, sizeof(resp->calls[0]), call_order);
    if (resp->n_calls > want)
        resp->n_calls = want;
    const char *note =
        ml > 0 ? NULL
        : nodes == NULL && stale
            ? "history of this node only: etcd unreachable and no node "
              "list read before"
        : stale ? "other nodes as listed before etcd became unreachable"
                : "";
    char *m =
        note != NULL
            ? tspsd_arena_strdup(&c->arena, note)
            : tspsd_arena_printf(&c->arena, "history left out: %s", missing);
    if (m != NULL && m[0] != '\0')
        resp->message = m;
}

/* [cluster] peer_secret_file: its first line, at least 16 bytes. */
static int load_secret(struct tspsd_cluster_wire *w, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[sizeof(w->secret) + 2] = "";
    if (f == NULL || fgets(line, sizeof(line), f) == NULL) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL,
                  "cluster: cannot read the peer secret", "file=\"%.200s\"",
                  path);
        if (f != NULL)
            fclose(f);
        return -1;
    }
    fclose(f);
    size_t n = strcspn(line, "\r\n");
    line[n] = '\0';
    if (n < 16 || n >= sizeof(w->secret)) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "cluster: bad peer secret",
                  "file=\"%.200s\" hint=\"one line of 16 to %zu bytes, the "
                  "same on every node\"",
                  path, sizeof(w->secret) - 1);
        OPENSSL_cleanse(line, sizeof(line));
        return -1;
    }
    memcpy(w->secret, line, n + 1);
    OPENSSL_cleanse(line, sizeof(line));
    return 0;
}

/* Metrics only: the cluster brings no calls. It stops in
 * tspsd_cluster_wire_stop, after the pool (jobs may still publish). */
static const tspsd_front_ops cluster_front_ops = {"cluster", NULL, NULL,
                                                  cluster_metrics, NULL};

/* The daemon as it was before tspsd_cluster_wire_start. */
static void unwire(tspsd *d)
{
    struct tspsd_cluster_wire *w = d->cluster;
    for (size_t i = 0; i < sizeof(write_kinds) / sizeof(write_kinds[0]); i++)
        d->handlers[write_kinds[i]].fn = w->orig[write_kinds[i]];
    d->handlers[TSPS__REQUEST__BODY_HISTORY].offload_for = NULL;
    d->cluster = NULL;
    d->prefs_written = NULL;
    d->route_note = NULL;
    d->node_name = NULL;
    d->peer_check = NULL;
    d->history_merge = NULL;
}

int tspsd_cluster_wire_start(tspsd *d)
{
    const tspsd_config *c = &d->cfg;
    tspsd_cluster_config cc = {0};
    tspsd_cluster_ops ops = {0};
    char node[64], revs[32];
    size_t n = 0;

    if (!c->cluster_enabled)
        return 0;
    struct tspsd_cluster_wire *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -1;
    w->d = d;
    pthread_mutex_init(&w->hold_mu, NULL);
    if (c->cluster_node[0] != '\0')
        snprintf(node, sizeof(node), "%s", c->cluster_node);
    else if (gethostname(node, sizeof(node)) != 0)
        snprintf(node, sizeof(node), "tspsd");
    node[sizeof(node) - 1] = '\0';
    if (tsps_kv_get(d->eng, KEY_REV, revs, sizeof(revs) - 1, &n) == TSPS_OK) {
        revs[n] = '\0';
        cc.start_rev = strtoll(revs, NULL, 10);
    }
    cc.etcd = c->cluster_etcd;
    cc.prefix = c->cluster_prefix;
    cc.node = node;
    cc.max_queue = (size_t)c->cluster_max_queue;
    cc.range_order = range_order;
    ops.arg = w;
    ops.apply = on_apply;
    ops.applied = on_applied;
    ops.queue_save = on_queue_save;
    ops.queue_drop = on_queue_drop;
    ops.node_info = node_info;
    ops.tick = on_tick;
    cc.lease_ttl_s = c->cluster_lease_s;
    if ((c->cluster_shard[0] != '\0' && !part_ok(c->cluster_shard)) ||
        !part_ok(c->cluster_default_shard)) {
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "cluster: bad shard name",
                  "shard=\"%.80s\" default_shard=\"%.80s\" hint=\"[cluster] "
                  "shard and default_shard: printable, no '/' (shard may be "
                  "empty: every user)\"",
                  c->cluster_shard, c->cluster_default_shard);
        free(w);
        return -1;
    }
    if (c->sip_enabled)
        snprintf(w->sip, sizeof(w->sip), "%s:%d", c->sip_listen,
                 c->sip_udp_port);
    /* Peers reach the control socket at its own address: one that means
     * "every address" names none (docs/cluster.md). */
    if (c->ctl_listen[0] != '\0' && strcmp(c->ctl_listen, "0.0.0.0") != 0 &&
        strcmp(c->ctl_listen, "::") != 0 && d->ctl_port > 0)
        snprintf(w->ctl, sizeof(w->ctl), "%s:%d", c->ctl_listen, d->ctl_port);
    snprintf(w->node, sizeof(w->node), "%s", node);
    snprintf(w->peer_ca, sizeof(w->peer_ca), "%s",
             c->cluster_peer_ca[0] != '\0' ? c->cluster_peer_ca : c->ca);
    pthread_mutex_init(&w->peers_mu, NULL);
    if ((c->cluster_peer_secret_file[0] != '\0' &&
         load_secret(w, c->cluster_peer_secret_file) != 0) ||
        tspsd_cluster_new(&cc, &ops, &w->cl) != 0) {
        pthread_mutex_destroy(&w->peers_mu);
        OPENSSL_cleanse(w->secret, sizeof(w->secret));
        free(w);
        return -1;
    }
    tsps_kv_list(d->eng, KEY_Q, requeue_one, w);
    for (size_t i = 0; i < sizeof(write_kinds) / sizeof(write_kinds[0]); i++) {
        int k = write_kinds[i];
        w->orig[k] = d->handlers[k].fn;
        d->handlers[k].fn = wrapped;
    }
    d->cluster = w;
    d->prefs_written = publish_prefs;
    d->route_note = route_note;
    d->node_name = w->node;
    d->peer_check = peer_check;
    if (w->secret[0] != '\0') {
        /* A merged history waits on peers: on the related lane (the
         * control lane keeps serving peers' local requests). */
        d->history_merge = history_merge;
        d->handlers[TSPS__REQUEST__BODY_HISTORY].offload_for = history_offload;
    }
    if (tspsd_cluster_start(w->cl) != 0 ||
        tspsd_front_add(d, &cluster_front_ops, w, &w->front) != 0) {
        unwire(d);
        tspsd_cluster_free(w->cl);
        pthread_mutex_destroy(&w->peers_mu);
        OPENSSL_cleanse(w->secret, sizeof(w->secret));
        free(w);
        tspsd_log(TSPSD_LOG_ERROR, 0, NULL, "cluster: cannot start", NULL);
        return -1;
    }
    return 0;
}

void tspsd_cluster_wire_stop(tspsd *d)
{
    struct tspsd_cluster_wire *w = d->cluster;
    if (w == NULL)
        return;
    tspsd_cluster_free(w->cl); /* joins: no apply runs after this */
    if (w->rev_pending > 0)
        store_rev(w, w->rev_pending);
    unwire(d);
    pthread_mutex_destroy(&w->hold_mu);
    pthread_mutex_destroy(&w->peers_mu);
    free(w->peers_json);
    OPENSSL_cleanse(w->secret, sizeof(w->secret));
    free(w);
}
