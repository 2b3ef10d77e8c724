/* A full-size network of a named preset with random weights, in the official checkpoint's
 * tensor layout, so benchmarks and tests run on a machine without a downloaded checkpoint. */
#ifndef YL_RANDOM_WEIGHTS_H
#define YL_RANDOM_WEIGHTS_H

#include <stdint.h>

#include "weights/tensor_table.h"
#include "yolact.h"

/* Fill *table with every tensor the official Yolact() state_dict of the preset holds (the
 * COCO head: 81 classes, 3 anchors, 32 prototypes; FPN and protonet 256 wide; backbone
 * ResNet-101 [3,4,23,3] for yolact_base/im400/im700, ResNet-50 [3,4,6,3] for
 * yolact_resnet50, DarkNet-53 [1,2,8,8,4] for yolact_darknet53; semantic_seg_conv too; and
 * YOLACT++'s yolact_plus_base (ResNet-101 with DCNv2 in every third block of stages 2-4) and
 * yolact_plus_resnet50 (ResNet-50 with DCNv2 in every block of stages 2-4), with 9 anchors
 * and the mask-IoU net).
 * Convolution weights are N(0, sqrt(2 / fan_in)), biases N(0, 0.01); BatchNorm is near the
 * identity (gamma, running_var in [0.9, 1.1], beta, running_mean N(0, 0.05)). The same
 * preset and seed give the same values. On failure *table is left empty. */
yolact_status yl_random_weights(const char *preset, uint64_t seed, yl_tensor_table *table);

#endif
