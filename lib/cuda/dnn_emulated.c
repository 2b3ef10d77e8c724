/* yl_dnn for the emulated build: the emulation's device memory is host memory, so the CPU
 * backend's exact convolution (on all cores) stands in for cuDNN. It runs as a host function
 * in stream order, so a stream capture records it as it records cuDNN's kernels.
 * It computes FP32 whatever the precision, so FP16 sessions here test our FP16 kernels with
 * an exact backbone. With YL_EMU_CUDNN_FP16 set in the environment when a session is made,
 * an FP16 session's convolutions round their input and weights to half first, as cuDNN's
 * CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION does on tensor cores (the result stays float); set to
 * "input", only the network's input image is rounded (the input of the convolutions that
 * read 3 channels), the least any half backbone changes. Measurements of what FP16 costs the
 * parity sets (test/emu/README.md), not test modes. Training's half tensors (dnn.h) always
 * round: the operands to half (the weights come as half), and each half result (the
 * convolution before its bias, the input and weight gradients) before it is widened, as
 * cuDNN's half tensors hold them; the bias gradient stays FP32. Its tensors' limit is
 * cuDNN's, or the number of elements YL_EMU_CUDNN_MAX_ELEMENTS says, which lets a test make a
 * small batch exceed it; a plan past it is refused, as cuDNN refuses one. It offers EMULATED_ALGOS
 * candidate algorithms, all the same convolution; with YL_EMU_CUDNN_FAIL_ALGOS=N the first N
 * of each plan made while it is set fail when run, as an algorithm cuDNN's heuristics offer
 * may (yl_dnn_conv_trial then moves on). */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/conv.h"      /* yl_epilogue_row */
#include "cpu/dense_ops.h" /* the stand-in for cuDNN is the CPU backend's convolution */
#include "cpu/grad_ops.h"  /* and its backward */
#include "yl_cuda_api.h"
#include "cuda/dnn.h"
#include "weights/weights_internal.h" /* yl_half_to_float: half tensors' weights */

/* The candidate algorithms the stand-in offers a plan, as cuDNN's heuristics offer several. */
#define EMULATED_ALGOS 3

struct yl_dnn {
    cudaStream_t stream;
};

struct yl_dnn_conv {
    yl_conv_desc desc;
    int batch, in_h, in_w;
    size_t in_size, out_size;   /* one image's input and output elements */
    yl_activation act;
    int has_residual;
    /* rounded to half first (YL_EMU_CUDNN_FP16, half_tensors) */
    int rounds_input, rounds_weights;
    int half_tensors; /* the convolution's result rounded too, then bias, residual, act */
    int has_run;    /* outside a stream capture (see yl_dnn_conv_run) */
    int algo, failing_algos; /* the candidate run; those below failing_algos fail */
    /* the operands of the last run, read by the host function when the stream gets to it */
    const float *in, *bias, *residual;
    const void *weight;         /* float, or (half_tensors) half */
    float *out;
    void *workspace;
};

yolact_status yl_dnn_create(struct CUstream_st *stream, yl_dnn **dnn)
{
    if (!(*dnn = calloc(1, sizeof **dnn)))
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory creating the dnn handle");
    (*dnn)->stream = stream;
    return YOLACT_OK;
}

void yl_dnn_describe(int *version, char *library, size_t size)
{
    *version = 0;
    snprintf(library, size, "none: the emulated build runs the CPU convolution instead");
}

void yl_dnn_destroy(yl_dnn *dnn)
{
    free(dnn);
}

size_t yl_dnn_max_tensor_elements(void)
{
    const char *limit = getenv("YL_EMU_CUDNN_MAX_ELEMENTS");
    return limit && atol(limit) > 0 ? (size_t)atol(limit) : INT_MAX;
}

static size_t weight_count(const yl_conv_desc *d)
{
    return (size_t)d->out_channels * d->in_channels * d->kernel_h * d->kernel_w;
}

