/* yolact-webcam: frame decoding on recorded camera buffers, the latest-frame slot, and the
 * demo end to end — headless overlays, the window under Xvfb, and the real V4L2 capture
 * loop against the fake camera (test/webcam/fake_v4l2.c), failures included. The demo's
 * overlays are compared with the library's own detection and drawing of the same frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frames.h"
#include "scratch_dir.h"
#include "slot.h"
#include "yl_test.h"

#define DEMO "build/yolact-webcam"
#define SHIM "build/fake_v4l2.so"
#define WEIGHTS YL_TEST_DATA "/parity/yolact_tiny_seed1_fp16_zip.pth"
#define FRAMES YL_TEST_DATA "/webcam/"
/* The random-weight checkpoint scores low: 0.1 keeps a few detections on these frames. */
#define MODEL_ARGS "-m " WEIGHTS " -c yolact_resnet50 -t 0.1 --threads 2"
#define THRESHOLD 0.1f
#define FAKE_ENV "LD_PRELOAD=" SHIM " FAKE_V4L2_DEVICE=/dev/video-fake FAKE_V4L2_FPS=30 "
#define MJPEG_FRAMES 3

/* ---- decoding ----------------------------------------------------------------------- */

/* BT.601 limited range in double precision: the reference for the integer conversion. */
static void yuv_reference(int y, int u, int v, double out[3])
{
    double c = 1.164383 * (y - 16);
    out[0] = c + 1.596027 * (v - 128);
    out[1] = c - 0.391762 * (u - 128) - 0.812968 * (v - 128);
    out[2] = c + 2.017232 * (u - 128);
    for (int k = 0; k < 3; k++)
        out[k] = out[k] < 0 ? 0 : out[k] > 255 ? 255 : out[k];
}

/* Every pixel of a recorded 160x120 YUYV buffer within 1 of the reference (the integer
 * path rounds 16-bit fixed point; the reference is exact). */
START_TEST(test_yuyv_matches_reference)
{
    enum { W = 160, H = 120 };
    size_t size;
    uint8_t *yuyv = yl_test_read_file(FRAMES "yuyv_0.raw", &size);
    ck_assert_ptr_nonnull(yuyv);
    ck_assert_uint_eq(size, W * H * 2);
    static uint8_t rgb[H][W][3];
    ck_assert_int_eq(wc_yuyv_to_rgb(yuyv, size, W * 2, W, H, &rgb[0][0][0], W * 3), 0);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            const uint8_t *s = yuyv + (size_t)y * W * 2 + (size_t)(x / 2) * 4;
            double r[3];
            yuv_reference(s[x % 2 ? 2 : 0], s[1], s[3], r);
            for (int k = 0; k < 3; k++) {
                double d = rgb[y][x][k] - r[k];
                d = d < 0 ? -d : d;
                ck_assert_msg(d <= 1.0, "pixel (%d, %d) channel %d: %d, reference %.2f", x, y,
                              k, rgb[y][x][k], r[k]);
            }
        }
    free(yuyv);
}
END_TEST

/* Black, white and saturated red of BT.601 limited range, and buffers that are refused. */
START_TEST(test_yuyv_edges)
{
    static const uint8_t pairs[3][4] = {{16, 128, 16, 128}, {235, 128, 235, 128},
                                        {81, 90, 81, 240}};
    static const uint8_t want[3][3] = {{0, 0, 0}, {255, 255, 255}, {255, 0, 0}};
    for (int i = 0; i < 3; i++) {
        uint8_t rgb[6];
        ck_assert_int_eq(wc_yuyv_to_rgb(pairs[i], 4, 4, 2, 1, rgb, 6), 0);
        for (int k = 0; k < 6; k++)
            ck_assert_msg(abs(rgb[k] - want[i][k % 3]) <= 1, "colour %d channel %d: %d", i,
                          k, rgb[k]);
    }
    uint8_t buf[64], rgb[64];
    ck_assert_int_eq(wc_yuyv_to_rgb(buf, 64, 8, 3, 2, rgb, 9), -1);  /* odd width */
    ck_assert_int_eq(wc_yuyv_to_rgb(buf, 11, 8, 4, 2, rgb, 12), -1); /* short buffer */
    ck_assert_int_eq(wc_yuyv_to_rgb(buf, 64, 6, 4, 2, rgb, 12), -1); /* stride < row */
}
END_TEST

/* Each recorded MJPEG buffer decodes to exactly the library's own JPEG decoding of it, the
 * one sent without Huffman tables (as many UVC cameras do) included. */
