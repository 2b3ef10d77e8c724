/* The official training augmentation (augment.h), step by step. */
#include "augment.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/seeded_random.h"

const float augment_mean_bgr[3] = {103.94f, 116.78f, 123.68f};

int augment_sample_init(augment_sample *s, int width, int height, int count, int num_crowds)
{
    memset(s, 0, sizeof *s);
    s->width = width, s->height = height, s->count = count, s->num_crowds = num_crowds;
    size_t pixels = (size_t)width * height;
    s->image = malloc(pixels * 3 * sizeof *s->image);
    s->masks = malloc(pixels * (size_t)count + 1);
    s->boxes = malloc(((size_t)count + 1) * sizeof *s->boxes);
    s->labels = malloc(((size_t)count + 1) * sizeof *s->labels);
    if (!s->image || !s->masks || !s->boxes || !s->labels) {
        augment_sample_free(s);
        return -1;
    }
    return 0;
}

void augment_sample_free(augment_sample *s)
{
    free(s->image);
    free(s->masks);
    free(s->boxes);
    free(s->labels);
    memset(s, 0, sizeof *s);
}

/* ---- photometric distortion ------------------------------------------------------------ */

/* cv2.cvtColor(COLOR_BGR2HSV) on float32, OpenCV's scalar code: its epsilons and its double
 * intermediates. */
void augment_bgr_to_hsv(const float bgr[3], float hsv[3])
{
    float b = bgr[0], g = bgr[1], r = bgr[2], h, s, v, vmin, diff;
    v = vmin = r;
    if (v < g) v = g;
    if (v < b) v = b;
    if (vmin > g) vmin = g;
    if (vmin > b) vmin = b;
    diff = v - vmin;
    s = diff / (float)(fabs(v) + FLT_EPSILON);
    diff = (float)(60. / (diff + FLT_EPSILON));
    if (v == r)
        h = (g - b) * diff;
    else if (v == g)
        h = (b - r) * diff + 120.f;
    else
        h = (r - g) * diff + 240.f;
    if (h < 0)
        h += 360.f;
    hsv[0] = h, hsv[1] = s, hsv[2] = v;
}

/* cv2.cvtColor(COLOR_HSV2BGR) on float32 (H in degrees). */
void augment_hsv_to_bgr(const float hsv[3], float bgr[3])
{
    static const int sector_data[6][3] = {{1, 3, 0}, {1, 0, 2}, {3, 0, 1},
                                          {0, 2, 1}, {0, 1, 3}, {2, 1, 0}};
    float h = hsv[0], s = hsv[1], v = hsv[2];
    if (s == 0) {
        bgr[0] = bgr[1] = bgr[2] = v;
        return;
    }
    h *= 6.f / 360.f;
    while (h < 0)
        h += 6;
    while (h >= 6)
        h -= 6;
    int sector = (int)floorf(h);
    h -= (float)sector;
    if ((unsigned)sector >= 6u)
        sector = 0, h = 0.f;
    float tab[4] = {v, v * (1.f - s), v * (1.f - s * h), v * (1.f - s * (1.f - h))};
    for (int c = 0; c < 3; c++)
        bgr[c] = tab[sector_data[sector][c]];
}

static void scale_pixels(augment_sample *s, float alpha)
{
    size_t n = (size_t)s->width * s->height * 3;
    for (size_t i = 0; i < n; i++)
        s->image[i] *= alpha;
}

/* ConvertColor(HSV), RandomSaturation, RandomHue, ConvertColor(BGR): the round trip runs
 * whether or not the two in the middle do, as in the official. */
static void distort_in_hsv(augment_sample *s, const augment_photometric *p)
{
    size_t n = (size_t)s->width * s->height;
    for (size_t i = 0; i < n; i++) {
        float *px = &s->image[i * 3], hsv[3];
        augment_bgr_to_hsv(px, hsv);
        if (p->saturation)
            hsv[1] *= p->saturation_factor;
        if (p->hue) {
            hsv[0] += p->hue_delta;
            if (hsv[0] > 360.0f)
                hsv[0] -= 360.0f;
            if (hsv[0] < 0.0f)
                hsv[0] += 360.0f;
        }
        augment_hsv_to_bgr(hsv, px);
    }
}

