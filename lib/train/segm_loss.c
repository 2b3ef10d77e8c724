/* The semantic segmentation term (segm_loss.h). */
#include "train/segm_loss.h"

#include <math.h>
#include <stddef.h>

double yl_segm_loss(const float *logits, int classes, int h, int w, const yl_gt *gt,
                    const uint8_t *gt_masks, float scale, float *grad)
{
    const size_t hw = (size_t)h * w;
    double sum = 0;
    for (int c = 0; c < classes; c++)
        for (size_t i = 0; i < hw; i++) {
            int t = 0;
            for (int j = 0; j < gt->num_objects && !t; j++)
                t = gt->labels[j] == c && gt_masks[(size_t)j * hw + i];
            double x = logits[(size_t)c * hw + i], e = exp(-fabs(x));
            sum += (x > 0 ? x : 0) - x * t + log1p(e);
            if (grad)
                grad[(size_t)c * hw + i] +=
                    scale * (float)((x >= 0 ? 1 / (1 + e) : e / (1 + e)) - t);
        }
    return sum;
}
