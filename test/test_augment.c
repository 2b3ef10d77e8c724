/* The training augmentation (examples/train/augment.h), each step against its definition in
 * the official utils/augmentations.py and OpenCV's conversions, and the whole chain's draws
 * following from the seed. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "augment.h"
#include "yl_test.h"

/* A width x height sample whose pixel (x, y) channel c is fill(x, y, c), with no objects. */
static void sample_with_pixels(augment_sample *s, int width, int height, int count,
                               int num_crowds, float (*fill)(int x, int y, int c))
{
    ck_assert_int_eq(augment_sample_init(s, width, height, count, num_crowds), 0);
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            for (int c = 0; c < 3; c++)
                s->image[((size_t)y * width + x) * 3 + c] = fill(x, y, c);
    memset(s->masks, 0, (size_t)width * height * count);
}

static float distinct_pixels(int x, int y, int c)
{
    return (float)(x * 17 + y * 5 + c * 61 % 97);
}

/* Object k covers the rect (x1, y1) .. (x2, y2) exclusive, its box the same. */
static void put_object(augment_sample *s, int k, int x1, int y1, int x2, int y2, int label)
{
    for (int y = y1; y < y2; y++)
        memset(&s->masks[((size_t)k * s->height + y) * s->width + x1], 1, (size_t)(x2 - x1));
    double box[4] = {x1, y1, x2, y2};
    memcpy(s->boxes[k], box, sizeof box);
    s->labels[k] = label;
}

static uint8_t mask_at(const augment_sample *s, int k, int x, int y)
{
    return s->masks[((size_t)k * s->height + y) * s->width + x];
}

static const float *pixel_at(const augment_sample *s, int x, int y)
{
    return &s->image[((size_t)y * s->width + x) * 3];
}

