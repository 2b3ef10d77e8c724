/* COCO run-length masks: the steps of pycocotools' maskApi.c, reproduced so that every run,
 * area and IoU comes out the same (the evaluation's numbers depend on each of them). */
#include "coco_rle.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void coco_rle_free(coco_rle *r)
{
    free(r->cnts);
    r->cnts = NULL;
    r->m = 0;
}

/* Take ownership of cnts[0..m) after checking they add up to h * w. */
static int adopt_counts(coco_rle *r, uint32_t *cnts, uint32_t m, uint32_t h, uint32_t w,
                        char *err, size_t err_size)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < m; i++)
        sum += cnts[i];
    if ((uint64_t)h * w > COCO_MAX_PIXELS || h == 0 || w == 0) {
        snprintf(err, err_size, "mask size %ux%u is out of range (1 to 2^30 pixels)", h, w);
        free(cnts);
        return -1;
    }
    if (sum != (uint64_t)h * w) {
        snprintf(err, err_size, "runs add up to %llu pixels, the size %ux%u has %llu",
                 (unsigned long long)sum, h, w, (unsigned long long)h * w);
        free(cnts);
        return -1;
    }
    r->h = h;
    r->w = w;
    r->m = m;
    r->cnts = cnts;
    return 0;
}

int coco_rle_from_string(coco_rle *r, const char *s, uint32_t h, uint32_t w, char *err,
                         size_t err_size)
{
    size_t len = strlen(s);
    uint32_t *cnts = malloc((len + 1) * sizeof *cnts);
    if (!cnts) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    uint32_t m = 0;
    for (size_t p = 0; p < len;) {
        int64_t x = 0;
        int k = 0, more = 1;
        while (more) {
            if (p >= len || s[p] < 48 || s[p] > 111 || k == 7) {
                snprintf(err, err_size, p >= len ? "counts string ends inside a value"
                         : k == 7 ? "a value in the counts string is too long"
                                  : "counts string has a character outside '0'..'o'");
                free(cnts);
                return -1;
            }
            int c = s[p] - 48;
            x |= (int64_t)(c & 0x1f) << (5 * k);
            more = c & 0x20;
            p++;
            k++;
            if (!more && (c & 0x10))
                x |= -((int64_t)1 << (5 * k));    /* sign extension */
        }
        if (m > 2)                                 /* a delta from the run two back */
            x += cnts[m - 2];
        if (x < 0 || x > UINT32_MAX) {
            snprintf(err, err_size, "counts string decodes to a run of %lld", (long long)x);
            free(cnts);
            return -1;
        }
        cnts[m++] = (uint32_t)x;
    }
    return adopt_counts(r, cnts, m, h, w, err, err_size);
}

