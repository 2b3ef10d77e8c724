/* The box term of the official loss: smooth-L1 between the predicted offsets of the positive
 * priors and their matched boxes' encodings (match.h's yl_box_encode). */
#ifndef YL_TRAIN_BOX_LOSS_H
#define YL_TRAIN_BOX_LOSS_H

#include "train/ground_truth.h"

/* sum over priors with conf[p] > 0 of smooth_l1(loc[p] - encode(gt box idx[p], prior p)),
 * beta 1. loc, priors: (num_priors, 4). With grad (num_priors, 4): grad += scale * d/dloc
 * (zero rows elsewhere are left as they are). Returns the unscaled sum. */
double yl_box_loss(const float *loc, const float *priors, int num_priors, const int *conf,
                   const int *idx, const yl_gt *gt, float scale, float *grad);

#endif
