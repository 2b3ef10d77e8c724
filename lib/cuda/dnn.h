/* The convolutions the CUDA backend leaves to a library (backbone and FPN): cuDNN on a GPU;
 * in the emulated build the CPU backend's convolution on the (host) "device" memory, so the
 * whole CUDA path runs in CI. One plan per convolution, made when the session is created. */
#ifndef YL_CUDA_DNN_H
#define YL_CUDA_DNN_H

#include <stddef.h>

#include "ops/conv.h"
#include "yolact.h"

struct CUstream_st;

typedef struct yl_dnn yl_dnn;           /* per session: the library handle, on its stream */
typedef struct yl_dnn_conv yl_dnn_conv; /* one planned convolution */

yolact_status yl_dnn_create(struct CUstream_st *stream, yl_dnn **dnn);
void yl_dnn_destroy(yl_dnn *dnn); /* NULL is fine */

/* Plan out = act(conv(in) + bias + residual) for a batch of inputs of in_h x in_w, FP32
 * tensors (batch, C, H, W); FP32 precision forbids TF32 and reduced precision. FP16 lets the
 * library round the operands to half on tensor cores, or with half_tensors (training's mixed
 * precision, as autocast runs a convolution) convolves a half copy of in, made in the
 * workspace, and the caller's half copy of the weights with float accumulation into a half
 * result that is then widened, and adds bias, residual and activation in FP32. The library
 * offers candidate algorithms, best first; the plan runs the first until yl_dnn_conv_trial
 * settles which works.
 * *workspace_bytes: the device scratch yl_dnn_conv_run needs with any of them. */
yolact_status yl_dnn_conv_plan(yl_dnn *dnn, const yl_conv_desc *d, int batch, int in_h, int in_w,
                               yl_activation act, int has_residual, yolact_precision precision,
                               int half_tensors, yl_dnn_conv **plan, size_t *workspace_bytes);
void yl_dnn_conv_free(yl_dnn_conv *plan); /* NULL is fine */

/* The most elements a plan's input or output tensor may hold (cuDNN: 2^31 - 1, its
 * descriptors index with int): a batch past it runs as several calls, each of fewer images. */
size_t yl_dnn_max_tensor_elements(void);

/* Enqueue the planned convolution on the dnn's stream (capturable into a CUDA graph); every
 * pointer is device memory, weight OIHW (float, or with half tensors the weights' half copy,
 * IEEE binary16 bits), residual NULL unless planned with one, out aliasing
 * neither in nor residual. Without a residual, out must hold numbers, not uninitialised
 * memory: the library may read it scaled by 0 (dnn_cudnn.c). A plan serves one op of one
 * session: it may keep the operands until the stream has run it. */
yolact_status yl_dnn_conv_run(yl_dnn *dnn, yl_dnn_conv *plan, const float *in,
                              const void *weight, const float *bias, const float *residual,
                              float *out, void *workspace);

/* Run the plan on yl_dnn_conv_run's operands, outside any stream capture, with each of its
 * candidate algorithms in turn until one runs, and keep that one (an algorithm the
 * heuristics offer may still refuse the shape, or fail, at its first call); waits for the
 * stream. YOLACT_ERR_UNSUPPORTED when none runs: the caller convolves another way. */
yolact_status yl_dnn_conv_trial(yl_dnn *dnn, yl_dnn_conv *plan, const float *in,
                                const void *weight, const float *bias, const float *residual,
                                float *out, void *workspace);

/* ---- training: the backward of a convolution ------------------------------------------ */
typedef struct yl_dnn_conv_grad yl_dnn_conv_grad; /* one planned convolution backward */

/* Plan the backward of the FP32 convolution out = conv(in) + bias for a batch of inputs of
 * in_h x in_w (yl_conv2d_backward_cpu's, cpu/grad_ops.h: the activation's backward comes
 * first): the input gradient where wants_grad_in (not for the network's image), the weight
 * gradient, and the bias gradient when run with one. FP32 math without TF32, and only
 * algorithms the library says are deterministic, so a batch gives the same gradients run
 * after run. With half_tensors (mixed precision) the input and weight gradients come from
 * half copies of in and grad_out (made in the workspace) and the caller's of the weights,
 * with float accumulation into half results, which are widened and added where FP32's go;
 * the bias gradient stays FP32. *workspace_bytes: the device scratch yl_dnn_conv_grad_run needs. */
yolact_status yl_dnn_conv_grad_plan(yl_dnn *dnn, const yl_conv_desc *d, int batch, int in_h,
                                    int in_w, int wants_grad_in, int half_tensors,
                                    yl_dnn_conv_grad **plan, size_t *workspace_bytes);
void yl_dnn_conv_grad_free(yl_dnn_conv_grad *plan); /* NULL is fine */

/* Enqueue it on the dnn's stream, as yl_conv2d_backward_cpu (weight as yl_dnn_conv_run
 * takes it: float, or with half tensors the half copy): grad_in (batch, C, H, W)
 * written, or added to with accumulate (NULL when planned without it); grad_weight (OIHW)
 * and grad_bias (out channels; NULL for a convolution without bias) added to. Device
 * pointers; grad_in overlaps none of the others. The first run outside a stream capture
 * settles the algorithms, moving past any the library offered but refuses to run. */
yolact_status yl_dnn_conv_grad_run(yl_dnn *dnn, yl_dnn_conv_grad *plan, const float *in,
                                   const void *weight, const float *grad_out, float *grad_in,
                                   int accumulate, float *grad_weight, float *grad_bias,
                                   void *workspace);

/* The library this process uses for them: its version (cudnnGetVersion(); 0 when there is
 * none) and the file it was opened from, or why none was, in library[size]. */
void yl_dnn_describe(int *version, char *library, size_t size);

#endif
