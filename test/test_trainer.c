/* The public trainer (yolact_trainer_*): one step on the parity batch against the official
 * step's losses and gradients, two steps against its SGD, hostile ground truth refused with
 * a status, a saved state that resumes bit for bit, the network made again in place after a
 * step equal to a fresh one, and checkpoints that load again; on the CUDA backend the same
 * official steps, SGD on the device equal to SGD on the host, and FP16 mixed precision (its
 * step against the FP32 one, its loss scale's backoff, growth and resumption). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scratch_dir.h"
#include "train_ref.h"
#include "trainer.h"
#include "weights/tensor_table.h"
#include "yl_test.h"

/* The parity batch as the API takes it. */
typedef struct batch {
    yolact_image images[YL_TRAIN_REF_BATCH];
    yolact_gt_object objects[YL_TRAIN_REF_BATCH][8];
    yolact_ground_truth gt[YL_TRAIN_REF_BATCH];
    yl_npy masks[YL_TRAIN_REF_BATCH];
} batch;

static void batch_open(batch *b)
{
    char *json = yl_read_text(YL_TRAIN_REF_DATA "/gt.json");
    for (int i = 0; i < YL_TRAIN_REF_BATCH; i++) {
        char path[256];
        snprintf(path, sizeof path, YL_TEST_DATA "/parity/%s.png", yl_train_ref_images[i]);
        ck_assert_status(yolact_image_load(path, &b->images[i]), YOLACT_OK);
        int n = yl_train_ref_objects(json, yl_train_ref_images[i], &b->masks[i], b->objects[i],
                                     8);
        b->gt[i] = (yolact_ground_truth){n, b->objects[i], (int)b->masks[i].shape[2],
                                         (int)b->masks[i].shape[1]};
    }
    free(json);
}

static void batch_close(batch *b)
{
    for (int i = 0; i < YL_TRAIN_REF_BATCH; i++) {
        yolact_image_free_pixels(&b->images[i]);
        yl_npy_free(&b->masks[i]);
    }
}

/* The reference's optimizer: SGD at a constant 1e-4, every positive's mask. */
static yolact_trainer_options parity_options(void)
{
    yolact_trainer_options o;
    yolact_trainer_options_init(&o);
    o.preset = "yolact_resnet50";
    o.lr = 1e-4;
    o.lr_warmup_until = 0;
    o.num_lr_steps = 0;
    o.all_masks = 1;
    return o;
}

/* A trainer of the parity checkpoint with options o. */
static yolact_trainer *parity_trainer_of(const yolact_trainer_options *o)
{
    yolact_trainer *t;
    ck_assert_status(yolact_trainer_create(YL_TEST_PARITY_CHECKPOINT, o, &t), YOLACT_OK);
    return t;
}

/* The reference's trainer, BatchNorm frozen or trainable. */
static yolact_trainer *parity_trainer_on(int train_batchnorm, yolact_backend backend)
{
    yolact_trainer_options o = parity_options();
    o.backend = backend;
    o.train_batchnorm = train_batchnorm;
    return parity_trainer_of(&o);
}

static yolact_trainer *parity_trainer_with(int train_batchnorm)
{
    return parity_trainer_on(train_batchnorm, YOLACT_BACKEND_CPU);
}

static yolact_trainer *parity_trainer(void)
{
    return parity_trainer_with(0);
}

/* The loss after one SGD step against the reference's sgd.json, within max(1e-3, 5 x the
 * reference's own spread), printed with its margin. */
static void check_total_after_one_step(const char *label, const char *sgd_path,
                                       const char *spread, double total)
{
    char *sgd = yl_read_text(sgd_path);
    const double want = yl_train_ref_step_total(sgd, 1);
    const double tol = fmax(1e-3, 5 * yl_train_ref_step_total(spread, 1));
    const double e = fabs(total - want) / want;
    printf("%s: total after one SGD step %.8g, official %.8g, relative %.3g (tolerance "
           "%.3g)\n", label, total, want, e, tol);
    ck_assert_msg(e <= tol, "%s: total after one step %.8g, official %.8g", label, total, want);
    free(sgd);
}

/* Each check of the tcases that save files gets a scratch folder of its own. */
static void temp_open(void) { scratch_open("yl_trainer"); }

/* One step on backend: the official losses and every gradient (from the saved
 * .safetensors); a second step: the official total after one SGD step. */
static void check_official_steps(yolact_backend backend)
{
    batch b;
    batch_open(&b);
    yolact_trainer *t = parity_trainer_on(0, backend);
    ck_assert_int_eq(yolact_trainer_backend(t), backend);
    ck_assert_status(yolact_trainer_save_gradients(t, scratch_path("none.safetensors")),
                     YOLACT_ERR_INVALID_ARGUMENT);
    yolact_losses l;
    ck_assert_status(yolact_trainer_step(t, b.images, b.gt, YL_TRAIN_REF_BATCH, &l), YOLACT_OK);
    ck_assert_int_eq(l.step_taken, 1);
    ck_assert(yolact_trainer_iteration(t) == 1 && yolact_trainer_lr(t) == 1e-4);
    const double got[5] = {l.B, l.C, l.M, l.S, l.total};
    yl_train_ref_check_losses("trainer", got);

    const char *grads_path = scratch_path("grads.safetensors");
    ck_assert_status(yolact_trainer_save_gradients(t, grads_path), YOLACT_OK);
    yl_tensor_table grads;
    ck_assert_status(yl_weights_read(grads_path, &grads), YOLACT_OK);
    ck_assert_uint_eq(grads.count, 53);
    char *spread = yl_read_text(YL_TRAIN_REF_DATA "/spread.json");
    double worst[3] = {0, 0, 0};
    const char *worst_name[3] = {"", "", ""};
    for (size_t i = 0; i < grads.count; i++) {
        const yl_tensor *g = &grads.tensors[i];
        ck_assert_int_eq(g->dtype, YL_DTYPE_F32);
        yl_train_ref_check_grad(spread, g->name, g->data, (size_t)g->numel, worst, worst_name);
    }
    printf("trainer: gradients, worst error / tolerance %.3g (norm), %.3g (sampled), %.3g "
           "(full)\n", worst[0], worst[1], worst[2]);
    yl_tensor_table_free(&grads);

    ck_assert_status(yolact_trainer_step(t, b.images, b.gt, YL_TRAIN_REF_BATCH, &l), YOLACT_OK);
    check_total_after_one_step("trainer", YL_TRAIN_REF_DATA "/sgd.json", spread, l.total);
    free(spread);
    yolact_trainer_destroy(t);
    batch_close(&b);
}

START_TEST(step_matches_the_official_step)
{
    check_official_steps(YOLACT_BACKEND_CPU);
}
END_TEST

/* The CUDA training pass (emulated here; on a GPU in the GPU runner's suites), held to the
 * same tolerances. */
