/* The runtime version of the linked library. */
#include "yolact.h"

#define YL_STR2(x) #x
#define YL_STR(x) YL_STR2(x)

int yolact_version_number(void) { return YOLACT_VERSION_NUMBER; }

const char *yolact_version_string(void)
{
    return YL_STR(YOLACT_VERSION_MAJOR) "." YL_STR(YOLACT_VERSION_MINOR) "." YL_STR(
        YOLACT_VERSION_PATCH);
}
