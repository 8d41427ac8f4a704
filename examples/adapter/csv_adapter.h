/* The example CSV phone-list adapter (scheme "csv"). */
#ifndef CSV_ADAPTER_H
#define CSV_ADAPTER_H

#include <cmsb/adapter.h>

extern const cmsb_adapter csv_phone_list_adapter;

#endif
