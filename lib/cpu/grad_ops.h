/* The backward passes of the network's ops on the CPU, for training: each takes the gradient
 * of the loss with respect to an op's output and gives it with respect to the op's inputs
 * and parameters. Layouts are the forward ops' (dense_ops.h, head_ops.h, post_ops.h): float32,
 * CHW planes one image after another unless said otherwise. Conventions:
 *  - parameter gradients (weights, biases, BatchNorm's affine) are accumulated (+=): zero
 *    them once per step, then every image and sub-batch adds to them;
 *  - an input's gradient is written, or accumulated where the function takes `accumulate`
 *    (an activation that feeds several ops gets the sum of their gradients);
 *  - activation gradients may be computed in place (grad_in == grad_out) where said.
 * Each is checked against central finite differences of a float64 forward in the op-test
 * harness (test/ops/op_grad*.c). */
#ifndef YL_CPU_GRAD_OPS_H
#define YL_CPU_GRAD_OPS_H

#include <stddef.h>

#include "ops/conv.h"

/* ---- convolution (grad_conv.c) -------------------------------------------------------- */

/* Floats of scratch yl_conv2d_backward_cpu needs: the (in_channels·kh·kw, out_h·out_w)
 * column matrix, 0 for a 1x1 stride-1 unpadded convolution (the input is its own). */
size_t yl_conv2d_grad_workspace_floats(const yl_conv_desc *d, int in_h, int in_w);

/* The backward pass of yl_conv2d_cpu (before its activation: yl_activation_backward_cpu
 * first) for batch images:
 *   in:          (batch, in_channels, in_h, in_w), the forward's input
 *   weight:      (out_channels, in_channels, kernel_h, kernel_w) OIHW
 *   grad_out:    (batch, out_channels, out_h, out_w)
 *   grad_in:     (batch, in_channels, in_h, in_w), written (accumulate 0) or added to; NULL
 *                when the input needs none (the network's image)
 *   grad_weight: (out_channels, in_channels, kernel_h, kernel_w), accumulated
 *   grad_bias:   (out_channels), accumulated; NULL for a convolution without bias
 * Input gradient: Wᵀ·dY by GEMM into the column matrix, then col2im (the sum of every
 * window's share, per channel); weight gradient: dY·colᵀ by GEMM over im2col; both split
 * into tiles over OpenMP threads (num_threads, 0: all cores). */
void yl_conv2d_backward_cpu(const yl_conv_desc *d, const float *in, int batch, int in_h,
                            int in_w, const float *weight, const float *grad_out,
                            float *grad_in, int accumulate, float *grad_weight,
                            float *grad_bias, float *workspace, int num_threads);

/* ---- dense ops (grad_dense.c) --------------------------------------------------------- */

/* The activation fused after a convolution, from its output y (n floats):
 * ReLU dx = y > 0 ? dy : 0; leaky ReLU 0.1 dx = y > 0 ? dy : 0.1·dy; none: dx = dy.
 * In place allowed. */
void yl_activation_backward_cpu(yl_activation act, const float *y, const float *grad_out,
                                size_t n, float *grad_in);

/* Max pooling (yl_maxpool2d_cpu): each output's gradient goes to its window's maximum, the
 * first in row-major window order on ties as PyTorch's CPU kernel picks it. grad_in
 * (channels, in_h, in_w) is written. */
void yl_maxpool2d_backward_cpu(const float *in, int channels, int in_h, int in_w, int kernel,
                               int stride, int pad, const float *grad_out, int out_h, int out_w,
                               float *grad_in);

/* The bilinear resize (yl_resize_bilinear_cpu, F.interpolate align_corners=False): each
 * output's gradient spread over its four sources with the forward's weights (the axis
 * tables of ops/bilinear.h). grad_in (channels, in_h, in_w) is written; workspace:
 * yl_resize_workspace_bytes(out_h, out_w) bytes. */
void yl_resize_bilinear_backward_cpu(const float *grad_out, int channels, int in_h, int in_w,
                                     int out_h, int out_w, float *grad_in, void *workspace);

/* The element-wise add (yl_add_cpu; the FPN's top-down join): its gradient goes to both
 * operands, added to grad_a and grad_b (n floats each). */
void yl_add_backward_cpu(const float *grad_out, size_t n, float *grad_a, float *grad_b);

/* From the outputs y of n elements, in place allowed:
 *   tanh:    dx = dy·(1 − y²)
 *   sigmoid: dx = dy·y·(1 − y)   (0 where y rounded to 0 or 1, as torch's backward)
 *   softmax over each row of cols (rows, cols): dx = y·(dy − Σ_c y_c·dy_c) */
