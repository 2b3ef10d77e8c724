/* The dense ops' backward passes (grad_dense.c) against finite differences of float64
 * forwards: the fused activations, max pooling, the bilinear resize, the add, tanh, sigmoid
 * and softmax; and their kernels (kernels/grad_dense.cu) on the same inputs against the
 * CPU's result, bit for bit. */
#include <math.h>
#include <string.h>

#include "cpu/conv.h"
#include "cpu/grad_ops.h"
#include "ops/op_grad.h"
#include "yl_grad_kernels.h"

/* A check of the row's kind with a tolerance set at run time (freed by the driver). */
static const op_check *check_sum(op_run *r, double tol)
{
    op_check *c = op_host(r, sizeof *c);
    *c = (op_check){.kind = OP_SUM, .tol = tol, .atol = 1e-7};
    return c;
}

/* The kernel's output (n floats of device memory) is the CPU's, bit for bit. */
static void kernel_matches(op_run *r, const char *name, const float *dev, const float *cpu,
                           size_t n)
{
    op_output(r, name, OP_F32, n, op_from_dev(r, dev, n * sizeof *cpu), cpu, NULL, &op_exact);
}

static float *dev_copy(op_run *r, const float *host, size_t n)
{
    return op_to_dev(r, host, n * sizeof *host);
}

/* ---- activation: dims act, n --------------------------------------------------------- */
typedef struct { yl_activation act; size_t n; } act_ctx;

static void act_f64(const void *ctx, const double *x, double *y)
{
    const act_ctx *a = ctx;
    for (size_t i = 0; i < a->n; i++)
        y[i] = a->act == YL_ACT_NONE || x[i] > 0.0 ? x[i]
               : a->act == YL_ACT_RELU ? 0.0 : 0.1 * x[i];
}

/* Inputs at least 1e-3 from the kink, ten steps of the differences. Magnitude |dy|: one
 * product by the slope, rounded once. */
static void grad_activation_run(const op_case *c, op_run *r)
{
    const act_ctx a = {(yl_activation)c->dims[0], (size_t)c->dims[1]};
    const size_t n = a.n;
    float *x = op_rand_floats(r, n, -1.0f, 1.0f), *dy = op_rand_floats(r, n, -1.0f, 1.0f);
    float *y = op_host(r, n * sizeof *y), *got = op_host(r, n * sizeof *got);
    for (size_t i = 0; i < n; i++) {
        if (fabsf(x[i]) < 1e-3f)
            x[i] = x[i] < 0.0f ? -1e-3f : 1e-3f;
        y[i] = yl_activate(x[i], a.act);
    }
    yl_activation_backward_cpu(a.act, y, dy, n, got);
    float *d_dx = op_dev(r, n * sizeof *got);
    ck_assert_status(yl_activation_backward_cuda(a.act, dev_copy(r, y, n), dev_copy(r, dy, n), n,
                                                 d_dx, NULL), YOLACT_OK);
    kernel_matches(r, "grad in (kernel)", d_dx, got, n);
    double *want = op_grad_fd(r, act_f64, &a, op_f64(r, x, n), 0, n, 1, op_f64(r, dy, n),
                              n, 1e-4);
    op_output_f64(r, "grad in", n, got, want, op_f64(r, op_abs(r, dy, n), n),
                  check_sum(r, FLT_EPSILON));
}
const op_family op_grad_activation = {"grad activation", grad_activation_run};

/* ---- max pooling: dims channels, h, w, kernel, stride, pad ---------------------------- */
typedef struct { int c, h, w, k, s, p, oh, ow; } pool_ctx;

static void pool_f64(const void *ctx, const double *x, double *y)
{
    const pool_ctx *q = ctx;
    for (int c = 0; c < q->c; c++)
        for (int oy = 0; oy < q->oh; oy++)
            for (int ox = 0; ox < q->ow; ox++) {
                double m = -INFINITY;
                for (int ky = 0; ky < q->k; ky++)
                    for (int kx = 0; kx < q->k; kx++) {
                        int iy = oy * q->s - q->p + ky, ix = ox * q->s - q->p + kx;
                        if (iy >= 0 && iy < q->h && ix >= 0 && ix < q->w &&
                            x[((size_t)c * q->h + iy) * q->w + ix] > m)
                            m = x[((size_t)c * q->h + iy) * q->w + ix];
                    }
                *y++ = m;
            }
}

