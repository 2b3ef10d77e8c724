// Bilinear axis tables on the device, entry for entry yl_bilinear_axis (lib/cpu/dense_ops.c):
// a few hundred doubles per frame, so the tables for a frame's image size never cross PCIe.
//   table: i0 (out) int, i1 (out) int, w0 (out) float, w1 (out) float
#include "bilinear.cuh"
#include "yl_kernels.h"

static __global__ void bilinear_axis_kernel(int in, int out, int *i0, int *i1, float *w0,
                                            float *w1)
{
    int dst = blockIdx.x * blockDim.x + threadIdx.x;
    if (dst >= out)
        return;
    if (in == out) {    /* PyTorch copies: one source, weights 1 and 0 */
        i0[dst] = i1[dst] = dst;
        w0[dst] = 1.0f;
        w1[dst] = 0.0f;
        return;
    }
    /* float scale, then double: scale * (dst + 0.5) is exact in double, as on the CPU. */
    float scale = (float)in / (float)out;
    double src = (double)scale * (dst + 0.5) - 0.5;
    if (src < 0.0)
        src = 0.0;
    int lo = (int)src;
    i0[dst] = lo;
    i1[dst] = lo + (lo < in - 1);
    w1[dst] = (float)(src - lo);
    w0[dst] = 1.0f - w1[dst];
}

static cudaError_t bilinear_axis_launch(int in, int out, void *table, cudaStream_t stream)
{
    int *i0 = static_cast<int *>(table), *i1 = i0 + out;
    float *w0 = reinterpret_cast<float *>(i1 + out), *w1 = w0 + out;
    const int threads = 256;
    return YL_LAUNCH(bilinear_axis_kernel, (out + threads - 1) / threads, threads, 0, stream,
                     in, out, i0, i1, w0, w1);
}

extern "C" size_t yl_bilinear_table_bytes(int out)
{
    return out > 0 ? (size_t)out * (2 * sizeof(int) + 2 * sizeof(float)) : 0;
}

extern "C" yolact_status yl_bilinear_axis_cuda(int in, int out, void *table,
                                               cudaStream_t stream)
{
    if (in <= 0 || out <= 0 || !table)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_bilinear_axis_cuda: in %d, out %d, table %p", in, out, table);
    YL_CUDA_CHECK(bilinear_axis_launch(in, out, table, stream));
    return YOLACT_OK;
}
