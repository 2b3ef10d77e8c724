/* The head's and the protonet's permutes' backward passes (grad_head.c), the masks'
 * (grad_masks.c) and BatchNorm's (grad_batchnorm.c) against finite differences of float64
 * forwards; their kernels (kernels/grad_head.cu, grad_masks.cu, grad_batchnorm.cu) on the
 * same inputs: against the CPU's result bit for bit, the masks' products against the same
 * differences within the same bound, trainable BatchNorm within its stated ulps. */
#include <math.h>
#include <string.h>

#include "cpu/grad_ops.h"
#include "cpu/head_ops.h"
#include "ops/boxes.h"
#include "ops/op_grad.h"
#include "yl_grad_kernels.h"

static const op_check *check_of(op_run *r, op_cmp_kind kind, double tol)
{
    op_check *c = op_host(r, sizeof *c);
    *c = (op_check){.kind = kind, .tol = tol, .atol = 1e-7};
    return c;
}

/* n floats to the device, and the kernel's n floats back compared with the CPU's. */
static float *dev_copy(op_run *r, const float *host, size_t n)
{
    return op_to_dev(r, host, n * sizeof *host);
}

static void kernel_matches(op_run *r, const char *name, const float *dev, const float *cpu,
                           size_t n)
{
    op_output(r, name, OP_F32, n, op_from_dev(r, dev, n * sizeof *cpu), cpu, NULL, &op_exact);
}

/* ---- head: dims anchors, classes, prototypes, h, w, batch ------------------------------ */
typedef struct { int a, c, k, h, w, batch; size_t priors; } head_ctx;

/* The training head's rows: loc and conf raw, coeff tanh, every image's rows in turn. */
static void head_f64(const void *ctx, const double *x, double *y)
{
    const head_ctx *q = ctx;
    const size_t plane = (size_t)q->h * q->w, rows = q->priors * q->batch;
    double *loc = y, *conf = loc + rows * 4, *coeff = conf + rows * q->c;
    for (int b = 0; b < q->batch; b++, x += plane * q->a * (4 + q->c + q->k))
        for (size_t cell = 0; cell < plane; cell++)
            for (int a = 0; a < q->a; a++) {
                size_t p = b * q->priors + cell * q->a + a;
                for (int d = 0; d < 4; d++)
                    loc[p * 4 + d] = x[((size_t)a * 4 + d) * plane + cell];
                for (int c = 0; c < q->c; c++)
                    conf[p * q->c + c] = x[((size_t)q->a * 4 + a * q->c + c) * plane + cell];
                for (int k = 0; k < q->k; k++)
                    coeff[p * q->k + k] =
                        tanh(x[((size_t)q->a * (4 + q->c) + a * q->k + k) * plane + cell]);
            }
}

/* The coefficients' tanh rows from the forward op itself; as the tanh row, 16 eps of |dy|. */
static void grad_head_run(const op_case *c, op_run *r)
{
    const int *v = c->dims;
    head_ctx q = {v[0], v[1], v[2], v[3], v[4], v[5], 0};
    q.priors = (size_t)q.h * q.w * q.a;
    const size_t rows = q.priors * q.batch, n = rows * (4 + q.c + q.k);
    float *maps = op_rand_floats(r, n, -3.0f, 3.0f), *dy = op_rand_floats(r, n, -1.0f, 1.0f);
    float *loc = op_host(r, rows * 4 * 4), *conf = op_host(r, rows * q.c * 4 + 4);
    float *coeff = op_host(r, rows * q.k * 4 + 4), *got = op_host(r, n * 4);
    yl_head_output_cpu(maps, q.a, q.c, q.k, q.h, q.w, q.batch, q.priors, loc, conf, coeff, 0);
    yl_head_output_backward_cpu(dy, dy + rows * 4, dy + rows * (4 + q.c), coeff, q.a, q.c, q.k,
                                q.h, q.w, q.batch, q.priors, got, 0);
    float *d_dy = dev_copy(r, dy, n), *d_maps = op_dev(r, n * 4);
    ck_assert_status(yl_head_output_backward_cuda(d_dy, d_dy + rows * 4, d_dy + rows * (4 + q.c),
                                                  dev_copy(r, coeff, rows * q.k), q.a, q.c, q.k,
                                                  q.h, q.w, q.batch, q.priors, d_maps, NULL),
                     YOLACT_OK);
    kernel_matches(r, "grad maps (kernel)", d_maps, got, n);
    double *want = op_grad_fd(r, head_f64, &q, op_f64(r, maps, n), 0, n, 1, op_f64(r, dy, n),
                              n, 1e-5);
    /* each map's |dy|: the row entry it was gathered into */
    float *mag = op_host(r, n * 4), *ady = op_abs(r, dy, n), *zero = op_host(r, rows * q.k * 4);
    memset(zero, 0, rows * q.k * 4);    /* tanh 0: the rows' |dy| unscaled */
    yl_head_output_backward_cpu(ady, ady + rows * 4, ady + rows * (4 + q.c), zero, q.a, q.c, q.k,
                                q.h, q.w, q.batch, q.priors, mag, 0);
    op_output_f64(r, "grad maps", n, got, want, op_f64(r, mag, n),
                  check_of(r, OP_SUM, 16 * FLT_EPSILON));
}
const op_family op_grad_head_output = {"grad head output", grad_head_run};