/* Inputs a shuffle of distinct values 2/n apart, so no window holds two within a step of
 * the differences (1e-4). Magnitude: the same backward over |dy| (overlapping windows add
 * up to kernel^2 terms). */
static void grad_maxpool_run(const op_case *c, op_run *r)
{
    const int *v = c->dims;
    pool_ctx q = {v[0], v[1], v[2], v[3], v[4], v[5], 0, 0};
    q.oh = yl_conv_out_size(q.h, q.k, q.s, q.p, 1);
    q.ow = yl_conv_out_size(q.w, q.k, q.s, q.p, 1);
    const size_t n = (size_t)q.c * q.h * q.w, ny = (size_t)q.c * q.oh * q.ow;
    float *x = op_host(r, n * sizeof *x), *dy = op_rand_floats(r, ny, -1.0f, 1.0f);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)i;
    for (size_t i = n; i > 1; i--) {    /* Fisher-Yates */
        size_t j = (size_t)yl_test_rand(op_rng(r), 0.0f, (float)i);
        j = j < i ? j : i - 1;
        float t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] * 2.0f / (float)n - 1.0f;
    float *got = op_host(r, n * sizeof *got), *mag = op_host(r, n * sizeof *mag);
    yl_maxpool2d_backward_cpu(x, q.c, q.h, q.w, q.k, q.s, q.p, dy, q.oh, q.ow, got);
    yl_maxpool2d_backward_cpu(x, q.c, q.h, q.w, q.k, q.s, q.p, op_abs(r, dy, ny), q.oh, q.ow, mag);
    float *d_dx = op_dev(r, n * sizeof *got);
    ck_assert_status(yl_maxpool2d_backward_cuda(dev_copy(r, x, n), q.c, q.h, q.w, q.k, q.s, q.p,
                                                dev_copy(r, dy, ny), q.oh, q.ow, d_dx, NULL),
                     YOLACT_OK);
    kernel_matches(r, "grad in (kernel)", d_dx, got, n);
    double *want = op_grad_fd(r, pool_f64, &q, op_f64(r, x, n), 0, n, 1, op_f64(r, dy, ny), ny,
                              1e-4);
    op_output_f64(r, "grad in", n, got, want, op_f64(r, mag, n),
                  check_sum(r, q.k * q.k * FLT_EPSILON));
}
const op_family op_grad_maxpool2d = {"grad maxpool2d", grad_maxpool_run};

/* ---- bilinear resize: dims channels, in_h, in_w, out_h, out_w ------------------------- */
typedef struct {
    int c, ih, iw, oh, ow;
    int *yi0, *yi1, *xi0, *xi1;
    float *yw0, *yw1, *xw0, *xw1;
} resize_ctx;

/* The forward's formula with its float weights, in double. */
static void resize_f64(const void *ctx, const double *x, double *y)
{
    const resize_ctx *q = ctx;
    for (int c = 0; c < q->c; c++)
        for (int oy = 0; oy < q->oh; oy++)
            for (int ox = 0; ox < q->ow; ox++) {
                const double *p = x + (size_t)c * q->ih * q->iw;
                const double *r0 = p + (size_t)q->yi0[oy] * q->iw, *r1 = p + (size_t)q->yi1[oy] * q->iw;
                int x0 = q->xi0[ox], x1 = q->xi1[ox];
                *y++ = (r0[x0] * q->xw0[ox] + r0[x1] * q->xw1[ox]) * q->yw0[oy] +
                       (r1[x0] * q->xw0[ox] + r1[x1] * q->xw1[ox]) * q->yw1[oy];
            }
}

/* Magnitude: the same backward over |dy| (the weights are non-negative); each input sums up
 * to 4·(out/in + 1)^2 products of three floats. */
