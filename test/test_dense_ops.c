/* The dense CPU ops: GEMM (both kernels) and convolution against double-precision loops,
 * max pooling against a direct loop, resize and preprocess against PyTorch's own outputs
 * (test/data/resize/cases.txt, made by test/fixtures/make_resize_fixtures.py). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cpu/conv.h"
#include "cpu/dense_ops.h"
#include "cpu/exp_tanh.h"
#include "cpu/gemm.h"
#include "cpu/head_ops.h"
#include "yl_test.h"

static float *rand_floats(size_t n, uint64_t *state)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = yl_test_rand(state, -1.0f, 1.0f);
    return p;
}

static float *nan_floats(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = NAN;
    return p;
}

/* The GEMM kinds this build can run: the portable one always, OpenBLAS when built in. */
static int gemm_kinds(yl_gemm_kind kinds[2])
{
    kinds[0] = YL_GEMM_PORTABLE;
    kinds[1] = YL_GEMM_OPENBLAS;
    return yl_gemm_have_openblas() ? 2 : 1;
}

/* FP32 sums against double: |got - ref| <= RTOL * sum |terms| + ATOL. A k-term float sum in
 * any order is off by at most ~k * 2^-24 of sum |terms|; blocked and tree-like orders stay
 * far below 1e-5 for the k <= 3200 used here. */
#define RTOL 1e-5
#define ATOL 1e-6

/* Loop index: 0 yl_gemm, 1 yl_gemm_at (A stored transposed), 2 yl_gemm_bt (B transposed). */
START_TEST(gemm_matches_double)
{
    static const int shapes[][3] = {{1, 1, 1}, {6, 16, 5}, {7, 17, 193}, {13, 50, 400},
                                    {50, 3, 7},  {0, 5, 3}, {5, 0, 3},   {4, 9, 0}};
    typedef void gemm_fn(yl_gemm_kind, int, int, int, const float *, int, const float *, int,
                         int, float *, int);
    gemm_fn *const fns[] = {yl_gemm, yl_gemm_at, yl_gemm_bt};
    const int trans_a = _i == 1, trans_b = _i == 2;
    yl_gemm_kind kinds[2];
    int nkinds = gemm_kinds(kinds);
    uint64_t rng = 0x1234567;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        /* stored shapes: A (m, k) or (k, m), B (k, n) or (n, k), each row padded */
        int a_rows = trans_a ? k : m, b_rows = trans_b ? n : k;
        int lda = (trans_a ? m : k) + 3, ldb = (trans_b ? k : n) + 5, ldc = n + 2;
        float *a = rand_floats((size_t)a_rows * lda, &rng);
        float *b = rand_floats((size_t)b_rows * ldb, &rng);
        float *c0 = rand_floats((size_t)m * ldc, &rng), *c = malloc(((size_t)m * ldc + 1) * 4);
        ck_assert_ptr_nonnull(c);
        for (int ki = 0; ki < nkinds; ki++)
            for (int acc = 0; acc < 2; acc++) {
                memcpy(c, c0, (size_t)m * ldc * sizeof *c);
                fns[_i](kinds[ki], m, n, k, a, lda, b, ldb, acc, c, ldc);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < ldc; j++) {
                        float got = c[(size_t)i * ldc + j], init = c0[(size_t)i * ldc + j];
                        if (j >= n) { /* padding between rows is untouched */
                            ck_assert_msg(got == init, "gemm kind %d wrote padding (%d,%d)",
                                          kinds[ki], i, j);
                            continue;
                        }
                        double ref = acc ? init : 0.0, mag = fabs(ref);
                        for (int p = 0; p < k; p++) {
                            double ea = trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                            double eb = trans_b ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                            ref += ea * eb;
                            mag += fabs(ea * eb);
                        }
                        ck_assert_msg(fabs(got - ref) <= RTOL * mag + ATOL,
                                      "gemm %d kind %d m=%d n=%d k=%d acc=%d at (%d,%d): got "
                                      "%.9g, expected %.9g", _i, kinds[ki], m, n, k, acc, i, j,
                                      got, ref);
                    }
            }
        free(a);
        free(b);
        free(c0);
        free(c);
    }
}
END_TEST

START_TEST(conv_out_size_matches_pytorch)
{
    ck_assert_int_eq(yl_conv_out_size(550, 7, 2, 3, 1), 275); /* ResNet stem */
    ck_assert_int_eq(yl_conv_out_size(275, 3, 2, 1, 1), 138); /* stride-2 3x3 */
    ck_assert_int_eq(yl_conv_out_size(138, 1, 2, 0, 1), 69);  /* downsample 1x1 */
    ck_assert_int_eq(yl_conv_out_size(9, 3, 2, 1, 1), 5);     /* P6 -> P7 */
    ck_assert_int_eq(yl_conv_out_size(10, 3, 1, 2, 2), 10);   /* dilation */
    ck_assert_int_eq(yl_conv_out_size(2, 5, 1, 0, 1), 0);     /* kernel larger than input */
    ck_assert_int_eq(yl_conv_out_size(5, 3, 0, 1, 1), 0);     /* invalid stride */
}
END_TEST

typedef struct conv_case {
    int ic, oc, kh, kw, stride, pad, dilation, h, w;
} conv_case;

static const conv_case conv_cases[] = {
    {3, 64, 7, 7, 2, 3, 1, 37, 41},    /* stem, odd input */
    {67, 45, 1, 1, 1, 0, 1, 13, 11},   /* pointwise: no im2col */
    {32, 70, 1, 1, 2, 0, 1, 15, 15},   /* strided 1x1 (bottleneck downsample) */
    {29, 33, 3, 3, 1, 1, 1, 17, 19},
    {20, 17, 3, 3, 2, 1, 1, 16, 9},
    {11, 13, 3, 3, 1, 2, 2, 12, 14},   /* dilation */
    {5, 7, 3, 3, 1, 0, 1, 3, 3},       /* one output pixel */
    {6, 9, 5, 3, 2, 1, 1, 11, 8},      /* rectangular kernel */
    {256, 243, 3, 3, 1, 1, 1, 5, 5},   /* head conf at P7: k = 2304, few columns */
    {64, 40, 3, 3, 1, 1, 1, 30, 31},   /* several column tiles */
    {350, 96, 1, 1, 1, 0, 1, 4, 6},    /* pointwise, channel-block tiles */
    {5, 12, 3, 3, 2, 1, 1, 90, 81},    /* 4 column tiles, each with its own im2col slice */
};

