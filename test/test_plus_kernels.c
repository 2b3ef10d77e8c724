/* Tests of YOLACT++'s CUDA kernels (kernels/dcn.cu, kernels/rescore.cu) and the CUDA
 * backend's mask-IoU net (lib/cuda/rescore.c) against the CPU ops (lib/cpu/dcn.c,
 * lib/cpu/maskiou.c) and the direct loops of plus_ref.c, under the CUDA emulation in CI.
 * Tolerances, relative to each output's sum|terms| (plus_ref.h: for DCNv2 the sum over
 * channels, taps and bilinear neighbours of |weight x modulation x bilinear weight x input|,
 * plus |bias|):
 *   DCNv2 FP32: 1e-5, against the CPU op and against the exact sum. The column matrix is the
 *     CPU's to the bit (emulation) or within ~3 ulp (a GPU's expf), then both sides sum
 *     K = C T products in float in different orders, each within ~K eps of the exact sum at
 *     worst and ~sqrt(K) eps typically (K <= 360 here: sqrt(K) eps = 2.3e-6); the convolution
 *     tests' bound (test_network_kernels.c), which a wrong sample (of the order of a term)
 *     always exceeds.
 *   DCNv2 FP16: 2^-9 + 1e-5 absolute: column values and weights rounded to half (2^-11
 *     relative each, so each product within ~2^-10), float accumulation: below 2^-10
 *     sum|terms|; twice that. The absolute part covers column values below half's normal
 *     range (2^-24 steps: K x 0.5 x 2^-25 = 5.4e-6 at K = 360).
 *   With zero offsets and saturated modulation the column matrix is the im2col matrix, the
 *     packed weights and the k order are the 3x3 convolution's: yl_conv2d_cuda's result to
 *     the bit, in both precisions, where the convolution sums k in the same order. An FP16
 *     convolution on its (H, W, C) path (channels in groups of 8) sums the same half
 *     products, exact in float, in another order: within 2 K 2^-24 sum|terms| of it.
 *   Mask-IoU net (4 layers), two checks. Against the exact net, a proof: every layer is
 *     yl_conv2d_cuda, within r sum|terms| of exact (r = 1e-5 FP32, 2^-9 FP16, as above); an
 *     error e in a layer's input moves its outputs by at most sum|w| e (ReLU and the max are
 *     1-Lipschitz), so after L layers the predicted IoU is within L r mag of exact, mag the
 *     max of its class map's sum|terms| bounds (plus_ref.h), the mask score within score L r
 *     mag (+ 1e-7 for the product). That bound holds but is loose: this random net cancels,
 *     mag is 17-470x the value. So also against yl_maskiou_cpu, relative to the value: FP32
 *     1e-5 (float sums of K <= 72 products a layer in other orders, typically sqrt(K) eps =
 *     5e-7 each; measured below 4e-7), FP16 1e-2 (the parity issue's mask_score tolerance;
 *     measured below 2.2e-3), each with a floor of 1e-2 of that x the score for values near
 *     0 (after a ReLU).
 *   The re-scoring kernel alone: bit-identical (the CPU's scan order, one product). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cpu/dcn.h"
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

static double atol_of(yolact_precision p)
{
    return p == YOLACT_PRECISION_FP16 ? 1e-5 : 0.0;
}

/* ---- DCNv2 ------------------------------------------------------------------------------ */
/* The kernel on the problem's own inputs. */
static void dcn_cuda(const dcn_problem *pr, yolact_precision prec, yl_activation act,
                     float *out)
{
    const float *in = pr->in, *om = pr->offset_mask;
    dcn_cuda_batch(pr, &in, &om, 1, prec, act, out);
}

/* Largest |got - want| / sum|terms| over the outputs; fails past the precision's tolerance. */
static double dcn_compare(const dcn_problem *pr, const float *got, const float *cpu,
                          yolact_precision prec, yl_activation act, const char *what)
{
    const size_t count = (size_t)pr->d.out_channels * pr->oh * pr->ow;
    double worst = 0;
    for (size_t i = 0; i < count; i++) {
        double exact = pr->ref[i];
        if (act == YL_ACT_RELU)
            exact = exact > 0 ? exact : 0;
        const double want[2] = {cpu[i], exact};
        const char *const names[2] = {"the CPU op's", "the exact"};
        double tol = rtol_of(prec) * pr->mag[i] + atol_of(prec);
        for (int r = 0; r < 2; r++) {
            double err = fabs((double)got[i] - want[r]);
            worst = fmax(worst, err / pr->mag[i]);
            if (!(err <= tol))
                ck_abort_msg("dcn %s %s, %d->%d %dx%d stride %d pad %d dilation %d on %dx%d: "
                             "output %zu (channel %zu) is %.9g, %s %.9g (|diff| %.3g > "
                             "tolerance %.3g, sum|terms| %.3g)", precision_name(prec), what,
                             pr->d.in_channels, pr->d.out_channels, pr->d.kernel_h,
                             pr->d.kernel_w, pr->d.stride, pr->d.pad, pr->d.dilation, pr->h,
                             pr->w, i, i / ((size_t)pr->oh * pr->ow), got[i], names[r], want[r],
                             err, tol, pr->mag[i]);
        }
    }
    return worst;
}

