/* Tests of the network's kernels (kernels/conv.cu, pool.cu, resize.cu, head.cu) against
 * their CPU reference ops, on random and edge-case shapes, under the CUDA emulation in CI.
 * Tolerances:
 *   maxpool, resize, add, head and proto permutes: bit-identical (the CPU's float operations
 *   in the CPU's order; expf/tanhf are the C library's in the emulation, see yl_kernels.h
 *   for the GPU's);
 *   convolution, relative to sum|terms| = sum_k |w x| + |bias| + |residual| per output:
 *   FP32 1e-5 (both sides are float sums of K products in different orders: each within
 *   ~K eps of the exact sum in the worst case, ~sqrt(K) eps typically; K <= 2304 here);
 *   FP16 2^-9 + 1e-5 absolute: w and x are rounded to half (relative error <= 2^-11 each,
 *   so each product is within ~2^-10 of its float value) and accumulated in float, so the
 *   error is below 2^-10 sum|terms| plus the float sums' ~1e-5; twice that bound, so a real
 *   indexing or fragment-layout error (of the order of the terms themselves) always fails;
 *   the absolute part covers inputs below half's normal range (flushed to 2^-24 steps).
 * Plus the emulated tensor-core MMA against a scalar matmul, and planted fragment-layout
 * errors that it must expose. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/dense_ops.h"
#include "cpu/head_ops.h"
#include "yl_kernels.h"
#include "yl_cuda_test.h"

#ifdef YL_CUDA_EMULATION
#include "emu_selftest.h"
#endif

static float *rand_floats(uint64_t *rng, size_t n, float lo, float hi)
{
    float *p = xmalloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = yl_test_rand(rng, lo, hi);
    return p;
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- maxpool ------------------------------------------------------------------------------ */
START_TEST(test_maxpool)
{
    static const struct { int c, h, w, kernel, stride, pad; } cases[] = {
        {1, 1, 1, 1, 1, 0}, {3, 7, 9, 3, 2, 1}, {5, 13, 11, 2, 2, 0}, {2, 5, 5, 5, 1, 2},
        {3, 8, 3, 3, 1, 1}, {64, 69, 69, 3, 2, 1}, {4, 33, 65, 3, 2, 1}, {1, 2, 2, 3, 3, 1}};
    uint64_t rng = 0x51ed2701a3c4b7d9ull;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int c = cases[i].c, h = cases[i].h, w = cases[i].w, k = cases[i].kernel;
        int s = cases[i].stride, p = cases[i].pad;
        int oh = yl_conv_out_size(h, k, s, p, 1), ow = yl_conv_out_size(w, k, s, p, 1);
        size_t n_in = (size_t)c * h * w, n_out = (size_t)c * oh * ow;
        float *in = rand_floats(&rng, n_in, -4.0f, 4.0f);
        /* Ties of signed zeros, infinities and NaNs resolve by order: plant some. */
        for (size_t j = 0; j < n_in; j += 7) {
            static const float specials[] = {0.0f, -0.0f, -INFINITY, INFINITY, NAN, -NAN};
            in[j] = specials[j / 7 % 6];
        }
        float *want = xmalloc(n_out * 4), *got = xmalloc(n_out * 4);
        yl_maxpool2d_cpu(in, c, h, w, k, s, p, want, oh, ow);
        float *d_in = to_dev(in, n_in * 4), *d_out = dev_alloc(n_out * 4);
        ck_assert_status(yl_maxpool2d_cuda(d_in, c, h, w, k, s, p, d_out, oh, ow, NULL),
                         YOLACT_OK);
        from_dev(got, d_out, n_out * 4);
        char what[96];
        snprintf(what, sizeof what, "maxpool %dx%dx%d kernel %d stride %d pad %d", c, h, w, k,
                 s, p);
        assert_floats_equal(got, want, n_out, what);
        cudaFree(d_in);
        cudaFree(d_out);
        free(in);
        free(want);
        free(got);
    }
    ck_assert_status(yl_maxpool2d_cuda(NULL, 0, 0, 0, 3, 2, 1, NULL, 0, 0, NULL), YOLACT_OK);
    ck_assert_status(yl_maxpool2d_cuda(NULL, 1, 4, 4, 0, 1, 0, NULL, 4, 4, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
}
END_TEST

/* ---- resize and add ------------------------------------------------------------------------ */
START_TEST(test_resize_bilinear)
{
    static const struct { int c, ih, iw, oh, ow; } cases[] = {
        {1, 1, 1, 1, 1}, {3, 5, 7, 10, 14}, {2, 69, 69, 138, 138}, {4, 35, 35, 69, 69},
        {1, 9, 4, 3, 17}, {2, 18, 18, 35, 35}, {3, 6, 6, 6, 6}, {1, 1, 5, 7, 1}};
    uint64_t rng = 0x0ddc0ffee15badull;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int c = cases[i].c, ih = cases[i].ih, iw = cases[i].iw, oh = cases[i].oh, ow = cases[i].ow;
        size_t n_in = (size_t)c * ih * iw, n_out = (size_t)c * oh * ow;
        float *in = rand_floats(&rng, n_in, -3.0f, 3.0f);
        float *want = xmalloc(n_out * 4), *got = xmalloc(n_out * 4);
        void *ws = xmalloc(yl_resize_workspace_bytes(oh, ow));
        yl_resize_bilinear_cpu(in, c, ih, iw, want, oh, ow, ws);
        float *d_in = to_dev(in, n_in * 4), *d_out = dev_alloc(n_out * 4);
        void *d_ws = dev_alloc(yl_resize_cuda_workspace_bytes(oh, ow));
        ck_assert_status(yl_resize_bilinear_cuda(d_in, c, ih, iw, d_out, oh, ow, d_ws, NULL),
                         YOLACT_OK);
        from_dev(got, d_out, n_out * 4);
        char what[96];
        snprintf(what, sizeof what, "resize %dx%dx%d -> %dx%d", c, ih, iw, oh, ow);
        assert_floats_equal(got, want, n_out, what);
        cudaFree(d_in);
        cudaFree(d_out);
        cudaFree(d_ws);
        free(in);
        free(want);
        free(got);
        free(ws);
    }
    ck_assert_status(yl_resize_bilinear_cuda(NULL, 1, 0, 4, NULL, 4, 4, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_add)
{
    static const size_t sizes[] = {0, 1, 255, 256, 257, 100003};
    uint64_t rng = 0x1234567887654321ull;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        float *a = rand_floats(&rng, n, -5.0f, 5.0f), *b = rand_floats(&rng, n, -5.0f, 5.0f);
        float *want = xmalloc(n * 4), *got = xmalloc(n * 4);
        for (size_t j = 0; j < n; j++)
            want[j] = a[j] + b[j];
        float *d_a = to_dev(a, n * 4), *d_b = to_dev(b, n * 4), *d_out = dev_alloc(n * 4);
        ck_assert_status(yl_add_cuda(d_a, d_b, n, d_out, NULL), YOLACT_OK);
        from_dev(got, d_out, n * 4);
        assert_floats_equal(got, want, n, "add");
        /* In place: out aliases a. */
        ck_assert_status(yl_add_cuda(d_a, d_b, n, d_a, NULL), YOLACT_OK);
        from_dev(got, d_a, n * 4);
        assert_floats_equal(got, want, n, "add in place");
        cudaFree(d_a);
        cudaFree(d_b);
        cudaFree(d_out);
        free(a);
        free(b);
        free(want);
        free(got);
    }
    ck_assert_status(yl_add_cuda(NULL, NULL, 5, NULL, NULL), YOLACT_ERR_INVALID_ARGUMENT);
}
END_TEST

/* ---- head permutes ---------------------------------------------------------------------- */
/* Each case runs as a batch of two images whose output rows sit in arrays of more priors
 * than the level's (a gap of 3 priors after each image's level, as the other levels are):
 * each image must equal the CPU's, and the gaps must be left alone. */
START_TEST(test_head_output)
{
    static const struct { int a, c, k, h, w; } cases[] = {
        {1, 1, 1, 1, 1}, {3, 5, 4, 7, 9}, {9, 81, 32, 5, 5}, {3, 2, 0, 3, 3}, {3, 81, 32, 35, 35},
        {3, 81, 32, 1, 2}};
    enum { BATCH = 2, GAP = 3 };
    uint64_t rng = 0xfeedfacecafebeefull;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int A = cases[i].a, C = cases[i].c, K = cases[i].k, H = cases[i].h, W = cases[i].w;
        size_t priors = (size_t)A * H * W, n_maps = priors * (4 + C + K);
        size_t image_priors = priors + GAP;
        float *maps = rand_floats(&rng, BATCH * n_maps, -12.0f, 12.0f);
        maps[n_maps / 2] = 80.0f;     /* expf of the difference to the max underflows */
        const int per_prior[3] = {4, C, K};
        float *want[3], *got[3], *dev[3];
        for (int j = 0; j < 3; j++) {
            size_t n = BATCH * image_priors * per_prior[j];
            want[j] = xmalloc(n * 4 + 4);
            got[j] = xmalloc(n * 4 + 4);
            for (size_t e = 0; e < n; e++)
                want[j][e] = -7.5f;   /* the gaps keep this */
            dev[j] = to_dev(want[j], n * 4 + 4);
        }
        for (int b = 0; b < BATCH; b++)
            yl_head_output_cpu(maps + b * n_maps, A, C, K, H, W,
                               want[0] + b * image_priors * 4, want[1] + b * image_priors * C,
                               want[2] + b * image_priors * K, 1);
        float *d_maps = to_dev(maps, BATCH * n_maps * 4);
        ck_assert_status(yl_head_output_cuda(d_maps, A, C, K, H, W, BATCH, image_priors, dev[0],
                                             dev[1], dev[2], NULL),
                         YOLACT_OK);
        static const char *const names[3] = {"loc", "conf", "coeff"};
        for (int j = 0; j < 3; j++) {
            size_t n = BATCH * image_priors * per_prior[j];
            from_dev(got[j], dev[j], n * 4);
            char what[96];
            snprintf(what, sizeof what, "head output A %d C %d K %d %dx%d, batch of %d: %s", A,
                     C, K, H, W, BATCH, names[j]);
            /* loc is copied. On a GPU conf's factors, an expf (2 ulps) and the reciprocal of
             * a sum of C of them (2 + C / 2, and 1 for the division), differ from the CPU's,
             * 1 ulp more for the product: 6 + C / 2 ulps of the factors, twice that in ulps
             * of the result (a binade apart at most); coeff is a tanhf: 2 ulps, 1 the C
             * library's. */
            const int ulps = YL_LIBC_TRANSCENDENTALS || j == 0 ? 0 : j == 1 ? 12 + C : 3;
            assert_floats_within_ulps(got[j], want[j], n, ulps, what);
            cudaFree(dev[j]);
            free(want[j]);
            free(got[j]);
        }
        cudaFree(d_maps);
        free(maps);
    }
    ck_assert_status(yl_head_output_cuda(NULL, 3, 81, 32, 2, 2, 1, 12, NULL, NULL, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    float *x = dev_alloc(4 * 12 * (4 + 81 + 32));
    ck_assert_status(yl_head_output_cuda(x, 3, 81, 32, 2, 2, 1, 11, x, x, x, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);     /* fewer priors than the level's */
    ck_assert_status(yl_head_output_cuda(x, 3, 81, 32, 2, 2, 0, 12, x, x, x, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    cudaFree(x);
}
END_TEST

/* Batches of two: both images transposed, each in its own (K, H, W) slot. */
START_TEST(test_proto_output)
{
    static const struct { int k, h, w; } cases[] = {
        {32, 138, 138}, {1, 1, 1}, {33, 5, 7}, {31, 33, 3}, {64, 1, 65}, {0, 3, 3}};
    enum { BATCH = 2 };
    uint64_t rng = 0xabcdef0123456789ull;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int K = cases[i].k, H = cases[i].h, W = cases[i].w;
        size_t n = (size_t)K * H * W;
        float *in = rand_floats(&rng, BATCH * n, 0.0f, 3.0f);
        float *want = xmalloc(BATCH * n * 4 + 4), *got = xmalloc(BATCH * n * 4 + 4);
        for (int b = 0; b < BATCH; b++)
            yl_proto_output_cpu(in + b * n, K, H, W, want + b * n);
        float *d_in = to_dev(in, BATCH * n * 4), *d_out = dev_alloc(BATCH * n * 4 + 4);
        ck_assert_status(yl_proto_output_cuda(d_in, K, H, W, BATCH, d_out, NULL), YOLACT_OK);
        from_dev(got, d_out, BATCH * n * 4);
        char what[64];
        snprintf(what, sizeof what, "proto output %dx%dx%d, batch of %d", K, H, W, BATCH);
        assert_floats_equal(got, want, BATCH * n, what);
        cudaFree(d_in);
        cudaFree(d_out);
        free(in);
        free(want);
        free(got);
    }
    ck_assert_status(yl_proto_output_cuda(NULL, 32, 3, 3, 0, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
}
END_TEST

/* ---- convolution ------------------------------------------------------------------------- */
typedef struct conv_case {
    int cin, cout, kh, kw, stride, pad, dil, h, w;
    yl_activation act;
    int bias, residual;     /* residual: 0 none, 1 a separate buffer, 2 aliasing out */
} conv_case;

static const char *precision_name(yolact_precision p)
{
    return p == YOLACT_PRECISION_FP16 ? "FP16" : "FP32";
}

/* Runs one case in one precision against yl_conv2d_cpu; returns the kernel's seconds. */
static double check_conv(uint64_t *rng, const conv_case *cc, yolact_precision prec)
{
    yl_conv_desc d = {cc->cin, cc->cout, cc->kh, cc->kw, cc->stride, cc->pad, cc->dil};
    int oh = yl_conv_out_size(cc->h, cc->kh, cc->stride, cc->pad, cc->dil);
    int ow = yl_conv_out_size(cc->w, cc->kw, cc->stride, cc->pad, cc->dil);
    size_t K = (size_t)cc->cin * cc->kh * cc->kw, n_w = (size_t)cc->cout * K;
    size_t n_in = (size_t)cc->cin * cc->h * cc->w, plane = (size_t)oh * ow;
    size_t n_out = (size_t)cc->cout * plane;
    float *in = rand_floats(rng, n_in, -1.0f, 1.0f), *w = rand_floats(rng, n_w, -0.5f, 0.5f);
    float *bias = cc->bias ? rand_floats(rng, cc->cout, -1.0f, 1.0f) : NULL;
    float *res = cc->residual ? rand_floats(rng, n_out, -2.0f, 2.0f) : NULL;
    float *want = xmalloc(n_out * 4), *got = xmalloc(n_out * 4);
    float *ws = xmalloc(yl_conv2d_workspace_floats(&d, cc->h, cc->w) * 4);
    yl_conv2d_cpu(&d, in, cc->h, cc->w, w, bias, res, cc->act, want, ws, 0);

    size_t packed_bytes = yl_conv2d_cuda_packed_bytes(&d, prec);
    ck_assert_uint_gt(packed_bytes, 0);
    void *packed = xmalloc(packed_bytes);
    yl_conv2d_cuda_pack(&d, w, prec, packed);
    float *d_in = to_dev(in, n_in * 4), *d_bias = bias ? to_dev(bias, cc->cout * 4) : NULL;
    void *d_w = to_dev(packed, packed_bytes);
    float *d_out = cc->residual == 2 ? to_dev(res, n_out * 4) : dev_alloc(n_out * 4);
    float *d_res = cc->residual == 1 ? to_dev(res, n_out * 4) : cc->residual == 2 ? d_out : NULL;
    void *d_ws = conv_workspace(&d, 1, cc->h, cc->w, prec);
    double t0 = seconds_now();
    ck_assert_status(yl_conv2d_cuda(&d, d_in, 1, cc->h, cc->w, d_w, prec, d_bias, d_res, cc->act,
                                    d_out, d_ws, NULL), YOLACT_OK);
    double elapsed = seconds_now() - t0;
    from_dev(got, d_out, n_out * 4);

    const double rtol = prec == YOLACT_PRECISION_FP16 ? 1.0 / 512 : 1e-5;
    const double atol = prec == YOLACT_PRECISION_FP16 ? 1e-5 : 0.0;
    for (int m = 0; m < cc->cout; m++) {
        for (size_t p = 0; p < plane; p++) {
            int oy = (int)(p / ow), ox = (int)(p % ow);
            double mag = (bias ? fabs(bias[m]) : 0.0) + (res ? fabs(res[m * plane + p]) : 0.0);
            for (int ci = 0; ci < cc->cin; ci++)
                for (int ky = 0; ky < cc->kh; ky++)
                    for (int kx = 0; kx < cc->kw; kx++) {
                        int iy = oy * cc->stride - cc->pad + ky * cc->dil;
                        int ix = ox * cc->stride - cc->pad + kx * cc->dil;
                        if (iy < 0 || iy >= cc->h || ix < 0 || ix >= cc->w)
                            continue;
                        mag += fabs((double)w[((size_t)m * cc->cin + ci) * cc->kh * cc->kw +
                                              ky * cc->kw + kx] *
                                    in[((size_t)ci * cc->h + iy) * cc->w + ix]);
                    }
            double tol = rtol * mag + atol;
            float g = got[m * plane + p], r = want[m * plane + p];
            double err = fabs((double)g - r);
            if (!(err <= tol))
                ck_abort_msg("conv %s %d->%d %dx%d stride %d pad %d dilation %d on %dx%d, act %d, "
                             "bias %d, residual %d: channel %d pixel (%d, %d) is %.9g, the CPU's "
                             "%.9g (|diff| %.3g > tolerance %.3g)", precision_name(prec),
                             cc->cin, cc->cout, cc->kh, cc->kw, cc->stride, cc->pad, cc->dil,
                             cc->h, cc->w, (int)cc->act, cc->bias, cc->residual, m, oy, ox, g,
                             r, err, tol);
        }
    }
    cudaFree(d_ws);
    cudaFree(d_in);
    cudaFree(d_bias);
    cudaFree(d_w);
    cudaFree(d_out);
    if (cc->residual == 1)
        cudaFree(d_res);
    free(in);
    free(w);
    free(bias);
    free(res);
    free(want);
    free(got);
    free(ws);
    free(packed);
    return elapsed;
}

static const conv_case conv_cases[] = {
    {3, 5, 3, 3, 1, 1, 1, 7, 9, YL_ACT_RELU, 1, 0},
    {1, 1, 1, 1, 1, 0, 1, 1, 1, YL_ACT_NONE, 0, 0},
    {63, 65, 3, 3, 1, 1, 1, 13, 11, YL_ACT_LEAKY_RELU_0_1, 1, 1},     /* tile edges in M, K */
    {65, 63, 1, 1, 1, 0, 1, 8, 8, YL_ACT_NONE, 0, 2},                 /* residual aliases out */
    {64, 64, 3, 3, 2, 1, 1, 17, 17, YL_ACT_RELU, 1, 0},               /* stride 2 */
    {7, 9, 5, 3, 2, 2, 2, 15, 12, YL_ACT_LEAKY_RELU_0_1, 1, 1},       /* 5x3, dilation 2 */
    {16, 351, 3, 3, 1, 1, 1, 5, 5, YL_ACT_NONE, 1, 0},                /* a head: 3 (4+81+32) */
    {8, 8, 1, 1, 1, 0, 1, 64, 65, YL_ACT_RELU, 1, 2},                 /* 65 pixel tiles */
    {32, 32, 3, 3, 1, 1, 1, 63, 1, YL_ACT_RELU, 0, 1},                /* one column */
    {5, 3, 1, 1, 2, 1, 1, 9, 10, YL_ACT_NONE, 1, 1},                  /* 1x1 stride 2 padded */
    {6, 10, 1, 7, 1, 0, 1, 5, 11, YL_ACT_RELU, 1, 0},                 /* 1x7: wide tap steps */
    {9, 4, 2, 2, 2, 0, 1, 8, 8, YL_ACT_NONE, 0, 0},                   /* 2x2 stride 2 */
    {5, 7, 3, 1, 1, 3, 3, 10, 6, YL_ACT_LEAKY_RELU_0_1, 0, 1},        /* 3x1 dilation 3 */
    /* FP16 takes the (H, W, C) path from here (and for 64->64, 16->351, 32->32 above): */
    {8, 70, 3, 3, 1, 1, 1, 9, 13, YL_ACT_LEAKY_RELU_0_1, 1, 1},       /* a tap a group, K 72 */
    {24, 40, 5, 3, 2, 2, 2, 12, 10, YL_ACT_RELU, 1, 2},               /* 5x3, groups across taps */
    {256, 64, 3, 3, 1, 1, 1, 6, 7, YL_ACT_NONE, 1, 0},                /* 72 k tiles in flight */
    {40, 8, 3, 3, 1, 0, 1, 3, 3, YL_ACT_RELU, 0, 0},                  /* one pixel, no padding */
};

START_TEST(test_conv_fp32)
{
    uint64_t rng = 0x3141592653589793ull;
    for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++)
        check_conv(&rng, &conv_cases[i], YOLACT_PRECISION_FP32);
}
END_TEST

START_TEST(test_conv_fp16)
{
    uint64_t rng = 0x2718281828459045ull;
    for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++)
        check_conv(&rng, &conv_cases[i], YOLACT_PRECISION_FP16);
}
END_TEST

/* A batch is the same kernel on each image: every image of a batched call equals the call
 * on that image alone, bit for bit (the single-image results are checked against the CPU
 * above), with a separate and an aliased residual. */
static void check_conv_batch(uint64_t *rng, const conv_case *cc, int batch, yolact_precision prec)
{
    yl_conv_desc d = {cc->cin, cc->cout, cc->kh, cc->kw, cc->stride, cc->pad, cc->dil};
    int oh = yl_conv_out_size(cc->h, cc->kh, cc->stride, cc->pad, cc->dil);
    int ow = yl_conv_out_size(cc->w, cc->kw, cc->stride, cc->pad, cc->dil);
    size_t n_in = (size_t)cc->cin * cc->h * cc->w, n_out = (size_t)cc->cout * oh * ow;
    size_t n_w = (size_t)cc->cout * cc->cin * cc->kh * cc->kw;
    float *in = rand_floats(rng, n_in * batch, -1.0f, 1.0f), *w = rand_floats(rng, n_w, -0.5f, 0.5f);
    float *bias = rand_floats(rng, cc->cout, -1.0f, 1.0f);
    float *res = rand_floats(rng, n_out * batch, -2.0f, 2.0f);
    float *got = xmalloc(n_out * batch * 4), *alone = xmalloc(n_out * 4);
    void *packed = xmalloc(yl_conv2d_cuda_packed_bytes(&d, prec));
    yl_conv2d_cuda_pack(&d, w, prec, packed);
    float *d_in = to_dev(in, n_in * batch * 4), *d_bias = to_dev(bias, cc->cout * 4);
    void *d_w = to_dev(packed, yl_conv2d_cuda_packed_bytes(&d, prec));
    float *d_res = to_dev(res, n_out * batch * 4), *d_out = dev_alloc(n_out * batch * 4);
    void *d_ws = conv_workspace(&d, batch, cc->h, cc->w, prec);
    for (int aliased = 0; aliased < 2; aliased++) {
        if (aliased) /* the residual is the output buffer itself */
            ck_assert_int_eq(cudaMemcpy(d_out, res, n_out * batch * 4, cudaMemcpyHostToDevice),
                             cudaSuccess);
        ck_assert_status(yl_conv2d_cuda(&d, d_in, batch, cc->h, cc->w, d_w, prec, d_bias,
                                        aliased ? d_out : d_res, cc->act, d_out, d_ws, NULL),
                         YOLACT_OK);
        from_dev(got, d_out, n_out * batch * 4);
        for (int b = 0; b < batch; b++) {
            ck_assert_status(yl_conv2d_cuda(&d, d_in + n_in * b, 1, cc->h, cc->w, d_w, prec,
                                            d_bias, d_res + n_out * b, cc->act, d_out, d_ws,
                                            NULL),
                             YOLACT_OK);
            from_dev(alone, d_out, n_out * 4);
            char what[96];
            snprintf(what, sizeof what, "conv %s %d->%d, image %d of %d (residual %s)",
                     precision_name(prec), cc->cin, cc->cout, b, batch,
                     aliased ? "aliasing out" : "separate");
            assert_floats_equal(got + n_out * b, alone, n_out, what);
        }
    }
    cudaFree(d_in);
    cudaFree(d_bias);
    cudaFree(d_w);
    cudaFree(d_res);
    cudaFree(d_out);
    cudaFree(d_ws);
    free(in);
    free(w);
    free(bias);
    free(res);
    free(got);
    free(alone);
    free(packed);
}

START_TEST(test_conv_batch)
{
    uint64_t rng = 0x1618033988749895ull;
    for (int p = 0; p < 2; p++) {
        yolact_precision prec = p ? YOLACT_PRECISION_FP16 : YOLACT_PRECISION_FP32;
        check_conv_batch(&rng, &conv_cases[2], 3, prec);  /* tile edges in M and K */
        check_conv_batch(&rng, &conv_cases[5], 2, prec);  /* 5x3, stride and dilation 2 */
        check_conv_batch(&rng, &conv_cases[14], 3, prec); /* FP16: the (H, W, C) path */
    }
}
END_TEST

/* The protonet's convolution at the parity network's width (64 channels, 3x3 on P3 69x69),
 * both precisions; with YL_EMU_TIMING=1 in the environment also the full model's (256
 * channels, 5.6 GFLOP) and the emulated times on stderr. Measured on the 2-core CI-class
 * machine, others sharing it (load 3-5): 64 -> 64: FP32 0.05-0.1 s, FP16 0.13 s;
 * 256 -> 256: FP32 0.9 s, FP16 2.1 s (the MMA collectives dominate FP16). */
START_TEST(test_conv_protonet_sized)
{
    uint64_t rng = 0x0123456789abcdefull;
    const conv_case small = {64, 64, 3, 3, 1, 1, 1, 69, 69, YL_ACT_RELU, 1, 0};
    const conv_case big = {256, 256, 3, 3, 1, 1, 1, 69, 69, YL_ACT_RELU, 1, 0};
    int timing = getenv("YL_EMU_TIMING") != NULL;
    for (int full = 0; full <= timing; full++) {
        for (int p = 0; p < 2; p++) {
            yolact_precision prec = p ? YOLACT_PRECISION_FP16 : YOLACT_PRECISION_FP32;
            double s = check_conv(&rng, full ? &big : &small, prec);
            if (timing)
                fprintf(stderr, "conv %s %d->%d 3x3 on 69x69: %.3f s\n", precision_name(prec),
                        full ? 256 : 64, full ? 256 : 64, s);
        }
    }
}
END_TEST

START_TEST(test_conv_arguments)
{
    yl_conv_desc d = {4, 4, 3, 3, 1, 1, 1};
    float x, aligned[8] __attribute__((aligned(16))) = {0};  /* packed weights */
    ck_assert_uint_eq(yl_conv2d_cuda_packed_bytes(&d, YOLACT_PRECISION_DEFAULT), 0);
    ck_assert_uint_eq(yl_conv2d_cuda_packed_bytes(NULL, YOLACT_PRECISION_FP32), 0);
    ck_assert_status(yl_conv2d_cuda(&d, &x, 1, 4, 4, aligned, YOLACT_PRECISION_DEFAULT, NULL, NULL,
                                    YL_ACT_NONE, &x + 1, NULL, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_conv2d_cuda(&d, &x, 1, 4, 4, aligned, YOLACT_PRECISION_FP32, NULL, NULL,
                                    YL_ACT_NONE, &x, NULL, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    /* Packed weights not 16-byte aligned. */
    ck_assert_status(yl_conv2d_cuda(&d, &x, 1, 4, 4, aligned + 1, YOLACT_PRECISION_FP32, NULL,
                                    NULL, YL_ACT_NONE, &x + 1, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_conv2d_cuda(&d, &x, 0, 4, 4, aligned, YOLACT_PRECISION_FP32, NULL, NULL,
                                    YL_ACT_NONE, &x + 1, NULL, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    d.stride = 0;
    ck_assert_status(yl_conv2d_cuda(&d, &x, 1, 4, 4, aligned, YOLACT_PRECISION_FP32, NULL, NULL,
                                    YL_ACT_NONE, &x + 1, NULL, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    /* The (H, W, C) path's workspace: FP16, channels in groups of 8, more than one tap. */
    yl_conv_desc h = {8, 4, 3, 3, 1, 1, 1}, one = {8, 4, 1, 1, 1, 0, 1};
    yl_conv_desc odd = {12, 4, 3, 3, 1, 1, 1};
    ck_assert_uint_eq(yl_conv2d_cuda_workspace_bytes(&h, 2, 5, 7, YOLACT_PRECISION_FP16),
                      2 * 5 * 7 * 8 * 2);
    ck_assert_uint_eq(yl_conv2d_cuda_workspace_bytes(&h, 2, 5, 7, YOLACT_PRECISION_FP32), 0);
    ck_assert_uint_eq(yl_conv2d_cuda_workspace_bytes(&one, 2, 5, 7, YOLACT_PRECISION_FP16), 0);
    ck_assert_uint_eq(yl_conv2d_cuda_workspace_bytes(&odd, 2, 5, 7, YOLACT_PRECISION_FP16), 0);
    ck_assert_uint_eq(yl_conv2d_cuda_workspace_bytes(&h, 0, 5, 7, YOLACT_PRECISION_FP16), 0);
    ck_assert_status(yl_conv2d_cuda(&h, &x, 1, 4, 4, aligned, YOLACT_PRECISION_FP16, NULL, NULL,
                                    YL_ACT_NONE, &x + 1, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_conv2d_cuda(&h, &x, 1, 4, 4, aligned, YOLACT_PRECISION_FP16, NULL, NULL,
                                    YL_ACT_NONE, &x + 1, aligned + 1, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(yolact_last_error(), "needs a 16-byte aligned workspace"));
    /* A kernel larger than the unpadded input: an empty output, nothing to do. */
    yl_conv_desc e = {2, 2, 5, 5, 1, 0, 1};
    ck_assert_status(yl_conv2d_cuda(&e, &x, 1, 3, 3, aligned, YOLACT_PRECISION_FP16, NULL, NULL,
                                    YL_ACT_NONE, &x + 1, NULL, NULL), YOLACT_OK);
}
END_TEST

#ifdef YL_CUDA_EMULATION
/* ---- the emulated MMA ---------------------------------------------------------------------- */
/* The largest |d - (a b + c)| for d, c (m x n), a (m x 16), b (16 x n), row-major. */
static double matmul_error(const float *d, const float *a, const float *b, const float *c,
                           int m, int n)
{
    double worst = 0.0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = c[i * n + j];
            for (int k = 0; k < 16; k++)
                s += (double)a[i * 16 + k] * b[k * n + j];
            double e = fabs(d[i * n + j] - s);
            worst = e > worst ? e : worst;
        }
    return worst;
}

/* Multiples of 1/64 in [-2, 2) (exact in half) for a and b, any floats for c. */
static void mma_operands(uint64_t *rng, float *a, int na, float *b, int nb, float *c, int nc)
{
    for (int i = 0; i < na; i++)
        a[i] = floorf(yl_test_rand(rng, -128.0f, 128.0f)) / 64.0f;
    for (int i = 0; i < nb; i++)
        b[i] = floorf(yl_test_rand(rng, -128.0f, 128.0f)) / 64.0f;
    for (int i = 0; i < nc; i++)
        c[i] = yl_test_rand(rng, -4.0f, 4.0f);
}

/* Runs yl_emu_selftest_mma (one m16n8k16); returns matmul_error of its result. */
static double mma_error(int variant, const float *a, const float *b, const float *c)
{
    float *d_a = to_dev(a, 256 * 4), *d_b = to_dev(b, 128 * 4), *d_c = to_dev(c, 128 * 4);
    float *d_d = dev_alloc(128 * 4), got[128];
    ck_assert_cuda(yl_emu_selftest_mma(d_a, d_b, d_c, d_d, variant, 32));
    from_dev(got, d_d, sizeof got);
    cudaFree(d_a);
    cudaFree(d_b);
    cudaFree(d_c);
    cudaFree(d_d);
    return matmul_error(got, a, b, c, 16, 8);
}

/* Exact products of multiples of 2^-12 summed in double, one rounding to float of a value
 * below 2^6: within a few ulps of 2^6. */
#define MMA_TOLERANCE (8 * 0x1p-24 * 64)

START_TEST(test_emu_mma)
{
    uint64_t rng = 0x6a09e667f3bcc908ull;
    float a[256], b[128], c[128];
    for (int trial = 0; trial < 4; trial++) {
        mma_operands(&rng, a, 256, b, 128, c, 128);
        double e = mma_error(YL_EMU_MMA_RIGHT, a, b, c);
        ck_assert_msg(e <= MMA_TOLERANCE, "emulated MMA: max |error| %g against a scalar "
                      "matmul", e);
        /* Planted fragment-layout errors must show as wrong results. */
        double ea = mma_error(YL_EMU_MMA_SWAPPED_A, a, b, c);
        double eb = mma_error(YL_EMU_MMA_TRANSPOSED_B, a, b, c);
        ck_assert_msg(ea > 0.1 && eb > 0.1, "planted layout errors not caught: max |error| %g "
                      "(a[1], a[2] swapped), %g (B transposed)", ea, eb);
    }
    /* Lanes that exit before the MMA: reported, not computed with stale fragments. */
    float *d = dev_alloc(512 * 4);
    ck_assert_cuda(cudaMemset(d, 0, 512 * 4));
    cudaError_t err = yl_emu_selftest_mma(d, d, d, d, YL_EMU_MMA_RIGHT, 16);
    ck_assert_int_eq(err, cudaErrorLaunchFailure);
    ck_assert_msg(strstr(yl_emu_error_detail(), "only lanes 0x0000ffff arrived") != NULL,
                  "detail: %s", yl_emu_error_detail());
    cudaGetLastError();
    cudaFree(d);
}
END_TEST

/* The grid form (one collective for mi x ni MMAs) against the scalar matmul, in the
 * convolution's shape (2 x 4) and others; lanes that disagree on the grid are reported. */
START_TEST(test_emu_mma_grid)
{
    static const int grids[][2] = {{2, 4}, {1, 1}, {3, 1}, {1, 8}, {8, 8}};
    uint64_t rng = 0xbb67ae8584caa73bull;
    for (size_t g = 0; g < sizeof grids / sizeof grids[0]; g++) {
        int m = 16 * grids[g][0], n = 8 * grids[g][1];
        float *a = xmalloc((size_t)m * 16 * 4), *b = xmalloc((size_t)16 * n * 4);
        float *c = xmalloc((size_t)m * n * 4), *got = xmalloc((size_t)m * n * 4);
        mma_operands(&rng, a, m * 16, b, 16 * n, c, m * n);
        float *d_a = to_dev(a, (size_t)m * 64), *d_b = to_dev(b, (size_t)n * 64);
        float *d_c = to_dev(c, (size_t)m * n * 4), *d_d = dev_alloc((size_t)m * n * 4);
        ck_assert_cuda(yl_emu_selftest_mma_grid(d_a, d_b, d_c, d_d, grids[g][0], grids[g][1],
                                                0));
        from_dev(got, d_d, (size_t)m * n * 4);
        double e = matmul_error(got, a, b, c, m, n);
        ck_assert_msg(e <= MMA_TOLERANCE, "emulated %d x %d MMA grid: max |error| %g",
                      grids[g][0], grids[g][1], e);
        if (grids[g][1] > 1) {
            ck_assert_int_eq(yl_emu_selftest_mma_grid(d_a, d_b, d_c, d_d, grids[g][0],
                                                      grids[g][1], 1), cudaErrorLaunchFailure);
            ck_assert_msg(strstr(yl_emu_error_detail(), "different numbers of MMAs") != NULL,
                          "detail: %s", yl_emu_error_detail());
            cudaGetLastError();
        }
        cudaFree(d_a);
        cudaFree(d_b);
        cudaFree(d_c);
        cudaFree(d_d);
        free(a);
        free(b);
        free(c);
        free(got);
    }
}
END_TEST
#endif

Suite *network_kernels_suite(void)
{
    Suite *s = suite_create("network_kernels");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_maxpool);
    tcase_add_test(tc, test_resize_bilinear);
    tcase_add_test(tc, test_add);
    tcase_add_test(tc, test_head_output);
    tcase_add_test(tc, test_proto_output);
    tcase_add_test(tc, test_conv_fp32);
    tcase_add_test(tc, test_conv_fp16);
    tcase_add_test(tc, test_conv_batch);
    tcase_add_test(tc, test_conv_protonet_sized);
    tcase_add_test(tc, test_conv_arguments);
#ifdef YL_CUDA_EMULATION
    tcase_add_test(tc, test_emu_mma);
    tcase_add_test(tc, test_emu_mma_grid);
#endif
    suite_add_tcase(s, tc);
    return s;
}