START_TEST(cuda_step_matches_the_official_step)
{
    check_official_steps(YOLACT_BACKEND_CUDA);
}
END_TEST

/* The weights of a .safetensors file, or of a trainer saved there. */
static void read_weights(const char *path, yl_tensor_table *table)
{
    ck_assert_status(yl_weights_read(path, table), YOLACT_OK);
}

/* Every float tensor of a is in b with the same bits; at least min of them. */
static void assert_same_floats(const yl_tensor_table *a, const yl_tensor_table *b, size_t min)
{
    size_t compared = 0;
    for (size_t i = 0; i < a->count; i++) {
        const yl_tensor *x = &a->tensors[i];
        const yl_tensor *y = yl_tensor_table_find(b, x->name);
        ck_assert_msg(y != NULL, "no %s", x->name);
        ck_assert(x->numel == y->numel);
        if (!x->data)
            continue;
        ck_assert_msg(memcmp(x->data, y->data, (size_t)x->numel * sizeof(float)) == 0,
                      "%s differs", x->name);
        compared++;
    }
    ck_assert_uint_ge(compared, min);
}

/* Two steps == one step, save_state, load_state into a new trainer, one step; and the
 * weights saved as .pth and .safetensors load as models and hold the same values. */
START_TEST(state_resumes_bit_for_bit)
{
    batch b;
    batch_open(&b);
    yolact_trainer *t = parity_trainer();
    ck_assert_status(yolact_trainer_step(t, b.images, b.gt, 1, NULL), YOLACT_OK);
    ck_assert_status(yolact_trainer_step(t, b.images + 1, b.gt + 1, 1, NULL), YOLACT_OK);
    ck_assert_status(yolact_trainer_save_weights(t, scratch_path("two.safetensors")), YOLACT_OK);
    ck_assert_status(yolact_trainer_save_weights(t, scratch_path("two.pth")), YOLACT_OK);
    yolact_trainer_destroy(t);

    t = parity_trainer();
    ck_assert_status(yolact_trainer_step(t, b.images, b.gt, 1, NULL), YOLACT_OK);
    ck_assert_status(yolact_trainer_save_state(t, scratch_path("state.safetensors")), YOLACT_OK);
    yolact_trainer_destroy(t);
    t = parity_trainer();
    ck_assert_status(yolact_trainer_load_state(t, scratch_path("state.safetensors")), YOLACT_OK);
    ck_assert(yolact_trainer_iteration(t) == 1);
    ck_assert_status(yolact_trainer_step(t, b.images + 1, b.gt + 1, 1, NULL), YOLACT_OK);
    ck_assert_status(yolact_trainer_save_weights(t, scratch_path("resumed.safetensors")),
                     YOLACT_OK);
    yolact_trainer_destroy(t);

    yl_tensor_table two, resumed, pth;
    read_weights(scratch_path("two.safetensors"), &two);
    read_weights(scratch_path("resumed.safetensors"), &resumed);
    read_weights(scratch_path("two.pth"), &pth);
    assert_same_floats(&two, &resumed, 54);
    assert_same_floats(&two, &pth, 54);
    yl_tensor_table_free(&two);
    yl_tensor_table_free(&resumed);
    yl_tensor_table_free(&pth);
    const char *saved[2] = {scratch_path("two.safetensors"), scratch_path("two.pth")};
    for (int i = 0; i < 2; i++) {
        yolact_model_options mo;
        yolact_model_options_init(&mo);
        mo.preset = "yolact_resnet50";
        yolact_model *m;
        ck_assert_status(yolact_model_load(saved[i], &mo, &m), YOLACT_OK);
        yolact_model_free(m);
    }
    batch_close(&b);
}
END_TEST

/* A step makes the network's parameters again in place (BatchNorm refolded, the prepared
 * weights transformed again) instead of building it: after two steps, the third's losses,
 * gradients and updated weights are those of a trainer created afresh from the state saved
 * after the two, bit for bit. */
START_TEST(refilled_network_equals_a_fresh_one)
{
    batch b;
    batch_open(&b);
    static const char *const names[2][2] = {{"grads_kept", "weights_kept"},
                                            {"grads_fresh", "weights_fresh"}};
    char paths[2][2][128];
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 2; i++)
            snprintf(paths[k][i], sizeof paths[k][i], "%s/%s.safetensors", scratch_dir(),
                     names[k][i]);
    yolact_losses l[2];
    yolact_trainer *t = parity_trainer();
    for (int i = 0; i < 2; i++)
        ck_assert_status(yolact_trainer_step(t, b.images, b.gt, YL_TRAIN_REF_BATCH, NULL),
                         YOLACT_OK);
    ck_assert_status(yolact_trainer_save_state(t, scratch_path("state.safetensors")), YOLACT_OK);
    for (int k = 0; k < 2; k++) {
        if (k == 1) {
            yolact_trainer_destroy(t);
            t = parity_trainer();
            ck_assert_status(yolact_trainer_load_state(t, scratch_path("state.safetensors")),
                             YOLACT_OK);
        }
        ck_assert_status(yolact_trainer_step(t, b.images, b.gt, YL_TRAIN_REF_BATCH, &l[k]),
                         YOLACT_OK);
        ck_assert_status(yolact_trainer_save_gradients(t, paths[k][0]), YOLACT_OK);
        ck_assert_status(yolact_trainer_save_weights(t, paths[k][1]), YOLACT_OK);
    }
    yolact_trainer_destroy(t);
    const double kept[5] = {l[0].B, l[0].C, l[0].M, l[0].S, l[0].total};
    const double fresh[5] = {l[1].B, l[1].C, l[1].M, l[1].S, l[1].total};
    ck_assert_msg(memcmp(kept, fresh, sizeof kept) == 0, "total %.17g after refills, %.17g "
                  "fresh", kept[4], fresh[4]);
    ck_assert_int_eq(l[0].num_positives, l[1].num_positives);
    for (int i = 0; i < 2; i++) {
        yl_tensor_table x, y;
        read_weights(paths[0][i], &x);
        read_weights(paths[1][i], &y);
        assert_same_floats(&x, &y, i == 0 ? 53 : 54);
        yl_tensor_table_free(&x);
        yl_tensor_table_free(&y);
    }
    batch_close(&b);
}
END_TEST

#define BN_REF YL_TRAIN_REF_DATA "/bn"

static int is_running_stat(const char *name)
{
    const size_t n = strlen(name);
    return (n > 13 && strcmp(name + n - 13, ".running_mean") == 0) ||
           (n > 12 && strcmp(name + n - 12, ".running_var") == 0);
}

/* Trainable BatchNorm against the official step with cfg.freeze_bn off (test/data/train/bn,
 * test/train_bn_reference.py): the losses, the gradient of every parameter (BatchNorm's
 * weights and biases among them), the running statistics the step's forward moved, and the
 * total after the SGD step; tolerances as the frozen reference's (its README), the running
 * statistics within 1e-3 of each tensor's max |value| (or 5 x the official spread). */
