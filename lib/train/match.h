/* The official prior matching (layers/box_utils.py's match, point-form priors): which
 * ground truth each prior learns from, and whether it is positive, neutral or background. */
#ifndef YL_TRAIN_MATCH_H
#define YL_TRAIN_MATCH_H

#include "train/ground_truth.h"
#include "train/loss_config.h"

/* For each of num_priors priors (cx, cy, w, h): idx[p] the ground truth it matches (its
 * highest IoU; but every object first takes its own best prior, the highest overlaps first)
 * and conf[p] its class target: label + 1 when the IoU >= pos_threshold (or forced), -1
 * (neutral) between the thresholds, 0 (background) below neg_threshold; a non-positive
 * prior that a crowd box covers more than crowd_iou_threshold (intersection / the prior's
 * area) is neutral. With no objects every prior is background (idx 0).
 * IoU in float32 as the official computes it; ties go to the lower index (torch's max).
 * YOLACT_ERR_OUT_OF_MEMORY for the (objects, priors) overlaps is the only failure. */
yolact_status yl_match(const yl_loss_config *cfg, const float *priors, int num_priors,
                       const yl_gt *gt, int *conf, int *idx);

/* The official encode with variances 0.1 (centre) and 0.2 (size): the regression target of a
 * prior (cx, cy, w, h) for a box (x1, y1, x2, y2), in float32 as torch computes it. */
void yl_box_encode(const float box[4], const float prior[4], float out[4]);

#endif