void yl_tanh_backward_cpu(const float *y, const float *grad_out, size_t n, float *grad_in);
void yl_sigmoid_backward_cpu(const float *y, const float *grad_out, size_t n, float *grad_in);
void yl_softmax_backward_cpu(const float *y, const float *grad_out, size_t rows, int cols,
                             float *grad_in);

/* ---- the head and the protonet's permutes (grad_head.c) -------------------------------- */

/* The backward pass of the head's permute as the official training runs it: loc and conf
 * raw (the softmax of yl_head_output_cpu is eval-only; the loss takes the logits: for a
 * softmax, yl_softmax_backward_cpu first), coeff through its tanh.
 *   grad_loc (priors, 4), grad_conf (priors, classes), grad_coeff (priors, prototypes):
 *       the level's rows, cell-major, anchor-minor, for each of batch images at the same
 *       offsets as the forward's (b * image_priors rows)
 *   coeff: the forward's tanh rows, at the same offsets
 *   grad_maps: (batch, anchors·(4 + classes + prototypes), height, width), written */
void yl_head_output_backward_cpu(const float *grad_loc, const float *grad_conf,
                                 const float *grad_coeff, const float *coeff,
                                 int anchors, int classes, int prototypes, int height,
                                 int width, int batch, size_t image_priors, float *grad_maps,
                                 int num_threads);

/* The backward pass of yl_proto_output_cpu: (batch, height, width, channels) ->
 * (batch, channels, height, width), written. */
void yl_proto_output_backward_cpu(const float *grad_out, int channels, int height, int width,
                                  int batch, float *grad_in);

/* ---- the masks (grad_masks.c) --------------------------------------------------------- */

/* The official training's masks, for one image: logits (H, W, n) = P·Cᵀ with P the
 * prototypes (H, W, k) and C the n coefficient rows (n, k); masks = sigmoid(logits), cropped
 * to each box (box_utils.crop, padding 1: the pixels yl_crop_range keeps).
 *   masks:      (H, W, n) the sigmoid before the crop, as the loss's forward computed it
 *   boxes:      (n, 4) x1, y1, x2, y2 relative to the image, the crop's
 *   grad_masks: (H, W, n) the loss's gradient with respect to the cropped masks, in the
 *               prototypes' pixel-major layout (mask index fastest), so no transpose is
 *               needed on either side
 *   grad_logits: (H, W, n) scratch, left holding the logits' gradient
 *   grad_proto: (H, W, k) and grad_coeff: (n, k), accumulated */
void yl_masks_backward_cpu(const float *proto, int proto_h, int proto_w, int k,
                           const float *coeff, int n, const float *boxes, const float *masks,
                           const float *grad_masks, float *grad_logits, float *grad_proto,
                           float *grad_coeff, int num_threads);

/* ---- BatchNorm (grad_batchnorm.c) ----------------------------------------------------- */

/* Frozen BatchNorm (running statistics, affine not trained; the official train.py below 6
 * images per GPU) is y = s·x + t per channel, folded into the convolution before it. Its
 * backward scales each channel's gradient by s = γ / sqrt(running_var + eps), over
 * (outer, channels, inner): an activation's gradient (batch, C, H·W), or the folded
 * convolution's weight gradient turned into the unfolded weight's (1, O, I·kh·kw).
 * In place allowed. */
void yl_batchnorm_frozen_backward_cpu(const float *scale, size_t outer, int channels,
                                      size_t inner, const float *grad_out, float *grad_in);

/* Trainable BatchNorm (nn.BatchNorm2d in train mode), on (batch, channels, hw):
 * forward: batch statistics μ, σ² (biased) per channel, y = γ·(x − μ)/sqrt(σ² + eps) + β;
 * when running_mean/var are non-NULL they move by `momentum` towards μ and the unbiased
 * σ²·m/(m − 1) (m = batch·hw), as torch does. save_mean, save_invstd: (channels), for the
 * backward. backward: grad_in written, grad_gamma and grad_beta accumulated:
 *   dβ = Σ dy, dγ = Σ dy·x̂, dx = γ·invstd·(dy − dβ/m − x̂·dγ/m) */
void yl_batchnorm_train_forward_cpu(const float *in, int batch, int channels, size_t hw,
                                    const float *gamma, const float *beta, float eps,
                                    float momentum, float *running_mean, float *running_var,
                                    float *out, float *save_mean, float *save_invstd);
void yl_batchnorm_train_backward_cpu(const float *in, const float *grad_out, int batch,
                                     int channels, size_t hw, const float *gamma,
                                     const float *save_mean, const float *save_invstd,
                                     float *grad_in, float *grad_gamma, float *grad_beta);

#endif
