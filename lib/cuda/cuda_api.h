/* The CUDA runtime API for the CUDA backend's host code (plain C): the real one, or, in the
 * emulated build (-DYL_CUDA_EMULATION, for CI without a GPU), test/emu's host-memory
 * stand-in with the same names. Plus the status check the host code uses. */
#ifndef YL_CUDA_API_H
#define YL_CUDA_API_H

#ifdef YL_CUDA_EMULATION
#include "yl_emu_runtime.h"
#else
#include <cuda_runtime_api.h>
#endif

#include "status.h"

/* Evaluate a cudaError_t expression; on failure return YOLACT_ERR_DEVICE from the caller,
 * naming the call, the error and where. */
#define YL_CU_CHECK(expr)                                                                  \
    do {                                                                                   \
        cudaError_t yl_cu_e_ = (expr);                                                     \
        if (yl_cu_e_ != cudaSuccess)                                                       \
            return yl_fail(YOLACT_ERR_DEVICE, "%s failed: %s (%s) at %s:%d", #expr,       \
                           cudaGetErrorName(yl_cu_e_), cudaGetErrorString(yl_cu_e_),       \
                           __FILE__, __LINE__);                                            \
    } while (0)

#endif
