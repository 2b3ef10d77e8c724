// Max pooling, as yl_maxpool2d_cpu (PyTorch semantics, padding counts as -inf, NaN wins).
// One thread per output element.
//   in: (channels, in_h, in_w) float -> out: (channels, out_h, out_w) float
#include "yl_kernels.h"

#include <math.h>

#include "yl_device.h"

#define POOL_THREADS 256

/* PyTorch's max: NaN wins. The same comparison as the CPU's max_nan. */
static __device__ __forceinline__ float max_nan(float m, float v)
{
    return v > m || v != v ? v : m;
}

/* The CPU folds each window column over its rows first, then the columns left to right; the
 * same order here, so ties between zeros of either sign and between NaNs resolve alike. */
static __global__ void maxpool_kernel(const float *__restrict__ in, int in_h, int in_w,
                                      int kernel, int stride, int pad,
                                      float *__restrict__ out, int out_h, int out_w,
                                      size_t total)
{
    size_t i = (size_t)blockIdx.x * POOL_THREADS + threadIdx.x;
    if (i >= total)
        return;
    int x = (int)(i % out_w), y = (int)(i / out_w % out_h);
    size_t c = i / ((size_t)out_w * out_h);
    const float *plane = in + c * in_h * in_w;
    int y0 = y * stride - pad, y1 = y0 + kernel, x0 = x * stride - pad, x1 = x0 + kernel;
    y0 = y0 < 0 ? 0 : y0;
    y1 = y1 > in_h ? in_h : y1;
    x0 = x0 < 0 ? 0 : x0;
    x1 = x1 > in_w ? in_w : x1;
    float m = -INFINITY;
    for (int ix = x0; ix < x1; ix++) {
        float col = -INFINITY;
        for (int iy = y0; iy < y1; iy++)
            col = max_nan(col, plane[(size_t)iy * in_w + ix]);
        m = max_nan(m, col);
    }
    out[i] = m;
}

static cudaError_t maxpool_launch(const float *in, int in_h, int in_w, int kernel, int stride,
                                  int pad, float *out, int out_h, int out_w, size_t total,
                                  cudaStream_t stream)
{
    unsigned blocks = (unsigned)((total + POOL_THREADS - 1) / POOL_THREADS);
    return YL_LAUNCH(maxpool_kernel, blocks, POOL_THREADS, 0, stream, in, in_h, in_w, kernel,
                     stride, pad, out, out_h, out_w, total);
}

extern "C" yolact_status yl_maxpool2d_cuda(const float *in, int channels, int in_h, int in_w,
                                           int kernel, int stride, int pad, float *out,
                                           int out_h, int out_w, cudaStream_t stream)
{
    size_t total = (size_t)(channels > 0 ? channels : 0) * (out_h > 0 ? out_h : 0) *
                   (out_w > 0 ? out_w : 0);
    if (channels < 0 || in_h < 0 || in_w < 0 || out_h < 0 || out_w < 0 || kernel <= 0 ||
        stride <= 0 || pad < 0 || (total && (!in || !out || in_h == 0 || in_w == 0)) ||
        total / POOL_THREADS >= 0x7fffffffu)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_maxpool2d_cuda: %d channels %dx%d -> %dx%d, kernel %d stride %d "
                       "pad %d, in %p out %p", channels, in_h, in_w, out_h, out_w, kernel,
                       stride, pad, (const void *)in, (void *)out);
    if (total == 0)
        return YOLACT_OK;
    YL_CHECK(cuda, maxpool_launch(in, in_h, in_w, kernel, stride, pad, out, out_h, out_w, total,
                                 stream));
    return YOLACT_OK;
}
