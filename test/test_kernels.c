/* Tests of the CUDA kernels (kernels/<op>.cu) against their CPU reference ops (lib/cpu/), on
 * random and edge-case shapes; in CI they run under the CUDA emulation (test/emu), which
 * also gets its own tests here: warp collectives, misuse reports, runtime counters.
 * Tolerances, FP32: exact equality wherever the kernel does the CPU's float operations in
 * the CPU's order (tables, preprocess, mask bits, NMS keep flags, Detect's list); the mask
 * assembly sums in
 * another order, see masks_tolerance. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cpu/dense_ops.h"
#include "cpu/post_ops.h"
#include "parity_raw.h"
#include "yl_kernels.h"
#include "yl_cuda_test.h"

#ifdef YL_CUDA_EMULATION
#include "emu_selftest.h"
#endif

/* ---- bilinear tables ------------------------------------------------------------------- */
START_TEST(test_bilinear_tables)
{
    static const int shapes[][2] = {{1, 1}, {1, 7}, {7, 1}, {5, 5}, {3, 550}, {550, 3},
                                    {480, 550}, {640, 550}, {138, 1080}, {1920, 137}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int in = shapes[s][0], out = shapes[s][1];
        size_t bytes = yl_bilinear_table_bytes(out);
        int *want = xmalloc(bytes), *got = xmalloc(bytes);
        yl_bilinear_axis(in, out, want, want + out, (float *)(want + 2 * out),
                         (float *)(want + 3 * out));
        void *d = dev_alloc(bytes);
        ck_assert_status(yl_bilinear_axis_cuda(in, out, d, NULL), YOLACT_OK);
        from_dev(got, d, bytes);
        for (int i = 0; i < 4 * out; i++)
            if (got[i] != want[i])
                ck_abort_msg("%d -> %d: table word %d (array %d, entry %d) is 0x%08x, the "
                             "CPU's 0x%08x", in, out, i, i / out, i % out, (unsigned)got[i],
                             (unsigned)want[i]);
        cudaFree(d);
        free(want);
        free(got);
    }
    ck_assert_status(yl_bilinear_axis_cuda(0, 5, (void *)1, NULL), YOLACT_ERR_INVALID_ARGUMENT);
}
END_TEST

/* ---- preprocess ----------------------------------------------------------------------- */
START_TEST(test_preprocess)
{
    static const struct { int w, h, pad, size; } cases[] = {
        {1, 1, 0, 1}, {1, 1, 5, 9}, {3, 7, 1, 33}, {37, 11, 3, 37}, {640, 480, 0, 550},
        {550, 550, 4, 550}, {1000, 17, 2, 64}, {31, 1200, 0, 100}};
    static const float mean[3] = {103.94f, 116.78f, 123.68f}, std[3] = {57.38f, 57.12f, 58.40f};
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t stride = 3 * (size_t)cases[c].w + cases[c].pad;
        size_t img_bytes = stride * cases[c].h, out_n = 3 * (size_t)cases[c].size * cases[c].size;
        uint8_t *pixels = xmalloc(img_bytes);
        for (size_t i = 0; i < img_bytes; i++)
            pixels[i] = (uint8_t)yl_test_rand(&rng, 0.0f, 256.0f);
        float *want = xmalloc(out_n * sizeof(float)), *got = xmalloc(out_n * sizeof(float));
        void *ws = xmalloc(yl_resize_workspace_bytes(cases[c].size, cases[c].size));
        void *d_pixels = to_dev(pixels, img_bytes);
        float *d_out = dev_alloc(out_n * sizeof(float));
        for (int variant = 0; variant < 3; variant++) {
            yolact_image host = {pixels, cases[c].w, cases[c].h, stride,
                                 variant == 1 ? YOLACT_PIXEL_BGR8 : YOLACT_PIXEL_RGB8,
                                 YOLACT_MEMORY_HOST};
            yolact_image dev = host;
            dev.data = d_pixels;
            dev.memory = YOLACT_MEMORY_DEVICE;
            yl_input_norm norm = variant == 2 ? YL_INPUT_DIV_255 : YL_INPUT_MEAN_STD;
            yl_preprocess_cpu(&host, cases[c].size, norm, mean, std, want, ws);
            ck_assert_status(yl_preprocess_cuda(&dev, cases[c].size, norm, mean, std, d_out,
                                                NULL), YOLACT_OK);
            from_dev(got, d_out, out_n * sizeof(float));
            char what[96];
            snprintf(what, sizeof what, "preprocess %dx%d (stride %zu) -> %d, variant %d",
                     cases[c].w, cases[c].h, stride, cases[c].size, variant);
            assert_floats_equal(got, want, out_n, what);
        }
        cudaFree(d_pixels);
        cudaFree(d_out);
        free(pixels);
        free(want);
        free(got);
        free(ws);
    }
}
END_TEST

/* ---- mask assembly ----------------------------------------------------------------------
 * A pass of images, each with its own prototypes, (P, k) coefficient block and detection
 * list (rows detection_stride apart, priors drawn at random, so the gather is checked too);
 * the reference is the CPU backend's: gather the rows, then yl_masks_assemble_cpu, per image.
 * Tolerance, FP32: each side's dot product is within k * eps * sum|p_i c_i| of the exact one
 * (any summation order), the sigmoid's slope is at most 1/4, and expf / the division add a
 * few ulp of a value <= 1:  |gpu - cpu| <= 0.25 * 2 * k * eps * sum|p_i c_i| + 8 * eps.
 * Outside the crop both must be exactly 0, and nothing past the pass's masks is written. */
#define MASKS_PRIORS 37
#define MASKS_STRIDE_PAD 3

