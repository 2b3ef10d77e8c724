/* Mask assembly (sigmoid of the prototype combination, cropped to the box), the final
 * bilinear resize + threshold to a packed bitmask; semantics in post_ops.h. */
#include <math.h>
#include <string.h>

#include "cpu/dense_ops.h"
#include "cpu/post_ops.h"
#include "ops/boxes.h"

/* The pixels [*begin, *end) that box_utils.crop (padding 1) keeps along one axis:
 * integer c with lo <= c < hi. */
static void crop_range(float a, float b, int size, int *begin, int *end)
{
    float lo, hi;
    yl_sanitize_padded(a, b, size, 1.0f, &lo, &hi);
    if (!(lo < hi)) {           /* also NaN */
        *begin = *end = 0;
        return;
    }
    /* lo >= 0 and hi <= size here, so the ceilings fit an int. */
    *begin = lo > (float)size ? size : (int)ceilf(lo);
    *end = hi <= 0.0f ? 0 : (int)ceilf(hi);
    if (*end < *begin)
        *end = *begin;
}

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

void yl_masks_assemble_cpu(const float *proto, int proto_h, int proto_w, int k,
                           const float *coeffs, const float *boxes, int n, float *out)
{
    const size_t plane = (size_t)proto_h * proto_w;
    /* Parallel over masks: each writes only its own plane; box sizes vary, hence dynamic. */
#pragma omp parallel for schedule(dynamic)
    for (int m = 0; m < n; m++) {
        const float *coeff = coeffs + (size_t)m * k, *box = boxes + 4 * (size_t)m;
        float *o = out + (size_t)m * plane;
        int c0, c1, r0, r1;
        crop_range(box[0], box[2], proto_w, &c0, &c1);
        crop_range(box[1], box[3], proto_h, &r0, &r1);
        memset(o, 0, plane * sizeof *o);
        for (int r = r0; r < r1; r++) {
            const float *p = proto + ((size_t)r * proto_w + c0) * k;
            float *orow = o + (size_t)r * proto_w;
            for (int c = c0; c < c1; c++, p += k)
                orow[c] = 1.0f / (1.0f + expf(-dot(p, coeff, k)));
        }
    }
}

/* Workspace of the resize: the axis tables, then two horizontally interpolated rows. */
typedef struct resize_ws {
    int *xi0, *xi1, *yi0, *yi1;
    float *xw0, *xw1, *yw0, *yw1;
    float *rows[2];
} resize_ws;

static size_t resize_layout(int out_h, int out_w, void *base, resize_ws *ws)
{
    size_t w = (size_t)out_w, h = (size_t)out_h;
    unsigned char *b = base;
    /* Every block is a multiple of 4 bytes holding 4-byte elements: no padding needed. */
    size_t off = 0;
#define YL_TAKE(field, count)                                          \
    do {                                                               \
        ws->field = b ? (void *)(b + off) : NULL;                      \
        off += (count) * 4;                                            \
    } while (0)
    YL_TAKE(xi0, w); YL_TAKE(xi1, w); YL_TAKE(xw0, w); YL_TAKE(xw1, w);
    YL_TAKE(yi0, h); YL_TAKE(yi1, h); YL_TAKE(yw0, h); YL_TAKE(yw1, h);
    YL_TAKE(rows[0], w); YL_TAKE(rows[1], w);
#undef YL_TAKE
    return off;
}

size_t yl_mask_resize_workspace_bytes(int in_w, int out_h, int out_w)
{
    resize_ws ws;
    (void)in_w;     /* the rows are interpolated to the output width */
    if (out_h <= 0 || out_w <= 0)
        return 0;
    return resize_layout(out_h, out_w, NULL, &ws);
}

/* One source row interpolated horizontally, with the output columns [lo, hi) outside of
 * which it is <= 0 (lo == hi: nowhere positive). */
