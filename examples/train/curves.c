/* Drawing the training curves (curves.h). */
#include "curves.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yolact.h"

enum { MARGIN_LEFT = 96, MARGIN_RIGHT = 16, MARGIN_BOTTOM = 24, TICKS = 4, CHAR_W = 12 };

static const uint8_t background[3] = {24, 24, 28}, axis_color[3] = {150, 150, 150},
                     grid_color[3] = {52, 52, 58};

typedef struct canvas {
    uint8_t *rgb;
    int width, height;
} canvas;

static void dot(const canvas *c, int x, int y, const uint8_t color[3])
{
    if (x >= 0 && y >= 0 && x < c->width && y < c->height)
        memcpy(&c->rgb[((size_t)y * c->width + x) * 3], color, 3);
}

static void fill(const canvas *c, int x0, int y0, int x1, int y1, const uint8_t color[3])
{
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            dot(c, x, y, color);
}

/* A line two pixels wide: Bresenham's, each step a 2 x 2 square. */
static void line(const canvas *c, int x0, int y0, int x1, int y1, const uint8_t color[3])
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    for (int e = dx + dy;;) {
        fill(c, x0, y0, x0 + 2, y0 + 2, color);
        if (x0 == x1 && y0 == y1)
            return;
        int e2 = 2 * e;
        if (e2 >= dy)
            e += dy, x0 += sx;
        if (e2 <= dx)
            e += dx, y0 += sy;
    }
}

static void text(const canvas *c, int x, int y, const char *s)
{
    yolact_image_draw_text(c->rgb, (size_t)c->width * 3, c->width, c->height, x, y, s);
}

/* One axis's range over the chart's finite values: [lo, hi], widened where flat. */
typedef struct range {
    double lo, hi;
    int log;
} range;

static double axis_value(const range *r, double v)
{
    return r->log ? log10(v) : v;
}

static range value_range(const chart *ch, int of_y)
{
    range r = {INFINITY, -INFINITY, 0};
    int positive = 1;
    for (size_t i = 0; i < ch->num_curves; i++)
        for (size_t j = 0; j < ch->curves[i].n; j++) {
            double v = of_y ? ch->curves[i].y[j] : ch->curves[i].x[j];
            if (!isfinite(v) || !isfinite(ch->curves[i].y[j]))
                continue;
            positive &= v > 0;
            r.lo = fmin(r.lo, v), r.hi = fmax(r.hi, v);
        }
    if (r.lo > r.hi)
        r.lo = 0, r.hi = 1;   /* nothing to draw yet */
    r.log = of_y && ch->log_y && positive;
    r.lo = axis_value(&r, r.lo), r.hi = axis_value(&r, r.hi);
    if (r.hi - r.lo < 1e-12 * fmax(1, fabs(r.hi)))
        r.lo -= 0.5, r.hi += 0.5;
    return r;
}

/* Whether point j has a place on the chart. */
static int drawable(const curve *cv, size_t j, const range *ry)
{
    return isfinite(cv->x[j]) && isfinite(cv->y[j]) && !(ry->log && cv->y[j] <= 0);
}

static void draw_chart(const canvas *c, const chart *ch, int top, int chart_height)
{
    int line_h = yolact_image_text_height();
    int x0 = MARGIN_LEFT, x1 = c->width - MARGIN_RIGHT;
    int y0 = top + line_h * 3 / 2 + 4, y1 = top + chart_height - MARGIN_BOTTOM;
    range rx = value_range(ch, 0), ry = value_range(ch, 1);
    char label[64];
    /* grid, values and axes */
    for (int t = 0; t <= TICKS; t++) {
        int y = y1 - (y1 - y0) * t / TICKS, x = x0 + (x1 - x0) * t / TICKS;
        double vy = ry.lo + (ry.hi - ry.lo) * t / TICKS, vx = rx.lo + (rx.hi - rx.lo) * t / TICKS;
        fill(c, x0, y, x1, y + 1, grid_color);
        fill(c, x, y0, x + 1, y1, grid_color);
        snprintf(label, sizeof label, "%.3g", ry.log ? pow(10, vy) : vy);
        text(c, x0 - 8 - CHAR_W * (int)strlen(label), y - line_h / 2, label);
        snprintf(label, sizeof label, "%.4g", vx);
        int w = CHAR_W * (int)strlen(label);
        text(c, t == TICKS ? x - w : t ? x - w / 2 : x, y1 + 4, label);
    }
    fill(c, x0, y0, x0 + 1, y1 + 1, axis_color);
    fill(c, x0, y1, x1, y1 + 1, axis_color);
    /* title and legend */
    text(c, 4, top + 2, ch->title);
    int at = 4 + CHAR_W * ((int)strlen(ch->title) + 2);
    for (size_t i = 0; i < ch->num_curves; i++) {
        fill(c, at, top + 4, at + line_h - 6, top + line_h - 2, ch->curves[i].color);
        at += line_h;
        text(c, at, top + 2, ch->curves[i].name);
        at += CHAR_W * ((int)strlen(ch->curves[i].name) + 1);
    }
    /* the curves, broken where a value is missing; a point alone shows as a dot */
    for (size_t i = 0; i < ch->num_curves; i++) {
        const curve *cv = &ch->curves[i];
        int lx = 0, ly = 0;
        for (size_t j = 0; j < cv->n; j++) {
            if (!drawable(cv, j, &ry))
                continue;
            int x = x0 + (int)lround((cv->x[j] - rx.lo) / (rx.hi - rx.lo) * (x1 - x0 - 1));
            int y = y1 - 1 - (int)lround((axis_value(&ry, cv->y[j]) - ry.lo) /
                                         (ry.hi - ry.lo) * (y1 - y0 - 2));
            if (j > 0 && drawable(cv, j - 1, &ry))
                line(c, lx, ly, x, y, cv->color);
            else if (j + 1 == cv->n || !drawable(cv, j + 1, &ry))
                fill(c, x - 1, y - 1, x + 3, y + 3, cv->color);
            lx = x, ly = y;
        }
    }
}

int curves_write_png(const char *path, const chart *charts, int num_charts, int width,
                     int chart_height, char *err, size_t err_size)
{
    if (num_charts < 1 || width < 200 || chart_height < 100 || width > 8192 ||
        chart_height > 8192 || num_charts > 16) {
        snprintf(err, err_size, "%s: 1 to 16 charts of 200..8192 x 100..8192 pixels", path);
        return -1;
    }
    canvas c = {malloc((size_t)width * chart_height * num_charts * 3), width,
                chart_height * num_charts};
    if (!c.rgb) {
        snprintf(err, err_size, "%s: out of memory", path);
        return -1;
    }
    fill(&c, 0, 0, c.width, c.height, background);
    for (int i = 0; i < num_charts; i++)
        draw_chart(&c, &charts[i], i * chart_height, chart_height);
    yolact_image im = {c.rgb, c.width, c.height, (size_t)c.width * 3, YOLACT_PIXEL_RGB8, 0};
    yolact_status st = yolact_image_save_png(path, &im);
    free(c.rgb);
    if (st != YOLACT_OK) {
        snprintf(err, err_size, "%s: %s", path, yolact_last_error());
        return -1;
    }
    return 0;
}