int coco_rle_from_counts(coco_rle *r, const uint32_t *counts, uint32_t m, uint32_t h, uint32_t w,
                         char *err, size_t err_size)
{
    uint32_t *cnts = malloc(((size_t)m + 1) * sizeof *cnts);
    if (!cnts) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    if (m)
        memcpy(cnts, counts, (size_t)m * sizeof *cnts);
    return adopt_counts(r, cnts, m, h, w, err, err_size);
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Points along every edge of the 5x polygon (x, y closed: k + 1 entries), one per step of the
 * edge's longer axis, into u, v; returns how many. */
static size_t walk_edges(const int *x, const int *y, size_t k, int *u, int *v)
{
    size_t n = 0;
    for (size_t j = 0; j < k; j++) {
        int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
        int dx = abs(xe - xs), dy = abs(ys - ye);
        /* Walked from the lower end of the longer axis, so rounding does not depend on the
         * edge's direction; the points are stored in the edge's own order. */
        int flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
        if (flip) {
            int t = xs; xs = xe; xe = t;
            t = ys; ys = ye; ye = t;
        }
        if (dx == 0 && dy == 0) {
            /* maskApi.c divides 0 by 0 here and converts NaN to int; the point only ever
             * meets neighbours of the same x, where its y is not read. */
            u[n] = xs;
            v[n++] = ys;
            continue;
        }
        if (dx >= dy) {
            double s = (double)(ye - ys) / dx;
            for (int d = 0; d <= dx; d++) {
                int t = flip ? dx - d : d;
                u[n] = t + xs;
                v[n++] = (int)(ys + s * t + .5);
            }
        } else {
            double s = (double)(xe - xs) / dy;
            for (int d = 0; d <= dy; d++) {
                int t = flip ? dy - d : d;
                v[n] = t + ys;
                u[n++] = (int)(xs + s * t + .5);
            }
        }
    }
    return n;
}

int coco_rle_from_polygon(coco_rle *r, const double *xy, size_t k, uint32_t h, uint32_t w)
{
    const double scale = 5;
    int *x = malloc((k + 1) * sizeof *x), *y = malloc((k + 1) * sizeof *y);
    int *u = NULL, *v = NULL;
    uint32_t *a = NULL, *b = NULL;
    int status = -1;
    if (!x || !y)
        goto done;
    for (size_t j = 0; j < k; j++) {
        x[j] = (int)(scale * xy[2 * j] + .5);
        y[j] = (int)(scale * xy[2 * j + 1] + .5);
    }
    x[k] = x[0];
    y[k] = y[0];
    size_t n = 0;
    for (size_t j = 0; j < k; j++) {
        int dx = abs(x[j] - x[j + 1]), dy = abs(y[j] - y[j + 1]);
        n += (size_t)(dx > dy ? dx : dy) + 1;
    }
    if (n > COCO_MAX_BOUNDARY) {
        status = -2;
        goto done;
    }
    u = malloc(n * sizeof *u);
    v = malloc(n * sizeof *v);
    if (!u || !v)
        goto done;
    n = walk_edges(x, y, k, u, v);

    /* Where the boundary crosses a pixel column's centre (back at 1x), the first pixel
     * inside below it: one run boundary per crossing. */
    a = malloc((n + 1) * sizeof *a);
    if (!a)
        goto done;
    size_t m = 0;
    for (size_t j = 1; j < n; j++) {
        if (u[j] == u[j - 1])
            continue;
        double xd = (double)(u[j] < u[j - 1] ? u[j] : u[j] - 1);
        xd = (xd + .5) / scale - .5;
        if (floor(xd) != xd || xd < 0 || xd > w - 1.0)
            continue;
        double yd = (double)(v[j] < v[j - 1] ? v[j] : v[j - 1]);
        yd = (yd + .5) / scale - .5;
        if (yd < 0)
            yd = 0;
        else if (yd > h)
            yd = h;
        yd = ceil(yd);
        a[m++] = (uint32_t)((int)xd * (int)h + (int)yd);
    }
    a[m++] = h * w;
    qsort(a, m, sizeof *a, compare_u32);
    uint32_t previous = 0;
    for (size_t j = 0; j < m; j++) {
        uint32_t t = a[j];
        a[j] -= previous;
        previous = t;
    }
    /* Runs from the boundaries; two boundaries at one place cancel. */
    b = malloc(m * sizeof *b);
    if (!b)
        goto done;
    size_t runs = 0, j = 0;
    b[runs++] = a[j++];
    while (j < m) {
        if (a[j] > 0) {
            b[runs++] = a[j++];
        } else if (++j < m) {
            b[runs - 1] += a[j++];
        }
    }
    r->h = h;
    r->w = w;
    r->m = (uint32_t)runs;
    r->cnts = b;
    b = NULL;
    status = 0;
done:
    free(x); free(y); free(u); free(v); free(a); free(b);
    return status;
}

int coco_rle_from_box(coco_rle *r, const double box[4], uint32_t h, uint32_t w)
{
    double xs = box[0], xe = xs + box[2], ys = box[1], ye = ys + box[3];
    double xy[8] = {xs, ys, xs, ye, xe, ye, xe, ys};
    return coco_rle_from_polygon(r, xy, 4, h, w);
}

/* A walk along a mask's runs in step with another's (rleMerge's and rleIou's loops): the
 * pixels left in the current run, whether it is a run of 1s, and the next run's index. */
typedef struct run_cursor {
    const uint32_t *cnts;
    uint32_t m, next, left;
    int value;
} run_cursor;

static run_cursor run_start(const uint32_t *cnts, uint32_t m)
{
    return (run_cursor){cnts, m, 1, cnts[0], 0};
}

/* Consume c pixels; on a run's end move to the next (a zero-length run is stepped over on
 * the next call, as maskApi.c does). Returns the pixels left in the current run. */
static uint32_t run_advance(run_cursor *r, uint32_t c)
{
    r->left -= c;
    if (!r->left && r->next < r->m) {
        r->left = r->cnts[r->next++];
        r->value = !r->value;
    }
    return r->left;
}

/* One step of rleMerge: the union of a (a_m runs) and b into out, which has room for
 * a_m + b->m + 1 runs; returns the runs written. Zero-length runs in the inputs survive as
 * maskApi.c lets them. */
static uint32_t union_two(const uint32_t *a, uint32_t a_m, const coco_rle *b, uint32_t *out)
{
    run_cursor ra = run_start(a, a_m), rb = run_start(b->cnts, b->m);
    uint32_t cc = 0, ct = 1, m = 0;
    int v = 0;
    while (ct > 0) {
        uint32_t c = ra.left < rb.left ? ra.left : rb.left;
        cc += c;
        ct = run_advance(&ra, c);
        ct += run_advance(&rb, c);
        int vp = v;
        v = ra.value || rb.value;
        if (v != vp || ct == 0) {
            out[m++] = cc;
            cc = 0;
        }
    }
    return m;
}

int coco_rle_union(const coco_rle *masks, size_t n, coco_rle *out)
{
    /* The union has at most as many runs as its parts together (maskApi.c allocates
     * h * w + 1, which a hostile size would make huge). */
    size_t cap = 1;
    for (size_t i = 0; i < n; i++)
        cap += masks[i].m;
    uint32_t m = masks[0].m;
    uint32_t *cnts = malloc(cap * sizeof *cnts), *next = malloc(cap * sizeof *next);
    if (!cnts || !next) {
        free(cnts);
        free(next);
        return -1;
    }
    memcpy(cnts, masks[0].cnts, (size_t)m * sizeof *cnts);
    for (size_t i = 1; i < n; i++) {
        m = union_two(cnts, m, &masks[i], next);
        uint32_t *t = cnts; cnts = next; next = t;
    }
    free(next);
    out->h = masks[0].h;
    out->w = masks[0].w;
    out->m = m;
    out->cnts = cnts;
    return 0;
}

uint64_t coco_rle_area(const coco_rle *r)
{
    uint64_t a = 0;
    for (uint32_t j = 1; j < r->m; j += 2)
        a += r->cnts[j];
    return a;
}

void coco_rle_decode(const coco_rle *r, uint8_t *mask)
{
    size_t at = 0;   /* the position in column-major order */
    for (uint32_t j = 0; j < r->m; j++)
        for (uint32_t n = 0; n < r->cnts[j]; n++, at++)
            mask[(at % r->h) * r->w + at / r->h] = (uint8_t)(j & 1);
}

void coco_rle_box(const coco_rle *r, double box[4])
{
    uint32_t h = r->h, m = r->m / 2 * 2;
    uint32_t xs = r->w, ys = h, xe = 0, ye = 0, cc = 0, xp = 0;
    if (m == 0) {
        box[0] = box[1] = box[2] = box[3] = 0;
        return;
    }
    for (uint32_t j = 0; j < m; j++) {
        cc += r->cnts[j];
        uint32_t t = cc - j % 2, y = t % h, x = (t - y) / h;
        if (j % 2 == 0)
            xp = x;
        else if (xp < x) {
            ys = 0;
            ye = h - 1;
        }
        if (x < xs) xs = x;
        if (x > xe) xe = x;
        if (y < ys) ys = y;
        if (y > ye) ye = y;
    }
    box[0] = xs;
    box[2] = xe - xs + 1;
    box[1] = ys;
    box[3] = ye - ys + 1;
}

double coco_box_iou(const double dt[4], const double gt[4], int crowd)
{
    double ga = gt[2] * gt[3], da = dt[2] * dt[3];
    double w = fmin(dt[2] + dt[0], gt[2] + gt[0]) - fmax(dt[0], gt[0]);
    if (w <= 0)
        return 0;
    double h = fmin(dt[3] + dt[1], gt[3] + gt[1]) - fmax(dt[1], gt[1]);
    if (h <= 0)
        return 0;
    double i = w * h, u = crowd ? da : da + ga - i;
    return i / u;
}

double coco_rle_iou(const coco_rle *dt, const double dt_box[4], const coco_rle *gt,
                    const double gt_box[4], int crowd)
{
    if (!(coco_box_iou(dt_box, gt_box, crowd) > 0))
        return 0;
    if (dt->h != gt->h || dt->w != gt->w)
        return -1;
    if (dt->m == 0 || gt->m == 0)
        return 0;
    run_cursor ra = run_start(dt->cnts, dt->m), rb = run_start(gt->cnts, gt->m);
    uint32_t ct = 1, i = 0, u = 0;
    while (ct > 0) {
        uint32_t c = ra.left < rb.left ? ra.left : rb.left;
        if (ra.value || rb.value) {
            u += c;
            if (ra.value && rb.value)
                i += c;
        }
        ct = run_advance(&ra, c);
        ct += run_advance(&rb, c);
    }
    if (i == 0)
        u = 1;
    else if (crowd)
        u = (uint32_t)coco_rle_area(dt);
    return (double)i / (double)u;
}