static void round_to_half(const float *in, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = yl_emu_round_to_half(in[i]);
}

/* The weights as floats: half tensors' half copy widened (exact), else rounded to half
 * (YL_EMU_CUDNN_FP16) into out, or as they are. */
static const float *weights_in_float(const void *weight, size_t n, int half, int rounds,
                                     float *out)
{
    if (half)
        for (size_t i = 0; i < n; i++)
            out[i] = yl_half_to_float(((const uint16_t *)weight)[i]);
    else if (rounds)
        round_to_half(weight, n, out);
    return half || rounds ? out : weight;
}

/* One image's input and output elements; a batch past the library's tensor limit is
 * refused, as cuDNN refuses it. */
static yolact_status image_sizes(const yl_conv_desc *d, int batch, int in_h, int in_w,
                                 size_t *in_size, size_t *out_size)
{
    *in_size = (size_t)d->in_channels * in_h * in_w;
    *out_size = (size_t)d->out_channels *
                yl_conv_out_size(in_h, d->kernel_h, d->stride, d->pad, d->dilation) *
                yl_conv_out_size(in_w, d->kernel_w, d->stride, d->pad, d->dilation);
    const size_t largest = *in_size > *out_size ? *in_size : *out_size;
    if (largest * batch > yl_dnn_max_tensor_elements())
        return yl_fail(YOLACT_ERR_DEVICE, "a convolution of %d images of %zu elements: past the "
                       "library's %zu elements a tensor", batch, largest,
                       yl_dnn_max_tensor_elements());
    return YOLACT_OK;
}

yolact_status yl_dnn_conv_plan(yl_dnn *dnn, const yl_conv_desc *d, int batch, int in_h, int in_w,
                               yl_activation act, int has_residual, yolact_precision precision,
                               int half_tensors, yl_dnn_conv **plan, size_t *workspace_bytes)
{
    (void)dnn;
    size_t in_size, out_size;
    YL_TRY(image_sizes(d, batch, in_h, in_w, &in_size, &out_size));
    yl_dnn_conv *p = malloc(sizeof *p);
    if (!p)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory planning a convolution");
    half_tensors = half_tensors && precision == YOLACT_PRECISION_FP16;
    const char *rounding = half_tensors                          ? "all"
                           : precision == YOLACT_PRECISION_FP16 ? getenv("YL_EMU_CUDNN_FP16")
                                                                 : NULL;
    int image_only = rounding && strcmp(rounding, "input") == 0;
    const char *failing = getenv("YL_EMU_CUDNN_FAIL_ALGOS");
    *p = (yl_dnn_conv){.desc = *d, .batch = batch, .in_h = in_h, .in_w = in_w,
                       .in_size = in_size, .out_size = out_size, .act = act,
                       .has_residual = has_residual, .half_tensors = half_tensors,
                       .rounds_input = rounding && (!image_only || d->in_channels == 3),
                       .rounds_weights = rounding && !image_only,
                       .failing_algos = failing ? atoi(failing) : 0};
    *plan = p;
    /* the CPU convolution's scratch; rounding: then one image's input and the weights */
    size_t floats = yl_conv2d_workspace_floats(d, in_h, in_w);
    if (p->rounds_input || p->rounds_weights)
        floats += in_size + weight_count(d);
    *workspace_bytes = floats * sizeof(float);
    return YOLACT_OK;
}

void yl_dnn_conv_free(yl_dnn_conv *plan)
{
    free(plan);
}