/* Pre-activation output and sum |terms| (bias included) in double, by the 7-loop definition. */
static void conv_ref(const conv_case *c, const float *in, const float *wt, const float *bias,
                     int oh, int ow, double *ref, double *mag)
{
    for (int o = 0; o < c->oc; o++)
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                double s = bias ? bias[o] : 0.0, a = fabs(s);
                for (int i = 0; i < c->ic; i++)
                    for (int ky = 0; ky < c->kh; ky++)
                        for (int kx = 0; kx < c->kw; kx++) {
                            int iy = y * c->stride - c->pad + ky * c->dilation;
                            int ix = x * c->stride - c->pad + kx * c->dilation;
                            if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w)
                                continue;
                            double t = (double)wt[((size_t)(o * c->ic + i) * c->kh + ky) * c->kw + kx] *
                                       in[((size_t)i * c->h + iy) * c->w + ix];
                            s += t;
                            a += fabs(t);
                        }
                size_t idx = ((size_t)o * oh + y) * ow + x;
                ref[idx] = s;
                mag[idx] = a;
            }
}

static double act_ref(double v, yl_activation act)
{
    if (act == YL_ACT_RELU)
        return v < 0 ? 0 : v;
    if (act == YL_ACT_LEAKY_RELU_0_1)
        return v > 0 ? v : 0.1 * v;
    return v;
}

enum { RES_NONE, RES_SEPARATE, RES_ALIASED };

/* Every (GEMM kind, threads, activation, residual mode, bias or not) on one shape. */
START_TEST(conv_matches_direct_loops)
{
    const conv_case *c = &conv_cases[_i];
    int oh = yl_conv_out_size(c->h, c->kh, c->stride, c->pad, c->dilation);
    int ow = yl_conv_out_size(c->w, c->kw, c->stride, c->pad, c->dilation);
    ck_assert_int_gt(oh, 0);
    ck_assert_int_gt(ow, 0);
    size_t nout = (size_t)c->oc * oh * ow;
    uint64_t rng = 0x9e3779b97f4a7c15ull + (uint64_t)_i;
    float *in = rand_floats((size_t)c->ic * c->h * c->w, &rng);
    float *wt = rand_floats((size_t)c->oc * c->ic * c->kh * c->kw, &rng);
    float *bias = rand_floats((size_t)c->oc, &rng);
    float *res = rand_floats(nout, &rng);
    float *out = malloc(nout * sizeof *out);
    double *ref[2] = {malloc(nout * sizeof(double)), malloc(nout * sizeof(double))};
    double *mag[2] = {malloc(nout * sizeof(double)), malloc(nout * sizeof(double))};
    ck_assert(out && ref[0] && ref[1] && mag[0] && mag[1]);
    conv_ref(c, in, wt, NULL, oh, ow, ref[0], mag[0]);
    conv_ref(c, in, wt, bias, oh, ow, ref[1], mag[1]);

    yl_conv_desc d = {c->ic, c->oc, c->kh, c->kw, c->stride, c->pad, c->dilation};
    size_t ws_floats = yl_conv2d_workspace_floats(&d, c->h, c->w);
    int pointwise = c->kh == 1 && c->kw == 1 && c->stride == 1 && c->pad == 0;
    ck_assert_msg(pointwise == (ws_floats == 0), "workspace %zu floats for case %d", ws_floats,
                  _i);
    float *ws = nan_floats(ws_floats); /* NaN: any element read before written shows */

    yl_gemm_kind kinds[2];
    int nkinds = gemm_kinds(kinds);
    static const yl_activation acts[] = {YL_ACT_NONE, YL_ACT_RELU, YL_ACT_LEAKY_RELU_0_1};
    for (int ki = 0; ki < nkinds; ki++)
        for (int threads = 1; threads <= 2; threads++)
            for (int a = 0; a < 3; a++)
                for (int rmode = RES_NONE; rmode <= RES_ALIASED; rmode++)
                    for (int with_bias = 0; with_bias < 2; with_bias++) {
                        const float *residual = NULL;
                        if (rmode == RES_ALIASED) {
                            memcpy(out, res, nout * sizeof *out);
                            residual = out;
                        } else {
                            for (size_t j = 0; j < nout; j++)
                                out[j] = NAN;
                            residual = rmode == RES_SEPARATE ? res : NULL;
                        }
                        yl_conv2d_cpu_gemm(kinds[ki], &d, in, c->h, c->w, wt,
                                           with_bias ? bias : NULL, residual, acts[a], out, ws,
                                           threads);
                        for (size_t j = 0; j < nout; j++) {
                            double pre = ref[with_bias][j], m = mag[with_bias][j];
                            if (rmode != RES_NONE) {
                                pre += res[j];
                                m += fabs(res[j]);
                            }
                            double r = act_ref(pre, acts[a]);
                            ck_assert_msg(fabs(out[j] - r) <= RTOL * m + ATOL,
                                          "case %d kind %d threads %d act %d residual %d bias %d: "
                                          "out[%zu] = %.9g, expected %.9g",
                                          _i, kinds[ki], threads, a, rmode, with_bias, j, out[j],
                                          r);
                        }
                    }
    free(in);
    free(wt);
    free(bias);
    free(res);
    free(out);
    free(ws);
    for (int i = 0; i < 2; i++) {
        free(ref[i]);
        free(mag[i]);
    }
}
END_TEST

/* Winograd F(4x4, 3x3) against the same double loops. Its transforms scale terms by up to
 * ~10 (B^T) and ~1/4..8 (G, A^T) before they cancel, so the FP32 error bound is a larger
 * multiple of sum |terms| than a plain sum's: measured max |got - ref| / sum |terms| on these
 * cases is below 3e-6 (printed on failure), bounded here at 2e-5. */
#define WINO_RTOL 2e-5
#define WINO_ATOL 1e-6

