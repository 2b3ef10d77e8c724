/* The MultiBoxLoss kernels (kernels/yl_loss_kernels.h) against lib/train/'s functions on the
 * same inputs: a small network's priors (or YOLACT-550's), a few objects with masks and a
 * crowd from yl_gt_prepare, random network outputs. Integers (match targets, the hard
 * negatives' rows, the sampling's state) bit for bit; the float gradients as each row
 * states; the double sums within LOSS_SUM_TOL of their sum|terms| (the CPU sums in prior
 * order, the kernels in a tree of per-block partials). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/train_loss.h"
#include "ops/op_harness.h"
#include "ops/priors.h"
#include "train/box_loss.h"
#include "train/class_loss.h"
#include "train/multibox_loss.h"
#include "train/gt_masks.h"
#include "train/mask_loss.h"
#include "train/match.h"
#include "train/segm_loss.h"
#include "yl_loss_kernels.h"

/* The layouts: 0 a 64-pixel network with three levels (8x8, 4x4, 2x2, three aspect ratios:
 * 252 priors); 1 YOLACT-550's five levels (19,248 priors). */
static int layout_priors(int layout, float *out)
{
    static const float ars[3] = {1.0f, 0.5f, 2.0f};
    static const float scales[5] = {24, 48, 96, 192, 384};
    static const int small[3] = {8, 4, 2}, real[5] = {69, 35, 18, 9, 5};
    yl_prior_level lv[5];
    const int levels = layout ? 5 : 3;
    for (int l = 0; l < levels; l++) {
        const int g = layout ? real[l] : small[l];
        lv[l] = (yl_prior_level){g, g, 1, &scales[l], 3, ars};
    }
    return yl_make_priors(lv, levels, layout ? 550 : 64, 0, out);
}

/* One image's scene: the priors, the checked ground truth (host and device copies). */
typedef struct scene {
    int P, n, crowds, mask_size;
    float *priors, *d_priors;
    yl_gt gt, d_gt;              /* d_gt: boxes and labels in device memory */
    const uint8_t **masks;
} scene;

/* dims: layout, objects, crowds, ties (1: object 1 repeats object 0's box with another
 * label, object 2 is a prior's own box, so the forced rounds meet equal overlaps). Masks:
 * each object an ellipse in its box at the network's input size. */
static void make_scene(const op_case *c, op_run *r, scene *s)
{
    const int layout = c->dims[0], n = c->dims[1], crowds = c->dims[2], ties = c->dims[3];
    s->P = layout_priors(layout, NULL);
    s->priors = op_host(r, (size_t)s->P * 4 * sizeof(float));
    layout_priors(layout, s->priors);
    s->mask_size = layout ? 550 : 64;
    const int M = s->mask_size, count = n + crowds;
    yl_gt_object *o = op_host(r, (size_t)(count + 1) * sizeof *o);
    uint64_t *rng = op_rng(r);
    uint8_t *store = op_host(r, (size_t)(n + 1) * M * M);
    for (int i = 0; i < count; i++) {
        float cx = yl_test_rand(rng, 0.1f, 0.9f), cy = yl_test_rand(rng, 0.1f, 0.9f);
        float w = yl_test_rand(rng, 0.08f, 0.6f), h = yl_test_rand(rng, 0.08f, 0.6f);
        o[i] = (yl_gt_object){{cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2},
                              (int)yl_test_rand(rng, 0.0f, 7.99f), i >= n, NULL};
        if (ties && i == 1)
            memcpy(o[1].box, o[0].box, sizeof o[1].box);
        if (ties && i == 2) {
            const float *p = s->priors + (size_t)(s->P / 3) * 4;
            o[2].box[0] = p[0] - p[2] / 2;
            o[2].box[1] = p[1] - p[3] / 2;
            o[2].box[2] = p[0] + p[2] / 2;
            o[2].box[3] = p[1] + p[3] / 2;
        }
        if (i >= n)
            continue;
        uint8_t *m = store + (size_t)i * M * M;
        const float *b = o[i].box;
        for (int y = 0; y < M; y++)
            for (int x = 0; x < M; x++) {
                float u = ((x + 0.5f) / M - (b[0] + b[2]) / 2) / ((b[2] - b[0]) / 2);
                float v = ((y + 0.5f) / M - (b[1] + b[3]) / 2) / ((b[3] - b[1]) / 2);
                m[(size_t)y * M + x] = u * u + v * v < 1.0f;
            }
        o[i].mask = m;
    }
    yl_gt gt;
    ck_assert_status(yl_gt_prepare(o, count, M, M, 9, &gt), YOLACT_OK);
    /* Copies the driver frees, then the gt's own arrays freed. */
    s->gt = gt;
    s->gt.boxes = op_host_copy(r, gt.boxes, (size_t)count * 4 * sizeof(float));
    s->gt.labels = op_host_copy(r, gt.labels, (size_t)n * sizeof(int));
    s->gt.masks = op_host_copy(r, gt.masks, (size_t)n * sizeof *gt.masks);
    yl_gt_free(&gt);
    s->n = n;
    s->crowds = crowds;
    s->d_gt = s->gt;
    s->d_gt.boxes = op_to_dev(r, s->gt.boxes, (size_t)count * 4 * sizeof(float));
    s->d_gt.labels = op_to_dev(r, s->gt.labels, (size_t)n * sizeof(int));
    s->d_priors = op_to_dev(r, s->priors, (size_t)s->P * 4 * sizeof(float));
}