void augment_photometric_apply(augment_sample *s, const augment_photometric *p)
{
    if (p->brightness) {
        size_t n = (size_t)s->width * s->height * 3;
        for (size_t i = 0; i < n; i++)
            s->image[i] += p->brightness_delta;
    }
    if (p->contrast_first && p->contrast)
        scale_pixels(s, p->contrast_alpha);
    distort_in_hsv(s, p);
    if (!p->contrast_first && p->contrast)
        scale_pixels(s, p->contrast_alpha);
}

/* ---- geometry ------------------------------------------------------------------------ */

/* The sample's image and masks replaced by new ones of width x height (owned by the
 * caller until this takes them). */
static void replace_planes(augment_sample *s, int width, int height, float *image,
                           uint8_t *masks)
{
    free(s->image);
    free(s->masks);
    s->image = image, s->masks = masks, s->width = width, s->height = height;
}

int augment_expand(augment_sample *s, double ratio, double left, double top)
{
    int w = (int)(s->width * ratio), h = (int)(s->height * ratio);
    int ox = (int)left, oy = (int)top;
    float *image = malloc((size_t)w * h * 3 * sizeof *image);
    uint8_t *masks = calloc((size_t)w * h * (size_t)s->count + 1, 1);
    if (!image || !masks) {
        free(image);
        free(masks);
        return -1;
    }
    for (size_t i = 0; i < (size_t)w * h; i++)
        memcpy(&image[i * 3], augment_mean_bgr, sizeof augment_mean_bgr);
    for (int y = 0; y < s->height; y++) {
        memcpy(&image[((size_t)(y + oy) * w + ox) * 3], &s->image[(size_t)y * s->width * 3],
               (size_t)s->width * 3 * sizeof *image);
        for (int k = 0; k < s->count; k++)
            memcpy(&masks[((size_t)k * h + y + oy) * w + ox],
                   &s->masks[((size_t)k * s->height + y) * s->width], (size_t)s->width);
    }
    for (int k = 0; k < s->count; k++) {
        s->boxes[k][0] += ox, s->boxes[k][2] += ox;
        s->boxes[k][1] += oy, s->boxes[k][3] += oy;
    }
    replace_planes(s, w, h, image, masks);
    return 0;
}

int augment_crop(augment_sample *s, const int rect[4])
{
    int keep[256], kept = 0, kept_crowds = 0;
    int *selected = s->count <= 256 ? keep : malloc((size_t)s->count * sizeof *selected);
    if (!selected)
        return -1;
    for (int k = 0; k < s->count; k++) {
        const double *b = s->boxes[k];
        double cx = (b[0] + b[2]) / 2.0, cy = (b[1] + b[3]) / 2.0;
        if (rect[0] < cx && rect[1] < cy && rect[2] > cx && rect[3] > cy) {
            selected[kept++] = k;
            kept_crowds += k >= s->count - s->num_crowds;
        }
    }
    /* numpy's slice stops at the image's edge; the boxes are clipped to the rect as given. */
    int x1 = rect[0], y1 = rect[1];
    int x2 = rect[2] < s->width ? rect[2] : s->width, y2 = rect[3] < s->height ? rect[3] : s->height;
    int w = x2 - x1, h = y2 - y1, status = 0;
    float *image = NULL;
    uint8_t *masks = NULL;
    if (kept == kept_crowds || w <= 0 || h <= 0)
        goto done;   /* no object, or crowds only: the official tries another rect */
    image = malloc((size_t)w * h * 3 * sizeof *image);
    masks = malloc((size_t)w * h * (size_t)kept + 1);
    if (!image || !masks) {
        free(image);
        free(masks);
        status = -1;
        goto done;
    }
    for (int y = 0; y < h; y++) {
        memcpy(&image[(size_t)y * w * 3], &s->image[((size_t)(y + y1) * s->width + x1) * 3],
               (size_t)w * 3 * sizeof *image);
        for (int j = 0; j < kept; j++)
            memcpy(&masks[((size_t)j * h + y) * w],
                   &s->masks[((size_t)selected[j] * s->height + y + y1) * s->width + x1],
                   (size_t)w);
    }
    for (int j = 0; j < kept; j++) {
        const double *b = s->boxes[selected[j]];
        double box[4] = {fmax(b[0], rect[0]) - rect[0], fmax(b[1], rect[1]) - rect[1],
                         fmin(b[2], rect[2]) - rect[0], fmin(b[3], rect[3]) - rect[1]};
        memcpy(s->boxes[j], box, sizeof box);
        s->labels[j] = s->labels[selected[j]];
    }
    s->count = kept, s->num_crowds = kept_crowds;
    replace_planes(s, w, h, image, masks);
    status = 1;
done:
    if (selected != keep)
        free(selected);
    return status;
}

