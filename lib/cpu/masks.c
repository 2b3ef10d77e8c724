/* Mask assembly (sigmoid of the prototype combination, cropped to the box), the final
 * bilinear resize + threshold to a packed bitmask, each for a pass of images; semantics in
 * post_ops.h. */
#include <math.h>
#include <string.h>

#include "cpu/dense_ops.h"
#include "cpu/post_ops.h"
#include "ops/boxes.h"

/* Dot product with eight partial sums so the adds do not form one serial chain. */
static inline float dot(const float *a, const float *b, int k)
{
    float s[8] = {0};
    int i = 0;
    for (; i + 8 <= k; i += 8)
        for (int l = 0; l < 8; l++)
            s[l] += a[i + l] * b[i + l];
    float t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (; i < k; i++)
        t += a[i] * b[i];
    return t;
}

/* One image's masks: mask m is detection m's, from the coefficient row of its prior. */
static void assemble_image(const float *proto, int proto_h, int proto_w, int k,
                           const float *coeff, const yl_raw_detection *detections, int n,
                           float *out)
{
    const size_t plane = (size_t)proto_h * proto_w;
    /* Parallel over masks: each writes only its own plane; box sizes vary, hence dynamic. */
#pragma omp parallel for schedule(dynamic)
    for (int m = 0; m < n; m++) {
        const float *c = coeff + (size_t)detections[m].prior * k, *box = detections[m].box;
        float *o = out + (size_t)m * plane;
        int c0, c1, r0, r1;
        yl_crop_range(box[0], box[2], proto_w, &c0, &c1);
        yl_crop_range(box[1], box[3], proto_h, &r0, &r1);
        memset(o, 0, plane * sizeof *o);
        for (int r = r0; r < r1; r++) {
            const float *p = proto + ((size_t)r * proto_w + c0) * k;
            float *orow = o + (size_t)r * proto_w;
            for (int x = c0; x < c1; x++, p += k)
                orow[x] = 1.0f / (1.0f + expf(-dot(p, c, k)));
        }
    }
}

void yl_masks_assemble_cpu(const float *proto, int proto_h, int proto_w, int k,
                           const float *coeff, size_t coeff_image_floats,
                           const yl_raw_detection *detections, size_t detection_stride,
                           const yl_mask_pass *pass, float *out)
{
    const size_t plane = (size_t)proto_h * proto_w;
    for (int b = 0; b < pass->num_images; b++)
        assemble_image(proto + b * plane * k, proto_h, proto_w, k, coeff + b * coeff_image_floats,
                       detections + b * detection_stride, pass->image[b].count,
                       out + (size_t)pass->image[b].first * plane);
}

/* Output columns a sweep over the rows covers, and rows whose axis entries it computes at
 * a time: these entries and a tile's two interpolated rows live on the stack (28 KiB), so
 * the op needs no workspace; images up to RESIZE_TILE wide take one sweep. A multiple of 8,
 * so tiles start on a byte of the bit mask. */
enum { RESIZE_TILE = 1024, RESIZE_ROWS = 256 };

/* One source row interpolated horizontally over a tile's columns, with the columns [lo, hi)
 * of the tile outside of which it is <= 0 (lo == hi: nowhere positive). */
typedef struct hrow {
    int src;
    int lo, hi;
    float v[RESIZE_TILE];
} hrow;

/* The axis entries of a tile's columns. */
typedef struct column_tile {
    int x0, n;
    int i0[RESIZE_TILE], i1[RESIZE_TILE];
    float w0[RESIZE_TILE], w1[RESIZE_TILE];
} column_tile;

static void hrow_compute(hrow *h, const column_tile *t, const float *in, int in_w, int src)
{
    const float *s = in + (size_t)src * in_w;
    float *v = h->v;
    for (int x = 0; x < t->n; x++)
        v[x] = s[t->i0[x]] * t->w0[x] + s[t->i1[x]] * t->w1[x];
    int lo = 0, hi = t->n;
    while (lo < hi && !(v[lo] > 0.0f))
        lo++;
    while (hi > lo && !(v[hi - 1] > 0.0f))
        hi--;
    h->src = src;
    h->lo = lo;
    h->hi = hi;
}

