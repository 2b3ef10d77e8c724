/* The official MultiBoxLoss in C (lib/train/): ground truth checks, prior matching, and each
 * term's value and gradient, on hand-made cases whose answers are known and by finite
 * differences. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/dense_ops.h"
#include "cpu/training_backward.h"
#include "cpu/training_forward.h"
#include "npz.h"
#include "train_ref.h"
#include "train/box_loss.h"
#include "train/class_loss.h"
#include "train/ground_truth.h"
#include "train/match.h"
#include "train/multibox_loss.h"
#include "train/sgd.h"
#include "weights/tensor_table.h"
#include "yl_test.h"

static const yl_loss_config base_config = YL_LOSS_CONFIG_YOLACT(100);
static const uint8_t any_mask[4] = {1, 1, 0, 0};

/* A ground truth of count objects (2x2 masks). */
static yolact_status prepare(const yl_gt_object *objects, int count, yl_gt *gt)
{
    return yl_gt_prepare(objects, count, 2, 2, 81, gt);
}

START_TEST(gt_orders_crowds_last_and_fixes_boxes)
{
    yl_gt_object o[3] = {
        {{0.1f, 0.1f, 0.5f, 0.5f}, 3, 1, NULL},     /* crowd first: moved last */
        {{0.9f, 0.8f, 0.2f, 1.4f}, 7, 0, any_mask}, /* swapped x, y2 past the image */
        {{-0.5f, 0.0f, 0.5f, 0.5f}, 0, 0, any_mask},
    };
    yl_gt gt;
    ck_assert_status(prepare(o, 3, &gt), YOLACT_OK);
    ck_assert_int_eq(gt.num_objects, 2);
    ck_assert_int_eq(gt.num_crowds, 1);
    const float want[12] = {0.2f, 0.8f, 0.9f, 1.0f, 0.0f, 0.0f, 0.5f, 0.5f,
                            0.1f, 0.1f, 0.5f, 0.5f};
    for (int i = 0; i < 12; i++)
        ck_assert_float_eq(gt.boxes[i], want[i]);
    ck_assert_int_eq(gt.labels[0], 7);
    ck_assert_int_eq(gt.labels[1], 0);
    yl_gt_free(&gt);
}
END_TEST

START_TEST(gt_refuses_hostile_objects)
{
    const yl_gt_object bad[] = {
        {{NAN, 0.1f, 0.5f, 0.5f}, 1, 0, any_mask},  /* not finite */
        {{0.1f, 0.1f, INFINITY, 0.5f}, 1, 0, any_mask},
        {{1.2f, 0.1f, 1.5f, 0.5f}, 1, 0, any_mask}, /* outside the image */
        {{0.3f, 0.1f, 0.3f, 0.5f}, 1, 0, any_mask}, /* no area */
        {{0.1f, 0.1f, 0.5f, 0.5f}, 80, 0, any_mask}, /* label out of range */
        {{0.1f, 0.1f, 0.5f, 0.5f}, -1, 0, any_mask},
        {{0.1f, 0.1f, 0.5f, 0.5f}, 1, 0, NULL},     /* no mask */
        {{-2.0f, -2.0f, -1.0f, -1.0f}, 1, 1, NULL}, /* a crowd outside the image */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        yl_gt gt;
        yl_gt_object o[2] = {{{0.1f, 0.1f, 0.4f, 0.4f}, 2, 0, any_mask}, bad[i]};
        ck_assert_status(prepare(o, 2, &gt), YOLACT_ERR_INVALID_ARGUMENT);
        ck_assert_msg(strstr(yolact_last_error(), "object 1") != NULL, "case %zu: %s", i,
                      yolact_last_error());
        ck_assert_ptr_null(gt.boxes);
    }
    yl_gt gt;
    ck_assert_status(yl_gt_prepare(bad, 1, 0, 5, 81, &gt), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_gt_prepare(NULL, 1, 2, 2, 81, &gt), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_gt_prepare(NULL, 0, 2, 2, 81, &gt), YOLACT_OK);
    ck_assert_int_eq(gt.num_objects + gt.num_crowds, 0);
    yl_gt_free(&gt);
}
END_TEST

/* Priors (cx, cy, w, h) of the matching cases. */
static const float match_priors[] = {
    0.25f, 0.25f, 0.5f, 0.5f,  /* 0: exactly object 0 */
    0.30f, 0.25f, 0.5f, 0.5f,  /* 1: IoU 0.818 with object 0 */
    0.55f, 0.25f, 0.5f, 0.5f,  /* 2: IoU 0.25 with object 0: background */
    0.45f, 0.25f, 0.5f, 0.5f,  /* 3: IoU 0.429 with object 0: neutral */
    0.85f, 0.85f, 0.1f, 0.1f,  /* 4: object 1's only overlap (IoU 0.25): forced positive */
    0.10f, 0.90f, 0.1f, 0.1f,  /* 5: inside the crowd box */
    0.10f, 0.70f, 0.1f, 0.1f,  /* 6: half in the crowd box (0.5 < 0.7): background */
};

