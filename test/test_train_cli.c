/* yolact-train --parity-step on the parity-train copy (test/data/train/): its losses.json,
 * grads.safetensors and sgd.json against the reference within the README's tolerances (with
 * --train-batchnorm, the losses against test/data/train/bn), and
 * bad arguments and cases refused with a message and a nonzero exit; and the train-step
 * example. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train_ref.h"
#include "weights/tensor_table.h"
#include "yl_test.h"

#define CASE_ARGS                                                                   \
    "--parity-step --weights " YL_TEST_PARITY_CHECKPOINT " -c yolact_resnet50 "     \
    "--images " YL_TEST_DATA "/parity --gt " YL_TRAIN_REF_DATA "/gt.json"

static char out_dir[64];

static void out_open(void)
{
    snprintf(out_dir, sizeof out_dir, "/tmp/yl_train_cli_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(out_dir));
}

static void out_close(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", out_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* The build folder of the programs run: build/, or YL_TEST_BUILD (the ASan build's). */
static const char *build_dir(void)
{
    const char *dir = getenv("YL_TEST_BUILD");
    return dir && dir[0] ? dir : "build";
}

/* program (in the build folder) with args; its output to *out (malloc'ed); the exit code. */
static int run_program(const char *program, const char *args, char **out)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s/%s %s", build_dir(), program, args);
    return yl_test_run(cmd, out);
}

static int run_train(const char *args, char **out)
{
    return run_program("yolact-train", args, out);
}

static char *out_text(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", out_dir, name);
    return yl_read_text(path);
}

/* Two SGD steps: the losses, every gradient and the total after one step against the
 * reference. */
START_TEST(parity_step_matches_the_reference)
{
    char args[1024], *log;
    snprintf(args, sizeof args, CASE_ARGS " --sgd-steps 2 --lr 1e-4 --out %s", out_dir);
    int rc = run_train(args, &log);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, log);
    free(log);

    char *losses = out_text("losses.json");
    const char *names[5] = {"B", "C", "M", "S", "total"};
    double got[5];
    for (int i = 0; i < 5; i++)
        got[i] = yl_json_number(losses, &names[i], 1);
    yl_train_ref_check_losses("train_cli", got);
    free(losses);

    char path[128];
    snprintf(path, sizeof path, "%s/grads.safetensors", out_dir);
    yl_tensor_table grads;
    ck_assert_status(yl_weights_read(path, &grads), YOLACT_OK);
    ck_assert_uint_eq(grads.count, 53);
    char *spread = yl_read_text(YL_TRAIN_REF_DATA "/spread.json");
    double worst[3] = {0, 0, 0};
    const char *worst_name[3] = {"", "", ""};
    for (size_t i = 0; i < grads.count; i++)
        yl_train_ref_check_grad(spread, grads.tensors[i].name, grads.tensors[i].data,
                                (size_t)grads.tensors[i].numel, worst, worst_name);
    printf("train_cli: gradients, worst error / tolerance %.3g (norm), %.3g (sampled), %.3g "
           "(full)\n", worst[0], worst[1], worst[2]);
    yl_tensor_table_free(&grads);

    char *sgd = out_text("sgd.json"), *ref = yl_read_text(YL_TRAIN_REF_DATA "/sgd.json");
    ck_assert_msg(strstr(sgd, "\"losses_after_2_steps\"") != NULL, "%s", sgd);
    for (int step = 0; step < 2; step++) {
        double tol = fmax(1e-3, 5 * yl_train_ref_step_total(spread, step));
        double want = yl_train_ref_step_total(ref, step), have = yl_train_ref_step_total(sgd, step);
        printf("train_cli: total before step %d %.8g, official %.8g\n", step + 1, have, want);
        ck_assert_msg(fabs(have - want) / want <= tol, "step %d: %.8g, official %.8g", step,
                      have, want);
    }
    free(sgd);
    free(ref);
    free(spread);
}
END_TEST