START_TEST(test_mjpeg_matches_library)
{
    char path[256], err[256];
    snprintf(path, sizeof path, FRAMES "mjpeg_%d.jpg", _i);
    size_t size;
    uint8_t *jpeg = yl_test_read_file(path, &size);
    ck_assert_ptr_nonnull(jpeg);
    yolact_image ref;
    ck_assert_status(yolact_image_load(path, &ref), YOLACT_OK);
    uint8_t *rgb = malloc((size_t)ref.width * ref.height * 3);
    ck_assert_msg(wc_mjpeg_to_rgb(jpeg, size, ref.width, ref.height, rgb,
                                  (size_t)ref.width * 3, err, sizeof err) == 0, "%s", err);
    for (int y = 0; y < ref.height; y++)
        ck_assert_msg(!memcmp(rgb + (size_t)y * ref.width * 3, ref.data + y * ref.stride,
                              (size_t)ref.width * 3), "%s: row %d differs", path, y);
    free(rgb);
    yolact_image_free_pixels(&ref);
    free(jpeg);
}
END_TEST

/* A frame of another size, a cut one and an empty one are refused with a reason. */
START_TEST(test_mjpeg_refused)
{
    size_t size;
    char err[256];
    uint8_t *jpeg = yl_test_read_file(FRAMES "mjpeg_0.jpg", &size);
    ck_assert_ptr_nonnull(jpeg);
    uint8_t *rgb = malloc(320 * 240 * 3);
    ck_assert_int_eq(wc_mjpeg_to_rgb(jpeg, size, 640, 480, rgb, 640 * 3, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "320x240"), "%s", err);
    err[0] = '\0';
    ck_assert_int_eq(wc_mjpeg_to_rgb(jpeg, 100, 320, 240, rgb, 320 * 3, err, sizeof err), -1);
    ck_assert_msg(err[0], "no reason for a cut frame");
    ck_assert_int_eq(wc_mjpeg_to_rgb(jpeg, 0, 320, 240, rgb, 320 * 3, err, sizeof err), -1);
    free(rgb);
    free(jpeg);
}
END_TEST

/* ---- the latest-frame slot ---------------------------------------------------------- */

/* Live: a slow consumer gets the newest frame and the older ones count as dropped; after
 * close the last frame can still be taken, then the slot reports closed. */
START_TEST(test_slot_keeps_newest)
{
    wc_slot slot;
    wc_frame *producer, *consumer;
    ck_assert_int_eq(wc_slot_init(&slot, 0, &producer, &consumer), 0);
    for (long seq = 1; seq <= 3; seq++) {
        producer->sequence = seq;
        ck_assert_int_eq(wc_slot_put(&slot, &producer), 0);
    }
    ck_assert_int_eq(wc_slot_take(&slot, &consumer, 0), 1);
    ck_assert_int_eq(consumer->sequence, 3);
    ck_assert_int_eq(slot.dropped, 2);
    ck_assert_int_eq(wc_slot_take(&slot, &consumer, 0), -1); /* empty: times out */
    producer->sequence = 4;
    ck_assert_int_eq(wc_slot_put(&slot, &producer), 0);
    wc_slot_close(&slot);
    ck_assert_int_eq(wc_slot_put(&slot, &producer), -1);
    ck_assert_int_eq(wc_slot_take(&slot, &consumer, -1), 1);
    ck_assert_int_eq(consumer->sequence, 4);
    ck_assert_int_eq(wc_slot_take(&slot, &consumer, -1), 0);
    wc_slot_destroy(&slot);
}
END_TEST

/* ---- the demo end to end ------------------------------------------------------------ */

/* What the demo must show for each MJPEG frame: the library's detections above the
 * threshold drawn on it. Made once, before the tests fork. */
static struct {
    yolact_image frame[MJPEG_FRAMES];
    int detections; /* over all frames, so a test cannot pass on empty overlays */
} expected;

static void expected_setup(void)
{
    yolact_model *model;
    yolact_session *session;
    yolact_model_options mo;
    yolact_model_options_init(&mo);
    mo.preset = "yolact_resnet50";
    ck_assert_status(yolact_model_load(WEIGHTS, &mo, &model), YOLACT_OK);
    ck_assert_status(yolact_session_create(model, NULL, &session), YOLACT_OK);
    for (int i = 0; i < MJPEG_FRAMES; i++) {
        char path[256];
        snprintf(path, sizeof path, FRAMES "mjpeg_%d.jpg", i);
        yolact_image *im = &expected.frame[i];
        ck_assert_status(yolact_image_load(path, im), YOLACT_OK);
        const yolact_result *r;
        ck_assert_status(yolact_session_detect(session, im, &r), YOLACT_OK);
        int n = 0;
        while (n < r->count && r->detections[n].score > THRESHOLD)
            n++;
        if (n > 0)
            yolact_image_draw_detections((uint8_t *)im->data, im->stride, r, n);
        expected.detections += n;
    }
    yolact_session_free(session);
    yolact_model_free(model);
}

