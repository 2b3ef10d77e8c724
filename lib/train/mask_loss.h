/* The mask term of the official loss (lincomb_mask_loss with the YOLACT configurations'
 * settings): for each positive prior, the mask sigmoid(proto . coeff) cropped to its matched
 * object's box (padding 1), its loss against the object's downsampled ground truth. */
#ifndef YL_TRAIN_MASK_LOSS_H
#define YL_TRAIN_MASK_LOSS_H

#include <stdint.h>

#include "train/ground_truth.h"
#include "train/loss_config.h"
#include "yolact.h"

/* One image's inputs. */
typedef struct yl_mask_loss_image {
    const float *proto;        /* (h, w, k): the prototypes after their ReLU */
    const float *coeff;        /* (num_priors, k): the coefficients after tanh */
    const int *conf, *idx;     /* match.h's targets */
    const yl_gt *gt;
    const uint8_t *gt_masks;   /* (gt->num_objects, h, w) 0/1: gt_masks.h at (h, w) */
    int num_priors, k, h, w;
} yl_mask_loss_image;

/* *loss = the image's share of M before the division by the batch's positives:
 *   BCE (either form): mask_alpha / (h w) * sum over masks of
 *                      [sum of pixel losses] / (box_w w) / (box_h h) * (h w)
 *   Dice:              mask_alpha * sum over masks of the Dice loss
 * times positives / masks used when masks_to_train cut the positives (*rng: the
 * splitmix64 state YL_MASK_SAMPLE_RANDOM draws from, advanced). With grad_coeff
 * (num_priors, k) and grad_proto (h, w, k): += scale * the gradient.
 * YOLACT_ERR_OUT_OF_MEMORY for one mask's logits is the only failure. */
yolact_status yl_mask_loss(const yl_loss_config *cfg, const yl_mask_loss_image *in,
                           uint64_t *rng, float scale, float *grad_coeff, float *grad_proto,
                           double *loss);

/* splitmix64: the next value of the stream at *state. */
uint64_t yl_splitmix64(uint64_t *state);

#endif
