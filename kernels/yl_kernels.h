/* The CUDA kernels' host entry points: each mirrors its CPU reference op (lib/cpu/), same
 * arguments in the same order plus a stream, every pointer to device memory. They check
 * their arguments, enqueue, and return a status; nothing synchronises or allocates.
 * Plain C without CUDA headers: a stream is `struct CUstream_st *`, as cudaStream_t is. */
#ifndef YL_KERNELS_H
#define YL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "ops/conv.h"
#include "ops/detect.h"
#include "ops/input.h"
#include "ops/mask_pass.h"
#include "yolact.h"

#ifdef __cplusplus
extern "C" {
#endif

struct CUstream_st;

/* yl_bilinear_axis into a device table of yl_bilinear_table_bytes(out) bytes laid out as
 * i0[out], i1[out] (int), w0[out], w1[out] (float); bit-identical to the CPU's. */
size_t yl_bilinear_table_bytes(int out);
yolact_status yl_bilinear_axis_cuda(int in, int out, void *table, struct CUstream_st *stream);

/* yl_preprocess_cpu (cpu/dense_ops.h): image->data is device memory (rows of image->stride bytes); out is
 * (3, size, size). One launch. Bit-identical to the CPU (no FMA contraction in either). */
yolact_status yl_preprocess_cuda(const yolact_image *image, int size, yl_input_norm norm,
                                 const float mean_bgr[3], const float std_bgr[3], float *out,
                                 struct CUstream_st *stream);

/* The masks of a well-formed pass, the check every mask kernel makes: 0..YL_MASK_PASS_IMAGES
 * images, counts >= 0, each image's masks starting where the previous image's end, sizes
 * 0..YOLACT_MAX_IMAGE_SIDE, at most INT_MAX masks in all; -1 for any other pass or NULL.
 * most (may be NULL): the largest count. */
long long yl_mask_pass_masks(const yl_mask_pass *pass, int *most);

/* yl_masks_assemble_cpu (cpu/post_ops.h), for every image b of a pass in one launch: its
 * prototypes (proto_h, proto_w, k) at proto + b * proto_h * proto_w * k, its detections at
 * detections + b * detection_stride, each with its box and the coefficients of its prior,
 * row `prior` of the (priors, k) block at coeff + b * coeff_image_floats. out: the pass's
 * masks (proto_h, proto_w), dense. The dot products are
 * summed in another order than the CPU's and the GPU's expf differs from the C library's by
 * up to 2 ulp: see the test's tolerance. */
yolact_status yl_masks_assemble_cuda(const float *proto, int proto_h, int proto_w, int k,
                                     const float *coeff, size_t coeff_image_floats,
                                     const yl_raw_detection *detections,
                                     size_t detection_stride, const yl_mask_pass *pass,
                                     float *out, struct CUstream_st *stream);

/* yl_mask_resize_threshold_cpu (cpu/post_ops.h) for every mask of a pass in one launch: in,
 * the pass's dense masks (in_h, in_w); image b's mask i goes to out + out_offset + i *
 * height * row bytes, rows of (width + 7) / 8 bytes. Bit-identical to the CPU: each block computes the bilinear
 * axis entries of its rows and columns (bilinear.cuh) once for its masks. */
yolact_status yl_mask_resize_threshold_cuda(const float *in, int in_h, int in_w,
                                            const yl_mask_pass *pass, uint8_t *out,
                                            struct CUstream_st *stream);

/* The Fast NMS step of yl_detect_cpu for every class at once. boxes: (num_classes, top_k, 4)
 * decoded x1y1x2y2, the first counts[c] rows of class c sorted best first; counts:
 * (num_classes) on the device (a top-k kernel's output). kept: (num_classes, top_k), 1 where
 * no better box of the class (suppressed or not) has IoU > threshold (NaN counts as above),
 * 0 past counts[c]. top_k <= YL_FAST_NMS_MAX_TOP_K (one class's boxes in shared memory). */
#define YL_FAST_NMS_MAX_TOP_K 2048
yolact_status yl_fast_nms_cuda(const float *boxes, const int *counts, int num_classes,
                               int top_k, float threshold, uint8_t *kept,
                               struct CUstream_st *stream);

/* yl_detect_cpu on the device for a batch of images at once, in the same launches: loc
 * (batch, num_priors, 4), conf (batch, num_priors, num_classes), priors (num_priors, 4) (the
 * same for every image), out (batch, out_stride) with image b's list in the first
 * params->max_detections of row b (out_stride >= max_detections; the rest of a row is left
 * alone) and count (batch) ints: how many detections each row holds; all device memory,
 * nothing read back or waited for. workspace: yl_detect_cuda_workspace_bytes (0 for invalid
 * params or a batch outside 1..65535) bytes of device memory. top_k <= YL_FAST_NMS_MAX_TOP_K.
 * Each image's list is the CPU's, bit for bit, where expf is the C library's (the
 * emulation); on a GPU the decoded boxes use CUDA's expf (<= 2 ulp), so a box and, at an IoU
 * right at the threshold, a kept flag may differ. */
size_t yl_detect_cuda_workspace_bytes(int num_priors, const yl_detect_params *params, int batch);
yolact_status yl_detect_cuda(const float *loc, const float *conf, const float *priors,
                             int num_priors, const yl_detect_params *params, int batch,
                             yl_raw_detection *out, int out_stride, int *count, void *workspace,
                             struct CUstream_st *stream);

/* yl_keep_scores_above_cpu on yl_detect_cuda's output, for a batch: counts[b] (device
 * memory, Detect's count of row b of detections, rows stride detections apart) becomes how
 * many of row b's first, from the first, score strictly above threshold. Bit-identical. */
yolact_status yl_keep_scores_above_cuda(const yl_raw_detection *detections, int stride,
                                        int *counts, int batch, float threshold,
                                        struct CUstream_st *stream);

/* ---- the network's dense ops ---------------------------------------------------------------
 * yl_maxpool2d_cpu, bit-identical (the same max, NaN winning, in the CPU's order). */
yolact_status yl_maxpool2d_cuda(const float *in, int channels, int in_h, int in_w, int kernel,
                                int stride, int pad, float *out, int out_h, int out_w,
                                struct CUstream_st *stream);

/* yl_resize_bilinear_cpu, bit-identical (the same float expression, no FMA). workspace:
 * yl_resize_cuda_workspace_bytes(out_h, out_w) bytes of device memory (the axis tables). */
size_t yl_resize_cuda_workspace_bytes(int out_h, int out_w);
yolact_status yl_resize_bilinear_cuda(const float *in, int channels, int in_h, int in_w,
                                      float *out, int out_h, int out_w, void *workspace,
                                      struct CUstream_st *stream);

/* out[i] = a[i] + b[i] for n floats (the CPU backend's YL_OP_ADD); out may alias a or b.
 * Bit-identical. */
yolact_status yl_add_cuda(const float *a, const float *b, size_t n, float *out,
                          struct CUstream_st *stream);

/* yl_head_output_cpu (cpu/head_ops.h) without the thread count, for each of batch images
 * (1..65535) in one launch: maps (batch, anchors * (4 + classes + prototypes), height,
 * width); image b's rows at loc + b * image_priors * 4, conf + b * image_priors * classes,
 * coeff + b * image_priors * prototypes, where image_priors (>= anchors * height * width) is
 * the network's prior count and loc, conf, coeff point at the level's first prior of image
 * 0. The same operations in the same order: bit-identical in the
 * emulation (the C library's expf, tanhf); on a GPU CUDA's expf and tanhf are within 2 ulp
 * of the correctly rounded value, so conf is within ~(6 + classes / 2) ulp relative of the
 * CPU's (an expf and the reciprocal of a sum of classes of them, each off by 2 ulp, and the
 * roundings of the sum, the division and the product) and coeff within 2 ulp plus the C
 * library's own error (1 ulp); test_head_output holds them to those bounds. */
yolact_status yl_head_output_cuda(const float *maps, int anchors, int classes, int prototypes,
                                  int height, int width, int batch, size_t image_priors,
                                  float *loc, float *conf, float *coeff,
                                  struct CUstream_st *stream);

/* The same with conf the class logits, no softmax (training's yl_head_output_logits_cpu, for
 * a batch): loc and conf are copies, bit-identical; coeff as above. */
yolact_status yl_head_output_logits_cuda(const float *maps, int anchors, int classes,
                                         int prototypes, int height, int width, int batch,
                                         size_t image_priors, float *loc, float *conf,
                                         float *coeff, struct CUstream_st *stream);

/* yl_proto_output_cpu: (channels, height, width) -> (height, width, channels), for each of
 * batch images (1..65535; in and out hold them one after another) in one launch.
 * Bit-identical (a copy). */
yolact_status yl_proto_output_cuda(const float *in, int channels, int height, int width,
                                   int batch, float *out, struct CUstream_st *stream);

/* ---- convolution (protonet, prediction heads) -----------------------------------------------
 * yl_conv2d_cpu's contract as an implicit GEMM (no im2col buffer): any kernel
 * size, stride, padding, dilation; out = act(conv(in) + bias + residual) for each of batch
 * images (1..65535); in, residual and out (batch, C, H, W) float, one image after another;
 * bias NULL or (out_channels); residual NULL or the output's shape and may alias out; out
 * must not alias in. precision: YOLACT_PRECISION_FP32 (SIMT float) or
 * YOLACT_PRECISION_FP16 (inputs and weights rounded to half, tensor-core MMA with float
 * accumulation); DEFAULT is not accepted here: the backend resolves it.
 * Weights are packed once, on the host, into the kernel's tiled layout:
 *   yl_conv2d_cuda_packed_bytes: the packed size (0 for an invalid shape or precision)
 *   yl_conv2d_cuda_pack:         fills packed_host from the OIHW float weights (the caller
 *                                uploads them to a 16-byte aligned address, e.g. from
 *                                cudaMalloc; yl_conv2d_cuda rejects another)
 * FP16 shapes with in_channels a multiple of 8 and a window of more than one tap (the
 * protonet's and the heads' 3x3 layers) run on an (H, W, C) half copy of the input:
 *   yl_conv2d_cuda_workspace_bytes: the device scratch a call on batch images needs for it,
 *                                   0 where a shape needs none (workspace may then be NULL);
 *                                   16-byte aligned, not overlapping in, residual or out.
 * Accuracy against the exact sum, sum|terms| = sum_k |w x| + |bias| + |residual|:
 *   FP32: float sums in k order: within ~K eps sum|terms| (typically sqrt(K) eps);
 *   FP16: each w and x rounded to half (relative 2^-11 each, so each product within ~2^-10),
 *         float accumulation: within ~1e-3 sum|terms|; inputs beyond 65504 become inf. */
size_t yl_conv2d_cuda_packed_bytes(const yl_conv_desc *d, yolact_precision precision);
void yl_conv2d_cuda_pack(const yl_conv_desc *d, const float *weight_oihw,
                         yolact_precision precision, void *packed_host);
size_t yl_conv2d_cuda_workspace_bytes(const yl_conv_desc *d, int batch, int in_h, int in_w,
                                      yolact_precision precision);
yolact_status yl_conv2d_cuda(const yl_conv_desc *d, const float *in, int batch, int in_h,
                             int in_w, const void *packed_weight, yolact_precision precision,
                             const float *bias, const float *residual, yl_activation act,
                             float *out, void *workspace, struct CUstream_st *stream);

/* ---- YOLACT++ -------------------------------------------------------------------------------
 * yl_dcn2d_cpu (cpu/dcn.h), DCNv2, for each of batch images (1..65535) in the same launches:
 * in (batch, C, in_h, in_w), offset_mask (batch, 3T, out_h, out_w), each image's as the CPU
 * reads it (T = kernel_h * kernel_w taps; dy, dx of tap t at channels 2t, 2t + 1, the
 * modulation logit at 2T + t), out (batch, out_channels, out_h, out_w), sizes as for a
 * convolution; bias NULL or (out_channels); act as yl_conv2d_cuda's. out must not alias in,
 * offset_mask or the workspace. precision: FP32 or FP16, as yl_conv2d_cuda.
 *   yl_dcn2d_cuda_workspace_bytes: device scratch a call on batch images needs, their
 *                                  sampled column matrices, (C T, out_h out_w) floats each
 *                                  (0 for an invalid shape or batch)
 *   yl_dcn2d_cuda_packed_bytes,    the OIHW weights packed once, on the host, as
 *   yl_dcn2d_cuda_pack:            yl_conv2d_cuda_pack packs a 1x1 convolution's
 *                                  (out_channels, C T, 1, 1) weights (the same memory); the
 *                                  caller uploads them 16-byte aligned
 * A kernel builds the column matrix (torchvision's bilinear_interpolate: a point at or beyond
 * one pixel outside gives 0, a neighbour outside counts 0; times sigmoid(logit)), then
 * yl_conv2d_cuda multiplies it, bias and activation in its epilogue.
 * Accuracy: the column matrix is the CPU's bit for bit where expf is the C library's (the
 * emulation); on a GPU expf is within 2 ulp, so each column value within ~3 ulp. The product
 * is yl_conv2d_cuda's, against the exact sum, with sum|terms| = sum |w col| + |bias|: FP32
 * within ~K eps sum|terms| (K = C T; typically sqrt(K) eps), FP16 within ~1e-3 sum|terms|. */
size_t yl_dcn2d_cuda_workspace_bytes(const yl_conv_desc *d, int in_h, int in_w, int batch);
size_t yl_dcn2d_cuda_packed_bytes(const yl_conv_desc *d, yolact_precision precision);
void yl_dcn2d_cuda_pack(const yl_conv_desc *d, const float *weight_oihw,
                        yolact_precision precision, void *packed_host);
yolact_status yl_dcn2d_cuda(const yl_conv_desc *d, const float *in, int batch, int in_h,
                            int in_w, const float *offset_mask, const void *packed_weight,
                            yolact_precision precision, const float *bias, yl_activation act,
                            float *out, void *workspace, struct CUstream_st *stream);

/* YOLACT++'s mask re-scoring after the mask-IoU net, for masks [first, first + n) of a pass
 * (yl_mask_pass; all pointers device memory). Mask g of image b (its first <= g < its first +
 * count) is detection j = g - first of the list at detections + b * detection_stride: its
 * mask score, mask_scores[b * score_stride + j], is the detection's score x the max over
 * the (h, w) map of channel class_index in maps[g - first] (NaN for a class outside [0,
 * channels)); maps (n, channels, h, w). yl_mask_rescore_cpu's (cpu/maskiou.h): bit-identical
 * (the same scan order). */
yolact_status yl_mask_rescore_cuda(const float *maps, int first, int n, int channels, int h,
                                   int w, const yl_mask_pass *pass,
                                   const yl_raw_detection *detections, size_t detection_stride,
                                   float *mask_scores, size_t score_stride,
                                   struct CUstream_st *stream);

/* x = x > 0 ? x : 0.1 * x, in place, n floats (yl_conv2d_cpu's YL_ACT_LEAKY_RELU_0_1). */
yolact_status yl_leaky_relu_cuda(float *x, size_t n, struct CUstream_st *stream);

/* yl_add_activate_cpu: out = act(y + residual), or act(y) with residual NULL; out may alias
 * y. Bit-identical. */
yolact_status yl_add_activate_cuda(const float *y, const float *residual, size_t n,
                                   yl_activation act, float *out, struct CUstream_st *stream);

#ifdef __cplusplus
}
#endif

#endif