/* --train-batchnorm: the step with trainable BatchNorm, its losses against the official
 * step's with cfg.freeze_bn off (test/data/train/bn) and its gradients joined by the 34 of
 * BatchNorm's weights and biases. */
START_TEST(trainable_batchnorm_step_matches_the_reference)
{
    char args[1024], *log;
    snprintf(args, sizeof args, CASE_ARGS " --train-batchnorm --out %s", out_dir);
    int rc = run_train(args, &log);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, log);
    free(log);
    char *losses = out_text("losses.json");
    const char *names[5] = {"B", "C", "M", "S", "total"};
    double got[5];
    for (int i = 0; i < 5; i++)
        got[i] = yl_json_number(losses, &names[i], 1);
    free(losses);
    yl_train_ref_check_losses_in(YL_TRAIN_REF_DATA "/bn", "train_cli (trainable BatchNorm)",
                                 got);
    char path[128];
    snprintf(path, sizeof path, "%s/grads.safetensors", out_dir);
    yl_tensor_table grads;
    ck_assert_status(yl_weights_read(path, &grads), YOLACT_OK);
    ck_assert_uint_eq(grads.count, 53 + 34);
    ck_assert_ptr_nonnull(yl_tensor_table_find(&grads, "backbone.layers.3.0.downsample.1.bias"));
    yl_tensor_table_free(&grads);
}
END_TEST

/* Each bad invocation: its exit code and a word of its message. */
static void expect_refusal(const char *args, int code, const char *says)
{
    char *log;
    int rc = run_train(args, &log);
    ck_assert_msg(rc == code && strstr(log, says) != NULL,
                  "%s: exit %d (want %d), output: %s (want '%s')", args, rc, code, log, says);
    ck_assert_msg(strstr(log, "Sanitizer") == NULL, "%s: %s", args, log);
    free(log);
}

START_TEST(bad_arguments_are_refused)
{
    char args[1024];
    expect_refusal("", 2, "--parity-step");
    expect_refusal("--parity-step --weights x.pth --images . --out /tmp", 2, "--gt is required");
    expect_refusal(CASE_ARGS " --out /tmp --sgd-steps 0", 2, "--sgd-steps");
    expect_refusal(CASE_ARGS " --out /tmp --sgd-steps 1.5", 2, "whole number");
    expect_refusal(CASE_ARGS " --out /tmp --lr -1", 2, "--lr");
    expect_refusal(CASE_ARGS " --out /tmp --momentum -0.1", 2, "--momentum");
    expect_refusal(CASE_ARGS " --out /tmp --momentum 1.5", 2, "--momentum");
    expect_refusal(CASE_ARGS " --out /tmp --momentum fast", 2, "--momentum");
    expect_refusal(CASE_ARGS " --out /tmp --weight-decay -5e-4", 2, "--weight-decay");
    expect_refusal(CASE_ARGS " --out /tmp --weight-decay nan", 2, "--weight-decay");
    expect_refusal(CASE_ARGS " --out /tmp --weight-decay", 2, "usage");
    expect_refusal(CASE_ARGS " --out /tmp stray", 2, "unexpected argument 'stray'");
    expect_refusal(CASE_ARGS " --out /tmp --bogus", 2, "usage");
    snprintf(args, sizeof args, CASE_ARGS " --out %s/a/b", out_dir);
    expect_refusal(args, 1, "cannot create");

    /* Cases that do not read. */
    snprintf(args, sizeof args, "--parity-step --weights " YL_TEST_PARITY_CHECKPOINT
             " --images " YL_TEST_DATA "/parity --gt %s/none.json --out %s", out_dir, out_dir);
    expect_refusal(args, 1, "none.json");
    char path[128];
    snprintf(path, sizeof path, "%s/broken.json", out_dir);
    FILE *f = fopen(path, "w");
    fputs("{\"images\": {\"astronaut\": [{\"label\": 1, \"box\": [0, 0, 1]}]}}", f);
    fclose(f);
    snprintf(args, sizeof args, "--parity-step --weights " YL_TEST_PARITY_CHECKPOINT
             " --images " YL_TEST_DATA "/parity --gt %s --out %s", path, out_dir);
    expect_refusal(args, 1, "object 0 has no mask");
    f = fopen(path, "w");
    fputs("{\"images\": {\"no_such_image\": []}}", f);
    fclose(f);
    expect_refusal(args, 1, "no_such_image");
    snprintf(args, sizeof args, "--parity-step --weights %s/missing.pth --images "
             YL_TEST_DATA "/parity --gt " YL_TRAIN_REF_DATA "/gt.json --out %s", out_dir,
             out_dir);
    expect_refusal(args, 1, "missing.pth");
    snprintf(args, sizeof args, CASE_ARGS " -c no_such_preset --out %s", out_dir);
    expect_refusal(args, 1, "unknown preset");
    struct stat st;
    snprintf(path, sizeof path, "%s/losses.json", out_dir);
    ck_assert_int_ne(stat(path, &st), 0);
}
END_TEST

