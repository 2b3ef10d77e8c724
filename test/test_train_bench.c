/* The training-step benchmark: yolact-train-bench's JSON (every phase, the peak memory, the
 * losses) on one step of the parity network, on the CPU and (the library's trainer through
 * its API) on the emulated GPU, its refusals, and bench/train_compare without the official
 * checkout. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scratch_dir.h"
#include "yl_test.h"

#define TRAIN_BENCH "build/yolact-train-bench"
/* The same against the emulated CUDA runtime (mk/train_bench.mk). */
#define TRAIN_BENCH_EMU "build/yolact-train-bench-emu"

/* The number after the last of the NULL-ended keys, each looked for after the one before. */
static double json_at(const char *doc, ...)
{
    va_list keys;
    va_start(keys, doc);
    const char *at = doc;
    for (const char *key; (key = va_arg(keys, const char *)) != NULL;) {
        char quoted[128];
        snprintf(quoted, sizeof quoted, "\"%s\":", key);
        at = strstr(at, quoted);
        ck_assert_msg(at != NULL, "no key %s in:\n%s", quoted, doc);
        at += strlen(quoted);
    }
    va_end(keys);
    return strtod(at, NULL);
}

/* cmd's output (it must exit 0 and print expect) and the JSON it wrote to json. */
static char *run_for_json(const char *cmd, const char *json, const char *expect)
{
    char *out;
    remove(json);
    int rc = yl_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "%s exited %d:\n%s", cmd, rc, out);
    ck_assert_msg(strstr(out, expect), "no '%s' in the output of %s:\n%s", expect, cmd, out);
    free(out);
    size_t n;
    char *doc = (char *)yl_test_read_file(json, &n);
    ck_assert_msg(doc != NULL, "%s wrote no %s", cmd, json);
    doc = realloc(doc, n + 1);
    doc[n] = '\0';
    remove(json);
    return doc;
}

static const char *const phases[] = {"forward", "loss", "backward", "update"};

/* Every phase timed once, the total their sum (each printed to 1 us), a peak RSS and a loss
 * with positives. */
static void check_step(const char *doc)
{
    double sum = 0;
    for (int p = 0; p < 4; p++) {
        double ms = json_at(doc, "phases_ms", phases[p], "median", NULL);
        ck_assert_msg(ms > 0, "%s: %g ms", phases[p], ms);
        sum += ms;
    }
    ck_assert_double_eq_tol(json_at(doc, "phases_ms", "total", "median", NULL), sum, 0.01);
    const double peak = json_at(doc, "peak_rss_mib", NULL);
    ck_assert_msg(peak > 10 && peak < 64 * 1024, "peak RSS %g MiB", peak);
    const double total = json_at(doc, "last_losses", "total", NULL);
    ck_assert_msg(isfinite(total) && total > 0, "loss %g", total);
}

START_TEST(train_bench_times_every_phase)
{
    const char *json = scratch_path("train-bench.json");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, TRAIN_BENCH " -m %s -c yolact_resnet50 --batch 1 --threads 2 "
             "--warmup 0 --iters 1 --json %s", YL_TEST_PARITY_CHECKPOINT, json);
    char *doc = run_for_json(cmd, json, "peak RSS");
    ck_assert_int_eq((int)json_at(doc, "batch", NULL), 1);
    ck_assert_int_eq((int)json_at(doc, "threads", NULL), 2);
    ck_assert_int_eq((int)json_at(doc, "iters", NULL), 1);
    ck_assert_msg(strstr(doc, "\"config\": \"yolact_resnet50\""), "%s", doc);
    ck_assert_msg(strstr(doc, "\"accumulation\": \"images one at a time"), "%s", doc);
    check_step(doc);
    ck_assert_int_gt((int)json_at(doc, "last_losses", "num_positives", NULL), 0);
    free(doc);
}
END_TEST

START_TEST(train_bench_refuses_bad_options)
{
    const char *bad[][2] = {
        {"--batch 0", "--batch wants a whole number >= 1, not '0'"},
        {"--iters x", "--iters wants a whole number >= 1, not 'x'"},
        {"--frobnicate 1", "unknown option --frobnicate"},
        {"--batch", "--batch needs a value"},
        {"--backend tpu", "--backend wants cpu or cuda, not 'tpu'"},
        {"--precision fp16", "--precision wants fp32, or fp16 with --backend cuda, not 'fp16'"},
        {"--backend cuda --precision bf16", "--precision wants fp32, or fp16 with --backend "
                                            "cuda, not 'bf16'"},
        {"-c no_such_preset", "no preset 'no_such_preset'"},
        {"-m build/no-such.pth", "build/no-such.pth"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char cmd[256], *out;
        snprintf(cmd, sizeof cmd, TRAIN_BENCH " %s", bad[i][0]);
        int rc = yl_test_run(cmd, &out);
        ck_assert_msg(rc != 0 && strstr(out, bad[i][1]), "%s: exit %d, output:\n%s", cmd, rc,
                      out);
        free(out);
    }
}
END_TEST

/* Without the official checkout: it says so, times libyolact alone and writes its JSON. */
START_TEST(train_compare_without_the_official_checkout)
{
    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("SKIP train_compare: no /usr/bin/python3\n");
        return;
    }
    const char *json = scratch_path("train-compare.json");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "bench/train_compare --bench " TRAIN_BENCH " --yolact-dir "
             "build/no-official-checkout --model %s --config yolact_resnet50 --batch 1 "
             "--threads 2 --warmup 0 --iters 1 --quiet --json %s", YL_TEST_PARITY_CHECKPOINT,
             json);
    char *doc = run_for_json(cmd, json, "the official side is skipped: no official checkout "
                             "at build/no-official-checkout (--yolact-dir); timing libyolact "
                             "only.");
    ck_assert_msg(strstr(doc, "\"official_skipped\": \"no official checkout at "
                              "build/no-official-checkout (--yolact-dir)\""), "%s", doc);
    ck_assert_msg(strstr(doc, "\"official\": null"), "%s", doc);
    ck_assert_int_eq((int)json_at(doc, "runs", "batch", NULL), 1);
    check_step(strstr(doc, "\"libyolact\": {"));
    free(doc);
}
END_TEST

