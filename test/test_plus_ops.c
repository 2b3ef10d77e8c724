/* The ops YOLACT++ adds, each against a direct loop in double precision.
 * DCNv2: offsets that reach well outside the image, integer offsets landing exactly on and
 * beyond the border, stride 1 and 2, padding and dilation 2, one and several threads; with
 * zero offsets and saturated modulation it must be the plain convolution.
 * The mask-IoU net: unpadded convolutions (3x3 stride 2, then 1x1), ReLU after each, global
 * max of the detection's class channel; odd and even mask sizes, one and several threads
 * (the same values). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cpu/dcn.h"
#include "cpu/maskiou.h"
#include "yl_test.h"

typedef struct dcn_case {
    int c, o, h, w, stride, pad, dilation;
    float offset_range;   /* offsets uniform in [-range, range) */
    int integer_offsets;  /* rounded to integers (samples on pixel centres and borders) */
} dcn_case;

/* DCNv2's sample: zero at or beyond one pixel outside, neighbours outside count 0. */
static double sample_ref(const float *plane, int h, int w, float y, float x)
{
    if (y <= -1 || y >= h || x <= -1 || x >= w)
        return 0;
    int y0 = (int)floor(y), x0 = (int)floor(x);
    double ly = y - y0, lx = x - x0, v = 0;
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            int yy = y0 + dy, xx = x0 + dx;
            if (yy >= 0 && yy < h && xx >= 0 && xx < w)
                v += (dy ? ly : 1 - ly) * (dx ? lx : 1 - lx) * plane[yy * w + xx];
        }
    return v;
}

/* ref[o][p] and the sum of |terms| for each output. */
static void dcn_ref(const dcn_case *k, const float *in, const float *om, const float *weight,
                    const float *bias, int oh, int ow, double *ref, double *mag)
{
    int n = oh * ow;
    for (int o = 0; o < k->o; o++)
        for (int p = 0; p < n; p++) {
            int oy = p / ow, ox = p % ow;
            double s = bias[o], a = fabs(bias[o]);
            for (int c = 0; c < k->c; c++)
                for (int t = 0; t < 9; t++) {
                    float y = (float)(oy * k->stride - k->pad + t / 3 * k->dilation) + om[(2 * t) * n + p];
                    float x = (float)(ox * k->stride - k->pad + t % 3 * k->dilation) + om[(2 * t + 1) * n + p];
                    double mask = 1 / (1 + exp(-(double)om[(18 + t) * n + p]));
                    double term = weight[(o * k->c + c) * 9 + t] * mask *
                                  sample_ref(in + (size_t)c * k->h * k->w, k->h, k->w, y, x);
                    s += term;
                    a += fabs(term);
                }
            ref[o * n + p] = s;
            mag[o * n + p] = a;
        }
}