/* The CPU's match of the scene (at least one positive where there are objects). */
static void cpu_match(op_run *r, const yl_loss_config *cfg, const scene *s, int **conf,
                      int **idx)
{
    *conf = op_host(r, (size_t)s->P * sizeof(int));
    *idx = op_host(r, (size_t)s->P * sizeof(int));
    ck_assert_status(yl_match(cfg, s->priors, s->P, &s->gt, *conf, *idx), YOLACT_OK);
    int pos = 0;
    for (int p = 0; p < s->P; p++)
        pos += (*conf)[p] > 0;
    ck_assert_msg(s->n == 0 || pos > 0, "the scene's match has no positive for %d objects", s->n);
}

/* The scene's positives. */
static int positives(const scene *s, const int *conf)
{
    int n = 0;
    for (int p = 0; p < s->P; p++)
        n += conf[p] > 0;
    return n;
}

/* ---- match: dims layout, objects, crowds, ties -------------------------------------------- */
static void loss_match_run(const op_case *c, op_run *r)
{
    scene s;
    make_scene(c, r, &s);
    const yl_loss_config cfg = YL_LOSS_CONFIG_YOLACT(100);
    int *conf, *idx;
    cpu_match(r, &cfg, &s, &conf, &idx);
    int *d_conf = op_dev(r, (size_t)s.P * sizeof(int)), *d_idx = op_dev(r, (size_t)s.P * sizeof(int));
    void *ws = op_dev(r, yl_match_cuda_workspace_bytes(s.P, s.n));
    ck_assert_status(yl_match_cuda(&cfg, s.d_priors, s.P, &s.d_gt, d_conf, d_idx, ws, NULL),
                     YOLACT_OK);
    op_output(r, "conf", OP_I32, (size_t)s.P, op_from_dev(r, d_conf, (size_t)s.P * sizeof(int)),
              conf, NULL, &op_exact);
    op_output(r, "idx", OP_I32, (size_t)s.P, op_from_dev(r, d_idx, (size_t)s.P * sizeof(int)),
              idx, NULL, &op_exact);
    /* the positives, as the batch's loss counts them */
    int *d_count = op_dev(r, sizeof(int)), *want = op_host(r, sizeof(int));
    *want = positives(&s, conf);
    ck_assert_status(yl_loss_count_positives_cuda(d_conf, (size_t)s.P, d_count,
                                                  op_dev(r, YL_LOSS_WORKSPACE_BYTES), NULL),
                     YOLACT_OK);
    op_output(r, "positives", OP_I32, 1, op_from_dev(r, d_count, sizeof(int)), want, NULL,
              &op_exact);
}
const op_family op_loss_match = {"loss match", loss_match_run};

