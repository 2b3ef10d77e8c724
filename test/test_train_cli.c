/* yolact-train --parity-step on the parity-train copy (test/data/train/): its losses.json,
 * grads.safetensors and sgd.json against the reference within the README's tolerances (with
 * --train-batchnorm, the losses against test/data/train/bn), and
 * bad arguments and cases refused with a message and a nonzero exit; the train-step
 * example; and yolact-train over a generated shapes set (the CI's short run: the loss falls,
 * resume is bit for bit, checkpoints detect) with its own refusals. */
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
    expect_refusal("", 2, "--images DIR is required");
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
    expect_refusal(CASE_ARGS " --out /tmp --backend gpu", 2, "cpu, cuda or auto");
    expect_refusal(CASE_ARGS " --out /tmp --precision fp8", 2, "fp32");
    snprintf(args, sizeof args, CASE_ARGS " --out %s --precision fp16", out_dir); /* cpu */
    expect_refusal(args, 1, "CUDA backend only");
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

/* The data-set mode's options for a tiny run: a fresh yolact_resnet50 with one block a
 * stage and 16 features (a step takes seconds), one image a batch, the same image each time
 * (no augmentation), a constant rate. */
#define TINY_RUN                                                                          \
    "--preset yolact_resnet50 --backbone-blocks 1,1,1,1 --features 16 --batch 1 "         \
    "--warmup 0 --lr 1e-3 --no-augment --threads 2 --workers 1 --seed 5 --log-every 1 "

/* The shapes set of one training and one validation image, in out_dir/shapes. */
static void write_shapes(void)
{
    char args[256], *log;
    snprintf(args, sizeof args, "--out %s/shapes --train 1 --val 1 --size 96x96 --seed 3",
             out_dir);
    int rc = run_program("yolact-shapes", args, &log);
    ck_assert_msg(rc == 0, "yolact-shapes: exit %d: %s", rc, log);
    free(log);
}

/* yolact-train over out_dir/shapes into out_dir/<out> with more options; its exit code. */
static int train_shapes(const char *more, const char *out, char **log)
{
    char args[1536];
    snprintf(args, sizeof args, TINY_RUN "--images %s/shapes/train --annotations "
             "%s/shapes/annotations/train.json --out %s/%s %s", out_dir, out_dir, out_dir, out,
             more);
    return run_train(args, log);
}

/* The totals of the log's loss records, in order, into totals (up to n); their count. */
static int logged_totals(const char *log, double *totals, int n)
{
    int count = 0;
    for (const char *line = log; line && *line && count < n; line = strchr(line, '\n')) {
        line += *line == '\n';
        long it;
        double lr, b, c, m, seg, total;
        if (sscanf(line, "loss\t%ld\t%lf\t%lf\t%lf\t%lf\t%lf\t%lf", &it, &lr, &b, &c, &m, &seg,
                   &total) == 7)
            totals[count++] = total;
    }
    return count;
}

static int same_bytes(const char *a, const char *b)
{
    char cmd[640];
    snprintf(cmd, sizeof cmd, "cmp -s %s %s", a, b);
    return system(cmd) == 0;
}

/* The CI's short run: a fresh tiny network on a generated shapes image, 4 iterations with a
 * validation pass: the loss falls, a checkpoint is written every 2 iterations as
 * .safetensors and .pth with the state, the log and curves appear; 2 iterations, then
 * --resume for 2 more, give the same bytes as the 4 (and --keep-latest removes the
 * checkpoints before the latest but those at --keep-latest-interval); the checkpoint
 * detects with yolact-detect under the shapes' names, also converted to fp16, and its .pth
 * loads there too. */
