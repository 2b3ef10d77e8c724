/* The training kernels' host entry points: the backward passes of lib/cpu/grad_ops.h and the
 * optimizer of lib/train/sgd.h on the GPU, each mirroring its CPU reference (same arguments
 * in the same order, plus a stream; every tensor device memory), as yl_kernels.h does for
 * inference. They check their arguments, enqueue, and return a status; nothing synchronises
 * or allocates. Each is bit-identical to its reference (the same float operations in the
 * same order, no FMA contraction on either side, fmaf where the reference calls it) but
 * where it says otherwise. */
#ifndef YL_GRAD_KERNELS_H
#define YL_GRAD_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "ops/conv.h"
#include "train/param_fold.h"
#include "train/sgd.h"
#include "yl_kernels.h"
#include "yolact.h"

#ifdef __cplusplus
extern "C" {
#endif

struct CUstream_st;

/* yl_activation_backward_cpu: dx from the activation's output y; in place allowed. */
yolact_status yl_activation_backward_cuda(yl_activation act, const float *y,
                                          const float *grad_out, size_t n, float *grad_in,
                                          struct CUstream_st *stream);

/* yl_add_backward_cpu: grad_out added to grad_a and to grad_b. */
yolact_status yl_add_backward_cuda(const float *grad_out, size_t n, float *grad_a,
                                   float *grad_b, struct CUstream_st *stream);

/* yl_tanh_backward_cpu, yl_sigmoid_backward_cpu, yl_softmax_backward_cpu (a row a thread,
 * its dot product summed in the CPU's order). In place allowed. */
yolact_status yl_tanh_backward_cuda(const float *y, const float *grad_out, size_t n,
                                    float *grad_in, struct CUstream_st *stream);
yolact_status yl_sigmoid_backward_cuda(const float *y, const float *grad_out, size_t n,
                                       float *grad_in, struct CUstream_st *stream);
yolact_status yl_softmax_backward_cuda(const float *y, const float *grad_out, size_t rows,
                                       int cols, float *grad_in, struct CUstream_st *stream);

/* yl_maxpool2d_backward_cpu: a thread per input element gathers the gradients of the
 * windows whose maximum it is (the CPU's choice: the first in row-major window order, NaN
 * winning), in the output order the CPU scatters them in, so the sums round alike. grad_in
 * (channels, in_h, in_w) is written. */
yolact_status yl_maxpool2d_backward_cuda(const float *in, int channels, int in_h, int in_w,
                                         int kernel, int stride, int pad,
                                         const float *grad_out, int out_h, int out_w,
                                         float *grad_in, struct CUstream_st *stream);

/* yl_head_output_backward_cpu (its thread count the stream): a thread per element of
 * grad_maps (batch, anchors·(4 + classes + prototypes), height, width), written. */
yolact_status yl_head_output_backward_cuda(const float *grad_loc, const float *grad_conf,
                                           const float *grad_coeff, const float *coeff,
                                           int anchors, int classes, int prototypes,
                                           int height, int width, int batch,
                                           size_t image_priors, float *grad_maps,
                                           struct CUstream_st *stream);

/* yl_proto_output_backward_cpu: (batch, height, width, channels) -> (batch, channels, height,
 * width), written. */
yolact_status yl_proto_output_backward_cuda(const float *grad_out, int channels, int height,
                                            int width, int batch, float *grad_in,
                                            struct CUstream_st *stream);

/* yl_batchnorm_frozen_backward_cpu: each channel's gradient times its scale over (outer,
 * channels, inner); in place allowed. */
yolact_status yl_batchnorm_frozen_backward_cuda(const float *scale, size_t outer, int channels,
                                                size_t inner, const float *grad_out,
                                                float *grad_in, struct CUstream_st *stream);

/* yl_masks_backward_cpu (its thread count the stream): the crop and the sigmoid into
 * grad_logits (bit for bit), then the two products of P·Cᵀ's backward a thread an output
 * entry, each summed in order, where the CPU's GEMM sums in its own blocking: grad_proto and
 * grad_coeff within the bound the op-test table holds the CPU to. */
yolact_status yl_masks_backward_cuda(const float *proto, int proto_h, int proto_w, int k,
                                     const float *coeff, int n, const float *boxes,
                                     const float *masks, const float *grad_masks,
                                     float *grad_logits, float *grad_proto, float *grad_coeff,
                                     struct CUstream_st *stream);

/* yl_batchnorm_train_forward_cpu and _backward_cpu: a block a channel sums in double, as
 * the CPU does, but in a tree instead of in order; the float results (the saved mean and
 * invstd, the running statistics, the affine's gradients) agree with the CPU's to the last
 * bit but where the two double sums round to either side of a float, and the outputs
 * computed from them to the NMSE the op-test table states. gamma, beta, the running
 * statistics (either NULL: not moved), save_mean and save_invstd are (channels) device
 * arrays. */
yolact_status yl_batchnorm_train_forward_cuda(const float *in, int batch, int channels,
                                              size_t hw, const float *gamma, const float *beta,
                                              float eps, float momentum, float *running_mean,
                                              float *running_var, float *out, float *save_mean,
                                              float *save_invstd, struct CUstream_st *stream);
yolact_status yl_batchnorm_train_backward_cuda(const float *in, const float *grad_out,
                                               int batch, int channels, size_t hw,
                                               const float *gamma, const float *save_mean,
                                               const float *save_invstd, float *grad_in,
                                               float *grad_gamma, float *grad_beta,
                                               struct CUstream_st *stream);

/* yl_resize_bilinear_backward_cpu: a thread per input element gathers, in the order the
 * CPU scatters them (the outputs row by row, each output's four terms in turn), the terms
 * of the outputs that read it, found by binary search in the axis tables. grad_in
 * (channels, in_h, in_w) is written; workspace: yl_resize_cuda_workspace_bytes(out_h,
 * out_w) bytes of device memory (yl_kernels.h), for the tables. */
yolact_status yl_resize_bilinear_backward_cuda(const float *grad_out, int channels, int in_h,
                                               int in_w, int out_h, int out_w, float *grad_in,
                                               void *workspace, struct CUstream_st *stream);

/* yl_sgd_step on one device tensor: param, grad, buf (n each; buf unused when the momentum
 * is 0) are device memory, opt and first host memory (*first cleared once the step is
 * enqueued, as the CPU clears it). The same refusals as yl_sgd_step. */
yolact_status yl_sgd_step_cuda(const yl_sgd_options *opt, size_t n, float *param,
                               const float *grad, float *buf, int *first,
                               struct CUstream_st *stream);

/* yl_scale_rows: a folded gradient unfolded (scale: the float BatchNorm scales, (rows), or
 * NULL), with add into out, the sum times factor; a thread an element, bit for bit. */
yolact_status yl_scale_rows_cuda(const float *in, size_t rows, size_t per_row,
                                 const float *scale, int add, float factor, float *out,
                                 struct CUstream_st *stream);

/* yl_fold_rows: a state-dict weight folded with its frozen BatchNorm's double scales (rows);
 * a thread an element, bit for bit (one double multiply, one rounding to float). */
yolact_status yl_fold_rows_cuda(const float *in, size_t rows, size_t per_row,
                                const double *scale, float *out, struct CUstream_st *stream);

/* ---- mixed precision (FP16 training) ------------------------------------------------- */
/* in (n floats) to out (n halves, their IEEE binary16 bits), rounded to nearest even as
 * weights_internal.h's yl_float_to_half: beyond half's range to infinity, below it to
 * subnormals or zero. */
yolact_status yl_float_to_half_cuda(const float *in, size_t n, uint16_t *out,
                                    struct CUstream_st *stream);

/* in (n halves) to out (n floats), exact; with accumulate added to what out holds (one float
 * addition each), as a convolution backward's accumulate. */
yolact_status yl_half_to_float_cuda(const uint16_t *in, size_t n, int accumulate, float *out,
                                    struct CUstream_st *stream);

/* *flag (device memory) 1 where any of in[0 .. n) is infinite or NaN, else 0: GradScaler's
 * found_inf, one pass. */
yolact_status yl_flag_nonfinite_cuda(const float *in, size_t n, int *flag,
                                     struct CUstream_st *stream);

#ifdef __cplusplus
}
#endif

#endif