/* got and want sum the same exact products in different orders (see the top): each within
 * 2 K 2^-24 of its sum|terms|, computed as the convolution of |in| by |weight| plus |bias|. */
static void assert_same_products(const dcn_problem *pr, const float *got, const float *want,
                                 const char *what)
{
    const yl_conv_desc *d = &pr->d;
    const size_t n_in = (size_t)d->in_channels * pr->h * pr->w, K = (size_t)d->in_channels *
                        d->kernel_h * d->kernel_w, n_w = (size_t)d->out_channels * K;
    const size_t count = (size_t)d->out_channels * pr->oh * pr->ow;
    float *in = xmalloc(n_in * 4), *w = xmalloc(n_w * 4), *bias = xmalloc(d->out_channels * 4);
    float *mag = xmalloc(count * 4);
    float *ws = xmalloc(yl_conv2d_workspace_floats(d, pr->h, pr->w) * 4 + 4);
    for (size_t i = 0; i < n_in; i++)
        in[i] = fabsf(pr->in[i]);
    for (size_t i = 0; i < n_w; i++)
        w[i] = fabsf(pr->weight[i]);
    for (int i = 0; i < d->out_channels; i++)
        bias[i] = fabsf(pr->bias[i]);
    yl_conv2d_cpu(d, in, pr->h, pr->w, w, bias, NULL, YL_ACT_NONE, mag, ws, 0);
    for (size_t i = 0; i < count; i++) {
        double tol = 2.0 * K * 0x1p-24 * mag[i];
        ck_assert_msg(fabs((double)got[i] - want[i]) <= tol, "%s: output %zu is %.9g, %.9g "
                      "(|diff| %.3g > %.3g)", what, i, got[i], want[i],
                      fabs((double)got[i] - want[i]), tol);
    }
    free(in);
    free(w);
    free(bias);
    free(mag);
    free(ws);
}

static void check_dcn(int c, yolact_precision prec)
{
    const dcn_case *k = &dcn_cases[c];
    dcn_problem pr;
    dcn_problem_make(&pr, k, 0x5eed0000u + (uint64_t)c);
    const yl_conv_desc *d = &pr.d;
    const size_t count = (size_t)d->out_channels * pr.oh * pr.ow;
    const yl_activation act = c % 2 ? YL_ACT_RELU : YL_ACT_NONE;
    float *got = xmalloc(count * 4), *cpu = xmalloc(count * 4);
    float *ws = xmalloc((yl_dcn2d_workspace_floats(d, pr.h, pr.w) + 1) * 4);
    yl_dcn2d_cpu(d, pr.in, pr.h, pr.w, pr.offset_mask, pr.weight, pr.bias, act, cpu, ws, 0);
    /* As image 1 of a batch, after another problem's inputs and offsets: image 1 must be the
     * CPU's, image 0 what a call on its inputs alone gives. */
    dcn_problem other;
    dcn_problem_make(&other, k, 0x0def0000u + (uint64_t)c);
    const float *ins[2] = {other.in, pr.in}, *oms[2] = {other.offset_mask, pr.offset_mask};
    float *pair = xmalloc(2 * count * 4);
    dcn_cuda_batch(&pr, ins, oms, 2, prec, act, pair);
    dcn_cuda_batch(&pr, ins, oms, 1, prec, act, got);
    char first[96];
    snprintf(first, sizeof first, "dcn %s case %d, image 0 of a batch of 2", precision_name(prec),
             c);
    assert_floats_equal(pair, got, count, first);
    memcpy(got, pair + count, count * 4);
    free(pair);
    dcn_problem_free(&other);
    double worst = dcn_compare(&pr, got, cpu, prec, act, "random offsets");
    printf("dcn %s case %d (%d->%d, %dx%d, stride %d, offsets to %.1f px): worst |diff| / "
           "sum|terms| %.3g (tolerance %.3g)\n", precision_name(prec), c, d->in_channels,
           d->out_channels, pr.h, pr.w, d->stride, k->offset_range, worst, rtol_of(prec));

    /* Zero offsets, saturated modulation: the plain convolution's result, bit for bit. */
    const size_t taps = (size_t)d->kernel_h * d->kernel_w, n = (size_t)pr.oh * pr.ow;
    for (size_t i = 0; i < 3 * taps * n; i++)
        pr.offset_mask[i] = i < 2 * taps * n ? 0.0f : 40.0f;
    dcn_cuda(&pr, prec, act, got);
    size_t packed_bytes = yl_conv2d_cuda_packed_bytes(d, prec);
    void *packed = xmalloc(packed_bytes);
    yl_conv2d_cuda_pack(d, pr.weight, prec, packed);
    void *d_w = to_dev(packed, packed_bytes);
    float *d_in = to_dev(pr.in, (size_t)d->in_channels * pr.h * pr.w * 4);
    float *d_bias = to_dev(pr.bias, (size_t)d->out_channels * 4), *d_out = dev_alloc(count * 4);
    void *d_ws = conv_workspace(d, 1, pr.h, pr.w, prec);
    ck_assert_status(yl_conv2d_cuda(d, d_in, 1, pr.h, pr.w, d_w, prec, d_bias, NULL, act, d_out,
                                    d_ws, NULL), YOLACT_OK);
    cudaFree(d_ws);
    from_dev(cpu, d_out, count * 4);
    char what[96];
    snprintf(what, sizeof what, "dcn %s case %d with zero offsets vs yl_conv2d_cuda",
             precision_name(prec), c);
    if (yl_conv2d_cuda_workspace_bytes(d, 1, pr.h, pr.w, prec))   /* another k order */
        assert_same_products(&pr, got, cpu, what);
    else
        assert_floats_equal(got, cpu, count, what);
    cudaFree(d_w);
    cudaFree(d_in);
    cudaFree(d_bias);
    cudaFree(d_out);
    free(packed);
    free(got);
    free(cpu);
    free(ws);
    dcn_problem_free(&pr);
}

