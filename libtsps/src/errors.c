/* Error strings, version, and the names of the public enums. */
#include "internal.h"

const char *tsps_strerror(int err)
{
    switch (err) {
    case TSPS_OK:
        return "success";
#define X(name, val, msg)                                                      \
    case TSPS_##name:                                                          \
        return msg;
        TSPS_ERRNO_MAP(X)
#undef X
    default:
        return "unknown error";
    }
}

const char *tsps_errname(int err)
{
    switch (err) {
    case TSPS_OK:
        return "TSPS_OK";
#define X(name, val, msg)                                                      \
    case TSPS_##name:                                                          \
        return "TSPS_" #name;
        TSPS_ERRNO_MAP(X)
#undef X
    default:
        return "TSPS_EUNKNOWN";
    }
}

#define STR_(x) #x
#define STR(x)  STR_(x)

const char *tsps_version(void)
{
    return STR(TSPS_VERSION_MAJOR) "." STR(TSPS_VERSION_MINOR) "." STR(
        TSPS_VERSION_PATCH);
}

unsigned tsps_version_hex(void)
{
    return TSPS_VERSION_HEX;
}

static const char *const status_names[TSPS_STATUS__COUNT] = {
    "any", "available", "busy", "dnd", "away", "meeting", "off-hours"};

const char *tsps_status_name(tsps_status st)
{
    if ((int)st < 0 || st >= TSPS_STATUS__COUNT)
        return "invalid";
    return status_names[st];
}

int tsps_status_parse(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < TSPS_STATUS__COUNT; i++)
        if (strcasecmp(name, status_names[i]) == 0)
            return i;
    if (strcasecmp(name, "in-meeting") == 0 ||
        strcasecmp(name, "in_meeting") == 0)
        return TSPS_STATUS_IN_MEETING;
    if (strcasecmp(name, "off_hours") == 0 || strcasecmp(name, "offhours") == 0)
        return TSPS_STATUS_OFF_HOURS;
    if (strcasecmp(name, "default") == 0 || strcmp(name, "*") == 0)
        return TSPS_STATUS_ANY;
    return -1;
}

static const char *const method_names[TSPS_METHOD__COUNT] = {
    "none", "ring",      "forward", "voicemail",
    "ivr",  "attendant", "reject",  "ask"};

const char *tsps_method_kind_name(tsps_method_kind k)
{
    if ((int)k < 0 || k >= TSPS_METHOD__COUNT)
        return "invalid";
    return method_names[k];
}

static const char *const src_names[TSPS_CODE_SRC__COUNT] = {
    "none", "property", "category", "group", "note", "manual"};

const char *tsps_code_source_name(tsps_code_source s)
{
    if ((int)s < 0 || s >= TSPS_CODE_SRC__COUNT)
        return "invalid";
    return src_names[s];
}

static const char *const step_names[TSPS_STEP__COUNT] = {
    "called", "caller",  "contact",  "status", "calendar",
    "rule",   "targets", "override", "note"};

const char *tsps_step_name(tsps_step s)
{
    if ((int)s < 0 || s >= TSPS_STEP__COUNT)
        return "invalid";
    return step_names[s];
}

static const char *const outcome_names[TSPS_OUTCOME__COUNT] = {
    "routed",   "pending", "answered", "redirected",
    "rejected", "missed",  "timeout",  "failed"};

const char *tsps_outcome_name(tsps_outcome o)
{
    if ((int)o < 0 || o >= TSPS_OUTCOME__COUNT)
        return "invalid";
    return outcome_names[o];
}

static const char *const status_src_names[] = {"default", "manual", "calendar",
                                               "hours"};

const char *tsps_status_source_name(tsps_status_source s)
{
    if ((unsigned)s >= sizeof(status_src_names) / sizeof(status_src_names[0]))
        return "invalid";
    return status_src_names[s];
}

static const char *const caller_kind_names[] = {"known", "unknown", "withheld",
                                                "ambiguous"};

const char *tsps_caller_kind_name(tsps_caller_kind k)
{
    if ((unsigned)k >= sizeof(caller_kind_names) / sizeof(caller_kind_names[0]))
        return "invalid";
    return caller_kind_names[k];
}
