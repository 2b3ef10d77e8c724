/* Device view of the bilinear axis tables that yl_bilinear_axis_cuda writes (see
 * yl_kernels.h): the resize kernels read source indices and weights from it. */
#ifndef YL_BILINEAR_CUH
#define YL_BILINEAR_CUH

#include "yl_device.h"

struct yl_axis_table {
    const int *i0, *i1;
    const float *w0, *w1;
};

/* The table of `n` entries starting at byte `table`. */
static __device__ __forceinline__ yl_axis_table yl_axis_table_at(const void *table, int n)
{
    const int *i = static_cast<const int *>(table);
    const float *w = reinterpret_cast<const float *>(i + 2 * (size_t)n);
    return yl_axis_table{i, i + n, w, w + n};
}

/* Entry dst of yl_bilinear_axis(in, out) (lib/cpu/dense_ops.c), bit for bit: source indices
 * i0, i1 and their weights w0, w1. A few operations, so a kernel that needs one entry per
 * thread computes it instead of reading a table. */
struct yl_axis_entry {
    int i0, i1;
    float w0, w1;
};

static __device__ __forceinline__ yl_axis_entry yl_axis_entry_at(int in, int out, int dst)
{
    if (in == out)      /* PyTorch copies: one source, weights 1 and 0 */
        return yl_axis_entry{dst, dst, 1.0f, 0.0f};
    /* float scale, then double: scale * (dst + 0.5) is exact in double, as on the CPU. */
    float scale = (float)in / (float)out;
    double src = (double)scale * (dst + 0.5) - 0.5;
    if (src < 0.0)
        src = 0.0;
    int lo = (int)src;
    float w1 = (float)(src - lo);
    return yl_axis_entry{lo, lo + (lo < in - 1), 1.0f - w1, w1};
}

/* PyTorch's evaluation order, as the CPU's: x within each source row, then y. */
static __device__ __forceinline__ float yl_bilinear(float a, float b, float c, float d,
                                                    float w0x, float w1x, float w0y, float w1y)
{
    return (a * w0x + b * w1x) * w0y + (c * w0x + d * w1x) * w1y;
}

#endif