/* ---- proto permute: dims k, h, w, batch ----------------------------------------------- */
static void grad_proto_run(const op_case *c, op_run *r)
{
    const int k = c->dims[0], h = c->dims[1], w = c->dims[2], batch = c->dims[3];
    const size_t n = (size_t)batch * k * h * w;
    float *dy = op_rand_floats(r, n, -1.0f, 1.0f), *got = op_host(r, n * 4 + 4);
    float *want = op_host(r, n * 4 + 4);
    yl_proto_output_backward_cpu(dy, k, h, w, batch, got);
    float *d_in = op_dev(r, n * 4 + 4);
    ck_assert_status(yl_proto_output_backward_cuda(dev_copy(r, dy, n), k, h, w, batch, d_in,
                                                   NULL), YOLACT_OK);
    kernel_matches(r, "grad in (kernel)", d_in, got, n);
    /* A permute's backward is the inverse permute: the forward of the gradient back. */
    yl_proto_output_cpu(got, k, h, w, batch, want);
    op_output(r, "forward of the gradient", OP_F32, n, want, dy, NULL, &op_exact);
}
const op_family op_grad_proto_output = {"grad proto output", grad_proto_run};

/* ---- masks: dims h, w, k, n, edge boxes ------------------------------------------------ */
typedef struct { int h, w, k, n; const float *boxes; } masks_ctx;

/* x: prototypes (h, w, k) then coefficients (n, k); y: the cropped sigmoid (h, w, n). */
static void masks_f64(const void *ctx, const double *x, double *y)
{
    const masks_ctx *q = ctx;
    const double *proto = x, *coeff = x + (size_t)q->h * q->w * q->k;
    for (int j = 0; j < q->n; j++) {
        int c0, c1, r0, r1;
        yl_crop_range(q->boxes[j * 4], q->boxes[j * 4 + 2], q->w, &c0, &c1);
        yl_crop_range(q->boxes[j * 4 + 1], q->boxes[j * 4 + 3], q->h, &r0, &r1);
        for (int py = 0; py < q->h; py++)
            for (int px = 0; px < q->w; px++) {
                size_t p = (size_t)py * q->w + px;
                double z = 0.0;
                for (int k = 0; k < q->k; k++)
                    z += proto[p * q->k + k] * coeff[(size_t)j * q->k + k];
                int inside = py >= r0 && py < r1 && px >= c0 && px < c1;
                y[p * q->n + j] = inside ? 1.0 / (1.0 + exp(-z)) : 0.0;
            }
    }
}