/* Image by image, the workspace reused. */
static void run_conv(void *plan)
{
    const yl_dnn_conv *p = plan;
    const yl_conv_desc *d = &p->desc;
    const size_t in_size = p->in_size, out_size = p->out_size;
    float *scratch = p->workspace;
    float *rounded_in = scratch + yl_conv2d_workspace_floats(d, p->in_h, p->in_w);
    float *rounded_weight = rounded_in + in_size;
    const float *weight = weights_in_float(p->weight, weight_count(d), p->half_tensors,
                                           p->rounds_weights, rounded_weight);
    for (int b = 0; b < p->batch; b++) {
        const float *in = p->in + in_size * b;
        if (p->rounds_input) {
            round_to_half(in, in_size, rounded_in);
            in = rounded_in;
        }
        const float *residual = p->residual ? p->residual + out_size * b : NULL;
        float *out = p->out + out_size * b;
        if (!p->half_tensors) {
            yl_conv2d_prepared_cpu(d, in, p->in_h, p->in_w, weight, NULL, p->bias, residual,
                                   p->act, out, scratch, 0);
            continue;
        }
        yl_conv2d_prepared_cpu(d, in, p->in_h, p->in_w, weight, NULL, NULL, NULL, YL_ACT_NONE,
                               out, scratch, 0);
        round_to_half(out, out_size, out);
        const size_t plane = out_size / d->out_channels;
        for (int o = 0; o < d->out_channels; o++)
            yl_epilogue_row(out + plane * o, p->bias ? p->bias[o] : 0.0f,
                            residual ? residual + plane * o : NULL, p->act, plane,
                            out + plane * o);
    }
}

/* Whether a_bytes at a and b_bytes at b overlap. */
static int overlap(const void *a, size_t a_bytes, const void *b, size_t b_bytes)
{
    uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b;
    return a0 < b0 + b_bytes && b0 < a0 + a_bytes;
}

yolact_status yl_dnn_conv_run(yl_dnn *dnn, yl_dnn_conv *p, const float *in,
                              const void *weight, const float *bias, const float *residual,
                              float *out, void *workspace)
{
    if (!residual != !p->has_residual || (p->half_tensors && residual == out))
        return yl_fail(YOLACT_ERR_INTERNAL, "a convolution planned %s a residual ran %s one, "
                       "or with half tensors its residual is its output",
                       p->has_residual ? "with" : "without", residual ? "with" : "without");
    /* cuDNN may build a plan's engine (compile, load, allocate) at its first call, which a
     * stream capture need not allow: the stand-in refuses a first run inside one, so the
     * tests prove the backend runs every plan once before capturing it. */
    cudaStreamCaptureStatus capture;
    YL_CHECK(cuda, cudaStreamIsCapturing(dnn->stream, &capture));
    if (capture != cudaStreamCaptureStatusNone && !p->has_run)
        return yl_fail(YOLACT_ERR_INTERNAL, "a convolution plan's first run is inside a stream "
                       "capture");
    if (p->algo < p->failing_algos)
        return yl_fail(YOLACT_ERR_DEVICE, "cudnnConvolutionBiasActivationForward failed: %s "
                       "(candidate algorithm %d of the stand-in, YL_EMU_CUDNN_FAIL_ALGOS)",
                       p->algo % 2 ? "CUDNN_STATUS_EXECUTION_FAILED"
                                   : "CUDNN_STATUS_NOT_SUPPORTED", p->algo);
    p->has_run |= capture == cudaStreamCaptureStatusNone;
    /* cuDNN reads x while it writes y, in no set order: they must not overlap (z, the
     * residual, may be y itself). The stand-in goes image by image and would not show it. */
    const size_t in_count = p->in_size * p->batch, out_count = p->out_size * p->batch;
    const size_t in_bytes = in_count * sizeof *in, out_bytes = out_count * sizeof *out;
    if (overlap(in, in_bytes, out, out_bytes) ||
        (residual && residual != out && overlap(residual, out_bytes, out, out_bytes)))
        return yl_fail(YOLACT_ERR_INTERNAL, "a convolution's output overlaps its input or its "
                       "residual");
    /* Without a residual cuDNN gets y as z, scaled by 0, and may read it: a NaN there (what
     * the emulation's cudaMalloc leaves) would be one in the result. Streams are synchronous
     * here, so out holds now what it will when the call runs. */
    for (size_t i = 0; !residual && capture == cudaStreamCaptureStatusNone && i < out_count; i++)
        if (isnan(out[i]))
            return yl_fail(YOLACT_ERR_INTERNAL, "a convolution's output holds a NaN (element "
                           "%zu) before it runs: cuDNN may read it as z", i);
    p->in = in;
    p->weight = weight;
    p->bias = bias;
    p->residual = residual;
    p->out = out;
    p->workspace = workspace;
    YL_CHECK(cuda, cudaLaunchHostFunc(dnn->stream, run_conv, p));
    return YOLACT_OK;
}