START_TEST(match_thresholds_forced_best_prior_and_crowds)
{
    yl_gt_object o[3] = {
        {{0.0f, 0.0f, 0.5f, 0.5f}, 4, 0, any_mask},
        {{0.8f, 0.8f, 1.0f, 1.0f}, 9, 0, any_mask},
        {{0.0f, 0.75f, 0.3f, 1.0f}, 0, 1, NULL},
    };
    yl_gt gt;
    ck_assert_status(prepare(o, 3, &gt), YOLACT_OK);
    int conf[7], idx[7];
    ck_assert_status(yl_match(&base_config, match_priors, 7, &gt, conf, idx), YOLACT_OK);
    const int want_conf[7] = {5, 5, 0, -1, 10, -1, 0};
    for (int p = 0; p < 7; p++)
        ck_assert_msg(conf[p] == want_conf[p], "prior %d: conf %d, want %d", p, conf[p],
                      want_conf[p]);
    ck_assert_int_eq(idx[0], 0);
    ck_assert_int_eq(idx[4], 1);
    /* The crowd unused (threshold 1): prior 5 is background. */
    yl_loss_config no_crowds = base_config;
    no_crowds.crowd_iou_threshold = 1;
    ck_assert_status(yl_match(&no_crowds, match_priors, 7, &gt, conf, idx), YOLACT_OK);
    ck_assert_int_eq(conf[5], 0);
    yl_gt_free(&gt);
    /* No objects: every prior background. */
    ck_assert_status(prepare(NULL, 0, &gt), YOLACT_OK);
    ck_assert_status(yl_match(&base_config, match_priors, 7, &gt, conf, idx), YOLACT_OK);
    for (int p = 0; p < 7; p++)
        ck_assert_int_eq(conf[p], 0);
    yl_gt_free(&gt);
}
END_TEST

START_TEST(box_encode_and_smooth_l1)
{
    const float box[4] = {0.1f, 0.2f, 0.5f, 0.4f}, prior[4] = {0.25f, 0.25f, 0.2f, 0.4f};
    float t[4];
    yl_box_encode(box, prior, t);
    /* centre (0.3, 0.3): (0.05 / 0.02, 0.05 / 0.04); size (0.4, 0.2): log(2) / 0.2,
     * log(0.5) / 0.2. */
    const double want[4] = {2.5, 1.25, log(2.0) / 0.2, log(0.5) / 0.2};
    for (int d = 0; d < 4; d++)
        ck_assert_double_eq_tol(t[d], want[d], 1e-5);
    yl_gt_object o = {{0.1f, 0.2f, 0.5f, 0.4f}, 1, 0, any_mask};
    yl_gt gt;
    ck_assert_status(prepare(&o, 1, &gt), YOLACT_OK);
    const int conf[2] = {2, 0}, idx[2] = {0, 0};
    const float priors[8] = {0.25f, 0.25f, 0.2f, 0.4f, 0.5f, 0.5f, 0.1f, 0.1f};
    /* differences 0.5, -0.25, 2, -3: 0.125 + 0.03125 + 1.5 + 2.5 */
    float loc[8] = {3.0f, 1.0f, (float)want[2] + 2, (float)want[3] - 3, 9, 9, 9, 9};
    float grad[8] = {0};
    double loss = yl_box_loss(loc, priors, 2, conf, idx, &gt, 2.0f, grad);
    ck_assert_double_eq_tol(loss, 4.15625, 1e-5);
    const float want_grad[8] = {1.0f, -0.5f, 2.0f, -2.0f, 0, 0, 0, 0};
    for (int i = 0; i < 8; i++)
        ck_assert_double_eq_tol(grad[i], want_grad[i], 1e-5);
    yl_gt_free(&gt);
}
END_TEST

/* Class loss cases: 2 images of 12 priors, 5 classes. */
enum { CB = 2, CP = 12, CC = 5 };

/* Both images' class loss, shifted by their largest logit. */
static double class_loss_batch(const float *logits, const int *conf, float scale, float *grad)
{
    float shift = -INFINITY;
    for (int i = 0; i < CB * CP * CC; i++)
        shift = fmaxf(shift, logits[i]);
    double sum = 0;
    for (int b = 0; b < CB; b++) {
        double one = 0;
        ck_assert_status(yl_class_loss(logits + b * CP * CC, conf + b * CP, CP, CC, 3, shift,
                                       scale, grad ? grad + b * CP * CC : NULL, &one),
                         YOLACT_OK);
        sum += one;
    }
    return sum;
}

