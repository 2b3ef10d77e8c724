/* The CUDA runtime API for the kernels' launchers and the CUDA backend's host code: the real
 * one, or, in the emulated build (-DYL_CUDA_EMULATION, for CI without a GPU), test/emu's
 * host-memory stand-in with the same names. Plus YL_CHECK(cuda, ...)'s failure function. */
#ifndef YL_CUDA_API_H
#define YL_CUDA_API_H

#ifdef YL_CUDA_EMULATION
#include "yl_emu_runtime.h"
#else
#include <cuda_runtime_api.h>
#endif

#include "status.h"

/* YL_CHECK(cuda, expr) (status.h): YOLACT_OK when error is cudaSuccess, else
 * YOLACT_ERR_DEVICE with the statement, the error, the function and file:line in the detail
 * message (and, emulated, the emulation's own detail: which thread of which kernel). */
static inline yolact_status yl_cuda_failure(cudaError_t error, const char *statement,
                                            const char *function, const char *file, int line)
{
    if (error == cudaSuccess)
        return YOLACT_OK;
#ifdef YL_CUDA_EMULATION
    const char *detail = yl_emu_error_detail();
#else
    const char *detail = "";
#endif
    return yl_fail(YOLACT_ERR_DEVICE, "%s failed: %s (%s) in %s at %s:%d%s%s", statement,
                   cudaGetErrorName(error), cudaGetErrorString(error), function, file, line,
                   *detail ? ": " : "", detail);
}

#endif
