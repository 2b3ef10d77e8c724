/* The matching of evaluateImg, step for step: ground truths ordered with the ignored ones
 * last (a stable sort, as NumPy's mergesort), each detection takes the best IoU at or above
 * the threshold among the ground truths still free (a crowd stays free), and stops at the
 * first ignored one once it holds one in range; ties in IoU go to the later ground truth. */
#include "coco_match.h"

#include <stdlib.h>
#include <string.h>

int coco_match_scratch_reserve(coco_match_scratch *s, size_t g)
{
    if (g <= s->capacity && s->order)
        return 0;
    g = g ? g : 1;      /* never NULL, even for an image without ground truth */
    coco_match_scratch_free(s);
    s->order = malloc(g * sizeof *s->order);
    s->ignore = malloc(g);
    s->taken = malloc(g * COCO_T);
    s->capacity = g;
    if (s->order && s->ignore && s->taken)
        return 0;
    coco_match_scratch_free(s);
    return -1;
}

void coco_match_scratch_free(coco_match_scratch *s)
{
    free(s->order);
    free(s->ignore);
    free(s->taken);
    memset(s, 0, sizeof *s);
}

/* The ground truth the detection d takes at threshold t, as a position in s->order, or -1. */
static long best_match(const coco_object *const *gts, size_t ng, const double *iou_row,
                       double threshold, const coco_match_scratch *s, const uint8_t *taken)
{
    double iou = threshold < 1 - 1e-10 ? threshold : 1 - 1e-10;
    long m = -1;
    for (size_t j = 0; j < ng; j++) {
        size_t g = s->order[j];
        if (taken[j] && !gts[g]->crowd)
            continue;
        if (m > -1 && !s->ignore[s->order[m]] && s->ignore[g])
            break;
        if (iou_row[g] < iou)
            continue;
        iou = iou_row[g];
        m = (long)j;
    }
    return m;
}

size_t coco_match_image(const coco_object *const *gts, size_t ng, const coco_object *const *dts,
                        size_t nd, const double *ious, double lo, double hi,
                        coco_match_scratch *s, uint8_t *flags)
{
    size_t in_range = 0, n = 0;
    for (size_t g = 0; g < ng; g++) {
        s->ignore[g] = gts[g]->crowd || gts[g]->area < lo || gts[g]->area > hi;
        in_range += !s->ignore[g];
    }
    for (int pass = 0; pass < 2; pass++)
        for (size_t g = 0; g < ng; g++)
            if (s->ignore[g] == pass)
                s->order[n++] = g;
    memset(s->taken, 0, ng * COCO_T);
    memset(flags, 0, nd * COCO_T);
    for (int t = 0; t < COCO_T; t++) {
        uint8_t *taken = s->taken + (size_t)t * ng;
        double threshold = coco_iou_threshold(t);
        for (size_t d = 0; d < nd; d++) {
            long m = best_match(gts, ng, ious + d * ng, threshold, s, taken);
            uint8_t *f = &flags[d * COCO_T + t];
            if (m >= 0) {
                const coco_object *g = gts[s->order[m]];
                taken[m] = 1;
                *f = (uint8_t)((g->id != 0 ? COCO_MATCHED : 0) |
                               (s->ignore[s->order[m]] ? COCO_IGNORED : 0));
            }
            /* Unmatched (or matched to id 0, which pycocotools cannot tell apart) and out of
             * range: ignored. */
            if (!(*f & COCO_MATCHED) && (dts[d]->area < lo || dts[d]->area > hi))
                *f |= COCO_IGNORED;
        }
    }
    return in_range;
}
