/* The CPU ops after the network: box decoding, Fast NMS, mask assembly, the final mask
 * resize + threshold. Semantics are the official implementation's
 * (dbolya/yolact layers/functions/detection.py, layers/box_utils.py, layers/output_utils.py).
 * These are the reference for the CUDA kernels, with their arguments less the stream. */
#ifndef YL_CPU_POST_OPS_H
#define YL_CPU_POST_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "ops/detect.h"
#include "ops/mask_pass.h"

/* Decode (variances 0.1, 0.2) one prior's regression into (x1, y1, x2, y2) relative. */
void yl_decode_box(const float loc[4], const float prior[4], float box[4]);

/* Scratch for yl_detect_cpu, sized once for num_priors and the params. */
size_t yl_detect_workspace_bytes(int num_priors, const yl_detect_params *params);

/* Detect with Fast NMS as the official Detect.fast_nms computes it:
 *   candidates = priors whose best foreground score > conf_threshold (ascending prior order);
 *   per class: its scores over all candidates sorted descending (ties: lower candidate
 *   first), the first top_k kept; IoU matrix of their decoded boxes, upper triangle
 *   (j > i), column max; kept iff max <= nms_threshold (suppressed boxes still suppress);
 *   then all kept of all classes sorted by descending score (ties: lower class, then
 *   rank), the first max_detections.
 * For each of batch images: loc (batch, num_priors, 4), conf (batch, num_priors,
 * num_classes) softmaxed, priors (num_priors, 4) the same for every image; image b's list,
 * up to max_detections, in row b of out (rows out_stride >= max_detections entries apart),
 * its length in count[b] (0 for invalid params). workspace: yl_detect_workspace_bytes,
 * reused image after image. */
void yl_detect_cpu(const float *loc, const float *conf, const float *priors, int num_priors,
                   const yl_detect_params *params, int batch, yl_raw_detection *out,
                   int out_stride, int *count, void *workspace);

/* The official postprocess's score_threshold on yl_detect_cpu's lists (by descending score),
 * for each of batch lists, rows stride apart: counts[b] (list b's length) becomes how many of
 * its detections, from the first, score strictly above threshold — the ones it keeps. Runs
 * before the masks, so none is made for a detection that is dropped. */
void yl_keep_scores_above_cpu(const yl_raw_detection *detections, int stride, int *counts,
                              int batch, float threshold);

/* IoU (jaccard) of two (x1, y1, x2, y2) boxes as box_utils.jaccard computes it. */
float yl_box_iou(const float a[4], const float b[4]);

/* Linear mask assembly at prototype resolution, fused with sigmoid and the box crop, for
 * every image b of a pass (yl_mask_pass): its prototypes (proto_h, proto_w, k) at proto + b
 * * proto_h * proto_w * k, its detections at detections + b * detection_stride, the first
 * pass->image[b].count of them, each with its box (relative x1y1x2y2) and the coefficients of
 * its prior, row `prior` of the (priors, k) block at coeff + b * coeff_image_floats. out: the
 * pass's masks (proto_h, proto_w), dense (image b's from its `first`):
 *   sigmoid(proto . coeff) where the pixel is inside the box crop (official crop with
 *   padding 1, in float32: x1 = max(min(bx1*w, bx2*w) - 1, 0), x2 = min(max(bx1*w, bx2*w) + 1,
 *   w); keep column c iff x1 <= c < x2, rows likewise), else 0.
 * The reference of yl_masks_assemble_cuda (its arguments less the stream). */
void yl_masks_assemble_cpu(const float *proto, int proto_h, int proto_w, int k,
                           const float *coeff, size_t coeff_image_floats,
                           const yl_raw_detection *detections, size_t detection_stride,
                           const yl_mask_pass *pass, float *out);

/* Bilinear resize of every mask of a pass (yl_bilinear_axis entries), thresholded > 0.5 and
 * packed one bit a pixel, most significant bit first: in, the pass's dense masks (in_h,
 * in_w); image b's mask i, resized to the image's (height, width), goes to out +
 * out_offset + i * height * row, rows of row = (width + 7) / 8 bytes. Masks from an empty
 * input (in_h or in_w <= 0) are all 0. No workspace: a sweep's tables live on the stack.
 * The reference of yl_mask_resize_threshold_cuda (its arguments less the stream). */
void yl_mask_resize_threshold_cpu(const float *in, int in_h, int in_w, const yl_mask_pass *pass,
                                  uint8_t *out);

#endif
