/* DCNv2 on the CPU: a bilinear-sampled im2col, then the convolutions' tiled GEMM.
 * Where and how strongly each tap samples depends only on the output pixel, not on the
 * input channel, so the four neighbours, their weights and the modulation are worked out
 * once per (tap, pixel) and reused for every channel. */
#include "cpu/dcn.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>

#include "cpu/conv.h"
#include "status.h"

/* One tap of one output pixel: its four neighbours (index 0 with weight 0 where the
 * neighbour is outside), their bilinear weights, and the modulation. */
typedef struct tap_sample {
    int32_t index[4];
    float weight[4];
    float mask;
} tap_sample;

#define TAP_FLOATS ((sizeof(tap_sample) + sizeof(float) - 1) / sizeof(float))

static void out_size(const yl_conv_desc *d, int in_h, int in_w, int *oh, int *ow)
{
    *oh = yl_conv_out_size(in_h, d->kernel_h, d->stride, d->pad, d->dilation);
    *ow = yl_conv_out_size(in_w, d->kernel_w, d->stride, d->pad, d->dilation);
}

size_t yl_dcn2d_workspace_floats(const yl_conv_desc *d, int in_h, int in_w)
{
    int oh, ow;
    out_size(d, in_h, in_w, &oh, &ow);
    size_t taps = (size_t)d->kernel_h * d->kernel_w, n = (size_t)oh * ow;
    return taps * n * ((size_t)d->in_channels + TAP_FLOATS);
}

/* torchvision's bilinear_interpolate for deform_conv2d, as weights: a point at or beyond
 * one pixel outside gives nothing; a neighbour outside counts 0. */
static void plan_sample(int h, int w, float y, float x, float mask, tap_sample *s)
{
    for (int i = 0; i < 4; i++) {
        s->index[i] = 0;
        s->weight[i] = 0.0f;
    }
    s->mask = mask;
    if (!(y > -1.0f && y < (float)h && x > -1.0f && x < (float)w))
        return;
    int y0 = (int)floorf(y), x0 = (int)floorf(x), y1 = y0 + 1, x1 = x0 + 1;
    float ly = y - (float)y0, lx = x - (float)x0, hy = 1.0f - ly, hx = 1.0f - lx;
    const int ys[4] = {y0, y0, y1, y1}, xs[4] = {x0, x1, x0, x1};
    const float ws[4] = {hy * hx, hy * lx, ly * hx, ly * lx};
    for (int i = 0; i < 4; i++)
        if (ys[i] >= 0 && ys[i] < h && xs[i] >= 0 && xs[i] < w) {
            s->index[i] = ys[i] * w + xs[i];
            s->weight[i] = ws[i];
        }
}

/* One image. */
static void dcn_image(const yl_conv_desc *d, const float *in, int in_h, int in_w,
                      const float *offset_mask, const float *weight, const float *bias,
                      yl_activation act, float *out, float *workspace, int num_threads)
{
    int oh, ow;
    out_size(d, in_h, in_w, &oh, &ow);
    const int taps = d->kernel_h * d->kernel_w, n = oh * ow, channels = d->in_channels;
    if (n <= 0 || d->out_channels <= 0)
        return;
    int threads = num_threads > 0 ? num_threads : omp_get_num_procs();
    float *col = workspace;
    tap_sample *table = (tap_sample *)(workspace + (size_t)channels * taps * n);
#pragma omp parallel num_threads(threads)
    {
#pragma omp for schedule(static)
        for (int t = 0; t < taps; t++) {
            const int ky = t / d->kernel_w, kx = t % d->kernel_w;
            const float *dy = offset_mask + (size_t)(2 * t) * n;
            const float *dx = offset_mask + (size_t)(2 * t + 1) * n;
            const float *logit = offset_mask + (size_t)(2 * taps + t) * n;
            for (int p = 0; p < n; p++) {
                int oy = p / ow, ox = p % ow;
                float y = (float)(oy * d->stride - d->pad + ky * d->dilation) + dy[p];
                float x = (float)(ox * d->stride - d->pad + kx * d->dilation) + dx[p];
                float mask = 1.0f / (1.0f + expf(-logit[p]));
                plan_sample(in_h, in_w, y, x, mask, &table[(size_t)t * n + p]);
            }
        }
        /* Rows (c, tap) of the column matrix, as im2col orders them for OIHW weights. */
#pragma omp for schedule(static)
        for (int c = 0; c < channels; c++) {
            const float *plane = in + (size_t)c * in_h * in_w;
            for (int t = 0; t < taps; t++) {
                const tap_sample *s = table + (size_t)t * n;
                float *row = col + ((size_t)c * taps + t) * n;
                for (int p = 0; p < n; p++, s++) {
                    float v = s->weight[0] * plane[s->index[0]] + s->weight[1] * plane[s->index[1]] +
                              s->weight[2] * plane[s->index[2]] + s->weight[3] * plane[s->index[3]];
                    row[p] = s->mask * v;
                }
            }
        }
    }
    yl_conv_gemm_columns(YL_GEMM_AUTO, d->out_channels, n, channels * taps, weight, col, bias,
                         NULL, act, out, threads);
}

yolact_status yl_dcn2d_cpu(const yl_conv_desc *d, const float *in, int batch, int in_h,
                           int in_w, const float *offset_mask, const float *weight,
                           yolact_precision precision, const float *bias, yl_activation act,
                           float *out, float *workspace, int num_threads)
{
    YL_TRY(yl_cpu_reference_call("the deformable convolution", batch, precision));
    int oh, ow;
    out_size(d, in_h, in_w, &oh, &ow);
    const size_t n = oh > 0 && ow > 0 ? (size_t)oh * ow : 0;
    const size_t in_size = (size_t)d->in_channels * in_h * in_w;
    const size_t offset_size = 3 * (size_t)d->kernel_h * d->kernel_w * n;
    for (int b = 0; b < batch; b++)
        dcn_image(d, in + b * in_size, in_h, in_w, offset_mask + b * offset_size, weight, bias,
                  act, out + b * (size_t)d->out_channels * n, workspace, num_threads);
    return YOLACT_OK;
}