void augment_mirror(augment_sample *s)
{
    for (int y = 0; y < s->height; y++) {
        float *row = &s->image[(size_t)y * s->width * 3];
        for (int a = 0, b = s->width - 1; a < b; a++, b--)
            for (int c = 0; c < 3; c++) {
                float t = row[a * 3 + c];
                row[a * 3 + c] = row[b * 3 + c], row[b * 3 + c] = t;
            }
        for (int k = 0; k < s->count; k++) {
            uint8_t *m = &s->masks[((size_t)k * s->height + y) * s->width];
            for (int a = 0, b = s->width - 1; a < b; a++, b--) {
                uint8_t t = m[a];
                m[a] = m[b], m[b] = t;
            }
        }
    }
    for (int k = 0; k < s->count; k++) {
        double x1 = s->boxes[k][0];
        s->boxes[k][0] = s->width - s->boxes[k][2];
        s->boxes[k][2] = s->width - x1;
    }
}

/* ---- resize, as cv2.resize(INTER_LINEAR) ------------------------------------------- */

/* One axis of OpenCV's linear resize: the first source index of each output index and its
 * two weights; indices past the edge are clamped with their weights kept, as OpenCV does
 * for rows (columns at the edge get weights 1 and 0). */
typedef struct axis_taps {
    int *index;
    float *weight;   /* 2 per output */
} axis_taps;

static int axis_taps_make(axis_taps *t, int in, int out, int clamp_weights)
{
    t->index = malloc((size_t)out * sizeof *t->index);
    t->weight = malloc((size_t)out * 2 * sizeof *t->weight);
    if (!t->index || !t->weight)
        return -1;
    double scale = 1. / ((double)out / in);
    for (int d = 0; d < out; d++) {
        float f = (float)((d + 0.5) * scale - 0.5);
        int i = (int)floorf(f);
        f -= (float)i;
        if (clamp_weights && i < 0)
            f = 0, i = 0;
        if (clamp_weights && i >= in - 1)
            f = 0, i = in - 1;
        t->index[d] = i;
        t->weight[2 * d] = 1.f - f, t->weight[2 * d + 1] = f;
    }
    return 0;
}

static void axis_taps_free(axis_taps *t)
{
    free(t->index);
    free(t->weight);
}

static int clamp_index(int i, int n)
{
    return i < 0 ? 0 : i >= n ? n - 1 : i;
}

/* Exactly half on both axes OpenCV resizes by area instead (each output the mean of a
 * 2 x 2 block); every other size bilinearly: a horizontal pass of each source row, then a
 * vertical blend of two such rows. Float image: float arithmetic. Masks (cn channels of
 * bytes, one per object): 11-bit fixed-point weights and the vectorised rounding. */
