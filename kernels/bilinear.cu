// Bilinear axis tables on the device, entry for entry yl_bilinear_axis (lib/cpu/dense_ops.c,
// bilinear.cuh's yl_axis_entry_at), for the network's resize op (resize.cu): built on the
// device, they never cross PCIe.
//   table: i0 (out) int, i1 (out) int, w0 (out) float, w1 (out) float
#include "bilinear.cuh"
#include "yl_kernels.h"

static __global__ void bilinear_axis_kernel(int in, int out, int *i0, int *i1, float *w0,
                                            float *w1)
{
    int dst = blockIdx.x * blockDim.x + threadIdx.x;
    if (dst >= out)
        return;
    const yl_axis_entry e = yl_axis_entry_at(in, out, dst);
    i0[dst] = e.i0;
    i1[dst] = e.i1;
    w0[dst] = e.w0;
    w1[dst] = e.w1;
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
    YL_CHECK(cuda, bilinear_axis_launch(in, out, table, stream));
    return YOLACT_OK;
}