START_TEST(class_loss_mines_hard_negatives)
{
    float logits[CB * CP * CC];
    uint64_t rng = 7;
    for (int i = 0; i < CB * CP * CC; i++)
        logits[i] = yl_test_rand(&rng, -2, 2);
    /* Image 0: 2 positives, 1 neutral: 6 negatives taken of 9. Image 1: 1 positive. */
    int conf[CB * CP] = {0};
    conf[3] = 2, conf[7] = 4, conf[5] = -1, conf[CP + 0] = 1;
    /* The hardest background priors of image 0: make priors 1, 2, 4, 6, 8, 9 the highest
     * (logit[0] far below the rest), priors 0, 10, 11 the easiest. */
    const int hard[] = {1, 2, 4, 6, 8, 9}, easy[] = {0, 10, 11};
    for (int i = 0; i < 6; i++)
        logits[hard[i] * CC] = -6.0f - i;
    for (int i = 0; i < 3; i++)
        logits[easy[i] * CC] = 6.0f;
    double loss = class_loss_batch(logits, conf, 1.0f, NULL);
    /* The expected sum: the positives and the six hard negatives of image 0; image 1's
     * positive and its 3 hardest negatives. */
    double want = 0;
    int rows[CB * CP] = {0};
    rows[3] = rows[7] = 1;
    for (int i = 0; i < 6; i++)
        rows[hard[i]] = 1;
    rows[CP] = 1;
    double lse1[CP];
    int order[CP];
    for (int p = 0; p < CP; p++) {
        double s = 0;
        for (int c = 0; c < CC; c++)
            s += exp(logits[(CP + p) * CC + c]);
        lse1[p] = p == 0 ? -1e9 : log(s) - logits[(CP + p) * CC];
        order[p] = p;
    }
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < CP; j++)
            if (lse1[order[j]] > lse1[order[i]]) {
                int tmp = order[i];
                order[i] = order[j];
                order[j] = tmp;
            }
    for (int i = 0; i < 3; i++)
        rows[CP + order[i]] = 1;
    for (int r = 0; r < CB * CP; r++) {
        if (!rows[r])
            continue;
        double s = 0;
        for (int c = 0; c < CC; c++)
            s += exp(logits[r * CC + c]);
        int t = conf[r] > 0 ? conf[r] : 0;
        want += log(s) - logits[r * CC + t];
    }
    ck_assert_double_eq_tol(loss, want, 1e-5 * want);

    /* The gradient against central differences (the selection holds for a small step). */
    float grad[CB * CP * CC] = {0};
    class_loss_batch(logits, conf, 0.5f, grad);
    for (int i = 0; i < CB * CP * CC; i++) {
        float keep = logits[i];
        const float h = 1e-2f;
        logits[i] = keep + h;
        double up = class_loss_batch(logits, conf, 1.0f, NULL);
        logits[i] = keep - h;
        double down = class_loss_batch(logits, conf, 1.0f, NULL);
        logits[i] = keep;
        double fd = 0.5 * (up - down) / (2.0 * h);
        ck_assert_msg(fabs(grad[i] - fd) < 1e-4, "logit %d: grad %g, differences %g", i,
                      grad[i], fd);
        if (!rows[i / CC])
            ck_assert_float_eq(grad[i], 0.0f);
    }
}
END_TEST

/* ---- The official training step's loss on the parity batch (test/data/train/). ---- */

enum { BATCH = YL_TRAIN_REF_BATCH };

/* The parity batch: network outputs, ground truth and the semantic map, kept per image. */
typedef struct train_case {
    yolact_model *model;
    yl_training_forward *fw[BATCH];
    float *segm[BATCH];         /* (80, P3 h, P3 w) */
    yl_npy masks[BATCH];
    yl_gt gt[BATCH];
    yl_loss_dims dims;
    yl_loss_outputs out[BATCH];
    const float *seg_w, *seg_b; /* semantic_seg_conv, from the checkpoint */
    yl_tensor_table table;
} train_case;

/* gt.json's objects of one image, checked into c->gt[b]. */
static void read_gt(train_case *c, const char *json, int b)
{
    yolact_gt_object pub[8];
    int n = yl_train_ref_objects(json, yl_train_ref_images[b], &c->masks[b], pub, 8);
    yl_gt_object obj[8];
    for (int i = 0; i < n; i++)
        obj[i] = (yl_gt_object){{pub[i].x1, pub[i].y1, pub[i].x2, pub[i].y2}, pub[i].label,
                                pub[i].crowd, pub[i].mask};
    ck_assert_status(yl_gt_prepare(obj, n, (int)c->masks[b].shape[1],
                                   (int)c->masks[b].shape[2], 81, &c->gt[b]), YOLACT_OK);
}

/* semantic_seg_conv (1x1, with bias) on P3. */
static void semantic_map(const train_case *c, int b)
{
    const yl_buffer_desc *d = &c->model->buffers[c->fw[b]->p3];
    const size_t hw = (size_t)d->height * d->width;
    const float *p3 = c->fw[b]->buffers[c->fw[b]->p3];
    for (int o = 0; o < 80; o++)
        for (size_t i = 0; i < hw; i++) {
            float s = c->seg_b[o];
            for (int k = 0; k < d->channels; k++)
                s += c->seg_w[o * d->channels + k] * p3[k * hw + i];
            c->segm[b][o * hw + i] = s;
        }
}

