/* The synthetic shapes scene (shapes_scene.h): placement, the label map, then the pixels. */
#include "shapes_scene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/seeded_random.h"

const char *const shape_names[SHAPE_KINDS] = {"circle", "square",  "triangle",
                                              "star",   "hexagon", "cross"};

typedef struct rgb_color {
    double c[3];
} rgb_color;

static rgb_color random_color(uint64_t *rng)
{
    /* HSV with saturation and value high enough to read as a colour. */
    double h = seeded_uniform(rng, 0, 6), s = seeded_uniform(rng, 0.45, 1), v = seeded_uniform(rng, 90, 255);
    double f = h - floor(h), p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    static const int order[6][3] = {{0, 3, 1}, {2, 0, 1}, {1, 0, 3}, {1, 2, 0}, {3, 1, 0},
                                    {0, 1, 2}};
    const double vals[4] = {v, p, q, t};
    const int *o = order[(int)h % 6];
    return (rgb_color){{vals[o[0]], vals[o[1]], vals[o[2]]}};
}

static double color_distance(rgb_color a, rgb_color b)
{
    return fabs(a.c[0] - b.c[0]) + fabs(a.c[1] - b.c[1]) + fabs(a.c[2] - b.c[2]);
}

/* A placed shape: its outline (a polygon, or a circle when n == 0) in image coordinates. */
#define MAX_VERTICES 12
typedef struct outline {
    double cx, cy, r;
    int n;
    double x[MAX_VERTICES], y[MAX_VERTICES];
} outline;

static void make_outline(shape_kind kind, double cx, double cy, double r, double angle,
                         outline *o)
{
    double lx[MAX_VERTICES], ly[MAX_VERTICES];
    o->cx = cx;
    o->cy = cy;
    o->r = r;
    o->n = 0;
    switch (kind) {
    case SHAPE_CIRCLE:
        return;
    case SHAPE_SQUARE:
    case SHAPE_TRIANGLE:
    case SHAPE_HEXAGON: {
        o->n = kind == SHAPE_SQUARE ? 4 : kind == SHAPE_TRIANGLE ? 3 : 6;
        for (int k = 0; k < o->n; k++) {
            lx[k] = r * cos(2 * M_PI * k / o->n);
            ly[k] = r * sin(2 * M_PI * k / o->n);
        }
        break;
    }
    case SHAPE_STAR:
        o->n = 10;
        for (int k = 0; k < 10; k++) {
            double rk = k % 2 ? 0.42 * r : r;
            lx[k] = rk * cos(M_PI * k / 5);
            ly[k] = rk * sin(M_PI * k / 5);
        }
        break;
    default: {  /* a plus sign: arms a third of its span wide */
        static const double unit[12][2] = {{0.3, 1},   {0.3, 0.3},   {1, 0.3},   {1, -0.3},
                                           {0.3, -0.3}, {0.3, -1},   {-0.3, -1}, {-0.3, -0.3},
                                           {-1, -0.3}, {-1, 0.3},    {-0.3, 0.3}, {-0.3, 1}};
        o->n = 12;
        for (int k = 0; k < 12; k++) {
            lx[k] = r * 0.8 * unit[k][0];
            ly[k] = r * 0.8 * unit[k][1];
        }
    }
    }
    double c = cos(angle), s = sin(angle);
    for (int k = 0; k < o->n; k++) {
        o->x[k] = cx + c * lx[k] - s * ly[k];
        o->y[k] = cy + s * lx[k] + c * ly[k];
    }
}

/* Is the point inside (even-odd rule; pixel centres never lie on an edge by construction of
 * the random centres, and either answer would be exact for the label map anyway). */
static int inside(const outline *o, double px, double py)
{
    if (o->n == 0)
        return (px - o->cx) * (px - o->cx) + (py - o->cy) * (py - o->cy) <= o->r * o->r;
    int in = 0;
    for (int i = 0, j = o->n - 1; i < o->n; j = i++)
        if ((o->y[i] > py) != (o->y[j] > py) &&
            px < o->x[j] + (py - o->y[j]) * (o->x[i] - o->x[j]) / (o->y[i] - o->y[j]))
            in = !in;
    return in;
}

typedef struct box {
    int x0, y0, x1, y1;
} box;