/* --backend cuda through bench/train_compare (no official checkout): the library's trainer
 * on the emulated GPU, its two phases (the whole step longer than its forward and loss), the
 * device it ran on, the batch at once. */
START_TEST(train_compare_times_the_library_trainer_on_the_gpu)
{
    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("SKIP train_compare --device cuda: no /usr/bin/python3\n");
        return;
    }
    const char *json = scratch_path("train-compare-cuda.json");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "bench/train_compare --device cuda --bench " TRAIN_BENCH_EMU
             " --yolact-dir build/no-official-checkout --model %s --config yolact_resnet50 "
             "--batch 2 --threads 2 --warmup 0 --iters 1 --quiet --json %s",
             YL_TEST_PARITY_CHECKPOINT, json);
    char *doc = run_for_json(cmd, json, "batch 2, the GPU: libyolact vs official PyTorch");
    ck_assert_msg(strstr(doc, "\"device\": \"cuda\""), "%s", doc);
    ck_assert_msg(strstr(doc, "\"libyolact_batch\": \"the whole batch at once\""), "%s", doc);
    const char *ours = strstr(doc, "\"libyolact\": {");
    ck_assert_ptr_nonnull(ours);
    const double forward_loss = json_at(ours, "phases_ms", "forward_loss", "median", NULL);
    const double total = json_at(ours, "phases_ms", "total", "median", NULL);
    ck_assert_msg(forward_loss > 0 && total > forward_loss, "forward_loss %g ms, total %g ms",
                  forward_loss, total);
    ck_assert_msg(strstr(ours, "\"gpu\": \"CUDA emulation"), "no GPU named: %s", ours);
    const double loss = json_at(ours, "last_losses", "total", NULL);
    ck_assert_msg(isfinite(loss) && loss > 0, "loss %g", loss);
    ck_assert_int_gt((int)json_at(ours, "last_losses", "num_positives", NULL), 0);
    free(doc);
}
END_TEST

/* --backend cuda --precision fp16 on the emulated GPU: the library's mixed-precision step
 * timed, said so in the JSON, its losses finite. */
START_TEST(train_bench_times_the_fp16_step)
{
    const char *json = scratch_path("train-bench-fp16.json");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, TRAIN_BENCH_EMU " -m %s -c yolact_resnet50 --backend cuda "
             "--precision fp16 --batch 1 --warmup 0 --iters 1 --json %s",
             YL_TEST_PARITY_CHECKPOINT, json);
    char *doc = run_for_json(cmd, json, "fp16, batch 1");
    ck_assert_msg(strstr(doc, "\"precision\": \"fp16\""), "%s", doc);
    const double total = json_at(doc, "last_losses", "total", NULL);
    ck_assert_msg(isfinite(total) && total > 0, "loss %g", total);
    free(doc);
}
END_TEST

static void open_scratch(void) { scratch_open("yl_train_bench"); }

Suite *train_bench_suite(void)
{
    Suite *s = suite_create("train_bench");
    TCase *options = tcase_create("options");
    tcase_add_test(options, train_bench_refuses_bad_options);
    suite_add_tcase(s, options);
    /* A training step of the parity network in a child process (seconds; minutes under
     * valgrind, whose CI run leaves "slow" out). */
    TCase *step = tcase_create("step");
    tcase_set_tags(step, "slow");
    tcase_set_timeout(step, 300);
    /* The JSON files go to a fresh folder per test, so runners side by side never share one. */
    tcase_add_checked_fixture(step, open_scratch, scratch_close);
    tcase_add_test(step, train_bench_times_every_phase);
    tcase_add_test(step, train_compare_without_the_official_checkout);
    suite_add_tcase(s, step);
    /* The emulated GPU's step: out of the sanitizers' runs too, as the trainer's cuda_steps. */
    TCase *gpu = tcase_create("gpu_step");
    tcase_set_tags(gpu, "slow cuda");
    tcase_set_timeout(gpu, 300);
    tcase_add_checked_fixture(gpu, open_scratch, scratch_close);
    tcase_add_test(gpu, train_compare_times_the_library_trainer_on_the_gpu);
    tcase_add_test(gpu, train_bench_times_the_fp16_step);
    suite_add_tcase(s, gpu);
    return s;
}