static const conv_case wino_cases[] = {
    {29, 33, 3, 3, 1, 1, 1, 17, 19},   /* odd sizes: partial tiles on both edges */
    {5, 7, 3, 3, 1, 0, 1, 3, 3},       /* one output pixel */
    {3, 1, 3, 3, 1, 0, 1, 6, 6},       /* exactly one tile, one output channel */
    {7, 5, 3, 3, 1, 2, 1, 9, 6},       /* padding 2 */
    {256, 243, 3, 3, 1, 1, 1, 5, 5},   /* head conf at P7: k = 2304, 4 tiles */
    {64, 40, 3, 3, 1, 1, 1, 30, 31},
    {1, 3, 3, 3, 1, 1, 1, 1, 1},       /* 1x1 input, all padding but the centre */
    {96, 80, 3, 3, 1, 1, 1, 90, 61},   /* three chunks of tile rows, the last one short */
};

/* Every (GEMM kind, threads, activation, residual mode, bias or not) on one shape, through
 * prepared weights; and prepared == NULL must be the exact path. */
START_TEST(winograd_matches_direct_loops)
{
    const conv_case *c = &wino_cases[_i];
    int oh = yl_conv_out_size(c->h, 3, 1, c->pad, 1), ow = yl_conv_out_size(c->w, 3, 1, c->pad, 1);
    ck_assert_int_gt(oh, 0);
    ck_assert_int_gt(ow, 0);
    size_t nout = (size_t)c->oc * oh * ow;
    uint64_t rng = 0x5eed0000ull + (uint64_t)_i;
    float *in = rand_floats((size_t)c->ic * c->h * c->w, &rng);
    float *wt = rand_floats((size_t)c->oc * c->ic * 9, &rng);
    float *bias = rand_floats((size_t)c->oc, &rng);
    float *res = rand_floats(nout, &rng);
    float *out = malloc(nout * sizeof *out);
    double *ref = malloc(nout * sizeof *ref), *mag = malloc(nout * sizeof *mag);
    ck_assert(out && ref && mag);
    conv_ref(c, in, wt, bias, oh, ow, ref, mag);

    yl_conv_desc d = {c->ic, c->oc, 3, 3, 1, c->pad, 1};
    size_t pf = yl_conv2d_prepared_floats(&d);
    ck_assert_uint_eq(pf, (size_t)36 * c->oc * c->ic);
    float *prep = nan_floats(pf);
    yl_conv2d_prepare_cpu(&d, wt, prep);
    float *ws = nan_floats(yl_conv2d_workspace_floats(&d, c->h, c->w));

    yl_gemm_kind kinds[2];
    int nkinds = gemm_kinds(kinds);
    static const yl_activation acts[] = {YL_ACT_NONE, YL_ACT_RELU, YL_ACT_LEAKY_RELU_0_1};
    for (int ki = 0; ki < nkinds; ki++)
        for (int threads = 1; threads <= 2; threads++)
            for (int a = 0; a < 3; a++)
                for (int rmode = RES_NONE; rmode <= RES_ALIASED; rmode++) {
                    const float *residual = NULL;
                    if (rmode == RES_ALIASED) {
                        memcpy(out, res, nout * sizeof *out);
                        residual = out;
                    } else {
                        for (size_t j = 0; j < nout; j++)
                            out[j] = NAN;
                        residual = rmode == RES_SEPARATE ? res : NULL;
                    }
                    int with_bias = (a + rmode) % 2; /* both, across the sweep */
                    yl_conv2d_prepared_cpu_gemm(kinds[ki], &d, in, c->h, c->w, wt, prep,
                                                with_bias ? bias : NULL, residual, acts[a], out,
                                                ws, threads);
                    for (size_t j = 0; j < nout; j++) {
                        double pre = ref[j] - (with_bias ? 0.0 : bias[j / ((size_t)oh * ow)]);
                        double m = mag[j];
                        if (rmode != RES_NONE) {
                            pre += res[j];
                            m += fabs(res[j]);
                        }
                        double r = act_ref(pre, acts[a]), e = fabs(out[j] - r);
                        ck_assert_msg(e <= WINO_RTOL * m + WINO_ATOL,
                                      "case %d kind %d threads %d act %d residual %d bias %d: "
                                      "out[%zu] = %.9g, expected %.9g (error/sum|terms| %.3g)",
                                      _i, kinds[ki], threads, a, rmode, with_bias, j, out[j], r,
                                      e / m);
                    }
                }
    /* No prepared weights: the exact path, bit for bit what yl_conv2d_cpu gives. */
    float *exact = malloc(nout * sizeof *exact);
    ck_assert_ptr_nonnull(exact);
    yl_conv2d_prepared_cpu(&d, in, c->h, c->w, wt, NULL, bias, NULL, YL_ACT_NONE, out, ws, 2);
    ck_assert_int_eq(yl_conv2d_cpu(&d, in, 1, c->h, c->w, wt, YOLACT_PRECISION_FP32, bias, NULL,
                                   YL_ACT_NONE, exact, ws, 2), YOLACT_OK);
    ck_assert_msg(memcmp(out, exact, nout * sizeof *out) == 0,
                  "case %d: prepared == NULL is not the exact path", _i);
    free(exact);
    free(in);
    free(wt);
    free(bias);
    free(res);
    free(out);
    free(ref);
    free(mag);
    free(prep);
    free(ws);
}
END_TEST

START_TEST(prepared_weights_only_for_winograd_shapes)
{
    static const yl_conv_desc none[] = {
        {8, 8, 1, 1, 1, 0, 1}, {8, 8, 3, 3, 2, 1, 1}, {8, 8, 3, 3, 1, 2, 2}, {8, 8, 7, 7, 1, 3, 1}};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        ck_assert_msg(yl_conv2d_prepared_floats(&none[i]) == 0, "shape %zu has prepared weights",
                      i);
}
END_TEST