static box outline_box(const outline *o, int w, int h)
{
    box b = {(int)floor(o->cx - o->r), (int)floor(o->cy - o->r), (int)ceil(o->cx + o->r) + 1,
             (int)ceil(o->cy + o->r) + 1};
    b.x0 = b.x0 < 0 ? 0 : b.x0;
    b.y0 = b.y0 < 0 ? 0 : b.y0;
    b.x1 = b.x1 > w ? w : b.x1;
    b.y1 = b.y1 > h ? h : b.y1;
    return b;
}

/* Try to add object id (1-based) with outline o: its pixels take the label map, undone (from
 * `saved`, the map's copy) when the new object or an earlier one would keep less than half
 * of itself visible, or the new one fewer than min_pixels. visible[]/full[] by id. */
static int place(shape_scene *s, const outline *o, int id, uint8_t *saved, int *visible,
                 int *full, int min_pixels)
{
    const int w = s->width;
    box b = outline_box(o, w, s->height);
    int taken[SHAPES_MAX_OBJECTS + 1] = {0}, area = 0;
    for (int y = b.y0; y < b.y1; y++)
        for (int x = b.x0; x < b.x1; x++)
            if (inside(o, x + 0.5, y + 0.5)) {
                uint8_t *l = &s->label[(size_t)y * w + x];
                taken[*l]++;
                *l = (uint8_t)id;
                area++;
            }
    int ok = area >= min_pixels;
    for (int i = 1; ok && i < id; i++)
        ok = 2 * (visible[i] - taken[i]) >= full[i];
    if (!ok) {
        for (int y = b.y0; y < b.y1; y++)
            memcpy(&s->label[(size_t)y * w + b.x0], &saved[(size_t)y * w + b.x0],
                   (size_t)(b.x1 - b.x0));
        return 0;
    }
    for (int i = 1; i < id; i++)
        visible[i] -= taken[i];
    visible[id] = full[id] = area;
    for (int y = b.y0; y < b.y1; y++)
        memcpy(&saved[(size_t)y * w + b.x0], &s->label[(size_t)y * w + b.x0],
               (size_t)(b.x1 - b.x0));
    return 1;
}

/* The background: two colours mixed by one of four patterns, each with its own scale. */
typedef struct background {
    rgb_color a, b;
    int pattern;                 /* 0 smooth noise, 1 stripes, 2 checks, 3 gradient */
    double freq, cos_t, sin_t;
    double grid[9][9];           /* the noise's lattice */
} background;

static background make_background(uint64_t *rng, int w, int h)
{
    background g;
    g.a = random_color(rng);
    g.b = random_color(rng);
    g.pattern = seeded_below(rng, 4);
    double t = seeded_uniform(rng, 0, M_PI);
    g.cos_t = cos(t);
    g.sin_t = sin(t);
    g.freq = seeded_uniform(rng, 4, 14) / (w > h ? w : h);
    for (int i = 0; i < 9; i++)
        for (int j = 0; j < 9; j++)
            g.grid[i][j] = seeded_uniform(rng, 0, 1);
    return g;
}

static double background_mix(const background *g, int x, int y, int w, int h)
{
    double u = x * g->cos_t + y * g->sin_t, v = -x * g->sin_t + y * g->cos_t;
    switch (g->pattern) {
    case 0: {
        double gx = 8.0 * x / w, gy = 8.0 * y / h;
        int i = (int)gx, j = (int)gy;
        double fx = gx - i, fy = gy - j;
        return (g->grid[j][i] * (1 - fx) + g->grid[j][i + 1] * fx) * (1 - fy) +
               (g->grid[j + 1][i] * (1 - fx) + g->grid[j + 1][i + 1] * fx) * fy;
    }
    case 1:
        return 0.5 + 0.5 * sin(2 * M_PI * g->freq * u);
    case 2:
        return ((int)floor(g->freq * u) + (int)floor(g->freq * v)) & 1 ? 0.8 : 0.2;
    default:
        return (u / (w + h) + 1) / 2;
    }
}

static uint8_t clamp_byte(double v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
}

typedef struct paint {
    rgb_color color;
    double cx, cy, span, cos_t, sin_t;  /* shading: brighter along one direction */
} paint;

