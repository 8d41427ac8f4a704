/* Error strings and version. */
#include <cmsb/cmsb.h>

const char *cmsb_strerror(int err)
{
    switch (err) {
    case CMSB_OK:
        return "success";
#define X(name, val, msg)                                                      \
    case CMSB_##name:                                                          \
        return msg;
        CMSB_ERRNO_MAP(X)
#undef X
    default:
        return "unknown error";
    }
}

const char *cmsb_errname(int err)
{
    switch (err) {
    case CMSB_OK:
        return "CMSB_OK";
#define X(name, val, msg)                                                      \
    case CMSB_##name:                                                          \
        return "CMSB_" #name;
        CMSB_ERRNO_MAP(X)
#undef X
    default:
        return "CMSB_UNKNOWN";
    }
}

#define STR2(x) #x
#define STR(x)  STR2(x)

const char *cmsb_version(void)
{
    return STR(CMSB_VERSION_MAJOR) "." STR(CMSB_VERSION_MINOR) "." STR(
        CMSB_VERSION_PATCH);
}
