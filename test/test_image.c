/* Image suite: PNG/JPEG decoding against OpenCV's imread output (fixtures from
 * test/fixtures/make_image_fixtures.py), hostile files, atomic PNG saving, and overlays. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "image/draw.h"
#include "image/image_io.h"
#include "yl_test.h"

#define IMAGES YL_TEST_DATA "/images/"

/* ---------------------------------------------------------------------------------------
 * Helpers */

/* Parse a binary PPM (P6, maxval 255) as written by the fixture script. */
static uint8_t *read_ppm(const char *path, int *width, int *height)
{
    size_t size;
    uint8_t *bytes = yl_test_read_file(path, &size);
    ck_assert_msg(bytes, "cannot read %s", path);
    int header = 0;
    ck_assert_msg(sscanf((const char *)bytes, "P6 %d %d 255%n", width, height, &header) == 2 &&
                      header > 0, "%s: not a P6 file", path);
    header++; /* the single whitespace after maxval */
    ck_assert_msg(size == (size_t)header + (size_t)*width * *height * 3, "%s: size %zu", path,
                  size);
    memmove(bytes, bytes + header, size - (size_t)header);
    return bytes;
}

/* Compare decoded pixels with expected RGB; report the first difference and the largest. */
static void assert_pixels(const char *what, const yolact_image *got, const uint8_t *expected,
                          int width, int height)
{
    ck_assert_msg(got->width == width && got->height == height,
                  "%s: decoded %dx%d, expected %dx%d", what, got->width, got->height, width,
                  height);
    ck_assert_int_eq(got->format, YOLACT_PIXEL_RGB8);
    ck_assert_uint_eq(got->stride, (size_t)width * 3);
    long differing = 0, first = -1;
    int max_diff = 0;
    for (long i = 0; i < (long)width * height * 3; i++) {
        int diff = abs((int)got->data[i] - (int)expected[i]);
        if (diff) {
            differing++;
            if (first < 0)
                first = i;
            if (diff > max_diff)
                max_diff = diff;
        }
    }
    ck_assert_msg(differing == 0,
                  "%s: %ld values differ (max %d); first at x=%ld y=%ld channel %ld: got %d "
                  "expected %d", what, differing, max_diff, first / 3 % width,
                  first / 3 / width, first % 3, got->data[first], expected[first]);
}

/* ---------------------------------------------------------------------------------------
 * Decoding equals cv2.imread(path, IMREAD_COLOR) exactly (same libpng and libjpeg-turbo
 * ISLOW decoder as Debian's OpenCV 4.6, so JPEGs match bit for bit too). */

static const char *const fixtures[] = {
    "png_rgb8.png", "png_rgb16.png", "png_rgba8.png", "png_rgba16.png", "png_gray8.png",
    "png_gray16.png", "png_gray1.png", "png_gray2.png", "png_gray4.png",
    "png_gray_alpha8.png", "png_gray_alpha16.png", "png_palette4.png",
    "png_palette8_trns.png", "png_rgb8_trns.png", "png_gray8_trns.png", "png_rgb8_adam7.png",
    "png_palette2_adam7.png", "png_exif6.png",
#ifdef YL_HAVE_JPEG
    "jpeg_420.jpg", "jpeg_422.jpg", "jpeg_444.jpg", "jpeg_progressive.jpg", "jpeg_gray.jpg",
    "jpeg_cmyk.jpg", "jpeg_exif1.jpg", "jpeg_exif2.jpg", "jpeg_exif3.jpg", "jpeg_exif4.jpg",
    "jpeg_exif5.jpg", "jpeg_exif6.jpg", "jpeg_exif7.jpg", "jpeg_exif8.jpg",
    "jpeg_xmp_then_exif6.jpg", "jpeg_exif8_cut.jpg",
#endif
};
enum { NUM_FIXTURES = sizeof fixtures / sizeof fixtures[0] };

START_TEST(test_decode_matches_opencv)
{
    char path[256], ppm[256];
    snprintf(path, sizeof path, IMAGES "%s", fixtures[_i]);
    snprintf(ppm, sizeof ppm, "%.*s.ppm", (int)(strrchr(path, '.') - path), path);
    int width, height;
    uint8_t *expected = read_ppm(ppm, &width, &height);
    yolact_image image;
    ck_assert_status(yolact_image_load(path, &image), YOLACT_OK);
    assert_pixels(fixtures[_i], &image, expected, width, height);
    yolact_image_free_pixels(&image);
    ck_assert_ptr_null(image.data);
    free(expected);
}
END_TEST