yolact_status yl_dnn_conv_trial(yl_dnn *dnn, yl_dnn_conv *p, const float *in,
                                const void *weight, const float *bias, const float *residual,
                                float *out, void *workspace)
{
    for (p->algo = 0; p->algo < EMULATED_ALGOS; p->algo++) {
        yolact_status s = yl_dnn_conv_run(dnn, p, in, weight, bias, residual, out, workspace);
        if (s == YOLACT_OK) {
            YL_CHECK(cuda, cudaStreamSynchronize(dnn->stream));
            return YOLACT_OK;
        }
        if (p->algo >= p->failing_algos) /* not the algorithm's failure: the call's */
            return s;
    }
    return yl_fail(YOLACT_ERR_UNSUPPORTED, "none of the stand-in's %d algorithms for a "
                   "convolution runs (YL_EMU_CUDNN_FAIL_ALGOS)", EMULATED_ALGOS);
}

/* ---- the backward: yl_conv2d_backward_cpu as a host function in stream order ------------ */
struct yl_dnn_conv_grad {
    yl_conv_desc desc;
    int batch, in_h, in_w, wants_grad_in, half_tensors;
    size_t in_count, out_count, weight_count;    /* the whole batch's */
    /* the operands of the last run, read by the host function when the stream gets to it */
    const float *in, *grad_out;
    const void *weight;         /* float, or (half_tensors) half */
    float *grad_in, *grad_weight, *grad_bias;
    int accumulate;
    void *workspace;
};

yolact_status yl_dnn_conv_grad_plan(yl_dnn *dnn, const yl_conv_desc *d, int batch, int in_h,
                                    int in_w, int wants_grad_in, int half_tensors,
                                    yl_dnn_conv_grad **plan, size_t *workspace_bytes)
{
    (void)dnn;
    size_t in_size, out_size;
    YL_TRY(image_sizes(d, batch, in_h, in_w, &in_size, &out_size));
    yl_dnn_conv_grad *p = calloc(1, sizeof *p);
    if (!p)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory planning a convolution's "
                       "backward");
    *p = (yl_dnn_conv_grad){.desc = *d, .batch = batch, .in_h = in_h, .in_w = in_w,
                            .wants_grad_in = wants_grad_in, .half_tensors = half_tensors,
                            .in_count = in_size * batch, .out_count = out_size * batch,
                            .weight_count = weight_count(d)};
    *plan = p;
    /* half tensors: then the rounded input, weights and output gradient, and the input and
     * weight gradients before they are widened */
    size_t floats = yl_conv2d_grad_workspace_floats(d, in_h, in_w);
    if (half_tensors)
        floats += 2 * (p->in_count + p->weight_count) + p->out_count;
    *workspace_bytes = floats * sizeof(float);
    return YOLACT_OK;
}

void yl_dnn_conv_grad_free(yl_dnn_conv_grad *plan)
{
    free(plan);
}

/* to[i] = half(from[i]) widened, or added to to[i] with accumulate. */
static void widen_half(const float *from, size_t n, int accumulate, float *to)
{
    for (size_t i = 0; i < n; i++)
        to[i] = accumulate ? to[i] + yl_emu_round_to_half(from[i])
                           : yl_emu_round_to_half(from[i]);
}