static void render(shape_scene *s, const background *g, const paint *paints, uint64_t *rng)
{
    for (int y = 0; y < s->height; y++)
        for (int x = 0; x < s->width; x++) {
            size_t at = (size_t)y * s->width + x;
            double shade = 1, noise = seeded_uniform(rng, -9, 9);
            rgb_color c;
            if (s->label[at]) {
                const paint *p = &paints[s->label[at] - 1];
                double t = ((x - p->cx) * p->cos_t + (y - p->cy) * p->sin_t) / p->span;
                shade = 0.9 + 0.15 * (t < -1 ? -1 : t > 1 ? 1 : t);
                c = p->color;
            } else {
                double m = background_mix(g, x, y, s->width, s->height);
                for (int k = 0; k < 3; k++)
                    c.c[k] = g->a.c[k] * (1 - m) + g->b.c[k] * m;
            }
            for (int k = 0; k < 3; k++)
                s->rgb[at * 3 + k] = clamp_byte(c.c[k] * shade + noise);
        }
}

int shape_scene_make(const shape_scene_params *p, int index, shape_scene *s)
{
    memset(s, 0, sizeof *s);
    const int w = p->width, h = p->height;
    s->width = w;
    s->height = h;
    s->rgb = malloc((size_t)w * h * 3);
    s->label = calloc((size_t)w * h, 1);
    uint8_t *saved = calloc((size_t)w * h, 1);
    if (!s->rgb || !s->label || !saved) {
        free(saved);
        shape_scene_free(s);
        return -1;
    }
    uint64_t rng = p->seed * 0x100000001B3ull ^ ((uint64_t)p->split << 40) ^ (uint64_t)index;
    seeded_next(&rng);
    background g = make_background(&rng, w, h);
    const double side = w < h ? w : h;
    const int want = p->min_objects +
                     seeded_below(&rng, p->max_objects - p->min_objects + 1);
    const int min_pixels = (int)(side * side * 0.002) > 16 ? (int)(side * side * 0.002) : 16;
    int visible[SHAPES_MAX_OBJECTS + 1] = {0}, full[SHAPES_MAX_OBJECTS + 1] = {0};
    paint paints[SHAPES_MAX_OBJECTS];
    for (int tries = 0; s->count < want && tries < want * 20; tries++) {
        shape_kind kind = (shape_kind)seeded_below(&rng, SHAPE_KINDS);
        double r = seeded_uniform(&rng, 0.06, 0.2) * side;
        outline o;
        make_outline(kind, seeded_uniform(&rng, 0.3 * r, w - 0.3 * r),
                     seeded_uniform(&rng, 0.3 * r, h - 0.3 * r), r, seeded_uniform(&rng, 0, 2 * M_PI), &o);
        rgb_color color = random_color(&rng);
        for (int k = 0; k < 20 && (color_distance(color, g.a) < 120 ||
                                   color_distance(color, g.b) < 120); k++)
            color = random_color(&rng);
        double t = seeded_uniform(&rng, 0, 2 * M_PI);
        if (!place(s, &o, s->count + 1, saved, visible, full, min_pixels))
            continue;
        paints[s->count] = (paint){color, o.cx, o.cy, r, cos(t), sin(t)};
        s->objects[s->count++].kind = kind;
    }
    free(saved);
    for (int i = 0; i < s->count; i++) {
        shape_object *ob = &s->objects[i];
        ob->x0 = w;
        ob->y0 = h;
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int id = s->label[(size_t)y * w + x];
            if (!id)
                continue;
            shape_object *ob = &s->objects[id - 1];
            ob->visible_pixels++;
            ob->x0 = x < ob->x0 ? x : ob->x0;
            ob->y0 = y < ob->y0 ? y : ob->y0;
            ob->x1 = x + 1 > ob->x1 ? x + 1 : ob->x1;
            ob->y1 = y + 1 > ob->y1 ? y + 1 : ob->y1;
        }
    render(s, &g, paints, &rng);
    return 0;
}

void shape_scene_mask(const shape_scene *s, int i, uint8_t *bits, size_t stride)
{
    memset(bits, 0, stride * s->height);
    for (int y = 0; y < s->height; y++)
        for (int x = 0; x < s->width; x++)
            if (s->label[(size_t)y * s->width + x] == i + 1)
                bits[(size_t)y * stride + (x >> 3)] |= (uint8_t)(0x80 >> (x & 7));
}

void shape_scene_free(shape_scene *s)
{
    free(s->rgb);
    free(s->label);
    s->rgb = s->label = NULL;
    s->count = 0;
}