/* OpenCV's float HSV: H in degrees, S in 0..1, V the largest channel. */
START_TEST(hsv_follows_opencv_definition)
{
    static const struct { float bgr[3], hsv[3]; } cases[] = {
        {{0, 0, 255}, {0, 1, 255}},       {{0, 255, 0}, {120, 1, 255}},
        {{255, 0, 0}, {240, 1, 255}},     {{0, 255, 255}, {60, 1, 255}},
        {{255, 0, 255}, {300, 1, 255}},   {{100, 100, 100}, {0, 0, 100}},
        {{50, 100, 200}, {20, 0.75f, 200}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        float hsv[3], bgr[3];
        augment_bgr_to_hsv(cases[i].bgr, hsv);
        for (int c = 0; c < 3; c++)
            ck_assert_msg(fabsf(hsv[c] - cases[i].hsv[c]) < 1e-3f * fmaxf(1, cases[i].hsv[c]),
                          "case %zu channel %d: %g, not %g", i, c, hsv[c], cases[i].hsv[c]);
        augment_hsv_to_bgr(hsv, bgr);
        for (int c = 0; c < 3; c++)
            ck_assert_msg(fabsf(bgr[c] - cases[i].bgr[c]) < 1e-3f, "case %zu back: %g vs %g", i,
                          bgr[c], cases[i].bgr[c]);
    }
    /* Every pixel of the 0..255 cube (a lattice of it) comes back within float rounding. */
    for (int b = 0; b < 256; b += 15)
        for (int g = 0; g < 256; g += 15)
            for (int r = 0; r < 256; r += 15) {
                float px[3] = {(float)b, (float)g, (float)r}, hsv[3], back[3];
                augment_bgr_to_hsv(px, hsv);
                ck_assert(hsv[0] >= 0 && hsv[0] < 360 && hsv[1] >= 0 && hsv[1] <= 1);
                augment_hsv_to_bgr(hsv, back);
                for (int c = 0; c < 3; c++)
                    ck_assert_msg(fabsf(back[c] - px[c]) < 2e-3f, "%d %d %d: %g", b, g, r,
                                  back[c]);
            }
}
END_TEST

static float red(int x, int y, int c)
{
    (void)x, (void)y;
    return c == 2 ? 200.f : 40.f;
}

/* Brightness adds before anything, contrast multiplies before or after the HSV steps, hue
 * turns the colour wheel (wrapping at 360), saturation scales S; nothing is clipped. */
START_TEST(photometric_steps_follow_their_definitions)
{
    augment_sample s;
    sample_with_pixels(&s, 3, 2, 0, 0, red);
    augment_photometric bright = {.brightness = 1, .brightness_delta = 30.f,
                                  .contrast = 1, .contrast_alpha = 1.5f, .contrast_first = 1};
    augment_photometric_apply(&s, &bright);
    /* (200 + 30) * 1.5 = 345 and (40 + 30) * 1.5 = 105: past 255, kept */
    for (int i = 0; i < 6; i++) {
        const float *px = &s.image[i * 3];
        ck_assert_msg(fabsf(px[2] - 345.f) < 0.05f && fabsf(px[0] - 105.f) < 0.05f &&
                      fabsf(px[1] - 105.f) < 0.05f, "%g %g %g", px[0], px[1], px[2]);
    }
    augment_sample_free(&s);

    /* Red (H 0) turned by -120 degrees wraps to 240: blue, same S and V. */
    sample_with_pixels(&s, 3, 2, 0, 0, red);
    augment_photometric hue = {.hue = 1, .hue_delta = -120.f};
    augment_photometric_apply(&s, &hue);
    ck_assert_msg(fabsf(s.image[0] - 200.f) < 0.05f && fabsf(s.image[1] - 40.f) < 0.05f &&
                  fabsf(s.image[2] - 40.f) < 0.05f, "%g %g %g", s.image[0], s.image[1],
                  s.image[2]);
    augment_sample_free(&s);

    /* Saturation 0.5: S from 0.8 to 0.4, V kept: the smallest channel 200 * 0.6 = 120. */
    sample_with_pixels(&s, 3, 2, 0, 0, red);
    augment_photometric pale = {.saturation = 1, .saturation_factor = 0.5f};
    augment_photometric_apply(&s, &pale);
    ck_assert_msg(fabsf(s.image[0] - 120.f) < 0.05f && fabsf(s.image[2] - 200.f) < 0.05f,
                  "%g %g", s.image[0], s.image[2]);
    augment_sample_free(&s);

    /* Contrast after the HSV round trip: the same numbers, by another order of rounding. */
    sample_with_pixels(&s, 3, 2, 0, 0, red);
    augment_photometric late = {.contrast = 1, .contrast_alpha = 0.5f};
    augment_photometric_apply(&s, &late);
    ck_assert(fabsf(s.image[2] - 100.f) < 0.05f && fabsf(s.image[0] - 20.f) < 0.05f);
    augment_sample_free(&s);
}
END_TEST

/* Expand: canvas int(h * ratio) x int(w * ratio) of the mean colour, the image at the
 * truncated (left, top), masks and boxes moved by the same whole pixels. */
START_TEST(expand_places_the_sample_on_a_mean_canvas)
{
    augment_sample s;
    sample_with_pixels(&s, 3, 2, 1, 0, distinct_pixels);
    put_object(&s, 0, 1, 0, 3, 2, 4);
    ck_assert_int_eq(augment_expand(&s, 2.5, 2.9, 1.2), 0);
    ck_assert_int_eq(s.width, 7);
    ck_assert_int_eq(s.height, 5);
    for (int y = 0; y < 5; y++)
        for (int x = 0; x < 7; x++) {
            int inside = x >= 2 && x < 5 && y >= 1 && y < 3;
            for (int c = 0; c < 3; c++) {
                float want = inside ? distinct_pixels(x - 2, y - 1, c) : augment_mean_bgr[c];
                ck_assert_float_eq(pixel_at(&s, x, y)[c], want);
            }
            ck_assert_int_eq(mask_at(&s, 0, x, y), inside && x >= 3);
        }
    ck_assert(s.boxes[0][0] == 3 && s.boxes[0][1] == 1 && s.boxes[0][2] == 5 &&
              s.boxes[0][3] == 3 && s.labels[0] == 4);
    augment_sample_free(&s);
}
END_TEST

/* Three objects on a 10 x 10 sample: a, centred at (2, 2); b, centred at (7.5, 7.5); and a
 * crowd centred at (3, 3). */
static void crop_sample(augment_sample *s)
{
    sample_with_pixels(s, 10, 10, 3, 1, distinct_pixels);
    put_object(s, 0, 0, 0, 4, 4, 1);
    put_object(s, 1, 5, 5, 10, 10, 2);
    put_object(s, 2, 1, 1, 5, 5, -1);
}

/* RandomSampleCrop: objects whose box centre lies strictly inside the rect stay, boxes
 * clipped to it and moved to its corner; no object inside, or crowds only, is refused. */
START_TEST(crop_keeps_objects_centred_inside)
{
    augment_sample s;
    crop_sample(&s);
    const int rect[4] = {1, 1, 6, 7};
    ck_assert_int_eq(augment_crop(&s, rect), 1);
    ck_assert(s.width == 5 && s.height == 6 && s.count == 2 && s.num_crowds == 1);
    ck_assert(s.labels[0] == 1 && s.labels[1] == -1);
    const double want[2][4] = {{0, 0, 3, 3}, {0, 0, 4, 4}};
    for (int k = 0; k < 2; k++)
        for (int c = 0; c < 4; c++)
            ck_assert_double_eq(s.boxes[k][c], want[k][c]);
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 5; x++) {
            for (int c = 0; c < 3; c++)
                ck_assert_float_eq(pixel_at(&s, x, y)[c], distinct_pixels(x + 1, y + 1, c));
            ck_assert_int_eq(mask_at(&s, 0, x, y), x < 3 && y < 3);
            ck_assert_int_eq(mask_at(&s, 1, x, y), x < 4 && y < 4);
        }
    augment_sample_free(&s);

    crop_sample(&s);
    const int crowd_only[4] = {2, 2, 4, 4}, nothing[4] = {4, 0, 7, 3};
    ck_assert_int_eq(augment_crop(&s, crowd_only), 0);
    ck_assert_int_eq(augment_crop(&s, nothing), 0);
    ck_assert(s.width == 10 && s.count == 3 && s.num_crowds == 1);
    ck_assert_float_eq(pixel_at(&s, 9, 9)[0], distinct_pixels(9, 9, 0));
    augment_sample_free(&s);
}
END_TEST