/* Half tensors: the gradients of the rounded operands, each rounded as cuDNN's half output
 * is, then widened into the FP32 ones; the bias gradient from the FP32 output gradient. */
static void run_half_conv_grad(const yl_dnn_conv_grad *p)
{
    const yl_conv_desc *d = &p->desc;
    float *scratch = p->workspace;
    float *in = scratch + yl_conv2d_grad_workspace_floats(d, p->in_h, p->in_w);
    float *weight = in + p->in_count, *grad_out = weight + p->weight_count;
    float *grad_in = grad_out + p->out_count, *grad_weight = grad_in + p->in_count;
    round_to_half(p->in, p->in_count, in);
    weights_in_float(p->weight, p->weight_count, 1, 0, weight);
    round_to_half(p->grad_out, p->out_count, grad_out);
    memset(grad_weight, 0, p->weight_count * sizeof *grad_weight);
    yl_conv2d_backward_cpu(d, in, p->batch, p->in_h, p->in_w, weight, grad_out,
                           p->grad_in ? grad_in : NULL, 0, grad_weight, NULL, scratch, 0);
    if (p->grad_in)
        widen_half(grad_in, p->in_count, p->accumulate, p->grad_in);
    widen_half(grad_weight, p->weight_count, 1, p->grad_weight);
    const size_t plane = p->out_count / p->batch / d->out_channels;
    for (int b = 0; b < p->batch && p->grad_bias; b++)
        for (int o = 0; o < d->out_channels; o++) {
            const float *row = p->grad_out + ((size_t)b * d->out_channels + o) * plane;
            float sum = 0.0f;
            for (size_t j = 0; j < plane; j++)
                sum += row[j];
            p->grad_bias[o] += sum;
        }
}

static void run_conv_grad(void *plan)
{
    const yl_dnn_conv_grad *p = plan;
    if (p->half_tensors) {
        run_half_conv_grad(p);
        return;
    }
    yl_conv2d_backward_cpu(&p->desc, p->in, p->batch, p->in_h, p->in_w, p->weight, p->grad_out,
                           p->grad_in, p->accumulate, p->grad_weight, p->grad_bias,
                           p->workspace, 0);
}

yolact_status yl_dnn_conv_grad_run(yl_dnn *dnn, yl_dnn_conv_grad *p, const float *in,
                                   const void *weight, const float *grad_out, float *grad_in,
                                   int accumulate, float *grad_weight, float *grad_bias,
                                   void *workspace)
{
    if (!grad_in != !p->wants_grad_in)
        return yl_fail(YOLACT_ERR_INTERNAL, "a convolution's backward planned %s an input "
                       "gradient ran %s one", p->wants_grad_in ? "with" : "without",
                       grad_in ? "with" : "without");
    /* cuDNN writes dx while it reads w and dy: they must not overlap (the stand-in would not
     * show it). */
    const size_t in_bytes = p->in_count * sizeof(float);
    const size_t weight_bytes = p->weight_count * sizeof(float); /* half: half as many */
    if (grad_in && (overlap(grad_in, in_bytes, grad_out, p->out_count * sizeof(float)) ||
                    overlap(grad_in, in_bytes, weight,
                            p->half_tensors ? weight_bytes / 2 : weight_bytes) ||
                    overlap(grad_in, in_bytes, grad_weight, weight_bytes)))
        return yl_fail(YOLACT_ERR_INTERNAL, "a convolution's input gradient overlaps its "
                       "output gradient or weights");
    p->in = in;
    p->weight = weight;
    p->grad_out = grad_out;
    p->grad_in = grad_in;
    p->accumulate = accumulate;
    p->grad_weight = grad_weight;
    p->grad_bias = grad_bias;
    p->workspace = workspace;
    YL_CHECK(cuda, cudaLaunchHostFunc(dnn->stream, run_conv_grad, p));
    return YOLACT_OK;
}
