/* E.164 normalisation. Placeholder until the normaliser lands. */
#include "internal.h"

int tsps_dialplan_for_region(const char *region, tsps_dialplan *out)
{
    (void)region;
    memset(out, 0, sizeof(*out));
    return TSPS_EREGION;
}

int tsps_normalize(const char *input, const tsps_dialplan *dp,
                   tsps_number *out)
{
    (void)input;
    (void)dp;
    memset(out, 0, sizeof(*out));
    return TSPS_ENUMBER;
}
