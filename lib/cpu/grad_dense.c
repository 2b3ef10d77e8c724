/* The backward passes of the dense ops (grad_ops.h): activations, max pooling, the bilinear
 * resize, the add, tanh, sigmoid and softmax. Plain loops, parallel over channels or
 * elements where the op is large enough to pay a team. */
#include <math.h>
#include <string.h>

#include "cpu/dense_ops.h"
#include "cpu/grad_ops.h"

enum { PARALLEL_MIN = 65536 };  /* elements below which a team costs more than it saves */

void yl_activation_backward_cpu(yl_activation act, const float *y, const float *grad_out,
                                size_t n, float *grad_in)
{
    const float slope = act == YL_ACT_LEAKY_RELU_0_1 ? 0.1f : act == YL_ACT_RELU ? 0.0f : 1.0f;
#pragma omp parallel for schedule(static) if (n > PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        grad_in[i] = act == YL_ACT_NONE || y[i] > 0.0f ? grad_out[i] : grad_out[i] * slope;
}

void yl_maxpool2d_backward_cpu(const float *in, int channels, int in_h, int in_w, int kernel,
                               int stride, int pad, const float *grad_out, int out_h, int out_w,
                               float *grad_in)
{
    const size_t plane = (size_t)in_h * in_w;
#pragma omp parallel for schedule(static) if ((size_t)channels * plane > PARALLEL_MIN)
    for (int c = 0; c < channels; c++) {
        const float *p = in + c * plane;
        const float *g = grad_out + (size_t)c * out_h * out_w;
        float *gi = grad_in + c * plane;
        memset(gi, 0, plane * sizeof *gi);
        for (int y = 0; y < out_h; y++) {
            int y0 = y * stride - pad, y1 = y0 + kernel;
            y0 = y0 < 0 ? 0 : y0;
            y1 = y1 > in_h ? in_h : y1;
            for (int x = 0; x < out_w; x++) {
                int x0 = x * stride - pad, x1 = x0 + kernel;
                x0 = x0 < 0 ? 0 : x0;
                x1 = x1 > in_w ? in_w : x1;
                /* PyTorch: the window's first element, replaced by a greater one or a NaN. */
                size_t best = (size_t)y0 * in_w + x0;
                float m = -INFINITY;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) {
                        float v = p[(size_t)iy * in_w + ix];
                        if (v > m || isnan(v)) {
                            m = v;
                            best = (size_t)iy * in_w + ix;
                        }
                    }
                if (y0 < y1 && x0 < x1)
                    gi[best] += g[(size_t)y * out_w + x];
            }
        }
    }
}

void yl_resize_bilinear_backward_cpu(const float *grad_out, int channels, int in_h, int in_w,
                                     int out_h, int out_w, float *grad_in, void *workspace)
{
    /* The axis tables, y's then x's: i0, i1, w0, w1 of each. */
    int *yi0 = workspace, *yi1 = yi0 + out_h;
    float *yw0 = (float *)(yi1 + out_h), *yw1 = yw0 + out_h;
    int *xi0 = (int *)(yw1 + out_h), *xi1 = xi0 + out_w;
    float *xw0 = (float *)(xi1 + out_w), *xw1 = xw0 + out_w;
    yl_bilinear_axis(in_h, out_h, yi0, yi1, yw0, yw1);
    yl_bilinear_axis(in_w, out_w, xi0, xi1, xw0, xw1);
    const size_t plane = (size_t)in_h * in_w;
#pragma omp parallel for schedule(static) if ((size_t)channels * out_h * out_w > PARALLEL_MIN)
    for (int c = 0; c < channels; c++) {
        float *gi = grad_in + c * plane;
        memset(gi, 0, plane * sizeof *gi);
        for (int y = 0; y < out_h; y++) {
            const float *g = grad_out + ((size_t)c * out_h + y) * out_w;
            float *r0 = gi + (size_t)yi0[y] * in_w, *r1 = gi + (size_t)yi1[y] * in_w;
            for (int x = 0; x < out_w; x++) {
                /* out = (a·w0x + b·w1x)·w0y + (c·w0x + d·w1x)·w1y */
                float top = g[x] * yw0[y], bottom = g[x] * yw1[y];
                r0[xi0[x]] += top * xw0[x];
                r0[xi1[x]] += top * xw1[x];
                r1[xi0[x]] += bottom * xw0[x];
                r1[xi1[x]] += bottom * xw1[x];
            }
        }
    }
}

void yl_add_backward_cpu(const float *grad_out, size_t n, float *grad_a, float *grad_b)
{
#pragma omp parallel for schedule(static) if (n > PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        grad_a[i] += grad_out[i];
        grad_b[i] += grad_out[i];
    }
}

void yl_tanh_backward_cpu(const float *y, const float *grad_out, size_t n, float *grad_in)
{
#pragma omp parallel for schedule(static) if (n > PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        grad_in[i] = grad_out[i] * (1.0f - y[i] * y[i]);
}

void yl_sigmoid_backward_cpu(const float *y, const float *grad_out, size_t n, float *grad_in)
{
#pragma omp parallel for schedule(static) if (n > PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        grad_in[i] = grad_out[i] * (1.0f - y[i]) * y[i];
}

void yl_softmax_backward_cpu(const float *y, const float *grad_out, size_t rows, int cols,
                             float *grad_in)
{
#pragma omp parallel for schedule(static) if (rows * (size_t)cols > PARALLEL_MIN)
    for (size_t r = 0; r < rows; r++) {
        const float *yr = y + r * cols, *g = grad_out + r * cols;
        float *d = grad_in + r * cols, dot = 0.0f;
        for (int c = 0; c < cols; c++)
            dot += yr[c] * g[c];
        for (int c = 0; c < cols; c++)
            d[c] = yr[c] * (g[c] - dot);
    }
}
