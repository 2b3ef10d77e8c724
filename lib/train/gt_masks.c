/* Ground-truth masks downsampled and binarised (gt_masks.h). */
#include "train/gt_masks.h"

#include <stdlib.h>

#include "ops/bilinear.h"
#include "status.h"

yolact_status yl_gt_masks_downsample(const uint8_t *const *masks, int n, int in_h, int in_w,
                                     int out_h, int out_w, uint8_t *out)
{
    int *xi = malloc(2 * ((size_t)out_w + out_h) * sizeof *xi);
    float *xw = malloc(2 * ((size_t)out_w + out_h) * sizeof *xw);
    if (!xi || !xw) {
        free(xi);
        free(xw);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for mask tables");
    }
    int *x0 = xi, *x1 = xi + out_w, *y0 = xi + 2 * out_w, *y1 = y0 + out_h;
    float *wx0 = xw, *wx1 = xw + out_w, *wy0 = xw + 2 * out_w, *wy1 = wy0 + out_h;
    yl_bilinear_axis(in_w, out_w, x0, x1, wx0, wx1);
    yl_bilinear_axis(in_h, out_h, y0, y1, wy0, wy1);
    for (int i = 0; i < n; i++) {
        const uint8_t *m = masks[i];
        uint8_t *o = out + (size_t)i * out_h * out_w;
        for (int y = 0; y < out_h; y++) {
            const uint8_t *r0 = m + (size_t)y0[y] * in_w, *r1 = m + (size_t)y1[y] * in_w;
            for (int x = 0; x < out_w; x++) {
                float a = r0[x0[x]] != 0, b = r0[x1[x]] != 0, c = r1[x0[x]] != 0,
                      d = r1[x1[x]] != 0;
                float v = (a * wx0[x] + b * wx1[x]) * wy0[y] + (c * wx0[x] + d * wx1[x]) * wy1[y];
                o[(size_t)y * out_w + x] = v > 0.5f;
            }
        }
    }
    free(xi);
    free(xw);
    return YOLACT_OK;
}
