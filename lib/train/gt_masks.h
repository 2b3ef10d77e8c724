/* Ground-truth masks at a loss's resolution, as the official loss makes them:
 * F.interpolate(bilinear, align_corners=False) of the 0/1 masks, then > 0.5. */
#ifndef YL_TRAIN_GT_MASKS_H
#define YL_TRAIN_GT_MASKS_H

#include <stdint.h>

#include "yolact.h"

/* Each of n masks (in_h, in_w) bytes (nonzero = 1) -> out (n, out_h, out_w) bytes 0/1,
 * interpolated with the axis tables of ops/bilinear.h and the same float32 expression as
 * the CPU resize. YOLACT_ERR_OUT_OF_MEMORY for the tables is the only failure. */
yolact_status yl_gt_masks_downsample(const uint8_t *const *masks, int n, int in_h, int in_w,
                                     int out_h, int out_w, uint8_t *out);

#endif
