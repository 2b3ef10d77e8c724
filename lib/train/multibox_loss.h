/* The official MultiBoxLoss (layers/modules/multibox_loss.py) for the YOLACT configurations,
 * with its gradient with respect to the network's outputs: match the priors to each image's
 * ground truth, then B (smooth-L1 boxes), C (cross-entropy with hard negative mining),
 * M (the linear-combination masks) and S (semantic segmentation), B, C and M divided by the
 * batch's positive priors, S by the batch size. */
#ifndef YL_TRAIN_MULTIBOX_LOSS_H
#define YL_TRAIN_MULTIBOX_LOSS_H

#include "train/ground_truth.h"
#include "train/loss_config.h"

/* The network's shapes, one image. */
typedef struct yl_loss_dims {
    const float *priors;       /* (num_priors, 4) cx, cy, w, h */
    int num_priors;
    int num_classes;           /* with the background */
    int num_prototypes;
    int proto_h, proto_w;
    int segm_h, segm_w;        /* the semantic map (P3's size); 0: no S term */
} yl_loss_dims;

/* One image's network outputs as the training forward keeps them (row-major, float32):
 *   loc   (num_priors, 4)               raw box offsets
 *   conf  (num_priors, num_classes)     class LOGITS (no softmax)
 *   coeff (num_priors, num_prototypes)  mask coefficients after tanh
 *   proto (proto_h, proto_w, num_prototypes) prototypes after their ReLU
 *   segm  (num_classes - 1, segm_h, segm_w) semantic_seg_conv's logits on P3; NULL: no S
 * The gradients of the total with respect to them have the same layouts. */
typedef struct yl_loss_outputs {
    const float *loc, *conf, *coeff, *proto, *segm;
} yl_loss_outputs;

typedef struct yl_loss_grads {
    float *loc, *conf, *coeff, *proto, *segm;
} yl_loss_grads;

typedef struct yl_losses {
    double B, C, M, S, total;
    int num_positives;         /* the batch's positive priors, the divisor of B, C and M */
} yl_losses;

/* The loss of a batch: out[b] and gt[b] for each of batch images (gt: yl_gt_prepare's, its
 * masks at the network's input resolution). With no positive prior in the batch B, C and M
 * are 0 (the official divides 0 by 0). With grads (batch entries; may be NULL): each buffer
 * is overwritten with d total / d output (segm: only when out[b].segm is given).
 * cfg->seed starts the masks_to_train sampling stream. YOLACT_ERR_OUT_OF_MEMORY is the only
 * failure. */
yolact_status yl_multibox_loss(const yl_loss_config *cfg, const yl_loss_dims *dims, int batch,
                               const yl_loss_outputs *out, const yl_gt *gt, yl_losses *losses,
                               const yl_loss_grads *grads);

#endif