static void grad_resize_run(const op_case *c, op_run *r)
{
    const int *v = c->dims;
    resize_ctx q = {.c = v[0], .ih = v[1], .iw = v[2], .oh = v[3], .ow = v[4]};
    q.yi0 = op_host(r, q.oh * sizeof(int));
    q.yi1 = op_host(r, q.oh * sizeof(int));
    q.yw0 = op_host(r, q.oh * sizeof(float));
    q.yw1 = op_host(r, q.oh * sizeof(float));
    q.xi0 = op_host(r, q.ow * sizeof(int));
    q.xi1 = op_host(r, q.ow * sizeof(int));
    q.xw0 = op_host(r, q.ow * sizeof(float));
    q.xw1 = op_host(r, q.ow * sizeof(float));
    yl_bilinear_axis(q.ih, q.oh, q.yi0, q.yi1, q.yw0, q.yw1);
    yl_bilinear_axis(q.iw, q.ow, q.xi0, q.xi1, q.xw0, q.xw1);
    const size_t n = (size_t)q.c * q.ih * q.iw, ny = (size_t)q.c * q.oh * q.ow;
    float *x = op_rand_floats(r, n, -1.0f, 1.0f), *dy = op_rand_floats(r, ny, -1.0f, 1.0f);
    float *got = op_host(r, n * sizeof *got), *mag = op_host(r, n * sizeof *mag);
    void *ws = op_host(r, yl_resize_workspace_bytes(q.oh, q.ow));
    yl_resize_bilinear_backward_cpu(dy, q.c, q.ih, q.iw, q.oh, q.ow, got, ws);
    yl_resize_bilinear_backward_cpu(op_abs(r, dy, ny), q.c, q.ih, q.iw, q.oh, q.ow, mag, ws);
    float *d_dx = op_dev(r, n * sizeof *got);
    ck_assert_status(yl_resize_bilinear_backward_cuda(dev_copy(r, dy, ny), q.c, q.ih, q.iw,
                                                      q.oh, q.ow, d_dx,
                                                      op_dev(r, yl_resize_cuda_workspace_bytes(
                                                                    q.oh, q.ow)), NULL),
                     YOLACT_OK);
    kernel_matches(r, "grad in (kernel)", d_dx, got, n);
    double *want = op_grad_fd(r, resize_f64, &q, op_f64(r, x, n), 0, n, 1, op_f64(r, dy, ny),
                              ny, 1e-4);
    op_output_f64(r, "grad in", n, got, want, op_f64(r, mag, n), NULL);
}
const op_family op_grad_resize_bilinear = {"grad resize", grad_resize_run};

/* ---- add: dims n ---------------------------------------------------------------------- */
static void add_f64(const void *ctx, const double *x, double *y)
{
    size_t n = *(const size_t *)ctx;
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] + x[n + i];
}

/* Both gradients accumulated onto random prefills: one rounding each. */
static void grad_add_run(const op_case *c, op_run *r)
{
    size_t n = (size_t)c->dims[0];
    float *x = op_rand_floats(r, 2 * n, -1.0f, 1.0f), *dy = op_rand_floats(r, n, -1.0f, 1.0f);
    float *pre = op_rand_floats(r, 2 * n, -1.0f, 1.0f), *got = op_host_copy(r, pre, 2 * n * 4);
    yl_add_backward_cpu(dy, n, got, got + n);
    float *d_ab = dev_copy(r, pre, 2 * n);
    ck_assert_status(yl_add_backward_cuda(dev_copy(r, dy, n), n, d_ab, d_ab + n, NULL),
                     YOLACT_OK);
    kernel_matches(r, "grad a, grad b (kernel)", d_ab, got, 2 * n);
    double *want = op_grad_fd(r, add_f64, &n, op_f64(r, x, 2 * n), 0, 2 * n, 1,
                              op_f64(r, dy, n), n, 1e-4);
    double *mag = op_host(r, 2 * n * sizeof *mag);
    for (size_t i = 0; i < 2 * n; i++) {
        want[i] += pre[i];
        mag[i] = fabs(want[i]);
    }
    op_output_f64(r, "grad a, grad b", 2 * n, got, want, mag, check_sum(r, FLT_EPSILON));
}
const op_family op_grad_add = {"grad add", grad_add_run};

/* ---- tanh, sigmoid: dims kind (0 tanh, 1 sigmoid), n ----------------------------------- */
static void pointwise_f64(const void *ctx, const double *x, double *y)
{
    const int *k = ctx;     /* kind, n */
    for (int i = 0; i < k[1]; i++)
        y[i] = k[0] ? 1.0 / (1.0 + exp(-x[i])) : tanh(x[i]);
}

/* Inputs over [-6, 6] and a few at ±20, where the float output saturates (its gradient then
 * 0 against ~1e-9). From the float output: its error (tanhf, expf and the division within 2
 * ulps) and the products' roundings stay within 8 eps of |dy|; 16 stated. */
