// The dense ops' backward passes (yl_grad_kernels.h), as lib/cpu/grad_dense.c computes them:
// element-wise kernels a thread an element (grid-stride), softmax a thread a row, max
// pooling and the bilinear resize a thread an input element gathering what the CPU
// scatters.
#include "yl_grad_kernels.h"

#include <math.h>

#include "bilinear.cuh"
#include "grid_stride.cuh"
#include "yl_device.h"

static __global__ void __launch_bounds__(YL_GRID_THREADS)
activation_backward_kernel(int act, const float *y, const float *grad_out, size_t n,
                           float *grad_in)
{
    const float slope = act == YL_ACT_LEAKY_RELU_0_1 ? 0.1f : act == YL_ACT_RELU ? 0.0f : 1.0f;
    YL_GRID_STRIDE(i, n)
        grad_in[i] = act == YL_ACT_NONE || y[i] > 0.0f ? grad_out[i] : grad_out[i] * slope;
}

static __global__ void __launch_bounds__(YL_GRID_THREADS)
add_backward_kernel(const float *__restrict__ grad_out, size_t n, float *grad_a, float *grad_b)
{
    YL_GRID_STRIDE(i, n) {
        grad_a[i] += grad_out[i];
        grad_b[i] += grad_out[i];
    }
}

static __global__ void __launch_bounds__(YL_GRID_THREADS)
tanh_backward_kernel(const float *y, const float *grad_out, size_t n, float *grad_in)
{
    YL_GRID_STRIDE(i, n)
        grad_in[i] = grad_out[i] * (1.0f - y[i] * y[i]);
}

static __global__ void __launch_bounds__(YL_GRID_THREADS)
sigmoid_backward_kernel(const float *y, const float *grad_out, size_t n, float *grad_in)
{
    YL_GRID_STRIDE(i, n)
        grad_in[i] = grad_out[i] * (1.0f - y[i]) * y[i];
}

static __global__ void __launch_bounds__(YL_GRID_THREADS)
softmax_backward_kernel(const float *y, const float *grad_out, size_t rows, int cols,
                        float *grad_in)
{
    YL_GRID_STRIDE(r, rows) {
        const float *yr = y + r * cols, *g = grad_out + r * cols;
        float *d = grad_in + r * cols, dot = 0.0f;
        for (int c = 0; c < cols; c++)
            dot += yr[c] * g[c];
        for (int c = 0; c < cols; c++)
            d[c] = yr[c] * (g[c] - dot);
    }
}

/* The flat index of window (y, x)'s maximum in its plane, as the CPU picks it, or -1 for a
 * window wholly in the padding. */
static __device__ long long window_argmax(const float *plane, int in_h, int in_w, int kernel,
                                          int stride, int pad, int y, int x)
{
    int y0 = y * stride - pad, y1 = y0 + kernel, x0 = x * stride - pad, x1 = x0 + kernel;
    y0 = y0 < 0 ? 0 : y0;
    y1 = y1 > in_h ? in_h : y1;
    x0 = x0 < 0 ? 0 : x0;
    x1 = x1 > in_w ? in_w : x1;
    if (y0 >= y1 || x0 >= x1)
        return -1;
    long long best = (long long)y0 * in_w + x0;
    float m = -INFINITY;
    for (int iy = y0; iy < y1; iy++)
        for (int ix = x0; ix < x1; ix++) {
            float v = plane[(size_t)iy * in_w + ix];
            if (v > m || v != v) {
                m = v;
                best = (long long)iy * in_w + ix;
            }
        }
    return best;
}

/* The first window index o with o * stride - pad + kernel > i (its window reaches i), and
 * one past the last with o * stride - pad <= i, clipped to [0, out). */
static __device__ void windows_over(int i, int kernel, int stride, int pad, int out, int *lo,
                                    int *hi)
{
    int a = i + pad - kernel + 1, b = i + pad;
    *lo = a <= 0 ? 0 : (a + stride - 1) / stride;
    *hi = b < 0 ? 0 : b / stride + 1;
    *hi = *hi > out ? out : *hi;
}

