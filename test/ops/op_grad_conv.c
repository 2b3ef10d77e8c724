/* The convolution's backward pass (yl_conv2d_backward_cpu) against finite differences of a
 * float64 direct convolution, for the input, weight and bias gradients at once; and the
 * GPU's (yl_dnn_conv_grad_run: cuDNN, or under the emulation its stand-in) against the CPU's
 * on the same operands. */
#include <math.h>
#include <string.h>

#include "cpu/grad_ops.h"
#include "cuda/dnn.h"
#include "ops/op_grad.h"

typedef struct conv_ctx {
    yl_conv_desc d;
    int batch, h, w, oh, ow, bias;
} conv_ctx;

/* x: input (batch, ic, h, w), weight OIHW, bias (oc) if any; y: (batch, oc, oh, ow). */
static void conv_f64(const void *ctx, const double *x, double *y)
{
    const conv_ctx *c = ctx;
    const yl_conv_desc *d = &c->d;
    const size_t n_in = (size_t)c->batch * d->in_channels * c->h * c->w;
    const double *in = x, *wt = x + n_in;
    const double *bias = c->bias ? wt + (size_t)d->out_channels * d->in_channels *
                                            d->kernel_h * d->kernel_w : NULL;
    for (int b = 0; b < c->batch; b++)
        for (int o = 0; o < d->out_channels; o++)
            for (int oy = 0; oy < c->oh; oy++)
                for (int ox = 0; ox < c->ow; ox++) {
                    double s = bias ? bias[o] : 0.0;
                    for (int i = 0; i < d->in_channels; i++)
                        for (int ky = 0; ky < d->kernel_h; ky++)
                            for (int kx = 0; kx < d->kernel_w; kx++) {
                                int iy = oy * d->stride - d->pad + ky * d->dilation;
                                int ix = ox * d->stride - d->pad + kx * d->dilation;
                                if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w)
                                    continue;
                                s += wt[((size_t)(o * d->in_channels + i) * d->kernel_h + ky) *
                                        d->kernel_w + kx] *
                                     in[(((size_t)b * d->in_channels + i) * c->h + iy) * c->w + ix];
                            }
                    *y++ = s;
                }
}

/* The backward through yl_dnn on x (input, weight, bias), dy and the gradients' prefills pre,
 * with the input gradient (n_in floats) set to NaN first unless accumulated; each gradient
 * against the CPU's (cpu, laid out as x) within the row's check of its sum|terms| (mag).
 * A convolution whose output is empty has no cuDNN descriptor: the CPU's alone is tested. */
static void dnn_backward_matches(op_run *r, const conv_ctx *k, const float *x, const float *dy,
                                 const float *pre, const float *cpu, const double *mag,
                                 int accumulate)
{
    const yl_conv_desc *d = &k->d;
    if (k->oh <= 0 || k->ow <= 0)
        return;
    const size_t n_in = (size_t)k->batch * d->in_channels * k->h * k->w;
    const size_t n_w = (size_t)d->out_channels * d->in_channels * d->kernel_h * d->kernel_w;
    const size_t n_b = k->bias ? (size_t)d->out_channels : 0, nx = n_in + n_w + n_b;
    const size_t n_out = (size_t)k->batch * d->out_channels * k->oh * k->ow;
    float *start = op_host_copy(r, pre, nx * sizeof *start);
    for (size_t i = 0; !accumulate && i < n_in; i++)
        start[i] = NAN;
    float *d_x = op_to_dev(r, x, nx * sizeof *x), *d_dy = op_to_dev(r, dy, n_out * sizeof *dy);
    float *d_g = op_to_dev(r, start, nx * sizeof *start);
    yl_dnn *dnn;
    yl_dnn_conv_grad *plan;
    size_t bytes;
    ck_assert_status(yl_dnn_create(NULL, &dnn), YOLACT_OK);
    ck_assert_status(yl_dnn_conv_grad_plan(dnn, d, k->batch, k->h, k->w, 1, 0, &plan, &bytes),
                     YOLACT_OK);
    ck_assert_status(yl_dnn_conv_grad_run(dnn, plan, d_x, d_x + n_in, d_dy, d_g, accumulate,
                                          d_g + n_in, k->bias ? d_g + n_in + n_w : NULL,
                                          op_dev(r, bytes ? bytes : 1)),
                     YOLACT_OK);
    const float *got = op_from_dev(r, d_g, nx * sizeof *got);
    yl_dnn_conv_grad_free(plan);
    yl_dnn_destroy(dnn);
    const char *names[3] = {"dnn grad input", "dnn grad weight", "dnn grad bias"};
    const size_t begin[4] = {0, n_in, n_in + n_w, nx};
    for (int t = 0; t < (k->bias ? 3 : 2); t++)
        op_output(r, names[t], OP_F32, begin[t + 1] - begin[t], got + begin[t], cpu + begin[t],
                  mag + begin[t], NULL);
}

