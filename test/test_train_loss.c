/* The official MultiBoxLoss in C (lib/train/): ground truth checks, prior matching, and each
 * term's value and gradient, on hand-made cases whose answers are known and by finite
 * differences. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/box_loss.h"
#include "train/class_loss.h"
#include "train/ground_truth.h"
#include "train/match.h"
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
    yl_match(&base_config, match_priors, 7, &gt, conf, idx);
    const int want_conf[7] = {5, 5, 0, -1, 10, -1, 0};
    for (int p = 0; p < 7; p++)
        ck_assert_msg(conf[p] == want_conf[p], "prior %d: conf %d, want %d", p, conf[p],
                      want_conf[p]);
    ck_assert_int_eq(idx[0], 0);
    ck_assert_int_eq(idx[4], 1);
    /* The crowd unused (threshold 1): prior 5 is background. */
    yl_loss_config no_crowds = base_config;
    no_crowds.crowd_iou_threshold = 1;
    yl_match(&no_crowds, match_priors, 7, &gt, conf, idx);
    ck_assert_int_eq(conf[5], 0);
    yl_gt_free(&gt);
    /* No objects: every prior background. */
    ck_assert_status(prepare(NULL, 0, &gt), YOLACT_OK);
    yl_match(&base_config, match_priors, 7, &gt, conf, idx);
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
    for (int b = 0; b < CB; b++)
        sum += yl_class_loss(logits + b * CP * CC, conf + b * CP, CP, CC, 3, shift, scale,
                             grad ? grad + b * CP * CC : NULL);
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
    return s;
}