static __global__ void __launch_bounds__(YL_GRID_THREADS)
maxpool_backward_kernel(const float *__restrict__ in, int in_h, int in_w, int kernel,
                        int stride, int pad, const float *__restrict__ grad_out, int out_h,
                        int out_w, float *__restrict__ grad_in, size_t total)
{
    YL_GRID_STRIDE(i, total) {
        const size_t plane_size = (size_t)in_h * in_w, c = i / plane_size;
        const long long at = (long long)(i % plane_size);
        const int iy = (int)(at / in_w), ix = (int)(at % in_w);
        const float *plane = in + c * plane_size, *g = grad_out + c * out_h * out_w;
        int y_lo, y_hi, x_lo, x_hi;
        windows_over(iy, kernel, stride, pad, out_h, &y_lo, &y_hi);
        windows_over(ix, kernel, stride, pad, out_w, &x_lo, &x_hi);
        float sum = 0.0f;
        for (int y = y_lo; y < y_hi; y++)
            for (int x = x_lo; x < x_hi; x++)
                if (window_argmax(plane, in_h, in_w, kernel, stride, pad, y, x) == at)
                    sum += g[(size_t)y * out_w + x];
        grad_in[i] = sum;
    }
}

/* The outputs [*lo, *hi) of an axis table (out entries, i1 = i0 or i0 + 1, both
 * non-decreasing) that read source i through i0 or i1. */
static __device__ void outputs_reading(const yl_axis_table t, int out, int i, int *lo, int *hi)
{
    int a = 0, b = out;             /* the first o with i1[o] >= i */
    while (a < b) {
        const int mid = (a + b) / 2;
        if (t.i1[mid] >= i)
            b = mid;
        else
            a = mid + 1;
    }
    *lo = a;
    b = out;                        /* the first o with i0[o] > i */
    while (a < b) {
        const int mid = (a + b) / 2;
        if (t.i0[mid] > i)
            b = mid;
        else
            a = mid + 1;
    }
    *hi = a;
}

static __global__ void __launch_bounds__(YL_GRID_THREADS)
resize_backward_kernel(const float *__restrict__ grad_out, int in_h, int in_w, int out_h,
                       int out_w, float *__restrict__ grad_in, size_t total,
                       const void *y_table, const void *x_table)
{
    const yl_axis_table ty = yl_axis_table_at(y_table, out_h);
    const yl_axis_table tx = yl_axis_table_at(x_table, out_w);
    YL_GRID_STRIDE(i, total) {
        const size_t plane = (size_t)in_h * in_w, c = i / plane;
        const int iy = (int)(i % plane / in_w), ix = (int)(i % in_w);
        int y_lo, y_hi, x_lo, x_hi;
        outputs_reading(ty, out_h, iy, &y_lo, &y_hi);
        outputs_reading(tx, out_w, ix, &x_lo, &x_hi);
        const float *g = grad_out + c * out_h * out_w;
        float sum = 0.0f;
        for (int y = y_lo; y < y_hi; y++)
            for (int x = x_lo; x < x_hi; x++) {
                const float top = g[(size_t)y * out_w + x] * ty.w0[y];
                const float bottom = g[(size_t)y * out_w + x] * ty.w1[y];
                if (ty.i0[y] == iy) {
                    if (tx.i0[x] == ix)
                        sum += top * tx.w0[x];
                    if (tx.i1[x] == ix)
                        sum += top * tx.w1[x];
                }
                if (ty.i1[y] == iy) {
                    if (tx.i0[x] == ix)
                        sum += bottom * tx.w0[x];
                    if (tx.i1[x] == ix)
                        sum += bottom * tx.w1[x];
                }
            }
        grad_in[i] = sum;
    }
}

