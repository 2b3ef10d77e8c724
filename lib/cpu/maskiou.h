/* YOLACT++'s mask re-scoring network (FastMaskIoUNet) on the CPU: each detection's cropped
 * sigmoid mask at prototype resolution goes through a few unpadded convolutions, each
 * followed by ReLU, and a global max pool; the value of the detection's class is its
 * predicted mask IoU. Plain signature, so a CUDA kernel can mirror it. */
#ifndef YL_CPU_MASKIOU_H
#define YL_CPU_MASKIOU_H

#include <stddef.h>

#include "ops/detect.h"
#include "ops/mask_pass.h"
#include "ops/maskiou.h"

/* Floats of scratch for yl_maskiou_cpu with num_threads threads. */
size_t yl_maskiou_workspace_floats(const yl_maskiou_net *net, int num_threads);

/* iou[i] = max over the last layer's map of channel classes[i] of the network run on mask i.
 *   masks: (n, in_h, in_w) cropped sigmoid masks; classes: (n) 0-based, background excluded.
 * Parallel over masks; num_threads: 0 = all cores. */
void yl_maskiou_cpu(const yl_maskiou_net *net, const float *masks, int n, const int *classes,
                    float *iou, float *workspace, int num_threads);

/* The last layer's maps of the net: (channels, h, w) a mask. */
void yl_maskiou_out_dims(const yl_maskiou_net *net, int *channels, int *h, int *w);

/* The net on masks (n, in_h, in_w) as yl_maskiou_cpu runs it, each mask's last-layer maps to
 * maps (n, channels, h, w) of yl_maskiou_out_dims, for yl_mask_rescore_cpu. */
void yl_maskiou_maps_cpu(const yl_maskiou_net *net, const float *masks, int n, float *maps,
                         float *workspace, int num_threads);

/* YOLACT++'s mask re-scoring for masks [first, first + n) of a pass: mask g of image b
 * (its first <= g < its first + count) is detection j = g - first of the list at detections
 * + b * detection_stride; its mask score, mask_scores[b * score_stride + j], is the
 * detection's score x the max over the (h, w) map of channel class_index in maps[g - first]
 * (NaN for a class outside [0, channels)); maps (n, channels, h, w). The reference of
 * yl_mask_rescore_cuda (its arguments less the stream); the max is yl_maskiou_cpu's. */
void yl_mask_rescore_cpu(const float *maps, int first, int n, int channels, int h, int w,
                         const yl_mask_pass *pass, const yl_raw_detection *detections,
                         size_t detection_stride, float *mask_scores, size_t score_stride);

#endif