static void run_case(const dcn_case *k, int threads)
{
    uint64_t rng = 7 + (uint64_t)k->h * 31 + (uint64_t)threads;
    yl_conv_desc d = {k->c, k->o, 3, 3, k->stride, k->pad, k->dilation};
    int oh = yl_conv_out_size(k->h, 3, k->stride, k->pad, k->dilation);
    int ow = yl_conv_out_size(k->w, 3, k->stride, k->pad, k->dilation);
    int n = oh * ow;
    float *in = malloc(sizeof(float) * k->c * k->h * k->w);
    float *om = malloc(sizeof(float) * 27 * n);
    float *weight = malloc(sizeof(float) * k->o * k->c * 9), *bias = malloc(sizeof(float) * k->o);
    float *out = malloc(sizeof(float) * k->o * n);
    double *ref = malloc(sizeof(double) * k->o * n), *mag = malloc(sizeof(double) * k->o * n);
    float *ws = malloc(sizeof(float) * (yl_dcn2d_workspace_floats(&d, k->h, k->w) + 1));
    ck_assert(in && om && weight && bias && out && ref && mag && ws);
    for (int i = 0; i < k->c * k->h * k->w; i++)
        in[i] = yl_test_rand(&rng, -1, 1);
    for (int i = 0; i < 18 * n; i++) {
        om[i] = yl_test_rand(&rng, -k->offset_range, k->offset_range);
        if (k->integer_offsets)
            om[i] = roundf(om[i]);
    }
    for (int i = 18 * n; i < 27 * n; i++)
        om[i] = yl_test_rand(&rng, -4, 4);
    for (int i = 0; i < k->o * k->c * 9; i++)
        weight[i] = yl_test_rand(&rng, -0.5f, 0.5f);
    for (int i = 0; i < k->o; i++)
        bias[i] = yl_test_rand(&rng, -0.1f, 0.1f);

    yl_dcn2d_cpu(&d, in, k->h, k->w, om, weight, bias, YL_ACT_NONE, out, ws, threads);
    dcn_ref(k, in, om, weight, bias, oh, ow, ref, mag);
    double worst = 0;
    int bad = 0, worst_at = 0;
    for (int i = 0; i < k->o * n; i++) {
        double diff = fabs(out[i] - ref[i]), limit = 1e-6 * (1 + mag[i]);
        if (diff > limit && bad++ < 5)
            printf("dcn %dx%d stride %d: output %d: ours %.8g, reference %.8g\n", k->h, k->w,
                   k->stride, i, out[i], ref[i]);
        if (diff / (1 + mag[i]) > worst) {
            worst = diff / (1 + mag[i]);
            worst_at = i;
        }
    }
    ck_assert_msg(bad == 0, "%d of %d outputs differ beyond 1e-6 of their |terms| (worst %.3g "
                  "at %d)", bad, k->o * n, worst, worst_at);

    /* Zero offsets, saturated modulation (sigmoid(40) is 1 in float32): a plain convolution. */
    for (int i = 0; i < 18 * n; i++)
        om[i] = 0;
    for (int i = 18 * n; i < 27 * n; i++)
        om[i] = 40;
    float *plain = malloc(sizeof(float) * k->o * n);
    float *cws = malloc(sizeof(float) * (yl_conv2d_workspace_floats(&d, k->h, k->w) + 1));
    yl_dcn2d_cpu(&d, in, k->h, k->w, om, weight, bias, YL_ACT_RELU, out, ws, threads);
    yl_conv2d_cpu(&d, in, k->h, k->w, weight, bias, NULL, YL_ACT_RELU, plain, cws, threads);
    for (int i = 0; i < k->o * n; i++)
        ck_assert_msg(fabsf(out[i] - plain[i]) <= 1e-5f * (1 + fabsf(plain[i])),
                      "zero offsets: output %d is %.8g, the plain convolution %.8g", i, out[i],
                      plain[i]);
    free(plain);
    free(cws);
    free(in);
    free(om);
    free(weight);
    free(bias);
    free(out);
    free(ref);
    free(mag);
    free(ws);
}

static const dcn_case cases[] = {
    {5, 7, 9, 8, 1, 1, 1, 3.0f, 0},     /* stride 1, offsets up to 3 px */
    {4, 6, 11, 10, 2, 1, 1, 13.0f, 0},  /* stride 2 (the backbone's), far outside */
    {3, 5, 7, 9, 1, 2, 2, 2.5f, 0},     /* dilation 2, padding 2 */
    {6, 4, 8, 8, 2, 1, 1, 2.0f, 1},     /* integer offsets: pixel centres, the -1 and h borders */
    {40, 33, 23, 21, 2, 1, 1, 8.5f, 0}, /* enough channels and pixels for several GEMM tiles */
};

START_TEST(dcn_matches_direct_loop)
{
    run_case(&cases[_i], 1);
    run_case(&cases[_i], 3);
}
END_TEST

/* ---- the mask-IoU net ---------------------------------------------------------------- */
enum { CLASSES = 5, MASKS = 7 };

