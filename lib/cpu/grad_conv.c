/* The convolution's backward pass (grad_ops.h) as GEMMs over the forward's column matrix:
 * dW += dY·colᵀ (im2col, then yl_gemm_bt), dcol = Wᵀ·dY (yl_gemm_at), then col2im adds each
 * column back onto the input pixels it was read from. Tiles of each product are spread over
 * OpenMP threads as the forward's are (conv.c); col2im runs a channel per thread, which
 * writes only its own plane. */
#include <omp.h>
#include <string.h>

#include "cpu/conv.h"
#include "cpu/grad_ops.h"

enum { TILE = 256 };   /* rows and columns of a product tile: a few tiles per thread */

size_t yl_conv2d_grad_workspace_floats(const yl_conv_desc *d, int in_h, int in_w)
{
    int oh = yl_conv_out_size(in_h, d->kernel_h, d->stride, d->pad, d->dilation);
    int ow = yl_conv_out_size(in_w, d->kernel_w, d->stride, d->pad, d->dilation);
    if (yl_conv_is_pointwise(d) || oh <= 0 || ow <= 0)
        return 0;
    return (size_t)d->in_channels * d->kernel_h * d->kernel_w * (size_t)oh * ow;
}

/* grad_plane (in_h, in_w) of channel c += its rows (c, kh, kw) of col (k, oh·ow). */
static void col2im_channel(const yl_conv_desc *d, const float *col, int c, int in_h, int in_w,
                           int oh, int ow, float *grad_plane)
{
    const size_t n = (size_t)oh * ow;
    for (int kh = 0; kh < d->kernel_h; kh++)
        for (int kw = 0; kw < d->kernel_w; kw++) {
            const float *row = col + ((size_t)(c * d->kernel_h + kh) * d->kernel_w + kw) * n;
            for (int y = 0; y < oh; y++) {
                int iy = y * d->stride - d->pad + kh * d->dilation;
                if (iy < 0 || iy >= in_h)
                    continue;
                float *g = grad_plane + (size_t)iy * in_w;
                const float *r = row + (size_t)y * ow;
                for (int x = 0; x < ow; x++) {
                    int ix = x * d->stride - d->pad + kw * d->dilation;
                    if (ix >= 0 && ix < in_w)
                        g[ix] += r[x];
                }
            }
        }
}

/* One image. col: its column matrix (k, n) or, pointwise, the input itself. */
static void backward_image(const yl_conv_desc *d, const float *in, int in_h, int in_w, int oh,
                           int ow, const float *weight, const float *grad_out, float *grad_in,
                           int accumulate, float *grad_weight, float *grad_bias,
                           float *workspace, int threads)
{
    const int m = d->out_channels, n = oh * ow;
    const int k = d->in_channels * d->kernel_h * d->kernel_w;
    const int pointwise = yl_conv_is_pointwise(d);
    const float *col = pointwise ? in : workspace;
    const int k_tiles = (k + TILE - 1) / TILE, m_tiles = (m + TILE - 1) / TILE;
    const int n_tiles = (n + TILE - 1) / TILE;
    yl_gemm_single_threaded_blas();
#pragma omp parallel num_threads(threads)
    {
        if (!pointwise) {
#pragma omp for schedule(static)
            for (int c = 0; c < d->in_channels; c++)
                yl_im2col(d, in, in_h, in_w, ow, c, c + 1, 0, n, workspace);
        }
        /* dW (m, k) += dY (m, n) · colᵀ; the bias's sum rides along with the first column
         * tile of each row block. */
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < m_tiles * k_tiles; t++) {
            int m0 = t / k_tiles * TILE, k0 = t % k_tiles * TILE;
            int mc = m - m0 < TILE ? m - m0 : TILE, kc = k - k0 < TILE ? k - k0 : TILE;
            yl_gemm_bt(YL_GEMM_AUTO, mc, kc, n, grad_out + (size_t)m0 * n, n,
                       col + (size_t)k0 * n, n, 1, grad_weight + (size_t)m0 * k + k0, k);
            if (grad_bias && k0 == 0)
                for (int o = m0; o < m0 + mc; o++) {
                    const float *g = grad_out + (size_t)o * n;
                    float s = 0.0f;
                    for (int j = 0; j < n; j++)
                        s += g[j];
                    grad_bias[o] += s;
                }
        }
        if (grad_in) {
            /* dcol (k, n) = Wᵀ · dY: straight into grad_in when pointwise, else over the
             * columns, which the weight gradient above is done reading (the barrier). */
            float *dcol = pointwise ? grad_in : workspace;
            int acc = pointwise && accumulate;
#pragma omp for schedule(dynamic, 1)
            for (int t = 0; t < k_tiles * n_tiles; t++) {
                int k0 = t / n_tiles * TILE, n0 = t % n_tiles * TILE;
                int kc = k - k0 < TILE ? k - k0 : TILE, nc = n - n0 < TILE ? n - n0 : TILE;
                yl_gemm_at(YL_GEMM_AUTO, kc, nc, m, weight + k0, k, grad_out + n0, n, acc,
                           dcol + (size_t)k0 * n + n0, n);
            }
            if (!pointwise) {
#pragma omp for schedule(static)
                for (int c = 0; c < d->in_channels; c++) {
                    float *plane = grad_in + (size_t)c * in_h * in_w;
                    if (!accumulate)
                        memset(plane, 0, sizeof(float) * (size_t)in_h * in_w);
                    col2im_channel(d, workspace, c, in_h, in_w, oh, ow, plane);
                }
            }
        }
    }
}

void yl_conv2d_backward_cpu(const yl_conv_desc *d, const float *in, int batch, int in_h,
                            int in_w, const float *weight, const float *grad_out,
                            float *grad_in, int accumulate, float *grad_weight,
                            float *grad_bias, float *workspace, int num_threads)
{
    const int oh = yl_conv_out_size(in_h, d->kernel_h, d->stride, d->pad, d->dilation);
    const int ow = yl_conv_out_size(in_w, d->kernel_w, d->stride, d->pad, d->dilation);
    const size_t in_size = (size_t)d->in_channels * in_h * in_w;
    if (oh <= 0 || ow <= 0 || d->out_channels <= 0) {
        if (grad_in && !accumulate)     /* no output: nothing reaches the input */
            memset(grad_in, 0, sizeof(float) * in_size * (batch > 0 ? batch : 0));
        return;
    }
    const size_t out_size = (size_t)d->out_channels * oh * ow;
    const int threads = num_threads > 0 ? num_threads : omp_get_num_procs();
    for (int b = 0; b < batch; b++)
        backward_image(d, in + b * in_size, in_h, in_w, oh, ow, weight, grad_out + b * out_size,
                       grad_in ? grad_in + b * in_size : NULL, accumulate, grad_weight,
                       grad_bias, workspace, threads);
}
