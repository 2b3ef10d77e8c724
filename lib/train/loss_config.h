/* The settings of the official MultiBoxLoss that a YOLACT configuration (data/config.py)
 * chooses, per preset, and this library's options beside them (the mask term's form, how
 * masks_to_train picks its sample). */
#ifndef YL_TRAIN_LOSS_CONFIG_H
#define YL_TRAIN_LOSS_CONFIG_H

#include <stdint.h>

/* The mask term's per-pixel loss. */
typedef enum yl_mask_loss_kind {
    /* As the official float32 step: p = sigmoid(x) in float32, then torch's
     * binary_cross_entropy, whose log clamps at -100: a pixel whose p rounds to 1.0 (x above
     * about 16.6) with target 0 adds exactly 100 and gets no gradient. */
    YL_MASK_LOSS_BCE_OFFICIAL = 0,
    /* BCE from the logits, max(x, 0) - x t + log1p(exp(-|x|)): no saturation. On the parity
     * batch M = 23.40 (official 36.37); the reference set's README quotes 24.14, which is the
     * official BCE in float64: that still saturates, above a logit of about 36.7. */
    YL_MASK_LOSS_BCE_STABLE,
    /* Dice per mask, 1 - (2 sum(p t) + 1) / (sum p + sum t + 1) over the cropped p. */
    YL_MASK_LOSS_DICE
} yl_mask_loss_kind;

/* Which positives the mask term uses when an image has more than masks_to_train. */
typedef enum yl_mask_sampling {
    YL_MASK_SAMPLE_RANDOM = 0, /* the official: a random subset (splitmix64 from seed) */
    YL_MASK_SAMPLE_ALL         /* every positive: deterministic (the parity reference's) */
} yl_mask_sampling;

typedef struct yl_loss_config {
    float pos_threshold;       /* IoU >= this: positive */
    float neg_threshold;       /* IoU < this: background; between: neutral */
    float crowd_iou_threshold; /* a non-positive covered more than this by a crowd box is
                                  neutral; >= 1: crowds unused */
    int negpos_ratio;          /* hard negatives per positive */
    float bbox_alpha, conf_alpha, mask_alpha, semantic_segmentation_alpha;
    int masks_to_train;
    yl_mask_sampling mask_sampling;
    uint64_t seed;             /* YL_MASK_SAMPLE_RANDOM's stream; change it every step */
    yl_mask_loss_kind mask_loss;
} yl_loss_config;

/* yolact_base's settings (every YOLACT and YOLACT++ preset shares them but masks_to_train):
 * pos 0.5, neg 0.4, crowd 0.7, 3:1, alphas 1.5 / 1 / 6.125 / 1, 100 masks. */
#define YL_LOSS_CONFIG_YOLACT(masks)                                                       \
    {.pos_threshold = 0.5f, .neg_threshold = 0.4f, .crowd_iou_threshold = 0.7f,            \
     .negpos_ratio = 3, .bbox_alpha = 1.5f, .conf_alpha = 1.0f, .mask_alpha = 6.125f,       \
     .semantic_segmentation_alpha = 1.0f, .masks_to_train = (masks),                       \
     .mask_sampling = YL_MASK_SAMPLE_RANDOM, .seed = 0, .mask_loss = YL_MASK_LOSS_BCE_OFFICIAL}

#endif