START_TEST(conv_public_entry_uses_all_cores_when_zero)
{
    /* yl_conv2d_cpu (AUTO, 0 threads) must agree with the explicit portable path. */
    const conv_case *c = &conv_cases[3];
    yl_conv_desc d = {c->ic, c->oc, c->kh, c->kw, c->stride, c->pad, c->dilation};
    int oh = yl_conv_out_size(c->h, c->kh, c->stride, c->pad, c->dilation);
    int ow = yl_conv_out_size(c->w, c->kw, c->stride, c->pad, c->dilation);
    size_t nout = (size_t)c->oc * oh * ow;
    uint64_t rng = 42;
    float *in = rand_floats((size_t)c->ic * c->h * c->w, &rng);
    float *wt = rand_floats((size_t)c->oc * c->ic * c->kh * c->kw, &rng);
    float *ws = nan_floats(yl_conv2d_workspace_floats(&d, c->h, c->w));
    float *a = nan_floats(nout), *b = nan_floats(nout);
    ck_assert_int_eq(yl_conv2d_cpu(&d, in, 1, c->h, c->w, wt, YOLACT_PRECISION_FP32, NULL, NULL,
                                   YL_ACT_NONE, a, ws, 0), YOLACT_OK);
    yl_conv2d_cpu_gemm(YL_GEMM_PORTABLE, &d, in, c->h, c->w, wt, NULL, NULL, YL_ACT_NONE, b, ws,
                       1);
    for (size_t j = 0; j < nout; j++)
        ck_assert_msg(fabsf(a[j] - b[j]) <= 1e-4f, "out[%zu]: %.9g vs portable %.9g", j, a[j],
                      b[j]);
    free(in);
    free(wt);
    free(ws);
    free(a);
    free(b);
}
END_TEST

START_TEST(maxpool_matches_direct_loop)
{
    static const int cases[][6] = {
        /* c, h, w, kernel, stride, pad */
        {3, 11, 10, 3, 2, 1}, /* the ResNet stem pool's parameters */
        {2, 8, 8, 2, 2, 0},
        {4, 7, 5, 3, 1, 1},
        {1, 1, 1, 3, 2, 1},
        {2, 9, 1500, 3, 2, 1},      /* wider than one column chunk of the fast path */
        {1, 1030, 1030, 1026, 1000, 0}, /* window wider than its buffer: the plain loop */
    };
    uint64_t rng = 77;
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        int ch = cases[t][0], h = cases[t][1], w = cases[t][2];
        int k = cases[t][3], s = cases[t][4], p = cases[t][5];
        int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
        float *in = rand_floats((size_t)ch * h * w, &rng);
        in[(size_t)h * w / 2] = NAN; /* NaN propagates, as in PyTorch */
        float *out = nan_floats((size_t)ch * oh * ow);
        yl_maxpool2d_cpu(in, ch, h, w, k, s, p, out, oh, ow);
        for (int c = 0; c < ch; c++)
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++) {
                    float m = -INFINITY;
                    int saw_nan = 0;
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++) {
                            int iy = y * s - p + ky, ix = x * s - p + kx;
                            float v = iy < 0 || iy >= h || ix < 0 || ix >= w
                                          ? -INFINITY
                                          : in[((size_t)c * h + iy) * w + ix];
                            saw_nan |= isnan(v);
                            m = v > m ? v : m;
                        }
                    float got = out[((size_t)c * oh + y) * ow + x];
                    ck_assert_msg(saw_nan ? isnan(got) : got == m,
                                  "maxpool case %zu at (%d,%d,%d): got %.9g, expected %s%.9g", t,
                                  c, y, x, got, saw_nan ? "NaN, not " : "", m);
                }
        free(in);
        free(out);
    }
}
END_TEST

/* got and want bit for bit (any NaN for a NaN). */
static void assert_same_floats(const float *got, const float *want, size_t n, const char *op,
                               size_t t)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&got[i], &want[i], sizeof(float)) == 0 ||
                          (isnan(got[i]) && isnan(want[i])),
                      "%s case %zu, element %zu: blocked %.9g, plain %.9g", op, t, i, got[i],
                      want[i]);
}

/* The max pooling and resize a oneDNN chain runs in the blocked layout (blocks 8 and 16)
 * give each channel bit for bit what the plain ones do, NaN included. */
START_TEST(blocked_pool_and_resize_match_plain)
{
    static const int cases[][7] = {
        /* c, h, w, kernel, stride, pad, block */
        {32, 11, 10, 3, 2, 1, 16}, /* the ResNet stem pool's parameters */
        {16, 9, 7, 2, 2, 0, 8},
        {48, 7, 5, 3, 1, 1, 16},
    };
    uint64_t rng = 91;
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const int ch = cases[t][0], h = cases[t][1], w = cases[t][2], k = cases[t][3],
                  s = cases[t][4], p = cases[t][5], block = cases[t][6];
        const int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
        const int rh = 2 * h + 1, rw = 2 * w - 1; /* the resize: FPN-like, uneven */
        const size_t n_in = (size_t)ch * h * w, n_pool = (size_t)ch * oh * ow,
                     n_resize = (size_t)ch * rh * rw;
        float *in = rand_floats(n_in, &rng), *in_b = nan_floats(n_in);
        in[n_in / 3] = NAN;
        float *want = nan_floats(n_resize), *got_b = nan_floats(n_resize),
              *got = nan_floats(n_resize);
        void *ws = malloc(yl_resize_workspace_bytes(rh, rw));
        ck_assert(ws);
        yl_test_reblock(in, ch, h * w, block, 1, in_b);

        yl_maxpool2d_cpu(in, ch, h, w, k, s, p, want, oh, ow);
        yl_maxpool2d_blocked_cpu(in_b, ch, block, h, w, k, s, p, got_b, oh, ow);
        yl_test_reblock(got_b, ch, oh * ow, block, 0, got);
        assert_same_floats(got, want, n_pool, "maxpool", t);

        yl_resize_bilinear_cpu(in, ch, h, w, want, rh, rw, ws);
        yl_resize_bilinear_blocked_cpu(in_b, ch, block, h, w, got_b, rh, rw, ws);
        yl_test_reblock(got_b, ch, rh * rw, block, 0, got);
        assert_same_floats(got, want, n_resize, "resize", t);
        free(in);
        free(in_b);
        free(want);
        free(got_b);
        free(got);
        free(ws);
    }
}
END_TEST