/* The sigmoid computed in float as the loss's forward would (a float dot product, expf, a
 * division). Bound, tol eps over each entry's magnitude: a logit is within k eps S of its
 * value (S = Σ|p c|), the sigmoid's slope <= 1/4 and its own 2 ulps, y(1 − y) 3 roundings
 * more: each logit gradient within |g| (k S / 4 + 5) eps; the GEMMs add n (or pixels) eps of
 * Σ|g/4 · c| (or |g/4 · p|). So mag_pk = Σ_j |g_pj| |c_jk| (k S_pj / 4 + 5 + n / 4) and
 * mag_jk = Σ_p |g_pj| |p_pk| (k S_pj / 4 + 5 + pixels / 4), inside the crops only. */
static void grad_masks_run(const op_case *c, op_run *r)
{
    const int *v = c->dims;
    masks_ctx q = {v[0], v[1], v[2], v[3], NULL};
    const int edge = v[4], pixels = q.h * q.w;
    const size_t np = (size_t)pixels * q.k, nc = (size_t)q.n * q.k, nm = (size_t)pixels * q.n;
    float *x = op_rand_floats(r, np + nc, -1.0f, 1.0f), *g = op_rand_floats(r, nm, -1.0f, 1.0f);
    float *boxes = op_rand_floats(r, (size_t)q.n * 4, 0.0f, 1.0f);
    for (int j = 0; j < q.n; j++) {
        float *b = boxes + j * 4;
        if (edge && j % 2) {        /* past the sides, and one flipped */
            b[0] = -0.2f;
            b[2] = j % 4 == 1 ? 1.3f : 0.4f;
        }
        if (j % 3 == 2) {
            float t = b[1];
            b[1] = b[3];
            b[3] = t;
        }
    }
    q.boxes = boxes;
    const float *proto = x, *coeff = x + np;
    float *y = op_host(r, nm * 4), *dlogits = op_host(r, nm * 4);
    double *mag = op_host(r, (np + nc) * sizeof *mag);
    memset(mag, 0, (np + nc) * sizeof *mag);
    for (int j = 0; j < q.n; j++) {
        int c0, c1, r0, r1;
        yl_crop_range(boxes[j * 4], boxes[j * 4 + 2], q.w, &c0, &c1);
        yl_crop_range(boxes[j * 4 + 1], boxes[j * 4 + 3], q.h, &r0, &r1);
        for (int p = 0; p < pixels; p++) {
            float z = 0.0f;
            double s = 0.0;
            for (int k = 0; k < q.k; k++) {
                z += proto[(size_t)p * q.k + k] * coeff[(size_t)j * q.k + k];
                s += fabs((double)proto[(size_t)p * q.k + k] * coeff[(size_t)j * q.k + k]);
            }
            y[(size_t)p * q.n + j] = 1.0f / (1.0f + expf(-z));
            int py = p / q.w, px = p % q.w;
            if (!(py >= r0 && py < r1 && px >= c0 && px < c1))
                continue;
            double ag = fabs(g[(size_t)p * q.n + j]), e = q.k * s / 4 + 5;
            for (int k = 0; k < q.k; k++) {
                mag[(size_t)p * q.k + k] += ag * fabs(coeff[(size_t)j * q.k + k]) *
                                            (e + q.n / 4.0);
                mag[np + (size_t)j * q.k + k] += ag * fabs(proto[(size_t)p * q.k + k]) *
                                                 (e + pixels / 4.0);
            }
        }
    }
    float *got = op_host(r, (np + nc) * 4);
    memset(got, 0, (np + nc) * 4);
    yl_masks_backward_cpu(proto, q.h, q.w, q.k, coeff, q.n, boxes, y, g, dlogits, got, got + np,
                          0);
    double *x64 = op_f64(r, x, np + nc), *g64 = op_f64(r, g, nm);
    const op_check *check = check_of(r, OP_SUM, FLT_EPSILON);
    double *want_p = op_grad_fd(r, masks_f64, &q, x64, 0, np, 1, g64, nm, 1e-5);
    double *want_c = op_grad_fd(r, masks_f64, &q, x64, np, nc, 1, g64, nm, 1e-5);
    op_output_f64(r, "grad proto", np, got, want_p, mag, check);
    op_output_f64(r, "grad coeff", nc, got + np, want_c, mag + np, check);
    /* The kernel: the logits' gradient bit for bit, the products within the same bound. */
    float *d_x = dev_copy(r, x, np + nc), *d_logits = op_dev(r, nm * 4);
    float *d_grad = op_dev(r, (np + nc) * 4);
    ck_assert_cuda(cudaMemset(d_grad, 0, (np + nc) * 4));
    ck_assert_status(yl_masks_backward_cuda(d_x, q.h, q.w, q.k, d_x + np, q.n,
                                            dev_copy(r, boxes, (size_t)q.n * 4),
                                            dev_copy(r, y, nm), dev_copy(r, g, nm), d_logits,
                                            d_grad, d_grad + np, NULL), YOLACT_OK);
    kernel_matches(r, "grad logits (kernel)", d_logits, dlogits, nm);
    float *grad = op_from_dev(r, d_grad, (np + nc) * 4);
    op_output_f64(r, "grad proto (kernel)", np, grad, want_p, mag, check);
    op_output_f64(r, "grad coeff (kernel)", nc, grad + np, want_c, mag + np, check);
}
const op_family op_grad_masks = {"grad masks", grad_masks_run};

