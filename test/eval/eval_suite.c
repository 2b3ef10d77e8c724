/* yolact-eval's input and evaluation below the program (examples/eval/): malformed and
 * hostile annotation and results files are refused naming the file and the place, within
 * bounded memory; the masks the library encodes (lib/rle.c) read back as the same pixels;
 * hand-checkable evaluations give their known numbers. The comparison with pycocotools
 * itself is `make test-eval` (test/eval/compare_pycocotools.py). Evaluations run on one
 * thread: a test is a child forked from a runner whose other suites used OpenMP, where an
 * OpenMP team would wait forever. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "coco_eval.h"
#include "coco_load.h"
#include "eval_fuzz_entry.h"
#include "rle.h"
#include "yl_test.h"

#define IMAGES "\"images\": [{\"id\": 1, \"width\": 20, \"height\": 10}]"
#define CATS "\"categories\": [{\"id\": 3, \"name\": \"c\"}]"
#define ANN(x) "{" IMAGES ", " CATS ", \"annotations\": [{\"id\": 1, \"image_id\": 1, " \
               "\"category_id\": 3, \"area\": 50, " x "}]}"
#define BOX "\"bbox\": [1, 1, 5, 5]"

/* Annotation files and the words their refusal must contain. */
static const char *const bad_annotations[][2] = {
    {"{\"images\": [", "name:1:"},
    {"[1, 2]", "top level must be an object"},
    {"{" CATS ", \"annotations\": []}", "\"images\": missing"},
    {"{\"images\": [{\"id\": \"x\"}], " CATS ", \"annotations\": []}",
     "images[0].id: must be an integer"},
    {"{\"images\": [{\"id\": 4}, {\"id\": 4}], " CATS ", \"annotations\": []}",
     "images: id 4 appears twice"},
    {"{\"images\": [{\"id\": 4, \"width\": 0}], " CATS ", \"annotations\": []}",
     "images[0].width: must be a whole number"},
    {"{" IMAGES ", \"categories\": [{\"id\": 3}, {\"id\": 3}], \"annotations\": []}",
     "categories: id 3 appears twice"},
    {"{" IMAGES ", " CATS ", \"annotations\": {}}", "\"annotations\": must be a list"},
    {ANN("\"bbox\": [1, 2, 3]"), "annotations[0].bbox: must be [x, y, width, height]"},
    {ANN("\"bbox\": [1, 2, 3, \"4\"]"), "annotations[0].bbox[3]: must be a number"},
    {ANN(BOX), "annotations[0].segmentation: missing"},
    {ANN(BOX ", \"segmentation\": 5"), "segmentation: must be a list of polygons"},
    {ANN(BOX ", \"segmentation\": []"), "empty list of polygons"},
    {ANN(BOX ", \"segmentation\": [[1, 2, 3, 4]]"), "first polygon needs at least 5"},
    {ANN(BOX ", \"segmentation\": [[1, 2, 3, 4, 5, 6], [1]]"), "polygon 1 has 1 numbers"},
    {ANN(BOX ", \"segmentation\": [[1, 2, 3, \"a\", 5, 6]]"),
     "polygon 0: coordinate 3 is not a number"},
    {ANN(BOX ", \"segmentation\": [[1, 2, 3, 1e300, 5, 6]]"), "coordinate 3 is beyond"},
#define FAR "0, 0, 1000000, 0, 0, 1000000, 1000000, 1000000, "
    {ANN(BOX ", \"segmentation\": [[" FAR FAR FAR FAR "0, 0]]"), "boundary is over"},
    {ANN(BOX ", \"segmentation\": {\"size\": [10, 20], \"counts\": [100, 50]}"),
     "runs add up to 150 pixels"},
    {ANN(BOX ", \"segmentation\": {\"size\": [10, 20], \"counts\": [100, -5, 105]}"),
     "\"counts\" entry 1 is not a run length"},
    {ANN(BOX ", \"segmentation\": {\"size\": [10, 20], \"counts\": \"0 1\"}"),
     "character outside"},
    {ANN(BOX ", \"segmentation\": {\"size\": [10, 20], \"counts\": \"0o\"}"),
     "ends inside a value"},
    {ANN(BOX ", \"segmentation\": {\"size\": [10, 20], \"counts\": \"nnnnnnnn0\"}"),
     "too long"},
    {ANN(BOX ", \"segmentation\": {\"size\": [4294967296, 4294967296], \"counts\": \"\"}"),
     "\"size\" must be [height, width]"},
    {ANN(BOX ", \"segmentation\": {\"size\": [10], \"counts\": \"\"}"), "\"size\" must be"},
    {ANN(BOX ", \"iscrowd\": \"yes\", \"segmentation\": [[1, 2, 3, 4, 5, 6]]"),
     "annotations[0].iscrowd: must be 0 or 1"},
};

