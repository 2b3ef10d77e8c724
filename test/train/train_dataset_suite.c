/* The COCO training set reader (examples/train/train_dataset.h): which images are samples,
 * each sample's objects in the official's order and classes, its pixels as float BGR, masks
 * decoded from runs, and named errors; and the worker threads that serve its samples
 * augmented (examples/train/sample_loader.h). */
#include <stdio.h>
#include <string.h>

#include "sample_loader.h"
#include "scratch_dir.h"
#include "train_dataset.h"
#include "yl_test.h"

/* The set's folder and annotations: in the test's scratch folder (make_set). */
#define SET_DIR scratch_dir()
#define SET_JSON scratch_path("train.json")
#define W 6
#define H 4

/* Image 7 holds a crowd, a circle and a square; image 3 (a 2014-style name) a square; image
 * 9 nothing. Categories by id: square (2) is class 0, circle (5) class 1. Masks as
 * uncompressed runs, column-major: "5, 3, 1, 3, 12" sets columns 1 and 2, rows 1 to 3. */
static const char annotations[] =
    "{\"images\": [{\"id\": 7, \"file_name\": \"a.png\", \"width\": 6, \"height\": 4},"
    "  {\"id\": 3, \"file_name\": \"COCO_train2014_b.png\", \"width\": 6, \"height\": 4},"
    "  {\"id\": 9, \"file_name\": \"none.png\", \"width\": 6, \"height\": 4}],"
    " \"categories\": [{\"id\": 5, \"name\": \"circle\"}, {\"id\": 2, \"name\": \"square\"}],"
    " \"annotations\": ["
    "  {\"id\": 1, \"image_id\": 7, \"category_id\": 5, \"iscrowd\": 1, \"area\": 4,"
    "   \"bbox\": [0, 0, 2, 2], \"segmentation\": {\"size\": [4, 6], \"counts\": [0, 2, 2, 2, 18]}},"
    "  {\"id\": 2, \"image_id\": 7, \"category_id\": 5, \"iscrowd\": 0, \"area\": 6,"
    "   \"bbox\": [1, 1, 2, 3], \"segmentation\": {\"size\": [4, 6], \"counts\": [5, 3, 1, 3, 12]}},"
    "  {\"id\": 3, \"image_id\": 3, \"category_id\": 2, \"iscrowd\": 0, \"area\": 1,"
    "   \"bbox\": [5, 3, 1, 1], \"segmentation\": {\"size\": [4, 6], \"counts\": [23, 1]}},"
    "  {\"id\": 4, \"image_id\": 7, \"category_id\": 2, \"area\": 1,"
    "   \"bbox\": [0.5, 0.25, 3.5, 2], \"segmentation\": {\"size\": [4, 6], \"counts\": [23, 1]}}]}";

static uint8_t pixel(int x, int y, int c)
{
    return (uint8_t)(x * 40 + y * 7 + c * 3);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f, "%s", path);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_png(const char *path, int width, int height)
{
    uint8_t rgb[W * H * 3 * 4];
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            for (int c = 0; c < 3; c++)
                rgb[(y * width + x) * 3 + c] = pixel(x, y, c);
    yolact_image im = {rgb, width, height, (size_t)width * 3, YOLACT_PIXEL_RGB8, 0};
    ck_assert_int_eq(yolact_image_save_png(path, &im), YOLACT_OK);
}

/* The set in the test's scratch folder: a test changes its files, so tests side by side (in
 * runners side by side) must not share it. */
static void make_set(void)
{
    write_file(SET_JSON, annotations);
    write_png(scratch_path("a.png"), W, H);
    write_png(scratch_path("b.png"), W, H);
}

