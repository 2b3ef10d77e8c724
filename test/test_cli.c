/* yolact-detect end to end: --describe on the bundled checkpoint, COCO JSON output, and
 * failures that exit non-zero with a message and leave no output file behind. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "yl_test.h"

#define CLI "build/yolact-detect"
#define WEIGHTS YL_TEST_DATA "/parity/yolact_tiny_seed1_fp16_zip.pth"

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

START_TEST(describe_parity_checkpoint)
{
    char *out;
    ck_assert_int_eq(yl_test_run(CLI " --describe -c yolact_resnet50 -m " WEIGHTS, &out), 0);
    static const char *const expected[] = {
        "yolact_resnet50 (given)", "ResNet (Bottleneck) [1,1,1,1]", "fpn:              64 channels",
        "32 prototypes", "3 anchors per cell, 81 classes", "semantic_seg_conv.weight",
        "unused keys:      19"};
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++)
        ck_assert_msg(strstr(out, expected[i]), "'%s' missing from:\n%s", expected[i], out);
    free(out);
}
END_TEST

START_TEST(json_output)
{
    char *out, cmd[1024];
    const char *json = "build/test-cli-out.json";
    unlink(json);
    snprintf(cmd, sizeof cmd, CLI " -m %s -c yolact_resnet50 --score-threshold 0.1 -o %s "
             YL_TEST_DATA "/parity/coffee.png", WEIGHTS, json);
    ck_assert_msg(yl_test_run(cmd, &out) == 0, "%s", out);
    free(out);
    size_t size;
    char *text = (char *)yl_test_read_file(json, &size);
    ck_assert_ptr_nonnull(text);
    text = realloc(text, size + 1);
    text[size] = '\0';
    /* 16 reference detections score >= 0.1 on coffee; all have boxes with area. */
    int count = 0;
    for (const char *p = text; (p = strstr(p, "\"image_id\": \"coffee\"")); p++)
        count++;
    ck_assert_int_eq(count, 16);
    ck_assert_ptr_nonnull(strstr(text, "\"segmentation\": {\"size\": [400, 600], \"counts\": \""));
    free(text);
    unlink(json);
}
END_TEST

START_TEST(failures_leave_no_file)
{
    char *out, cmd[1024];
    const char *json = "build/test-cli-fail.json";
    unlink(json);
    /* The second image does not exist: the JSON of the first must not appear. */
    snprintf(cmd, sizeof cmd, CLI " -m %s -c yolact_resnet50 -o %s " YL_TEST_DATA
             "/parity/coffee.png /nonexistent.png", WEIGHTS, json);
    ck_assert_int_ne(yl_test_run(cmd, &out), 0);
    ck_assert_msg(strstr(out, "/nonexistent.png"), "message does not name the file: %s", out);
    ck_assert_int_eq(exists(json), 0);
    free(out);

    ck_assert_int_ne(yl_test_run(CLI " -m /nonexistent.pth x.png", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "/nonexistent.pth"));
    free(out);
    ck_assert_int_ne(yl_test_run(CLI " -m " WEIGHTS " -c no_such_preset --describe", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "unknown preset 'no_such_preset'"));
    free(out);
    ck_assert_int_ne(yl_test_run(CLI " -m " WEIGHTS " --backend cuda " YL_TEST_DATA "/parity/coffee.png",
                         &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "backend not available"));
    free(out);
    ck_assert_int_ne(yl_test_run(CLI " -m " WEIGHTS " --threads 0 x.png", &out), 0);
    free(out);
    ck_assert_int_ne(yl_test_run(CLI " " YL_TEST_DATA "/parity/coffee.png", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "-m WEIGHTS is required"));
    free(out);
}
END_TEST

Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, describe_parity_checkpoint);
    tcase_add_test(tc, json_output);
    tcase_add_test(tc, failures_leave_no_file);
    suite_add_tcase(s, tc);
    return s;
}
