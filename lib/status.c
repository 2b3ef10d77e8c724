/* The per-thread detail message behind yolact_last_error() and the status texts. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char detail[1024];

const char *yolact_status_string(yolact_status status)
{
    switch (status) {
    case YOLACT_OK: return "ok";
    case YOLACT_ERR_INVALID_ARGUMENT: return "invalid argument";
    case YOLACT_ERR_OUT_OF_MEMORY: return "out of memory";
    case YOLACT_ERR_IO: return "input/output error";
    case YOLACT_ERR_FORMAT: return "malformed file";
    case YOLACT_ERR_UNSAFE_PICKLE: return "refused unsafe pickle content";
    case YOLACT_ERR_UNSUPPORTED: return "unsupported feature";
    case YOLACT_ERR_MODEL: return "inconsistent model";
    case YOLACT_ERR_LIMIT: return "size limit exceeded";
    case YOLACT_ERR_BACKEND_UNAVAILABLE: return "backend not available";
    case YOLACT_ERR_DEVICE: return "device error";
    case YOLACT_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *yolact_last_error(void) { return detail; }

void yl_clear_error(void) { detail[0] = '\0'; }

yolact_status yl_fail(yolact_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return status;
}

yolact_status yl_fail_context(yolact_status status, const char *fmt, ...)
{
    char prefix[512], old[sizeof detail];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, detail, sizeof old);
    /* Truncation of an over-long message is acceptable: it stays NUL-terminated. */
    size_t n = strlen(prefix);
    memcpy(detail, prefix, n + 1);
    strncat(detail, old, sizeof detail - n - 1);
    return status;
}