START_TEST(bilinear_axis_halfway_and_copy)
{
    int i0[4], i1[4];
    float w0[4], w1[4];
    yl_bilinear_axis(4, 2, i0, i1, w0, w1); /* sources 0.5 and 2.5 */
    ck_assert(i0[0] == 0 && i1[0] == 1 && w0[0] == 0.5f && w1[0] == 0.5f);
    ck_assert(i0[1] == 2 && i1[1] == 3 && w0[1] == 0.5f && w1[1] == 0.5f);
    yl_bilinear_axis(2, 4, i0, i1, w0, w1); /* -0.25 clamps to 0; the last pixel has no right */
    ck_assert(i0[0] == 0 && i1[0] == 1 && w1[0] == 0.0f && w0[0] == 1.0f);
    ck_assert(i0[1] == 0 && i1[1] == 1 && w1[1] == 0.25f);
    ck_assert(i0[3] == 1 && i1[3] == 1 && w1[3] == 0.25f);
    yl_bilinear_axis(3, 3, i0, i1, w0, w1);
    ck_assert(i0[2] == 2 && i1[2] == 2 && w0[2] == 1.0f && w1[2] == 0.0f);
}
END_TEST

/* The fixture inputs, rebuilt from the same integer hash as the script. */
static uint32_t fixture_hash(uint64_t i) { return (uint32_t)(i * 2654435761u + 12345u); }

static float fixture_float(uint64_t i)
{
    return (float)(fixture_hash(i) >> 8) / 16777216.0f * 4.0f - 2.0f;
}

static uint8_t fixture_byte(uint64_t i) { return (uint8_t)(fixture_hash(i) >> 24); }

/* Compare `count` sampled "c y x value" lines against an (channels, h, w) output. PyTorch's
 * build may fuse a multiply-add that ours keeps separate (or the reverse), so equality is
 * up to 1e-6 relative to max(1, |expected|), i.e. a few float32 ulps. */
static void check_samples(FILE *f, int count, const float *out, int channels, int h, int w,
                          const char *what)
{
    int bad = 0;
    double worst = 0;
    for (int i = 0; i < count; i++) {
        int c, y, x;
        float want;
        ck_assert_msg(fscanf(f, "%d %d %d %f", &c, &y, &x, &want) == 4, "%s: bad sample %d",
                      what, i);
        ck_assert_msg(c >= 0 && c < channels && y >= 0 && y < h && x >= 0 && x < w,
                      "%s: sample %d out of range", what, i);
        float got = out[((size_t)c * h + y) * w + x];
        double tol = 1e-6 * fmax(1.0, fabs(want)), diff = fabs((double)got - want);
        if (!(diff <= tol)) {
            if (bad++ < 5)
                fprintf(stderr, "%s: (%d,%d,%d) got %.9g, expected %.9g\n", what, c, y, x, got,
                        want);
        }
        if (diff > worst || isnan(diff))
            worst = diff;
    }
    ck_assert_msg(bad == 0, "%s: %d of %d samples differ, largest difference %.3g", what, bad,
                  count, worst);
}

static void run_resize_case(FILE *f, int ch, int ih, int iw, int oh, int ow, int count)
{
    char what[96];
    snprintf(what, sizeof what, "resize %dx%dx%d -> %dx%d", ch, ih, iw, oh, ow);
    size_t nin = (size_t)ch * ih * iw;
    float *in = malloc(nin * sizeof *in), *out = nan_floats((size_t)ch * oh * ow);
    void *ws = malloc(yl_resize_workspace_bytes(oh, ow));
    ck_assert(in && ws);
    for (size_t i = 0; i < nin; i++)
        in[i] = fixture_float(i);
    yl_resize_bilinear_cpu(in, ch, ih, iw, out, oh, ow, ws);
    check_samples(f, count, out, ch, oh, ow, what);
    free(in);
    free(out);
    free(ws);
}

/* The picture is hash bytes over (h, w, 3) in RGB order; it is given once as RGB and once
 * as BGR, each with a row stride 5 bytes longer than the pixels. */
static void run_preprocess_case(FILE *f, int w, int h, int size, int norm, int count)
{
    static const float mean_bgr[3] = {103.94f, 116.78f, 123.68f};
    static const float std_bgr[3] = {57.38f, 57.12f, 58.40f};
    size_t stride = 3 * (size_t)w + 5;
    uint8_t *pixels = malloc(stride * h);
    float *out = malloc(3 * (size_t)size * size * sizeof *out);
    ck_assert(pixels && out);
    long start = ftell(f);
    for (int fmt = YOLACT_PIXEL_RGB8; fmt <= YOLACT_PIXEL_BGR8; fmt++) {
        memset(pixels, 0xA5, stride * h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int k = 0; k < 3; k++) {
                    uint8_t v = fixture_byte(((size_t)y * w + x) * 3 + k);
                    pixels[y * stride + 3 * (size_t)x + (fmt == YOLACT_PIXEL_RGB8 ? k : 2 - k)] = v;
                }
        yolact_image img = {pixels, w, h, stride, (yolact_pixel_format)fmt, YOLACT_MEMORY_HOST};
        for (size_t i = 0; i < 3 * (size_t)size * size; i++)
            out[i] = NAN;
        yl_preprocess_cpu(&img, size, norm ? YL_INPUT_DIV_255 : YL_INPUT_MEAN_STD, mean_bgr,
                          std_bgr, out);
        char what[96];
        snprintf(what, sizeof what, "preprocess %s %dx%d -> %d norm %d",
                 fmt == YOLACT_PIXEL_RGB8 ? "RGB" : "BGR", w, h, size, norm);
        ck_assert(fseek(f, start, SEEK_SET) == 0); /* the same expectations for both formats */
        check_samples(f, count, out, 3, size, size, what);
    }
    free(pixels);
    free(out);
}