/* Detections (against a valid data set) and their refusals. */
static const char *const bad_results[][2] = {
    {"{}", "top level must be a list"},
    {"[{\"image_id\": 1}", "results.json:1:"},
    {"[{\"image_id\": 1, \"category_id\": 3, " BOX "}]", "[0].score: missing"},
    {"[{\"image_id\": 9, \"category_id\": 3, \"score\": 1, " BOX "}]",
     "[0].image_id: 9 is not an image of the annotation file"},
    {"[{\"image_id\": 1, \"category_id\": 3, \"score\": 1}]", "needs a bbox or a segmentation"},
    {"[{\"image_id\": 1, \"category_id\": 3, \"score\": 1, " BOX "}, "
     "{\"image_id\": 1, \"category_id\": 3, \"score\": 1}]", "[1].bbox: missing"},
    {"[{\"image_id\": 1, \"category_id\": 3, \"score\": 1, \"bbox\": [1e9, 0, 1, 1]}]",
     "[0].bbox: too large to rasterise"},
    {"[{\"image_id\": 1, \"category_id\": 3, \"score\": 1, \"segmentation\": "
     "{\"size\": [10, 20], \"counts\": \"5\"}}]", "[0].segmentation: runs add up to"},
};

static const char valid[] = ANN(BOX ", \"segmentation\": [[1, 1, 6, 1, 6, 6, 1, 6]]");

START_TEST(bad_annotations_are_named)
{
    const char *text = bad_annotations[_i][0], *want = bad_annotations[_i][1];
    char err[512] = "";
    coco_dataset d;
    ck_assert_int_eq(coco_parse_annotations(text, strlen(text), "name",
                                            COCO_WANT_BOXES | COCO_WANT_MASKS, &d, err,
                                            sizeof err), -1);
    ck_assert_msg(strstr(err, want) && !strncmp(err, "name", 4),
                  "case %d: got \"%s\", want \"%s\"", _i, err, want);
}
END_TEST

START_TEST(bad_results_are_named)
{
    char err[512] = "";
    coco_dataset d;
    ck_assert_int_eq(coco_parse_annotations(valid, strlen(valid), "a.json",
                                            COCO_WANT_BOXES | COCO_WANT_MASKS, &d, err,
                                            sizeof err), 0);
    const char *text = bad_results[_i][0], *want = bad_results[_i][1];
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    coco_objects dt;
    ck_assert_int_eq(coco_load_results(f, "results.json", &d, COCO_WANT_BOXES | COCO_WANT_MASKS,
                                       &dt, err, sizeof err), -1);
    fclose(f);
    ck_assert_msg(strstr(err, want), "case %d: got \"%s\", want \"%s\"", _i, err, want);
    coco_dataset_free(&d);
}
END_TEST

START_TEST(missing_file_is_named)
{
    char err[512] = "";
    coco_dataset d;
    ck_assert_int_eq(coco_load_annotations("build/no-such-annotations.json", COCO_WANT_BOXES, &d,
                                           err, sizeof err), -1);
    ck_assert_msg(strstr(err, "build/no-such-annotations.json"), "got \"%s\"", err);
}
END_TEST

/* A million nested lists: jansson's depth limit refuses them without recursing that deep. */
START_TEST(deep_nesting_is_refused)
{
    size_t n = 1000000;
    char *text = malloc(2 * n);
    ck_assert_ptr_nonnull(text);
    memset(text, '[', n);
    memset(text + n, ']', n);
    char err[512] = "";
    coco_dataset d;
    ck_assert_int_eq(coco_parse_annotations(text, 2 * n, "deep", COCO_WANT_BOXES, &d, err,
                                            sizeof err), -1);
    ck_assert_msg(strstr(err, "deep:1:"), "got \"%s\"", err);
    free(text);
}
END_TEST

/* The library's COCO RLE strings (yolact-detect's masks) decode to the pixels encoded. */
START_TEST(library_rle_reads_back)
{
    uint64_t state = 26;
    for (int trial = 0; trial < 50; trial++) {
        int w = 1 + (int)yl_test_rand(&state, 0, 90), h = 1 + (int)yl_test_rand(&state, 0, 70);
        size_t stride = ((size_t)w + 7) / 8;
        uint8_t *bits = calloc(stride * (size_t)h, 1);
        float density = yl_test_rand(&state, 0, 1);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                if (yl_test_rand(&state, 0, 1) < density)
                    bits[(size_t)y * stride + (size_t)x / 8] |= (uint8_t)(0x80 >> (x % 8));
        size_t len = yl_rle_encode(bits, w, h, stride, NULL, 0);
        char *text = malloc(len + 1);
        yl_rle_encode(bits, w, h, stride, text, len + 1);
        coco_rle r;
        char err[256];
        ck_assert_msg(coco_rle_from_string(&r, text, (uint32_t)h, (uint32_t)w, err, sizeof err)
                      == 0, "%s", err);
        /* Column-major runs from a 0-run. */
        size_t pixel = 0;
        for (uint32_t j = 0; j < r.m; j++)
            for (uint32_t c = 0; c < r.cnts[j]; c++, pixel++) {
                int x = (int)(pixel / (size_t)h), y = (int)(pixel % (size_t)h);
                int set = (bits[(size_t)y * stride + (size_t)x / 8] >> (7 - x % 8)) & 1;
                ck_assert_int_eq(set, (int)(j % 2));
            }
        ck_assert_uint_eq(pixel, (size_t)w * h);
        coco_rle_free(&r);
        free(text);
        free(bits);
    }
}
END_TEST

