/* YOLACT++'s mask re-scoring network (FastMaskIoUNet) on the CPU: each detection's cropped
 * sigmoid mask at prototype resolution goes through a few unpadded convolutions, each
 * followed by ReLU, and a global max pool; the value of the detection's class is its
 * predicted mask IoU. Plain signature, so a CUDA kernel can mirror it. */
#ifndef YL_CPU_MASKIOU_H
#define YL_CPU_MASKIOU_H

#include <stddef.h>

#include "ops/maskiou.h"

/* Floats of scratch for yl_maskiou_cpu with num_threads threads. */
size_t yl_maskiou_workspace_floats(const yl_maskiou_net *net, int num_threads);

/* iou[i] = max over the last layer's map of channel classes[i] of the network run on mask i.
 *   masks: (n, in_h, in_w) cropped sigmoid masks; classes: (n) 0-based, background excluded.
 * Parallel over masks; num_threads: 0 = all cores. */
void yl_maskiou_cpu(const yl_maskiou_net *net, const float *masks, int n, const int *classes,
                    float *iou, float *workspace, int num_threads);

#endif