/* The EXIF orientations really move pixels: 2..8 are the 7 distinct flips/rotations of 1. */
START_TEST(test_exif_orientations_distinct)
{
#ifdef YL_HAVE_JPEG
    yolact_image images[8];
    for (int o = 0; o < 8; o++) {
        char path[128];
        snprintf(path, sizeof path, IMAGES "jpeg_exif%d.jpg", o + 1);
        ck_assert_status(yolact_image_load(path, &images[o]), YOLACT_OK);
        ck_assert_int_eq(images[o].width, o < 4 ? 37 : 23);
    }
    /* Pixel (x, y) of the stored image lands where each orientation says. */
    const yolact_image *src = &images[0];
    const int w = src->width, h = src->height, x = 3, y = 5;
    const int at[8][2] = {{x, y}, {w - 1 - x, y}, {w - 1 - x, h - 1 - y}, {x, h - 1 - y},
                          {y, x}, {h - 1 - y, x}, {h - 1 - y, w - 1 - x}, {y, w - 1 - x}};
    for (int o = 0; o < 8; o++) {
        const uint8_t *a = src->data + (size_t)y * src->stride + 3 * x;
        const uint8_t *b = images[o].data + (size_t)at[o][1] * images[o].stride + 3 * at[o][0];
        ck_assert_msg(!memcmp(a, b, 3), "orientation %d: (%d,%d) moved wrongly", o + 1, x, y);
    }
    for (int o = 0; o < 8; o++)
        yolact_image_free_pixels(&images[o]);
#endif
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Hostile input */

static yolact_status decode(const uint8_t *bytes, size_t size, yolact_image *image)
{
    yolact_status s = yl_image_decode_memory(bytes, size, "test", image);
    if (s != YOLACT_OK)
        ck_assert_msg(image->data == NULL, "pixels left behind after status %d", s);
    return s;
}

START_TEST(test_hostile_statuses)
{
    yolact_image image;
    ck_assert_status(yolact_image_load(IMAGES "no_such_file.png", &image), YOLACT_ERR_IO);
    ck_assert_ptr_null(image.data);
    ck_assert(strstr(yolact_last_error(), "no_such_file.png"));
    ck_assert_status(yolact_image_load(IMAGES, &image), YOLACT_ERR_IO);
    ck_assert_status(yolact_image_load(NULL, &image), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yolact_image_load(IMAGES "png_rgb8.png", NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);

    ck_assert_status(decode((const uint8_t *)"", 0, &image), YOLACT_ERR_FORMAT);
    const char *garbage = "this is not an image at all";
    ck_assert_status(decode((const uint8_t *)garbage, strlen(garbage), &image),
                     YOLACT_ERR_FORMAT);
    ck_assert_status(decode((const uint8_t *)"GIF89a\x01\x00\x01\x00\x00\x00", 12, &image),
                     YOLACT_ERR_UNSUPPORTED);
    ck_assert(strstr(yolact_last_error(), "GIF"));
    ck_assert_status(decode((const uint8_t *)"RIFF\x10\x00\x00\x00WEBPVP8 ", 16, &image),
                     YOLACT_ERR_UNSUPPORTED);

    /* Declared sizes beyond the limits: refused from the header alone. */
    ck_assert_status(yolact_image_load(IMAGES "bad_png_side.png", &image), YOLACT_ERR_LIMIT);
    ck_assert(strstr(yolact_last_error(), "70000x16"));
    ck_assert_status(yolact_image_load(IMAGES "bad_png_pixels.png", &image), YOLACT_ERR_LIMIT);
#ifdef YL_HAVE_JPEG
    ck_assert_status(yolact_image_load(IMAGES "bad_jpeg_pixels.jpg", &image), YOLACT_ERR_LIMIT);
    ck_assert(strstr(yolact_last_error(), "65000x65000"));
#else
    ck_assert_status(yolact_image_load(IMAGES "jpeg_420.jpg", &image), YOLACT_ERR_UNSUPPORTED);
#endif
}
END_TEST

/* Every proper prefix of a valid file is refused as malformed, never decoded or crashed on. */
static const char *const truncated_inputs[] = {
    "png_rgb8.png", "png_rgb8_adam7.png", "png_palette4.png",
#ifdef YL_HAVE_JPEG
    "jpeg_420.jpg", "jpeg_progressive.jpg", "jpeg_cmyk.jpg", "jpeg_exif6.jpg",
#endif
};

START_TEST(test_truncated)
{
    char path[256];
    snprintf(path, sizeof path, IMAGES "%s", truncated_inputs[_i]);
    size_t size;
    uint8_t *bytes = yl_test_read_file(path, &size);
    ck_assert_msg(bytes, "cannot read %s", path);
    yolact_image image;
    for (size_t cut = 0; cut < size; cut++) {
        yolact_status s = decode(bytes, cut, &image);
        ck_assert_msg(s == YOLACT_ERR_FORMAT, "%s cut to %zu of %zu bytes: status %d (%s)",
                      path, cut, size, s, yolact_last_error());
    }
    ck_assert_status(decode(bytes, size, &image), YOLACT_OK);
    yolact_image_free_pixels(&image);
    free(bytes);
}
END_TEST

/* Random byte corruption: any outcome but a crash, a leak or pixels on failure. Corrupt PNG
 * data and a chunk failing its CRC are reported as such. */
START_TEST(test_corrupt)
{
    const char *inputs[] = {IMAGES "png_rgb8.png", IMAGES "png_palette8_trns.png",
#ifdef YL_HAVE_JPEG
                            IMAGES "jpeg_420.jpg", IMAGES "jpeg_progressive.jpg",
                            IMAGES "jpeg_exif5.jpg",
#endif
    };
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    for (size_t f = 0; f < sizeof inputs / sizeof inputs[0]; f++) {
        size_t size;
        uint8_t *original = yl_test_read_file(inputs[f], &size);
        ck_assert_msg(original, "cannot read %s", inputs[f]);
        uint8_t *bytes = malloc(size);
        ck_assert_ptr_nonnull(bytes);
        for (int trial = 0; trial < 300; trial++) {
            memcpy(bytes, original, size);
            int flips = 1 + trial % 4;
            for (int k = 0; k < flips; k++) {
                size_t at = 3 + (size_t)yl_test_rand(&rng, 0, (float)(size - 3));
                bytes[at < size ? at : size - 1] = (uint8_t)yl_test_rand(&rng, 0, 256);
            }
            yolact_image image;
            yolact_status s = decode(bytes, size, &image);
            ck_assert_msg(s == YOLACT_OK || s == YOLACT_ERR_FORMAT || s == YOLACT_ERR_LIMIT ||
                              s == YOLACT_ERR_UNSUPPORTED,
                          "%s trial %d: status %d (%s)", inputs[f], trial, s,
                          yolact_last_error());
            if (s == YOLACT_OK)
                ck_assert(image.width > 0 && image.height > 0 && image.data);
            yolact_image_free_pixels(&image);
        }
        free(bytes);
        free(original);
    }

    size_t size;
    uint8_t *png = yl_test_read_file(IMAGES "png_rgb8.png", &size);
    ck_assert_ptr_nonnull(png);
    yolact_image image;
    png[size - 100] ^= 0x40; /* inside the compressed IDAT data */
    ck_assert_status(decode(png, size, &image), YOLACT_ERR_FORMAT);
    ck_assert_msg(strstr(yolact_last_error(), "IDAT"), "message: %s", yolact_last_error());
    png[size - 100] ^= 0x40;
    png[20] ^= 0x01; /* IHDR height, CRC left as it was */
    ck_assert_status(decode(png, size, &image), YOLACT_ERR_FORMAT);
    ck_assert_msg(strstr(yolact_last_error(), "CRC"), "message: %s", yolact_last_error());
    free(png);
}
END_TEST

#ifdef YL_HAVE_JPEG
/* Well-formed JPEG features libjpeg-turbo's 8-bit decoder lacks: 12-bit samples, lossless. */
START_TEST(test_jpeg_unsupported)
{
    size_t size;
    uint8_t *jpeg = yl_test_read_file(IMAGES "jpeg_420.jpg", &size);
    ck_assert_ptr_nonnull(jpeg);
    size_t sof = 2;
    while (sof + 4 < size && !(jpeg[sof] == 0xFF && jpeg[sof + 1] == 0xC0))
        sof++;
    ck_assert_msg(sof + 4 < size, "no SOF0 in jpeg_420.jpg");
    yolact_image image;
    jpeg[sof + 4] = 12;
    ck_assert_status(decode(jpeg, size, &image), YOLACT_ERR_UNSUPPORTED);
    jpeg[sof + 4] = 8;
    jpeg[sof + 1] = 0xC3;
    ck_assert_status(decode(jpeg, size, &image), YOLACT_ERR_UNSUPPORTED);
    free(jpeg);
}
END_TEST
#endif

/* ---------------------------------------------------------------------------------------
 * Saving */

static char temp_dir[64];

static void make_temp_dir(void)
{
    snprintf(temp_dir, sizeof temp_dir, "/tmp/yl_image_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(temp_dir));
}

/* Remove the test directory, asserting that it holds only the expected files. */
static void remove_temp_dir(int expected_files)
{
    DIR *dir = opendir(temp_dir);
    ck_assert_ptr_nonnull(dir);
    int files = 0;
    char leftover[256] = "";
    for (struct dirent *e; (e = readdir(dir));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        files++;
        snprintf(leftover, sizeof leftover, "%s", e->d_name);
        char path[512];
        snprintf(path, sizeof path, "%s/%s", temp_dir, e->d_name);
        unlink(path);
    }
    closedir(dir);
    rmdir(temp_dir);
    ck_assert_msg(files == expected_files, "%d files left in %s (e.g. %s), expected %d", files,
                  temp_dir, leftover, expected_files);
}

/* A noisy w x h RGB image in a buffer with `pad` bytes after each row. */
static uint8_t *noise_image(int w, int h, size_t pad, uint64_t seed, yolact_image *image)
{
    const size_t stride = (size_t)w * 3 + pad;
    uint8_t *data = malloc(stride * h);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < stride * h; i++)
        data[i] = (uint8_t)yl_test_rand(&seed, 0, 256);
    *image = (yolact_image){data, w, h, stride, YOLACT_PIXEL_RGB8, YOLACT_MEMORY_HOST};
    return data;
}

START_TEST(test_save_round_trip)
{
    make_temp_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/out.png", temp_dir);
    yolact_image image, loaded;
    uint8_t *data = noise_image(41, 29, 7, 5, &image);

    /* An existing file is replaced. */
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("old contents", f);
    fclose(f);

    for (int format = 0; format < 2; format++) {
        image.format = format ? YOLACT_PIXEL_BGR8 : YOLACT_PIXEL_RGB8;
        ck_assert_status(yolact_image_save_png(path, &image), YOLACT_OK);
        ck_assert_status(yolact_image_load(path, &loaded), YOLACT_OK);
        ck_assert_int_eq(loaded.width, 41);
        ck_assert_int_eq(loaded.height, 29);
        for (int y = 0; y < 29; y++)
            for (int x = 0; x < 41; x++)
                for (int c = 0; c < 3; c++) {
                    int want = data[y * image.stride + x * 3 + (format ? 2 - c : c)];
                    int got = loaded.data[y * loaded.stride + x * 3 + c];
                    ck_assert_msg(got == want, "format %d (%d,%d) channel %d: %d, saved %d",
                                  format, x, y, c, got, want);
                }
        yolact_image_free_pixels(&loaded);
    }
    free(data);
    remove_temp_dir(1);
}
END_TEST

START_TEST(test_save_invalid)
{
    make_temp_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/out.png", temp_dir);
    yolact_image image;
    uint8_t *data = noise_image(8, 8, 0, 1, &image);
    yolact_image bad;
    ck_assert_status(yolact_image_save_png(NULL, &image), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yolact_image_save_png(path, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    bad = image, bad.data = NULL;
    ck_assert_status(yolact_image_save_png(path, &bad), YOLACT_ERR_INVALID_ARGUMENT);
    bad = image, bad.width = 0;
    ck_assert_status(yolact_image_save_png(path, &bad), YOLACT_ERR_INVALID_ARGUMENT);
    bad = image, bad.height = -3;
    ck_assert_status(yolact_image_save_png(path, &bad), YOLACT_ERR_INVALID_ARGUMENT);
    bad = image, bad.width = YOLACT_MAX_IMAGE_SIDE + 1;
    ck_assert_status(yolact_image_save_png(path, &bad), YOLACT_ERR_INVALID_ARGUMENT);
    bad = image, bad.stride = 23;
    ck_assert_status(yolact_image_save_png(path, &bad), YOLACT_ERR_INVALID_ARGUMENT);
    bad = image, bad.format = (yolact_pixel_format)7;
    ck_assert_status(yolact_image_save_png(path, &bad), YOLACT_ERR_INVALID_ARGUMENT);

    snprintf(path, sizeof path, "%s/missing/out.png", temp_dir);
    ck_assert_status(yolact_image_save_png(path, &image), YOLACT_ERR_IO);
    /* The file asked for, once; never the temporary file's name. */
    char want[192];
    snprintf(want, sizeof want, "%s: cannot create it: No such file or directory", path);
    ck_assert_str_eq(yolact_last_error(), want);
    free(data);
    remove_temp_dir(0);
}
END_TEST

/* A write that fails part way (file size limit, as on a full disk) leaves neither the
 * destination nor the temporary file. Run in a child: the limit is process-wide. */
START_TEST(test_save_write_failure)
{
    make_temp_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/out.png", temp_dir);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit limit = {4096, 4096};
        if (setrlimit(RLIMIT_FSIZE, &limit) != 0)
            _exit(2);
        yolact_image image;
        uint8_t *data = noise_image(200, 200, 0, 3, &image); /* ~120 KB incompressible */
        yolact_status s = yolact_image_save_png(path, &image);
        free(data);
        _exit(s == YOLACT_ERR_IO && strstr(yolact_last_error(), "File too large") ? 0 : 1);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child: status %d (1: save did not report the write error as IO)", status);
    remove_temp_dir(0);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Overlays */

enum { OW = 160, OH = 100, GRAY = 100 };
static const uint8_t colors_rgb[19][3] = {
    {244, 67, 54}, {233, 30, 99}, {156, 39, 176}, {103, 58, 183}, {63, 81, 181},
    {33, 150, 243}, {3, 169, 244}, {0, 188, 212}, {0, 150, 136}, {76, 175, 80},
    {139, 195, 74}, {205, 220, 57}, {255, 235, 59}, {255, 193, 7}, {255, 152, 0},
    {255, 87, 34}, {121, 85, 72}, {158, 158, 158}, {96, 125, 139},
};

typedef struct overlay_case {
    uint8_t canvas[OH][OW][3];
    uint8_t masks[8][OH][(OW + 7) / 8 + 3]; /* padded stride */
    yolact_detection dets[8];
    yolact_result result;
} overlay_case;

static void set_mask_bit(overlay_case *t, int j, int x, int y)
{
    t->masks[j][y][x >> 3] |= (uint8_t)(0x80 >> (x & 7));
}

static overlay_case *new_case(int count)
{
    overlay_case *t = calloc(1, sizeof *t);
    ck_assert_ptr_nonnull(t);
    memset(t->canvas, GRAY, sizeof t->canvas);
    for (int j = 0; j < count; j++)
        t->dets[j] = (yolact_detection){.class_name = "dog", .score = 0.9f - 0.1f * j,
                                        .mask_score = 0.9f - 0.1f * j,
                                        .mask = &t->masks[j][0][0],
                                        .mask_stride = sizeof t->masks[j][0]};
    t->result = (yolact_result){OW, OH, count, t->dets};
    return t;
}

static const uint8_t *px(overlay_case *t, int x, int y) { return t->canvas[y][x]; }

static void assert_color(overlay_case *t, int x, int y, const uint8_t want[3], const char *what)
{
    const uint8_t *p = px(t, x, y);
    ck_assert_msg(!memcmp(p, want, 3), "%s at (%d,%d): %d,%d,%d, expected %d,%d,%d", what, x, y,
                  p[0], p[1], p[2], want[0], want[1], want[2]);
}

/* Blending against the exact real-number formula (the float32 evaluation may round one
 * step lower). */
static void assert_blend(overlay_case *t, int x, int y, const double want[3], const char *what)
{
    for (int c = 0; c < 3; c++) {
        int got = px(t, x, y)[c];
        ck_assert_msg(fabs(got - want[c]) <= 1.0, "%s at (%d,%d) channel %d: %d, expected %.2f",
                      what, x, y, c, got, want[c]);
    }
}

START_TEST(test_overlay)
{
    overlay_case *t = new_case(2);
    /* det 0: box (20,40)-(60,80), mask rectangle x 22..45, y 50..70.
     * det 1: box (40,45)-(150,99.5), mask rectangle x 40..140, y 60..90 (overlaps det 0). */
    t->dets[0].x1 = 20, t->dets[0].y1 = 40, t->dets[0].x2 = 60.7f, t->dets[0].y2 = 80;
    t->dets[1].x1 = 40, t->dets[1].y1 = 45, t->dets[1].x2 = 150, t->dets[1].y2 = 99.5f;
    t->dets[1].class_name = "cat";
    for (int y = 50; y <= 70; y++)
        for (int x = 22; x <= 45; x++)
            set_mask_bit(t, 0, x, y);
    for (int y = 60; y <= 90; y++)
        for (int x = 40; x <= 140; x++)
            set_mask_bit(t, 1, x, y);
    yl_draw_overlay(&t->canvas[0][0][0], OW * 3, &t->result, 0);

    const uint8_t *c0 = colors_rgb[0], *c1 = colors_rgb[5];
    double only0[3], only1[3], both[3];
    for (int c = 0; c < 3; c++) {
        only0[c] = GRAY * 0.55 + c0[c] * 0.45;
        only1[c] = GRAY * 0.55 + c1[c] * 0.45;
        both[c] = only1[c] * 0.55 + c0[c] * 0.45; /* detection 0 on top */
    }
    assert_blend(t, 30, 55, only0, "det 0 mask");
    assert_blend(t, 100, 75, only1, "det 1 mask");
    assert_blend(t, 43, 65, both, "both masks");

    /* Boxes: det 0's right edge at trunc(60.7) = 60, det 1's bottom edge at 99. */
    for (int y = 41; y < 80; y++)
        assert_color(t, 60, y, c0, "det 0 box");
    for (int x = 61; x <= 150; x++)
        assert_color(t, x, 99, c1, "det 1 box");

    /* Labels: a box-coloured rectangle from y1 - 18 to y1 holding white text. */
    int white = 0;
    static const uint8_t white_rgb[3] = {255, 255, 255};
    const int label_w = (int)strlen("dog: 0.90") * 12;
    for (int y = 22; y <= 40; y++)
        for (int x = 20; x <= 20 + label_w; x++) {
            const uint8_t *p = px(t, x, y);
            if (!memcmp(p, white_rgb, 3))
                white++;
            else
                assert_color(t, x, y, c0, "det 0 label background");
        }
    ck_assert_msg(white > 150, "only %d text pixels in det 0's label", white);
    /* Det 1's label would cover det 0's above its box: it goes just inside its top edge. */
    white = 0;
    for (int y = 46; y <= 64; y++)
        for (int x = 40; x <= 40 + label_w; x++)
            white += !memcmp(px(t, x, y), white_rgb, 3);
    ck_assert_msg(white > 150, "only %d text pixels in det 1's label", white);

    /* Everything else is untouched: outside the masks, boxes and label rectangles. */
    const int boxes[2][4] = {{20, 40, 60, 80}, {40, 45, 150, 99}};
    for (int y = 0; y < OH; y++)
        for (int x = 0; x < OW; x++) {
            int touched = 0;
            for (int j = 0; j < 2; j++) {
                const int *b = boxes[j];
                int w = (int)strlen(j ? "cat: 0.80" : "dog: 0.90") * 12;
                touched |= yolact_mask_at(&t->dets[j], x, y);
                touched |= (x == b[0] || x == b[2]) && y >= b[1] && y <= b[3];
                touched |= (y == b[1] || y == b[3]) && x >= b[0] && x <= b[2];
                const int label_top = j ? b[1] + 1 : b[1] - 18;
                touched |= x >= b[0] && x <= b[0] + w && y >= label_top && y <= label_top + 18;
            }
            if (!touched) {
                const uint8_t *p = px(t, x, y);
                ck_assert_msg(p[0] == GRAY && p[1] == GRAY && p[2] == GRAY,
                              "untouched pixel (%d,%d) changed to %d,%d,%d", x, y, p[0], p[1],
                              p[2]);
            }
        }
    free(t);
}
END_TEST

/* max_shown limits the detections drawn; detection j takes COLORS[(5 j) % 19]; the public
 * yolact_image_draw_detections draws the same. */
START_TEST(test_overlay_selection_and_colors)
{
    overlay_case *t = new_case(5);
    for (int j = 0; j < 5; j++) {
        t->dets[j].x1 = 5.0f + 30 * j, t->dets[j].x2 = 25.0f + 30 * j;
        t->dets[j].y1 = 30, t->dets[j].y2 = 90;
        set_mask_bit(t, j, 15 + 30 * j, 60);
    }
    yl_draw_overlay(&t->canvas[0][0][0], OW * 3, &t->result, 3);
    for (int j = 0; j < 5; j++) {
        const uint8_t *left = px(t, 5 + 30 * j, 70), *mask = px(t, 15 + 30 * j, 60);
        if (j < 3) {
            assert_color(t, 5 + 30 * j, 70, colors_rgb[(5 * j) % 19], "box edge");
            ck_assert_msg(mask[0] != GRAY || mask[1] != GRAY, "mask %d not drawn", j);
        } else {
            ck_assert_msg(left[0] == GRAY && mask[0] == GRAY, "detection %d drawn", j);
        }
    }
    memset(t->canvas, GRAY, sizeof t->canvas);
    yolact_image_draw_detections(&t->canvas[0][0][0], OW * 3, &t->result, 0);
    assert_color(t, 5 + 30 * 4, 70, colors_rgb[20 % 19], "box edge of detection 4");

    /* Boxes far outside the canvas, NaN and a NULL mask draw what is inside, no more. */
    t->dets[0].x1 = NAN, t->dets[0].y2 = 1e30f, t->dets[0].mask = NULL;
    t->dets[1].x1 = -1e9f, t->dets[1].x2 = 3e9f;
    yl_draw_overlay(&t->canvas[0][0][0], OW * 3, &t->result, 2);
    free(t);
}
END_TEST

/* The colour of the label background at (x, y): the palette index of the detection whose
 * label covers it, -1 for none (gray, or white text). */
static int label_at(overlay_case *t, int x, int y)
{
    for (int j = 0; j < 19; j++)
        if (!memcmp(px(t, x, y), colors_rgb[j], 3))
            return j;
    return -1;
}

/* Labels never overlap: above the box (eval.py), else inside its top edge, else on its bottom
 * edge, wholly inside the image; a label with no free place is left out, the lowest scores
 * first. */
START_TEST(test_overlay_labels_do_not_overlap)
{
    overlay_case *t = new_case(5);
    /* Four detections on one box (30,40)-(100,60), best first; no masks, so only boxes and
     * labels are drawn. Detection j is coloured 5j % 19: 0, 5, 10, 15. */
    for (int j = 0; j < 4; j++)
        t->dets[j].x1 = 30, t->dets[j].y1 = 40, t->dets[j].x2 = 100, t->dets[j].y2 = 60;
    /* Detection 4: a box at the top-right corner, its label cannot go above nor stay at x1. */
    t->dets[4].x1 = 120, t->dets[4].y1 = 2, t->dets[4].x2 = 159, t->dets[4].y2 = 30;
    yl_draw_overlay(&t->canvas[0][0][0], OW * 3, &t->result, 0);
    /* Column 137 (inside every label of the shared box, right of its text): rows 22..40 are
     * detection 0's label, 41..59 detection 1's, 60..78 detection 2's; detection 3's colour
     * is nowhere but on its box lines, which the better boxes on top of them hide. */
    const int want[3] = {0, 5, 10};
    for (int k = 0; k < 3; k++)
        for (int y = 22 + 19 * k; y <= 40 + 19 * k; y++)
            ck_assert_msg(label_at(t, 137, y) == want[k], "(137,%d): label colour %d, want %d",
                          y, label_at(t, 137, y), want[k]);
    for (int y = 0; y < OH; y++)
        for (int x = 0; x < OW; x++)
            ck_assert_msg(label_at(t, x, y) != 15, "detection 3's label drawn at (%d,%d)", x, y);
    /* Detection 4 (colour 20 % 19 = 1): inside its box, moved left to end at the image's
     * last column: "dog: 0.50" is 108 pixels, so from x 51 to 159, rows 3..21. */
    for (int y = 3; y <= 21; y++) {
        ck_assert_int_eq(label_at(t, 158, y), 1); /* right of the text */
        ck_assert(label_at(t, 51, y) == 1 || px(t, 51, y)[1] == 255);
        ck_assert_int_eq(label_at(t, 50, y), -1);
    }
    free(t);
}
END_TEST

/* Every printable character has its own glyph (a typo in the font table shows up here). */
START_TEST(test_overlay_font)
{
    enum { CW = 10, CH = 18 };
    static uint8_t cells[95][CH][CW];
    static char names[95][2];
    for (int ch = 33; ch < 127; ch++) {
        overlay_case *t = new_case(1);
        names[ch - 32][0] = (char)ch;
        t->dets[0].class_name = names[ch - 32];
        t->dets[0].x1 = 10, t->dets[0].y1 = 40, t->dets[0].x2 = 100, t->dets[0].y2 = 60;
        yl_draw_overlay(&t->canvas[0][0][0], OW * 3, &t->result, 0);
        int lit = 0;
        for (int y = 0; y < CH; y++) /* glyph cell: x 10..19, y 40-3-14 .. 40-3+3 */
            for (int x = 0; x < CW; x++) {
                cells[ch - 32][y][x] = px(t, 10 + x, 23 + y)[1] == 255;
                lit += cells[ch - 32][y][x];
            }
        ck_assert_msg(lit >= 8, "glyph '%c' has %d pixels", ch, lit);
        for (int other = 33; other < ch; other++)
            ck_assert_msg(memcmp(cells[other - 32], cells[ch - 32], sizeof cells[0]),
                          "glyphs '%c' and '%c' are identical", other, ch);
        free(t);
    }
}
END_TEST

/* A caption: a black box of the stated height behind white glyphs, nothing drawn outside
 * it, and boxes partly or wholly off the image clipped. */
START_TEST(test_caption)
{
    enum { W = 64, H = 40, GRAY = 128 };
    static uint8_t img[H][W][3];
    memset(img, GRAY, sizeof img);
    const int th = yolact_image_text_height();
    yolact_image_draw_text(&img[0][0][0], W * 3, W, H, 3, 5, "A1"); /* 2 chars: 24 + 4 px */
    int white = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            const int inside = x >= 3 && x < 3 + 28 && y >= 5 && y < 5 + th;
            const uint8_t *p = img[y][x];
            if (!inside)
                ck_assert_msg(p[0] == GRAY, "pixel (%d, %d) outside the caption changed", x, y);
            else
                ck_assert_msg((p[0] == 0 || p[0] == 255) && p[0] == p[1] && p[1] == p[2],
                              "pixel (%d, %d) in the caption is %d", x, y, p[0]);
            white += inside && p[0] == 255;
        }
    ck_assert_msg(white >= 2 * 8 * 4, "only %d white pixels", white);
    yolact_image_draw_text(&img[0][0][0], W * 3, W, H, -50, H - 3, "clipped on two sides");
    yolact_image_draw_text(&img[0][0][0], W * 3, W, H, W + 5, -100, "wholly outside");
    yolact_image_draw_text(NULL, W * 3, W, H, 0, 0, "no image");
}
END_TEST

Suite *image_suite(void)
{
    Suite *s = suite_create("image");
    TCase *tc = tcase_create("decode");
    tcase_add_loop_test(tc, test_decode_matches_opencv, 0, NUM_FIXTURES);
    tcase_add_test(tc, test_exif_orientations_distinct);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hostile_statuses);
    tcase_add_loop_test(tc, test_truncated, 0,
                        sizeof truncated_inputs / sizeof truncated_inputs[0]);
    tcase_add_test(tc, test_corrupt);
#ifdef YL_HAVE_JPEG
    tcase_add_test(tc, test_jpeg_unsupported);
#endif
    suite_add_tcase(s, tc);

    tc = tcase_create("save");
    tcase_add_test(tc, test_save_round_trip);
    tcase_add_test(tc, test_save_invalid);
    tcase_add_test(tc, test_save_write_failure);
    suite_add_tcase(s, tc);

    tc = tcase_create("overlay");
    tcase_add_test(tc, test_overlay);
    tcase_add_test(tc, test_overlay_selection_and_colors);
    tcase_add_test(tc, test_overlay_labels_do_not_overlap);
    tcase_add_test(tc, test_overlay_font);
    tcase_add_test(tc, test_caption);
    suite_add_tcase(s, tc);
    return s;
}
