/* libFuzzer: the text forms users type (methods, working hours). Invariant:
 * whatever parses formats to text that parses to the same thing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tsps/tsps.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char in[2048], out[2048], err[128];
    tsps_method m, m2;
    tsps_hours h, h2;

    if (size >= sizeof(in))
        return 0;
    memcpy(in, data, size);
    in[size] = '\0';
    if (tsps_method_parse(in, &m, err, sizeof(err)) == TSPS_OK) {
        if (tsps_method_format(&m, out, sizeof(out), NULL) != TSPS_OK)
            abort();
        if (tsps_method_parse(out, &m2, err, sizeof(err)) != TSPS_OK ||
            memcmp(&m, &m2, sizeof(m)) != 0)
            abort();
    }
    if (tsps_hours_parse(in, &h) == TSPS_OK) {
        if (tsps_hours_format(&h, out, sizeof(out), NULL) != TSPS_OK)
            abort();
        if (tsps_hours_parse(out, &h2) != TSPS_OK ||
            memcmp(&h, &h2, sizeof(h)) != 0)
            abort();
    }
    return 0;
}
