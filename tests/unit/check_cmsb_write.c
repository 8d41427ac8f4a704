#include "cmsb_test.h"
static Suite *s_(void)
{
    return suite_create("x");
}
TSPS_CHECK_MAIN(s_)
