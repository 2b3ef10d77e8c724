// The row-scalings between folded and unfolded parameters (lib/train/param_fold.h) on the
// device, for the CUDA training pass's optimizer: a thread an element (grid-stride), each
// the reference's float (or double) operations in its order.
#include "yl_grad_kernels.h"

#include "grid_stride.cuh"
#include "yl_device.h"

// in, out: (rows, per_row); scale: (rows) or NULL
static __global__ void __launch_bounds__(YL_GRID_THREADS)
scale_rows_kernel(const float *in, size_t n, size_t per_row, const float *scale, int add,
                  float factor, float *out)
{
    YL_GRID_STRIDE(i, n) {
        const float v = in[i] * (scale ? scale[i / per_row] : 1.0f);
        out[i] = (add ? out[i] + v : v) * factor;
    }
}

// in, out: (rows, per_row); scale: (rows) doubles
static __global__ void __launch_bounds__(YL_GRID_THREADS)
fold_rows_kernel(const float *in, size_t n, size_t per_row, const double *scale, float *out)
{
    YL_GRID_STRIDE(i, n)
        out[i] = (float)(in[i] * scale[i / per_row]);
}

extern "C" yolact_status yl_scale_rows_cuda(const float *in, size_t rows, size_t per_row,
                                            const float *scale, int add, float factor,
                                            float *out, cudaStream_t stream)
{
    const size_t n = rows * per_row;
    if (n && (!in || !out))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_scale_rows_cuda: %zu x %zu floats, "
                       "in %p out %p", rows, per_row, (const void *)in, (void *)out);
    if (n)
        YL_CHECK(cuda, YL_LAUNCH(scale_rows_kernel, yl_grid_blocks(n), YL_GRID_THREADS, 0,
                                 stream, in, n, per_row, scale, add, factor, out));
    return YOLACT_OK;
}

extern "C" yolact_status yl_fold_rows_cuda(const float *in, size_t rows, size_t per_row,
                                           const double *scale, float *out,
                                           cudaStream_t stream)
{
    const size_t n = rows * per_row;
    if (n && (!in || !scale || !out))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_fold_rows_cuda: %zu x %zu floats, in "
                       "%p scale %p out %p", rows, per_row, (const void *)in,
                       (const void *)scale, (void *)out);
    if (n)
        YL_CHECK(cuda, YL_LAUNCH(fold_rows_kernel, yl_grid_blocks(n), YL_GRID_THREADS, 0,
                                 stream, in, n, per_row, scale, out));
    return YOLACT_OK;
}