/* The network's outputs on both images under c->model and c->seg_w, c->seg_b. */
static void train_case_forward(train_case *c)
{
    const yolact_model *m = c->model;
    for (int b = 0; b < BATCH; b++) {
        char path[256];
        snprintf(path, sizeof path, YL_TEST_DATA "/parity/%s.png", yl_train_ref_images[b]);
        yolact_image image;
        ck_assert_status(yolact_image_load(path, &image), YOLACT_OK);
        ck_assert_status(yl_cpu_training_forward_create(m, 0, &c->fw[b]), YOLACT_OK);
        yl_preprocess_cpu(&image, m->preset.input_size, m->preset.input_norm, yl_input_mean_bgr,
                          yl_input_std_bgr, c->fw[b]->buffers[0]);
        yolact_image_free_pixels(&image);
        ck_assert_status(yl_cpu_training_forward(c->fw[b]), YOLACT_OK);
        const yl_buffer_desc *p3 = &m->buffers[c->fw[b]->p3];
        c->segm[b] = malloc((size_t)80 * p3->height * p3->width * sizeof(float));
        semantic_map(c, b);
        const yl_training_forward *f = c->fw[b];
        c->out[b] = (yl_loss_outputs){f->loc, f->conf, f->coeff, f->proto, c->segm[b]};
        c->dims = (yl_loss_dims){m->priors, m->num_priors, m->num_classes, m->num_prototypes,
                                 m->proto_h, m->proto_w, p3->height, p3->width};
    }
}

static void train_case_forward_free(train_case *c)
{
    for (int b = 0; b < BATCH; b++) {
        yl_cpu_training_forward_destroy(c->fw[b]);
        free(c->segm[b]);
        c->fw[b] = NULL;
        c->segm[b] = NULL;
    }
}

static void train_case_open(train_case *c)
{
    memset(c, 0, sizeof *c);
    c->model = yl_test_parity_model();
    ck_assert_status(yl_weights_read(YL_TEST_PARITY_CHECKPOINT, &c->table), YOLACT_OK);
    const yl_tensor *w = yl_tensor_table_find(&c->table, "semantic_seg_conv.weight");
    const yl_tensor *bias = yl_tensor_table_find(&c->table, "semantic_seg_conv.bias");
    ck_assert(w && bias);
    c->seg_w = w->data;
    c->seg_b = bias->data;
    char *json = yl_read_text(YL_TRAIN_REF_DATA "/gt.json");
    for (int b = 0; b < BATCH; b++)
        read_gt(c, json, b);
    free(json);
    train_case_forward(c);
}

static void train_case_close(train_case *c)
{
    train_case_forward_free(c);
    for (int b = 0; b < BATCH; b++) {
        yl_gt_free(&c->gt[b]);
        yl_npy_free(&c->masks[b]);
    }
    yl_tensor_table_free(&c->table);
    yolact_model_free(c->model);
}

/* The batch, made by a checked fixture in each test's own process: a forward in the
 * runner would leave OpenMP's thread pool to forked children, where it no longer exists and
 * the next parallel region hangs (finite differences put back what they change). */
static train_case parity;

static void parity_open(void)
{
    train_case_open(&parity);
}

static void parity_close(void)
{
    train_case_close(&parity);
}

/* The reference's settings: yolact_base's loss with every positive's mask. */
static yl_loss_config parity_config(const train_case *c)
{
    yl_loss_config cfg = c->model->preset.loss;
    cfg.mask_sampling = YL_MASK_SAMPLE_ALL;
    return cfg;
}

/* Gradient buffers for the batch, malloc'ed in one block per image. */
typedef struct grad_set {
    yl_loss_grads g[BATCH];
    float *block[BATCH];
} grad_set;

static void grads_alloc(const train_case *c, grad_set *s)
{
    const yl_loss_dims *d = &c->dims;
    size_t P = (size_t)d->num_priors, K = (size_t)d->num_prototypes;
    size_t n_loc = P * 4, n_conf = P * d->num_classes, n_coeff = P * K,
           n_proto = (size_t)d->proto_h * d->proto_w * K,
           n_segm = (size_t)(d->num_classes - 1) * d->segm_h * d->segm_w;
    for (int b = 0; b < BATCH; b++) {
        float *x = s->block[b] = malloc((n_loc + n_conf + n_coeff + n_proto + n_segm) * 4);
        s->g[b] = (yl_loss_grads){x, x + n_loc, x + n_loc + n_conf, x + n_loc + n_conf + n_coeff,
                                  x + n_loc + n_conf + n_coeff + n_proto};
    }
}

static void grads_free(grad_set *s)
{
    for (int b = 0; b < BATCH; b++)
        free(s->block[b]);
}

/* A full gradient against the reference within max(1e-3, 5 x spread). */
static void check_full_grad(const char *spread, const char *name, const double *got, size_t n)
{
    char key[160];
    snprintf(key, sizeof key, "%s/full", name);
    const char *path[] = {"grads", name, "full"};
    double tol = fmax(1e-3, 5 * yl_json_number(spread, path, 3));
    double e = yl_train_ref_rel_l2(got, n, key);
    printf("train_loss: %s relative L2 %.3g (tolerance %.3g)\n", name, e, tol);
    ck_assert_msg(e <= tol, "%s: relative L2 error %g > %g", name, e, tol);
}

