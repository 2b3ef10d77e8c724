/* The two row-scalings between the parameters the ops hold (frozen BatchNorm folded into
 * the convolution's weight, a scale per output channel) and the state dict's that training
 * optimises: a gradient unfolded (yl_trainable_unfold_grad), a weight folded again
 * (yl_fold_batchnorm). The CPU references of their kernels (yl_grad_kernels.h). */
#ifndef YL_TRAIN_PARAM_FOLD_H
#define YL_TRAIN_PARAM_FOLD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* in and out (rows, per_row): v = in[r][j] * scale[r] in float (scale NULL: 1), with add
 * v = out[r][j] + v (out + in · scale, two roundings); out[r][j] = v * factor. A folded
 * gradient to the state dict's, with add and factor a sub-batch's added to the step's and
 * the sum averaged as the trainer's host path does (factor 1 changes nothing). */
void yl_scale_rows(const float *in, size_t rows, size_t per_row, const float *scale, int add,
                   float factor, float *out);

/* in and out (rows, per_row): out[r][j] = (float)(in[r][j] · scale[r]) in double, the
 * weight yl_fold_batchnorm makes; in place allowed. */
void yl_fold_rows(const float *in, size_t rows, size_t per_row, const double *scale,
                  float *out);

#ifdef __cplusplus
}
#endif

#endif