/* One unpadded convolution + ReLU in double: (c, h, w) -> (o, oh, ow). */
static double *conv_relu_ref(const double *in, int c, int h, int w, const yl_maskiou_layer *l,
                             int *oh, int *ow)
{
    int k = l->conv.kernel_h, s = l->conv.stride, o = l->conv.out_channels;
    *oh = (h - k) / s + 1;
    *ow = (w - k) / s + 1;
    double *out = malloc(sizeof(double) * o * *oh * *ow);
    for (int oc = 0; oc < o; oc++)
        for (int y = 0; y < *oh; y++)
            for (int x = 0; x < *ow; x++) {
                double v = l->bias[oc];
                for (int ic = 0; ic < c; ic++)
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++)
                            v += l->weight[((oc * c + ic) * k + ky) * k + kx] *
                                 in[(ic * h + y * s + ky) * w + x * s + kx];
                out[(oc * *oh + y) * *ow + x] = v > 0 ? v : 0;
            }
    return out;
}

static void run_maskiou_case(int size)
{
    static const int widths[4] = {4, 6, 8, CLASSES}, kernels[4] = {3, 3, 3, 1};
    uint64_t rng = 99 + (uint64_t)size;
    yl_maskiou_net net = {.num_layers = 4, .in_h = size, .in_w = size};
    float *params[8];
    for (int l = 0, c = 1; l < 4; l++) {
        int k = kernels[l], o = widths[l];
        net.layers[l].conv = (yl_conv_desc){c, o, k, k, k == 3 ? 2 : 1, 0, 1};
        params[2 * l] = malloc(sizeof(float) * o * c * k * k);
        params[2 * l + 1] = malloc(sizeof(float) * o);
        for (int i = 0; i < o * c * k * k; i++)
            params[2 * l][i] = yl_test_rand(&rng, -0.6f, 0.8f);
        for (int i = 0; i < o; i++)
            params[2 * l + 1][i] = yl_test_rand(&rng, -0.1f, 0.2f);
        net.layers[l].weight = params[2 * l];
        net.layers[l].bias = params[2 * l + 1];
        c = o;
    }
    size_t plane = (size_t)size * size;
    float *masks = malloc(sizeof(float) * MASKS * plane);
    for (size_t i = 0; i < MASKS * plane; i++) /* cropped sigmoid masks: zeros and (0, 1) */
        masks[i] = (i % 5 == 0) ? 0.0f : yl_test_rand(&rng, 0, 1);
    int classes[MASKS];
    for (int i = 0; i < MASKS; i++)
        classes[i] = (3 * i + 1) % CLASSES;

    float iou[2][MASKS];
    for (int t = 0; t < 2; t++) {
        int threads = t ? 3 : 1;
        float *ws = malloc(sizeof(float) * (yl_maskiou_workspace_floats(&net, threads) + 1));
        yl_maskiou_cpu(&net, masks, MASKS, classes, iou[t], ws, threads);
        free(ws);
    }
    for (int i = 0; i < MASKS; i++) {
        double *a = malloc(sizeof(double) * plane);
        for (size_t p = 0; p < plane; p++)
            a[p] = masks[i * plane + p];
        int c = 1, h = size, w = size;
        for (int l = 0; l < 4; l++) {
            int oh, ow;
            double *b = conv_relu_ref(a, c, h, w, &net.layers[l], &oh, &ow);
            free(a);
            a = b;
            c = widths[l];
            h = oh;
            w = ow;
        }
        double best = 0;
        for (int p = 0; p < h * w; p++)
            best = fmax(best, a[classes[i] * h * w + p]);
        free(a);
        ck_assert_msg(fabs(iou[0][i] - best) <= 1e-5 * (1 + best), "mask %d (%dx%d): ours %.8g, "
                      "direct loop %.8g", i, size, size, iou[0][i], best);
        ck_assert_msg(iou[1][i] == iou[0][i], "mask %d: %.9g with 3 threads, %.9g with 1", i,
                      iou[1][i], iou[0][i]);
    }
    for (int i = 0; i < 8; i++)
        free(params[i]);
    free(masks);
}

START_TEST(maskiou_matches_direct_loop)
{
    static const int sizes[] = {30, 37, 138};
    run_maskiou_case(sizes[_i]);
}
END_TEST

Suite *plus_ops_suite(void)
{
    Suite *s = suite_create("plus_ops");
    TCase *tc = tcase_create("dcn");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, dcn_matches_direct_loop, 0, (int)(sizeof cases / sizeof cases[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("maskiou");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, maskiou_matches_direct_loop, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}