/* ---- the terms' sums ------------------------------------------------------------------------ */
/* The tolerance of a double sum of count terms against the CPU's, relative to the sum of
 * their absolute values: the two orders each within count * 2^-53 of it (the emulation,
 * whose transcendentals are the C library's); on a GPU the terms' own float operations
 * (expf, logf, log1pf within 2 ulps: their float inputs and outputs) dominate: 8 float
 * epsilons. */
static double sum_tol(size_t count)
{
    return op_libc_math() ? (double)(count + 1) * DBL_EPSILON : 8 * FLT_EPSILON;
}

/* A kernel's double sum (device) against the CPU's. */
static void sum_matches(op_run *r, const op_case *c, const char *name, const double *dev,
                        double want, double mag, size_t count)
{
    const double got = *(const double *)op_from_dev(r, dev, sizeof(double));
    const double bound = sum_tol(count) * mag;
    if (getenv("YL_LOSS_TOL_REPORT"))
        printf("op %s: %s relative error %.3g of sum|terms| (bound %.3g)\n", c->name, name,
               mag > 0 ? fabs(got - want) / mag : 0.0, sum_tol(count));
    ck_assert_msg(fabs(got - want) <= bound, "op %s: %s %.17g, want %.17g, error %.3g, bound "
                  "%.3g (sum|terms| %.17g)", c->name, name, got, want, fabs(got - want), bound,
                  mag);
}

/* The gradients' comparison: bit for bit where the kernels' transcendentals are the C
 * library's; on a GPU within tol of each entry's sum|terms| (its magnitude, given). */
static const op_check *grad_check(op_run *r, double tol)
{
    op_check *k = op_host(r, sizeof *k);
    *k = (op_check){.kind = OP_SUM, .tol = tol, .atol = 0, .exact_with_libc_math = 1};
    return k;
}

/* ---- box: dims as match --------------------------------------------------------------------- */
/* loc in [-3, 3): both sides of smooth-L1's knee; the gradient starts from random values
 * (both add to it). Magnitude of an entry: |start| + scale (|loc| + |target|): a GPU's logf
 * moves the target by an ulp. */
static void loss_box_run(const op_case *c, op_run *r)
{
    scene s;
    make_scene(c, r, &s);
    const yl_loss_config cfg = YL_LOSS_CONFIG_YOLACT(100);
    int *conf, *idx;
    cpu_match(r, &cfg, &s, &conf, &idx);
    const size_t n4 = (size_t)s.P * 4;
    const int pos = positives(&s, conf);
    const float scale = (float)(cfg.bbox_alpha / (pos > 0 ? pos : 1));
    float *loc = op_rand_floats(r, n4, -3.0f, 3.0f), *start = op_rand_floats(r, n4, -1, 1);
    float *grad = op_host_copy(r, start, n4 * sizeof *grad);
    const double want = yl_box_loss(loc, s.priors, s.P, conf, idx, &s.gt, scale, grad);
    double *mag = op_host(r, n4 * sizeof *mag);
    for (int p = 0; p < s.P; p++) {
        float target[4] = {0, 0, 0, 0};
        if (conf[p] > 0)
            yl_box_encode(s.gt.boxes + (size_t)idx[p] * 4, s.priors + (size_t)p * 4, target);
        for (int d = 0; d < 4; d++) {
            const size_t i = (size_t)p * 4 + d;
            mag[i] = fabs(start[i]) + scale * (fabs(loc[i]) + fabs(target[d]));
        }
    }
    float *d_grad = op_to_dev(r, start, n4 * sizeof *start);
    double *d_loss = op_dev(r, sizeof(double));
    ck_assert_status(yl_box_loss_cuda(op_to_dev(r, loc, n4 * sizeof *loc), s.d_priors, s.P,
                                      op_to_dev(r, conf, (size_t)s.P * sizeof(int)),
                                      op_to_dev(r, idx, (size_t)s.P * sizeof(int)), &s.d_gt,
                                      scale, d_grad, d_loss,
                                      op_dev(r, YL_LOSS_WORKSPACE_BYTES), NULL), YOLACT_OK);
    sum_matches(r, c, "B", d_loss, want, want, (size_t)pos * 4); /* every term >= 0 */
    op_output(r, "grad loc", OP_F32, n4, op_from_dev(r, d_grad, n4 * sizeof(float)), grad, mag,
              grad_check(r, 4 * FLT_EPSILON));
}
const op_family op_loss_box = {"loss box", loss_box_run};