/* dims: in_channels, out_channels, kernel_h, kernel_w, stride, pad, dilation, height, width,
 * bias (0/1), batch, accumulate (0: grad_in written; 1: added to a prefilled buffer), the
 * finite differences' sampling step over each gradient (1: every entry). The
 * parameter gradients are always accumulated onto random prefills. Magnitudes: the same
 * backward pass over |x|, |w|, |dy| (float sums of at most 5,000 non-negative terms here,
 * overstated by < 1e-3: scaled down by that) plus |prefill|. */
static void grad_conv2d_run(const op_case *c, op_run *r)
{
    const int *v = c->dims;
    conv_ctx k = {.d = {v[0], v[1], v[2], v[3], v[4], v[5], v[6]}, .batch = v[10], .h = v[7],
                  .w = v[8], .bias = v[9]};
    const yl_conv_desc *d = &k.d;
    const int accumulate = v[11];
    const size_t step = v[12] > 1 ? (size_t)v[12] : 1;
    k.oh = yl_conv_out_size(k.h, d->kernel_h, d->stride, d->pad, d->dilation);
    k.ow = yl_conv_out_size(k.w, d->kernel_w, d->stride, d->pad, d->dilation);
    const size_t n_in = (size_t)k.batch * d->in_channels * k.h * k.w;
    const size_t n_w = (size_t)d->out_channels * d->in_channels * d->kernel_h * d->kernel_w;
    const size_t n_b = k.bias ? (size_t)d->out_channels : 0;
    const size_t n_out = (size_t)k.batch * d->out_channels * k.oh * k.ow;
    const size_t nx = n_in + n_w + n_b;
    /* x = input, weight, bias as floats; prefills of the three gradients */
    float *x = op_rand_floats(r, nx, -1.0f, 1.0f), *dy = op_rand_floats(r, n_out, -1.0f, 1.0f);
    float *pre = op_rand_floats(r, nx, -1.0f, 1.0f);
    if (!accumulate)
        memset(pre, 0, n_in * sizeof *pre);
    float *got = op_host_copy(r, pre, nx * sizeof *got);
    if (!accumulate)    /* the backward must write every element */
        for (size_t i = 0; i < n_in; i++)
            got[i] = NAN;
    float *ws = op_host(r, yl_conv2d_grad_workspace_floats(d, k.h, k.w) * sizeof *ws);
    yl_conv2d_backward_cpu(d, x, k.batch, k.h, k.w, x + n_in, dy, got, accumulate, got + n_in,
                           k.bias ? got + n_in + n_w : NULL, ws, 0);

    float *ax = op_abs(r, x, nx), *ady = op_abs(r, dy, n_out), *amag = op_abs(r, pre, nx);
    yl_conv2d_backward_cpu(d, ax, k.batch, k.h, k.w, ax + n_in, ady, amag, 1, amag + n_in,
                           k.bias ? amag + n_in + n_w : NULL, ws, 0);
    double *mag = op_f64(r, amag, nx);
    for (size_t i = 0; i < nx; i++)
        mag[i] *= 1.0 - 1e-3;

    dnn_backward_matches(r, &k, x, dy, pre, got, mag, accumulate);

    double *x64 = op_f64(r, x, nx), *dy64 = op_f64(r, dy, n_out);
    const char *names[3] = {"grad input", "grad weight", "grad bias"};
    const size_t begin[4] = {0, n_in, n_in + n_w, nx};
    for (int t = 0; t < (k.bias ? 3 : 2); t++) {
        size_t n = begin[t + 1] - begin[t], count = (n + step - 1) / step;
        double *want = op_grad_fd(r, conv_f64, &k, x64, begin[t], n, step, dy64, n_out, 1e-4);
        float *g = op_sample(r, got + begin[t], n, step), *p = op_sample(r, pre + begin[t], n, step);
        for (size_t i = 0; i < count; i++)
            want[i] += p[i];
        op_output_f64(r, names[t], count, g, want, op_sample_f64(r, mag + begin[t], n, step),
                      NULL);
    }
}
const op_family op_grad_conv2d = {"grad conv2d", grad_conv2d_run};