static void resize_image(const float *src, int sw, int sh, float *dst, int size,
                         const axis_taps *tx, const axis_taps *ty, float *row0, float *row1)
{
    if (sw == 2 * size && sh == 2 * size) {
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                for (int c = 0; c < 3; c++) {
                    const float *a = &src[((size_t)2 * y * sw + 2 * x) * 3 + c];
                    const float *b = a + (size_t)sw * 3;
                    dst[((size_t)y * size + x) * 3 + c] = (a[0] + a[3] + b[0] + b[3]) * 0.25f;
                }
        return;
    }
    for (int y = 0; y < size; y++) {
        float *rows[2] = {row0, row1};
        for (int k = 0; k < 2; k++) {
            const float *s = &src[(size_t)clamp_index(ty->index[y] + k, sh) * sw * 3];
            for (int x = 0; x < size; x++) {
                int i = tx->index[x], j = i + 1 < sw ? i + 1 : i;
                float a0 = tx->weight[2 * x], a1 = tx->weight[2 * x + 1];
                for (int c = 0; c < 3; c++)
                    rows[k][x * 3 + c] = s[i * 3 + c] * a0 + s[j * 3 + c] * a1;
            }
        }
        float b0 = ty->weight[2 * y], b1 = ty->weight[2 * y + 1];
        for (int x = 0; x < size * 3; x++)
            dst[(size_t)y * size * 3 + x] = row0[x] * b0 + row1[x] * b1;
    }
}

static short fixed_weight(float w)
{
    return (short)lrintf(w * 2048.f);
}