/* ---- frozen BatchNorm: dims outer, channels, inner -------------------------------------- */
typedef struct { int outer, c, inner; const float *scale; } bn_frozen_ctx;

static void bn_frozen_f64(const void *ctx, const double *x, double *y)
{
    const bn_frozen_ctx *q = ctx;
    for (int o = 0; o < q->outer; o++)
        for (int c = 0; c < q->c; c++)
            for (int i = 0; i < q->inner; i++, x++, y++)
                *y = *x * q->scale[c];
}

/* One product a gradient: within 1 eps of |s dy|. */
static void grad_bn_frozen_run(const op_case *c, op_run *r)
{
    bn_frozen_ctx q = {c->dims[0], c->dims[1], c->dims[2], NULL};
    const size_t n = (size_t)q.outer * q.c * q.inner;
    float *scale = op_rand_floats(r, q.c, -2.0f, 2.0f), *x = op_rand_floats(r, n, -1.0f, 1.0f);
    float *dy = op_rand_floats(r, n, -1.0f, 1.0f), *got = op_host(r, n * 4 + 4);
    q.scale = scale;
    yl_batchnorm_frozen_backward_cpu(scale, q.outer, q.c, q.inner, dy, got);
    float *d_in = op_dev(r, n * 4 + 4);
    ck_assert_status(yl_batchnorm_frozen_backward_cuda(dev_copy(r, scale, q.c), q.outer, q.c,
                                                       q.inner, dev_copy(r, dy, n), d_in, NULL),
                     YOLACT_OK);
    kernel_matches(r, "grad in (kernel)", d_in, got, n);
    double *want = op_grad_fd(r, bn_frozen_f64, &q, op_f64(r, x, n), 0, n, 1, op_f64(r, dy, n),
                              n, 1e-4);
    double *mag = op_host(r, n * sizeof *mag + 8);
    for (size_t i = 0; i < n; i++)
        mag[i] = fabs(want[i]);
    op_output_f64(r, "grad in", n, got, want, mag, check_of(r, OP_SUM, FLT_EPSILON));
}
const op_family op_grad_batchnorm_frozen = {"grad batchnorm frozen", grad_bn_frozen_run};

/* ---- trainable BatchNorm: dims batch, channels, hw ------------------------------------ */
#define BN_EPS 1e-5     /* nn.BatchNorm2d's default */
typedef struct { int batch, c, hw; } bn_ctx;