START_TEST(resize_and_preprocess_match_pytorch)
{
    FILE *f = fopen(YL_TEST_DATA "/resize/cases.txt", "r");
    ck_assert_msg(f != NULL, "cannot open " YL_TEST_DATA "/resize/cases.txt");
    char line[256];
    int resizes = 0, preprocesses = 0;
    long pos = ftell(f);
    while (fgets(line, sizeof line, f)) {
        int a[6];
        if (sscanf(line, "resize %d %d %d %d %d %d", &a[0], &a[1], &a[2], &a[3], &a[4],
                   &a[5]) == 6) {
            run_resize_case(f, a[0], a[1], a[2], a[3], a[4], a[5]);
            resizes++;
        } else if (sscanf(line, "preprocess %d %d %d %d %d", &a[0], &a[1], &a[2], &a[3],
                          &a[4]) == 5) {
            run_preprocess_case(f, a[0], a[1], a[2], a[3], a[4]);
            preprocesses++;
        } else {
            ck_assert_msg(line[0] == '#', "unexpected line at offset %ld: %s", pos, line);
        }
        /* Step past the newline that ends the last sample. */
        int ch = fgetc(f);
        if (ch != '\n' && ch != EOF)
            ungetc(ch, f);
        pos = ftell(f);
    }
    fclose(f);
    ck_assert_int_eq(resizes, 9);
    ck_assert_int_eq(preprocesses, 5);
}
END_TEST

/* The AVX-512 pass over shallow GEMMs (cpu/shallow_gemm.c) gives sgemm's bits: the
 * convolution, which takes it for its larger tiles, against its im2col columns through
 * sgemm and the epilogue (yl_conv_gemm_columns), with and without bias and residual, ReLU
 * or none, one and two threads; shapes whose tiles are all, some or none past OpenBLAS's
 * small-matrix size, ragged rows and columns, depths up to YL_SHALLOW_MAX_DEPTH (ResNet's
 * first stage: 64 -> 256 on 138x138; its 7x7 stride-2 stem, depth 147, at 550). The
 * convolutions other than pointwise ones gather their columns from the input as they pack
 * them: strides 1 and 2, 1x1 to 7x7, output rows of 8 to 275 columns (a 16-column chunk
 * over up to three rows), each border. */
START_TEST(shallow_tiles_match_sgemm)
{
    /* in, out channels, kernel, stride, input side */
    static const int shapes[][5] = {{64, 256, 1, 1, 138}, {64, 64, 1, 1, 138},
                                    {64, 32, 1, 1, 69},   {13, 37, 1, 1, 91},
                                    {64, 3, 1, 1, 200},   {32, 64, 1, 1, 37},
                                    {1, 24, 1, 1, 300},   {256, 64, 1, 1, 69},
                                    {200, 40, 1, 1, 75},  {3, 64, 7, 2, 211},
                                    {16, 48, 3, 1, 57},   {28, 20, 3, 2, 90},
                                    {256, 64, 1, 2, 69},  {64, 24, 1, 2, 137},
                                    {3, 64, 7, 2, 550},   {8, 40, 5, 2, 41},
                                    {3, 16, 7, 1, 40},    {16, 64, 3, 2, 27},
                                    {10, 128, 5, 1, 12}};
    uint64_t seed = 7;
    size_t bad = 0;
    for (size_t c = 0; c < sizeof shapes / sizeof *shapes; c++) {
        const int ci = shapes[c][0], m = shapes[c][1], kern = shapes[c][2], side = shapes[c][4];
        const yl_conv_desc d = {ci, m, kern, kern, shapes[c][3], kern / 2, 1};
        const int os = yl_conv_out_size(side, kern, d.stride, d.pad, 1), k = ci * kern * kern;
        const size_t n = (size_t)os * os;
        float *in = rand_floats((size_t)ci * side * side, &seed);
        float *w = rand_floats((size_t)m * k, &seed), *bias = rand_floats((size_t)m, &seed);
        float *res = rand_floats((size_t)m * n, &seed), *col = malloc(sizeof *col * k * n);
        float *got = malloc(sizeof *got * m * n), *want = malloc(sizeof *want * m * n);
        float *ws = malloc(sizeof *ws * (yl_conv2d_workspace_floats(&d, side, side) + 1));
        ck_assert(col && got && want && ws);
        yl_im2col(&d, in, side, side, os, 0, ci, 0, (int)n, col);
        for (int v = 0; v < 8; v++) {
            const float *b = v & 1 ? bias : NULL, *r = v & 2 ? res : NULL;
            const yl_activation act = v & 4 ? YL_ACT_RELU : YL_ACT_NONE;
            const int threads = 1 + (v & 1);
            yl_conv2d_cpu_gemm(YL_GEMM_AUTO, &d, in, side, side, w, b, r, act, got, ws,
                               threads);
            yl_conv_gemm_columns(YL_GEMM_AUTO, m, (int)n, k, w, col, b, r, act, want, threads);
            for (size_t i = 0; i < (size_t)m * n; i++)
                if (memcmp(&got[i], &want[i], sizeof got[i]) && bad++ < 5)
                    fprintf(stderr, "%dx%d k%d s%d on %dx%d, case %d, at %zu: %a, sgemm %a\n",
                            ci, m, kern, d.stride, side, side, v, i, (double)got[i],
                            (double)want[i]);
        }
        free(in), free(w), free(bias), free(res), free(col), free(got), free(want), free(ws);
    }
    ck_assert_uint_eq(bad, 0);
}
END_TEST

/* The head's expf and tanhf over arrays give libm's bits: every 4099th float bit pattern
 * (1 M values over all signs, exponents and both functions' branches) and the edges, in
 * arrays of odd lengths so the scalar tails run too. NaNs must stay NaNs. (Every one of the
 * 2^32 patterns matched on glibc 2.36, Zen 4, when this was written.) */
