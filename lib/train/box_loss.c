/* The smooth-L1 box term (box_loss.h). */
#include "train/box_loss.h"

#include <math.h>

#include "train/match.h"

double yl_box_loss(const float *loc, const float *priors, int num_priors, const int *conf,
                   const int *idx, const yl_gt *gt, float scale, float *grad)
{
    double sum = 0;
    for (int p = 0; p < num_priors; p++) {
        if (conf[p] <= 0)
            continue;
        float target[4];
        yl_box_encode(gt->boxes + (size_t)idx[p] * 4, priors + (size_t)p * 4, target);
        for (int d = 0; d < 4; d++) {
            float diff = loc[(size_t)p * 4 + d] - target[d];
            float a = fabsf(diff);
            sum += a < 1.0f ? 0.5 * (double)diff * diff : (double)a - 0.5;
            if (grad)
                grad[(size_t)p * 4 + d] +=
                    scale * (a < 1.0f ? diff : diff > 0 ? 1.0f : -1.0f);
        }
    }
    return sum;
}