START_TEST(data_set_run_learns_resumes_and_round_trips)
{
    write_shapes();
    char more[1024], path[256], path2[256], *log;
    snprintf(more, sizeof more, "--iterations 4 --save-every 2 --pth --val-images "
             "%s/shapes/val --val-annotations %s/shapes/annotations/val.json --val-every 4",
             out_dir, out_dir);
    int rc = train_shapes(more, "a", &log);
    ck_assert_msg(rc == 0 && strstr(log, "[     4/4] lr 0.001  B ") &&
                      strstr(log, "validation at 4: box AP "),
                  "exit %d: %s", rc, log);
    free(log);
    double totals[8];
    char *text = out_text("a/train_log.tsv");
    ck_assert_int_eq(logged_totals(text, totals, 8), 4);
    ck_assert_ptr_nonnull(strstr(text, "\nap\t4\t"));
    free(text);
    printf("train_cli: tiny run's total loss %.6g -> %.6g over 4 iterations\n", totals[0],
           totals[3]);
    ck_assert_msg(totals[3] < totals[0] && totals[3] < totals[2], "the loss did not fall: "
                  "%g %g %g %g", totals[0], totals[1], totals[2], totals[3]);
    const char *files[] = {"yolact_resnet50_2_2.safetensors", "yolact_resnet50_2_2.pth",
                           "yolact_resnet50_4_4.safetensors", "yolact_resnet50_4_4.pth",
                           "state.safetensors", "curves.png"};
    struct stat st;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/a/%s", out_dir, files[i]);
        ck_assert_msg(stat(path, &st) == 0 && st.st_size > 0, "no %s", path);
    }

    /* Run b keeps the latest checkpoint only, and the resumed part every second one. */
    ck_assert_int_eq(train_shapes("--iterations 2 --save-every 1 --keep-latest", "b", &log), 0);
    free(log);
    snprintf(more, sizeof more, "--iterations 4 --resume %s/b/state.safetensors --save-every 1 "
             "--keep-latest --keep-latest-interval 2", out_dir);
    rc = train_shapes(more, "b", &log);
    ck_assert_msg(rc == 0 && strstr(log, "iterations 2..4") &&
                      strstr(log, "removed the checkpoint before it, "
                                  "yolact_resnet50_3_3.safetensors (--keep-latest)"),
                  "exit %d: %s", rc, log);
    free(log);
    const char *kept[] = {"yolact_resnet50_2_2.safetensors", "yolact_resnet50_4_4.safetensors"},
               *gone[] = {"yolact_resnet50_1_1.safetensors", "yolact_resnet50_3_3.safetensors"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/b/%s", out_dir, kept[i]);
        ck_assert_msg(stat(path, &st) == 0, "--keep-latest removed %s", path);
        snprintf(path, sizeof path, "%s/b/%s", out_dir, gone[i]);
        ck_assert_msg(stat(path, &st) != 0, "--keep-latest left %s", path);
    }
    snprintf(path, sizeof path, "%s/a/yolact_resnet50_4_4.safetensors", out_dir);
    snprintf(path2, sizeof path2, "%s/b/yolact_resnet50_4_4.safetensors", out_dir);
    ck_assert_msg(same_bytes(path, path2), "2 + resumed 2 iterations differ from 4");
    text = out_text("b/train_log.tsv");
    ck_assert_int_eq(logged_totals(text, totals, 8), 4);
    free(text);

    snprintf(more, sizeof more, "-m %s --score-threshold 0 --top-k 3 %s/shapes/val/000001.png",
             path, out_dir);
    rc = run_program("yolact-detect", more, &log);
    ck_assert_msg(rc == 0 && (strstr(log, "circle") || strstr(log, "square") ||
                              strstr(log, "triangle") || strstr(log, "star")),
                  "exit %d: %s", rc, log);
    ck_assert_msg(strstr(log, "person") == NULL, "%s", log);
    free(log);
    /* Converted to fp16 (how a trained model ships), the class names go along. */
    snprintf(more, sizeof more, "%s %s/a/yolact_resnet50_9_9.safetensors --fp16", path,
             out_dir);
    rc = run_program("yolact-convert", more, &log);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, log);
    free(log);
    snprintf(more, sizeof more, "-m %s/a/yolact_resnet50_9_9.safetensors --score-threshold 0 "
             "--top-k 3 %s/shapes/val/000001.png", out_dir, out_dir);
    rc = run_program("yolact-detect", more, &log);
    ck_assert_msg(rc == 0 && strstr(log, "person") == NULL &&
                      (strstr(log, "circle") || strstr(log, "square") ||
                       strstr(log, "triangle") || strstr(log, "star")), "exit %d: %s", rc, log);
    free(log);
    snprintf(more, sizeof more, "-m %s/a/yolact_resnet50_4_4.pth --describe", out_dir);
    rc = run_program("yolact-detect", more, &log);
    ck_assert_msg(rc == 0 && strstr(log, "7 classes"), "exit %d: %s", rc, log);
    free(log);
}
END_TEST

/* The data-set mode's bad arguments (exit 2) and bad data sets (exit 3), each with its
 * message; nothing trained. */
