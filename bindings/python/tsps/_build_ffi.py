"""cffi API-mode builder for tsps._native (run by setup.py, not imported).

The declarations below mirror libtsps's <tsps/tsps.h> and libcmsbridge's
<cmsb/cmsb.h>/<cmsb/adapter.h>; cffi compiles them against the real headers
with a C compiler, so a header that drifts from them fails the build instead
of corrupting memory. Where the headers come from: see setup.py.
"""
import os

from cffi import FFI

CDEF = r"""
/* ---- errors, versions ---- */
typedef enum {
    TSPS_OK, TSPS_ENOTFOUND, TSPS_EINVAL, TSPS_ENOMEM, TSPS_ENOBUFS,
    TSPS_ESTORE, TSPS_ENOSPC, TSPS_ESCHEMA, TSPS_EEXIST, TSPS_EBUSY, TSPS_ETZ,
    TSPS_ENUMBER, TSPS_EREGION, TSPS_ESTATE, TSPS_EVERSION, ...
} tsps_err;
typedef enum {
    CMSB_OK, CMSB_ENOTSUP, CMSB_EVERSION, CMSB_EEXIST, CMSB_EINVAL,
    CMSB_ENOMEM, CMSB_EIO, CMSB_EPARSE, CMSB_ENOTFOUND, CMSB_ECONFLICT,
    CMSB_ENOSCHEME, CMSB_ESTORE, CMSB_ECANCELED, CMSB_ETIMEDOUT, CMSB_EAUTH,
    ...
} cmsb_err;
#define TSPS_VERSION_HEX ...
const char *tsps_strerror(int err);
const char *tsps_errname(int err);
const char *tsps_version(void);
unsigned tsps_version_hex(void);

/* ---- engine ---- */
typedef struct tsps_engine tsps_engine;
typedef void (*tsps_log_fn)(void *arg, int level, const char *msg);
#define TSPS_OPEN_NOSYNC ...
#define TSPS_OPEN_RDONLY ...
#define TSPS_OPEN_NO_CONTACT_CACHE ...
#define TSPS_CONFIG_VERSION ...
typedef struct tsps_config {
    int version;
    const char *path;
    size_t map_size;
    size_t map_max;
    unsigned flags;
    unsigned max_readers;
    tsps_log_fn log;
    void *log_arg;
    const char *region;
    ...;
} tsps_config;
int tsps_engine_open(const tsps_config *cfg, tsps_engine **out);
void tsps_engine_close(tsps_engine *eng);
typedef struct tsps_stats {
    uint64_t users, numbers, contacts, contact_numbers, events, registrations,
        calls;
    uint64_t map_size;
    uint64_t used_bytes;
    uint64_t config_generation;
} tsps_stats;
int tsps_engine_stats(tsps_engine *eng, tsps_stats *out);

/* ---- numbers ---- */
typedef struct tsps_dialplan {
    char region[3];
    char cc[4];
    char trunk[4];
    char intl[8];
} tsps_dialplan;
int tsps_dialplan_for_region(const char *region, tsps_dialplan *out);
typedef enum { TSPS_NUM_E164, TSPS_NUM_WITHHELD, TSPS_NUM_LOCAL, ... }
    tsps_number_kind;
typedef struct tsps_number {
    tsps_number_kind kind;
    char e164[17];
    char ext[16];
} tsps_number;
int tsps_normalize(const char *input, const tsps_dialplan *dp,
                   tsps_number *out);

/* ---- statuses, methods ---- */
typedef enum {
    TSPS_STATUS_ANY, TSPS_STATUS_AVAILABLE, TSPS_STATUS_BUSY, TSPS_STATUS_DND,
    TSPS_STATUS_AWAY, TSPS_STATUS_IN_MEETING, TSPS_STATUS_OFF_HOURS,
    TSPS_STATUS__COUNT, ...
} tsps_status;
const char *tsps_status_name(tsps_status st);
int tsps_status_parse(const char *name);
typedef enum {
    TSPS_METHOD_NONE, TSPS_METHOD_RING, TSPS_METHOD_FORWARD,
    TSPS_METHOD_VOICEMAIL, TSPS_METHOD_IVR, TSPS_METHOD_ATTENDANT,
    TSPS_METHOD_REJECT, TSPS_METHOD_ASK, TSPS_METHOD__COUNT, ...
} tsps_method_kind;
const char *tsps_method_kind_name(tsps_method_kind k);
typedef enum { TSPS_RING_PARALLEL, TSPS_RING_SEQUENTIAL, ... } tsps_ring_mode;
typedef enum { TSPS_REJECT_BUSY, TSPS_REJECT_DECLINE, TSPS_REJECT_UNAVAILABLE,
               ... } tsps_reject_reason;
typedef struct tsps_action {
    tsps_method_kind kind;
    ...;
} tsps_action;
typedef struct tsps_method {
    tsps_method_kind kind;
    uint16_t ask_timeout_s;
    ...;
} tsps_method;
int tsps_method_parse(const char *spec, tsps_method *out, char *err,
                      size_t errlen);
int tsps_method_format(const tsps_method *m, char *buf, size_t buflen,
                       size_t *needed);

/* ---- users ---- */
#define TSPS_USER_VERSION ...
#define TSPS_USER_EXPECTED_RINGS_THROUGH ...
#define TSPS_USER_NO_HOURS ...
typedef struct tsps_hours { ...; } tsps_hours;
typedef struct tsps_user {
    int version;
    char id[64];
    char display_name[128];
    tsps_dialplan dialplan;
    char tz[64];
    tsps_hours hours;
    char unknown_code[32];
    char withheld_code[32];
    char attendant_uri[256];
    char voicemail_uri[256];
    uint32_t expected_window_s;
    unsigned flags;
} tsps_user;
void tsps_user_init(tsps_user *u);
int tsps_hours_parse(const char *text, tsps_hours *out);
int tsps_hours_format(const tsps_hours *h, char *buf, size_t buflen,
                      size_t *needed);
int tsps_user_put(tsps_engine *eng, const tsps_user *u);
int tsps_user_get(tsps_engine *eng, const char *id, tsps_user *out);
int tsps_user_delete(tsps_engine *eng, const char *id);
typedef int (*tsps_user_cb)(void *arg, const tsps_user *u);
int tsps_user_list(tsps_engine *eng, tsps_user_cb cb, void *arg);

int tsps_number_add(tsps_engine *eng, const char *user_id, const char *number);
int tsps_number_remove(tsps_engine *eng, const char *e164);
int tsps_number_lookup(tsps_engine *eng, const char *e164, char user_id[64]);
typedef int (*tsps_number_cb)(void *arg, const char *e164);
int tsps_number_list(tsps_engine *eng, const char *user_id, tsps_number_cb cb,
                     void *arg);

/* ---- contacts ---- */
typedef enum {
    TSPS_CODE_SRC_NONE, TSPS_CODE_SRC_PROPERTY, TSPS_CODE_SRC_CATEGORY,
    TSPS_CODE_SRC_GROUP, TSPS_CODE_SRC_NOTE, TSPS_CODE_SRC_MANUAL,
    TSPS_CODE_SRC__COUNT, ...
} tsps_code_source;
const char *tsps_code_source_name(tsps_code_source s);
typedef struct tsps_contact {
    int version;
    char uid[128];
    char source[64];
    char name[128];
    char org[128];
    char code[32];
    tsps_code_source code_source;
    char code_detail[128];
    uint8_t nnumbers;
    char numbers[8][25];
    uint8_t nemails;
    char emails[6][128];
} tsps_contact;
void tsps_contact_init(tsps_contact *c);
int tsps_contact_put(tsps_engine *eng, const char *user_id,
                     const tsps_contact *c);
int tsps_contact_get(tsps_engine *eng, const char *user_id, const char *uid,
                     tsps_contact *out);
int tsps_contact_delete(tsps_engine *eng, const char *user_id,
                        const char *uid);
int tsps_contact_set_code(tsps_engine *eng, const char *user_id,
                          const char *uid, const char *code,
                          tsps_code_source src);
typedef int (*tsps_contact_cb)(void *arg, const tsps_contact *c);
int tsps_contact_list(tsps_engine *eng, const char *user_id, const char *query,
                      tsps_contact_cb cb, void *arg);
int tsps_contact_find_number(tsps_engine *eng, const char *user_id,
                             const char *number, tsps_contact_cb cb,
                             void *arg);

/* ---- events ---- */
typedef enum { TSPS_BUSY_BUSY, TSPS_BUSY_FREE, TSPS_BUSY_TENTATIVE,
               TSPS_BUSY_OOF, ... } tsps_busy;
typedef struct tsps_event {
    int version;
    char uid[128];
    char source[64];
    int64_t start, end;
    char summary[128];
    tsps_busy busy;
    int cancelled;
    uint8_t nattendees;
    char attendees[24][128];
} tsps_event;
void tsps_event_init(tsps_event *e);
int tsps_event_put(tsps_engine *eng, const char *user_id, const tsps_event *e);
int tsps_event_delete(tsps_engine *eng, const char *user_id, const char *uid);
typedef int (*tsps_event_cb)(void *arg, const tsps_event *e);
int tsps_event_list(tsps_engine *eng, const char *user_id, int64_t from,
                    int64_t to, tsps_event_cb cb, void *arg);

/* ---- status ---- */
typedef enum { TSPS_STATUS_SRC_DEFAULT, TSPS_STATUS_SRC_MANUAL,
               TSPS_STATUS_SRC_CALENDAR, TSPS_STATUS_SRC_HOURS, ... }
    tsps_status_source;
const char *tsps_status_source_name(tsps_status_source s);
typedef struct tsps_status_info {
    tsps_status status;
    tsps_status_source source;
    int64_t until;
    char detail[128];
    char event_uid[128];
} tsps_status_info;
int tsps_status_set(tsps_engine *eng, const char *user_id, tsps_status st,
                    int64_t until, const char *note);
int tsps_status_get(tsps_engine *eng, const char *user_id, int64_t now,
                    tsps_status_info *out);

/* ---- rules ---- */
int tsps_code_set(tsps_engine *eng, const char *user_id, const char *code,
                  tsps_status st, const tsps_method *m);
int tsps_code_get(tsps_engine *eng, const char *user_id, const char *code,
                  tsps_status st, tsps_method *out);
int tsps_code_delete(tsps_engine *eng, const char *user_id, const char *code,
                     tsps_status st);
typedef int (*tsps_code_cb)(void *arg, const char *code, tsps_status st,
                            const tsps_method *m);
int tsps_code_list(tsps_engine *eng, const char *user_id, tsps_code_cb cb,
                   void *arg);

/* ---- registrations ---- */
typedef struct tsps_registration {
    int version;
    char contact[256];
    char instance[256];
    char label[16];
    uint16_t q;
    int64_t expires;
    char call_id[256];
    uint32_t cseq;
    char user_agent[128];
} tsps_registration;
void tsps_registration_init(tsps_registration *r);
int tsps_registration_put(tsps_engine *eng, const char *user_id,
                          const tsps_registration *r);
int tsps_registration_remove(tsps_engine *eng, const char *user_id,
                             const char *key);
int tsps_registration_clear(tsps_engine *eng, const char *user_id);
typedef int (*tsps_registration_cb)(void *arg, const tsps_registration *r);
int tsps_registration_list(tsps_engine *eng, const char *user_id, int64_t now,
                           tsps_registration_cb cb, void *arg);
int tsps_registration_purge(tsps_engine *eng, int64_t now, size_t *removed);

/* ---- routing ---- */
typedef enum { TSPS_CALLER_KNOWN, TSPS_CALLER_UNKNOWN, TSPS_CALLER_WITHHELD,
               TSPS_CALLER_AMBIGUOUS, ... } tsps_caller_kind;
const char *tsps_caller_kind_name(tsps_caller_kind k);
typedef enum { TSPS_STEP_CALLED, TSPS_STEP_CALLER, TSPS_STEP_CONTACT,
               TSPS_STEP_STATUS, TSPS_STEP_CALENDAR, TSPS_STEP_RULE,
               TSPS_STEP_TARGETS, TSPS_STEP_OVERRIDE, TSPS_STEP__COUNT, ... }
    tsps_step;
const char *tsps_step_name(tsps_step s);
typedef struct tsps_trace_step {
    uint8_t step;
    uint8_t outcome;
    uint16_t n;
    int32_t arg;
    char what[48];
    char found[128];
} tsps_trace_step;
typedef struct tsps_target {
    char uri[256];
    char label[16];
    uint16_t q;
    uint16_t order;
    uint16_t timeout_s;
    int64_t expires;
    uint8_t fallback;
} tsps_target;
#define TSPS_DEC_UNKNOWN_NUMBER ...
#define TSPS_DEC_EXPECTED ...
#define TSPS_DEC_OVERRIDDEN ...
#define TSPS_DEC_FALLBACK ...
typedef struct tsps_decision {
    int version;
    unsigned flags;
    int64_t at;
    char user[64];
    char called[17];
    char caller[17];
    char caller_name[128];
    tsps_caller_kind caller_kind;
    char contact_uid[128];
    char code[32];
    tsps_code_source code_source;
    tsps_status status;
    tsps_status_source status_source;
    tsps_status rule_status;
    char rule_code[32];
    tsps_method method;
    char actor[64];
    uint8_t ntargets;
    tsps_target targets[8];
    uint8_t ntrace;
    tsps_trace_step trace[16];
} tsps_decision;
int tsps_route_override(tsps_engine *eng, const tsps_decision *prev,
                        const tsps_method *m, const char *actor, int64_t now,
                        tsps_decision *out);
int tsps_decision_explain(const tsps_decision *d, char *buf, size_t buflen,
                          size_t *needed);
int tsps_decision_json(const tsps_decision *d, char *buf, size_t buflen,
                       size_t *needed);

/* ---- history ---- */
typedef enum { TSPS_OUTCOME_ROUTED, TSPS_OUTCOME_PENDING,
               TSPS_OUTCOME_ANSWERED, TSPS_OUTCOME_REDIRECTED,
               TSPS_OUTCOME_REJECTED, TSPS_OUTCOME_MISSED,
               TSPS_OUTCOME_TIMEOUT, TSPS_OUTCOME_FAILED,
               TSPS_OUTCOME__COUNT, ... } tsps_outcome;
const char *tsps_outcome_name(tsps_outcome o);
typedef struct tsps_call_record {
    uint64_t id;
    int64_t start, end;
    tsps_outcome outcome;
    char note[128];
    tsps_decision decision;
    tsps_decision original;
} tsps_call_record;
int tsps_history_append(tsps_engine *eng, const tsps_decision *d,
                        tsps_outcome outcome, uint64_t *id);
int tsps_history_set_outcome(tsps_engine *eng, uint64_t id,
                             tsps_outcome outcome, int64_t end,
                             const char *note);
int tsps_history_override(tsps_engine *eng, uint64_t id, const tsps_method *m,
                          const char *actor, int64_t now, tsps_decision *out);
int tsps_history_get(tsps_engine *eng, uint64_t id, tsps_call_record *out);
typedef int (*tsps_history_cb)(void *arg, const tsps_call_record *r);
int tsps_history_query(tsps_engine *eng, const char *user_id, int64_t from,
                       int64_t to, size_t limit, tsps_history_cb cb,
                       void *arg);
int tsps_history_by_caller(tsps_engine *eng, const char *user_id,
                           const char *caller, size_t limit,
                           tsps_history_cb cb, void *arg);

/* ---- batches, cursors, kv ---- */
typedef struct tsps_batch tsps_batch;
int tsps_batch_begin(tsps_engine *eng, tsps_batch **out);
int tsps_batch_contact_put(tsps_batch *b, const char *user_id,
                           const tsps_contact *c);
int tsps_batch_contact_delete(tsps_batch *b, const char *user_id,
                              const char *uid);
int tsps_batch_event_put(tsps_batch *b, const char *user_id,
                         const tsps_event *e);
int tsps_batch_event_delete(tsps_batch *b, const char *user_id,
                            const char *uid);
int tsps_batch_source_clear(tsps_batch *b, const char *user_id,
                            const char *source, int contacts, int events);
int tsps_batch_cursor_set(tsps_batch *b, const char *key, const void *val,
                          size_t len);
int tsps_batch_history_append(tsps_batch *b, const tsps_decision *d,
                              tsps_outcome outcome, uint64_t *id);
int tsps_batch_commit(tsps_batch *b);
void tsps_batch_abort(tsps_batch *b);
int tsps_cursor_get(tsps_engine *eng, const char *key, void *buf,
                    size_t buflen, size_t *len);
int tsps_cursor_delete(tsps_engine *eng, const char *key);
int tsps_kv_put(tsps_engine *eng, const char *key, const void *val,
                size_t len);
int tsps_kv_get(tsps_engine *eng, const char *key, void *buf, size_t buflen,
                size_t *len);
typedef int (*tsps_kv_cb)(void *arg, const char *key, const void *val,
                          size_t len);
int tsps_kv_list(tsps_engine *eng, const char *prefix, tsps_kv_cb cb,
                 void *arg);

/* ---- libcmsbridge ---- */
const char *cmsb_strerror(int err);
const char *cmsb_errname(int err);
const char *cmsb_version(void);
typedef void (*cmsb_log_fn)(void *arg, int level, const char *msg);
#define CMSB_FORM_PROPERTY ...
#define CMSB_FORM_CATEGORY ...
#define CMSB_FORM_GROUP ...
#define CMSB_FORM_NOTE ...
#define CMSB_FORM_ALL ...
#define CMSB_OPTIONS_VERSION ...
typedef struct cmsb_options {
    int version;
    const char *code_property;
    const char *category_prefix;
    const char *note_prefix;
    const char *known_codes;
    unsigned forms;
    int64_t event_past_s;
    int64_t event_future_s;
    const char *tz;
    int64_t now;
    cmsb_log_fn log;
    void *log_arg;
    const char *username;
    const char *password;
    const char *ca_file;
    int timeout_ms;
    ...;
} cmsb_options;
typedef struct cmsb_registry cmsb_registry;
typedef struct cmsb_source { const struct cmsb_adapter *adapter; } cmsb_source;
int cmsb_registry_open(cmsb_registry **out);
void cmsb_registry_close(cmsb_registry *reg);
#define CMSB_CAP_CHANGES ...
#define CMSB_CAP_EVENTS ...
#define CMSB_CAP_WRITE ...
#define CMSB_CAP_RELATED ...
#define CMSB_CAP_WATCH ...
typedef int (*cmsb_contact_cb)(void *arg, const tsps_contact *contact);
typedef int (*cmsb_event_cb)(void *arg, const tsps_event *event);
typedef enum { CMSB_CHANGE_CONTACT_PUT, CMSB_CHANGE_CONTACT_DELETE,
               CMSB_CHANGE_EVENT_PUT, CMSB_CHANGE_EVENT_DELETE,
               CMSB_CHANGE_CHECKPOINT, CMSB_CHANGE_ERROR, ... }
    cmsb_change_kind;
typedef struct cmsb_change {
    cmsb_change_kind kind;
    const tsps_contact *contact;
    const tsps_event *event;
    const char *uid;
    const char *cursor;
    const char *file;
    int line;
    const char *reason;
} cmsb_change;
typedef int (*cmsb_change_cb)(void *arg, const cmsb_change *ch);
#define CMSB_ITEM_EMAIL ...
#define CMSB_ITEM_EVENT ...
#define CMSB_ITEM_DOCUMENT ...
#define CMSB_CRITERIA_VERSION ...
typedef struct cmsb_criteria {
    int version;
    unsigned kinds;
    int64_t from;
    int64_t to;
    size_t limit;
} cmsb_criteria;
typedef struct cmsb_item {
    unsigned kind;
    char uid[128];
    char title[128];
    int64_t start, end;
    char role[16];
    char ref[256];
} cmsb_item;
typedef int (*cmsb_item_cb)(void *arg, const cmsb_item *item);
#define CMSB_ADAPTER_VERSION ...
typedef struct cmsb_adapter {
    int version;
    size_t source_size;
    const char *scheme;
    unsigned caps;
    int (*x_open)(const struct cmsb_adapter *ad, const char *uri,
                  const cmsb_options *opt, cmsb_source *src);
    void (*x_close)(cmsb_source *src);
    int (*x_contacts)(cmsb_source *src, cmsb_contact_cb cb, void *arg);
    int (*x_changes)(cmsb_source *src, const char *since, cmsb_change_cb cb,
                     void *arg);
    int (*x_events)(cmsb_source *src, int64_t from, int64_t to,
                    cmsb_event_cb cb, void *arg);
    int (*x_write_code)(cmsb_source *src, const char *uid, const char *code);
    int (*x_related)(cmsb_source *src, const char *uid,
                     const cmsb_criteria *crit, cmsb_item_cb cb, void *arg);
    int (*x_watch_fd)(cmsb_source *src, int *fd);
    int (*x_watch_drain)(cmsb_source *src);
    /* slots appended in later adapter versions (x_related_for, ...) stay
     * NULL: cffi takes the struct's size and layout from the C header */
    ...;
} cmsb_adapter;
int cmsb_register(cmsb_registry *reg, const cmsb_adapter *ad);
const cmsb_adapter *cmsb_registry_find(cmsb_registry *reg, const char *scheme);
int cmsb_source_open(cmsb_registry *reg, const char *uri,
                     const cmsb_options *opt, cmsb_source **out);
void cmsb_source_close(cmsb_source *src);
unsigned cmsb_source_caps(const cmsb_source *src);
const char *cmsb_source_scheme(const cmsb_source *src);
int cmsb_contacts(cmsb_source *src, cmsb_contact_cb cb, void *arg);
int cmsb_events(cmsb_source *src, int64_t from, int64_t to, cmsb_event_cb cb,
                void *arg);
int cmsb_changes(cmsb_source *src, const char *since, cmsb_change_cb cb,
                 void *arg);
int cmsb_write_code(cmsb_source *src, const char *uid, const char *code);
int cmsb_related(cmsb_source *src, const char *contact_uid,
                 const cmsb_criteria *crit, cmsb_item_cb cb, void *arg);
int cmsb_watch_fd(cmsb_source *src, int *fd);
int cmsb_watch_drain(cmsb_source *src);
typedef struct cmsb_sync_stats {
    uint64_t contacts_put, contacts_deleted;
    uint64_t events_put, events_deleted;
    uint64_t errors;
    uint64_t batches;
    int full;
} cmsb_sync_stats;
int cmsb_sync(cmsb_source *src, tsps_engine *eng, const char *user_id,
              const char *source_name, int full, cmsb_sync_stats *out);
int cmsb_cursor_key(const char *user_id, const char *source_name, char *buf,
                    size_t buflen);
const cmsb_options *cmsb_source_options(const cmsb_source *src);
int64_t cmsb_source_now(const cmsb_source *src);
int cmsb_code_normalize(const char *s, size_t len, char out[32]);

/* ---- the binding's own C glue (in the source below) ---- */
typedef struct tsps_py_source {
    cmsb_source base;
    void *obj;
} tsps_py_source;
int tsps_py_route(tsps_engine *eng, const char *called, const char *caller,
                  const char *caller_name, int64_t now, tsps_decision *out);
extern "Python" void tsps_py_log(void *arg, int level, const char *msg);
extern "Python" int tsps_py_user_cb(void *arg, const tsps_user *u);
extern "Python" int tsps_py_number_cb(void *arg, const char *e164);
extern "Python" int tsps_py_contact_cb(void *arg, const tsps_contact *c);
extern "Python" int tsps_py_event_cb(void *arg, const tsps_event *e);
extern "Python" int tsps_py_code_cb(void *arg, const char *code,
                                    tsps_status st, const tsps_method *m);
extern "Python" int tsps_py_registration_cb(void *arg,
                                            const tsps_registration *r);
extern "Python" int tsps_py_history_cb(void *arg, const tsps_call_record *r);
extern "Python" int tsps_py_kv_cb(void *arg, const char *key, const void *val,
                                  size_t len);
extern "Python" int tsps_py_change_cb(void *arg, const cmsb_change *ch);
extern "Python" int tsps_py_item_cb(void *arg, const cmsb_item *item);
/* The adapter methods of every adapter written in Python. */
extern "Python" int tsps_py_x_open(const struct cmsb_adapter *ad,
                                   const char *uri, const cmsb_options *opt,
                                   cmsb_source *src);
extern "Python" void tsps_py_x_close(cmsb_source *src);
extern "Python" int tsps_py_x_contacts(cmsb_source *src, cmsb_contact_cb cb,
                                       void *arg);
extern "Python" int tsps_py_x_changes(cmsb_source *src, const char *since,
                                      cmsb_change_cb cb, void *arg);
extern "Python" int tsps_py_x_events(cmsb_source *src, int64_t from,
                                     int64_t to, cmsb_event_cb cb, void *arg);
extern "Python" int tsps_py_x_write_code(cmsb_source *src, const char *uid,
                                         const char *code);
extern "Python" int tsps_py_x_related(cmsb_source *src, const char *uid,
                                      const cmsb_criteria *crit,
                                      cmsb_item_cb cb, void *arg);
extern "Python" int tsps_py_x_watch_fd(cmsb_source *src, int *fd);
extern "Python" int tsps_py_x_watch_drain(cmsb_source *src);
"""

