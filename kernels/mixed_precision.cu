// Mixed-precision training's kernels (FP16 with loss scaling): the float <-> half copies
// around the half convolutions (lib/cuda/dnn_cudnn.c) and the check GradScaler makes of the
// unscaled gradients (lib/cuda/train_pass.c). A thread an element (grid-stride).
#include "yl_grad_kernels.h"

#include <float.h>

#include "grid_stride.cuh"
#include "yl_device.h"

// in: (n) float, out: (n) half, rounded to nearest even
static __global__ void __launch_bounds__(YL_GRID_THREADS)
float_to_half_kernel(const float *in, size_t n, yl_half *out)
{
    YL_GRID_STRIDE(i, n)
        out[i] = yl_float2half(in[i]);
}

// in: (n) half, out: (n) float, written or (accumulate) added to
static __global__ void __launch_bounds__(YL_GRID_THREADS)
half_to_float_kernel(const yl_half *in, size_t n, int accumulate, float *out)
{
    YL_GRID_STRIDE(i, n) {
        const float v = yl_half2float(in[i]);
        out[i] = accumulate ? out[i] + v : v;
    }
}

// in: (n) float; *flag set to 1 where an element is infinite or NaN (every writer writes 1)
static __global__ void __launch_bounds__(YL_GRID_THREADS)
flag_nonfinite_kernel(const float *in, size_t n, int *flag)
{
    YL_GRID_STRIDE(i, n)
        if (!(fabsf(in[i]) <= FLT_MAX))
            *flag = 1;
}

extern "C" yolact_status yl_float_to_half_cuda(const float *in, size_t n, uint16_t *out,
                                               cudaStream_t stream)
{
    if (n && (!in || !out))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_float_to_half_cuda: %zu elements, in "
                       "%p out %p", n, (const void *)in, (void *)out);
    if (n)
        YL_CHECK(cuda, YL_LAUNCH(float_to_half_kernel, yl_grid_blocks(n), YL_GRID_THREADS, 0,
                                 stream, in, n, (yl_half *)out));
    return YOLACT_OK;
}

extern "C" yolact_status yl_half_to_float_cuda(const uint16_t *in, size_t n, int accumulate,
                                               float *out, cudaStream_t stream)
{
    if (n && (!in || !out))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_half_to_float_cuda: %zu elements, in "
                       "%p out %p", n, (const void *)in, (void *)out);
    if (n)
        YL_CHECK(cuda, YL_LAUNCH(half_to_float_kernel, yl_grid_blocks(n), YL_GRID_THREADS, 0,
                                 stream, (const yl_half *)in, n, accumulate, out));
    return YOLACT_OK;
}

extern "C" yolact_status yl_flag_nonfinite_cuda(const float *in, size_t n, int *flag,
                                                cudaStream_t stream)
{
    if (!flag || (n && !in))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_flag_nonfinite_cuda: %zu elements, in "
                       "%p flag %p", n, (const void *)in, (void *)flag);
    YL_CHECK(cuda, cudaMemsetAsync(flag, 0, sizeof *flag, stream));
    if (n)
        YL_CHECK(cuda, YL_LAUNCH(flag_nonfinite_kernel, yl_grid_blocks(n), YL_GRID_THREADS, 0,
                                 stream, in, n, flag));
    return YOLACT_OK;
}