START_TEST(data_set_refusals)
{
    char args[1536];
    const char *tiny = TINY_RUN "--images /nowhere --annotations /nowhere.json --out /tmp ";
    expect_refusal("--images x --annotations y.json --out /tmp", 2, "give -m START");
    expect_refusal("--preset yolact_resnet50 --annotations y.json --out /tmp", 2,
                   "--images DIR is required");
    expect_refusal("--preset yolact_resnet50 --images x --out /tmp", 2,
                   "--annotations FILE is required");
    snprintf(args, sizeof args, "%s--batch 0", tiny);
    expect_refusal(args, 2, "--batch");
    snprintf(args, sizeof args, "%s--iterations 2.5", tiny);
    expect_refusal(args, 2, "whole number");
    snprintf(args, sizeof args, "%s--lr-steps 500,300", tiny);
    expect_refusal(args, 2, "--lr-steps must ascend");
    snprintf(args, sizeof args, "%s--lr-steps 1,2,3,4,5,6,7,8,9", tiny);
    expect_refusal(args, 2, "at most 8");
    snprintf(args, sizeof args, "%s--backbone-blocks 1,1,1", tiny);
    expect_refusal(args, 2, "4 numbers");
    snprintf(args, sizeof args, "%s--val-images /v", tiny);
    expect_refusal(args, 2, "go together");
    snprintf(args, sizeof args, "%s--batch 2 --sub-batches 3", tiny);
    expect_refusal(args, 2, "--sub-batches cannot be more than --batch");
    snprintf(args, sizeof args, "%s--mask-loss l2", tiny);
    expect_refusal(args, 2, "--mask-loss is bce, bce-stable or dice");
    expect_refusal("-m x.pth --features 8 --images x --annotations y.json --out /tmp", 2,
                   "size a fresh network");
    expect_refusal("-m x.pth --backbone-width 8 --images x --annotations y.json --out /tmp", 2,
                   "size a fresh network");
    snprintf(args, sizeof args, "%s--backbone-width 0", tiny);
    expect_refusal(args, 2, "--backbone-width");
    expect_refusal(CASE_ARGS " --out /tmp --batch 2", 2, "do not go with --parity-step");
    expect_refusal("--preset yolact_resnet50 --images x --annotations y.json --out /tmp --gt g",
                   2, "--gt is for --parity-step");

    /* Data sets that do not read: exit 3 naming the file. */
    snprintf(args, sizeof args, TINY_RUN "--images %s --annotations %s/none.json --out %s",
             out_dir, out_dir, out_dir);
    expect_refusal(args, 3, "none.json");
    char path[128];
    snprintf(path, sizeof path, "%s/broken.json", out_dir);
    FILE *f = fopen(path, "w");
    fputs("{\"images\": [", f);
    fclose(f);
    snprintf(args, sizeof args, TINY_RUN "--images %s --annotations %s --out %s", out_dir, path,
             out_dir);
    expect_refusal(args, 3, "broken.json");
    f = fopen(path, "w");
    fputs("{\"images\": [{\"id\": 1, \"width\": 8, \"height\": 8, \"file_name\": \"gone.png\"}],"
          " \"categories\": [{\"id\": 4, \"name\": \"thing\"}], \"annotations\": [{\"id\": 1, "
          "\"image_id\": 1, \"category_id\": 4, \"iscrowd\": 0, \"area\": 4, \"bbox\": [1, 1, "
          "2, 2], \"segmentation\": [[1, 1, 3, 1, 3, 3, 1, 3]]}]}", f);
    fclose(f);
    snprintf(args, sizeof args, TINY_RUN "--iterations 1 --images %s --annotations %s --out %s",
             out_dir, path, out_dir);
    expect_refusal(args, 3, "gone.png");
    /* A run that cannot start: exit 1 naming what. */
    snprintf(args, sizeof args, "--preset yolact_plus_base --iterations 1 --images %s "
             "--annotations %s --out %s", out_dir, path, out_dir);
    expect_refusal(args, 1, "not yolact_plus_base");
    snprintf(args, sizeof args, TINY_RUN "--iterations 1 --images %s --annotations %s --out %s "
             "--resume %s/no_state.safetensors", out_dir, path, out_dir, out_dir);
    expect_refusal(args, 1, "no_state.safetensors");
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
    TCase *data_set = tcase_create("data_set");
    tcase_set_tags(data_set, "slow");
    tcase_set_timeout(data_set, 600);
    tcase_add_checked_fixture(data_set, out_open, out_close);
    tcase_add_test(data_set, data_set_refusals);
    tcase_add_test(data_set, data_set_run_learns_resumes_and_round_trips);
    suite_add_tcase(s, data_set);
    return s;
}