/* ---- class: dims layout, objects, crowds, ties, classes, negpos_ratio ---------------------- */
/* Logits in [-4, 4); with ties every background row one of three rows, so the hard
 * negatives' cut falls inside a run of equal ranking losses (taken to the lower priors).
 * Outputs: the shift (yl_loss_max_cuda, exact), the rows the loss used (exact: the hard
 * negatives' selection), the gradient (zero at the start; an entry's magnitude scale: a
 * softmax entry rounded to float). */
static void loss_class_run(const op_case *c, op_run *r)
{
    scene s;
    make_scene(c, r, &s);
    const int C = c->dims[4], ratio = c->dims[5], ties = c->dims[3];
    const yl_loss_config cfg = YL_LOSS_CONFIG_YOLACT(100);
    int *conf, *idx;
    cpu_match(r, &cfg, &s, &conf, &idx);
    const size_t n = (size_t)s.P * C;
    float *logits = op_rand_floats(r, n, -4.0f, 4.0f);
    if (ties)
        for (int p = 3; p < s.P; p++)
            if (conf[p] == 0)
                memcpy(logits + (size_t)p * C, logits + (size_t)(p % 3) * C, C * sizeof(float));
    float shift = -INFINITY;
    for (size_t i = 0; i < n; i++)
        shift = logits[i] > shift ? logits[i] : shift;
    const int pos = positives(&s, conf);
    const float scale = (float)(cfg.conf_alpha / (pos > 0 ? pos : 1));
    float *grad = op_host(r, n * sizeof *grad);
    memset(grad, 0, n * sizeof *grad);
    double want;
    ck_assert_status(yl_class_loss(logits, conf, s.P, C, ratio, shift, scale, grad, &want),
                     YOLACT_OK);

    float *d_logits = op_to_dev(r, logits, n * sizeof *logits), *d_shift = op_dev(r, 4);
    float *zeros = op_host(r, n * sizeof *zeros);
    memset(zeros, 0, n * sizeof *zeros);
    float *d_grad = op_to_dev(r, zeros, n * sizeof *zeros);
    double *d_loss = op_dev(r, sizeof(double));
    void *ws = op_dev(r, yl_class_loss_cuda_workspace_bytes(s.P));
    ck_assert_status(yl_loss_max_cuda(d_logits, n, d_shift, ws, NULL), YOLACT_OK);
    ck_assert_status(yl_class_loss_cuda(d_logits, op_to_dev(r, conf, (size_t)s.P * sizeof(int)),
                                        s.P, C, ratio, d_shift, scale, d_grad, d_loss, ws, NULL),
                     YOLACT_OK);
    float *got = op_from_dev(r, d_grad, n * sizeof *got);
    uint8_t *used_got = op_host(r, (size_t)s.P), *used_want = op_host(r, (size_t)s.P);
    int rows = 0;
    for (int p = 0; p < s.P; p++) {
        used_got[p] = used_want[p] = 0;
        for (int k = 0; k < C; k++) {
            used_got[p] |= got[(size_t)p * C + k] != 0;
            used_want[p] |= grad[(size_t)p * C + k] != 0;
        }
        rows += used_want[p];
    }
    ck_assert_msg(pos == 0 || ratio == 0 || rows > pos, "op %s: no hard negative taken", c->name);
    double *mag = op_host(r, n * sizeof *mag);
    for (size_t i = 0; i < n; i++)
        mag[i] = scale;
    op_output(r, "shift", OP_F32, 1, op_from_dev(r, d_shift, 4),
              op_host_copy(r, &shift, sizeof shift), NULL, &op_exact);
    op_output(r, "rows used", OP_U8, (size_t)s.P, used_got, used_want, NULL, &op_exact);
    op_output(r, "grad logits", OP_F32, n, got, grad, mag, grad_check(r, 2 * FLT_EPSILON));
    /* every row's cross-entropy is >= 0 */
    sum_matches(r, c, "C", d_loss, want, want, (size_t)rows);
}
const op_family op_loss_class = {"loss class", loss_class_run};