static void check_masks_case(uint64_t *rng, int h, int w, int k, int num_images,
                             const int *counts, const float *boxes_in)
{
    const size_t plane = (size_t)h * w, coeff_floats = (size_t)MASKS_PRIORS * k;
    int total, most;
    yl_mask_pass pass = mask_pass_of(num_images, counts, &total, &most);
    const size_t stride = (size_t)most + MASKS_STRIDE_PAD;
    float *proto = xmalloc(num_images * plane * k * 4 + 1);
    float *coeff = xmalloc(num_images * coeff_floats * 4 + 1);
    yl_raw_detection *dets = xmalloc(num_images * stride * sizeof *dets);
    for (size_t i = 0; i < num_images * plane * k; i++)
        proto[i] = yl_test_rand(rng, 0.0f, 2.0f);     /* ReLU output */
    for (size_t i = 0; i < num_images * coeff_floats; i++)
        coeff[i] = yl_test_rand(rng, -1.0f, 1.0f);    /* tanh output */
    memset(dets, 0xff, num_images * stride * sizeof *dets); /* rows past a count: garbage */
    for (int b = 0, at = 0; b < num_images; b++)
        for (int m = 0; m < counts[b]; m++, at++) {
            yl_raw_detection *d = &dets[b * stride + m];
            d->prior = (int)(yl_test_rand(rng, 0.0f, 1.0f) * (MASKS_PRIORS - 1));
            for (int j = 0; j < 4; j++)
                d->box[j] = boxes_in ? boxes_in[4 * at + j] : yl_test_rand(rng, -0.2f, 1.2f);
        }
    /* The reference, and the coefficients each pixel's tolerance is made of. */
    float *want = xmalloc((size_t)total * plane * 4 + 1);
    float *gathered = xmalloc((size_t)total * k * 4 + 1), *boxes = xmalloc((size_t)total * 16 + 1);
    for (int b = 0; b < num_images; b++) {
        const int first = pass.image[b].first;
        for (int m = 0; m < counts[b]; m++) {
            const yl_raw_detection *d = &dets[b * stride + m];
            memcpy(gathered + (size_t)(first + m) * k,
                   coeff + b * coeff_floats + (size_t)d->prior * k, (size_t)k * 4);
            memcpy(boxes + 4 * (first + m), d->box, 16);
        }
        yl_masks_assemble_cpu(proto + b * plane * k, h, w, k, gathered + (size_t)first * k,
                              boxes + 4 * first, counts[b], want + first * plane);
    }
    const size_t out_bytes = ((size_t)total + 1) * plane * 4;    /* one mask of sentinel */
    float *got = xmalloc(out_bytes + 1);
    float *d_proto = to_dev(proto, num_images * plane * k * 4);
    float *d_coeff = to_dev(coeff, num_images * coeff_floats * 4);
    yl_raw_detection *d_dets = to_dev(dets, num_images * stride * sizeof *dets);
    float *d_out = dev_alloc(out_bytes);
    ck_assert_cuda(cudaMemset(d_out, 0xab, out_bytes ? out_bytes : 1));
    ck_assert_status(yl_masks_assemble_cuda(d_proto, h, w, k, d_coeff, coeff_floats, d_dets,
                                            stride, &pass, d_out, NULL), YOLACT_OK);
    from_dev(got, d_out, out_bytes);
    for (int b = 0; b < num_images; b++)
        for (int m = 0; m < counts[b]; m++) {
            const size_t at = (size_t)pass.image[b].first + m;
            const float *c = gathered + at * k, *box = boxes + 4 * at;
            for (size_t p = 0; p < plane; p++) {
                float g = got[at * plane + p], r = want[at * plane + p];
                double mag = 0.0;
                for (int i = 0; i < k; i++)
                    mag += fabs((double)proto[(b * plane + p) * k + i] * c[i]);
                double tol = 0.5 * k * FLT_EPSILON * mag + 8 * FLT_EPSILON;
                if ((r == 0.0f) != (g == 0.0f) || !(fabs((double)g - r) <= tol))
                    ck_abort_msg("masks %dx%dx%d: image %d of %d, mask %d (box %g %g %g %g) "
                                 "pixel (%zu, %zu) is %.9g, the CPU's %.9g (tolerance %.3g)",
                                 h, w, k, b, num_images, m, box[0], box[1], box[2], box[3],
                                 p / w, p % w, g, r, tol);
            }
        }
    const uint8_t *tail = (const uint8_t *)(got + (size_t)total * plane);
    for (size_t i = 0; i < plane * 4; i++)
        ck_assert_msg(tail[i] == 0xab, "masks %dx%dx%d: byte %zu past the pass's %d masks "
                      "was written", h, w, k, i, total);
    cudaFree(d_proto);
    cudaFree(d_coeff);
    cudaFree(d_dets);
    cudaFree(d_out);
    free(proto);
    free(coeff);
    free(dets);
    free(want);
    free(gathered);
    free(boxes);
    free(got);
}

