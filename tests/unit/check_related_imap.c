#include "tsps_check.h"
int main(void)
{
    return 77;
}
