/* compare.py's matching and gate: reference detections in descending score order each take
 * the unmatched detection of ours with the same class and the highest box IoU (>= 0.5; ties:
 * the closer score). Ours are taken as the CLI writes them: integer boxes, zero-area boxes
 * dropped. */
#include "parity_gate.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/post_ops.h"
#include "rle.h"

typedef struct ours_det {
    const yolact_detection *d;
    double box[4]; /* x1, y1, x2, y2 integers */
    int used;
} ours_det;

static double box_iou(const double *a, const double *b)
{
    double iw = fmin(a[2], b[2]) - fmax(a[0], b[0]), ih = fmin(a[3], b[3]) - fmax(a[1], b[1]);
    double inter = fmax(iw, 0) * fmax(ih, 0);
    double u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    return u > 0 ? inter / u : 0;
}

static void say(char *report, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(report);
    if (n + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(report + n, cap - n, fmt, ap);
    va_end(ap);
}

/* Mask agreement: IoU (two empty masks: 1) and differing pixels. */
static void mask_compare(const ref_detection *r, const yolact_detection *d, int width,
                         int height, double *iou, long *differ)
{
    size_t stride = ((size_t)width + 7) / 8;
    uint8_t *bits = calloc(stride * (size_t)height, 1);
    long inter = 0, uni = 0;
    *differ = -1;
    *iou = 0;
    if (!bits || yl_rle_decode(r->counts, width, height, bits, stride) != 0) {
        free(bits);
        return;
    }
    *differ = 0;
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            int a = (bits[(size_t)y * stride + x / 8] >> (7 - x % 8)) & 1;
            int b = yolact_mask_at(d, x, y);
            inter += a & b;
            uni += a | b;
            *differ += a != b;
        }
    *iou = uni ? (double)inter / uni : 1.0;
    free(bits);
}

int parity_gate(const ref_detection *ref, int num_ref, const yolact_result *res,
                const parity_tolerance *tol, char *report, size_t cap)
{
    report[0] = '\0';
    ours_det *ours = calloc((size_t)res->count + 1, sizeof *ours);
    int *order = malloc(((size_t)num_ref + 1) * sizeof *order);
    int n = 0, failures = 0;
    for (int i = 0; i < res->count; i++) {
        const yolact_detection *d = &res->detections[i];
        double b[4] = {(long)d->x1, (long)d->y1, (long)d->x2, (long)d->y2};
        if ((b[2] - b[0]) * (b[3] - b[1]) <= 0)
            continue;
        ours[n].d = d;
        memcpy(ours[n++].box, b, sizeof b);
    }
    for (int i = 0; i < num_ref; i++)
        order[i] = i;
    for (int i = 1; i < num_ref; i++) /* insertion sort by descending score */
        for (int j = i; j > 0 && ref[order[j]].score > ref[order[j - 1]].score; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    double min_ref = INFINITY;
    for (int i = 0; i < num_ref; i++)
        min_ref = fmin(min_ref, ref[i].score);
    int full_list = num_ref > 0 && min_ref >= tol->min_score;
    double worst_score = 0, worst_box = 0, worst_iou = 1, worst_ms = 0;
    int gated = 0, matched = 0;
    for (int k = 0; k < num_ref; k++) {
        const ref_detection *r = &ref[order[k]];
        double rb[4] = {r->bbox[0], r->bbox[1], r->bbox[0] + r->bbox[2], r->bbox[1] + r->bbox[3]};
        int best = -1;
        double best_iou = 0, best_sd = 0;
        for (int j = 0; j < n; j++) {
            if (ours[j].used || ours[j].d->class_index != r->category_id)
                continue;
            double iou = box_iou(rb, ours[j].box), sd = fabs(ours[j].d->score - r->score);
            if (iou >= 0.5 && (best < 0 || iou > best_iou || (iou == best_iou && sd < best_sd))) {
                best = j;
                best_iou = iou;
                best_sd = sd;
            }
        }
        int is_gated = r->score >= tol->min_score;
        gated += is_gated;
        if (best < 0) {
            if (is_gated && !(full_list && r->score < min_ref + tol->score)) {
                failures++;
                say(report, cap, "unmatched reference #%d: class %d score %.5f bbox [%g %g %g %g]\n",
                    order[k], r->category_id, r->score, r->bbox[0], r->bbox[1], r->bbox[2], r->bbox[3]);
            }
            continue;
        }
        ours[best].used = 1;
        matched++;
        if (!is_gated)
            continue;
        const yolact_detection *d = ours[best].d;
        double be = 0, iou;
        long differ;
        for (int c = 0; c < 4; c++)
            be = fmax(be, fabs(ours[best].box[c] - rb[c]));
        mask_compare(r, d, res->width, res->height, &iou, &differ);
        double ms = r->mask_score >= 0
                        ? fabs(d->mask_score - r->mask_score) / fmax(fabs(r->mask_score), 1e-3)
                        : 0;
        worst_score = fmax(worst_score, best_sd);
        worst_box = fmax(worst_box, be);
        worst_iou = fmin(worst_iou, iou);
        worst_ms = fmax(worst_ms, ms);
        int bad_mask = differ < 0 || (iou < tol->mask_iou && differ > tol->mask_px);
        if (best_sd > tol->score || be > tol->box_px || bad_mask || ms > tol->mask_score_rel) {
            failures++;
            say(report, cap, "reference #%d class %d: score %.6f vs ours %.6f, box [%g %g %g %g] vs "
                "[%g %g %g %g], mask IoU %.4f (%ld px differ), mask_score rel diff %.3g\n",
                order[k], r->category_id, r->score, d->score, rb[0], rb[1], rb[2], rb[3],
                ours[best].box[0], ours[best].box[1], ours[best].box[2], ours[best].box[3], iou,
                differ, ms);
        }
    }
    double extra_floor = full_list ? min_ref + tol->score : tol->min_score + tol->score;
    for (int j = 0; j < n; j++)
        if (!ours[j].used && ours[j].d->score >= fmax(extra_floor, tol->min_score + tol->score)) {
            failures++;
            say(report, cap, "extra detection of ours: class %d score %.5f box [%g %g %g %g]\n",
                ours[j].d->class_index, ours[j].d->score, ours[j].box[0], ours[j].box[1],
                ours[j].box[2], ours[j].box[3]);
        }
    say(report, cap, "reference %d (gated %d), ours %d, matched %d; worst gated: |score diff| "
        "%.3g, box corner %.3g px, mask IoU %.5f, mask_score rel %.3g\n", num_ref, gated, n,
        matched, worst_score, worst_box, worst_iou, worst_ms);
    free(ours);
    free(order);
    return failures == 0;
}