static __global__ void __launch_bounds__(YL_GRID_THREADS)
sgd_kernel(float *param, const float *grad, float *buf, size_t n, int momentum, int nesterov,
           int decay, int init, float wd, float m, float keep, float step)
{
    YL_GRID_STRIDE(i, n) {
        float d = decay ? fmaf(wd, param[i], grad[i]) : grad[i];
        if (momentum) {
            buf[i] = init ? d : fmaf(keep, d, buf[i] * m);
            d = nesterov ? fmaf(m, buf[i], d) : buf[i];
        }
        param[i] = fmaf(step, d, param[i]);
    }
}

static yolact_status refuse(const char *what, size_t n)
{
    return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s: a NULL tensor for %zu elements", what, n);
}

extern "C" yolact_status yl_activation_backward_cuda(yl_activation act, const float *y,
                                                     const float *grad_out, size_t n,
                                                     float *grad_in, cudaStream_t stream)
{
    if (act != YL_ACT_NONE && act != YL_ACT_RELU && act != YL_ACT_LEAKY_RELU_0_1)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_activation_backward_cuda: activation "
                       "%d", (int)act);
    if (n && (!y || !grad_out || !grad_in))
        return refuse("yl_activation_backward_cuda", n);
    if (n)
        YL_CHECK(cuda, YL_LAUNCH(activation_backward_kernel, yl_grid_blocks(n),
                                 YL_GRID_THREADS, 0, stream, (int)act, y, grad_out, n, grad_in));
    return YOLACT_OK;
}

extern "C" yolact_status yl_add_backward_cuda(const float *grad_out, size_t n, float *grad_a,
                                              float *grad_b, cudaStream_t stream)
{
    if (n && (!grad_out || !grad_a || !grad_b))
        return refuse("yl_add_backward_cuda", n);
    if (n)
        YL_CHECK(cuda, YL_LAUNCH(add_backward_kernel, yl_grid_blocks(n), YL_GRID_THREADS, 0, stream,
                                 grad_out, n, grad_a, grad_b));
    return YOLACT_OK;
}

extern "C" yolact_status yl_tanh_backward_cuda(const float *y, const float *grad_out, size_t n,
                                               float *grad_in, cudaStream_t stream)
{
    if (n && (!y || !grad_out || !grad_in))
        return refuse("yl_tanh_backward_cuda", n);
    if (n)
        YL_CHECK(cuda, YL_LAUNCH(tanh_backward_kernel,
                                 yl_grid_blocks(n), YL_GRID_THREADS, 0, stream,
                                 y, grad_out, n, grad_in));
    return YOLACT_OK;
}

extern "C" yolact_status yl_sigmoid_backward_cuda(const float *y, const float *grad_out,
                                                  size_t n, float *grad_in,
                                                  cudaStream_t stream)
{
    if (n && (!y || !grad_out || !grad_in))
        return refuse("yl_sigmoid_backward_cuda", n);
    if (n)
        YL_CHECK(cuda, YL_LAUNCH(sigmoid_backward_kernel, yl_grid_blocks(n), YL_GRID_THREADS, 0,
                                 stream, y, grad_out, n, grad_in));
    return YOLACT_OK;
}

extern "C" yolact_status yl_softmax_backward_cuda(const float *y, const float *grad_out,
                                                  size_t rows, int cols, float *grad_in,
                                                  cudaStream_t stream)
{
    if (cols < 0 || (rows && cols && (!y || !grad_out || !grad_in)))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_softmax_backward_cuda: %zu rows of "
                       "%d, y %p grad_out %p grad_in %p", rows, cols, (const void *)y,
                       (const void *)grad_out, (void *)grad_in);
    if (rows && cols)
        YL_CHECK(cuda, YL_LAUNCH(softmax_backward_kernel, yl_grid_blocks(rows), YL_GRID_THREADS, 0,
                                 stream, y, grad_out, rows, cols, grad_in));
    return YOLACT_OK;
}

