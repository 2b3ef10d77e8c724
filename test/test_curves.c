/* The training curves' PNG (examples/train/curves.h): one band of pixels a chart, each curve
 * in its colour where its values put it (a flat curve level, a rising one rising, a curve
 * broken where a value is missing), and refusals named. */
#include <math.h>
#include <string.h>

#include "curves.h"
#include "scratch_dir.h"
#include "yl_test.h"

/* In a fresh folder per test, so runners side by side never share it. */
#define PNG scratch_path("curves.png")

enum { WIDTH = 420, CHART_H = 160 };

static const uint8_t red[3] = {230, 40, 40}, green[3] = {40, 220, 60}, blue[3] = {60, 90, 255};

/* Columns of chart `index`, below its title line, holding a pixel of colour; for each column
 * the first such row, or -1. */
static int colour_columns(const yolact_image *im, int index, const uint8_t colour[3], int *row)
{
    int top = index * CHART_H + yolact_image_text_height() + 8, columns = 0;
    for (int x = 0; x < im->width; x++) {
        row[x] = -1;
        for (int y = top; y < (index + 1) * CHART_H && row[x] < 0; y++)
            if (!memcmp(&im->data[y * im->stride + x * 3], colour, 3))
                row[x] = y;
        columns += row[x] >= 0;
    }
    return columns;
}

START_TEST(curves_are_drawn_where_their_values_are)
{
    const double x[] = {0, 100, 200, 300}, flat_y[] = {2, 2, 2, 2}, rising_y[] = {0, 1, 2, 3},
                 broken_y[] = {1, 10, NAN, 1000};
    curve flat = {"flat", {0}, x, flat_y, 4}, rising = {"rising", {0}, x, rising_y, 4},
          broken = {"broken", {0}, x, broken_y, 4};
    memcpy(flat.color, red, 3), memcpy(rising.color, green, 3), memcpy(broken.color, blue, 3);
    chart charts[3] = {{"level", &flat, 1, 0}, {"up", &rising, 1, 0}, {"log", &broken, 1, 1}};
    char err[256] = "";
    ck_assert_msg(curves_write_png(PNG, charts, 3, WIDTH, CHART_H, err, sizeof err) == 0, "%s",
                  err);
    yolact_image im;
    ck_assert_int_eq(yolact_image_load(PNG, &im), YOLACT_OK);
    ck_assert(im.width == WIDTH && im.height == 3 * CHART_H);
    int row[WIDTH];
    /* level: one band two rows high across most of the width */
    ck_assert_int_gt(colour_columns(&im, 0, red, row), WIDTH * 2 / 3);
    int level = -1;
    for (int x = 0; x < WIDTH; x++)
        if (row[x] >= 0) {
            ck_assert(level < 0 || row[x] == level);
            level = row[x];
        }
    /* up: rising left to right (rows fall), never back */
    ck_assert_int_gt(colour_columns(&im, 1, green, row), WIDTH * 2 / 3);
    for (int x = 1, last = 1 << 30; x < WIDTH; x++)
        if (row[x] >= 0) {
            ck_assert_int_le(row[x], last);
            last = row[x];
        }
    /* log: 1 -> 10 drawn, the missing value leaves a gap, 1000 a lone dot at the right */
    colour_columns(&im, 2, blue, row);
    int runs = 0;
    for (int x = 0; x < WIDTH; x++)
        runs += row[x] >= 0 && (x == 0 || row[x - 1] < 0);
    ck_assert_int_eq(runs, 2);
    yolact_image_free_pixels(&im);
}
END_TEST

START_TEST(bad_requests_are_named)
{
    const double x[] = {0, 1}, y[] = {1, 2};
    curve c = {"c", {255, 255, 255}, x, y, 2};
    chart ch = {"t", &c, 1, 0};
    char err[256] = "";
    ck_assert_int_eq(curves_write_png("build/no-such-dir/c.png", &ch, 1, WIDTH, CHART_H, err,
                                      sizeof err), -1);
    ck_assert_msg(strstr(err, "build/no-such-dir/c.png"), "%s", err);
    ck_assert_int_eq(curves_write_png(PNG, &ch, 1, 50, CHART_H, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "pixels"), "%s", err);
    /* no points yet: an empty chart, not an error */
    c.n = 0;
    ck_assert_int_eq(curves_write_png(scratch_path("empty.png"), &ch, 1, WIDTH, CHART_H,
                                      err, sizeof err), 0);
}
END_TEST

static void open_scratch(void) { scratch_open("yl_curves"); }

Suite *curves_suite(void)
{
    Suite *s = suite_create("curves");
    TCase *tc = tcase_create("png");
    tcase_add_checked_fixture(tc, open_scratch, scratch_close);
    tcase_add_test(tc, curves_are_drawn_where_their_values_are);
    tcase_add_test(tc, bad_requests_are_named);
    suite_add_tcase(s, tc);
    return s;
}
