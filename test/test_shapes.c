/* The synthetic shapes data set (examples/shapes, yolact-shapes): scenes follow from the
 * seed, the annotations are the pixels drawn, and the program writes COCO files that
 * decode back to those masks and refuses bad arguments with a message. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rle.h"
#include "shapes_scene.h"
#include "yl_test.h"

static const shape_scene_params small = {96, 64, 2, 6, 7, 0};

START_TEST(scenes_follow_from_the_seed)
{
    shape_scene a, b, other_split, other_seed;
    shape_scene_params val = small, seed = small;
    val.split = 1;
    seed.seed = 8;
    ck_assert_int_eq(shape_scene_make(&small, 3, &a), 0);
    ck_assert_int_eq(shape_scene_make(&small, 3, &b), 0);
    ck_assert_int_eq(shape_scene_make(&val, 3, &other_split), 0);
    ck_assert_int_eq(shape_scene_make(&seed, 3, &other_seed), 0);
    const size_t n = (size_t)small.width * small.height;
    ck_assert(a.count == b.count && !memcmp(a.rgb, b.rgb, n * 3) &&
              !memcmp(a.label, b.label, n));
    ck_assert(memcmp(a.rgb, other_split.rgb, n * 3) && memcmp(a.rgb, other_seed.rgb, n * 3));
    shape_scene_free(&a);
    shape_scene_free(&b);
    shape_scene_free(&other_split);
    shape_scene_free(&other_seed);
}
END_TEST

/* Each object's annotation is exactly its pixels in the label map: area, extent, and the mask
 * and its RLE, which decodes back to it; objects keep the size the maker promises. */
START_TEST(annotations_are_the_pixels_drawn)
{
    const size_t stride = (small.width + 7) / 8;
    uint8_t bits[64 * 12], back[64 * 12];
    int kinds_seen[SHAPE_KINDS] = {0};
    for (int index = 0; index < 20; index++) {
        shape_scene s;
        ck_assert_int_eq(shape_scene_make(&small, index, &s), 0);
        ck_assert_msg(s.count >= 1 && s.count <= small.max_objects, "%d objects", s.count);
        for (int i = 0; i < s.count; i++) {
            const shape_object *o = &s.objects[i];
            kinds_seen[o->kind]++;
            int area = 0, x0 = s.width, y0 = s.height, x1 = 0, y1 = 0;
            for (int y = 0; y < s.height; y++)
                for (int x = 0; x < s.width; x++)
                    if (s.label[y * s.width + x] == i + 1) {
                        area++;
                        x0 = x < x0 ? x : x0;
                        y0 = y < y0 ? y : y0;
                        x1 = x + 1 > x1 ? x + 1 : x1;
                        y1 = y + 1 > y1 ? y + 1 : y1;
                    }
            ck_assert_int_eq(area, o->visible_pixels);
            ck_assert_int_ge(area, 16);
            ck_assert(o->x0 == x0 && o->y0 == y0 && o->x1 == x1 && o->y1 == y1);
            shape_scene_mask(&s, i, bits, stride);
            char rle[4096];
            ck_assert_uint_lt(yolact_mask_rle(bits, s.width, s.height, stride, rle, sizeof rle),
                              sizeof rle);
            memset(back, 0, sizeof back);
            ck_assert_int_eq(yl_rle_decode(rle, s.width, s.height, back, stride), 0);
            ck_assert(!memcmp(bits, back, stride * s.height));
        }
        shape_scene_free(&s);
    }
    for (int k = 0; k < SHAPE_KINDS; k++)
        ck_assert_msg(kinds_seen[k] > 0, "no %s in 20 images", shape_names[k]);
}
END_TEST

static int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *at = text; (at = strstr(at, needle)); at += strlen(needle))
        n++;
    return n;
}

/* Every backslash of the JSON text starts one of JSON's escapes; the number of escaped
 * backslashes. */
static int escaped_backslashes(const char *json)
{
    int n = 0;
    for (const char *at = json; (at = strchr(at, '\\')); at += 2) {
        ck_assert_msg(at[1] && strchr("\"\\/bfnrtu", at[1]), "bad escape '\\%c'", at[1]);
        n += at[1] == '\\';
    }
    return n;
}

/* A whole file as a NUL-terminated string (a Check failure when it does not read). */
static char *read_text(const char *path)
{
    size_t size;
    char *text = (char *)yl_test_read_file(path, &size);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    char *grown = realloc(text, size + 1);
    ck_assert_ptr_nonnull(grown);
    grown[size] = '\0';
    return grown;
}

/* The RLE alphabet holds a backslash: the counts are written as JSON strings, escaped
 * (seed 1's first 8 images have one). */