START_TEST(parity_losses_and_head_gradients)
{
    train_case *const c = &parity;
    yl_loss_config cfg = parity_config(c);
    grad_set gs;
    grads_alloc(c, &gs);
    yl_losses l;
    ck_assert_status(yl_multibox_loss(&cfg, &c->dims, BATCH, c->out, c->gt, &l, gs.g), YOLACT_OK);

    const double got[5] = {l.B, l.C, l.M, l.S, l.total};
    yl_train_ref_check_losses("train_loss", got);
    char *spread = yl_read_text(YL_TRAIN_REF_DATA "/spread.json");

    /* The head's bias gradients: the sum over every image, level and cell of d total / d its
     * output map (the coefficients' through tanh). Layout: channel a * 4 + d, a * 81 + c,
     * a * 32 + k of anchor a (prior = cell * 3 + a). */
    const yolact_model *m = c->model;
    const int A = m->anchors_per_cell, C = m->num_classes, K = m->num_prototypes;
    double *bb = calloc((size_t)A * 4, sizeof *bb), *cb = calloc((size_t)A * C, sizeof *cb),
           *mb = calloc((size_t)A * K, sizeof *mb), *pb = calloc(K, sizeof *pb),
           *pw = NULL, *sb = calloc(80, sizeof *sb), *sw = NULL;
    const yl_buffer_desc *p3 = &m->buffers[c->fw[0]->p3];
    const size_t p3_hw = (size_t)p3->height * p3->width, proto_hw = (size_t)m->proto_h * m->proto_w;
    sw = calloc((size_t)80 * p3->channels, sizeof *sw);
    /* The protonet's last convolution: the op whose output the proto permute reads. */
    int last = -1;
    for (int i = 0; i < m->num_ops; i++)
        if (m->ops[i].kind == YL_OP_PROTO_OUTPUT)
            for (int j = 0; j < i; j++)
                if (m->ops[j].out == m->ops[i].in)
                    last = j;
    ck_assert_int_ge(last, 0);
    const int proto_in_c = m->buffers[m->ops[last].in].channels;
    pw = calloc((size_t)K * proto_in_c, sizeof *pw);
    for (int b = 0; b < BATCH; b++) {
        const yl_loss_grads *g = &gs.g[b];
        for (int p = 0; p < m->num_priors; p++) {
            int a = p % A;
            for (int d = 0; d < 4; d++)
                bb[a * 4 + d] += g->loc[(size_t)p * 4 + d];
            for (int k = 0; k < C; k++)
                cb[a * C + k] += g->conf[(size_t)p * C + k];
            for (int k = 0; k < K; k++) {
                double t = c->fw[b]->coeff[(size_t)p * K + k];
                mb[a * K + k] += g->coeff[(size_t)p * K + k] * (1 - t * t);
            }
        }
        /* The protonet's last layer: ReLU's gradient, then bias and 1x1 weights. */
        const float *proto_in = c->fw[b]->buffers[m->ops[last].in];
        for (size_t i = 0; i < proto_hw; i++)
            for (int k = 0; k < K; k++) {
                if (!(c->fw[b]->proto[i * K + k] > 0))
                    continue;
                double gk = g->proto[i * K + k];
                pb[k] += gk;
                for (int j = 0; j < proto_in_c; j++)
                    pw[k * proto_in_c + j] += gk * proto_in[j * proto_hw + i];
            }
        const float *p3v = c->fw[b]->buffers[c->fw[b]->p3];
        for (int o = 0; o < 80; o++)
            for (size_t i = 0; i < p3_hw; i++) {
                double go = g->segm[o * p3_hw + i];
                sb[o] += go;
                for (int j = 0; j < p3->channels; j++)
                    sw[o * p3->channels + j] += go * p3v[j * p3_hw + i];
            }
    }
    char proto_bias[64], proto_weight[64];
    const char *proto_name = m->ops[last].name;
    snprintf(proto_bias, sizeof proto_bias, "%s.bias", proto_name);
    snprintf(proto_weight, sizeof proto_weight, "%s.weight", proto_name);
    check_full_grad(spread, "prediction_layers.0.bbox_layer.bias", bb, (size_t)A * 4);
    check_full_grad(spread, "prediction_layers.0.conf_layer.bias", cb, (size_t)A * C);
    check_full_grad(spread, "prediction_layers.0.mask_layer.bias", mb, (size_t)A * K);
    check_full_grad(spread, proto_bias, pb, K);
    check_full_grad(spread, proto_weight, pw, (size_t)K * proto_in_c);
    check_full_grad(spread, "semantic_seg_conv.bias", sb, 80);
    check_full_grad(spread, "semantic_seg_conv.weight", sw, (size_t)80 * p3->channels);
    free(bb), free(cb), free(mb), free(pb), free(pw), free(sb), free(sw);
    free(spread);
    grads_free(&gs);
}
END_TEST

/* The batch's loss (its total to *total unless NULL) and the network's backward pass over
 * both images: the parameter gradients of the step. */
static yl_training_backward *batch_backward(const train_case *c, double *total)
{
    yl_loss_config cfg = parity_config(c);
    grad_set gs;
    grads_alloc(c, &gs);
    yl_losses l;
    ck_assert_status(yl_multibox_loss(&cfg, &c->dims, BATCH, c->out, c->gt, &l, gs.g), YOLACT_OK);
    if (total)
        *total = l.total;
    yl_training_backward *bw;
    ck_assert_status(yl_cpu_training_backward_create(c->model, c->seg_w, 0, &bw), YOLACT_OK);
    for (int b = 0; b < BATCH; b++)
        ck_assert_status(yl_cpu_training_backward(bw, c->fw[b], &gs.g[b]), YOLACT_OK);
    grads_free(&gs);
    return bw;
}

