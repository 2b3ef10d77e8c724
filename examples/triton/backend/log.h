/* A line in the server's log, at a level; a failure to log is dropped. */
#ifndef YT_LOG_H
#define YT_LOG_H

#include "triton_api.h"

void yt_log(TRITONSERVER_LogLevel level, const char *message);

#endif