typedef struct hrow {
    int src;
    int lo, hi;
    float *v;
} hrow;

static void hrow_compute(hrow *h, const resize_ws *ws, const float *in, int in_w, int out_w,
                         int src)
{
    const float *s = in + (size_t)src * in_w;
    float *v = h->v;
    for (int x = 0; x < out_w; x++)
        v[x] = s[ws->xi0[x]] * ws->xw0[x] + s[ws->xi1[x]] * ws->xw1[x];
    int lo = 0, hi = out_w;
    while (lo < hi && !(v[lo] > 0.0f))
        lo++;
    while (hi > lo && !(v[hi - 1] > 0.0f))
        hi--;
    h->src = src;
    h->lo = lo;
    h->hi = hi;
}

/* The cached row for source row src, evicting the slot that does not hold `keep`. */
static const hrow *hrow_get(hrow cache[2], const resize_ws *ws, const float *in, int in_w,
                            int out_w, int src, int keep)
{
    if (cache[0].src == src)
        return &cache[0];
    if (cache[1].src == src)
        return &cache[1];
    hrow *h = cache[0].src == keep ? &cache[1] : &cache[0];
    hrow_compute(h, ws, in, in_w, out_w, src);
    return h;
}

/* Single-threaded: the caller runs one mask per thread. */
void yl_mask_resize_threshold_cpu(const float *in, int in_h, int in_w, uint8_t *out,
                                  int out_h, int out_w, size_t out_stride, void *workspace)
{
    if (out_h <= 0 || out_w <= 0)
        return;
    const size_t row_bytes = ((size_t)out_w + 7) / 8;
    if (in_h <= 0 || in_w <= 0) {
        for (int y = 0; y < out_h; y++)
            memset(out + (size_t)y * out_stride, 0, row_bytes);
        return;
    }
    resize_ws ws;
    resize_layout(out_h, out_w, workspace, &ws);
    yl_bilinear_axis(in_w, out_w, ws.xi0, ws.xi1, ws.xw0, ws.xw1);
    yl_bilinear_axis(in_h, out_h, ws.yi0, ws.yi1, ws.yw0, ws.yw1);
    hrow cache[2] = {{-1, 0, 0, ws.rows[0]}, {-1, 0, 0, ws.rows[1]}};

    for (int y = 0; y < out_h; y++) {
        uint8_t *o = out + (size_t)y * out_stride;
        const int s0 = ws.yi0[y], s1 = ws.yi1[y];
        const hrow *h0 = hrow_get(cache, &ws, in, in_w, out_w, s0, s1);
        const hrow *h1 = hrow_get(cache, &ws, in, in_w, out_w, s1, s0);
        /* Outside both rows' positive extents the (non-negative) weights give <= 0. */
        int lo = h0->lo < h1->lo ? h0->lo : h1->lo, hi = h0->hi > h1->hi ? h0->hi : h1->hi;
        if (h0->lo == h0->hi) {
            lo = h1->lo;
            hi = h1->hi;
        } else if (h1->lo == h1->hi) {
            lo = h0->lo;
            hi = h0->hi;
        }
        memset(o, 0, row_bytes);
        if (lo >= hi)
            continue;
        const float w0 = ws.yw0[y], w1 = ws.yw1[y];
        const float *a = h0->v, *b = h1->v;
        for (int bx = lo / 8; bx < (hi + 7) / 8; bx++) {
            const int x0 = bx * 8, count = out_w - x0 < 8 ? out_w - x0 : 8;
            unsigned bits = 0;
            for (int i = 0; i < count; i++) {
                /* (a*w0x + b*w1x)*w0y + (c*w0x + d*w1x)*w1y, float32, as PyTorch. */
                float v = a[x0 + i] * w0 + b[x0 + i] * w1;
                bits |= (unsigned)(v > 0.5f) << (7 - i);
            }
            o[bx] = (uint8_t)bits;
        }
    }
}
