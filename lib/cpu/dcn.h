/* Modulated deformable convolution (DCNv2), the 3x3 convolution YOLACT++ puts in its
 * backbone: every kernel tap samples the input bilinearly at a learned offset and is
 * weighted by a learned modulation before the usual weights. The reference of the CUDA
 * kernel (yl_dcn2d_cuda), with its signature less the stream. */
#ifndef YL_CPU_DCN_H
#define YL_CPU_DCN_H

#include <stddef.h>

#include "cpu/dense_ops.h"

/* Floats of scratch yl_dcn2d_cpu needs: the sampled column matrix,
 * (in_channels * kernel_h * kernel_w) x (out_h * out_w). */
size_t yl_dcn2d_workspace_floats(const yl_conv_desc *d, int in_h, int in_w);

/* out = act(dcn(in) + bias) for each of batch (>= 1) images, one after another in in,
 * offset_mask and out, with T = kernel_h * kernel_w taps, tap t = ky * kernel_w + kx:
 *   in:          (batch, in_channels, in_h, in_w)
 *   offset_mask: (batch, 3 * T, out_h, out_w), the raw output of the DCN's offset
 *                convolution: channel 2t = dy and 2t + 1 = dx of tap t (input pixels),
 *                channel 2T + t the modulation logit of tap t (sigmoid applied here)
 *   weight:      (out_channels, in_channels, kernel_h, kernel_w) OIHW (the CPU's packed
 *                form is PyTorch's); bias (out_channels) or NULL
 *   precision:   YOLACT_PRECISION_FP32; any other is refused (YOLACT_ERR_UNSUPPORTED)
 *   out:         (batch, out_channels, out_h, out_w), sizes as for a plain convolution
 *   workspace:   yl_dcn2d_workspace_floats() floats, reused image after image
 * Tap t of output (oy, ox) reads y = oy * stride - pad + ky * dilation + dy,
 * x = ox * stride - pad + kx * dilation + dx, bilinearly from the four neighbours (a
 * neighbour outside the image counts 0; a point at or beyond one pixel outside gives 0),
 * times sigmoid(logit): DCNv2's im2col (and torchvision.ops.deform_conv2d), in float32.
 * The sampled columns go through the same tiled GEMM as the other convolutions.
 * num_threads: 0 = all cores. The reference of yl_dcn2d_cuda: its arguments in its order,
 * the thread count for the stream; nothing is written when it refuses. */
yolact_status yl_dcn2d_cpu(const yl_conv_desc *d, const float *in, int batch, int in_h,
                           int in_w, const float *offset_mask, const float *weight,
                           yolact_precision precision, const float *bias, yl_activation act,
                           float *out, float *workspace, int num_threads);

#endif