extern "C" yolact_status yl_maxpool2d_backward_cuda(const float *in, int channels, int in_h,
                                                    int in_w, int kernel, int stride, int pad,
                                                    const float *grad_out, int out_h,
                                                    int out_w, float *grad_in,
                                                    cudaStream_t stream)
{
    const size_t total = (size_t)(channels > 0 ? channels : 0) * (in_h > 0 ? in_h : 0) *
                         (in_w > 0 ? in_w : 0);
    const int outputs = out_h > 0 && out_w > 0;
    if (channels < 0 || in_h < 0 || in_w < 0 || out_h < 0 || out_w < 0 || kernel <= 0 ||
        stride <= 0 || pad < 0 || (total && (!in || !grad_in || (outputs && !grad_out))))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_maxpool2d_backward_cuda: %d channels %dx%d -> %dx%d, kernel %d "
                       "stride %d pad %d, in %p grad_out %p grad_in %p", channels, in_h, in_w,
                       out_h, out_w, kernel, stride, pad, (const void *)in,
                       (const void *)grad_out, (void *)grad_in);
    if (total)
        YL_CHECK(cuda, YL_LAUNCH(maxpool_backward_kernel, yl_grid_blocks(total), YL_GRID_THREADS, 0,
                                 stream, in, in_h, in_w, kernel, stride, pad, grad_out,
                                 outputs ? out_h : 0, outputs ? out_w : 0, grad_in, total));
    return YOLACT_OK;
}

extern "C" yolact_status yl_resize_bilinear_backward_cuda(const float *grad_out, int channels,
                                                          int in_h, int in_w, int out_h,
                                                          int out_w, float *grad_in,
                                                          void *workspace, cudaStream_t stream)
{
    const size_t total = (size_t)(channels > 0 ? channels : 0) * (in_h > 0 ? in_h : 0) *
                         (in_w > 0 ? in_w : 0);
    if (channels < 0 || in_h <= 0 || in_w <= 0 || out_h <= 0 || out_w <= 0 ||
        (total && (!grad_out || !grad_in || !workspace)))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_resize_bilinear_backward_cuda: %d channels %dx%d -> %dx%d, grad_out "
                       "%p grad_in %p workspace %p", channels, in_h, in_w, out_h, out_w,
                       (const void *)grad_out, (void *)grad_in, workspace);
    if (total == 0)
        return YOLACT_OK;
    char *y_table = static_cast<char *>(workspace);
    char *x_table = y_table + yl_bilinear_table_bytes(out_h);
    YL_TRY(yl_bilinear_axis_cuda(in_h, out_h, y_table, stream));
    YL_TRY(yl_bilinear_axis_cuda(in_w, out_w, x_table, stream));
    YL_CHECK(cuda, YL_LAUNCH(resize_backward_kernel,
                             yl_grid_blocks(total), YL_GRID_THREADS, 0, stream,
                             grad_out, in_h, in_w, out_h, out_w, grad_in, total, y_table,
                             x_table));
    return YOLACT_OK;
}

extern "C" yolact_status yl_sgd_step_cuda(const yl_sgd_options *opt, size_t n, float *param,
                                          const float *grad, float *buf, int *first,
                                          cudaStream_t stream)
{
    YL_TRY(yl_sgd_check(opt, n, param, grad, buf, first));
    const int momentum = opt->momentum != 0.0;
    /* The scalars rounded to float as the reference (and torch) rounds them. */
    const int init = momentum && *first;
    if (n)
        YL_CHECK(cuda, YL_LAUNCH(sgd_kernel, yl_grid_blocks(n), YL_GRID_THREADS, 0, stream, param,
                                 grad, buf, n, momentum, opt->nesterov != 0,
                                 opt->weight_decay != 0.0, init, (float)opt->weight_decay,
                                 (float)opt->momentum, (float)(1.0 - opt->dampening),
                                 (float)-opt->lr));
    if (init)
        *first = 0;
    return YOLACT_OK;
}
