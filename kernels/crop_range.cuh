/* The pixels along one axis that box_utils.crop (padding 1) keeps, on the device: the
 * mask kernels' (assembly and its backward) copy of the CPU's yl_crop_range (ops/boxes.h). */
#ifndef YL_CROP_RANGE_CUH
#define YL_CROP_RANGE_CUH

#include <math.h>

#include "yl_device.h"

/* torch.min / torch.max of two floats: NaN if either is. */
static __device__ __forceinline__ float crop_min_nan(float a, float b)
{
    return a != a ? a : b != b ? b : a < b ? a : b;
}

static __device__ __forceinline__ float crop_max_nan(float a, float b)
{
    return a != a ? a : b != b ? b : a > b ? a : b;
}

/* The pixels [begin, end) along one axis that box_utils.crop (padding 1) keeps, as the
 * CPU's yl_crop_range (ops/boxes.h): integer c with lo <= c < hi after sanitize_coordinates
 * in float32. */
static __device__ void yl_crop_range_device(float a, float b, int size, int *begin, int *end)
{
    float s = (float)size;
    float lo = crop_min_nan(a * s, b * s) - 1.0f, hi = crop_max_nan(a * s, b * s) + 1.0f;
    lo = lo < 0.0f ? 0.0f : lo;
    hi = hi > s ? s : hi;
    if (!(lo < hi)) {
        *begin = *end = 0;
        return;
    }
    *begin = lo > s ? size : (int)ceilf(lo);
    *end = hi <= 0.0f ? 0 : (int)ceilf(hi);
    if (*end < *begin)
        *end = *begin;
}

#endif