START_TEST(test_dcn_fp32) { check_dcn(_i, YOLACT_PRECISION_FP32); }
END_TEST

START_TEST(test_dcn_fp16) { check_dcn(_i, YOLACT_PRECISION_FP16); }
END_TEST

START_TEST(test_dcn_arguments)
{
    yl_conv_desc d = {4, 4, 3, 3, 1, 1, 1};
    float x[2];
    float aligned[8] __attribute__((aligned(16))) = {0};
    ck_assert_uint_eq(yl_dcn2d_cuda_packed_bytes(&d, YOLACT_PRECISION_DEFAULT), 0);
    ck_assert_uint_eq(yl_dcn2d_cuda_workspace_bytes(&d, 0, 4, 1), 0);
    ck_assert_uint_eq(yl_dcn2d_cuda_workspace_bytes(&d, 4, 4, 0), 0);
    ck_assert_status(yl_dcn2d_cuda(&d, x, 1, 4, 4, x, aligned, YOLACT_PRECISION_FP32, NULL,
                                   YL_ACT_NONE, x, aligned, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_dcn2d_cuda(&d, x, 1, 4, 4, x, aligned, YOLACT_PRECISION_FP32, NULL,
                                   YL_ACT_NONE, x + 1, NULL, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_dcn2d_cuda(&d, x, 0, 4, 4, x, aligned, YOLACT_PRECISION_FP32, NULL,
                                   YL_ACT_NONE, x + 1, aligned, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    d.stride = 0;
    ck_assert_status(yl_dcn2d_cuda(&d, x, 1, 4, 4, x, aligned, YOLACT_PRECISION_FP32, NULL,
                                   YL_ACT_NONE, x + 1, aligned, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    /* A kernel larger than the unpadded input: an empty output, nothing to do. */
    yl_conv_desc e = {2, 2, 5, 5, 1, 0, 1};
    ck_assert_uint_eq(yl_dcn2d_cuda_workspace_bytes(&e, 3, 3, 1), 0);
    ck_assert_status(yl_dcn2d_cuda(&e, x, 1, 3, 3, x, aligned, YOLACT_PRECISION_FP16, NULL,
                                   YL_ACT_NONE, x + 1, aligned, NULL), YOLACT_OK);
}
END_TEST

/* ---- mask re-scoring --------------------------------------------------------------------
 * A pass of images, each with its detection list and its mask scores at their own strides;
 * the masks run in one call, or two split at mask `split` (inside an image). Scores past an
 * image's count must stay as they were. */
#define RESCORE_MAX 130
#define RESCORE_UNTOUCHED -7.0f

static void check_rescore(uint64_t *rng, int num_images, const int *counts, int ch, int h,
                          int w, int split)
{
    const int plane = h * w;
    int total, most;
    yl_mask_pass pass = mask_pass_of(num_images, counts, &total, &most);
    const size_t det_stride = (size_t)most + 2, score_stride = (size_t)most + 3;
    const size_t count = (size_t)total * ch * plane;
    float *maps = xmalloc(count * 4 + 1);
    float *want = xmalloc(num_images * score_stride * 4);
    float *got = xmalloc(num_images * score_stride * 4);
    yl_raw_detection *det = xmalloc(num_images * det_stride * sizeof *det);
    for (size_t i = 0; i < count; i++) /* ReLU outputs with ties and a few NaNs */
        maps[i] = i % 11 == 3 ? 0.0f : floorf(yl_test_rand(rng, 0.0f, 8.0f)) / 4;
    for (size_t i = 5; i < count; i += 97)
        maps[i] = NAN;
    for (size_t i = 0; i < num_images * score_stride; i++)
        want[i] = RESCORE_UNTOUCHED;
    for (int b = 0; b < num_images; b++)
        for (int j = 0; j < counts[b]; j++) {
            const int g = pass.image[b].first + j;
            yl_raw_detection *d = &det[b * det_stride + j];
            *d = (yl_raw_detection){g, (7 * g + 2) % ch, yl_test_rand(rng, 0, 1), {0}};
            if (g == 4)
                d->class_index = ch; /* outside the net's classes: NaN */
            const float *map = maps + ((size_t)g * ch + d->class_index) * plane;
            float best = map[0];
            for (int k = 1; k < plane; k++)
                best = map[k] > best ? map[k] : best;
            want[b * score_stride + j] = d->class_index < ch ? d->score * best : NAN;
        }
    for (size_t i = 0; i < num_images * score_stride; i++)
        got[i] = RESCORE_UNTOUCHED;
    float *d_maps = to_dev(maps, count * 4), *d_out = to_dev(got, num_images * score_stride * 4);
    yl_raw_detection *d_det = to_dev(det, num_images * det_stride * sizeof *det);
    const int parts[][2] = {{0, split ? split : total}, {split, split ? total - split : 0}};
    for (int r = 0; r < 2; r++) {
        const float *m = d_maps + (size_t)parts[r][0] * ch * plane;
        ck_assert_status(yl_mask_rescore_cuda(m, parts[r][0], parts[r][1], ch, h, w, &pass,
                                              d_det, det_stride, d_out, score_stride, NULL),
                         YOLACT_OK);
    }
    from_dev(got, d_out, num_images * score_stride * 4);
    char what[96];
    snprintf(what, sizeof what, "mask rescore: %d images, %d masks x %d x %dx%d, split at %d",
             num_images, total, ch, h, w, split);
    assert_floats_equal(got, want, num_images * score_stride, what);
    cudaFree(d_maps);
    cudaFree(d_out);
    cudaFree(d_det);
    free(maps);
    free(want);
    free(got);
    free(det);
}

START_TEST(test_mask_rescore)
{
    uint64_t rng = 0x0fa5c0de5eedull;
    check_rescore(&rng, 1, (int[]){1}, 1, 1, 1, 0);
    check_rescore(&rng, 1, (int[]){7}, 80, 3, 3, 0);
    check_rescore(&rng, 1, (int[]){100}, 80, 3, 3, 0);
    check_rescore(&rng, 1, (int[]){RESCORE_MAX}, 5, 4, 7, 64);
    check_rescore(&rng, 1, (int[]){3}, 2, 17, 1, 0);
    /* images without masks first, between and last; a run starting inside an image */
    check_rescore(&rng, 6, (int[]){0, 3, 0, 0, 5, 0}, 80, 3, 3, 5);

    yl_mask_pass pass = {.num_images = 1, .image = {{.count = 1}}};
    ck_assert_status(yl_mask_rescore_cuda(NULL, 0, 0, 80, 3, 3, &pass, NULL, 0, NULL, 0, NULL),
                     YOLACT_OK);
    ck_assert_status(yl_mask_rescore_cuda(NULL, 0, 1, 80, 3, 3, &pass, NULL, 0, NULL, 0, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    float *p = (float *)8;
    yl_raw_detection *d = (yl_raw_detection *)8;
    ck_assert_status(yl_mask_rescore_cuda(p, 1, 1, 80, 3, 3, &pass, d, 0, p, 0, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT); /* past the pass's masks */
    pass.image[0].first = 1;                        /* not dense */
    ck_assert_status(yl_mask_rescore_cuda(p, 0, 1, 80, 3, 3, &pass, d, 0, p, 0, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_mask_rescore_cuda(p, 0, 1, 80, 3, 3, NULL, d, 0, p, 0, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
}
END_TEST

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
    TCase *tc = tcase_create("dcn");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_dcn_fp32, 0, num_dcn_cases);
    tcase_add_loop_test(tc, test_dcn_fp16, 0, num_dcn_cases);
    tcase_add_test(tc, test_dcn_arguments);
    suite_add_tcase(s, tc);
    tc = tcase_create("rescore");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_mask_rescore);
    tcase_add_loop_test(tc, test_maskiou_net, 0, NUM_MASKIOU_SIZES);
    suite_add_tcase(s, tc);
    return s;
}