START_TEST(exp_tanh_match_libm)
{
    enum { STEP = 4099, CHUNK = 4093 };
    static const float edges[] = {0.0f, -0.0f, 1.0f, -1.0f, 22.0f, -22.0f, 88.0f, -88.0f,
                                  0x1p-55f, -0x1p-55f, 0x1p-25f, 0x1.62e42ep6f,
                                  -0x1.9fe368p6f, -0x1.9d1d9ep6f, INFINITY, -INFINITY, NAN};
    float in[CHUNK], got[CHUNK];
    size_t bad = 0;
    for (uint64_t base = 0; base < (1ull << 32); base += (uint64_t)CHUNK * STEP) {
        size_t n = 0;
        if (base == 0)
            for (; n < sizeof edges / sizeof *edges; n++)
                in[n] = edges[n];
        for (; n < CHUNK; n++) {
            uint32_t u = (uint32_t)(base + (uint64_t)n * STEP);
            memcpy(&in[n], &u, sizeof u);
        }
        for (int f = 0; f < 2; f++) {
            memcpy(got, in, sizeof got);
            (f ? yl_tanhf_inplace : yl_expf_inplace)(got, CHUNK);
            for (size_t i = 0; i < CHUNK; i++) {
                float want = f ? tanhf(in[i]) : expf(in[i]);
                if (memcmp(&want, &got[i], sizeof want) == 0 || (isnan(want) && isnan(got[i])))
                    continue;
                if (bad++ < 5)
                    fprintf(stderr, "%s(%a): %a, libm %a\n", f ? "tanhf" : "expf",
                            (double)in[i], (double)got[i], (double)want);
            }
        }
    }
    ck_assert_uint_eq(bad, 0);
}
END_TEST

/* yl_im2col (stride 2 copied by a vectorised loop, stride 1 by memcpy, others a float at a
 * time) against the im2col matrix written as a plain loop, exactly: kernels 1x1 to 7x7,
 * strides 1 to 3, padding and dilation, column slices that start and end inside rows, and
 * channel ranges. */
START_TEST(im2col_matches_plain_loop)
{
    /* in channels, kernel, stride, pad, dilation, input height, width */
    static const int shapes[][7] = {{3, 7, 2, 3, 1, 61, 77}, {5, 1, 2, 0, 1, 40, 69},
                                    {4, 3, 2, 1, 1, 35, 35}, {2, 3, 1, 1, 2, 20, 33},
                                    {3, 3, 3, 1, 1, 50, 47}, {2, 5, 2, 2, 1, 9, 100}};
    uint64_t seed = 5;
    size_t bad = 0;
    for (size_t c = 0; c < sizeof shapes / sizeof *shapes; c++) {
        const int ci = shapes[c][0], kern = shapes[c][1], ih = shapes[c][5], iw = shapes[c][6];
        const yl_conv_desc d = {ci, 1, kern, kern, shapes[c][2], shapes[c][3], shapes[c][4]};
        const int oh = yl_conv_out_size(ih, kern, d.stride, d.pad, d.dilation);
        const int ow = yl_conv_out_size(iw, kern, d.stride, d.pad, d.dilation);
        const int n = oh * ow, rows = ci * kern * kern;
        float *in = rand_floats((size_t)ci * ih * iw, &seed);
        float *got = malloc(sizeof *got * rows * n), *want = malloc(sizeof *want * rows * n);
        ck_assert(got && want);
        /* column slices [n0, n0 + nc): whole, from inside a row to inside another, the tail */
        const int slices[][2] = {{0, n}, {ow / 2 + 1, n / 3}, {n - ow - 3, ow + 3}};
        for (int sl = 0; sl < 3; sl++) {
            const int n0 = slices[sl][0], nc = slices[sl][1];
            const int c0 = sl == 1 ? 1 : 0, c1 = sl == 2 ? ci - 1 : ci;
            memset(got, 0xff, sizeof *got * rows * n);
            memset(want, 0xff, sizeof *want * rows * n);
            yl_im2col(&d, in, ih, iw, ow, c0, c1, n0, nc, got);
            for (int ch = c0; ch < c1; ch++)
                for (int kh = 0; kh < kern; kh++)
                    for (int kw = 0; kw < kern; kw++)
                        for (int q = n0; q < n0 + nc; q++) {
                            const int y = q / ow, x = q % ow;
                            const int iy = y * d.stride - d.pad + kh * d.dilation;
                            const int ix = x * d.stride - d.pad + kw * d.dilation;
                            const int row = (ch * kern + kh) * kern + kw;
                            want[(size_t)row * nc + (q - n0)] =
                                iy >= 0 && iy < ih && ix >= 0 && ix < iw
                                    ? in[((size_t)ch * ih + iy) * iw + ix] : 0.0f;
                        }
            for (size_t i = 0; i < (size_t)rows * n; i++)
                if (memcmp(&got[i], &want[i], sizeof got[i]) && bad++ < 5)
                    fprintf(stderr, "im2col case %zu slice %d at %zu: %a, loop %a\n", c, sl, i,
                            (double)got[i], (double)want[i]);
        }
        free(in), free(got), free(want);
    }
    ck_assert_uint_eq(bad, 0);
}
END_TEST

/* The head's output permute (cpu/head_ops.c), which runs the softmax and tanhf across a
 * block of cells, gives the bits of the plain per-prior loops it replaced (written out
 * here): the softmax and logits forms, one and two threads, planes that are not a multiple
 * of the block (1x1, 3x5, 18x18, 35x35), YOLACT++'s nine anchors, more classes than a block
 * takes (the per-prior loops on the maps in place), and a batch of two at the second
 * image's offset; logits of +-8, so the softmax's terms span e^-16 to 1. */
static void head_output_loops(const float *maps, int A, int C, int K, size_t plane,
                              float *loc, float *conf, float *coeff, int softmax)
{
    const float *loc_maps = maps, *conf_maps = maps + (size_t)4 * A * plane,
                *coeff_maps = conf_maps + (size_t)C * A * plane;
    for (size_t cell = 0; cell < plane; cell++)
        for (int a = 0; a < A; a++) {
            size_t p = cell * A + a;
            for (int d = 0; d < 4; d++)
                loc[p * 4 + d] = loc_maps[((size_t)a * 4 + d) * plane + cell];
            float *row = conf + p * C;
            float max = -INFINITY, sum = 0;
            for (int c = 0; c < C; c++) {
                row[c] = conf_maps[((size_t)a * C + c) * plane + cell];
                max = row[c] > max ? row[c] : max;
            }
            if (softmax) {
                for (int c = 0; c < C; c++)
                    row[c] -= max;
                yl_expf_inplace(row, (size_t)C);
                for (int c = 0; c < C; c++)
                    sum += row[c];
                float inv = 1.0f / sum;
                for (int c = 0; c < C; c++)
                    row[c] *= inv;
            }
            for (int k = 0; k < K; k++)
                coeff[p * K + k] = coeff_maps[((size_t)a * K + k) * plane + cell];
            yl_tanhf_inplace(coeff + p * K, (size_t)K);
        }
}

