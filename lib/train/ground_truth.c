/* Checking and ordering a training image's ground truth (ground_truth.h). */
#include "train/ground_truth.h"

#include <math.h>
#include <stdlib.h>

#include "status.h"

static float clip01(float v)
{
    return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
}

/* The box of object i ordered and clipped into out, or a status saying why it cannot be. */
static yolact_status checked_box(const float in[4], int i, float out[4])
{
    for (int d = 0; d < 4; d++)
        if (!isfinite(in[d]))
            return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                           "ground truth object %d: box coordinate %d is not finite", i, d);
    for (int d = 0; d < 2; d++) {
        float lo = fminf(in[d], in[d + 2]), hi = fmaxf(in[d], in[d + 2]);
        out[d] = clip01(lo);
        out[d + 2] = clip01(hi);
        if (!(out[d + 2] > out[d]))
            return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                           "ground truth object %d: box (%g, %g, %g, %g) has no area inside the "
                           "image", i, in[0], in[1], in[2], in[3]);
    }
    return YOLACT_OK;
}

yolact_status yl_gt_prepare(const yl_gt_object *objects, int count, int mask_h, int mask_w,
                            int num_classes, yl_gt *gt)
{
    *gt = (yl_gt){0};
    if (count < 0 || (count > 0 && !objects))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "ground truth: %d objects at %p", count,
                       (const void *)objects);
    if (mask_h < 1 || mask_w < 1)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "ground truth: mask size %dx%d", mask_w,
                       mask_h);
    gt->mask_h = mask_h;
    gt->mask_w = mask_w;
    gt->boxes = malloc(((size_t)count * 4 + 1) * sizeof *gt->boxes);
    gt->labels = malloc(((size_t)count + 1) * sizeof *gt->labels);
    gt->masks = malloc(((size_t)count + 1) * sizeof *gt->masks);
    if (!gt->boxes || !gt->labels || !gt->masks) {
        yl_gt_free(gt);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for %d objects", count);
    }
    /* Two passes: non-crowd objects, then crowds, each in the caller's order. */
    for (int crowd = 0; crowd < 2; crowd++)
        for (int i = 0; i < count; i++) {
            const yl_gt_object *o = &objects[i];
            if ((o->crowd != 0) != crowd)
                continue;
            int at = gt->num_objects + gt->num_crowds;
            yolact_status s = checked_box(o->box, i, gt->boxes + (size_t)at * 4);
            if (s == YOLACT_OK && !crowd && (o->label < 0 || o->label > num_classes - 2))
                s = yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                            "ground truth object %d: label %d is outside 0..%d", i, o->label,
                            num_classes - 2);
            if (s == YOLACT_OK && !crowd && !o->mask)
                s = yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "ground truth object %d: no mask", i);
            if (s != YOLACT_OK) {
                yl_gt_free(gt);
                return s;
            }
            if (crowd) {
                gt->num_crowds++;
            } else {
                gt->labels[at] = o->label;
                gt->masks[at] = o->mask;
                gt->num_objects++;
            }
        }
    return YOLACT_OK;
}

void yl_gt_free(yl_gt *gt)
{
    free(gt->boxes);
    free(gt->labels);
    free((void *)gt->masks);
    *gt = (yl_gt){0};
}
