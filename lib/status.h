/* Internal error reporting: every failing path sets the per-thread detail message and
 * returns its status in one statement:  return yl_fail(YOLACT_ERR_FORMAT, "%s: ...", path); */
#ifndef YL_STATUS_H
#define YL_STATUS_H

#include "yolact.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define YL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define YL_PRINTF(a, b)
#endif

/* Set this thread's detail message and return status. */
yolact_status yl_fail(yolact_status status, const char *fmt, ...) YL_PRINTF(2, 3);
/* Clear the detail message (start of every public call). */
void yl_clear_error(void);
/* Prefix the current detail message with context ("loading x.pth: ") and return status. */
yolact_status yl_fail_context(yolact_status status, const char *fmt, ...) YL_PRINTF(2, 3);

/* Evaluate a status expression; return it from the caller when it is not YOLACT_OK. */
#define YL_TRY(expr)                                  \
    do {                                              \
        yolact_status yl_try_status_ = (expr);        \
        if (yl_try_status_ != YOLACT_OK)              \
            return yl_try_status_;                    \
    } while (0)

/* Evaluate a status expression of a GPU library, `api` naming which: YL_CHECK(cuda, call)
 * for a cudaError_t, YL_CHECK(cudnn, call) for a cudnnStatus_t. On failure return from the
 * caller what yl_<api>_failure (declared beside that library's API: yl_cuda_api.h,
 * dnn_cudnn.c) makes of it: YOLACT_ERR_DEVICE with the statement, the library's error, the
 * function and file:line in the detail message. */
#define YL_CHECK(api, expr)                                                                \
    do {                                                                                   \
        yolact_status yl_check_status_ =                                                   \
            yl_##api##_failure((expr), #expr, __func__, __FILE__, __LINE__);               \
        if (yl_check_status_ != YOLACT_OK)                                                 \
            return yl_check_status_;                                                       \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif
