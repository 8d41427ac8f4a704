/* Time zones through libical (which reads the system zoneinfo). A zone is
 * turned once into a table of UTC offset changes, so that routing finds the
 * local time with a binary search and no allocation. */
#include <libical/ical.h>
#include <stdlib.h>

#include "internal.h"

static icaltimezone *zone_by_name(const char *name)
{
    if (name == NULL || name[0] == '\0' || strcmp(name, "UTC") == 0 ||
        strcmp(name, "Etc/UTC") == 0 || strcmp(name, "GMT") == 0)
        return icaltimezone_get_utc_timezone();
    return icaltimezone_get_builtin_timezone(name);
}

int tsps__tz_valid(const char *name)
{
    return zone_by_name(name) != NULL;
}

static int32_t offset_at(icaltimezone *z, int64_t t)
{
    struct icaltimetype tt = icaltime_from_timet_with_zone(
        (time_t)t, 0, icaltimezone_get_utc_timezone());
    int dst = 0;
    return (int32_t)icaltimezone_get_utc_offset_of_utc_time(z, &tt, &dst);
}

int tsps__tz_load(const char *name, int64_t from, int64_t to, tsps__tz **out)
{
    icaltimezone *z = zone_by_name(name);
    tsps__tz *tz = NULL;
    size_t cap = 64;
    const int64_t step = 6 * 3600;
    int32_t cur;

    *out = NULL;
    if (z == NULL)
        return TSPS_ETZ;
    tz = calloc(1, sizeof(*tz));
    if (tz == NULL)
        return TSPS_ENOMEM;
    tsps__stcopy(tz->name, sizeof(tz->name), name != NULL ? name : "UTC");
    tz->from = from;
    tz->to = to;
    tz->at = malloc(cap * sizeof(*tz->at));
    tz->offset = malloc(cap * sizeof(*tz->offset));
    if (tz->at == NULL || tz->offset == NULL)
        goto nomem;
    cur = offset_at(z, from);
    tz->at[0] = from;
    tz->offset[0] = cur;
    tz->n = 1;
    for (int64_t t = from + step; t < to; t += step) {
        int32_t o = offset_at(z, t);
        int64_t lo, hi;
        if (o == cur)
            continue;
        /* The change happened in (t - step, t]: find the second. */
        lo = t - step;
        hi = t;
        while (hi - lo > 1) {
            int64_t mid = lo + (hi - lo) / 2;
            if (offset_at(z, mid) == cur)
                lo = mid;
            else
                hi = mid;
        }
        if (tz->n == cap) {
            int64_t *na;
            int32_t *no;
            cap *= 2;
            na = realloc(tz->at, cap * sizeof(*tz->at));
            if (na == NULL)
                goto nomem;
            tz->at = na;
            no = realloc(tz->offset, cap * sizeof(*tz->offset));
            if (no == NULL)
                goto nomem;
            tz->offset = no;
        }
        tz->at[tz->n] = hi;
        tz->offset[tz->n] = o;
        tz->n++;
        cur = o;
    }
    *out = tz;
    return TSPS_OK;
nomem:
    tsps__tz_free(tz);
    return TSPS_ENOMEM;
}

void tsps__tz_free(tsps__tz *tz)
{
    if (tz == NULL)
        return;
    free(tz->at);
    free(tz->offset);
    free(tz);
}

int32_t tsps__tz_offset(const tsps__tz *tz, int64_t t)
{
    size_t lo = 0, hi;
    if (tz == NULL)
        return 0;
    if (t < tz->from || t >= tz->to) {
        icaltimezone *z = zone_by_name(tz->name);
        return z != NULL ? offset_at(z, t) : 0;
    }
    hi = tz->n;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (tz->at[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->offset[lo];
}
