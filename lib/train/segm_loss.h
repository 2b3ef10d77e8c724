/* The semantic segmentation term of the official loss: per class, BCE-with-logits of the
 * semantic_seg_conv's map on P3 against the union of that class's ground-truth masks. */
#ifndef YL_TRAIN_SEGM_LOSS_H
#define YL_TRAIN_SEGM_LOSS_H

#include <stdint.h>

#include "train/ground_truth.h"

/* logits (classes, h, w), classes = the network's classes less the background; gt_masks
 * (gt->num_objects, h, w) 0/1 (gt_masks.h at (h, w)). Returns the summed BCE-with-logits
 * over every class and pixel; with grad (classes, h, w): += scale * (sigmoid - target). */
double yl_segm_loss(const float *logits, int classes, int h, int w, const yl_gt *gt,
                    const uint8_t *gt_masks, float scale, float *grad);

#endif
