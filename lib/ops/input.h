/* How the network wants its input (the preset's backbone transform, the official
 * FastBaseTransform): the normalisation and its constants, one copy for every backend. */
#ifndef YL_OPS_INPUT_H
#define YL_OPS_INPUT_H

typedef enum yl_input_norm {
    YL_INPUT_MEAN_STD = 0,   /* ResNet: (x - mean) / std with the BGR means/stds below */
    YL_INPUT_DIV_255         /* DarkNet: x / 255 */
} yl_input_norm;

/* The official config's MEANS and STD, in BGR order: {103.94, 116.78, 123.68} and
 * {57.38, 57.12, 58.40}. */
extern const float yl_input_mean_bgr[3];
extern const float yl_input_std_bgr[3];

#endif