/* ---- segm: dims classes, h, w, objects -------------------------------------------------- */
/* Masks random bytes (some nonzero but not 1), labels over the classes with repeats,
 * logits in [-6, 6); the gradient starts random. Magnitude: |start| + scale. */
static void loss_segm_run(const op_case *c, op_run *r)
{
    const int classes = c->dims[0], h = c->dims[1], w = c->dims[2], n = c->dims[3];
    const size_t hw = (size_t)h * w, total = (size_t)classes * hw;
    uint64_t *rng = op_rng(r);
    int *labels = op_host(r, (size_t)(n + 1) * sizeof *labels);
    uint8_t *masks = op_host(r, (size_t)n * hw + 1);
    for (int j = 0; j < n; j++)
        labels[j] = (int)yl_test_rand(rng, 0.0f, classes - 0.01f);
    for (size_t i = 0; i < (size_t)n * hw; i++) {
        const float v = yl_test_rand(rng, 0.0f, 1.0f);
        masks[i] = v < 0.6f ? 0 : v < 0.9f ? 1 : 7;
    }
    yl_gt gt = {.num_objects = n, .labels = labels};
    float *logits = op_rand_floats(r, total, -6.0f, 6.0f);
    float *start = op_rand_floats(r, total, -1.0f, 1.0f);
    float *grad = op_host_copy(r, start, total * sizeof *grad);
    const float scale = 1.0f / (float)(hw > 0 ? hw : 1);
    const double want = yl_segm_loss(logits, classes, h, w, &gt, masks, scale, grad);
    yl_gt d_gt = gt;
    d_gt.labels = op_to_dev(r, labels, (size_t)n * sizeof *labels);
    float *d_grad = op_to_dev(r, start, total * sizeof *start);
    double *d_loss = op_dev(r, sizeof(double));
    ck_assert_status(yl_segm_loss_cuda(op_to_dev(r, logits, total * sizeof *logits), classes,
                                       h, w, &d_gt, op_to_dev(r, masks, (size_t)n * hw), scale,
                                       d_grad, d_loss, op_dev(r, YL_LOSS_WORKSPACE_BYTES), NULL),
                     YOLACT_OK);
    double *mag = op_host(r, (total + 1) * sizeof *mag);
    for (size_t i = 0; i < total; i++)
        mag[i] = fabs(start[i]) + scale;
    sum_matches(r, c, "S", d_loss, want, want, total);
    op_output(r, "grad segm", OP_F32, total, op_from_dev(r, d_grad, total * sizeof(float)), grad,
              mag, grad_check(r, 2 * FLT_EPSILON));
}
const op_family op_loss_segm = {"loss segm", loss_segm_run};

/* ---- mask: dims layout, objects, crowds, ties, k, proto h, proto w, kind, all, masks_to_train,
 * amplitude ------------------------------------------------------------------------------- */