static void check_official_batchnorm_step(yolact_backend backend)
{
    batch b;
    batch_open(&b);
    yolact_trainer *t = parity_trainer_on(1, backend);
    ck_assert_int_eq(yolact_trainer_backend(t), backend);
    yolact_losses l;
    ck_assert_status(yolact_trainer_step(t, b.images, b.gt, YL_TRAIN_REF_BATCH, &l), YOLACT_OK);
    const double got[5] = {l.B, l.C, l.M, l.S, l.total};
    yl_train_ref_check_losses_in(BN_REF, "trainer (trainable BatchNorm)", got);
    ck_assert_status(yolact_trainer_save_gradients(t, scratch_path("grads.safetensors")),
                     YOLACT_OK);
    ck_assert_status(yolact_trainer_save_weights(t, scratch_path("weights.safetensors")),
                     YOLACT_OK);
    char *spread = yl_read_text(BN_REF "/spread.json");
    yl_tensor_table grads, weights;
    read_weights(scratch_path("grads.safetensors"), &grads);
    size_t bn_params = 0;
    double worst[3] = {0, 0, 0};
    const char *worst_name[3] = {"", "", ""};
    for (size_t i = 0; i < grads.count; i++) {
        const yl_tensor *g = &grads.tensors[i];
        bn_params += strstr(g->name, ".bn") || strstr(g->name, "downsample.1.");
        yl_train_ref_check_grad_in(BN_REF, spread, g->name, g->data, (size_t)g->numel, worst,
                                   worst_name);
    }
    printf("trainer (trainable BatchNorm): gradients of %zu parameters (%zu of BatchNorm), "
           "worst error / tolerance %.3g (norm, %s), %.3g (sampled, %s)\n", grads.count,
           bn_params, worst[0], worst_name[0], worst[1], worst_name[1]);
    ck_assert_uint_eq(grads.count, 53 + bn_params);
    ck_assert_uint_eq(bn_params, 34); /* 17 BatchNorm layers of the parity ResNet */
    yl_tensor_table_free(&grads);

    read_weights(scratch_path("weights.safetensors"), &weights);
    size_t compared = 0;
    double worst_running = 0;
    for (size_t i = 0; i < weights.count; i++) {
        const yl_tensor *w = &weights.tensors[i];
        if (!is_running_stat(w->name))
            continue;
        yl_npy ref;
        const char *err = yl_npz_read(BN_REF "/running.npz", w->name, &ref);
        ck_assert_msg(err == NULL, "%s: %s", w->name, err);
        ck_assert_uint_eq(ref.count, (size_t)w->numel);
        const float *r = ref.data, *x = w->data;
        double peak = 0, e = 0;
        for (size_t k = 0; k < ref.count; k++) {
            peak = fmax(peak, fabs(r[k]));
            e = fmax(e, fabs(x[k] - r[k]));
        }
        const char *sp[] = {"running", w->name};
        const double ratio = e / peak / fmax(1e-3, 5 * yl_json_number(spread, sp, 2));
        worst_running = fmax(worst_running, ratio);
        ck_assert_msg(ratio <= 1, "%s: max error %.3g of max |value| %.3g", w->name, e, peak);
        yl_npy_free(&ref);
        compared++;
    }
    printf("trainer (trainable BatchNorm): running statistics, worst error / tolerance %.3g\n",
           worst_running);
    ck_assert_uint_eq(compared, 34);
    yl_tensor_table_free(&weights);

    ck_assert_status(yolact_trainer_evaluate(t, b.images, b.gt, YL_TRAIN_REF_BATCH, &l),
                     YOLACT_OK);
    check_total_after_one_step("trainer (trainable BatchNorm)", BN_REF "/sgd.json", spread,
                               l.total);
    free(spread);
    yolact_trainer_destroy(t);
    batch_close(&b);
}

START_TEST(trainable_batchnorm_matches_the_official_step)
{
    check_official_batchnorm_step(YOLACT_BACKEND_CPU);
}
END_TEST

START_TEST(cuda_trainable_batchnorm_matches_the_official_step)
{
    check_official_batchnorm_step(YOLACT_BACKEND_CUDA);
}
END_TEST

/* Trainable BatchNorm on a batch of one image (its own statistics): two steps equal one
 * step, save_state, load_state into a new trainer, one step, bit for bit, the running
 * statistics included (the state holds them); and they moved from the checkpoint's. */
START_TEST(trainable_batchnorm_resumes_bit_for_bit)
{
    batch b;
    batch_open(&b);
    yolact_trainer *t = parity_trainer_with(1);
    for (int i = 0; i < 2; i++)
        ck_assert_status(yolact_trainer_step(t, b.images + i, b.gt + i, 1, NULL), YOLACT_OK);
    ck_assert_status(yolact_trainer_save_weights(t, scratch_path("two.safetensors")), YOLACT_OK);
    yolact_trainer_destroy(t);
    t = parity_trainer_with(1);
    ck_assert_status(yolact_trainer_step(t, b.images, b.gt, 1, NULL), YOLACT_OK);
    ck_assert_status(yolact_trainer_save_state(t, scratch_path("state.safetensors")), YOLACT_OK);
    yolact_trainer_destroy(t);
    t = parity_trainer_with(1);
    ck_assert_status(yolact_trainer_load_state(t, scratch_path("state.safetensors")), YOLACT_OK);
    ck_assert_status(yolact_trainer_step(t, b.images + 1, b.gt + 1, 1, NULL), YOLACT_OK);
    ck_assert_status(yolact_trainer_save_weights(t, scratch_path("resumed.safetensors")),
                     YOLACT_OK);
    yolact_trainer_destroy(t);
    yl_tensor_table two, resumed, start;
    read_weights(scratch_path("two.safetensors"), &two);
    read_weights(scratch_path("resumed.safetensors"), &resumed);
    ck_assert_status(yl_weights_read(YL_TEST_PARITY_CHECKPOINT, &start), YOLACT_OK);
    assert_same_floats(&two, &resumed, 121); /* every float tensor of the checkpoint */
    const yl_tensor *before = yl_tensor_table_find(&start, "backbone.bn1.running_var");
    const yl_tensor *after = yl_tensor_table_find(&two, "backbone.bn1.running_var");
    ck_assert(before && after && before->numel == after->numel);
    ck_assert(memcmp(before->data, after->data, (size_t)after->numel * sizeof(float)) != 0);
    yl_tensor_table_free(&two);
    yl_tensor_table_free(&resumed);
    yl_tensor_table_free(&start);
    batch_close(&b);
}
END_TEST

/* Hostile ground truth and arguments: YOLACT_ERR_INVALID_ARGUMENT with a message naming the
 * problem, nothing changed; unusual but valid ground truth (no objects, an empty mask) takes
 * a step with finite losses. */