START_TEST(head_output_blocks_match_plain_loops)
{
    /* anchors, classes, prototypes, height, width */
    static const int shapes[][5] = {{3, 81, 32, 35, 35}, {3, 81, 32, 18, 18}, {1, 5, 3, 3, 5},
                                    {2, 7, 4, 1, 1},     {9, 81, 32, 9, 9},   {3, 3000, 32, 5, 7}};
    uint64_t seed = 11;
    size_t bad = 0;
    for (size_t c = 0; c < sizeof shapes / sizeof *shapes; c++) {
        const int A = shapes[c][0], C = shapes[c][1], K = shapes[c][2];
        const int h = shapes[c][3], w = shapes[c][4];
        const size_t plane = (size_t)h * w, priors = plane * A;
        const size_t maps_floats = (size_t)A * (4 + C + K) * plane;
        float *maps = rand_floats(2 * maps_floats, &seed);
        for (size_t i = 0; i < 2 * maps_floats; i++)
            maps[i] *= 8.0f;
        const size_t out_floats = 2 * priors * (4 + C + K);
        float *got = malloc(sizeof *got * out_floats), *want = malloc(sizeof *want * out_floats);
        ck_assert(got && want);
        for (int v = 0; v < 4; v++) {
            const int softmax = v & 1, threads = 1 + (v >> 1);
            float *loc[2], *conf[2], *coeff[2];
            for (int o = 0; o < 2; o++) {
                float *base = o ? want : got;
                memset(base, 0xff, sizeof *base * out_floats);
                loc[o] = base, conf[o] = base + 2 * priors * 4;
                coeff[o] = conf[o] + 2 * priors * C;
            }
            if (softmax)
                yl_head_output_cpu(maps, A, C, K, h, w, 2, priors, loc[0], conf[0], coeff[0],
                                   threads);
            else
                yl_head_output_logits_cpu(maps, A, C, K, h, w, loc[0], conf[0], coeff[0],
                                          threads);
            for (int b = 0; b < (softmax ? 2 : 1); b++)
                head_output_loops(maps + b * maps_floats, A, C, K, plane, loc[1] + b * priors * 4,
                                  conf[1] + b * priors * C, coeff[1] + b * priors * K, softmax);
            for (size_t i = 0; i < out_floats; i++)
                if (memcmp(&got[i], &want[i], sizeof got[i]) && bad++ < 5)
                    fprintf(stderr, "head A%d C%d K%d %dx%d, case %d, at %zu: %a, loops %a\n",
                            A, C, K, h, w, v, i, (double)got[i], (double)want[i]);
        }
        free(maps), free(got), free(want);
    }
    ck_assert_uint_eq(bad, 0);
}
END_TEST

/* The protonet's output permute, read a block of pixels at a time, against the plain loop:
 * planes that are and are not a multiple of the block, one to 33 channels, a batch of 2. */
START_TEST(proto_output_matches_plain_loop)
{
    static const int shapes[][3] = {{32, 69, 69}, {1, 1, 1}, {33, 3, 5}, {7, 16, 2}};
    uint64_t seed = 13;
    size_t bad = 0;
    for (size_t c = 0; c < sizeof shapes / sizeof *shapes; c++) {
        const int k = shapes[c][0], h = shapes[c][1], w = shapes[c][2];
        const size_t plane = (size_t)h * w, n = 2 * plane * k;
        float *in = rand_floats(n, &seed), *got = malloc(sizeof *got * n);
        ck_assert_ptr_nonnull(got);
        yl_proto_output_cpu(in, k, h, w, 2, got);
        for (size_t b = 0; b < 2; b++)
            for (size_t p = 0; p < plane; p++)
                for (int ch = 0; ch < k; ch++) {
                    const size_t i = (b * plane + p) * k + ch;
                    if (memcmp(&got[i], &in[(b * k + ch) * plane + p], sizeof got[i]) &&
                        bad++ < 5)
                        fprintf(stderr, "proto %dx%dx%d at %zu: %a\n", k, h, w, i,
                                (double)got[i]);
                }
        free(in), free(got);
    }
    ck_assert_uint_eq(bad, 0);
}
END_TEST

Suite *dense_ops_suite(void)
{
    Suite *s = suite_create("dense_ops");
    /* The convolution sweeps (every GEMM kind, thread count, activation and residual mode on
     * each shape, against double loops): tagged "slow", which CI's valgrind run leaves out;
     * ASan runs them. */
    TCase *sweeps = tcase_create("conv_sweeps");
    tcase_set_tags(sweeps, "slow");
    tcase_set_timeout(sweeps, 600);
    tcase_add_loop_test(sweeps, gemm_matches_double, 0, 3);
    tcase_add_loop_test(sweeps, conv_matches_direct_loops, 0,
                        (int)(sizeof conv_cases / sizeof conv_cases[0]));
    tcase_add_loop_test(sweeps, winograd_matches_direct_loops, 0,
                        (int)(sizeof wino_cases / sizeof wino_cases[0]));
    suite_add_tcase(s, sweeps);
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, conv_out_size_matches_pytorch);
    tcase_add_test(tc, prepared_weights_only_for_winograd_shapes);
    tcase_add_test(tc, conv_public_entry_uses_all_cores_when_zero);
    tcase_add_test(tc, maxpool_matches_direct_loop);
    tcase_add_test(tc, blocked_pool_and_resize_match_plain);
    tcase_add_test(tc, bilinear_axis_halfway_and_copy);
    tcase_add_test(tc, resize_and_preprocess_match_pytorch);
    tcase_add_test(tc, exp_tanh_match_libm);
    tcase_add_test(tc, shallow_tiles_match_sgemm);
    tcase_add_test(tc, im2col_matches_plain_loop);
    tcase_add_test(tc, head_output_blocks_match_plain_loops);
    tcase_add_test(tc, proto_output_matches_plain_loop);
    suite_add_tcase(s, tc);
    return s;
}