static void expected_teardown(void)
{
    for (int i = 0; i < MJPEG_FRAMES; i++)
        yolact_image_free_pixels(&expected.frame[i]);
}

/* The overlay in path: a caption box at the top-left (the HUD) and, below the caption's
 * band, exactly the expected overlay of one of the frames. Returns which frame. */
static int assert_overlay(const char *path)
{
    ck_assert_msg(expected.detections > 0, "no detections on the test frames");
    yolact_image got;
    ck_assert_status(yolact_image_load(path, &got), YOLACT_OK);
    const int band = yolact_image_text_height();
    int white = 0;
    for (int x = 0; x < got.width; x++)
        white += got.data[(size_t)(band / 2) * got.stride + 3 * (size_t)x] == 255;
    ck_assert_msg(got.data[0] == 0 && white > 0, "%s: no HUD caption", path);
    int match = -1;
    for (int i = 0; i < MJPEG_FRAMES && match < 0; i++) {
        const yolact_image *e = &expected.frame[i];
        if (e->width != got.width || e->height != got.height)
            continue;
        int same = 1;
        for (int y = band; y < got.height && same; y++)
            same = !memcmp(got.data + y * got.stride, e->data + y * e->stride,
                           (size_t)got.width * 3);
        if (same)
            match = i;
    }
    ck_assert_msg(match >= 0, "%s (%dx%d) matches the overlay of no test frame", path,
                  got.width, got.height);
    yolact_image_free_pixels(&got);
    return match;
}

/* A fresh output directory in the test's scratch folder. */
static void make_out_dir(char *dir, size_t size, const char *name)
{
    snprintf(dir, size, "%s", scratch_path(name));
    char cmd[1024], *out;
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", dir, dir);
    ck_assert_int_eq(yl_test_run(cmd, &out), 0);
    free(out);
}

static int count_files(const char *dir)
{
    char cmd[512], *out;
    snprintf(cmd, sizeof cmd, "ls %s | wc -l", dir);
    ck_assert_int_eq(yl_test_run(cmd, &out), 0);
    int n = atoi(out);
    free(out);
    return n;
}

/* Headless on an image sequence: one overlay PNG per frame, each the library's overlay of
 * that frame with the HUD on top. */
START_TEST(test_headless_images)
{
    char dir[256], cmd[1024], path[512], *out;
    make_out_dir(dir, sizeof dir, "images");
    snprintf(cmd, sizeof cmd, DEMO " " MODEL_ARGS " --input '" FRAMES "mjpeg_*.jpg' "
             "--headless --out %s", dir);
    ck_assert_msg(yl_test_run(cmd, &out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "3 frames shown"), "%s", out);
    ck_assert_int_eq(count_files(dir), MJPEG_FRAMES);
    for (int i = 0; i < MJPEG_FRAMES; i++) {
        snprintf(path, sizeof path, "%s/frame_%06d.png", dir, i);
        ck_assert_int_eq(assert_overlay(path), i); /* in order, none dropped */
    }
    free(out);
}
END_TEST

/* Headless on a Y4M file: both frames come out at the file's size. */
START_TEST(test_headless_y4m)
{
    char dir[256], cmd[1024], path[512], *out;
    make_out_dir(dir, sizeof dir, "y4m");
    snprintf(cmd, sizeof cmd, DEMO " " MODEL_ARGS " --input " FRAMES "pan.y4m --headless "
             "--out %s", dir);
    ck_assert_msg(yl_test_run(cmd, &out) == 0, "%s", out);
    ck_assert_int_eq(count_files(dir), 2);
    for (int i = 0; i < 2; i++) {
        yolact_image im;
        snprintf(path, sizeof path, "%s/frame_%06d.png", dir, i);
        ck_assert_status(yolact_image_load(path, &im), YOLACT_OK);
        ck_assert_int_eq(im.width, 160);
        ck_assert_int_eq(im.height, 120);
        yolact_image_free_pixels(&im);
    }
    free(out);
}
END_TEST