/* x: input (batch, c, hw), gamma (c), beta (c); y: the normalised output. */
static void bn_f64(const void *ctx, const double *x, double *y)
{
    const bn_ctx *q = ctx;
    const size_t n = (size_t)q->batch * q->c * q->hw;
    const double *gamma = x + n, *beta = gamma + q->c, m = (double)q->batch * q->hw;
    for (int c = 0; c < q->c; c++) {
        double mean = 0.0, var = 0.0;
        for (int b = 0; b < q->batch; b++)
            for (int i = 0; i < q->hw; i++)
                mean += x[((size_t)b * q->c + c) * q->hw + i] / m;
        for (int b = 0; b < q->batch; b++)
            for (int i = 0; i < q->hw; i++) {
                double d = x[((size_t)b * q->c + c) * q->hw + i] - mean;
                var += d * d / m;
            }
        double inv = 1.0 / sqrt(var + BN_EPS);
        for (int b = 0; b < q->batch; b++)
            for (int i = 0; i < q->hw; i++) {
                size_t at = ((size_t)b * q->c + c) * q->hw + i;
                y[at] = gamma[c] * (x[at] - mean) * inv + beta[c];
            }
    }
}

/* The kernels on the same inputs against the CPU's results: the float statistics and the
 * affine's gradients within 1 ulp (the two sides' double sums, in another order, round to
 * the same float but at a tie), the outputs and the input's gradient, computed from them,
 * within an NMSE of 1e-12. */
static void bn_train_kernels_match(op_run *r, const bn_ctx *q, const float *x, const float *dy,
                                   float momentum, const float *running, const float *pre,
                                   const float *y, const float *run_cpu, const float *mean,
                                   const float *invstd, const float *grad_cpu)
{
    const size_t n = (size_t)q->batch * q->c * q->hw, nx = n + 2 * (size_t)q->c;
    float *d_x = dev_copy(r, x, nx), *d_run = dev_copy(r, running, 2 * (size_t)q->c);
    float *d_y = op_dev(r, n * 4), *d_stats = op_dev(r, 2 * (size_t)q->c * 4);
    float *d_grad = dev_copy(r, pre, nx);
    ck_assert_status(yl_batchnorm_train_forward_cuda(d_x, q->batch, q->c, q->hw, d_x + n,
                                                     d_x + n + q->c, (float)BN_EPS, momentum,
                                                     d_run, d_run + q->c, d_y, d_stats,
                                                     d_stats + q->c, NULL), YOLACT_OK);
    ck_assert_status(yl_batchnorm_train_backward_cuda(d_x, dev_copy(r, dy, n), q->batch, q->c,
                                                      q->hw, d_x + n, d_stats, d_stats + q->c,
                                                      d_grad, d_grad + n, d_grad + n + q->c,
                                                      NULL), YOLACT_OK);
    const op_check *ulp = check_of(r, OP_ULPS, 1), *nmse = check_of(r, OP_NMSE, 1e-12);
    /* mean, invstd, running mean, running variance: one output of 4 channels' rows */
    const size_t c4 = 4 * (size_t)q->c;
    float *stats = op_host(r, c4 * 4), *stats_cpu = op_host(r, c4 * 4);
    memcpy(stats, op_from_dev(r, d_stats, 2 * (size_t)q->c * 4), 2 * (size_t)q->c * 4);
    memcpy(stats + 2 * q->c, op_from_dev(r, d_run, 2 * (size_t)q->c * 4), 2 * (size_t)q->c * 4);
    memcpy(stats_cpu, mean, q->c * 4);
    memcpy(stats_cpu + q->c, invstd, q->c * 4);
    memcpy(stats_cpu + 2 * q->c, run_cpu, 2 * (size_t)q->c * 4);
    op_output(r, "mean, invstd, running statistics (kernel)", OP_F32, c4, stats, stats_cpu,
              NULL, ulp);
    op_output(r, "forward (kernel)", OP_F32, n, op_from_dev(r, d_y, n * 4), y, NULL, nmse);
    float *grad = op_from_dev(r, d_grad, nx * 4);
    op_output(r, "grad in (kernel)", OP_F32, n, grad, grad_cpu, NULL, nmse);
    op_output(r, "grad gamma, beta (kernel)", OP_F32, 2 * (size_t)q->c, grad + n, grad_cpu + n,
              NULL, ulp);
}

/* NMSE bounds: the float pieces (invstd and the mean rounded to float, 6e-8 relative each;
 * the output's rounding) keep the relative error of an entry near 1e-7, an NMSE near 1e-14;
 * 1e-10 stated, while a wrong term (the mean's or the variance's share of dx) is O(1). The
 * running statistics: a convex blend in double rounded once, within 2 eps of the blend's
 * sum of |terms|. */
