/* A model's weights on one GPU, shared: every CUDA session of the same model, device and
 * precision uses one copy, an entry of the model's cache (model/cache.h) uploaded (and
 * packed for our kernels) by the first and freed by the last. Sessions on one model from
 * several threads thus cost the weights' memory once. */
#ifndef YL_CUDA_WEIGHTS_H
#define YL_CUDA_WEIGHTS_H

#include "model/model.h"
#include "yolact.h"

/* The convolutions that are ours rather than the library's (op->engine, which the model
 * builder sets: the protonet's and the heads'). */
int yl_cuda_is_own_conv(const yl_op *op);

/* The precision an op's kernel computes in, for a session of `precision` (FP32 or FP16). */
yolact_precision yl_cuda_op_precision(const yl_op *op, yolact_precision precision);

/* Per op of the model (NULL where an op has none): device pointers to the folded weight and
 * bias of every CONV and DCN, and the weights packed for our kernels (our convolutions and
 * the DCNs). */
struct CUstream_st;

typedef struct yl_cuda_weights {
    const float **weight, **bias;
    const void **packed;
    size_t bytes;                   /* the device memory they take */
} yl_cuda_weights;

/* The weights of m for sessions of `precision` on the current device (`device`, the index
 * the caller made current): shared when another session holds them, else uploaded now on
 * the caller's (non-blocking) stream, finished when it returns. Thread-safe. */
yolact_status yl_cuda_weights_acquire(const yolact_model *m, int device,
                                      yolact_precision precision, struct CUstream_st *stream,
                                      const yl_cuda_weights **out);

/* Give back what acquire gave of m (NULL is fine); the last holder frees the device memory
 * (with `device` current). Thread-safe. */
void yl_cuda_weights_release(const yolact_model *m, const yl_cuda_weights *weights);

#endif
