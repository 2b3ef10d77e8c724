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

/* PyTorch's evaluation order, as the CPU's: x within each source row, then y. */
static __device__ __forceinline__ float yl_bilinear(float a, float b, float c, float d,
                                                    float w0x, float w1x, float w0y, float w1y)
{
    return (a * w0x + b * w1x) * w0y + (c * w0x + d * w1x) * w1y;
}

#endif
