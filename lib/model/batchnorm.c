/* BatchNorm folded into the convolution before it (model.h's yl_fold_batchnorm). */
#include <math.h>

#include "model.h"

void yl_fold_batchnorm(float *weight, float *bias, int out_channels, size_t per_channel,
                       const float *conv_bias, const float *gamma, const float *beta,
                       const float *mean, const float *var, double eps, float *scale_out)
{
    for (int o = 0; o < out_channels; o++) {
        double scale = gamma[o] / sqrt((double)var[o] + eps);
        if (scale_out)
            scale_out[o] = (float)scale;
        for (size_t i = 0; i < per_channel; i++)
            weight[(size_t)o * per_channel + i] = (float)(weight[(size_t)o * per_channel + i] * scale);
        bias[o] = conv_bias ? (float)(beta[o] + ((double)conv_bias[o] - mean[o]) * scale)
                            : (float)(beta[o] - mean[o] * scale);
    }
}
