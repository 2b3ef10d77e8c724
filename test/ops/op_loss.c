/* The MultiBoxLoss kernels (kernels/yl_loss_kernels.h) against lib/train/'s functions on the
 * same inputs: a small network's priors (or YOLACT-550's), a few objects with masks and a
 * crowd from yl_gt_prepare, random network outputs. Integers (match targets, the hard
 * negatives' rows, the sampling's state) bit for bit; the float gradients as each row
 * states; the double sums within LOSS_SUM_TOL of their sum|terms| (the CPU sums in prior
 * order, the kernels in a tree of per-block partials). */
#include <math.h>
#include <string.h>

#include "ops/op_harness.h"
#include "ops/priors.h"
#include "train/match.h"
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
}
const op_family op_loss_match = {"loss match", loss_match_run};