/* The network's backward pass: every trainable parameter's gradient for the batch (the sum
 * over its images) against the official step's, the 53 tensors of grads.npz. */
START_TEST(parity_network_gradients)
{
    train_case *const c = &parity;
    const yolact_model *m = c->model;
    yl_training_backward *bw = batch_backward(c, NULL);

    char *spread = yl_read_text(YL_TRAIN_REF_DATA "/spread.json");
    double worst[3] = {0, 0, 0};
    const char *worst_name[3] = {"", "", ""};
    for (int i = 0; i < bw->num_trainables; i++) {
        const yl_trainable *t = &bw->trainables[i];
        float *g = malloc(t->rows * t->per_row * sizeof *g);
        yl_cpu_training_backward_grad(bw, t, g);
        yl_train_ref_check_grad(spread, t->name, g, t->rows * t->per_row, worst, worst_name);
        free(g);
    }
    const int S = m->num_classes - 1, P3C = m->buffers[c->fw[0]->p3].channels;
    yl_train_ref_check_grad(spread, "semantic_seg_conv.weight", bw->segm_weight_grad,
                            (size_t)S * P3C, worst, worst_name);
    yl_train_ref_check_grad(spread, "semantic_seg_conv.bias", bw->segm_bias_grad, (size_t)S,
                            worst, worst_name);
    ck_assert_int_eq(bw->num_trainables + 2, 53);
    const char *kinds[3] = {"norm", "sampled", "full"};
    for (int k = 0; k < 3; k++)
        printf("train_loss: network gradients, worst %s error / tolerance %.3g (%s)\n",
               kinds[k], worst[k], worst_name[k]);
    free(spread);
    yl_cpu_training_backward_destroy(bw);
}
END_TEST

/* One SGD step on the checkpoint's (unfolded) tensors from the batch's gradients, each
 * tensor's momentum buffer in bufs[i] (numbered as bw's trainables, then semantic_seg_conv's
 * weight and bias), then bw destroyed (it borrows the model) and the network rebuilt from
 * them (BatchNorm folded again) and run on the batch. */
static void sgd_step(train_case *c, yl_training_backward *bw, float **bufs, int first)
{
    const yl_sgd_options opt = {.lr = 1e-4, .momentum = 0.9, .weight_decay = 5e-4};
    for (int i = 0; i < bw->num_trainables + 2; i++) {
        const yl_trainable *t = i < bw->num_trainables ? &bw->trainables[i] : NULL;
        const char *name = t ? t->name : i == bw->num_trainables ? "semantic_seg_conv.weight"
                                                               : "semantic_seg_conv.bias";
        yl_tensor *p = (yl_tensor *)yl_tensor_table_find(&c->table, name);
        ck_assert_msg(p != NULL, "no tensor %s", name);
        float *g = malloc((size_t)p->numel * sizeof *g);
        if (first)
            bufs[i] = malloc((size_t)p->numel * sizeof *bufs[i]);
        if (t) {
            ck_assert_uint_eq(t->rows * t->per_row, (size_t)p->numel);
            yl_cpu_training_backward_grad(bw, t, g);
        } else {
            memcpy(g, i == bw->num_trainables ? bw->segm_weight_grad : bw->segm_bias_grad,
                   (size_t)p->numel * sizeof *g);
        }
        int fresh = first;
        ck_assert_status(yl_sgd_step(&opt, (size_t)p->numel, p->data, g, bufs[i], &fresh),
                         YOLACT_OK);
        free(g);
    }
    yl_cpu_training_backward_destroy(bw);  /* it borrows the model freed below */
    train_case_forward_free(c);
    const yl_preset *preset = yl_preset_find(c->model->preset.name);
    yolact_model_free(c->model);
    ck_assert_status(yl_model_build(&c->table, preset, YOLACT_PRESET_GIVEN, &c->model), YOLACT_OK);
    train_case_forward(c);
}

/* Two steps of torch.optim.SGD(lr 1e-4, momentum 0.9, weight decay 5e-4) on the batch: the
 * totals before the second and the third step against sgd.json's (1e-3 and 1e-2 relative,
 * or 5 x the official spread). */
START_TEST(parity_sgd_steps)
{
    train_case *const c = &parity;
    char *ref = yl_read_text(YL_TRAIN_REF_DATA "/sgd.json");
    char *spread = yl_read_text(YL_TRAIN_REF_DATA "/spread.json");
    const double base_tol[2] = {1e-3, 1e-2};
    float *bufs[64];
    double total;
    yl_training_backward *bw = batch_backward(c, &total);
    ck_assert_int_le(bw->num_trainables + 2, 64);
    const int n = bw->num_trainables + 2;
    for (int step = 1; step <= 2; step++) {
        sgd_step(c, bw, bufs, step == 1);
        double before = total;
        bw = batch_backward(c, &total);
        double want = yl_train_ref_step_total(ref, step);
        double tol = fmax(base_tol[step - 1], 5 * yl_train_ref_step_total(spread, step));
        double e = fabs(total - want) / want;
        printf("train_loss: SGD step %d: total %.8g -> %.8g, official %.8g, relative %.3g "
               "(tolerance %.3g)\n", step, before, total, want, e, tol);
        ck_assert_msg(e <= tol, "total after %d SGD steps %.8g, official %.8g: relative %g > %g",
                      step, total, want, e, tol);
    }
    yl_cpu_training_backward_destroy(bw);
    for (int i = 0; i < n; i++)
        free(bufs[i]);
    free(ref);
    free(spread);
}
END_TEST