static void resize_mask(const uint8_t *src, int sw, int sh, uint8_t *dst, int size,
                        const axis_taps *tx, const axis_taps *ty, int *row0, int *row1)
{
    if (sw == 2 * size && sh == 2 * size) {
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++) {
                const uint8_t *a = &src[(size_t)2 * y * sw + 2 * x], *b = a + sw;
                dst[(size_t)y * size + x] = (uint8_t)((a[0] + a[1] + b[0] + b[1] + 2) >> 2);
            }
        return;
    }
    for (int y = 0; y < size; y++) {
        int *rows[2] = {row0, row1};
        for (int k = 0; k < 2; k++) {
            const uint8_t *s = &src[(size_t)clamp_index(ty->index[y] + k, sh) * sw];
            for (int x = 0; x < size; x++) {
                int i = tx->index[x], j = i + 1 < sw ? i + 1 : i;
                rows[k][x] = s[i] * fixed_weight(tx->weight[2 * x]) +
                             s[j] * fixed_weight(tx->weight[2 * x + 1]);
            }
        }
        int b0 = fixed_weight(ty->weight[2 * y]), b1 = fixed_weight(ty->weight[2 * y + 1]);
        for (int x = 0; x < size; x++) {
            int v = (((row0[x] >> 4) * b0) >> 16) + (((row1[x] >> 4) * b1) >> 16);
            v = (v + 2) >> 2;
            dst[(size_t)y * size + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

int augment_resize(augment_sample *s, int size)
{
    axis_taps tx = {0}, ty = {0};
    size_t plane = (size_t)size * size;
    float *image = malloc(plane * 3 * sizeof *image), *frow = malloc((size_t)size * 6 * sizeof *frow);
    uint8_t *masks = malloc(plane * (size_t)s->count + 1);
    int *irow = malloc((size_t)size * 2 * sizeof *irow);
    int status = -1;
    if (!image || !frow || !masks || !irow || axis_taps_make(&tx, s->width, size, 1) ||
        axis_taps_make(&ty, s->height, size, 0))
        goto done;
    resize_image(s->image, s->width, s->height, image, size, &tx, &ty, frow, frow + size * 3);
    for (int k = 0; k < s->count; k++)
        resize_mask(&s->masks[(size_t)k * s->width * s->height], s->width, s->height,
                    &masks[(size_t)k * plane], size, &tx, &ty, irow, irow + size);
    double fx = (double)size / s->width, fy = (double)size / s->height;
    int kept = 0, crowds = 0;
    for (int k = 0; k < s->count; k++) {
        double b[4] = {s->boxes[k][0] * fx, s->boxes[k][1] * fy, s->boxes[k][2] * fx,
                       s->boxes[k][3] * fy};
        if (!(b[2] - b[0] > 4.0 / 550 && b[3] - b[1] > 4.0 / 550))
            continue;   /* the official's discard_box_width, compared with pixels */
        for (int c = 0; c < 4; c++)
            s->boxes[kept][c] = b[c] / size;
        s->labels[kept] = s->labels[k];
        crowds += s->labels[k] < 0;
        if (kept != k)
            memmove(&masks[(size_t)kept * plane], &masks[(size_t)k * plane], plane);
        kept++;
    }
    s->count = kept, s->num_crowds = crowds;
    replace_planes(s, size, size, image, masks);
    image = NULL, masks = NULL;
    status = 0;
done:
    free(image);
    free(masks);
    free(frow);
    free(irow);
    axis_taps_free(&tx);
    axis_taps_free(&ty);
    return status;
}

/* ---- the official order of draws ------------------------------------------------------ */

/* numpy's random.randint(2), as a flag. */
static int coin(uint64_t *rng)
{
    return seeded_below(rng, 2);
}

static augment_photometric draw_photometric(uint64_t *rng)
{
    augment_photometric p = {0};
    if ((p.brightness = coin(rng)))
        p.brightness_delta = (float)seeded_uniform(rng, -32, 32);
    p.contrast_first = coin(rng);
    if (p.contrast_first && (p.contrast = coin(rng)))
        p.contrast_alpha = (float)seeded_uniform(rng, 0.5, 1.5);
    if ((p.saturation = coin(rng)))
        p.saturation_factor = (float)seeded_uniform(rng, 0.5, 1.5);
    if ((p.hue = coin(rng)))
        p.hue_delta = (float)seeded_uniform(rng, -18, 18);
    if (!p.contrast_first && (p.contrast = coin(rng)))
        p.contrast_alpha = (float)seeded_uniform(rng, 0.5, 1.5);
    return p;
}

/* RandomSampleCrop: a mode (one in six keeps the image), then up to 50 rects for it. The
 * modes' minimum IoUs never reject a rect (see augment.h), so they only weigh the draw. */
static int random_crop(augment_sample *s, uint64_t *rng)
{
    if (s->count == 0)
        return 0;
    for (;;) {
        if (seeded_below(rng, 6) == 0)
            return 0;
        for (int trial = 0; trial < 50; trial++) {
            double w = seeded_uniform(rng, 0.3 * s->width, s->width);
            double h = seeded_uniform(rng, 0.3 * s->height, s->height);
            if (h / w < 0.5 || h / w > 2)
                continue;
            /* numpy's uniform(low) draws from [low, 1.0): the official's bug, kept */
            double left = seeded_uniform(rng, s->width - w, 1.0);
            double top = seeded_uniform(rng, s->height - h, 1.0);
            int rect[4] = {(int)left, (int)top, (int)(left + w), (int)(top + h)};
            int taken = augment_crop(s, rect);
            if (taken)
                return taken < 0 ? -1 : 0;
        }
    }
}

int augment_sample_random(augment_sample *s, int size, uint64_t *rng)
{
    augment_photometric p = draw_photometric(rng);
    augment_photometric_apply(s, &p);
    if (!coin(rng)) {
        double ratio = seeded_uniform(rng, 1, 4);
        double left = seeded_uniform(rng, 0, s->width * ratio - s->width);
        double top = seeded_uniform(rng, 0, s->height * ratio - s->height);
        if (augment_expand(s, ratio, left, top))
            return -1;
    }
    if (random_crop(s, rng))
        return -1;
    if (coin(rng))
        augment_mirror(s);
    return augment_resize(s, size);
}