START_TEST(samples_follow_the_official_loader)
{
    make_set();
    train_dataset d;
    char err[512] = "";
    ck_assert_msg(train_dataset_open(SET_JSON, SET_DIR, &d, err, sizeof err) == 0, "%s",
                  err);
    /* image 9 has no annotation: not a sample; the others by id */
    ck_assert_int_eq(d.num_samples, 2);
    ck_assert_str_eq(d.coco.categories[0].name, "square");
    augment_sample s;
    ck_assert_msg(train_dataset_sample(&d, 0, &s, err, sizeof err) == 0, "%s", err);
    ck_assert(s.count == 1 && s.num_crowds == 0 && s.labels[0] == 0);
    ck_assert(s.masks[3 * W + 5] == 1 && s.masks[0] == 0);
    augment_sample_free(&s);

    ck_assert_msg(train_dataset_sample(&d, 1, &s, err, sizeof err) == 0, "%s", err);
    ck_assert(s.width == W && s.height == H && s.count == 3 && s.num_crowds == 1);
    /* the circle, then the square (file order), the crowd last */
    ck_assert(s.labels[0] == 1 && s.labels[1] == 0 && s.labels[2] == -1);
    const double want[4] = {0.5, 0.25, 4.0, 2.25};
    for (int c = 0; c < 4; c++)
        ck_assert_double_eq_tol(s.boxes[1][c], want[c], 1e-12);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            ck_assert_int_eq(s.masks[y * W + x], (x == 1 || x == 2) && y >= 1);
            ck_assert_int_eq(s.masks[2 * W * H + y * W + x], x < 2 && y < 2);
            for (int c = 0; c < 3; c++)   /* BGR */
                ck_assert_float_eq(s.image[(y * W + x) * 3 + c], pixel(x, y, 2 - c));
        }
    augment_sample_free(&s);
    train_dataset_close(&d);
}
END_TEST

START_TEST(bad_sets_are_named)
{
    make_set();
    train_dataset d;
    augment_sample s;
    char err[512] = "";
    ck_assert_int_eq(train_dataset_open(scratch_path("missing.json"), SET_DIR, &d, err,
                                        sizeof err), -1);
    ck_assert_msg(strstr(err, "missing.json"), "%s", err);

    write_file(scratch_path("empty.json"), "{\"images\": [{\"id\": 1, \"file_name\": \"a.png\", "
               "\"width\": 6, \"height\": 4}], \"categories\": [{\"id\": 1}], \"annotations\": []}");
    ck_assert_int_eq(train_dataset_open(scratch_path("empty.json"), SET_DIR, &d, err,
                                        sizeof err), -1);
    ck_assert_msg(strstr(err, "nothing to train on"), "%s", err);

    /* the images folder lacks b.png; a.png is not the size the annotations give */
    ck_assert_int_eq(train_dataset_open(SET_JSON, "build", &d, err, sizeof err), 0);
    ck_assert_int_eq(train_dataset_sample(&d, 0, &s, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "build/b.png"), "%s", err);
    ck_assert(s.image == NULL && s.masks == NULL);
    train_dataset_close(&d);
    write_png(scratch_path("a.png"), 5, 4);
    ck_assert_int_eq(train_dataset_open(SET_JSON, SET_DIR, &d, err, sizeof err), 0);
    ck_assert_int_eq(train_dataset_sample(&d, 1, &s, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "5x4, but the annotations give image 7 as 6x4"), "%s", err);
    train_dataset_close(&d);
}
END_TEST

/* n samples of a run over the test set into out (augment_sample_free each). */
static void take_samples(const train_dataset *d, sample_loader_options o, int n,
                         augment_sample *out)
{
    sample_loader *l;
    char err[512] = "";
    ck_assert_msg(sample_loader_start(d, &o, &l, err, sizeof err) == 0, "%s", err);
    for (int i = 0; i < n; i++)
        ck_assert_msg(sample_loader_next(l, &out[i], err, sizeof err) == 0, "%s", err);
    sample_loader_stop(l);
}

static int same_sample(const augment_sample *a, const augment_sample *b)
{
    size_t plane = (size_t)a->width * a->height;
    return a->width == b->width && a->height == b->height && a->count == b->count &&
           a->num_crowds == b->num_crowds && !memcmp(a->image, b->image, plane * 3 * 4) &&
           !memcmp(a->masks, b->masks, plane * a->count) &&
           !memcmp(a->boxes, b->boxes, a->count * sizeof *a->boxes) &&
           !memcmp(a->labels, b->labels, a->count * sizeof *a->labels);
}

/* The stream of augmented samples follows from the seed alone: one worker or three, made one
 * ahead or four, the same samples in the same order; another seed, others. */