START_TEST(test_masks_assemble)
{
    uint64_t rng = 0x2545f4914f6cdd1dull;
    /* tiny, partly outside, huge, inverted, degenerate, NaN, exactly the frame */
    static const float edge_boxes[] = {
        0.50f, 0.50f, 0.501f, 0.501f, -0.3f, 0.2f, 0.4f, 1.5f, -5.0f, -5.0f, 5.0f, 5.0f,
        0.9f, 0.8f, 0.1f, 0.2f, 0.3f, 0.3f, 0.3f, 0.3f, NAN, 0.1f, 0.5f, 0.5f,
        0.0f, 0.0f, 1.0f, 1.0f, 1.2f, 1.2f, 1.5f, 1.5f};
    check_masks_case(&rng, 1, 1, 1, 1, (int[]){1}, NULL);
    check_masks_case(&rng, 7, 5, 3, 3, (int[]){2, 0, 1}, NULL);  /* an image without masks */
    check_masks_case(&rng, 19, 23, 33, 2, (int[]){9, 17}, NULL); /* k past a chunk, masks
                                                                    past a tile */
    check_masks_case(&rng, 138, 138, 32, 1, (int[]){100}, NULL); /* YOLACT-550, 100 masks */
    check_masks_case(&rng, 30, 41, 32, 1, (int[]){8}, edge_boxes);
    check_masks_case(&rng, 11, 13, 0, 2, (int[]){3, 1}, NULL); /* k = 0: sigmoid(0) inside */
    int many[YL_MASK_PASS_IMAGES];
    for (int b = 0; b < YL_MASK_PASS_IMAGES; b++)
        many[b] = (b * 7) % 11;
    check_masks_case(&rng, 6, 9, 4, YL_MASK_PASS_IMAGES, many, NULL); /* a full pass */
    check_masks_case(&rng, 6, 9, 4, 2, (int[]){0, 0}, NULL);

    yl_mask_pass pass = {.num_images = 2, .image = {{.count = 0}, {.count = 0}}};
    ck_assert_status(yl_masks_assemble_cuda(NULL, 5, 5, 32, NULL, 0, NULL, 0, &pass, NULL, NULL),
                     YOLACT_OK);
    pass.image[1].count = 1;
    ck_assert_status(yl_masks_assemble_cuda(NULL, 5, 5, 32, NULL, 0, NULL, 0, &pass, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    pass.image[1].count = -1;
    ck_assert_status(yl_masks_assemble_cuda(NULL, 5, 5, 32, NULL, 0, NULL, 0, &pass, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    pass.image[1].count = 0;
    pass.num_images = YL_MASK_PASS_IMAGES + 1;
    ck_assert_status(yl_masks_assemble_cuda(NULL, 5, 5, 32, NULL, 0, NULL, 0, &pass, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_masks_assemble_cuda(NULL, 5, 5, 32, NULL, 0, NULL, 0, NULL, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
}
END_TEST

/* ---- mask resize + threshold ------------------------------------------------------------
 * A pass of images of their own sizes and counts, from (in_h, in_w) masks; each image's bit
 * masks at its out_offset, a few sentinel bytes apart, which must survive. */
#define RESIZE_GAP 5

typedef struct resize_image {
    int count, height, width;
} resize_image;

static void check_resize_case(uint64_t *rng, int in_h, int in_w, int num_images,
                              const resize_image *images, int blobs)
{
    yl_mask_pass pass = {.num_images = num_images};
    size_t out_bytes = RESIZE_GAP;
    int total = 0;
    for (int b = 0; b < num_images; b++) {
        const resize_image *im = &images[b];
        pass.image[b] = (yl_mask_image){im->count, total, im->height, im->width, out_bytes};
        total += im->count;
        out_bytes += (size_t)im->count * im->height * ((im->width + 7) / 8) + RESIZE_GAP;
    }
    const size_t plane = in_h > 0 && in_w > 0 ? (size_t)in_h * in_w : 0;
    const size_t in_n = (size_t)total * plane;
    float *in = xmalloc(in_n * sizeof(float) + 1);
    for (size_t i = 0; i < in_n; i++)
        in[i] = yl_test_rand(rng, 0.0f, 1.0f);
    if (blobs) {    /* mostly background with a bright rectangle, as real masks look */
        for (int m = 0; m < total; m++) {
            for (int y = 0; y < in_h; y++)
                for (int x = 0; x < in_w; x++) {
                    float *v = &in[((size_t)m * in_h + y) * in_w + x];
                    *v = (y > in_h / 4 && y < in_h / 2 + m && x > in_w / 3 && x < in_w - 2)
                             ? 0.5f + 0.5f * *v : 0.1f * *v;
                }
        }
    }
    uint8_t *want = xmalloc(out_bytes), *got = xmalloc(out_bytes);
    memset(want, 0xab, out_bytes);
    for (int b = 0; b < num_images; b++) {
        const yl_mask_image *im = &pass.image[b];
        const size_t stride = ((size_t)im->width + 7) / 8;
        void *ws = xmalloc(yl_mask_resize_workspace_bytes(in_w, im->height, im->width) + 1);
        for (int m = 0; m < im->count; m++)
            yl_mask_resize_threshold_cpu(in + (size_t)(im->first + m) * plane, in_h, in_w,
                                         want + im->out_offset + m * im->height * stride,
                                         im->height, im->width, stride, ws);
        free(ws);
    }
    float *d_in = to_dev(in, in_n * sizeof(float));
    uint8_t *d_out = dev_alloc(out_bytes);
    ck_assert_cuda(cudaMemset(d_out, 0xab, out_bytes));
    ck_assert_status(yl_mask_resize_threshold_cuda(d_in, in_h, in_w, &pass, d_out, NULL),
                     YOLACT_OK);
    from_dev(got, d_out, out_bytes);
    for (size_t i = 0; i < out_bytes; i++) {
        if (got[i] == want[i])
            continue;
        int b = num_images - 1;
        while (b > 0 && pass.image[b].out_offset > i)
            b--;
        const yl_mask_image *im = &pass.image[b];
        const size_t stride = ((size_t)im->width + 7) / 8, at = i - im->out_offset;
        ck_abort_msg("resize from %dx%d: image %d of %d (%d masks, %dx%d), mask %zu row %zu "
                     "byte %zu (download byte %zu) is 0x%02x, the CPU's 0x%02x", in_h, in_w, b,
                     num_images, im->count, im->height, im->width, at / (im->height * stride),
                     at / stride % im->height, at % stride, i, got[i], want[i]);
    }
    cudaFree(d_in);
    cudaFree(d_out);
    free(in);
    free(want);
    free(got);
}

START_TEST(test_mask_resize_threshold)
{
    uint64_t rng = 0xd1b54a32d192ed03ull;
    check_resize_case(&rng, 1, 1, 1, (resize_image[]){{1, 1, 1}}, 0);
    check_resize_case(&rng, 1, 1, 1, (resize_image[]){{2, 9, 33}}, 0);
    /* real frames of their own sizes in one pass, one without detections; downsampling,
     * odd widths, masks past a block's group */
    check_resize_case(&rng, 138, 138, 4,
                      (resize_image[]){{3, 480, 640}, {0, 100, 100}, {2, 37, 45}, {19, 9, 300}},
                      1);
    check_resize_case(&rng, 20, 30, 1, (resize_image[]){{4, 20, 30}}, 1); /* a copy */
    check_resize_case(&rng, 50, 7, 1, (resize_image[]){{1, 100, 31}}, 0); /* < a warp wide */
    check_resize_case(&rng, 0, 0, 1, (resize_image[]){{2, 5, 70}}, 0);    /* all zeros */
    resize_image many[YL_MASK_PASS_IMAGES];
    for (int b = 0; b < YL_MASK_PASS_IMAGES; b++)
        many[b] = (resize_image){(b * 7) % 11, 3 + b % 5, 1 + (b * 13) % 40};
    check_resize_case(&rng, 12, 10, YL_MASK_PASS_IMAGES, many, 1);       /* a full pass */

    yl_mask_pass pass = {.num_images = 1, .image = {{.count = 0, .height = 5, .width = 5}}};
    ck_assert_status(yl_mask_resize_threshold_cuda(NULL, 1, 1, &pass, NULL, NULL), YOLACT_OK);
    pass.image[0].count = 1;
    ck_assert_status(yl_mask_resize_threshold_cuda(NULL, 1, 1, &pass, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    pass.image[0].width = YOLACT_MAX_IMAGE_SIDE + 1;
    ck_assert_status(yl_mask_resize_threshold_cuda((float *)1, 1, 1, &pass, (uint8_t *)1, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    /* grid.z would pass 65535: two images of 8 x 40000 masks */
    pass = (yl_mask_pass){.num_images = 2,
                          .image = {{320000, 0, 5, 5, 0}, {320000, 320000, 5, 5, 0}}};
    ck_assert_status(yl_mask_resize_threshold_cuda((float *)1, 1, 1, &pass, (uint8_t *)1, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
}
END_TEST

/* ---- Fast NMS --------------------------------------------------------------------------
 * Every prior is a candidate (scores in (0, 1), threshold 0), so yl_detect_cpu's per-class
 * order is the scores sorted descending with ties by prior index; the test sorts the same
 * way, feeds the kernel each class's first top_k boxes, and the kept (class, prior) pairs
 * must be exactly those yl_detect_cpu returns when max_detections keeps all of them. */
static const float *sort_scores;

static int by_score_then_index(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    float si = sort_scores[i], sj = sort_scores[j];
    if (si != sj)
        return si > sj ? -1 : 1;
    return (i > j) - (i < j);
}

static int by_class_then_prior(const void *a, const void *b)
{
    const int *x = a, *y = b;
    return x[0] != y[0] ? (x[0] > y[0]) - (x[0] < y[0]) : (x[1] > y[1]) - (x[1] < y[1]);
}

static void check_nms_case(uint64_t *rng, int num_priors, int num_classes, int top_k,
                           int clusters, int odd_boxes)
{
    const int fg = num_classes - 1;
    float *loc = xmalloc((size_t)num_priors * 16), *priors = xmalloc((size_t)num_priors * 16);
    float *conf = xmalloc((size_t)num_priors * num_classes * 4);
    float *decoded = xmalloc((size_t)num_priors * 16);
    for (int p = 0; p < num_priors; p++) {
        /* Priors around a few centres, so IoUs straddle the threshold. */
        int c = p % clusters;
        float *pr = priors + 4 * p;
        pr[0] = 0.1f + 0.8f * (float)c / (float)clusters + yl_test_rand(rng, -0.02f, 0.02f);
        pr[1] = 0.5f + yl_test_rand(rng, -0.05f, 0.05f);
        pr[2] = yl_test_rand(rng, 0.05f, 0.3f);
        pr[3] = yl_test_rand(rng, 0.05f, 0.3f);
        for (int j = 0; j < 4; j++)
            loc[4 * p + j] = yl_test_rand(rng, -1.0f, 1.0f);
        if (odd_boxes && p % 7 == 3)     /* huge, reaching far outside the image */
            loc[4 * p + 2] = loc[4 * p + 3] = 12.0f;
        if (odd_boxes && p % 7 == 5)     /* tiny */
            loc[4 * p + 2] = loc[4 * p + 3] = -30.0f;
        if (odd_boxes && p == 1)
            loc[4] = NAN;
        for (int c2 = 0; c2 < num_classes; c2++)
            conf[(size_t)p * num_classes + c2] = yl_test_rand(rng, 0.001f, 1.0f);
        if (odd_boxes && p % 5 == 0 && p > 0)    /* a tie with the previous prior */
            memcpy(conf + (size_t)p * num_classes, conf + (size_t)(p - 1) * num_classes,
                   (size_t)num_classes * 4);
        yl_decode_box(loc + 4 * p, pr, decoded + 4 * p);
    }

    const int k = num_priors < top_k ? num_priors : top_k;
    float *boxes = xmalloc((size_t)fg * top_k * 16), *scores = xmalloc((size_t)num_priors * 4);
    int *order = xmalloc((size_t)fg * top_k * sizeof(int)), *counts = xmalloc((size_t)fg * 4);
    int *idx = xmalloc((size_t)num_priors * sizeof(int));
    memset(boxes, 0, (size_t)fg * top_k * 16);
    for (int c = 0; c < fg; c++) {
        for (int p = 0; p < num_priors; p++) {
            scores[p] = conf[(size_t)p * num_classes + 1 + c];
            idx[p] = p;
        }
        sort_scores = scores;
        qsort(idx, num_priors, sizeof(int), by_score_then_index);
        counts[c] = k;
        for (int r = 0; r < k; r++) {
            order[c * top_k + r] = idx[r];
            memcpy(boxes + ((size_t)c * top_k + r) * 4, decoded + 4 * idx[r], 16);
        }
    }
    float *d_boxes = to_dev(boxes, (size_t)fg * top_k * 16);
    int *d_counts = to_dev(counts, (size_t)fg * 4);
    uint8_t *d_kept = dev_alloc((size_t)fg * top_k), *kept = xmalloc((size_t)fg * top_k);
    ck_assert_status(yl_fast_nms_cuda(d_boxes, d_counts, fg, top_k, 0.5f, d_kept, NULL),
                     YOLACT_OK);
    from_dev(kept, d_kept, (size_t)fg * top_k);

    int *got = xmalloc((size_t)fg * top_k * 2 * sizeof(int)), ngot = 0;
    for (int c = 0; c < fg; c++)
        for (int r = 0; r < top_k; r++) {
            if (kept[c * top_k + r] > 1 || (r >= k && kept[c * top_k + r]))
                ck_abort_msg("class %d rank %d (count %d): kept flag %d", c, r, k,
                             kept[c * top_k + r]);
            if (kept[c * top_k + r]) {
                got[2 * ngot] = c;
                got[2 * ngot + 1] = order[c * top_k + r];
                ngot++;
            }
        }
    yl_detect_params dp = {num_classes, 0.0f, top_k, 0.5f, fg * top_k};
    void *ws = xmalloc(yl_detect_workspace_bytes(num_priors, &dp));
    yl_raw_detection *det = xmalloc((size_t)fg * top_k * sizeof *det);
    int nwant = yl_detect_cpu(loc, conf, priors, num_priors, &dp, det, ws);
    int *want = xmalloc((size_t)(nwant + 1) * 2 * sizeof(int));
    for (int i = 0; i < nwant; i++) {
        want[2 * i] = det[i].class_index;
        want[2 * i + 1] = det[i].prior;
    }
    qsort(got, ngot, 2 * sizeof(int), by_class_then_prior);
    qsort(want, nwant, 2 * sizeof(int), by_class_then_prior);
    for (int i = 0; i < ngot && i < nwant; i++)
        if (got[2 * i] != want[2 * i] || got[2 * i + 1] != want[2 * i + 1])
            ck_abort_msg("NMS %d priors, %d classes, top_k %d: kept #%d is (class %d, prior "
                         "%d), the CPU's (class %d, prior %d)", num_priors, num_classes, top_k,
                         i, got[2 * i], got[2 * i + 1], want[2 * i], want[2 * i + 1]);
    ck_assert_msg(ngot == nwant, "NMS %d priors, %d classes, top_k %d: %d kept, the CPU %d",
                  num_priors, num_classes, top_k, ngot, nwant);
    ck_assert_msg(nwant > 0 && (nwant < fg * k || k == 1), "NMS case keeps %d of %d: it "
                  "tests no suppression", nwant, fg * k);
    cudaFree(d_boxes);
    cudaFree(d_counts);
    cudaFree(d_kept);
    free(loc); free(priors); free(conf); free(decoded); free(boxes); free(scores);
    free(order); free(counts); free(idx); free(kept); free(got); free(ws); free(det);
    free(want);
}

START_TEST(test_fast_nms)
{
    uint64_t rng = 0x853c49e6748fea9bull;
    check_nms_case(&rng, 1, 2, 200, 1, 0);        /* one detection */
    check_nms_case(&rng, 100, 2, 200, 4, 1);      /* 100 candidates, fewer than top_k */
    check_nms_case(&rng, 500, 3, 200, 9, 1);      /* top_k truncates */
    check_nms_case(&rng, 300, 81, 200, 12, 1);    /* every COCO class */
    check_nms_case(&rng, 700, 2, 600, 30, 0);     /* more boxes than threads */

    /* No detections: counts 0 keep nothing. */
    int zero[3] = {0, 0, 0};
    float *d_boxes = dev_alloc(3 * 4 * 16);
    int *d_counts = to_dev(zero, sizeof zero);
    uint8_t *d_kept = dev_alloc(3 * 4), kept[12];
    ck_assert_status(yl_fast_nms_cuda(d_boxes, d_counts, 3, 4, 0.5f, d_kept, NULL), YOLACT_OK);
    from_dev(kept, d_kept, sizeof kept);
    for (int i = 0; i < 12; i++)
        ck_assert_msg(kept[i] == 0, "count 0: flag %d kept", i);
    ck_assert_status(yl_fast_nms_cuda(d_boxes, d_counts, 3, YL_FAST_NMS_MAX_TOP_K + 1, 0.5f,
                                      d_kept, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    cudaFree(d_boxes);
    cudaFree(d_counts);
    cudaFree(d_kept);
}
END_TEST

/* ---- Detect ------------------------------------------------------------------------------
 * yl_detect_cuda must return yl_detect_cpu's list exactly, for each image of a batch: the
 * same (class, prior) in the same order, scores bit for bit, boxes bit for bit in the
 * emulation (its expf is the CPU's) and within same_box's bound on a GPU. In the emulation
 * the call must also allocate, copy and wait for nothing: the counts stay on the device until
 * the caller reads them. loc and conf hold `batch` images; each image's list goes into a row
 * of the output wider than max_detections, whose tail must be left alone. */

/* A decoded box as the CPU's: bit for bit in the emulation; on a GPU its expf (within 2
 * ulps) puts w and h within 3 ulps, and a corner cx - w / 2 can cancel, so each corner is
 * held to 8 ulps of the larger of its axis' two corners (which bound cx and w). */
static int same_box(const float *got, const float *want)
{
    if (YL_LIBC_TRANSCENDENTALS)
        return memcmp(got, want, 4 * sizeof *got) == 0;
    for (int j = 0; j < 4; j++) {
        const float scale = fmaxf(fabsf(want[j % 2]), fabsf(want[j % 2 + 2]));
        if (!(fabsf(got[j] - want[j]) <= 8 * FLT_EPSILON * scale))
            return 0;
    }
    return 1;
}

static void check_detect(const float *loc, const float *conf, const float *priors, int np,
                         const yl_detect_params *p, int batch, const char *what, int *n_out)
{
    const size_t nc = (size_t)p->num_classes, maxd = (size_t)p->max_detections;
    const int stride = (int)maxd + 3;
    const size_t out_bytes = (size_t)batch * stride * sizeof(yl_raw_detection);
    void *ws = xmalloc(yl_detect_workspace_bytes(np, p));
    yl_raw_detection *want = xmalloc(maxd * sizeof *want), *got = xmalloc(out_bytes);
    yl_raw_detection *untouched = xmalloc(out_bytes);
    memset(untouched, 0x5a, out_bytes);

    float *d_loc = to_dev(loc, (size_t)batch * np * 16);
    float *d_priors = to_dev(priors, (size_t)np * 16);
    float *d_conf = to_dev(conf, (size_t)batch * np * nc * sizeof(float));
    yl_raw_detection *d_out = to_dev(untouched, out_bytes);
    const size_t ws_bytes = yl_detect_cuda_workspace_bytes(np, p, batch);
    ck_assert_msg(ws_bytes > 0, "%s: no workspace size", what);
    void *d_ws = dev_alloc(ws_bytes);
    int *n_got = xmalloc((size_t)batch * sizeof *n_got), *d_count = dev_alloc(batch * sizeof(int));
#ifdef YL_CUDA_EMULATION
    yl_emu_counters c;
    yl_emu_counters_reset();
#endif
    ck_assert_status(yl_detect_cuda(d_loc, d_conf, d_priors, np, p, batch, d_out, stride, d_count,
                                    d_ws, NULL), YOLACT_OK);
#ifdef YL_CUDA_EMULATION
    yl_emu_counters_get(&c);
    ck_assert_msg(c.allocations == 0 && c.frees == 0 && c.h2d_copies == 0 &&
                  c.d2d_copies == 0 && c.memsets == 0 && c.d2h_copies == 0 &&
                  c.synchronizations == 0,
                  "%s: yl_detect_cuda made %ld allocations, %ld frees, %ld/%ld/%ld h2d/d2h/d2d "
                  "copies, %ld memsets, %ld synchronisations; expected none", what,
                  c.allocations, c.frees, c.h2d_copies, c.d2h_copies, c.d2d_copies, c.memsets,
                  c.synchronizations);
#endif
    from_dev(n_got, d_count, (size_t)batch * sizeof *n_got);
    from_dev(got, d_out, out_bytes);
    for (int b = 0; b < batch; b++) {
        const int n_want = yl_detect_cpu(loc + (size_t)b * np * 4, conf + (size_t)b * np * nc,
                                         priors, np, p, want, ws);
        ck_assert_msg(n_got[b] == n_want, "%s, image %d of %d: %d detections, the CPU %d", what,
                      b, batch, n_got[b], n_want);
        const yl_raw_detection *row = got + (size_t)b * stride;
        for (int i = 0; i < n_want; i++) {
            const yl_raw_detection *g = &row[i], *w = &want[i];
            if (g->prior != w->prior || g->class_index != w->class_index ||
                memcmp(&g->score, &w->score, sizeof g->score) != 0 || !same_box(g->box, w->box))
                ck_abort_msg("%s, image %d: detection %d of %d is (class %d, prior %d, score "
                             "%.9g, box %.9g %.9g %.9g %.9g), the CPU's (class %d, prior %d, "
                             "score %.9g, box %.9g %.9g %.9g %.9g)", what, b, i, n_want,
                             g->class_index, g->prior, g->score, g->box[0], g->box[1], g->box[2],
                             g->box[3], w->class_index, w->prior, w->score, w->box[0], w->box[1],
                             w->box[2], w->box[3]);
        }
        ck_assert_msg(memcmp(row + maxd, untouched, (stride - maxd) * sizeof *row) == 0,
                      "%s, image %d: yl_detect_cuda wrote past max_detections in its row", what,
                      b);
        if (n_out)
            n_out[b] = n_want;
    }
    cudaFree(d_loc);
    cudaFree(d_priors);
    cudaFree(d_conf);
    cudaFree(d_out);
    cudaFree(d_ws);
    cudaFree(d_count);
    free(ws);
    free(want);
    free(got);
    free(untouched);
    free(n_got);
}

typedef struct detect_case {
    const char *what;
    int np, nc, top_k, max_det;
    float fg_prob;
    int forced;          /* >= 0: exactly the first `forced` priors are candidates */
    int ties, odd;       /* quantised scores; NaN rows, -0 scores, zero-area boxes */
    int spread;          /* small priors all over the image: Fast NMS keeps nearly all */
} detect_case;

/* Priors around a few centres so IoUs straddle the threshold (unless spread); foreground rows
 * score up to 0.5, background rows below the 0.05 threshold. */
static void detect_inputs(uint64_t *rng, const detect_case *dc, float *loc, float *conf,
                          float *priors)
{
    for (int p = 0; p < dc->np; p++) {
        float *pr = priors + 4 * p;
        if (dc->spread) {
            pr[0] = yl_test_rand(rng, 0.0f, 1.0f);
            pr[1] = yl_test_rand(rng, 0.0f, 1.0f);
            pr[2] = yl_test_rand(rng, 0.005f, 0.02f);
            pr[3] = yl_test_rand(rng, 0.005f, 0.02f);
        } else {
            pr[0] = 0.2f + 0.15f * (float)(p % 5) + yl_test_rand(rng, -0.02f, 0.02f);
            pr[1] = 0.5f + yl_test_rand(rng, -0.05f, 0.05f);
            pr[2] = yl_test_rand(rng, 0.05f, 0.3f);
            pr[3] = yl_test_rand(rng, 0.05f, 0.3f);
        }
        for (int j = 0; j < 4; j++)
            loc[4 * p + j] = yl_test_rand(rng, -1.0f, 1.0f);
        int fg = dc->forced >= 0 ? p < dc->forced : yl_test_rand(rng, 0, 1) < dc->fg_prob;
        float *row = conf + (size_t)p * dc->nc;
        row[0] = yl_test_rand(rng, 0, 1);
        for (int c = 1; c < dc->nc; c++) {
            float v = fg ? yl_test_rand(rng, 0.0f, 0.5f) : yl_test_rand(rng, 0.0f, 0.04f);
            row[c] = dc->ties ? floorf(v * 16) / 16 : v;
        }
        if (fg && dc->forced >= 0)
            row[1] = 0.5f;    /* a candidate whatever the draw */
        if (!dc->odd)
            continue;
        if (p % 11 == 3)
            row[1 + p % (dc->nc - 1)] = NAN;     /* never a candidate */
        if (p % 13 == 4)
            for (int c = 2; c < dc->nc; c++)
                row[c] = -0.0f;                  /* ties with +0 */
        if (p % 9 == 2)
            loc[4 * p + 2] = -1000.0f;           /* zero width: NaN IoU, suppressed */
    }
}

START_TEST(test_detect)
{
    static const detect_case cases[] = {
        {"no candidates", 300, 5, 10, 100, 0.0f, -1, 0, 0, 0},
        {"one candidate", 300, 5, 10, 100, 0.0f, 1, 0, 0, 0},
        {"every COCO class, fewer than top_k", 400, 81, 200, 100, 0.3f, -1, 0, 0, 0},
        {"exactly top_k candidates", 500, 7, 64, 1000, 0.0f, 64, 0, 0, 0},
        {"top_k + 1 candidates", 500, 7, 64, 1000, 0.0f, 65, 1, 0, 0},
        {"more than top_k, cut by max_detections", 900, 7, 50, 30, 0.6f, -1, 0, 1, 0},
        {"equal scores everywhere", 700, 12, 100, 1000, 0.5f, -1, 1, 1, 0},
        {"top_k 1, max_detections 1", 200, 4, 1, 1, 0.5f, -1, 1, 0, 0},
        {"two classes, more blocks than a scan chunk", 70000, 2, 300, 100, 0.01f, -1, 1, 1, 0},
        /* selections over scores copied to shared memory (7,680 of them fit at top_k 200),
         * and over the global copy when they do not fit */
        {"7,680 candidates", 8000, 4, 200, 100, 0.0f, 7680, 0, 0, 0},
        {"7,681 candidates", 8000, 4, 200, 100, 0.0f, 7681, 1, 0, 0},
        /* the final selection over the kept rows in shared memory (4,096 keys fit; the cases
         * above), and over the rows themselves when more are kept: about 40 x 200 here */
        {"more kept rows than the final selection stages", 3000, 41, 200, 100, 1.0f, -1, 0, 0,
         1},
    };
    uint64_t rng = 0xa0761d6478bd642full;
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const detect_case *dc = &cases[t];
        float *loc = xmalloc((size_t)dc->np * 16), *priors = xmalloc((size_t)dc->np * 16);
        float *conf = xmalloc((size_t)dc->np * dc->nc * sizeof(float));
        detect_inputs(&rng, dc, loc, conf, priors);
        yl_detect_params p = {dc->nc, 0.05f, dc->top_k, 0.5f, dc->max_det};
        int n;
        check_detect(loc, conf, priors, dc->np, &p, 1, dc->what, &n);
        if (dc->forced == 0 || dc->fg_prob == 0.0f)
            ck_assert_msg(n <= (dc->forced > 0 ? dc->forced * (dc->nc - 1) : 0),
                          "%s: %d detections", dc->what, n);
        else
            ck_assert_msg(n > 0, "%s: nothing detected, the case tests nothing", dc->what);
        if (t == 5)
            ck_assert_int_eq(n, 30);
        free(loc);
        free(priors);
        free(conf);
    }

    /* Arguments the kernels cannot take. */
    yl_detect_params p = {81, 0.05f, YL_FAST_NMS_MAX_TOP_K + 1, 0.5f, 100};
    ck_assert_uint_eq(yl_detect_cuda_workspace_bytes(100, &p, 1), 0);
    int n = -1;
    ck_assert_status(yl_detect_cuda((float *)8, (float *)8, (float *)8, 100, &p, 1,
                                    (yl_raw_detection *)8, 100, &n, (void *)8, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    p.top_k = 200;
    ck_assert_status(yl_detect_cuda((float *)8, (float *)8, (float *)8, 0, &p, 1,
                                    (yl_raw_detection *)8, 100, &n, (void *)8, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_uint_eq(yl_detect_cuda_workspace_bytes(100, &p, 0), 0);
    ck_assert_uint_eq(yl_detect_cuda_workspace_bytes(100, &p, 65536), 0);
    ck_assert_status(yl_detect_cuda((float *)8, (float *)8, (float *)8, 100, &p, 0,
                                    (yl_raw_detection *)8, 100, &n, (void *)8, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_detect_cuda((float *)8, (float *)8, (float *)8, 100, &p, 1,
                                    (yl_raw_detection *)8, 99, &n, (void *)8, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
}
END_TEST

/* The score threshold on a batch of lists, each cut where the CPU cuts it: all kept, none,
 * a score equal to the threshold (dropped: strictly above), an empty list, and list tails
 * past the count (never read). */
START_TEST(test_keep_scores_above)
{
    enum { BATCH = 5, STRIDE = 6 };
    const float scores[BATCH][STRIDE] = {{0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f},
                                         {0.2f, 0.1f, 0.05f, 0.0f, 0.0f, 0.0f},
                                         {0.9f, 0.3f, 0.25f, 0.2f, 0.9f, 0.9f},
                                         {0.9f, 0.9f, 0.9f, 0.9f, 0.9f, 0.9f},
                                         {0.8f, 0.6f, 0.3f, 0.1f, 0.0f, 0.0f}};
    int counts[BATCH] = {6, 3, 4, 0, 4};
    yl_raw_detection dets[BATCH * STRIDE];
    memset(dets, 0, sizeof dets);
    for (int b = 0; b < BATCH; b++)
        for (int i = 0; i < STRIDE; i++)
            dets[b * STRIDE + i].score = scores[b][i];
    const float threshold = 0.3f;
    yl_raw_detection *d_dets = to_dev(dets, sizeof dets);
    int *d_counts = to_dev(counts, sizeof counts), got[BATCH];
    ck_assert_status(yl_keep_scores_above_cuda(d_dets, STRIDE, d_counts, BATCH, threshold, NULL),
                     YOLACT_OK);
    from_dev(got, d_counts, sizeof got);
    const int expected[BATCH] = {6, 0, 1, 0, 2};
    for (int b = 0; b < BATCH; b++) {
        int want = yl_keep_scores_above_cpu(dets + b * STRIDE, counts[b], threshold);
        ck_assert_msg(got[b] == want && want == expected[b], "list %d: kept %d, the CPU %d, "
                      "expected %d", b, got[b], want, expected[b]);
    }
    ck_assert_status(yl_keep_scores_above_cuda(NULL, STRIDE, NULL, 0, threshold, NULL), YOLACT_OK);
    ck_assert_status(yl_keep_scores_above_cuda(NULL, STRIDE, NULL, 1, threshold, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    cudaFree(d_dets);
    cudaFree(d_counts);
}
END_TEST

/* A batch in one call: images with many candidates, none, exactly top_k and more than
 * max_detections side by side, each equal to its own CPU list. */
START_TEST(test_detect_batch)
{
    static const detect_case images[] = {
        {"many candidates", 600, 21, 64, 40, 0.5f, -1, 0, 1, 0},
        {"no candidates", 600, 21, 64, 40, 0.0f, -1, 0, 0, 0},
        {"exactly top_k candidates", 600, 21, 64, 40, 0.0f, 64, 1, 0, 0},
        {"few candidates", 600, 21, 64, 40, 0.02f, -1, 0, 0, 0},
    };
    enum { BATCH = sizeof images / sizeof images[0], NP = 600, NC = 21 };
    uint64_t rng = 0x2545f4914f6cdd1dull;
    float *loc = xmalloc((size_t)BATCH * NP * 16), *priors = xmalloc((size_t)NP * 16);
    float *conf = xmalloc((size_t)BATCH * NP * NC * sizeof(float));
    float *image_priors = xmalloc((size_t)NP * 16);
    for (int b = 0; b < BATCH; b++) {
        /* Every image draws its own priors; the batch shares the first image's. */
        detect_inputs(&rng, &images[b], loc + (size_t)b * NP * 4, conf + (size_t)b * NP * NC,
                      b == 0 ? priors : image_priors);
    }
    yl_detect_params p = {NC, 0.05f, 64, 0.5f, 40};
    int n[BATCH];
    check_detect(loc, conf, priors, NP, &p, BATCH, "a batch of 4", n);
    ck_assert_int_eq(n[0], 40);
    ck_assert_int_eq(n[1], 0);
    ck_assert_msg(n[2] > 0 && n[3] > 0, "images 2 and 3 found %d and %d, expected some", n[2],
                  n[3]);
    free(loc);
    free(priors);
    free(conf);
    free(image_priors);
}
END_TEST

/* The official network outputs of the parity image, with the official settings and with
 * every kept detection (max_detections past the kept total). */
START_TEST(test_detect_parity_outputs)
{
    yl_parity_raw r;
    yl_parity_raw_load(&r);
    yl_detect_params p = {r.num_classes, 0.05f, 200, 0.5f, 100};
    int n;
    check_detect(r.full_loc, r.full_conf, r.priors.data, r.num_priors, &p, 1, "coffee", &n);
    ck_assert_int_eq(n, 100);
    p.max_detections = (r.num_classes - 1) * p.top_k;
    check_detect(r.full_loc, r.full_conf, r.priors.data, r.num_priors, &p, 1,
                 "coffee, all kept", &n);
    ck_assert_int_gt(n, 100);
    yl_parity_raw_free(&r);
}
END_TEST

#ifdef YL_CUDA_EMULATION
/* ---- the emulation itself ---------------------------------------------------------------- */
START_TEST(test_emu_warp_collectives)
{
    enum { N = 256 };
    int in[N], out[5 * N];
    uint64_t rng = 42;
    for (int i = 0; i < N; i++)
        in[i] = (int)yl_test_rand(&rng, -100.0f, 100.0f);
    int *d_in = to_dev(in, sizeof in), *d_out = dev_alloc(sizeof out);
    ck_assert_cuda(yl_emu_selftest_warp(d_in, d_out, N, 128));
    from_dev(out, d_out, sizeof out);
    for (int w = 0; w < N / 32; w++) {
        int sum = 0, scan = 0;
        unsigned ballot = 0;
        for (int l = 0; l < 32; l++) {
            sum += in[32 * w + l];
            ballot |= (unsigned)(in[32 * w + l] > 0) << l;
        }
        for (int l = 0; l < 32; l++) {
            const int i = 32 * w + l, *o = out + 5 * i;
            scan += in[i];
            ck_assert_msg(o[0] == (l == 0 ? sum : 0) && o[1] == sum && o[2] == scan &&
                          (unsigned)o[3] == ballot && o[4] == in[32 * w + (l + 3) % 32],
                          "warp %d lane %d: down-sum %d, xor-sum %d (want %d), scan %d (want "
                          "%d), ballot 0x%08x (want 0x%08x), shfl %d (want %d)", w, l, o[0],
                          o[1], sum, o[2], scan, (unsigned)o[3], ballot, o[4],
                          in[32 * w + (l + 3) % 32]);
        }
    }
    cudaFree(d_in);
    cudaFree(d_out);
}
END_TEST

START_TEST(test_emu_misuse)
{
    static const struct { cudaError_t error; const char *detail; } want[] = {
        {cudaErrorLaunchFailure, "__syncthreads() at emu_selftest.cu:60 reached by 5 of 64 "
                                 "threads of block (0,0,0) of early_return_kernel"},
        {cudaErrorInvalidConfiguration, "launch of early_return_kernel with grid (1,1,1) and "
                                        "block (1025,1,1)"},
        {cudaErrorIllegalAddress, "smem_kernel at emu_selftest.cu:66 uses 256 bytes of "
                                  "dynamic shared memory; the launch gave 128"},
        {cudaErrorIllegalAddress, "smem_kernel wrote past the end of its 128 bytes of dynamic "
                                  "shared memory"},
        {cudaErrorLaunchFailure, "warp 0 of block (0,0,0) of diverged_warp_kernel diverged: "
                                 "lane 0 is at __ballot_sync"},
        {cudaErrorLaunchFailure, "__shfl_sync at emu_selftest.cu:89 in thread 0 of block "
                                 "(0,0,0) of shfl_vs_barrier_kernel waits for lane 3, which "
                                 "is at __syncthreads() at emu_selftest.cu:87: deadlock"},
        {cudaErrorLaunchFailure, "reads lane 20, which does not exist (partial warp)"},
        {cudaErrorLaunchFailure, "threads of block (0,0,0) of divergent_barrier_kernel wait "
                                 "at different __syncthreads()"},
    };
    yl_emu_order order = yl_emu_set_order(YL_EMU_ORDER_FORWARD); /* the blocks named above */
    for (int i = 0; i < (int)(sizeof want / sizeof want[0]); i++) {
        cudaError_t e = yl_emu_selftest_misuse(i);
        ck_assert_msg(e == want[i].error && strstr(yl_emu_error_detail(), want[i].detail),
                      "misuse %d: %s, \"%s\"; expected %s with \"%s\"", i, cudaGetErrorName(e),
                      yl_emu_error_detail(), cudaGetErrorName(want[i].error), want[i].detail);
        ck_assert_int_eq(cudaGetLastError(), e);
        ck_assert_int_eq(cudaGetLastError(), cudaSuccess);
    }
    yl_emu_set_order(order);
}
END_TEST

/* cp.async lands only when a wait covers its group: before, the destination still holds
 * the block's poison (NaN); a zero-filled copy reads nothing; a thread that exits with
 * copies in flight fails the launch. */
START_TEST(test_emu_cp_async)
{
    float in[256], out[128];
    for (int i = 0; i < 256; i++)
        in[i] = (float)(i + 1);
    float *d_in = to_dev(in, sizeof in), *d_out = dev_alloc(sizeof out);
    for (int variant = 0; variant < 2; variant++) {
        ck_assert_cuda(yl_emu_selftest_cp_async(d_in, d_out, variant));
        from_dev(out, d_out, sizeof out);
        for (int t = 0; t < 32; t++) {
            const float *o = out + 4 * t;
            float group0 = variant == 1 && t % 2 ? 0.0f : in[4 * t];
            ck_assert_msg(isnan(o[0]) && o[1] == group0 && isnan(o[2]) && o[3] == in[128 + 4 * t],
                          "variant %d thread %d: before any wait %g (want NaN), group 0 %g "
                          "(want %g), group 1 after wait_group(1) %g (want NaN), after "
                          "wait_group(0) %g (want %g)", variant, t, o[0], o[1], group0, o[2],
                          o[3], in[128 + 4 * t]);
        }
    }
    ck_assert_int_eq(yl_emu_selftest_cp_async(d_in, d_out, 2), cudaErrorLaunchFailure);
    ck_assert_msg(strstr(yl_emu_error_detail(), "thread 0 of block (0,0,0) of cp_async_kernel "
                         "exited with 2 cp.async copies no cp.async.wait_group covered"),
                  "%s", yl_emu_error_detail());
    ck_assert_int_eq(cudaGetLastError(), cudaErrorLaunchFailure);
    cudaFree(d_in);
    cudaFree(d_out);
}
END_TEST

/* ldmatrix.x4: lane l holds, of matrix i, halves 2 (l % 4) and + 1 of row l / 4 (the low
 * half first), whatever order the rows sit in; a misaligned row fails the launch. */
START_TEST(test_emu_ldmatrix)
{
    uint32_t out[128];
    uint32_t *d_out = dev_alloc(sizeof out);
    ck_assert_cuda(yl_emu_selftest_ldmatrix(d_out, 0));
    from_dev(out, d_out, sizeof out);
    for (unsigned l = 0; l < 32; l++)
        for (unsigned i = 0; i < 4; i++) {
            uint32_t lo = 64 * i + 8 * (l / 4) + 2 * (l % 4), want = lo | (lo + 1) << 16;
            ck_assert_msg(out[4 * l + i] == want, "lane %u register %u: 0x%08x, want 0x%08x",
                          l, i, out[4 * l + i], want);
        }
    ck_assert_int_eq(yl_emu_selftest_ldmatrix(d_out, 1), cudaErrorLaunchFailure);
    ck_assert_msg(strstr(yl_emu_error_detail(), "ldmatrix.x4 at emu_selftest.cu") &&
                  strstr(yl_emu_error_detail(), "a row address is not 16-byte aligned"), "%s",
                  yl_emu_error_detail());
    ck_assert_int_eq(cudaGetLastError(), cudaErrorLaunchFailure);
    cudaFree(d_out);
}
END_TEST

/* Blocks run as plain calls until a thread reaches a sync point, then as fibers; the
 * counters say which. A reduction that forgets its __syncthreads runs as plain calls, where
 * (in the forward order) thread 0 finishes before thread 128 has written its value: the
 * missing barrier shows as a wrong sum instead of passing by luck of a GPU's timing. */
START_TEST(test_emu_modes_and_counters)
{
    enum { N = 1024 };
    float in[N], out[N / 256];
    for (int i = 0; i < N; i++)
        in[i] = (float)(i % 17);
    yl_emu_order order = yl_emu_set_order(YL_EMU_ORDER_FORWARD);
    yl_emu_counters_reset();
    float *d_in = to_dev(in, sizeof in), *d_out = dev_alloc(sizeof out);
    for (int sync = 0; sync < 2; sync++) {
        yl_emu_counters before, after;
        yl_emu_counters_get(&before);
        ck_assert_cuda(yl_emu_selftest_block_sum(d_in, d_out, N, sync));
        yl_emu_counters_get(&after);
        ck_assert_int_eq(after.fiber_blocks - before.fiber_blocks, sync ? N / 256 : 0);
        from_dev(out, d_out, sizeof out);
        for (int b = 0; b < N / 256; b++) {
            float s = 0;
            for (int i = 0; i < 256; i++)
                s += in[256 * b + i];
            ck_assert_msg((out[b] == s) == (sync == 1), "sync %d block %d: %g, exact sum %g",
                          sync, b, out[b], s);
        }
    }
    yl_emu_counters c;
    yl_emu_counters_get(&c);
    ck_assert_int_eq(c.allocations, 2);
    ck_assert_int_eq(c.h2d_copies, 1);
    ck_assert_int_eq(c.h2d_bytes, sizeof in);
    ck_assert_int_eq(c.d2h_copies, 2);
    ck_assert_int_eq(c.launches, 2);
    long live = c.live_allocations;
    cudaFree(d_in);
    cudaFree(d_out);
    yl_emu_counters_get(&c);
    ck_assert_int_eq(c.frees, 2);
    ck_assert_int_eq(c.live_allocations, live - 2);
    /* Copy direction is checked: a device pointer is not a host source. */
    float *d = dev_alloc(16);
    ck_assert_int_eq(cudaMemcpy(d, in, 16, cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
    ck_assert_int_eq(cudaFree(in), cudaErrorInvalidDevicePointer);
    cudaFree(d);
    cudaGetLastError();
    yl_emu_set_order(order);
}
END_TEST

/* A launch runs its blocks and threads first to last, or last to first: the other order
 * catches the thread that reads a lower thread's write with no barrier, which the forward
 * order serves by luck (`make test-run-order` runs the kernel suites reversed). Either way a
 * warp runs as far as it can before the next starts. */
START_TEST(test_emu_run_order)
{
    enum { BLOCKS = 3, THREADS = 64, N = BLOCKS * THREADS, T = 256 };
    unsigned order[N], *d_counter = dev_alloc(sizeof(unsigned)), *d_order = dev_alloc(sizeof order);
    int in[T], out[T], *d_in, *d_out = dev_alloc(sizeof out);
    for (int t = 0; t < T; t++)
        in[t] = 1000 + t;
    d_in = to_dev(in, sizeof in);
    yl_emu_order before = yl_emu_set_order(YL_EMU_ORDER_FORWARD);
    for (int reverse = 0; reverse < 2; reverse++) {
        yl_emu_set_order(reverse ? YL_EMU_ORDER_REVERSE : YL_EMU_ORDER_FORWARD);
        ck_assert_cuda(cudaMemset(d_counter, 0, sizeof(unsigned)));
        ck_assert_cuda(yl_emu_selftest_run_order(d_counter, d_order, BLOCKS, THREADS));
        from_dev(order, d_order, sizeof order);
        for (unsigned i = 0; i < N; i++)
            ck_assert_uint_eq(order[i], reverse ? N - 1 - i : i);
        for (int sync = 0; sync < 2; sync++) {
            ck_assert_cuda(yl_emu_selftest_previous_thread(d_in, d_out, sync));
            from_dev(out, d_out, sizeof out);
            int right = 1;
            for (int t = 0; t < T; t++)
                right &= out[t] == in[t > 0 ? t - 1 : 0];
            /* Without the barrier, thread t - 1 has not run yet in the reverse order. */
            ck_assert_msg(right == (sync || !reverse), "reverse %d, sync %d: out[1] %d", reverse,
                          sync, out[1]);
            /* A warp goes on past its own collectives up to a barrier before the other runs. */
            ck_assert_cuda(yl_emu_selftest_other_warp(d_in, d_out, sync));
            from_dev(out, d_out, 64 * sizeof(int));
            right = 1;
            for (int t = 0; t < 64; t++)
                right &= out[t] == in[t ^ 32];
            ck_assert_msg(right == sync, "reverse %d, sync %d: other warp's out[0] %d", reverse,
                          sync, out[0]);
        }
    }
    yl_emu_set_order(before);
    cudaFree(d_counter);
    cudaFree(d_order);
    cudaFree(d_in);
    cudaFree(d_out);
}
END_TEST

static void count_calls(void *counter)
{
    ++*(int *)counter;
}

/* Stream capture records launches, async copies, memsets and host functions without running
 * them; the graph replays them in order, as often as it is launched; a synchronous call
 * during the capture is refused and invalidates it. */
START_TEST(test_emu_stream_capture)
{
    cudaStream_t stream;
    ck_assert_cuda(cudaStreamCreate(&stream));
    float *a = dev_alloc(4 * sizeof(float)), *sum = dev_alloc(4 * sizeof(float));
    const float ones[4] = {1, 1, 1, 1};
    float host[4] = {0};
    int calls = 0;
    ck_assert_cuda(cudaMemcpy(a, ones, sizeof ones, cudaMemcpyHostToDevice));

    ck_assert_cuda(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    ck_assert_cuda(cudaMemsetAsync(sum, 0, sizeof host, stream));
    ck_assert_status(yl_add_cuda(a, sum, 4, sum, stream), YOLACT_OK);
    ck_assert_status(yl_add_cuda(a, sum, 4, sum, stream), YOLACT_OK);
    ck_assert_cuda(cudaLaunchHostFunc(stream, count_calls, &calls));
    ck_assert_cuda(cudaMemcpyAsync(host, sum, sizeof host, cudaMemcpyDeviceToHost, stream));
    cudaGraph_t graph;
    ck_assert_cuda(cudaStreamEndCapture(stream, &graph));
    ck_assert_int_eq(calls, 0);
    ck_assert_float_eq(host[3], 0.0f);
    cudaGraphExec_t exec;
    ck_assert_cuda(cudaGraphInstantiate(&exec, graph, 0));
    ck_assert_cuda(cudaGraphDestroy(graph));
    for (int i = 1; i <= 2; i++) {
        ck_assert_cuda(cudaGraphLaunch(exec, stream));
        ck_assert_int_eq(calls, i);
        ck_assert_float_eq(host[3], 2.0f);   /* the memset runs again each time */
    }
    ck_assert_cuda(cudaGraphExecDestroy(exec));

    ck_assert_cuda(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    ck_assert_int_eq(cudaMemcpy(host, sum, sizeof host, cudaMemcpyDeviceToHost),
                     cudaErrorStreamCaptureUnsupported);
    ck_assert_ptr_nonnull(strstr(yl_emu_error_detail(), "cudaMemcpy while a stream is being "
                                                        "captured"));
    ck_assert_int_eq(cudaStreamEndCapture(stream, &graph), cudaErrorStreamCaptureInvalidated);
    ck_assert_ptr_null(graph);
    cudaGetLastError();
    cudaFree(a);
    cudaFree(sum);
    ck_assert_cuda(cudaStreamDestroy(stream));
}
END_TEST
#endif

Suite *kernels_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_bilinear_tables);
    tcase_add_test(tc, test_preprocess);
    tcase_add_test(tc, test_masks_assemble);
    tcase_add_test(tc, test_mask_resize_threshold);
    tcase_add_test(tc, test_fast_nms);
    tcase_add_test(tc, test_detect);
    tcase_add_test(tc, test_detect_batch);
    tcase_add_test(tc, test_keep_scores_above);
    tcase_add_test(tc, test_detect_parity_outputs);
#ifdef YL_CUDA_EMULATION
    tcase_add_test(tc, test_emu_warp_collectives);
    tcase_add_test(tc, test_emu_misuse);
    tcase_add_test(tc, test_emu_cp_async);
    tcase_add_test(tc, test_emu_ldmatrix);
    tcase_add_test(tc, test_emu_modes_and_counters);
    tcase_add_test(tc, test_emu_run_order);
    tcase_add_test(tc, test_emu_stream_capture);
#endif
    suite_add_tcase(s, tc);
    return s;
}