/* Prototypes in [0, amplitude) (a quarter of them 0, as after the ReLU), coefficients in
 * [-1, 1): at amplitude 2 and k 32 some logits pass 16.6, where the official BCE's sigmoid
 * rounds to 1 (a pixel of 100, no gradient). The ground truth's masks downsampled by the
 * CPU. Outputs: the sampling's state after (exact), the gradients (zero at the start; bit
 * for bit where expf, logf and log1pf are the C library's, else an NMSE of 1e-10: the
 * official BCE's saturation is a step, so on a GPU a logit within an ulp of it may flip
 * a pixel), M within sum_tol of its sum|terms| (every term >= 0). */
static void loss_mask_run(const op_case *c, op_run *r)
{
    scene s;
    make_scene(c, r, &s);
    const int K = c->dims[4], h = c->dims[5], w = c->dims[6];
    yl_loss_config cfg = YL_LOSS_CONFIG_YOLACT(c->dims[9]);
    cfg.mask_loss = (yl_mask_loss_kind)c->dims[7];
    cfg.mask_sampling = c->dims[8] ? YL_MASK_SAMPLE_ALL : YL_MASK_SAMPLE_RANDOM;
    int *conf, *idx;
    cpu_match(r, &cfg, &s, &conf, &idx);
    const size_t hw = (size_t)h * w, np = hw * K, nc = (size_t)s.P * K;
    uint8_t *masks = op_host(r, (size_t)s.n * hw + 1);
    ck_assert_status(yl_gt_masks_downsample(s.gt.masks, s.n, s.gt.mask_h, s.gt.mask_w, h, w,
                                            masks), YOLACT_OK);
    float *proto = op_rand_floats(r, np, -0.25f * c->dims[10], (float)c->dims[10]);
    for (size_t i = 0; i < np; i++)
        proto[i] = proto[i] > 0 ? proto[i] : 0;
    float *coeff = op_rand_floats(r, nc, -1.0f, 1.0f);
    float *gc = op_host(r, nc * sizeof *gc + 1), *gp = op_host(r, np * sizeof *gp + 1);
    memset(gc, 0, nc * sizeof *gc);
    memset(gp, 0, np * sizeof *gp);
    const int pos = positives(&s, conf);
    const float scale = (float)(1.0 / (pos > 0 ? pos : 1));
    uint64_t seed = *op_rng(r), state = seed;
    const yl_mask_loss_image in = {proto, coeff, conf, idx, &s.gt, masks, s.P, K, h, w};
    double want;
    ck_assert_status(yl_mask_loss(&cfg, &in, &state, scale, gc, gp, &want), YOLACT_OK);

    float *zeros = op_host(r, (nc > np ? nc : np) * sizeof(float) + 1);
    memset(zeros, 0, (nc > np ? nc : np) * sizeof(float));
    float *d_gc = op_to_dev(r, zeros, nc * sizeof(float));
    float *d_gp = op_to_dev(r, zeros, np * sizeof(float));
    uint64_t *d_rng = op_to_dev(r, &seed, sizeof seed);
    double *d_loss = op_dev(r, sizeof(double));
    const yl_mask_loss_image d_in = {
        op_to_dev(r, proto, np * sizeof *proto), op_to_dev(r, coeff, nc * sizeof *coeff),
        op_to_dev(r, conf, (size_t)s.P * sizeof(int)), op_to_dev(r, idx, (size_t)s.P * sizeof(int)),
        &s.d_gt, op_to_dev(r, masks, (size_t)s.n * hw), s.P, K, h, w};
    ck_assert_status(yl_mask_loss_cuda(&cfg, &d_in, d_rng, scale, d_gc, d_gp, d_loss,
                                       op_dev(r, yl_mask_loss_cuda_workspace_bytes(s.P)), NULL),
                     YOLACT_OK);
    const int sampled = cfg.mask_sampling == YL_MASK_SAMPLE_RANDOM && pos > cfg.masks_to_train;
    const int used = sampled ? cfg.masks_to_train : pos;
    /* a row of masks_to_train > 0 is there to draw a sample */
    ck_assert_msg(cfg.mask_sampling == YL_MASK_SAMPLE_ALL || cfg.masks_to_train <= 0 ||
                  c->dims[1] == 0 || sampled, "op %s: %d positives, no sample of %d drawn",
                  c->name, pos, cfg.masks_to_train);
    sum_matches(r, c, "M", d_loss, want, want, (size_t)used * hw);
    op_output(r, "masks_to_train's state", OP_I32, 2, op_from_dev(r, d_rng, sizeof seed),
              op_host_copy(r, &state, sizeof state), NULL, &op_exact);
    op_check *k = op_host(r, sizeof *k);
    *k = (op_check){.kind = OP_NMSE, .tol = 1e-10, .exact_with_libc_math = 1};
    op_output(r, "grad coeff", OP_F32, nc, op_from_dev(r, d_gc, nc * sizeof(float)), gc, NULL,
              k);
    op_output(r, "grad proto", OP_F32, np, op_from_dev(r, d_gp, np * sizeof(float)), gp, NULL,
              k);
}
const op_family op_loss_mask = {"loss mask", loss_mask_run};

