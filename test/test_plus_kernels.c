/* Check suite `plus_kernels`: the CUDA backend's mask-IoU net (lib/cuda/rescore.c: four
 * yl_conv2d_cuda layers and the re-scoring kernel) against yl_maskiou_cpu and the exact net
 * of plus_ref.c, under the CUDA emulation in CI; the single kernels, DCNv2 and the
 * re-scoring, are rows of the op-test table (test/ops/). Two checks:
 *   Against the exact net, a proof: every layer is yl_conv2d_cuda, within r sum|terms| of
 *     exact (r = 1e-5 FP32, 2^-9 FP16, the table's convolution bounds); an error e in a
 *     layer's input moves its outputs by at most sum|w| e (ReLU and the max are
 *     1-Lipschitz), so after L layers the predicted IoU is within L r mag of exact, mag the
 *     max of its class map's sum|terms| bounds (plus_ref.h), the mask score within score L r
 *     mag (+ 1e-7 for the product). That bound holds but is loose: this random net cancels,
 *     mag is 17-470x the value. So also against yl_maskiou_cpu, relative to the value: FP32
 *     1e-5 (float sums of K <= 72 products a layer in other orders, typically sqrt(K) eps =
 *     5e-7 each; measured below 4e-7), FP16 1e-2 (the parity issue's mask_score tolerance;
 *     measured below 2.2e-3), each with a floor of 1e-2 of that x the score for values near
 *     0 (after a ReLU). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cpu/maskiou.h"
#include "cuda/rescore.h"
#include "plus_ref.h"
#include "yl_kernels.h"
#include "yl_cuda_test.h"

static const char *precision_name(yolact_precision p)
{
    return p == YOLACT_PRECISION_FP16 ? "FP16" : "FP32";
}

static double rtol_of(yolact_precision p)
{
    return p == YOLACT_PRECISION_FP16 ? 1.0 / 512 : 1e-5;
}

/* The backend's mask-IoU net against yl_maskiou_cpu and the exact net, on a pass of images
 * (counts) whose detections and mask scores sit at strides of their own. */
#define MASKIOU_MAX_MASKS 70

static void check_maskiou(int size, yolact_precision prec, int num_images, const int *counts)
{
    int n, most;
    yl_mask_pass pass = mask_pass_of(num_images, counts, &n, &most);
    const size_t det_stride = (size_t)most + 1, score_stride = (size_t)most + 2;
    maskiou_problem pr;
    maskiou_problem_make(&pr, size, n, 0xa11ce + (uint64_t)size);
    float iou[MASKIOU_MAX_MASKS], *got = xmalloc(num_images * score_stride * 4);
    float *ws = xmalloc((yl_maskiou_workspace_floats(&pr.net, 0) + 1) * 4);
    yl_maskiou_cpu(&pr.net, pr.masks, n, pr.classes, iou, ws, 0);
    yl_raw_detection *det = xmalloc(num_images * det_stride * sizeof *det);
    for (int b = 0; b < num_images; b++)
        for (int j = 0; j < counts[b]; j++) {
            const int g = pass.image[b].first + j;
            det[b * det_stride + j] = (yl_raw_detection){g, pr.classes[g], pr.scores[g], {0}};
        }

    yl_cuda_maskiou *m;
    ck_assert_status(yl_cuda_maskiou_create(&pr.net, n, prec, NULL, &m), YOLACT_OK);
    const size_t plane = (size_t)size * size;
    float *d_masks = to_dev(pr.masks, n * plane * 4);
    float *d_out = dev_alloc(num_images * score_stride * 4);
    yl_raw_detection *d_det = to_dev(det, num_images * det_stride * sizeof *det);
    ck_assert_status(yl_cuda_maskiou_run(m, d_masks, &pass, d_det, det_stride, d_out,
                                         score_stride, NULL), YOLACT_OK);
    from_dev(got, d_out, num_images * score_stride * 4);
    double worst_bound = 0, worst_rel = 0;
    const double rel = prec == YOLACT_PRECISION_FP16 ? 1e-2 : 1e-5;
    for (int b = 0; b < num_images; b++)
        for (int j = 0; j < counts[b]; j++) {
            const int i = pass.image[b].first + j;
            const float score = got[b * score_stride + j];
            double mag, exact = maskiou_problem_reference(&pr, i, &mag);
            double bound = pr.scores[i] * pr.net.num_layers * rtol_of(prec) * mag + 1e-7;
            double cpu = (double)pr.scores[i] * iou[i], floor = 1e-2 * rel * pr.scores[i];
            double err_exact = fabs(score - pr.scores[i] * exact), err_cpu = fabs(score - cpu);
            worst_bound = fmax(worst_bound, err_exact / bound);
            worst_rel = fmax(worst_rel, err_cpu / fmax(cpu, 1e-2 * pr.scores[i]));
            ck_assert_msg(err_exact <= bound && err_cpu <= rel * cpu + floor, "mask-IoU net "
                          "%s, %dx%d image %d mask %d (class %d): mask score %.9g, the CPU's "
                          "%.9g (|diff| %.3g, tolerance %.3g), exact %.9g (|diff| %.3g, bound "
                          "%.3g)", precision_name(prec), size, size, b, j, pr.classes[i], score,
                          cpu, err_cpu, rel * cpu + floor, pr.scores[i] * exact, err_exact,
                          bound);
        }
    printf("mask-IoU net %s %dx%d, %d masks: worst |diff| / the CPU's %.3g (tolerance %.3g), "
           "worst |diff| / the bound %.3g\n", precision_name(prec), size, size, n, worst_rel,
           rel, worst_bound);
    /* More masks than it was made for: refused. */
    pass.image[num_images - 1].count++;
    ck_assert_status(yl_cuda_maskiou_run(m, d_masks, &pass, d_det, det_stride, d_out,
                                         score_stride, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    yl_cuda_maskiou_destroy(m);
    cudaFree(d_masks);
    cudaFree(d_out);
    cudaFree(d_det);
    free(ws);
    free(got);
    free(det);
    maskiou_problem_free(&pr);
}

START_TEST(test_maskiou_net)
{
    const int size = maskiou_sizes[_i];
    for (int p = 0; p < 2; p++) {
        yolact_precision prec = p ? YOLACT_PRECISION_FP16 : YOLACT_PRECISION_FP32;
        if (_i == 0) /* 2 chunks of the net (64 masks each), the second inside image 2 */
            check_maskiou(size, prec, 3, (int[]){30, 0, MASKIOU_MAX_MASKS - 30});
        else
            check_maskiou(size, prec, 2, (int[]){4, 3});
    }
}
END_TEST

Suite *plus_kernels_suite(void)
{
    Suite *s = suite_create("plus_kernels");
    TCase *tc = tcase_create("rescore");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_maskiou_net, 0, NUM_MASKIOU_SIZES);
    suite_add_tcase(s, tc);
    return s;
}