static void grad_pointwise_run(const op_case *c, op_run *r)
{
    const int *k = c->dims;
    const size_t n = (size_t)k[1];
    float *x = op_rand_floats(r, n, -6.0f, 6.0f), *dy = op_rand_floats(r, n, -1.0f, 1.0f);
    float *y = op_host(r, n * sizeof *y), *got = op_host(r, n * sizeof *got);
    for (size_t i = 0; i < n; i += 17)
        x[i] = i % 2 ? 20.0f : -20.0f;
    for (size_t i = 0; i < n; i++)
        y[i] = k[0] ? 1.0f / (1.0f + expf(-x[i])) : tanhf(x[i]);
    float *d_dx = op_dev(r, n * sizeof *got), *d_y = dev_copy(r, y, n);
    float *d_dy = dev_copy(r, dy, n);
    if (k[0]) {
        yl_sigmoid_backward_cpu(y, dy, n, got);
        ck_assert_status(yl_sigmoid_backward_cuda(d_y, d_dy, n, d_dx, NULL), YOLACT_OK);
    } else {
        yl_tanh_backward_cpu(y, dy, n, got);
        ck_assert_status(yl_tanh_backward_cuda(d_y, d_dy, n, d_dx, NULL), YOLACT_OK);
    }
    kernel_matches(r, "grad in (kernel)", d_dx, got, n);
    double *want = op_grad_fd(r, pointwise_f64, k, op_f64(r, x, n), 0, n, 1, op_f64(r, dy, n), n,
                              1e-5);
    op_output_f64(r, "grad in", n, got, want, op_f64(r, op_abs(r, dy, n), n),
                  check_sum(r, 16 * FLT_EPSILON));
}
const op_family op_grad_pointwise = {"grad tanh/sigmoid", grad_pointwise_run};

/* ---- softmax over rows: dims rows, cols ------------------------------------------------ */
static void softmax_f64(const void *ctx, const double *x, double *y)
{
    const int *k = ctx;     /* rows, cols */
    for (int row = 0; row < k[0]; row++, x += k[1], y += k[1]) {
        double m = -INFINITY, s = 0.0;
        for (int c = 0; c < k[1]; c++)
            m = x[c] > m ? x[c] : m;
        for (int c = 0; c < k[1]; c++)
            s += y[c] = exp(x[c] - m);
        for (int c = 0; c < k[1]; c++)
            y[c] /= s;
    }
}

/* y as the head computes it (max subtracted, expf, one division). Magnitude
 * y_i·(|dy_i| + Σ y_c |dy_c|); y within (cols + 8) eps relative (the sum of cols expf), the
 * dot product and products (cols + 4) more: 2·cols + 16 eps. */
static void grad_softmax_run(const op_case *c, op_run *r)
{
    const int rows = c->dims[0], cols = c->dims[1];
    const size_t n = (size_t)rows * cols;
    float *x = op_rand_floats(r, n, -3.0f, 3.0f), *dy = op_rand_floats(r, n, -1.0f, 1.0f);
    float *y = op_host(r, n * sizeof *y), *got = op_host(r, n * sizeof *got);
    double *mag = op_host(r, n * sizeof *mag);
    for (int row = 0; row < rows; row++) {
        float *xr = x + (size_t)row * cols, *yr = y + (size_t)row * cols, m = -INFINITY, s = 0;
        for (int i = 0; i < cols; i++)
            m = xr[i] > m ? xr[i] : m;
        for (int i = 0; i < cols; i++)
            s += yr[i] = expf(xr[i] - m);
        float inv = 1.0f / s;
        double dot = 0.0;
        for (int i = 0; i < cols; i++) {
            yr[i] *= inv;
            dot += fabs((double)yr[i] * dy[(size_t)row * cols + i]);
        }
        for (int i = 0; i < cols; i++)
            mag[(size_t)row * cols + i] = yr[i] * (fabs(dy[(size_t)row * cols + i]) + dot);
    }
    yl_softmax_backward_cpu(y, dy, rows, cols, got);
    float *d_dx = op_dev(r, n * sizeof *got);
    ck_assert_status(yl_softmax_backward_cuda(dev_copy(r, y, n), dev_copy(r, dy, n), rows, cols,
                                              d_dx, NULL), YOLACT_OK);
    kernel_matches(r, "grad in (kernel)", d_dx, got, n);
    double *want = op_grad_fd(r, softmax_f64, c->dims, op_f64(r, x, n), 0, n, 1,
                              op_f64(r, dy, n), n, 1e-5);
    op_output_f64(r, "grad in", n, got, want, mag, check_sum(r, (2 * cols + 16) * FLT_EPSILON));
}
const op_family op_grad_softmax = {"grad softmax", grad_softmax_run};