START_TEST(rle_counts_are_escaped)
{
    char dir[] = "/tmp/yolact-shapes-XXXXXX", cmd[512], path[600], *out;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "build/yolact-shapes --out %s/set --train 8 --val 1 --seed 1",
             dir);
    ck_assert_msg(yl_test_run(cmd, &out) == 0, "%s:\n%s", cmd, out);
    free(out);
    snprintf(path, sizeof path, "%s/set/annotations/train.json", dir);
    char *json = read_text(path);
    ck_assert_int_gt(escaped_backslashes(json), 0);
    free(json);
    snprintf(cmd, sizeof cmd, "rm -r %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(program_writes_both_splits)
{
    char dir[] = "/tmp/yolact-shapes-XXXXXX", cmd[512], path[600], *out;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "build/yolact-shapes --out %s/set --train 3 --val 2 "
             "--size 96x64 --objects 1-4 --seed 5", dir);
    ck_assert_msg(yl_test_run(cmd, &out) == 0, "%s:\n%s", cmd, out);
    free(out);
    const char *const splits[2] = {"train", "val"};
    for (int s = 0; s < 2; s++) {
        snprintf(path, sizeof path, "%s/set/annotations/%s.json", dir, splits[s]);
        char *json = read_text(path);
        ck_assert_int_eq(count_of(json, "\"file_name\""), s ? 2 : 3);
        ck_assert_int_eq(count_of(json, "\"supercategory\""), SHAPE_KINDS);
        int objects = count_of(json, "\"image_id\"");
        ck_assert_msg(objects >= (s ? 2 : 3) && objects <= (s ? 8 : 12), "%d", objects);
        escaped_backslashes(json);
        free(json);
        for (int i = 1; i <= (s ? 2 : 3); i++) {
            yolact_image image;
            snprintf(path, sizeof path, "%s/set/%s/%06d.png", dir, splits[s], i);
            ck_assert_status(yolact_image_load(path, &image), YOLACT_OK);
            ck_assert(image.width == 96 && image.height == 64);
            yolact_image_free_pixels(&image);
        }
    }
    snprintf(cmd, sizeof cmd, "rm -r %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(program_refuses_bad_arguments)
{
    static const struct {
        const char *args, *says;
        int exit;
    } cases[] = {
        {"--train 1", "--out DIR is needed", 2},
        {"--out /tmp/x --size 0x64", "--size wants WxH", 2},
        {"--out /tmp/x --size 96", "--size wants WxH", 2},
        {"--out /tmp/x --objects 5-2", "--objects wants MIN-MAX", 2},
        {"--out /tmp/x --objects 1-99", "--objects wants MIN-MAX", 2},
        {"--out /tmp/x --train -3", "--train wants a number", 2},
        {"--out /nonexistent/dir/set --train 1 --val 0", "cannot create", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[512], *out;
        snprintf(cmd, sizeof cmd, "build/yolact-shapes %s", cases[i].args);
        int rc = yl_test_run(cmd, &out);
        ck_assert_msg(rc == cases[i].exit && strstr(out, cases[i].says),
                      "%s: exit %d, wanted %d and '%s':\n%s", cmd, rc, cases[i].exit,
                      cases[i].says, out);
        free(out);
    }
}
END_TEST

/* The value after the first "key": following `after` in text, or -1. */
static double json_number_after(const char *text, const char *after, const char *key)
{
    const char *at = strstr(text, after);
    at = at ? strstr(at, key) : NULL;
    return at ? strtod(at + strlen(key), NULL) : -1;
}

/* The shipped model, on the first images of its validation split (which it never trained
 * on), scored by yolact-eval: COCO mask AP@[.5:.95] of 0.5 at least, as the README says
 * (its detections carry the category ids stored in it, so wrong ids would score 0). */
START_TEST(shipped_model_reaches_its_ap)
{
    char dir[] = "/tmp/yolact-shapes-XXXXXX", cmd[1024], path[600], *out;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "build/yolact-shapes --out %s/set --train 0 --val 100 --seed %d",
             dir, YL_TEST_SHAPES_SEED);
    ck_assert_msg(yl_test_run(cmd, &out) == 0, "%s:\n%s", cmd, out);
    free(out);
    snprintf(cmd, sizeof cmd, "build/yolact-eval -m %s --annotations "
             "%s/set/annotations/val.json --images %s/set/val --threads 2 --json-out "
             "%s/ap.json", YL_TEST_SHAPES_MODEL, dir, dir, dir);
    ck_assert_msg(yl_test_run(cmd, &out) == 0, "%s:\n%s", cmd, out);
    free(out);
    snprintf(path, sizeof path, "%s/ap.json", dir);
    char *json = read_text(path);
    const double mask_ap = json_number_after(json, "\"segm\"", "\"AP\":");
    const double box_ap = json_number_after(json, "\"bbox\"", "\"AP\":");
    printf("shapes: the shipped model's AP on 100 validation images: box %.4f, mask %.4f\n",
           box_ap, mask_ap);
    ck_assert_msg(mask_ap >= 0.5, "mask AP %g", mask_ap);
    free(json);
    snprintf(cmd, sizeof cmd, "rm -r %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

Suite *shapes_suite(void)
{
    Suite *s = suite_create("shapes");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, scenes_follow_from_the_seed);
    tcase_add_test(tc, annotations_are_the_pixels_drawn);
    tcase_add_test(tc, program_writes_both_splits);
    tcase_add_test(tc, rle_counts_are_escaped);
    tcase_add_test(tc, program_refuses_bad_arguments);
    suite_add_tcase(s, tc);
    /* Seconds of detection: not under valgrind. */
    TCase *model = tcase_create("model");
    tcase_set_tags(model, "slow");
    tcase_set_timeout(model, 300);
    tcase_add_test(model, shipped_model_reaches_its_ap);
    suite_add_tcase(s, model);
    return s;
}