/* The total of the parity batch under cfg (no gradients). */
static double total_loss(const train_case *c, const yl_loss_config *cfg)
{
    yl_losses l;
    ck_assert_status(yl_multibox_loss(cfg, &c->dims, BATCH, c->out, c->gt, &l, NULL), YOLACT_OK);
    return l.total;
}

/* d total / d x[i] by central differences, the step as float32 makes it. */
static double central_difference(const train_case *c, const yl_loss_config *cfg, float *x,
                                 float h)
{
    float keep = *x;
    *x = keep + h;
    float up_step = *x - keep;
    double up = total_loss(c, cfg);
    *x = keep - h;
    float down_step = keep - *x;
    double down = total_loss(c, cfg);
    *x = keep;
    return (up - down) / ((double)up_step + down_step);
}

/* The entries of g (count floats) with the largest and the smallest nonzero |g|. */
static void pick_entries(const float *g, size_t count, size_t at[2])
{
    at[0] = at[1] = 0;
    float most = 0, least = INFINITY;
    for (size_t i = 0; i < count; i++) {
        float a = fabsf(g[i]);
        if (a > most)
            most = a, at[0] = i;
        if (a > 0 && a < least)
            least = a, at[1] = i;
    }
}

/* Finite differences of the total against the gradient each term gives its outputs: boxes,
 * class logits, coefficients, prototypes and the semantic map, on the parity batch. The
 * mask term in its stable form here (the official one has flat, saturated pixels whose
 * neighbours a step can flip; its gradient is checked against the official above). */
START_TEST(parity_gradients_match_finite_differences)
{
    train_case *const c = &parity;
    yl_loss_config cfg = parity_config(c);
    const yl_mask_loss_kind kinds[2] = {YL_MASK_LOSS_BCE_STABLE, YL_MASK_LOSS_DICE};
    grad_set gs;
    grads_alloc(c, &gs);
    const yl_loss_dims *d = &c->dims;
    const size_t P = (size_t)d->num_priors, K = (size_t)d->num_prototypes;
    double worst = 0;
    for (int kind = 0; kind < 2; kind++) {
        cfg.mask_loss = kinds[kind];
        yl_losses l;
        ck_assert_status(yl_multibox_loss(&cfg, d, BATCH, c->out, c->gt, &l, gs.g), YOLACT_OK);
        printf("train_loss: mask loss %s: M %.6g, total %.6g\n",
               kind == 0 ? "BCE stable" : "Dice", l.M, l.total);
        for (int b = 0; b < BATCH; b++) {
            yl_training_forward *f = c->fw[b];
            struct {
                float *x, *g;
                size_t count;
                float h;
            } t[5] = {{f->loc, gs.g[b].loc, P * 4, 1e-3f},
                      {f->conf, gs.g[b].conf, P * d->num_classes, 1e-3f},
                      {f->coeff, gs.g[b].coeff, P * K, 1e-3f},
                      {f->proto, gs.g[b].proto, (size_t)d->proto_h * d->proto_w * K, 1e-3f},
                      {c->segm[b], gs.g[b].segm,
                       (size_t)(d->num_classes - 1) * d->segm_h * d->segm_w, 1e-3f}};
            for (int j = kind == 0 ? 0 : 2; j < (kind == 0 ? 5 : 4); j++) {
                size_t at[2];
                pick_entries(t[j].g, t[j].count, at);
                for (int e = 0; e < 2; e++) {
                    double g = t[j].g[at[e]];
                    double fd = central_difference(c, &cfg, t[j].x + at[e], t[j].h);
                    double err = fabs(g - fd) / fmax(fabs(g), 1e-6);
                    worst = fmax(worst, err);
                    ck_assert_msg(g != 0 && err < 2e-3,
                                  "image %d output %d entry %zu: gradient %.8g, differences "
                                  "%.8g", b, j, at[e], g, fd);
                }
            }
        }
    }
    printf("train_loss: gradients against finite differences: worst relative %.3g\n", worst);
    grads_free(&gs);
}
END_TEST

