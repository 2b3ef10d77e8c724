/* BatchNorm's backward passes (grad_ops.h): frozen (folded: a per-channel scale) and
 * trainable (batch statistics, with its forward, which inference never runs: there BN is
 * folded into the convolutions). Statistics are summed in double: a channel holds up to
 * batch·H·W values (8·275·275 in ResNet's stem), too many for a float sum's error. */
#include <math.h>

#include "cpu/grad_ops.h"

void yl_batchnorm_frozen_backward_cpu(const float *scale, size_t outer, int channels,
                                      size_t inner, const float *grad_out, float *grad_in)
{
#pragma omp parallel for collapse(2) schedule(static) if (outer * channels * inner > 65536)
    for (size_t o = 0; o < outer; o++)
        for (int c = 0; c < channels; c++) {
            size_t base = (o * channels + c) * inner;
            for (size_t i = 0; i < inner; i++)
                grad_in[base + i] = grad_out[base + i] * scale[c];
        }
}

void yl_batchnorm_train_forward_cpu(const float *in, int batch, int channels, size_t hw,
                                    const float *gamma, const float *beta, float eps,
                                    float momentum, float *running_mean, float *running_var,
                                    float *out, float *save_mean, float *save_invstd)
{
    const double m = (double)batch * hw;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < channels; c++) {
        double sum = 0.0, sq = 0.0;
        for (int b = 0; b < batch; b++) {
            const float *x = in + ((size_t)b * channels + c) * hw;
            for (size_t i = 0; i < hw; i++)
                sum += x[i];
        }
        const double mean = sum / m;
        for (int b = 0; b < batch; b++) {
            const float *x = in + ((size_t)b * channels + c) * hw;
            for (size_t i = 0; i < hw; i++)
                sq += (x[i] - mean) * (x[i] - mean);
        }
        const double var = sq / m;
        const float invstd = (float)(1.0 / sqrt(var + eps));
        save_mean[c] = (float)mean;
        save_invstd[c] = invstd;
        if (running_mean && running_var) {
            running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mean);
            double unbiased = m > 1.0 ? sq / (m - 1.0) : var;
            running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
        }
        const float scale = gamma[c] * invstd, shift = beta[c] - (float)mean * scale;
        for (int b = 0; b < batch; b++) {
            const float *x = in + ((size_t)b * channels + c) * hw;
            float *y = out + ((size_t)b * channels + c) * hw;
            for (size_t i = 0; i < hw; i++)
                y[i] = x[i] * scale + shift;
        }
    }
}

void yl_batchnorm_train_backward_cpu(const float *in, const float *grad_out, int batch,
                                     int channels, size_t hw, const float *gamma,
                                     const float *save_mean, const float *save_invstd,
                                     float *grad_in, float *grad_gamma, float *grad_beta)
{
    const double m = (double)batch * hw;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < channels; c++) {
        const double mean = save_mean[c], invstd = save_invstd[c];
        double sum_g = 0.0, sum_gx = 0.0;  /* Σ dy, Σ dy·x̂ */
        for (int b = 0; b < batch; b++) {
            size_t base = ((size_t)b * channels + c) * hw;
            for (size_t i = 0; i < hw; i++) {
                sum_g += grad_out[base + i];
                sum_gx += grad_out[base + i] * ((in[base + i] - mean) * invstd);
            }
        }
        grad_beta[c] += (float)sum_g;
        grad_gamma[c] += (float)sum_gx;
        const double k = gamma[c] * invstd, mean_g = sum_g / m, mean_gx = sum_gx / m;
        for (int b = 0; b < batch; b++) {
            size_t base = ((size_t)b * channels + c) * hw;
            for (size_t i = 0; i < hw; i++) {
                double xhat = (in[base + i] - mean) * invstd;
                grad_in[base + i] = (float)(k * (grad_out[base + i] - mean_g - xhat * mean_gx));
            }
        }
    }
}