/* RandomMirror: x -> width - 1 - x for pixels and masks, boxes (x1, x2) -> (w - x2, w - x1);
 * twice is the identity. */
START_TEST(mirror_reflects_and_twice_is_identity)
{
    augment_sample s;
    crop_sample(&s);
    augment_mirror(&s);
    ck_assert(s.boxes[0][0] == 6 && s.boxes[0][2] == 10 && s.boxes[1][0] == 0 &&
              s.boxes[1][2] == 5 && s.boxes[0][1] == 0 && s.boxes[0][3] == 4);
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 10; x++) {
            ck_assert_float_eq(pixel_at(&s, x, y)[1], distinct_pixels(9 - x, y, 1));
            ck_assert_int_eq(mask_at(&s, 0, x, y), x >= 6 && y < 4);
        }
    augment_mirror(&s);
    augment_sample original;
    crop_sample(&original);
    ck_assert(!memcmp(s.image, original.image, 300 * sizeof *s.image));
    ck_assert(!memcmp(s.masks, original.masks, 300));
    ck_assert(!memcmp(s.boxes, original.boxes, 3 * sizeof *s.boxes));
    augment_sample_free(&s);
    augment_sample_free(&original);
}
END_TEST

static float ramp(int x, int y, int c)
{
    return (float)(x * 3 + y * 100 + c);
}

static float flat(int x, int y, int c)
{
    (void)x, (void)y;
    return 50.f + c;
}

/* Resize as cv2.resize(INTER_LINEAR): output pixel d samples the source at
 * (d + 0.5) * in / out - 0.5, blending its two neighbours; a linear image stays linear away
 * from the edges, a flat one flat, a mask of ones ones; boxes scale and become relative, and
 * those no wider or taller than 4/550 pixel go with their masks. */
START_TEST(resize_samples_at_pixel_centres)
{
    augment_sample s;
    sample_with_pixels(&s, 13, 9, 3, 1, ramp);
    put_object(&s, 0, 0, 0, 13, 9, 3);
    put_object(&s, 1, 2, 2, 3, 3, 5);
    s.boxes[1][2] = 2.001;   /* 0.0025 pixel wide at 32: discarded */
    put_object(&s, 2, 4, 4, 8, 8, -1);
    ck_assert_int_eq(augment_resize(&s, 32), 0);
    ck_assert(s.width == 32 && s.height == 32 && s.count == 2 && s.num_crowds == 1);
    ck_assert(s.labels[0] == 3 && s.labels[1] == -1);
    for (int y = 2; y < 30; y++)
        for (int x = 2; x < 30; x++) {
            double sx = (x + 0.5) * 13 / 32 - 0.5, sy = (y + 0.5) * 9 / 32 - 0.5;
            for (int c = 0; c < 3; c++)
                ck_assert_msg(fabs(pixel_at(&s, x, y)[c] - (sx * 3 + sy * 100 + c)) < 0.02,
                              "(%d, %d): %g", x, y, pixel_at(&s, x, y)[c]);
            ck_assert_int_eq(mask_at(&s, 0, x, y), 1);
        }
    const double want[4] = {4.0 / 13, 4.0 / 9, 8.0 / 13, 8.0 / 9};
    for (int c = 0; c < 4; c++)
        ck_assert_double_eq_tol(s.boxes[1][c], want[c], 1e-12);
    /* The crowd's mask: set near its middle, clear far outside it. */
    ck_assert(mask_at(&s, 1, 15, 21) == 1 && mask_at(&s, 1, 2, 2) == 0 &&
              mask_at(&s, 1, 28, 28) == 0);
    augment_sample_free(&s);

    sample_with_pixels(&s, 7, 5, 0, 0, flat);
    ck_assert_int_eq(augment_resize(&s, 16), 0);
    for (int i = 0; i < 16 * 16 * 3; i++)
        ck_assert(fabsf(s.image[i] - (50.f + i % 3)) < 1e-4f);
    augment_sample_free(&s);
}
END_TEST

