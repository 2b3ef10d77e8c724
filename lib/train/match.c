/* Prior matching and box encoding (match.h). */
#include "train/match.h"

#include <math.h>
#include <stdlib.h>

#include "status.h"

/* The prior's point form, as point_form: (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2). */
static void point_form(const float prior[4], float out[4])
{
    out[0] = prior[0] - prior[2] / 2;
    out[1] = prior[1] - prior[3] / 2;
    out[2] = prior[0] + prior[2] / 2;
    out[3] = prior[1] + prior[3] / 2;
}

static float intersection(const float a[4], const float b[4])
{
    float w = fminf(a[2], b[2]) - fmaxf(a[0], b[0]);
    float h = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);
    return (w > 0 ? w : 0) * (h > 0 ? h : 0);
}

static float area(const float a[4])
{
    return (a[2] - a[0]) * (a[3] - a[1]);
}

yolact_status yl_match(const yl_loss_config *cfg, const float *priors, int num_priors,
                       const yl_gt *gt, int *conf, int *idx)
{
    const int n = gt->num_objects, P = num_priors;
    float *overlaps = malloc(((size_t)n * P + 1) * sizeof *overlaps);
    float *best = malloc(((size_t)P + 1) * sizeof *best);
    if (!overlaps || !best) {
        free(overlaps);
        free(best);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory matching %d objects to %d priors",
                       n, P);
    }
    /* overlaps (n, P): IoU = inter / (area_a + area_b - inter), as jaccard. */
    for (int p = 0; p < P; p++) {
        float pf[4];
        point_form(priors + (size_t)p * 4, pf);
        best[p] = -INFINITY;
        idx[p] = 0;
        for (int j = 0; j < n; j++) {
            const float *t = gt->boxes + (size_t)j * 4;
            float inter = intersection(t, pf);
            float iou = inter / (area(t) + area(pf) - inter);
            overlaps[(size_t)j * P + p] = iou;
            if (iou > best[p]) {
                best[p] = iou;
                idx[p] = j;
            }
        }
    }
    /* Every object keeps its best prior: n rounds, each taking the highest overlap left. */
    for (int round = 0; round < n; round++) {
        int bj = 0;
        size_t bi = 0;
        float bv = -INFINITY;
        for (int j = 0; j < n; j++)
            for (int p = 0; p < P; p++) {
                float v = overlaps[(size_t)j * P + p];
                if (v > bv) {
                    bv = v;
                    bj = j;
                    bi = (size_t)p;
                }
            }
        for (int j = 0; j < n; j++)
            overlaps[(size_t)j * P + bi] = -1;
        for (int p = 0; p < P; p++)
            overlaps[(size_t)bj * P + p] = -1;
        best[bi] = 2;
        idx[bi] = bj;
    }
    for (int p = 0; p < P; p++) {
        conf[p] = n > 0 ? gt->labels[idx[p]] + 1 : 0;
        if (!(best[p] >= cfg->pos_threshold))
            conf[p] = -1;
        if (!(best[p] >= cfg->neg_threshold))
            conf[p] = 0;
        if (conf[p] > 0 || gt->num_crowds == 0 || !(cfg->crowd_iou_threshold < 1))
            continue;
        /* Crowd overlap: intersection over the prior's area (jaccard's iscrowd). */
        float pf[4], crowd = -INFINITY;
        point_form(priors + (size_t)p * 4, pf);
        for (int c = 0; c < gt->num_crowds; c++) {
            float v = intersection(pf, gt->boxes + (size_t)(n + c) * 4) / area(pf);
            crowd = v > crowd ? v : crowd;
        }
        if (crowd > cfg->crowd_iou_threshold)
            conf[p] = -1;
    }
    free(overlaps);
    free(best);
    return YOLACT_OK;
}

void yl_box_encode(const float box[4], const float prior[4], float out[4])
{
    for (int d = 0; d < 2; d++) {
        out[d] = ((box[d] + box[d + 2]) / 2 - prior[d]) / (0.1f * prior[d + 2]);
        out[d + 2] = logf((box[d + 2] - box[d]) / prior[d + 2]) / 0.2f;
    }
}
