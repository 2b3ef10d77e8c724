/* YOLACT++'s mask re-scoring network (FastMaskIoUNet) as the model describes it and each
 * backend runs it (lib/cpu/maskiou.h, lib/cuda/rescore.h). */
#ifndef YL_OPS_MASKIOU_H
#define YL_OPS_MASKIOU_H

#include "ops/conv.h"

#define YL_MAX_MASKIOU_LAYERS 8

typedef struct yl_maskiou_layer {
    yl_conv_desc conv;          /* no padding; ReLU after it */
    const float *weight, *bias; /* OIHW, (out_channels) */
} yl_maskiou_layer;

typedef struct yl_maskiou_net {
    int num_layers;             /* 0: no mask re-scoring */
    yl_maskiou_layer layers[YL_MAX_MASKIOU_LAYERS];
    int in_h, in_w;             /* the prototype grid; one input channel */
} yl_maskiou_net;

#endif