/* Exactly half on both axes OpenCV averages each 2 x 2 block (its area path; the bilinear
 * taps at 2d + 0.5 would give the same means up to rounding). */
START_TEST(resize_by_half_averages_blocks)
{
    augment_sample s;
    sample_with_pixels(&s, 8, 8, 1, 0, distinct_pixels);
    put_object(&s, 0, 0, 0, 3, 4, 0);
    ck_assert_int_eq(augment_resize(&s, 4), 0);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) {
            for (int c = 0; c < 3; c++) {
                float sum = distinct_pixels(2 * x, 2 * y, c) + distinct_pixels(2 * x + 1, 2 * y, c) +
                            distinct_pixels(2 * x, 2 * y + 1, c) +
                            distinct_pixels(2 * x + 1, 2 * y + 1, c);
                ck_assert_float_eq(pixel_at(&s, x, y)[c], sum * 0.25f);
            }
            /* the column x = 1 block holds two ones of four: (2 + 2) >> 2 = 1 */
            ck_assert_int_eq(mask_at(&s, 0, x, y), x < 2 && y < 2);
        }
    augment_sample_free(&s);
}
END_TEST

/* The whole chain: the seed names the sample; the result is size x size with binary masks and
 * relative boxes inside the image, every label one of the input's. */
START_TEST(random_chain_follows_the_seed)
{
    int differs = 0;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        augment_sample a, b;
        crop_sample(&a);
        crop_sample(&b);
        uint64_t rng_a = seed, rng_b = seed;
        ck_assert_int_eq(augment_sample_random(&a, 24, &rng_a), 0);
        ck_assert_int_eq(augment_sample_random(&b, 24, &rng_b), 0);
        ck_assert(rng_a == rng_b && a.count == b.count);
        ck_assert(!memcmp(a.image, b.image, 24 * 24 * 3 * sizeof *a.image));
        ck_assert(!memcmp(a.masks, b.masks, (size_t)24 * 24 * a.count));
        ck_assert(a.width == 24 && a.height == 24 && a.count >= 1 && a.count <= 3);
        for (int k = 0; k < a.count; k++) {
            ck_assert(a.labels[k] == 1 || a.labels[k] == 2 || a.labels[k] == -1);
            ck_assert((a.labels[k] < 0) == (k >= a.count - a.num_crowds));
            ck_assert(a.boxes[k][0] >= 0 && a.boxes[k][2] <= 1 + 1e-9 &&
                      a.boxes[k][0] < a.boxes[k][2] && a.boxes[k][1] < a.boxes[k][3]);
        }
        for (int i = 0; i < 24 * 24 * a.count; i++)
            ck_assert(a.masks[i] <= 1);
        augment_sample original;
        crop_sample(&original);
        augment_resize(&original, 24);
        differs += a.count != original.count ||
                   memcmp(a.image, original.image, 24 * 24 * 3 * sizeof *a.image) != 0;
        augment_sample_free(&a);
        augment_sample_free(&b);
        augment_sample_free(&original);
    }
    ck_assert_int_ge(differs, 10);
}
END_TEST

Suite *augment_suite(void)
{
    Suite *s = suite_create("augment");
    TCase *tc = tcase_create("steps");
    tcase_add_test(tc, hsv_follows_opencv_definition);
    tcase_add_test(tc, photometric_steps_follow_their_definitions);
    tcase_add_test(tc, expand_places_the_sample_on_a_mean_canvas);
    tcase_add_test(tc, crop_keeps_objects_centred_inside);
    tcase_add_test(tc, mirror_reflects_and_twice_is_identity);
    tcase_add_test(tc, resize_samples_at_pixel_centres);
    tcase_add_test(tc, resize_by_half_averages_blocks);
    tcase_add_test(tc, random_chain_follows_the_seed);
    suite_add_tcase(s, tc);
    return s;
}
