/* The op families of the mask kernels (kernels/masks.cu, rescore.cu): the mask assembly
 * with the gather after Detect, the resize + threshold to bit masks, and YOLACT++'s mask
 * re-scoring, each on a pass of images against the CPU's, with the same arguments. */
#include <math.h>
#include <string.h>

#include "cpu/maskiou.h"
#include "cpu/post_ops.h"
#include "ops/op_harness.h"

/* ---- mask assembly ----------------------------------------------------------------------
 * dims: proto_h, proto_w, k, images, edge boxes (0/1); list: each image's mask count. Each
 * image has its own prototypes, (P, k) coefficient block and detection list (rows
 * detection_stride apart, priors drawn at random, so the gather is checked too).
 * Outputs: the masks (check[0], relative to sum_i |p_i c_i|), which are 0 exactly where the
 * CPU's are (outside the crop), and a mask's worth of bytes past the pass's, never written. */
#define MASKS_PRIORS 37
#define MASKS_STRIDE_PAD 3
/* tiny, partly outside, huge, inverted, degenerate, NaN, exactly the frame, outside */
static const float edge_boxes[] = {
    0.50f, 0.50f, 0.501f, 0.501f, -0.3f, 0.2f, 0.4f, 1.5f, -5.0f, -5.0f, 5.0f, 5.0f,
    0.9f, 0.8f, 0.1f, 0.2f, 0.3f, 0.3f, 0.3f, 0.3f, NAN, 0.1f, 0.5f, 0.5f,
    0.0f, 0.0f, 1.0f, 1.0f, 1.2f, 1.2f, 1.5f, 1.5f};

static void masks_assemble_run(const op_case *c, op_run *r)
{
    const int h = c->dims[0], w = c->dims[1], k = c->dims[2], num_images = c->dims[3];
    const int *counts = c->list;
    ck_assert_int_eq(c->list_len, num_images);
    uint64_t *rng = op_rng(r);
    const size_t plane = (size_t)h * w, coeff_floats = (size_t)MASKS_PRIORS * k;
    int total, most;
    yl_mask_pass pass = mask_pass_of(num_images, counts, &total, &most);
    const size_t stride = (size_t)most + MASKS_STRIDE_PAD;
    float *proto = op_rand_floats(r, num_images * plane * k, 0.0f, 2.0f);  /* ReLU output */
    float *coeff = op_rand_floats(r, num_images * coeff_floats, -1.0f, 1.0f); /* tanh */
    yl_raw_detection *dets = op_host(r, num_images * stride * sizeof *dets);
    memset(dets, 0xff, num_images * stride * sizeof *dets); /* rows past a count: garbage */
    for (int b = 0, at = 0; b < num_images; b++)
        for (int m = 0; m < counts[b]; m++, at++) {
            yl_raw_detection *d = &dets[b * stride + m];
            d->prior = (int)(yl_test_rand(rng, 0.0f, 1.0f) * (MASKS_PRIORS - 1));
            for (int j = 0; j < 4; j++)
                d->box[j] = c->dims[4] ? edge_boxes[4 * at + j] : yl_test_rand(rng, -0.2f, 1.2f);
        }
    /* The sums each pixel's tolerance is made of. */
    double *mag = op_host(r, (size_t)total * plane * sizeof *mag);
    for (int b = 0; b < num_images; b++)
        for (int m = 0; m < counts[b]; m++) {
            const float *row = coeff + b * coeff_floats + (size_t)dets[b * stride + m].prior * k;
            for (size_t p = 0; p < plane; p++) {
                double s = 0.0;
                for (int i = 0; i < k; i++)
                    s += fabs((double)proto[(b * plane + p) * k + i] * row[i]);
                mag[(pass.image[b].first + m) * plane + p] = s;
            }
        }
    const size_t n = (size_t)total * plane, out_bytes = (n + plane) * 4;
    float *want = op_host(r, out_bytes), *d_out = op_dev(r, out_bytes);
    memset(want + n, 0xab, plane * 4);
    ck_assert_cuda(cudaMemset(d_out, 0xab, out_bytes));
    yl_masks_assemble_cpu(proto, h, w, k, coeff, coeff_floats, dets, stride, &pass, want);
    ck_assert_status(yl_masks_assemble_cuda(op_to_dev(r, proto, num_images * plane * k * 4), h,
                                            w, k, op_to_dev(r, coeff, num_images * coeff_floats *
                                                                       4),
                                            coeff_floats, op_to_dev(r, dets, num_images * stride *
                                                                             sizeof *dets),
                                            stride, &pass, d_out, NULL), YOLACT_OK);
    float *got = op_from_dev(r, d_out, out_bytes);
    uint8_t *zero[2] = {op_host(r, n), op_host(r, n)};
    for (size_t i = 0; i < n; i++) {
        zero[0][i] = got[i] == 0.0f;
        zero[1][i] = want[i] == 0.0f;
    }
    op_output(r, "masks", OP_F32, n, got, want, mag, NULL);
    op_output(r, "zero where the CPU's is", OP_U8, n, zero[0], zero[1], NULL, &op_exact);
    op_output(r, "bytes past the pass's masks", OP_U8, plane * 4, got + n, want + n, NULL,
              &op_exact);
}
const op_family op_masks_assemble = {"masks_assemble", masks_assemble_run};

/* ---- mask resize + threshold --------------------------------------------------------------
 * dims: in_h, in_w, images, blobs (0/1: uniform noise, or mostly background with a bright
 * rectangle, as real masks look); list: each image's (count, height, width). Each image's
 * bit masks go to its out_offset, RESIZE_GAP sentinel bytes apart, which must survive: the
 * whole download is compared. */
