/* Dense CPU ops of the forward pass: convolution (BN already folded) with a fused epilogue,
 * max pooling, bilinear resize with PyTorch's exact semantics, and the input preprocess.
 * Tensors are float32 CHW, one image at a time. These are the reference every CUDA kernel
 * is tested against, and the CPU backend's fast path. */
#ifndef YL_CPU_DENSE_OPS_H
#define YL_CPU_DENSE_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "ops/bilinear.h"
#include "ops/conv.h"
#include "ops/input.h"
#include "yolact.h"

/* Floats of scratch that yl_conv2d_cpu and yl_conv2d_prepared_cpu need for this shape
 * (0 when none). */
size_t yl_conv2d_workspace_floats(const yl_conv_desc *d, int in_h, int in_w);

/* out = act(conv(in, weight) + bias + residual) for each of batch (>= 1) images, one after
 * another in in, residual and out:
 *   in:        (batch, in_channels, in_h, in_w)
 *   weight:    (out_channels, in_channels, kernel_h, kernel_w) OIHW, as PyTorch stores it
 *              (the CPU's packed form is PyTorch's: nothing to pack)
 *   precision: YOLACT_PRECISION_FP32; any other is refused (YOLACT_ERR_UNSUPPORTED)
 *   bias:      (out_channels) or NULL
 *   residual:  (batch, out_channels, out_h, out_w) or NULL; may alias out
 *   out:       (batch, out_channels, out_h, out_w); must not alias in
 *   workspace: yl_conv2d_workspace_floats() floats, reused image after image
 * num_threads: 0 = all cores. The reference of yl_conv2d_cuda: its arguments in its order,
 * the thread count for the stream; nothing is written when it refuses. */
yolact_status yl_conv2d_cpu(const yl_conv_desc *d, const float *in, int batch, int in_h,
                            int in_w, const float *weight, yolact_precision precision,
                            const float *bias, const float *residual, yl_activation act,
                            float *out, float *workspace, int num_threads);

/* Prepared weights: a layout of a convolution's (immutable) weights transformed once, at
 * model load, for a faster algorithm. Today: Winograd F(4x4, 3x3) for 3x3 convolutions with
 * stride 1 and dilation 1 (any padding), whose output differs from the exact FP32 sum by
 * ~1e-5 of sum |terms| (within the parity gate; see winograd.c). The caller owns the buffer.
 *   yl_conv2d_prepared_floats: its size in floats; 0 = this shape has no prepared form
 *   yl_conv2d_prepare_cpu:     fills it from the OIHW weight (no-op when the size is 0)
 *   yl_conv2d_prepared_cpu:    yl_conv2d_cpu's contract on one image in FP32 (the CPU
 *                              backend's form, nothing to refuse), plus prepared (NULL =
 *                              the exact im2col path, as yl_conv2d_cpu); weight is still
 *                              required. */
size_t yl_conv2d_prepared_floats(const yl_conv_desc *d);
void yl_conv2d_prepare_cpu(const yl_conv_desc *d, const float *weight, float *prepared);
void yl_conv2d_prepared_cpu(const yl_conv_desc *d, const float *in, int in_h, int in_w,
                            const float *weight, const float *prepared, const float *bias,
                            const float *residual, yl_activation act, float *out,
                            float *workspace, int num_threads);

/* Max pooling (PyTorch semantics, padding counts as -inf), (c, h, w) -> (c, out_h, out_w). */
void yl_maxpool2d_cpu(const float *in, int channels, int in_h, int in_w, int kernel,
                      int stride, int pad, float *out, int out_h, int out_w);

/* yl_maxpool2d_cpu on images in oneDNN's blocked layout nChw<block>c (onednn_conv.h; block
 * 8 or 16 dividing channels), in and out: each channel's values the same. Block 0: plain
 * CHW, yl_maxpool2d_cpu itself. */
void yl_maxpool2d_blocked_cpu(const float *in, int channels, int block, int in_h, int in_w,
                              int kernel, int stride, int pad, float *out, int out_h,
                              int out_w);

/* out[i] = a[i] + b[i] for n floats (the network's YL_OP_ADD); out may alias a or b. */
void yl_add_cpu(const float *a, const float *b, size_t n, float *out);

/* x = x > 0 ? x : 0.1 * x, in place, n floats: YL_ACT_LEAKY_RELU_0_1 as an op of its own
 * (the epilogue of yl_conv2d_cpu computes the same). */
void yl_leaky_relu_cpu(float *x, size_t n);

/* out[i] = act(y[i] + residual[i]), or act(y[i]) without a residual (NULL), n floats; out
 * may alias y: the epilogue yl_conv2d_cpu fuses, run apart (after trainable BatchNorm). */
void yl_add_activate_cpu(const float *y, const float *residual, size_t n, yl_activation act,
                         float *out);

/* Bilinear resize of (channels, in_h, in_w) to (channels, out_h, out_w) as
 * F.interpolate(mode='bilinear', align_corners=False) computes it on the CPU (the axis
 * tables of yl_bilinear_axis, ops/bilinear.h):
 *   out = (a * w0x + b * w1x) * w0y + (c * w0x + d * w1x) * w1y
 * workspace: yl_resize_workspace_bytes(out_h, out_w) bytes for the axis tables. */
size_t yl_resize_workspace_bytes(int out_h, int out_w);
void yl_resize_bilinear_cpu(const float *in, int channels, int in_h, int in_w,
                            float *out, int out_h, int out_w, void *workspace);
/* The same on images in oneDNN's blocked layout nChw<block>c (block 8 or 16 dividing
 * channels), in and out: each channel's values the same. Block 0: plain CHW. */
void yl_resize_bilinear_blocked_cpu(const float *in, int channels, int block, int in_h,
                                    int in_w, float *out, int out_h, int out_w,
                                    void *workspace);

/* FastBaseTransform: bilinear resize of the 8-bit image (as float; or the float BGR one the
 * trainer takes, YOLACT_PIXEL_BGR32F, as it is) to size x size, then
 * normalise, into planar RGB (3, size, size). Means/stds are in BGR order as the official
 * config gives them (yl_input_mean_bgr, yl_input_std_bgr in ops/input.h). The reference of
 * yl_preprocess_cuda (its arguments less the stream); no workspace (the axis entries of a
 * tile of columns live on the stack). */
void yl_preprocess_cpu(const yolact_image *image, int size, yl_input_norm norm,
                       const float mean_bgr[3], const float std_bgr[3], float *out);

#endif