START_TEST(loader_stream_follows_the_seed)
{
    make_set();
    train_dataset d;
    char err[512] = "";
    ck_assert_msg(train_dataset_open(SET_JSON, SET_DIR, &d, err, sizeof err) == 0, "%s",
                  err);
    enum { N = 12 };
    augment_sample one[N], three[N], other[N];
    take_samples(&d, (sample_loader_options){1, 1, 24, 1, 5, 0}, N, one);
    take_samples(&d, (sample_loader_options){3, 4, 24, 1, 5, 0}, N, three);
    take_samples(&d, (sample_loader_options){2, 2, 24, 1, 6, 0}, N, other);
    int differ = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_msg(same_sample(&one[i], &three[i]), "sample %d", i);
        ck_assert(one[i].width == 24 && one[i].count >= 1);
        differ += !same_sample(&one[i], &other[i]);
        augment_sample_free(&one[i]);
        augment_sample_free(&three[i]);
        augment_sample_free(&other[i]);
    }
    ck_assert_int_ge(differ, N / 2);
    train_dataset_close(&d);
}
END_TEST

/* Each epoch takes every sample once (told apart here by their object counts, 1 and 3), and
 * a run resumed at sample k goes on as the run from 0 did. */
START_TEST(loader_epochs_take_each_sample_once)
{
    make_set();
    train_dataset d;
    char err[512] = "";
    ck_assert_msg(train_dataset_open(SET_JSON, SET_DIR, &d, err, sizeof err) == 0, "%s",
                  err);
    enum { N = 8 };
    augment_sample run[N], resumed[N - 3];
    take_samples(&d, (sample_loader_options){2, 3, 6, 0, 9, 0}, N, run);
    take_samples(&d, (sample_loader_options){1, 2, 6, 0, 9, 3}, N - 3, resumed);
    for (int epoch = 0; epoch < N / 2; epoch++)
        ck_assert_int_eq(run[2 * epoch].count + run[2 * epoch + 1].count, 4);
    for (int i = 0; i < N; i++) {
        if (i >= 3) {
            ck_assert_msg(same_sample(&run[i], &resumed[i - 3]), "sample %d", i);
            augment_sample_free(&resumed[i - 3]);
        }
        augment_sample_free(&run[i]);
    }
    train_dataset_close(&d);
}
END_TEST

/* A sample that cannot be made is the taker's error, with its reason, from then on; stopping
 * with samples made ahead and not taken frees them. */
START_TEST(loader_failure_is_named_and_stop_cleans_up)
{
    make_set();
    train_dataset d;
    char err[512] = "";
    ck_assert_int_eq(train_dataset_open(SET_JSON, "build", &d, err, sizeof err), 0);
    sample_loader *l;
    sample_loader_options o = {2, 3, 16, 1, 1, 0};
    ck_assert_int_eq(sample_loader_start(&d, &o, &l, err, sizeof err), 0);
    augment_sample s;
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(sample_loader_next(l, &s, err, sizeof err), -1);
        ck_assert_msg(strstr(err, "build/"), "%s", err);
    }
    sample_loader_stop(l);
    train_dataset_close(&d);

    ck_assert_int_eq(train_dataset_open(SET_JSON, SET_DIR, &d, err, sizeof err), 0);
    o.ahead = 4;
    ck_assert_int_eq(sample_loader_start(&d, &o, &l, err, sizeof err), 0);
    ck_assert_int_eq(sample_loader_next(l, &s, err, sizeof err), 0);
    augment_sample_free(&s);
    sample_loader_stop(l);
    o.workers = 0;
    ck_assert_int_eq(sample_loader_start(&d, &o, &l, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "at least 1"), "%s", err);
    train_dataset_close(&d);
}
END_TEST

static void open_scratch(void) { scratch_open("yl_train_dataset"); }

Suite *train_dataset_suite(void)
{
    Suite *s = suite_create("train_dataset");
    TCase *tc = tcase_create("coco");
    tcase_add_checked_fixture(tc, open_scratch, scratch_close);
    tcase_add_test(tc, samples_follow_the_official_loader);
    tcase_add_test(tc, bad_sets_are_named);
    suite_add_tcase(s, tc);
    TCase *loader = tcase_create("loader");
    tcase_add_checked_fixture(loader, open_scratch, scratch_close);
    tcase_add_test(loader, loader_stream_follows_the_seed);
    tcase_add_test(loader, loader_epochs_take_each_sample_once);
    tcase_add_test(loader, loader_failure_is_named_and_stop_cleans_up);
    suite_add_tcase(s, loader);
    return s;
}