/* One object found exactly: every AP and AR is 1 in its own area range (medium: 50 x 40
 * pixels), -1 in the others, with a detection of a crowd not counted against it. Precision
 * is tp / (tp + fp + eps) as in pycocotools, so AP's 1 is 1 - 2^-52 or so. */
START_TEST(exact_detection_scores_one)
{
    static const char gt_text[] =
        "{\"images\": [{\"id\": 7, \"width\": 100, \"height\": 80}], "
        "\"categories\": [{\"id\": 2}], \"annotations\": ["
        "{\"id\": 1, \"image_id\": 7, \"category_id\": 2, \"area\": 2000, "
        "\"bbox\": [10, 20, 50, 40], \"segmentation\": [[10, 20, 60, 20, 60, 60, 10, 60]]}, "
        "{\"id\": 2, \"image_id\": 7, \"category_id\": 2, \"area\": 100, \"iscrowd\": 1, "
        "\"bbox\": [60, 0, 10, 10], \"segmentation\": [[60, 0, 70, 0, 70, 10, 60, 10]]}]}";
    static const char dt_text[] =
        "[{\"image_id\": 7, \"category_id\": 2, \"score\": 0.9, \"bbox\": [10, 20, 50, 40]},"
        " {\"image_id\": 7, \"category_id\": 2, \"score\": 0.5, \"bbox\": [61, 1, 8, 8]}]";
    char err[512];
    coco_dataset gt;
    ck_assert_int_eq(coco_parse_annotations(gt_text, sizeof gt_text - 1, "gt",
                                            COCO_WANT_BOXES | COCO_WANT_MASKS, &gt, err,
                                            sizeof err), 0);
    FILE *f = fmemopen((void *)dt_text, sizeof dt_text - 1, "r");
    coco_objects dt;
    ck_assert_int_eq(coco_load_results(f, "dt", &gt, COCO_WANT_BOXES | COCO_WANT_MASKS, &dt,
                                       err, sizeof err), 0);
    fclose(f);
    static const double want[12] = {1, 1, 1, -1, 1, -1, 1, 1, 1, -1, 1, -1};
    for (int type = 0; type < 2; type++) {
        coco_eval e;
        ck_assert_int_eq(coco_evaluate(&gt, &dt, (coco_iou_type)type, 1, &e), 0);
        for (int i = 0; i < 12; i++)
            ck_assert_msg(fabs(e.stats[i] - want[i]) <= 1e-15, "type %d stat %d: %.17g", type,
                          i, e.stats[i]);
        ck_assert(fabs(e.class_ap[0] - 1) <= 1e-15);
        coco_eval_free(&e);
    }
    coco_objects_free(&dt);
    coco_dataset_free(&gt);
}
END_TEST

/* The fuzz target's seeds and past findings (test/data/fuzz/annotations/) run clean. */
START_TEST(fuzz_inputs_replay)
{
    const char *dir = YL_TEST_DATA "/fuzz/annotations";
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int accepted = 0, seen = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t size;
        uint8_t *data = yl_test_read_file(path, &size);
        ck_assert_ptr_nonnull(data);
        accepted += eval_fuzz_annotations(data, size) == 0;
        seen++;
        free(data);
    }
    closedir(d);
    ck_assert_int_ge(seen, 3);
    ck_assert_int_ge(accepted, 3);   /* the seeds are valid files */
}
END_TEST

Suite *eval_suite(void);
Suite *eval_suite(void)
{
    Suite *s = suite_create("eval");
    TCase *tc = tcase_create("input");
    tcase_add_loop_test(tc, bad_annotations_are_named, 0,
                        (int)(sizeof bad_annotations / sizeof bad_annotations[0]));
    tcase_add_loop_test(tc, bad_results_are_named, 0,
                        (int)(sizeof bad_results / sizeof bad_results[0]));
    tcase_add_test(tc, missing_file_is_named);
    tcase_add_test(tc, deep_nesting_is_refused);
    tcase_add_test(tc, library_rle_reads_back);
    tcase_add_test(tc, exact_detection_scores_one);
    tcase_add_test(tc, fuzz_inputs_replay);
    suite_add_tcase(s, tc);
    return s;
}
