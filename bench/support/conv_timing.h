/* The convolutions our kernels run (protonet, prediction head: yl_cuda_is_own_conv) timed
 * against cuDNN on the same shapes and operands, for yolact-bench --conv-shapes: the issue's
 * "custom head kernels at >= 60% of the tensor-core throughput cuDNN reaches" is read off it. */
#ifndef YL_BENCH_CONV_TIMING_H
#define YL_BENCH_CONV_TIMING_H

#include "model/model.h"
#include "ops/conv.h"
#include "yolact.h"

typedef struct yl_conv_timing {
    char op[64];            /* the first op of the network with this shape */
    yl_conv_desc desc;
    yl_activation act;
    int in_h, in_w, out_h, out_w;
    int ops;                /* how many of the network's ops have this shape (per image) */
    double flop;            /* of one call on the batch: 2 x out_c x out_h x out_w x K x batch */
    double own_ms, dnn_ms;  /* median of the timed calls: our kernel, cuDNN */
} yl_conv_timing;

/* Each distinct shape (desc, input size, activation) of m's own convolutions, in op order,
 * into out[0..*count) (room for m->num_ops): `iters` calls of each side on a batch of
 * `batch` images, after one untimed call, timed with events on one stream of device
 * device_index, at precision FP32 or FP16. Weights are the model's. The CUDA backend's
 * status when it cannot run (no GPU, no cuDNN, a build without it). */
yolact_status yl_cuda_time_convs(const yolact_model *m, int device_index,
                                 yolact_precision precision, int batch, int iters,
                                 yl_conv_timing *out, int *count);

#endif