/* Failures before any frame: a specific message and a non-zero exit. */
static void assert_fails(const char *cmd, const char *message)
{
    char *out;
    int rc = yl_test_run(cmd, &out);
    ck_assert_msg(rc != 0, "exit 0 for: %s\n%s", cmd, out);
    ck_assert_msg(strstr(out, message), "'%s' missing for: %s\n%s", message, cmd, out);
    free(out);
}

START_TEST(test_no_display)
{
    assert_fails("env -u DISPLAY -u WAYLAND_DISPLAY -u SDL_VIDEODRIVER " DEMO " " MODEL_ARGS
                 " --input " FRAMES "pan.y4m",
#ifdef WC_HAVE_SDL2
                 "no display"
#else
                 "built without SDL2"
#endif
    );
}
END_TEST

START_TEST(test_bad_inputs)
{
    assert_fails(DEMO " " MODEL_ARGS " -d /dev/video-none --headless --out build",
                 "no such camera");
    assert_fails(DEMO " " MODEL_ARGS " --input build/no-such-dir --headless --out build",
                 "no .png/.jpg images");
    assert_fails(DEMO " " MODEL_ARGS " --input " "build/no-such.y4m --headless --out build", "cannot open");
    assert_fails(DEMO " --headless --out build", "-m WEIGHTS is required");
}
END_TEST

/* A run that fails before its first frame takes back the output folder it made (a folder
 * that was there before stays). */
START_TEST(test_failed_run_leaves_no_folder)
{
    const char *dir = scratch_path("unmade");
    char bad_model[1024], no_images[1024];
    snprintf(bad_model, sizeof bad_model, DEMO " -m build/no-such.pth --input " FRAMES
             "pan.y4m --headless --out %s", dir);
    snprintf(no_images, sizeof no_images, DEMO " " MODEL_ARGS " --input build/no-such-dir "
             "--headless --out %s", dir);
    assert_fails(bad_model, "build/no-such.pth: cannot open");
    struct stat st;
    ck_assert_msg(stat(dir, &st) != 0, "%s was left behind", dir);
    assert_fails(no_images, "no .png/.jpg images");
    ck_assert_msg(stat(dir, &st) != 0, "%s was left behind", dir);
    ck_assert_int_eq(mkdir(dir, 0777), 0);
    assert_fails(bad_model, "build/no-such.pth: cannot open");
    ck_assert_msg(stat(dir, &st) == 0, "%s, there before, was removed", dir);
}
END_TEST

/* The window under Xvfb (SDL's X11 driver): the window's pixels, read back, are the
 * overlay plus the HUD. The screenshot, checked in the test's scratch folder, is kept as
 * build/webcam.png (doc/webcam.png). */
START_TEST(test_window_screenshot)
{
#ifndef WC_HAVE_SDL2
    printf("SKIP webcam window test: built without SDL2 (install libsdl2-dev)\n");
    return;
#endif
    char *out;
    if (yl_test_run("command -v xvfb-run && command -v Xvfb && command -v xauth", &out)) {
        printf("SKIP webcam window test: xvfb-run, Xvfb or xauth missing (install xvfb "
               "xauth)\n");
        free(out);
        return;
    }
    free(out);
    const char *png = scratch_path("webcam.png");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "SDL_VIDEODRIVER=x11 xvfb-run -a -s '-screen 0 640x480x24' " DEMO
             " " MODEL_ARGS " --input " FRAMES "mjpeg_1.jpg --screenshot %s", png);
    ck_assert_msg(yl_test_run(cmd, &out) == 0, "%s", out);
    free(out);
    ck_assert_int_eq(assert_overlay(png), 1);
    snprintf(cmd, sizeof cmd, "cp %s build/webcam.png", png);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- the V4L2 capture loop on the fake camera --------------------------------------- */

static long number_before(const char *text, const char *label)
{
    const char *at = strstr(text, label);
    ck_assert_msg(at, "'%s' missing from:\n%s", label, text);
    while (at > text && at[-1] == ' ')
        at--;
    while (at > text && at[-1] >= '0' && at[-1] <= '9')
        at--;
    return atol(at);
}

/* MJPEG at 30 frames a second into a network that takes most of a second: every overlay
 * is one of the camera's frames, and stale frames were dropped rather than queued. */
