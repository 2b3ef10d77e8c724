// Bilinear resize of feature maps (the FPN's upsampling), as yl_resize_bilinear_cpu, and the
// element-wise add of DarkNet's residual blocks. One thread per output element.
//   resize: in (channels, in_h, in_w) float, y then x axis tables (bilinear.cuh)
//           -> out (channels, out_h, out_w) float
//   add:    a (n), b (n) -> out (n)
#include "bilinear.cuh"
#include "yl_kernels.h"

#define ELEM_THREADS 256

static __global__ void resize_kernel(const float *__restrict__ in, int in_h, int in_w,
                                     float *__restrict__ out, int out_h, int out_w,
                                     size_t total, const void *y_table, const void *x_table)
{
    size_t i = (size_t)blockIdx.x * ELEM_THREADS + threadIdx.x;
    if (i >= total)
        return;
    int x = (int)(i % out_w), y = (int)(i / out_w % out_h);
    size_t c = i / ((size_t)out_w * out_h);
    yl_axis_table ty = yl_axis_table_at(y_table, out_h), tx = yl_axis_table_at(x_table, out_w);
    const float *plane = in + c * in_h * in_w;
    const float *r0 = plane + (size_t)ty.i0[y] * in_w, *r1 = plane + (size_t)ty.i1[y] * in_w;
    int x0 = tx.i0[x], x1 = tx.i1[x];
    out[i] = yl_bilinear(r0[x0], r0[x1], r1[x0], r1[x1], tx.w0[x], tx.w1[x], ty.w0[y], ty.w1[y]);
}

static unsigned elem_blocks(size_t total)
{
    return (unsigned)((total + ELEM_THREADS - 1) / ELEM_THREADS);
}

static cudaError_t resize_launch(const float *in, int in_h, int in_w, float *out, int out_h,
                                 int out_w, size_t total, const void *y_table,
                                 const void *x_table, cudaStream_t stream)
{
    return YL_LAUNCH(resize_kernel, elem_blocks(total), ELEM_THREADS, 0, stream, in, in_h,
                     in_w, out, out_h, out_w, total, y_table, x_table);
}

extern "C" size_t yl_resize_cuda_workspace_bytes(int out_h, int out_w)
{
    return yl_bilinear_table_bytes(out_h) + yl_bilinear_table_bytes(out_w);
}

extern "C" yolact_status yl_resize_bilinear_cuda(const float *in, int channels, int in_h,
                                                 int in_w, float *out, int out_h, int out_w,
                                                 void *workspace, cudaStream_t stream)
{
    size_t total = (size_t)(channels > 0 ? channels : 0) * (out_h > 0 ? out_h : 0) *
                   (out_w > 0 ? out_w : 0);
    if (channels < 0 || in_h <= 0 || in_w <= 0 || out_h < 0 || out_w < 0 ||
        (total && (!in || !out || !workspace)) || total / ELEM_THREADS >= 0x7fffffffu)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_resize_bilinear_cuda: %d channels %dx%d -> %dx%d, in %p out %p "
                       "workspace %p", channels, in_h, in_w, out_h, out_w, (const void *)in,
                       (void *)out, workspace);
    if (total == 0)
        return YOLACT_OK;
    char *y_table = static_cast<char *>(workspace), *x_table = y_table +
                                                               yl_bilinear_table_bytes(out_h);
    YL_TRY(yl_bilinear_axis_cuda(in_h, out_h, y_table, stream));
    YL_TRY(yl_bilinear_axis_cuda(in_w, out_w, x_table, stream));
    YL_CHECK(cuda, resize_launch(in, in_h, in_w, out, out_h, out_w, total, y_table, x_table,
                                stream));
    return YOLACT_OK;
}

/* No __restrict__: out may alias a or b (each element is read before it is written, by the
 * same thread). */
static __global__ void add_kernel(const float *a, const float *b, size_t n, float *out)
{
    size_t i = (size_t)blockIdx.x * ELEM_THREADS + threadIdx.x;
    if (i < n)
        out[i] = a[i] + b[i];
}

extern "C" yolact_status yl_add_cuda(const float *a, const float *b, size_t n, float *out,
                                     cudaStream_t stream)
{
    if ((n && (!a || !b || !out)) || n / ELEM_THREADS >= 0x7fffffffu)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_add_cuda: %zu floats, %p + %p -> %p",
                       n, (const void *)a, (const void *)b, (void *)out);
    if (n == 0)
        return YOLACT_OK;
    YL_CHECK(cuda, YL_LAUNCH(add_kernel, elem_blocks(n), ELEM_THREADS, 0, stream, a, b, n, out));
    return YOLACT_OK;
}