/* A label out of range: the step refuses it, naming the image and object; nothing is
 * written. */
START_TEST(hostile_case_is_refused)
{
    char path[128], args[1024];
    snprintf(path, sizeof path, "%s/hostile.json", out_dir);
    FILE *f = fopen(path, "w");
    fputs("{\"images\": {\"coffee\": [{\"label\": 99, \"box\": [0.1, 0.1, 0.5, 0.5], "
          "\"crowd\": false, \"mask\": {\"size\": [2, 2], \"counts\": [1, 2, 1]}}]}}", f);
    fclose(f);
    snprintf(args, sizeof args, "--parity-step --weights " YL_TEST_PARITY_CHECKPOINT
             " --images " YL_TEST_DATA "/parity --gt %s --out %s", path, out_dir);
    expect_refusal(args, 1, "image 0: ground truth object 0: label 99");
    snprintf(path, sizeof path, "%s/losses.json", out_dir);
    struct stat st;
    ck_assert_int_ne(stat(path, &st), 0);
}
END_TEST

/* examples/train-step.c: one step, the losses printed, a checkpoint that loads again; a
 * label out of range refused. */
START_TEST(train_step_example_runs)
{
    char cmd[1024], *log;
    snprintf(cmd, sizeof cmd, YL_TEST_PARITY_CHECKPOINT " " YL_TEST_DATA
             "/parity/coffee.png 100 120 300 360 40 %s/after.pth", out_dir);
    int rc = run_program("train-step", cmd, &log);
    ck_assert_msg(rc == 0 && strstr(log, "iteration 1 (lr 0.0001): B "), "exit %d: %s", rc,
                  log);
    free(log);
    snprintf(cmd, sizeof cmd, "%s/after.pth", out_dir);
    yolact_model *m = yl_test_load_model(cmd, "yolact_resnet50");
    yolact_model_free(m);
    rc = run_program("train-step", YL_TEST_PARITY_CHECKPOINT " " YL_TEST_DATA
                     "/parity/coffee.png 100 120 300 360 80", &log);
    ck_assert_msg(rc == 1 && strstr(log, "label 80 is outside 0..79"), "exit %d: %s", rc, log);
    free(log);
}
END_TEST

Suite *train_cli_suite(void)
{
    Suite *s = suite_create("train_cli");
    TCase *args = tcase_create("arguments");
    tcase_add_checked_fixture(args, out_open, out_close);
    tcase_add_test(args, bad_arguments_are_refused);
    suite_add_tcase(s, args);
    /* Whole steps of the network: seconds each, minutes under valgrind (mk/hardening.mk
     * leaves "slow" out). */
    TCase *parity = tcase_create("parity");
    tcase_set_tags(parity, "slow");
    tcase_set_timeout(parity, 600);
    tcase_add_checked_fixture(parity, out_open, out_close);
    tcase_add_test(parity, parity_step_matches_the_reference);
    tcase_add_test(parity, trainable_batchnorm_step_matches_the_reference);
    tcase_add_test(parity, hostile_case_is_refused);
    tcase_add_test(parity, train_step_example_runs);
    suite_add_tcase(s, parity);
    return s;
}