/* ---- the whole loss: dims layout, objects, crowds, ties, batch, k, proto side, segm side,
 * masks_to_train, no gradients (1: the losses alone, as an evaluation asks) ------------------ */
/* yl_cuda_multibox_loss (lib/cuda/train_loss.h, the CUDA training pass's) against
 * yl_multibox_loss on a batch of scenes (image b: objects + b, its own draw) with random
 * outputs of 9 classes: the positives exact, the five terms within sum_tol of each term
 * (every term's parts >= 0), every gradient bit for bit where the transcendentals are the C
 * library's (else an NMSE of 1e-10, as the terms'). */
static void loss_multibox_run(const op_case *c, op_run *r)
{
    const int batch = c->dims[4], K = c->dims[5], ph = c->dims[6], sh = c->dims[7], C = 9;
    const int no_grads = c->dims[9];
    yl_loss_config cfg = YL_LOSS_CONFIG_YOLACT(c->dims[8]);
    cfg.seed = 12345;
    scene s[YOLACT_MAX_BATCH_SIZE];
    yl_loss_outputs out[YOLACT_MAX_BATCH_SIZE], d_out[YOLACT_MAX_BATCH_SIZE];
    yl_loss_grads g[YOLACT_MAX_BATCH_SIZE], d_g[YOLACT_MAX_BATCH_SIZE];
    yl_gt gt[YOLACT_MAX_BATCH_SIZE];
    op_case one = *c;
    size_t n[5] = {0};
    for (int b = 0; b < batch; b++) {
        one.dims[1] = c->dims[1] + b;
        make_scene(&one, r, &s[b]);
        gt[b] = s[b].gt;
        const int P = s[b].P;
        const size_t sizes[5] = {(size_t)P * 4, (size_t)P * C, (size_t)P * K,
                                 (size_t)ph * ph * K, (size_t)(C - 1) * sh * sh};
        memcpy(n, sizes, sizeof n);
        float *o[5], *d[5], *gh[5], *gd[5];
        for (int k = 0; k < 5; k++) {
            const float lo = k == 3 ? -0.3f : k == 2 ? -1.0f : -3.0f, hi = k == 3 ? 1.5f : k == 2 ? 1.0f : 3.0f;
            o[k] = op_rand_floats(r, n[k] + 1, lo, hi);
            if (k == 3)
                for (size_t i = 0; i < n[k]; i++)
                    o[k][i] = o[k][i] > 0 ? o[k][i] : 0;
            d[k] = op_to_dev(r, o[k], n[k] * sizeof(float) + 4);
            gh[k] = op_rand_floats(r, n[k] + 1, -1, 1);    /* overwritten by both */
            gd[k] = op_to_dev(r, gh[k], n[k] * sizeof(float) + 4);
        }
        out[b] = (yl_loss_outputs){o[0], o[1], o[2], o[3], sh ? o[4] : NULL};
        d_out[b] = (yl_loss_outputs){d[0], d[1], d[2], d[3], sh ? d[4] : NULL};
        g[b] = (yl_loss_grads){gh[0], gh[1], gh[2], gh[3], gh[4]};
        d_g[b] = (yl_loss_grads){gd[0], gd[1], gd[2], gd[3], gd[4]};
    }
    const yl_loss_dims dims = {s[0].priors, s[0].P, C, K, ph, ph, sh, sh};
    yl_losses want, got;
    ck_assert_status(yl_multibox_loss(&cfg, &dims, batch, out, gt, &want, no_grads ? NULL : g),
                     YOLACT_OK);
    yl_loss_dims d_dims = dims;
    d_dims.priors = s[0].d_priors;
    yl_cuda_loss *l;
    ck_assert_status(yl_cuda_loss_create(&l), YOLACT_OK);
    const yolact_status st = yl_cuda_multibox_loss(l, &cfg, &d_dims, batch, d_out, gt, &got,
                                                   no_grads ? NULL : d_g, 1.0, NULL);
    yl_cuda_loss_destroy(l);
    ck_assert_status(st, YOLACT_OK);
    op_output(r, "positives", OP_I32, 1, op_host_copy(r, &got.num_positives, sizeof(int)),
              op_host_copy(r, &want.num_positives, sizeof(int)), NULL, &op_exact);
    ck_assert_msg(want.num_positives > 0, "op %s: no positives", c->name);
    const double terms[5][2] = {{got.B, want.B}, {got.C, want.C}, {got.M, want.M},
                                {got.S, want.S}, {got.total, want.total}};
    const size_t counts[5] = {(size_t)batch * s[0].P * 4, (size_t)batch * s[0].P,
                              (size_t)batch * ph * ph * 100, (size_t)batch * n[4], 0};
    static const char *names[5] = {"B", "C", "M", "S", "total"};
    for (int k = 0; k < 5; k++) {
        const double tol = sum_tol(k < 4 ? counts[k] : counts[0] + counts[1] + counts[2] +
                                                            counts[3]);
        /* without S (segm side 0) the CPU's S is 0 * (1 / 0): NaN, and so the total */
        const int both_nan = isnan(terms[k][0]) && isnan(terms[k][1]);
        ck_assert_msg(both_nan || fabs(terms[k][0] - terms[k][1]) <= tol * fabs(terms[k][1]),
                      "op %s: %s %.17g, want %.17g (bound %.3g relative)", c->name, names[k],
                      terms[k][0], terms[k][1], tol);
        if (getenv("YL_LOSS_TOL_REPORT"))
            printf("op %s: %s relative error %.3g\n", c->name, names[k],
                   terms[k][1] ? fabs(terms[k][0] - terms[k][1]) / fabs(terms[k][1]) : 0.0);
    }
    op_check *k = op_host(r, sizeof *k);
    *k = (op_check){.kind = OP_NMSE, .tol = 1e-10, .exact_with_libc_math = 1};
    /* the batch's gradients, array by array, image after image */
    static const char *arrays[5] = {"grad loc", "grad conf", "grad coeff", "grad proto",
                                    "grad segm"};
    for (int a = 0; a < (no_grads ? 0 : sh ? 5 : 4); a++) {
        float *all_got = op_host(r, n[a] * batch * sizeof(float) + 4);
        float *all_want = op_host(r, n[a] * batch * sizeof(float) + 4);
        for (int b = 0; b < batch; b++) {
            float *const gw[5] = {g[b].loc, g[b].conf, g[b].coeff, g[b].proto, g[b].segm};
            float *const gg[5] = {d_g[b].loc, d_g[b].conf, d_g[b].coeff, d_g[b].proto,
                                  d_g[b].segm};
            memcpy(all_want + n[a] * b, gw[a], n[a] * sizeof(float));
            from_dev(all_got + n[a] * b, gg[a], n[a] * sizeof(float));
        }
        op_output(r, arrays[a], OP_F32, n[a] * batch, all_got, all_want, NULL, k);
    }
}
const op_family op_loss_multibox = {"loss multibox", loss_multibox_run};