static void grad_bn_train_run(const op_case *c, op_run *r)
{
    bn_ctx q = {c->dims[0], c->dims[1], c->dims[2]};
    const size_t n = (size_t)q.batch * q.c * q.hw, nx = n + 2 * (size_t)q.c;
    float *x = op_rand_floats(r, nx, -1.0f, 1.0f), *dy = op_rand_floats(r, n, -1.0f, 1.0f);
    for (size_t i = 0; i < n; i++)      /* channels off centre and of various spreads */
        x[i] = x[i] * (1.0f + (float)(i / q.hw % q.c)) + 0.5f;
    const float momentum = 0.1f;
    float *running = op_rand_floats(r, 2 * (size_t)q.c, 0.5f, 1.5f);
    float *run_got = op_host_copy(r, running, 2 * (size_t)q.c * 4);
    float *y = op_host(r, n * 4), *mean = op_host(r, q.c * 4), *invstd = op_host(r, q.c * 4);
    float *got = op_rand_floats(r, nx, -1.0f, 1.0f), *pre = op_host_copy(r, got, nx * 4);
    const float *gamma = x + n, *beta = gamma + q.c;
    yl_batchnorm_train_forward_cpu(x, q.batch, q.c, q.hw, gamma, beta, (float)BN_EPS,
                                   momentum, run_got, run_got + q.c, y, mean, invstd);
    yl_batchnorm_train_backward_cpu(x, dy, q.batch, q.c, q.hw, gamma, mean, invstd, got,
                                    got + n, got + n + q.c);
    bn_train_kernels_match(r, &q, x, dy, momentum, running, pre, y, run_got, mean, invstd, got);
    double *x64 = op_f64(r, x, nx), *want_y = op_host(r, n * sizeof(double));
    bn_f64(&q, x64, want_y);
    op_output_f64(r, "forward", n, y, want_y, NULL, check_of(r, OP_NMSE, 1e-12));
    double *want = op_grad_fd(r, bn_f64, &q, x64, 0, nx, 1, op_f64(r, dy, n), n, 1e-5);
    for (size_t i = n; i < nx; i++)     /* the affine's gradients were accumulated */
        want[i] += pre[i];
    op_output_f64(r, "grad in", n, got, want, NULL, check_of(r, OP_NMSE, 1e-10));
    op_output_f64(r, "grad gamma, beta", 2 * (size_t)q.c, got + n, want + n, NULL,
                  check_of(r, OP_NMSE, 1e-10));
    /* running statistics: (1 − momentum) · old + momentum · (mean, unbiased variance) */
    double *want_run = op_host(r, 2 * (size_t)q.c * sizeof(double));
    double *mag = op_host(r, 2 * (size_t)q.c * sizeof(double));
    const double m = (double)q.batch * q.hw;
    for (int ch = 0; ch < q.c; ch++) {
        double mu = 0.0, ss = 0.0;
        for (int b = 0; b < q.batch; b++)
            for (int i = 0; i < q.hw; i++)
                mu += x64[((size_t)b * q.c + ch) * q.hw + i] / m;
        for (int b = 0; b < q.batch; b++)
            for (int i = 0; i < q.hw; i++) {
                double d = x64[((size_t)b * q.c + ch) * q.hw + i] - mu;
                ss += d * d;
            }
        double stats[2] = {mu, ss / (m - 1.0)};
        for (int s = 0; s < 2; s++) {
            double old = running[s * q.c + ch];
            want_run[s * q.c + ch] = (1.0 - momentum) * old + momentum * stats[s];
            mag[s * q.c + ch] = (1.0 - momentum) * fabs(old) + momentum * fabs(stats[s]);
        }
    }
    op_output_f64(r, "running mean, var", 2 * (size_t)q.c, run_got, want_run, mag,
                  check_of(r, OP_SUM, 2 * FLT_EPSILON));
}
const op_family op_grad_batchnorm_train = {"grad batchnorm train", grad_bn_train_run};