/* masks_to_train: a seeded random subset, scaled up to the positives' count. */
START_TEST(masks_to_train_samples_by_seed)
{
    train_case *const c = &parity;
    yl_loss_config cfg = parity_config(c);
    yl_losses all, a, again, other;
    ck_assert_status(yl_multibox_loss(&cfg, &c->dims, BATCH, c->out, c->gt, &all, NULL), YOLACT_OK);
    cfg.mask_sampling = YL_MASK_SAMPLE_RANDOM;
    cfg.masks_to_train = 5;
    cfg.seed = 1;
    ck_assert_status(yl_multibox_loss(&cfg, &c->dims, BATCH, c->out, c->gt, &a, NULL), YOLACT_OK);
    ck_assert_status(yl_multibox_loss(&cfg, &c->dims, BATCH, c->out, c->gt, &again, NULL),
                     YOLACT_OK);
    cfg.seed = 2;
    ck_assert_status(yl_multibox_loss(&cfg, &c->dims, BATCH, c->out, c->gt, &other, NULL),
                     YOLACT_OK);
    printf("train_loss: M with every positive %.6g, 5 a image (seeds 1, 2) %.6g %.6g\n",
           all.M, a.M, other.M);
    ck_assert_int_gt(all.num_positives, 2 * 5);
    ck_assert(a.M == again.M && a.M != other.M && a.M != all.M);
    ck_assert(a.M > 0.5 * all.M && a.M < 2 * all.M);
    ck_assert(a.B == all.B && a.C == all.C && a.S == all.S);
}
END_TEST

/* Hostile but valid ground truth: no objects at all, an image without objects, an empty
 * mask, a box reaching outside the image: finite losses and gradients, never a crash. */
START_TEST(unusual_ground_truth_gives_finite_losses)
{
    train_case *const c = &parity;
    yl_loss_config cfg = parity_config(c);
    grad_set gs;
    grads_alloc(c, &gs);
    const size_t hw = (size_t)550 * 550;
    uint8_t *empty = calloc(hw, 1);
    yl_gt none[BATCH], odd[BATCH];
    for (int b = 0; b < BATCH; b++)
        ck_assert_status(yl_gt_prepare(NULL, 0, 550, 550, 81, &none[b]), YOLACT_OK);
    yl_gt_object o[2] = {{{0.2f, 0.2f, 0.6f, 0.7f}, 5, 0, empty},
                         {{-0.5f, 0.5f, 0.4f, 1.5f}, 79, 0, c->masks[0].data}};
    ck_assert_status(yl_gt_prepare(o, 2, 550, 550, 81, &odd[0]), YOLACT_OK);
    ck_assert_status(yl_gt_prepare(NULL, 0, 550, 550, 81, &odd[1]), YOLACT_OK);
    const yl_gt *cases[2] = {none, odd};
    for (int k = 0; k < 2; k++) {
        yl_losses l;
        ck_assert_status(yl_multibox_loss(&cfg, &c->dims, BATCH, c->out, cases[k], &l, gs.g),
                         YOLACT_OK);
        ck_assert_msg(isfinite(l.total) && l.S > 0, "case %d: total %g", k, l.total);
        if (k == 0)
            ck_assert(l.B == 0 && l.C == 0 && l.M == 0 && l.num_positives == 0);
        else
            ck_assert(l.num_positives > 0 && l.B > 0 && l.C > 0 && l.M > 0);
        const yl_loss_dims *d = &c->dims;
        for (int b = 0; b < BATCH; b++) {
            const float *g = gs.block[b];
            size_t n = (size_t)d->num_priors * (4 + d->num_classes + d->num_prototypes) +
                       (size_t)d->proto_h * d->proto_w * d->num_prototypes +
                       (size_t)(d->num_classes - 1) * d->segm_h * d->segm_w;
            size_t bad = 0;
            while (bad < n && isfinite(g[bad]))
                bad++;
            ck_assert_msg(bad == n, "case %d image %d: gradient %zu is %g", k, b, bad,
                          bad < n ? g[bad] : 0.0f);
        }
    }
    for (int b = 0; b < BATCH; b++) {
        yl_gt_free(&none[b]);
        yl_gt_free(&odd[b]);
    }
    free(empty);
    grads_free(&gs);
}
END_TEST

Suite *train_loss_suite(void)
{
    Suite *s = suite_create("train_loss");
    TCase *tc = tcase_create("terms");
    tcase_add_test(tc, gt_orders_crowds_last_and_fixes_boxes);
    tcase_add_test(tc, gt_refuses_hostile_objects);
    tcase_add_test(tc, match_thresholds_forced_best_prior_and_crowds);
    tcase_add_test(tc, box_encode_and_smooth_l1);
    tcase_add_test(tc, class_loss_mines_hard_negatives);
    suite_add_tcase(s, tc);
    /* The parity batch: the loss's terms and gradients, then the whole network's backward
     * and two SGD steps. Minutes under valgrind, whose CI run (mk/hardening.mk) leaves "slow"
     * out; make test and ASan run it. */
    TCase *parity = tcase_create("parity");
    tcase_set_tags(parity, "slow");
    tcase_set_timeout(parity, 300);
    tcase_add_checked_fixture(parity, parity_open, parity_close);
    tcase_add_test(parity, parity_losses_and_head_gradients);
    tcase_add_test(parity, parity_gradients_match_finite_differences);
    tcase_add_test(parity, masks_to_train_samples_by_seed);
    tcase_add_test(parity, unusual_ground_truth_gives_finite_losses);
    tcase_add_test(parity, parity_network_gradients);
    tcase_add_test(parity, parity_sgd_steps);
    suite_add_tcase(s, parity);
    return s;
}