START_TEST(hostile_ground_truth_is_refused)
{
    batch b;
    batch_open(&b);
    yolact_trainer *t = parity_trainer();
    yolact_losses l;
    ck_assert_status(yolact_trainer_step(NULL, b.images, b.gt, 1, &l),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yolact_trainer_step(t, NULL, b.gt, 1, &l), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yolact_trainer_step(t, b.images, NULL, 1, &l), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yolact_trainer_step(t, b.images, b.gt, 0, &l), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yolact_trainer_step(t, b.images, b.gt, -3, &l),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(yolact_last_error(), "batch must be at least 1");

    const yolact_gt_object good = b.objects[0][0];
    const yolact_gt_object bad[] = {
        {1.2f, 0.1f, 1.5f, 0.5f, 1, 0, good.mask},  /* outside the image */
        {NAN, 0.1f, 0.5f, 0.5f, 1, 0, good.mask},
        {0.1f, 0.1f, 0.5f, 0.5f, 80, 0, good.mask}, /* label out of range */
        {0.1f, 0.1f, 0.5f, 0.5f, -1, 0, good.mask},
        {0.1f, 0.1f, 0.5f, 0.5f, 3, 0, NULL},       /* no mask */
    };
    yolact_ground_truth gt[2] = {b.gt[0], b.gt[1]};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        yolact_gt_object two[2] = {good, bad[i]};
        gt[1] = (yolact_ground_truth){2, two, b.gt[1].mask_width, b.gt[1].mask_height};
        ck_assert_status(yolact_trainer_step(t, b.images, gt, 2, &l),
                         YOLACT_ERR_INVALID_ARGUMENT);
        ck_assert_msg(strstr(yolact_last_error(), "image 1: ground truth object 1"),
                      "case %zu: %s", i, yolact_last_error());
    }
    gt[1] = (yolact_ground_truth){2, NULL, 550, 550};
    ck_assert_status(yolact_trainer_step(t, b.images, gt, 2, &l), YOLACT_ERR_INVALID_ARGUMENT);
    gt[1] = (yolact_ground_truth){-1, b.objects[1], 550, 550};
    ck_assert_status(yolact_trainer_step(t, b.images, gt, 2, &l), YOLACT_ERR_INVALID_ARGUMENT);
    gt[1] = (yolact_ground_truth){1, b.objects[1], 0, 550};
    ck_assert_status(yolact_trainer_step(t, b.images, gt, 2, &l), YOLACT_ERR_INVALID_ARGUMENT);
    yolact_image no_pixels = b.images[0];
    no_pixels.data = NULL;
    ck_assert_status(yolact_trainer_step(t, &no_pixels, b.gt, 1, &l),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert(yolact_trainer_iteration(t) == 0);

    /* No objects in one image, an empty mask and a box reaching past the image in the
     * other. */
    uint8_t *empty = calloc((size_t)550 * 550, 1);
    yolact_gt_object odd[2] = {{0.2f, 0.2f, 0.6f, 0.7f, 5, 0, empty},
                               {-0.5f, 0.5f, 0.4f, 1.5f, 79, 0, good.mask}};
    gt[0] = (yolact_ground_truth){0, NULL, 550, 550};
    gt[1] = (yolact_ground_truth){2, odd, 550, 550};
    ck_assert_status(yolact_trainer_step(t, b.images, gt, 2, &l), YOLACT_OK);
    ck_assert_msg(isfinite(l.total) && l.step_taken && l.num_positives > 0, "total %g",
                  l.total);
    free(empty);
    yolact_trainer_destroy(t);
    batch_close(&b);
}
END_TEST

/* Creation's own refusals, quick: no model is built. */
START_TEST(create_refuses_bad_arguments)
{
    yolact_trainer *t = (yolact_trainer *)&t;
    yolact_trainer_options o;
    yolact_trainer_options_init(&o);
    ck_assert_status(yolact_trainer_create(NULL, &o, &t), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yolact_trainer_create(YL_TEST_PARITY_CHECKPOINT, &o, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    o.lr = -1;
    ck_assert_status(yolact_trainer_create(YL_TEST_PARITY_CHECKPOINT, &o, &t),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(t);
    yolact_trainer_options_init(&o);
    o.num_lr_steps = YOLACT_MAX_LR_STEPS + 1;
    ck_assert_status(yolact_trainer_create(YL_TEST_PARITY_CHECKPOINT, &o, &t),
                     YOLACT_ERR_INVALID_ARGUMENT);
    yolact_trainer_options_init(&o);
    o.preset = "no_such_preset";
    ck_assert_status(yolact_trainer_create(YL_TEST_PARITY_CHECKPOINT, &o, &t),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yolact_trainer_create(YL_TEST_DATA "/no/such.pth", NULL, &t),
                     YOLACT_ERR_IO);
    o.struct_size = 0;
    ck_assert_status(yolact_trainer_create(YL_TEST_PARITY_CHECKPOINT, &o, &t),
                     YOLACT_ERR_INVALID_ARGUMENT);
    yolact_trainer_options_init(&o);
    o.backend = (yolact_backend)7;
    ck_assert_status(yolact_trainer_create(YL_TEST_PARITY_CHECKPOINT, &o, &t),
                     YOLACT_ERR_INVALID_ARGUMENT);
    o.backend = YOLACT_BACKEND_CUDA;
    o.device_index = -1;
    ck_assert_status(yolact_trainer_create(YL_TEST_PARITY_CHECKPOINT, &o, &t),
                     YOLACT_ERR_INVALID_ARGUMENT);
    o.device_index = 1; /* the emulation has one device; a build without CUDA none */
    ck_assert_status(yolact_trainer_create(YL_TEST_PARITY_CHECKPOINT, &o, &t),
                     YOLACT_ERR_BACKEND_UNAVAILABLE);
    ck_assert_ptr_null(t);
    yolact_trainer_options_init(&o);
    ck_assert_int_eq(o.precision, YOLACT_PRECISION_FP32);
    o.precision = (yolact_precision)7;
    ck_assert_status(yolact_trainer_create(YL_TEST_PARITY_CHECKPOINT, &o, &t),
                     YOLACT_ERR_INVALID_ARGUMENT);
    o.precision = YOLACT_PRECISION_FP16; /* on the CPU */
    ck_assert_status(yolact_trainer_create(YL_TEST_PARITY_CHECKPOINT, &o, &t),
                     YOLACT_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(yolact_last_error(), "CUDA backend only"), "%s", yolact_last_error());
    ck_assert_ptr_null(t);
    ck_assert(yolact_trainer_loss_scale(NULL) == 0);
    ck_assert_int_eq(yolact_trainer_backend(NULL), YOLACT_BACKEND_AUTO);
    yolact_trainer_destroy(NULL);
    ck_assert_status(yolact_trainer_save_weights(NULL, "x.pth"), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yolact_trainer_load_state(NULL, "x"), YOLACT_ERR_INVALID_ARGUMENT);
}
END_TEST

/* A parity trainer on the CUDA backend with the default weight decay (5e-4), the default
 * momentum (0.9) or none, BatchNorm frozen or trainable, the batch in sub_batches parts;
 * SGD on the device, or with host_sgd on the host (the path that downloads the gradients
 * and uploads the parameters at each step); in FP32 or FP16. */
static yolact_trainer *cuda_trainer_in(yolact_precision precision, int train_batchnorm,
                                       int sub_batches, int momentum, int host_sgd)
{
    yolact_trainer_options o = parity_options();
    o.precision = precision;
    if (!momentum)
        o.momentum = 0;
    o.backend = YOLACT_BACKEND_CUDA;
    o.train_batchnorm = train_batchnorm;
    o.sub_batches = sub_batches;
    yolact_trainer *t = parity_trainer_of(&o);
    if (host_sgd)
        ck_assert_status(yl_trainer_host_optimizer(t), YOLACT_OK);
    return t;
}

static yolact_trainer *cuda_trainer(int train_batchnorm, int sub_batches, int momentum,
                                    int host_sgd)
{
    return cuda_trainer_in(YOLACT_PRECISION_FP32, train_batchnorm, sub_batches, momentum,
                           host_sgd);
}

/* The state (weights, running statistics, momentum buffers: every float tensor) and the
 * gradients two trainers saved under tag a and tag b, bit for bit, at least params tensors
 * each; buffers momentum buffers among them. */
static void assert_same_state(const char *a, const char *b, size_t params, size_t buffers)
{
    for (int k = 0; k < 2; k++) {
        char pa[64], pb[64];
        snprintf(pa, sizeof pa, "%s_%s.safetensors", a, k ? "grads" : "state");
        snprintf(pb, sizeof pb, "%s_%s.safetensors", b, k ? "grads" : "state");
        yl_tensor_table ta, tb;
        read_weights(scratch_path(pa), &ta);
        read_weights(scratch_path(pb), &tb);
        ck_assert_uint_eq(ta.count, tb.count);
        size_t held = 0;
        for (size_t i = 0; i < ta.count; i++)
            held += strncmp(ta.tensors[i].name, "momentum_buffer.", 16) == 0;
        ck_assert_uint_eq(held, k ? 0 : buffers);
        assert_same_floats(&ta, &tb, params);
        yl_tensor_table_free(&ta);
        yl_tensor_table_free(&tb);
    }
}

static void save_state(const yolact_trainer *t, const char *tag)
{
    char path[64];
    snprintf(path, sizeof path, "%s_state.safetensors", tag);
    ck_assert_status(yolact_trainer_save_state(t, scratch_path(path)), YOLACT_OK);
    snprintf(path, sizeof path, "%s_grads.safetensors", tag);
    ck_assert_status(yolact_trainer_save_gradients(t, scratch_path(path)), YOLACT_OK);
}

/* Two steps on the CUDA backend with SGD on the device equal two with SGD on the host, bit
 * for bit in the emulation (the same float operations: the unfold, the sum of the parts,
 * SGD and the fold are the host's): the losses of both steps, and after each the weights,
 * running statistics, momentum buffers (made by the first step, continued by the second)
 * and gradients; the device trainer saves its state after the first step and a new one
 * resumes from it for the second. */
static void check_device_sgd(int train_batchnorm, int sub_batches, int momentum,
                             size_t params)
{
    batch b;
    batch_open(&b);
    yolact_losses host[2], device[2];
    yolact_trainer *t = cuda_trainer(train_batchnorm, sub_batches, momentum, 1);
    for (int k = 0; k < 2; k++) {
        ck_assert_status(yolact_trainer_step(t, b.images, b.gt, YL_TRAIN_REF_BATCH, &host[k]),
                         YOLACT_OK);
        save_state(t, k ? "host2" : "host1");
    }
    yolact_trainer_destroy(t);

    t = cuda_trainer(train_batchnorm, sub_batches, momentum, 0);
    ck_assert_status(yolact_trainer_step(t, b.images, b.gt, YL_TRAIN_REF_BATCH, &device[0]),
                     YOLACT_OK);
    save_state(t, "device1");
    yolact_trainer_destroy(t);
    t = cuda_trainer(train_batchnorm, sub_batches, momentum, 0);
    ck_assert_status(yolact_trainer_load_state(t, scratch_path("device1_state.safetensors")),
                     YOLACT_OK);
    ck_assert_status(yolact_trainer_step(t, b.images, b.gt, YL_TRAIN_REF_BATCH, &device[1]),
                     YOLACT_OK);
    save_state(t, "device2");
    yolact_trainer_destroy(t);
    for (int k = 0; k < 2; k++) {
        printf("device SGD (BatchNorm %s, %d parts, momentum %s): step %d total %.9g, host "
               "SGD's %.9g\n", train_batchnorm ? "trainable" : "frozen", sub_batches,
               momentum ? "0.9" : "none", k + 1, device[k].total, host[k].total);
        ck_assert_msg(device[k].total == host[k].total && device[k].M == host[k].M,
                      "step %d: total %.9g, the host path's %.9g", k + 1, device[k].total,
                      host[k].total);
    }
    ck_assert(host[1].total != host[0].total); /* the step moved the weights */
    assert_same_state("host1", "device1", params, momentum ? params : 0);
    assert_same_state("host2", "device2", params, momentum ? params : 0);
    batch_close(&b);
}

START_TEST(device_sgd_equals_host_sgd)
{
    check_device_sgd(0, 1, 1, 53);
}
END_TEST

START_TEST(device_sgd_equals_host_sgd_with_batchnorm_in_parts)
{
    check_device_sgd(1, 2, 1, 87);
}
END_TEST

/* Without momentum no buffer is made, uploaded or fetched; frozen BatchNorm in two parts. */
START_TEST(device_sgd_equals_host_sgd_without_momentum)
{
    check_device_sgd(0, 2, 0, 53);
}
END_TEST

/* ---- FP16 (mixed precision) --------------------------------------------------------- */

/* ||a - b|| / ||b|| over n floats. */
static double relative_norm(const float *a, const float *b, size_t n)
{
    double diff = 0, norm = 0;
    for (size_t i = 0; i < n; i++) {
        diff += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        norm += (double)b[i] * b[i];
    }
    return norm > 0 ? sqrt(diff / norm) : sqrt(diff);
}

/* The FP16 step's losses (l[1]) and gradients (saved under g16) against the FP32 step's
 * (l[0], g32): each loss relatively within loss_tol, each tensor's gradient in relative norm
 * within worst_tol and all of them together within all_tol; printed under label. */
static void check_fp16_step(const char *label, const yolact_losses l[2], const char *g16_path,
                            const char *g32_path, double loss_tol, double worst_tol,
                            double all_tol)
{
    const double got[5] = {l[1].B, l[1].C, l[1].M, l[1].S, l[1].total};
    const double want[5] = {l[0].B, l[0].C, l[0].M, l[0].S, l[0].total};
    const char *names[5] = {"B", "C", "M", "S", "total"};
    for (int k = 0; k < 5; k++) {
        const double e = fabs(got[k] - want[k]) / fabs(want[k]);
        printf("%s: %s %.8g, FP32 %.8g, relative %.3g (tolerance %g)\n", label, names[k],
               got[k], want[k], e, loss_tol);
        ck_assert_msg(e <= loss_tol, "%s %s %.8g, FP32 %.8g", label, names[k], got[k],
                      want[k]);
    }
    ck_assert_int_eq(l[1].num_positives, l[0].num_positives);
    yl_tensor_table g16, g32;
    read_weights(scratch_path(g16_path), &g16);
    read_weights(scratch_path(g32_path), &g32);
    ck_assert_uint_eq(g16.count, g32.count);
    double worst = 0, diff = 0, norm = 0; /* each tensor's, and all of them as one */
    const char *worst_name = "";
    for (size_t i = 0; i < g32.count; i++) {
        const yl_tensor *w = &g32.tensors[i], *g = yl_tensor_table_find(&g16, w->name);
        ck_assert_msg(g && g->numel == w->numel, "%s", w->name);
        const double e = relative_norm(g->data, w->data, (size_t)w->numel);
        for (int64_t j = 0; j < w->numel; j++) {
            diff += ((double)g->data[j] - w->data[j]) * ((double)g->data[j] - w->data[j]);
            norm += (double)w->data[j] * w->data[j];
        }
        if (!(e <= worst)) {
            worst = e;
            worst_name = w->name;
        }
    }
    const double all = sqrt(diff / norm);
    printf("%s: gradients of %zu parameters, relative error in norm %.3g all together "
           "(tolerance %g), worst %.3g (%s; tolerance %g)\n", label, g32.count, all, all_tol,
           worst, worst_name, worst_tol);
    ck_assert_msg(worst <= worst_tol, "%s: gradient of %s, relative error %.3g", label,
                  worst_name, worst);
    ck_assert_msg(all <= all_tol, "%s: gradients' relative error %.3g", label, all);
    yl_tensor_table_free(&g16);
    yl_tensor_table_free(&g32);
}

/* One FP16 step on the parity batch against the FP32 step of the same trainer options.
 * From the default scale (2^16) the first steps overflow (a weight gradient past half's
 * 65504) and are skipped, each halving the scale, as GradScaler's first steps do: measured,
 * five, the sixth taken at 2048. Then the losses and every parameter's gradient (unscaled)
 * as relative errors, printed, within tolerances set from the spread measured in the
 * emulation (dnn_emulated.c rounds operands and results to half where cuDNN's half tensors
 * hold them): losses 3.8e-3 at worst (M; B 7.5e-4, C 4.7e-4, S 1.6e-4), so 1e-2; gradients
 * in relative norm 0.159 at worst per tensor (backbone.layers.0.0.downsample.0.weight) and
 * 0.123 all together, so 0.4 and 0.3. That spread is the half forward's, not the backward's:
 * measured once with a temporary switch in dnn_emulated.c (not kept), the backward's
 * operands and results left unrounded gave the same 0.159 and 0.123, and the forward left
 * FP32 with the backward in half gave losses equal to FP32's and gradients within 1.2e-3
 * per tensor (backbone.conv1.weight) and 8.9e-4 together: the half forward moves what the
 * loss selects (hard negatives), which the gradients follow. A half path that lost the
 * scale, an operand or a cast is off by a factor: 0.5 and more. */
START_TEST(fp16_step_is_close_to_fp32)
{
    batch b;
    batch_open(&b);
    yolact_losses l[2];
    for (int k = 0; k < 2; k++) {
        yolact_trainer *t = cuda_trainer_in(k ? YOLACT_PRECISION_FP16 : YOLACT_PRECISION_FP32,
                                            0, 1, 1, 0);
        ck_assert(yolact_trainer_loss_scale(t) == (k ? 65536.0 : 0.0));
        int skipped = 0;
        for (;;) {
            ck_assert_status(yolact_trainer_step(t, b.images, b.gt, YL_TRAIN_REF_BATCH, &l[k]),
                             YOLACT_OK);
            if (l[k].step_taken)
                break;
            skipped++;
            printf("FP16 step skipped at scale %g\n", yolact_trainer_loss_scale(t) * 2);
            ck_assert(k == 1 && skipped < 16);
        }
        ck_assert(yolact_trainer_loss_scale(t) == (k ? ldexp(65536.0, -skipped) : 0.0));
        ck_assert_status(yolact_trainer_save_gradients(t, scratch_path(k ? "g16.safetensors"
                                                                          : "g32.safetensors")),
                         YOLACT_OK);
        yolact_trainer_destroy(t);
    }
    check_fp16_step("FP16 step", l, "g16.safetensors", "g32.safetensors", 1e-2, 0.4, 0.3);
    batch_close(&b);
}
END_TEST

/* The same with trainable BatchNorm and the batch in two parts (each part's gradients
 * gathered, the last sum unscaled with the parts' mean), from a scale of 1024, which this
 * batch does not overflow; FP32's step in the same parts as the reference. Tolerances as
 * the frozen step's; measured: losses within 5.4e-4 (M), gradients 0.145 at worst
 * (backbone.layers.1.0.bn1.bias), 0.0956 together. */
START_TEST(fp16_step_in_parts_is_close_to_fp32)
{
    batch b;
    batch_open(&b);
    yolact_losses l[2];
    for (int k = 0; k < 2; k++) {
        yolact_trainer *t = cuda_trainer_in(k ? YOLACT_PRECISION_FP16 : YOLACT_PRECISION_FP32,
                                            1, 2, 1, 0);
        if (k)
            yl_trainer_set_loss_scale(t, 1024, 2000);
        ck_assert_status(yolact_trainer_step(t, b.images, b.gt, YL_TRAIN_REF_BATCH, &l[k]),
                         YOLACT_OK);
        ck_assert_int_eq(l[k].step_taken, 1);
        ck_assert_status(yolact_trainer_save_gradients(t, scratch_path(k ? "p16.safetensors"
                                                                          : "p32.safetensors")),
                         YOLACT_OK);
        yolact_trainer_destroy(t);
    }
    check_fp16_step("FP16 step in parts, trainable BatchNorm", l, "p16.safetensors",
                    "p32.safetensors", 1e-2, 0.4, 0.3);
    batch_close(&b);
}
END_TEST

/* A scale past float's range for the gradients (2^120: the loss's own factors still fit,
 * the half gradients do not): the step is skipped, nothing moves, the scale halves. */
START_TEST(fp16_overflow_skips_the_step_and_halves_the_scale)
{
    batch b;
    batch_open(&b);
    yolact_trainer *t = cuda_trainer_in(YOLACT_PRECISION_FP16, 0, 1, 1, 0);
    yolact_losses before, l, after;
    ck_assert_status(yolact_trainer_evaluate(t, b.images, b.gt, YL_TRAIN_REF_BATCH, &before),
                     YOLACT_OK);
    yl_trainer_set_loss_scale(t, ldexp(1, 120), 2000);
    ck_assert_status(yolact_trainer_step(t, b.images, b.gt, YL_TRAIN_REF_BATCH, &l), YOLACT_OK);
    ck_assert_int_eq(l.step_taken, 0);
    ck_assert(isfinite(l.total) && l.total == before.total); /* the losses are not scaled */
    ck_assert(yolact_trainer_loss_scale(t) == ldexp(1, 119));
    ck_assert(yolact_trainer_iteration(t) == 1);
    ck_assert_status(yolact_trainer_evaluate(t, b.images, b.gt, YL_TRAIN_REF_BATCH, &after),
                     YOLACT_OK);
    ck_assert_msg(after.total == before.total, "the skipped step moved the weights: %.9g, "
                  "%.9g before", after.total, before.total);
    ck_assert_status(yolact_trainer_save_state(t, scratch_path("skipped.safetensors")),
                     YOLACT_OK);
    yl_tensor_table state;
    read_weights(scratch_path("skipped.safetensors"), &state);
    for (size_t i = 0; i < state.count; i++)   /* no momentum buffer was made */
        ck_assert_msg(strncmp(state.tensors[i].name, "momentum_buffer.", 16) != 0, "%s",
                      state.tensors[i].name);
    yl_tensor_table_free(&state);
    /* the loss scaling lives in the device optimizer: SGD on the host refuses FP16 */
    ck_assert_status(yl_trainer_host_optimizer(t), YOLACT_ERR_UNSUPPORTED);
    yolact_trainer_destroy(t);
    batch_close(&b);
}
END_TEST

/* The scale doubles after growth_interval good steps (2 here), and a state saved between
 * them resumes the count and the scale: the resumed run's second step grows it as the
 * unbroken run's does, with the same losses, bit for bit. */
START_TEST(fp16_scale_grows_and_resumes)
{
    batch b;
    batch_open(&b);
    yolact_losses run[2], resumed;
    yolact_trainer *t = cuda_trainer_in(YOLACT_PRECISION_FP16, 0, 1, 1, 0);
    yl_trainer_set_loss_scale(t, 1024, 2);
    ck_assert_status(yolact_trainer_step(t, b.images, b.gt, YL_TRAIN_REF_BATCH, &run[0]),
                     YOLACT_OK);
    ck_assert(run[0].step_taken && yolact_trainer_loss_scale(t) == 1024);
    ck_assert_status(yolact_trainer_save_state(t, scratch_path("fp16_1.safetensors")),
                     YOLACT_OK);
    ck_assert_status(yolact_trainer_step(t, b.images, b.gt, YL_TRAIN_REF_BATCH, &run[1]),
                     YOLACT_OK);
    ck_assert(run[1].step_taken && yolact_trainer_loss_scale(t) == 2048);
    yolact_trainer_destroy(t);

    t = cuda_trainer_in(YOLACT_PRECISION_FP16, 0, 1, 1, 0);
    yl_trainer_set_loss_scale(t, 65536, 2); /* the interval is the trainer's, not the state's */
    ck_assert_status(yolact_trainer_load_state(t, scratch_path("fp16_1.safetensors")),
                     YOLACT_OK);
    ck_assert(yolact_trainer_loss_scale(t) == 1024);
    ck_assert_status(yolact_trainer_step(t, b.images, b.gt, YL_TRAIN_REF_BATCH, &resumed),
                     YOLACT_OK);
    ck_assert(yolact_trainer_loss_scale(t) == 2048);
    ck_assert_msg(resumed.total == run[1].total && resumed.M == run[1].M,
                  "resumed %.9g, unbroken %.9g", resumed.total, run[1].total);
    yolact_trainer_destroy(t);

    /* an FP32 trainer reads the state and leaves the scale alone; its own has none */
    t = cuda_trainer(0, 1, 1, 0);
    ck_assert_status(yolact_trainer_load_state(t, scratch_path("fp16_1.safetensors")),
                     YOLACT_OK);
    ck_assert(yolact_trainer_loss_scale(t) == 0);
    yolact_trainer_destroy(t);
    batch_close(&b);
}
END_TEST

/* One CUDA trainer fed batches of 1, 2, 3, 1 and 2 images (more sizes than it keeps plans
 * for; the buffers grown to 2, then 3, a smaller batch run in their front after a larger
 * one left its images behind): each size's losses the same bits as the first time, and the
 * batch of 3 (images 0, 1, 0) counting image 0's positives twice. */
START_TEST(cuda_batch_sizes_alternate)
{
    batch b;
    batch_open(&b);
    yolact_image images[3] = {b.images[0], b.images[1], b.images[0]};
    yolact_ground_truth gt[3] = {b.gt[0], b.gt[1], b.gt[0]};
    yolact_trainer *t = cuda_trainer(0, 1, 1, 0);
    const int sizes[5] = {1, 2, 3, 1, 2};
    yolact_losses l[5];
    for (int k = 0; k < 5; k++)
        ck_assert_status(yolact_trainer_evaluate(t, images, gt, sizes[k], &l[k]), YOLACT_OK);
    for (int k = 3; k < 5; k++) {
        ck_assert_msg(l[k].total == l[k - 3].total && l[k].M == l[k - 3].M,
                      "batch of %d: %.9g, the first time %.9g", sizes[k], l[k].total,
                      l[k - 3].total);
        ck_assert_int_eq(l[k].num_positives, l[k - 3].num_positives);
    }
    ck_assert_int_eq(l[2].num_positives, l[1].num_positives + l[0].num_positives);
    ck_assert_msg(isfinite(l[2].total) && l[2].total != l[1].total, "batch of 3: %g",
                  l[2].total);
    yolact_trainer_destroy(t);
    batch_close(&b);
}
END_TEST

/* A parity trainer with options changed by the caller (the parity options otherwise). */
static yolact_trainer *parity_trainer_set(int sub_batches, yolact_mask_loss mask_loss)
{
    yolact_trainer_options o = parity_options();
    o.sub_batches = sub_batches;
    o.mask_loss = mask_loss;
    return parity_trainer_of(&o);
}

/* sub_batches = 2 on the two images: the loss is the mean of each image's own step's, and
 * every gradient the mean of theirs, bit for bit (train.py's loss over two GPUs); more
 * parts than images is refused and changes nothing. */
START_TEST(sub_batches_average_the_parts)
{
    ck_assert_int_eq(YL_TRAIN_REF_BATCH, 2);
    batch b;
    batch_open(&b);
    yolact_losses part[2], both;
    yl_tensor_table grads[2], mean;
    for (int k = 0; k < 2; k++) {
        yolact_trainer *t = parity_trainer_set(0, YOLACT_MASK_LOSS_BCE);
        ck_assert_status(yolact_trainer_step(t, &b.images[k], &b.gt[k], 1, &part[k]),
                         YOLACT_OK);
        const char *path = scratch_path(k ? "g1.safetensors" : "g0.safetensors");
        ck_assert_status(yolact_trainer_save_gradients(t, path), YOLACT_OK);
        read_weights(path, &grads[k]);
        yolact_trainer_destroy(t);
    }
    yolact_trainer *t = parity_trainer_set(2, YOLACT_MASK_LOSS_BCE);
    ck_assert_status(yolact_trainer_step(t, b.images, b.gt, 1, &both),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(yolact_last_error(), "sub_batches = 2"), "%s", yolact_last_error());
    ck_assert(yolact_trainer_iteration(t) == 0);
    ck_assert_status(yolact_trainer_step(t, b.images, b.gt, 2, &both), YOLACT_OK);
    ck_assert(both.total == (part[0].total + part[1].total) / 2);
    ck_assert(both.M == (part[0].M + part[1].M) / 2);
    ck_assert_int_eq(both.num_positives, part[0].num_positives + part[1].num_positives);
    ck_assert_status(yolact_trainer_save_gradients(t, scratch_path("mean.safetensors")),
                     YOLACT_OK);
    read_weights(scratch_path("mean.safetensors"), &mean);
    ck_assert_uint_eq(mean.count, grads[0].count);
    for (size_t i = 0; i < mean.count; i++) {
        const yl_tensor *m = &mean.tensors[i];
        const float *g0 = grads[0].tensors[i].data, *g1 = grads[1].tensors[i].data;
        const float *got = m->data;
        for (int64_t j = 0; j < m->numel; j++)
            ck_assert_msg(got[j] == (g0[j] + g1[j]) * 0.5f, "%s[%lld]: %g, the parts' mean %g",
                          m->name, (long long)j, got[j], (g0[j] + g1[j]) * 0.5f);
    }
    yl_tensor_table_free(&mean);
    yl_tensor_table_free(&grads[0]);
    yl_tensor_table_free(&grads[1]);
    yolact_trainer_destroy(t);
    batch_close(&b);
}
END_TEST

/* The mask term's forms: only M changes (B, C and S the same bits), each finite and
 * positive, the stable BCE below the official one where it saturates (the parity batch's
 * does), and a form out of range refused. */
START_TEST(mask_loss_forms_change_only_the_mask_term)
{
    batch b;
    batch_open(&b);
    yolact_losses l[3];
    for (int k = 0; k < 3; k++) {
        yolact_trainer *t = parity_trainer_set(0, (yolact_mask_loss)k);
        ck_assert_status(yolact_trainer_evaluate(t, b.images, b.gt, YL_TRAIN_REF_BATCH, &l[k]),
                         YOLACT_OK);
        ck_assert_msg(isfinite(l[k].M) && l[k].M > 0, "mask loss %d: M %g", k, l[k].M);
        ck_assert(l[k].B == l[0].B && l[k].C == l[0].C && l[k].S == l[0].S);
        yolact_trainer_destroy(t);
    }
    ck_assert_msg(l[1].M < l[0].M, "stable BCE %g, official %g", l[1].M, l[0].M);
    ck_assert(l[2].M != l[0].M && l[2].M != l[1].M);
    yolact_trainer_options o;
    yolact_trainer_options_init(&o);
    o.mask_loss = (yolact_mask_loss)3;
    yolact_trainer *t = NULL;
    ck_assert_status(yolact_trainer_create(YL_TEST_PARITY_CHECKPOINT, &o, &t),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(t);
    o.mask_loss = YOLACT_MASK_LOSS_BCE;
    o.sub_batches = -1;
    ck_assert_status(yolact_trainer_create(YL_TEST_PARITY_CHECKPOINT, &o, &t),
                     YOLACT_ERR_INVALID_ARGUMENT);
    batch_close(&b);
}
END_TEST

Suite *trainer_suite(void)
{
    Suite *s = suite_create("trainer");
    TCase *quick = tcase_create("arguments");
    tcase_add_test(quick, create_refuses_bad_arguments);
    suite_add_tcase(s, quick);
    /* Steps on the parity batch: seconds each, minutes under valgrind, whose CI run
     * (mk/hardening.mk) leaves "slow" out. */
    TCase *steps = tcase_create("steps");
    tcase_set_tags(steps, "slow");
    tcase_set_timeout(steps, 600);
    tcase_add_checked_fixture(steps, temp_open, scratch_close);
    tcase_add_test(steps, step_matches_the_official_step);
    tcase_add_test(steps, state_resumes_bit_for_bit);
    tcase_add_test(steps, refilled_network_equals_a_fresh_one);
    tcase_add_test(steps, trainable_batchnorm_matches_the_official_step);
    tcase_add_test(steps, trainable_batchnorm_resumes_bit_for_bit);
    tcase_add_test(steps, hostile_ground_truth_is_refused);
    tcase_add_test(steps, sub_batches_average_the_parts);
    tcase_add_test(steps, mask_loss_forms_change_only_the_mask_term);
    suite_add_tcase(s, steps);
    /* The same steps through the CUDA backend's training pass: tagged "cuda" as the
     * backend's other whole-network tests, which ASan and valgrind leave out. */
    TCase *cuda_steps = tcase_create("cuda_steps");
    tcase_set_tags(cuda_steps, "slow cuda");
    tcase_set_timeout(cuda_steps, 600);
    tcase_add_checked_fixture(cuda_steps, temp_open, scratch_close);
    tcase_add_test(cuda_steps, cuda_step_matches_the_official_step);
    tcase_add_test(cuda_steps, cuda_trainable_batchnorm_matches_the_official_step);
    tcase_add_test(cuda_steps, device_sgd_equals_host_sgd);
    tcase_add_test(cuda_steps, device_sgd_equals_host_sgd_with_batchnorm_in_parts);
    tcase_add_test(cuda_steps, device_sgd_equals_host_sgd_without_momentum);
    tcase_add_test(cuda_steps, cuda_batch_sizes_alternate);
    suite_add_tcase(s, cuda_steps);
    /* FP16 mixed precision through the same pass, against its FP32 step. */
    TCase *fp16_steps = tcase_create("cuda_fp16");
    tcase_set_tags(fp16_steps, "slow cuda");
    tcase_set_timeout(fp16_steps, 600);
    tcase_add_checked_fixture(fp16_steps, temp_open, scratch_close);
    tcase_add_test(fp16_steps, fp16_step_is_close_to_fp32);
    tcase_add_test(fp16_steps, fp16_step_in_parts_is_close_to_fp32);
    tcase_add_test(fp16_steps, fp16_overflow_skips_the_step_and_halves_the_scale);
    tcase_add_test(fp16_steps, fp16_scale_grows_and_resumes);
    suite_add_tcase(s, fp16_steps);
    return s;
}
