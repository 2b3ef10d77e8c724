/* The official box sanitize (box_utils.sanitize_coordinates, cast=False), one rule for the
 * masks' crop on every backend (forward and backward) and for the boxes the API returns. */
#ifndef YL_OPS_BOXES_H
#define YL_OPS_BOXES_H

/* In float32, NaN kept as torch.clamp keeps it:
 *   lo = max(min(a, b) * size - padding, 0), hi = min(max(a, b) * size + padding, size).
 * The crop of the masks uses padding 1. */
void yl_sanitize_padded(float a, float b, int size, float padding, float *lo, float *hi);

/* The boxes of the output: padding 0. */
void yl_sanitize_coordinates(float a, float b, int size, float *lo, float *hi);

/* The pixels [*begin, *end) that box_utils.crop (padding 1) keeps along an axis of size
 * pixels for the box edges a, b (relative): integer c with lo <= c < hi. Empty for a NaN. */
void yl_crop_range(float a, float b, int size, int *begin, int *end);

#endif