SOURCE = r"""
#include <tsps/tsps.h>
#include <cmsb/cmsb.h>
#include <cmsb/adapter.h>

typedef struct tsps_py_source {
    cmsb_source base;
    void *obj;
} tsps_py_source;

/* One route with the call's facts as arguments: the binding's hot path
 * passes Python bytes straight through instead of building a struct. */
static int tsps_py_route(tsps_engine *eng, const char *called,
                         const char *caller, const char *caller_name,
                         int64_t now, tsps_decision *out)
{
    tsps_call call = TSPS_CALL_INIT;
    call.called = called;
    call.caller = caller;
    call.caller_name = caller_name;
    call.now = now;
    return tsps_route(eng, &call, out);
}
"""


def make_ffi(include_dirs=(), library_dirs=(), rpath=(), extra_link=()):
    ffi = FFI()
    ffi.cdef(CDEF)
    ffi.set_source(
        "tsps._native",
        SOURCE,
        libraries=["tsps", "cmsb"],
        include_dirs=list(include_dirs),
        library_dirs=list(library_dirs),
        runtime_library_dirs=list(rpath),
        extra_link_args=list(extra_link),
    )
    return ffi


def _from_env():
    sp = os.environ.get
    split = lambda v: [p for p in (sp(v) or "").split(os.pathsep) if p]
    return make_ffi(split("TSPS_INCLUDE_DIRS"), split("TSPS_LIBRARY_DIRS"),
                    split("TSPS_RPATH"))


ffibuilder = _from_env() if __name__ != "__main__" else None

if __name__ == "__main__":
    _from_env().compile(verbose=True)