/* The cached row for source row src, evicting the slot that does not hold `keep`. */
static const hrow *hrow_get(hrow cache[2], const column_tile *t, const float *in, int in_w,
                            int src, int keep)
{
    if (cache[0].src == src)
        return &cache[0];
    if (cache[1].src == src)
        return &cache[1];
    hrow *h = cache[0].src == keep ? &cache[1] : &cache[0];
    hrow_compute(h, t, in, in_w, src);
    return h;
}

/* One mask (in_h, in_w) to (out_h, out_w) bits, rows of (out_w + 7) / 8 bytes at out. */
/* One output row's tile of bits at o: source rows s0, s1 with weights w0, w1. */
static void threshold_row(hrow cache[2], const column_tile *t, const float *in, int in_w,
                          int s0, int s1, float w0, float w1, uint8_t *o)
{
    const hrow *h0 = hrow_get(cache, t, in, in_w, s0, s1);
    const hrow *h1 = hrow_get(cache, t, in, in_w, s1, s0);
    /* Outside both rows' positive extents the (non-negative) weights give <= 0. */
    int lo = h0->lo < h1->lo ? h0->lo : h1->lo, hi = h0->hi > h1->hi ? h0->hi : h1->hi;
    if (h0->lo == h0->hi) {
        lo = h1->lo;
        hi = h1->hi;
    } else if (h1->lo == h1->hi) {
        lo = h0->lo;
        hi = h0->hi;
    }
    memset(o, 0, (t->n + 7) / 8);
    const float *a = h0->v, *b = h1->v;
    for (int bx = lo / 8; bx < (hi + 7) / 8; bx++) {
        const int x0 = bx * 8, count = t->n - x0 < 8 ? t->n - x0 : 8;
        unsigned bits = 0;
        for (int i = 0; i < count; i++) {
            /* (a*w0x + b*w1x)*w0y + (c*w0x + d*w1x)*w1y, float32, as PyTorch. */
            float v = a[x0 + i] * w0 + b[x0 + i] * w1;
            bits |= (unsigned)(v > 0.5f) << (7 - i);
        }
        o[bx] = (uint8_t)bits;
    }
}

/* One mask (in_h, in_w) to (out_h, out_w) bits, rows of (out_w + 7) / 8 bytes at out. */
static void resize_mask(const float *in, int in_h, int in_w, uint8_t *out, int out_h,
                        int out_w)
{
    const size_t row_bytes = ((size_t)out_w + 7) / 8;
    if (out_h <= 0 || out_w <= 0)
        return;
    if (in_h <= 0 || in_w <= 0) {
        memset(out, 0, row_bytes * out_h);
        return;
    }
    column_tile t;
    hrow cache[2];
    int yi0[RESIZE_ROWS], yi1[RESIZE_ROWS];
    float yw0[RESIZE_ROWS], yw1[RESIZE_ROWS];
    for (t.x0 = 0; t.x0 < out_w; t.x0 += RESIZE_TILE) {
        t.n = out_w - t.x0 < RESIZE_TILE ? out_w - t.x0 : RESIZE_TILE;
        yl_bilinear_axis_range(in_w, out_w, t.x0, t.n, t.i0, t.i1, t.w0, t.w1);
        cache[0].src = cache[1].src = -1;
        for (int y0 = 0; y0 < out_h; y0 += RESIZE_ROWS) {
            const int rows = out_h - y0 < RESIZE_ROWS ? out_h - y0 : RESIZE_ROWS;
            yl_bilinear_axis_range(in_h, out_h, y0, rows, yi0, yi1, yw0, yw1);
            for (int j = 0; j < rows; j++)
                threshold_row(cache, &t, in, in_w, yi0[j], yi1[j], yw0[j], yw1[j],
                              out + (size_t)(y0 + j) * row_bytes + t.x0 / 8);
        }
    }
}

void yl_mask_resize_threshold_cpu(const float *in, int in_h, int in_w, const yl_mask_pass *pass,
                                  uint8_t *out)
{
    const size_t plane = in_h > 0 && in_w > 0 ? (size_t)in_h * in_w : 0;
    for (int b = 0; b < pass->num_images; b++) {
        const yl_mask_image *im = &pass->image[b];
        const size_t mask_bytes = (size_t)im->height * (((size_t)im->width + 7) / 8);
        /* Parallel over masks: each writes only its own bits. */
#pragma omp parallel for schedule(dynamic)
        for (int m = 0; m < im->count; m++)
            resize_mask(in + (im->first + (size_t)m) * plane, in_h, in_w,
                        out + im->out_offset + m * mask_bytes, im->height, im->width);
    }
}