#define RESIZE_GAP 5

static void mask_resize_threshold_run(const op_case *c, op_run *r)
{
    const int in_h = c->dims[0], in_w = c->dims[1], num_images = c->dims[2];
    ck_assert_int_eq(c->list_len, 3 * num_images);
    yl_mask_pass pass = {.num_images = num_images};
    size_t out_bytes = RESIZE_GAP;
    int total = 0;
    for (int b = 0; b < num_images; b++) {
        const int *im = c->list + 3 * b;
        pass.image[b] = (yl_mask_image){im[0], total, im[1], im[2], out_bytes};
        total += im[0];
        out_bytes += (size_t)im[0] * im[1] * ((im[2] + 7) / 8) + RESIZE_GAP;
    }
    const size_t plane = in_h > 0 && in_w > 0 ? (size_t)in_h * in_w : 0;
    const size_t in_n = (size_t)total * plane;
    float *in = op_rand_floats(r, in_n, 0.0f, 1.0f);
    for (int m = 0; c->dims[3] && m < total; m++)
        for (int y = 0; y < in_h; y++)
            for (int x = 0; x < in_w; x++) {
                float *v = &in[((size_t)m * in_h + y) * in_w + x];
                *v = (y > in_h / 4 && y < in_h / 2 + m && x > in_w / 3 && x < in_w - 2)
                         ? 0.5f + 0.5f * *v : 0.1f * *v;
            }
    uint8_t *want = op_host(r, out_bytes);
    memset(want, 0xab, out_bytes);
    yl_mask_resize_threshold_cpu(in, in_h, in_w, &pass, want);
    uint8_t *d_out = op_dev(r, out_bytes);
    ck_assert_cuda(cudaMemset(d_out, 0xab, out_bytes));
    ck_assert_status(yl_mask_resize_threshold_cuda(op_to_dev(r, in, in_n * 4), in_h, in_w, &pass,
                                                   d_out, NULL), YOLACT_OK);
    op_output(r, "bytes (masks and the gaps between images)", OP_U8, out_bytes,
              op_from_dev(r, d_out, out_bytes), want, NULL, NULL);
}
const op_family op_mask_resize_threshold = {"mask_resize_threshold", mask_resize_threshold_run};

/* ---- mask re-scoring ------------------------------------------------------------------------
 * dims: channels, h, w, split (0: one call; else two, split at that mask, inside an image);
 * list: each image's mask count. Each image's detection list and mask scores sit at strides
 * of their own; maps are ReLU outputs with ties and a few NaNs; mask 4's class is outside
 * the net's (NaN). The reference runs on the whole pass at once. Scores past an image's
 * count must stay as they were. */
#define RESCORE_UNTOUCHED -7.0f

static void mask_rescore_run(const op_case *c, op_run *r)
{
    const int ch = c->dims[0], h = c->dims[1], w = c->dims[2], split = c->dims[3];
    const int num_images = c->list_len, *counts = c->list, plane = h * w;
    uint64_t *rng = op_rng(r);
    int total, most;
    yl_mask_pass pass = mask_pass_of(num_images, counts, &total, &most);
    const size_t det_stride = (size_t)most + 2, score_stride = (size_t)most + 3;
    const size_t count = (size_t)total * ch * plane, n_scores = num_images * score_stride;
    float *maps = op_host(r, count * 4), *want = op_host(r, n_scores * 4);
    float *untouched = op_host(r, n_scores * 4);
    yl_raw_detection *det = op_host(r, num_images * det_stride * sizeof *det);
    for (size_t i = 0; i < count; i++)
        maps[i] = i % 11 == 3 ? 0.0f : floorf(yl_test_rand(rng, 0.0f, 8.0f)) / 4;
    for (size_t i = 5; i < count; i += 97)
        maps[i] = NAN;
    for (size_t i = 0; i < n_scores; i++)
        want[i] = untouched[i] = RESCORE_UNTOUCHED;
    for (int b = 0; b < num_images; b++)
        for (int j = 0; j < counts[b]; j++) {
            const int g = pass.image[b].first + j;
            yl_raw_detection *d = &det[b * det_stride + j];
            *d = (yl_raw_detection){g, (7 * g + 2) % ch, yl_test_rand(rng, 0, 1), {0}};
            if (g == 4)
                d->class_index = ch;
        }
    yl_mask_rescore_cpu(maps, 0, total, ch, h, w, &pass, det, det_stride, want, score_stride);
    const float *d_maps = op_to_dev(r, maps, count * 4);
    float *d_out = op_to_dev(r, untouched, n_scores * 4);
    const yl_raw_detection *d_det = op_to_dev(r, det, num_images * det_stride * sizeof *det);
    const int parts[][2] = {{0, split ? split : total}, {split, split ? total - split : 0}};
    for (int q = 0; q < 2; q++)
        ck_assert_status(yl_mask_rescore_cuda(d_maps + (size_t)parts[q][0] * ch * plane,
                                              parts[q][0], parts[q][1], ch, h, w, &pass, d_det,
                                              det_stride, d_out, score_stride, NULL),
                         YOLACT_OK);
    op_output(r, "mask scores", OP_F32, n_scores, op_from_dev(r, d_out, n_scores * 4), want,
              NULL, NULL);
}
const op_family op_mask_rescore = {"mask_rescore", mask_rescore_run};