START_TEST(test_v4l2_mjpeg_stream)
{
    char dir[256], cmd[1024], path[512], *out, *log;
    make_out_dir(dir, sizeof dir, "v4l2");
    snprintf(cmd, sizeof cmd, FAKE_ENV "FAKE_V4L2_FRAMES='" FRAMES "mjpeg_*.jpg' "
             "FAKE_V4L2_LOG=%s/driver.log " DEMO " " MODEL_ARGS " -d /dev/video-fake "
             "--headless --out %s --frames 3", dir, dir);
    ck_assert_msg(yl_test_run(cmd, &out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "Fake Camera on /dev/video-fake, MJPG 320x240"), "%s", out);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/frame_%06d.png", dir, i);
        assert_overlay(path);
    }
    ck_assert_msg(number_before(out, "before inference") > 0, "nothing dropped:\n%s", out);
    snprintf(cmd, sizeof cmd, "cat %s/driver.log", dir);
    ck_assert_int_eq(yl_test_run(cmd, &log), 0);
    long produced, dequeued, dropped, behind;
    ck_assert_int_eq(sscanf(log, "produced %ld dequeued %ld dropped %ld behind %ld",
                            &produced, &dequeued, &dropped, &behind), 4);
    /* Every frame the capture thread used was the camera's newest when it took it. */
    ck_assert_msg(dequeued > 3 && behind == 0, "capture fell behind the camera: %s", log);
    free(log);
    free(out);
}
END_TEST

START_TEST(test_v4l2_yuyv_stream)
{
    char dir[256], cmd[1024], *out;
    make_out_dir(dir, sizeof dir, "yuyv");
    snprintf(cmd, sizeof cmd, FAKE_ENV "FAKE_V4L2_FRAMES='" FRAMES "yuyv_*.raw' "
             "FAKE_V4L2_FORMATS=YUYV FAKE_V4L2_SIZE=160x120 " DEMO " " MODEL_ARGS
             " -d /dev/video-fake --headless --out %s --frames 2", dir);
    ck_assert_msg(yl_test_run(cmd, &out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "YUYV 160x120"), "%s", out);
    ck_assert_int_eq(count_files(dir), 2);
    free(out);
}
END_TEST

START_TEST(test_v4l2_failures)
{
    assert_fails(FAKE_ENV "FAKE_V4L2_FRAMES='" FRAMES "mjpeg_*.jpg' FAKE_V4L2_FAIL=busy " DEMO
                 " " MODEL_ARGS " -d /dev/video-fake --headless --out build",
                 "the device is busy");
    assert_fails(FAKE_ENV "FAKE_V4L2_FRAMES='" FRAMES "mjpeg_*.jpg' FAKE_V4L2_FORMATS=H264,GREY "
                 DEMO " " MODEL_ARGS " -d /dev/video-fake --headless --out build",
                 "offers no supported pixel format");
    /* Unplugged while streaming: the frames so far are shown, then a clear error. */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, FAKE_ENV "FAKE_V4L2_FRAMES='" FRAMES "mjpeg_*.jpg' "
             "FAKE_V4L2_FAIL=disconnect:10 " DEMO " " MODEL_ARGS " -d /dev/video-fake "
             "--headless --out %s", scratch_path("gone"));
    assert_fails(cmd, "the camera was disconnected");
}
END_TEST

static void open_scratch(void) { scratch_open("yl_webcam"); }

Suite *webcam_suite(void)
{
    Suite *s = suite_create("webcam");
    TCase *tc = tcase_create("frames");
    tcase_add_test(tc, test_yuyv_matches_reference);
    tcase_add_test(tc, test_yuyv_edges);
    tcase_add_loop_test(tc, test_mjpeg_matches_library, 0, MJPEG_FRAMES);
    tcase_add_test(tc, test_mjpeg_refused);
    tcase_add_test(tc, test_slot_keeps_newest);
    suite_add_tcase(s, tc);

    tc = tcase_create("demo");
    tcase_add_unchecked_fixture(tc, expected_setup, expected_teardown);
    /* The demo's outputs go to a fresh folder per test, so runners side by side never share
     * one. */
    tcase_add_checked_fixture(tc, open_scratch, scratch_close);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_headless_images);
    tcase_add_test(tc, test_headless_y4m);
    tcase_add_test(tc, test_no_display);
    tcase_add_test(tc, test_bad_inputs);
    tcase_add_test(tc, test_failed_run_leaves_no_folder);
    tcase_add_test(tc, test_window_screenshot);
    tcase_add_test(tc, test_v4l2_mjpeg_stream);
    tcase_add_test(tc, test_v4l2_yuyv_stream);
    tcase_add_test(tc, test_v4l2_failures);
    suite_add_tcase(s, tc);
    return s;
}
