/* Logging through the server, so the backend's lines land in Triton's log with its own. */
#include "log.h"

void yt_log(TRITONSERVER_LogLevel level, const char *message)
{
    TRITONSERVER_Error *error = TRITONSERVER_LogMessage(level, "yolact", 0, message);
    if (error)
        TRITONSERVER_ErrorDelete(error);
}
