/* The ops YOLACT++ adds, each against a direct loop in double precision.
 * DCNv2 (the cases and the loops in plus_ref.c): offsets that reach well outside the image,
 * integer offsets landing exactly on and beyond the border, stride 1 and 2, padding and
 * dilation 2, a 5x5 kernel, one and several threads; with zero offsets and saturated
 * modulation it must be the plain convolution.
 * The mask-IoU net: unpadded convolutions (3x3 stride 2, then 1x1), ReLU after each, global
 * max of the detection's class channel; odd and even mask sizes, one and several threads
 * (the same values). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cpu/dcn.h"
#include "cpu/maskiou.h"
#include "plus_ref.h"
#include "yl_test.h"

static void run_case(const dcn_case *k, int threads)
{
    dcn_problem pr;
    dcn_problem_make(&pr, k, 7 + (uint64_t)k->h * 31);
    const yl_conv_desc *d = &pr.d;
    const int n = pr.oh * pr.ow;
    float *out = malloc(sizeof(float) * k->o * n);
    float *ws = malloc(sizeof(float) * (yl_dcn2d_workspace_floats(d, k->h, k->w) + 1));
    ck_assert(out && ws);

    ck_assert_int_eq(yl_dcn2d_cpu(d, pr.in, 1, k->h, k->w, pr.offset_mask, pr.weight,
                                  YOLACT_PRECISION_FP32, pr.bias, YL_ACT_NONE, out, ws, threads),
                     YOLACT_OK);
    double worst = 0;
    int bad = 0, worst_at = 0;
    for (int i = 0; i < k->o * n; i++) {
        double diff = fabs(out[i] - pr.ref[i]), limit = 1e-6 * (1 + pr.mag[i]);
        if (diff > limit && bad++ < 5)
            printf("dcn %dx%d stride %d: output %d: ours %.8g, reference %.8g\n", k->h, k->w,
                   k->stride, i, out[i], pr.ref[i]);
        if (diff / (1 + pr.mag[i]) > worst) {
            worst = diff / (1 + pr.mag[i]);
            worst_at = i;
        }
    }
    ck_assert_msg(bad == 0, "%d of %d outputs differ beyond 1e-6 of their |terms| (worst %.3g "
                  "at %d)", bad, k->o * n, worst, worst_at);

    /* Zero offsets, saturated modulation (sigmoid(40) is 1 in float32): a plain convolution. */
    const int taps = k->kernel * k->kernel;
    for (int i = 0; i < 2 * taps * n; i++)
        pr.offset_mask[i] = 0;
    for (int i = 2 * taps * n; i < 3 * taps * n; i++)
        pr.offset_mask[i] = 40;
    float *plain = malloc(sizeof(float) * k->o * n);
    float *cws = malloc(sizeof(float) * (yl_conv2d_workspace_floats(d, k->h, k->w) + 1));
    ck_assert_int_eq(yl_dcn2d_cpu(d, pr.in, 1, k->h, k->w, pr.offset_mask, pr.weight,
                                  YOLACT_PRECISION_FP32, pr.bias, YL_ACT_RELU, out, ws, threads),
                     YOLACT_OK);
    ck_assert_int_eq(yl_conv2d_cpu(d, pr.in, 1, k->h, k->w, pr.weight, YOLACT_PRECISION_FP32,
                                   pr.bias, NULL, YL_ACT_RELU, plain, cws, threads), YOLACT_OK);
    for (int i = 0; i < k->o * n; i++)
        ck_assert_msg(fabsf(out[i] - plain[i]) <= 1e-5f * (1 + fabsf(plain[i])),
                      "zero offsets: output %d is %.8g, the plain convolution %.8g", i, out[i],
                      plain[i]);
    free(plain);
    free(cws);
    free(out);
    free(ws);
    dcn_problem_free(&pr);
}

START_TEST(dcn_matches_direct_loop)
{
    run_case(&dcn_cases[_i], 1);
    run_case(&dcn_cases[_i], 3);
}
END_TEST

/* ---- the mask-IoU net ---------------------------------------------------------------- */
static void run_maskiou_case(int size)
{
    enum { MASKS = 7 };
    maskiou_problem pr;
    maskiou_problem_make(&pr, size, MASKS, 99 + (uint64_t)size);
    float iou[2][MASKS];
    for (int t = 0; t < 2; t++) {
        int threads = t ? 3 : 1;
        float *ws = malloc(sizeof(float) * (yl_maskiou_workspace_floats(&pr.net, threads) + 1));
        yl_maskiou_cpu(&pr.net, pr.masks, MASKS, pr.classes, iou[t], ws, threads);
        free(ws);
    }
    for (int i = 0; i < MASKS; i++) {
        double best = maskiou_problem_reference(&pr, i, NULL);
        ck_assert_msg(fabs(iou[0][i] - best) <= 1e-5 * (1 + best), "mask %d (%dx%d): ours %.8g, "
                      "direct loop %.8g", i, size, size, iou[0][i], best);
        ck_assert_msg(iou[1][i] == iou[0][i], "mask %d: %.9g with 3 threads, %.9g with 1", i,
                      iou[1][i], iou[0][i]);
    }
    maskiou_problem_free(&pr);
}

START_TEST(maskiou_matches_direct_loop) { run_maskiou_case(maskiou_sizes[_i]); }
END_TEST

Suite *plus_ops_suite(void)
{
    Suite *s = suite_create("plus_ops");
    TCase *tc = tcase_create("dcn");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, dcn_matches_direct_loop, 0, num_dcn_cases);
    suite_add_tcase(s, tc);
    tc = tcase_create("maskiou");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, maskiou_matches_direct_loop, 0, NUM_MASKIOU_SIZES);
    suite_add_tcase(s, tc);
    return s;
}
