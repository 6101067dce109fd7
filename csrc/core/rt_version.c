/* The library's version (see rt_version.h). */
#include "rt_version.h"

const char *rt_version(void)
{
    return RT_VERSION;
}
