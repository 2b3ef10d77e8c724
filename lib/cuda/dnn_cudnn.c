/* yl_dnn on cuDNN (legacy convolution API): descriptors, the algorithms cuDNN's heuristics
 * offer for the shape (the first that runs at the session's trial kept), and the fused
 * conv + bias + residual + ReLU call. FP32 precision sets CUDNN_FMA_MATH, and takes only
 * algorithms offered for FMA or default math, so Ampere and Hopper do not silently use TF32.
 * Training's half tensors (mixed precision) convolve the caller's half weights and half
 * copies of the activations and gradients that our cast kernels make in the workspace, after
 * cuDNN's own scratch: half tensor and filter descriptors, FLOAT
 * compute, tensor-op math allowed; the results widened by the cast kernels, the bias (and
 * the residual and activation) added in FP32, the bias gradient FP32.
 * cuDNN is opened with dlopen at the first session, so libyolact loads (and runs on the CPU)
 * where cuDNN is not installed; its absence is a status. */
#define _GNU_SOURCE /* dladdr */
#include <cudnn.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yl_cuda_api.h"
#include "cuda/dnn.h"
#include "yl_grad_kernels.h" /* the half casts */
#include "yl_kernels.h"

/* Every cuDNN entry point used, resolved by name into a pointer of its own type. */
#define CUDNN_FUNCTIONS(X)                                                                   \
    X(cudnnCreate) X(cudnnDestroy) X(cudnnSetStream) X(cudnnGetErrorString)                  \
    X(cudnnCreateTensorDescriptor) X(cudnnDestroyTensorDescriptor)                           \
    X(cudnnCreateFilterDescriptor) X(cudnnDestroyFilterDescriptor)                           \
    X(cudnnCreateConvolutionDescriptor) X(cudnnDestroyConvolutionDescriptor)                 \
    X(cudnnCreateActivationDescriptor) X(cudnnDestroyActivationDescriptor)                   \
    X(cudnnSetTensor4dDescriptor) X(cudnnSetFilter4dDescriptor)                              \
    X(cudnnSetConvolution2dDescriptor) X(cudnnSetConvolutionMathType)                        \
    X(cudnnGetConvolution2dForwardOutputDim) X(cudnnSetActivationDescriptor)                 \
    X(cudnnGetConvolutionForwardAlgorithm_v7) X(cudnnGetConvolutionForwardWorkspaceSize)     \
    X(cudnnConvolutionBiasActivationForward) X(cudnnGetVersion)                            \
    X(cudnnGetConvolutionBackwardDataAlgorithm_v7)                                           \
    X(cudnnGetConvolutionBackwardDataWorkspaceSize) X(cudnnConvolutionBackwardData)          \
    X(cudnnGetConvolutionBackwardFilterAlgorithm_v7)                                         \
    X(cudnnGetConvolutionBackwardFilterWorkspaceSize) X(cudnnConvolutionBackwardFilter)      \
    X(cudnnConvolutionBackwardBias) X(cudnnConvolutionForward) X(cudnnAddTensor)

static struct {
#define DECLARE(name) __typeof__(&name) name;
    CUDNN_FUNCTIONS(DECLARE)
#undef DECLARE
} dnn_api;

static pthread_once_t dnn_once = PTHREAD_ONCE_INIT;
static char dnn_missing[256]; /* why cuDNN could not be used, "" once it can */

static void open_cudnn(void)
{
    void *library = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!library) {
        const char *why = dlerror();
        snprintf(dnn_missing, sizeof dnn_missing, "%s", why ? why : "libcudnn.so.9 not found");
        return;
    }
#define RESOLVE(name)                                                                        \
    {                                                                                        \
        void *symbol = dlsym(library, #name);                                                \
        if (!symbol && !*dnn_missing)                                                        \
            snprintf(dnn_missing, sizeof dnn_missing, "libcudnn.so.9 has no %s", #name);     \
        memcpy(&dnn_api.name, &symbol, sizeof symbol);                                       \
    }
    CUDNN_FUNCTIONS(RESOLVE)
#undef RESOLVE
}

void yl_dnn_describe(int *version, char *library, size_t size)
{
    *version = 0;
    if (pthread_once(&dnn_once, open_cudnn) != 0 || *dnn_missing) {
        snprintf(library, size, "not opened: %s",
                 *dnn_missing ? dnn_missing : "pthread_once failed");
        return;
    }
    *version = (int)dnn_api.cudnnGetVersion();
    /* The file the loader found for libcudnn.so.9, its symbolic links resolved. */
    Dl_info where = {0};
    void *symbol;
    memcpy(&symbol, &dnn_api.cudnnGetVersion, sizeof symbol);
    const char *name = dladdr(symbol, &where) && where.dli_fname ? where.dli_fname
                                                                 : "libcudnn.so.9";
    char *path = realpath(name, NULL);
    snprintf(library, size, "%s", path ? path : name);
    free(path);
}

/* YL_CHECK(cudnn, expr) (status.h): YOLACT_OK when status is CUDNN_STATUS_SUCCESS, else
 * YOLACT_ERR_DEVICE naming the statement, cuDNN's error, the function and file:line. */
static yolact_status yl_cudnn_failure(cudnnStatus_t status, const char *statement,
                                      const char *function, const char *file, int line)
{
    if (status == CUDNN_STATUS_SUCCESS)
        return YOLACT_OK;
    return yl_fail(YOLACT_ERR_DEVICE, "%s failed: %s in %s at %s:%d", statement,
                   dnn_api.cudnnGetErrorString(status), function, file, line);
}

struct yl_dnn {
    cudnnHandle_t handle;
    cudaStream_t stream;
};

/* A convolution's shape as cuDNN takes it: the forward's and the backward's plans both. */
typedef struct conv_descriptors {
    cudnnTensorDescriptor_t in, out, bias;
    cudnnTensorDescriptor_t out_float;  /* half tensors: the FP32 output's, else NULL */
    size_t in_count, weight_count, out_count; /* elements */
    cudnnFilterDescriptor_t weight;
    cudnnConvolutionDescriptor_t conv;
} conv_descriptors;

static void free_descriptors(conv_descriptors *t)
{
    if (t->in)
        dnn_api.cudnnDestroyTensorDescriptor(t->in);
    if (t->out)
        dnn_api.cudnnDestroyTensorDescriptor(t->out);
    if (t->bias)
        dnn_api.cudnnDestroyTensorDescriptor(t->bias);
    if (t->out_float)
        dnn_api.cudnnDestroyTensorDescriptor(t->out_float);
    if (t->weight)
        dnn_api.cudnnDestroyFilterDescriptor(t->weight);
    if (t->conv)
        dnn_api.cudnnDestroyConvolutionDescriptor(t->conv);
}

/* NCHW tensors of batch images of in_h x in_w and OIHW weights, float or (half) half, the
 * model's convolution (float compute) with math as its math type. */
static yolact_status describe(conv_descriptors *t, const yl_conv_desc *d, int batch, int in_h,
                              int in_w, cudnnMathType_t math, int half)
{
    const cudnnDataType_t type = half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
    YL_CHECK(cudnn, dnn_api.cudnnCreateTensorDescriptor(&t->in));
    YL_CHECK(cudnn, dnn_api.cudnnCreateTensorDescriptor(&t->out));
    YL_CHECK(cudnn, dnn_api.cudnnCreateTensorDescriptor(&t->bias));
    YL_CHECK(cudnn, dnn_api.cudnnCreateFilterDescriptor(&t->weight));
    YL_CHECK(cudnn, dnn_api.cudnnCreateConvolutionDescriptor(&t->conv));
    YL_CHECK(cudnn, dnn_api.cudnnSetTensor4dDescriptor(t->in, CUDNN_TENSOR_NCHW, type, batch,
                                                       d->in_channels, in_h, in_w));
    YL_CHECK(cudnn, dnn_api.cudnnSetFilter4dDescriptor(t->weight, type,
                                                       CUDNN_TENSOR_NCHW, d->out_channels,
                                                       d->in_channels, d->kernel_h, d->kernel_w));
    YL_CHECK(cudnn, dnn_api.cudnnSetConvolution2dDescriptor(
        t->conv, d->pad, d->pad, d->stride, d->stride, d->dilation, d->dilation,
        CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    YL_CHECK(cudnn, dnn_api.cudnnSetConvolutionMathType(t->conv, math));
    int n, c, h, w;
    YL_CHECK(cudnn, dnn_api.cudnnGetConvolution2dForwardOutputDim(t->conv, t->in, t->weight, &n,
                                                                  &c, &h, &w));
    if (h != yl_conv_out_size(in_h, d->kernel_h, d->stride, d->pad, d->dilation) ||
        w != yl_conv_out_size(in_w, d->kernel_w, d->stride, d->pad, d->dilation))
        return yl_fail(YOLACT_ERR_INTERNAL, "cuDNN's output size %dx%d is not the model's", h, w);
    YL_CHECK(cudnn, dnn_api.cudnnSetTensor4dDescriptor(t->out, CUDNN_TENSOR_NCHW, type, n, c,
                                                       h, w));
    YL_CHECK(cudnn, dnn_api.cudnnSetTensor4dDescriptor(t->bias, CUDNN_TENSOR_NCHW,
                                                       CUDNN_DATA_FLOAT, 1, c, 1, 1));
    if (half) {
        YL_CHECK(cudnn, dnn_api.cudnnCreateTensorDescriptor(&t->out_float));
        YL_CHECK(cudnn, dnn_api.cudnnSetTensor4dDescriptor(t->out_float, CUDNN_TENSOR_NCHW,
                                                           CUDNN_DATA_FLOAT, n, c, h, w));
    }
    t->in_count = (size_t)batch * d->in_channels * in_h * in_w;
    t->weight_count = (size_t)d->out_channels * d->in_channels * d->kernel_h * d->kernel_w;
    t->out_count = (size_t)n * c * h * w;
    return YOLACT_OK;
}

/* Half tensors: the half copies follow the library's scratch of library_bytes in the
 * workspace, one after another, each from a 256-byte boundary (tensor-op kernels want their
 * operands aligned; an input of 3 channels would leave the next copy at 8 bytes). */
static size_t aligned_bytes(size_t bytes)
{
    return (bytes + 255) / 256 * 256;
}

static size_t half_bytes(size_t count)
{
    return aligned_bytes(count * sizeof(uint16_t));
}

/* The copy after copies of before_bytes (sums of half_bytes) in all. */
static uint16_t *half_copy(void *workspace, size_t library_bytes, size_t before_bytes)
{
    return (uint16_t *)((char *)workspace + aligned_bytes(library_bytes) + before_bytes);
}

struct yl_dnn_conv {
    conv_descriptors t;
    cudnnActivationDescriptor_t act_desc;
    /* The candidates, best first, and the one run (use_candidate). */
    struct {
        cudnnConvolutionFwdAlgo_t algo;
        cudnnMathType_t math;
    } candidates[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int num_candidates, chosen;
    size_t workspace_bytes;     /* the most any candidate wants */
    yl_activation act;
    int has_residual, half;     /* half: training's half tensors */
};

yolact_status yl_dnn_create(struct CUstream_st *stream, yl_dnn **dnn)
{
    if (pthread_once(&dnn_once, open_cudnn) != 0 || *dnn_missing)
        return yl_fail(YOLACT_ERR_BACKEND_UNAVAILABLE, "cuDNN cannot be used: %s",
                       *dnn_missing ? dnn_missing : "pthread_once failed");
    yl_dnn *d = calloc(1, sizeof *d);
    if (!d)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory creating the cuDNN handle");
    cudnnStatus_t s = dnn_api.cudnnCreate(&d->handle);
    if (s == CUDNN_STATUS_SUCCESS &&
        (s = dnn_api.cudnnSetStream(d->handle, stream)) != CUDNN_STATUS_SUCCESS)
        dnn_api.cudnnDestroy(d->handle);
    if (s != CUDNN_STATUS_SUCCESS) {
        free(d);
        return yl_fail(YOLACT_ERR_DEVICE, "cuDNN: %s", dnn_api.cudnnGetErrorString(s));
    }
    d->stream = stream;
    *dnn = d;
    return YOLACT_OK;
}

void yl_dnn_destroy(yl_dnn *dnn)
{
    if (dnn)
        dnn_api.cudnnDestroy(dnn->handle);
    free(dnn);
}

void yl_dnn_conv_free(yl_dnn_conv *p)
{
    if (!p)
        return;
    free_descriptors(&p->t);
    if (p->act_desc)
        dnn_api.cudnnDestroyActivationDescriptor(p->act_desc);
    free(p);
}

size_t yl_dnn_max_tensor_elements(void)
{
    return INT_MAX;
}

/* The scratch an algorithm may want before a slower one that wants less is preferred: the
 * session holds the largest any of its plans wants, and at a large batch an FFT algorithm's
 * could make creation run out of memory. */
#define WORKSPACE_PREFERRED_MAX ((size_t)256 << 20)

/* The math a candidate runs with: FP32 only FMA kernels (the default math lets Ampere and
 * newer round to TF32), so it takes only candidates offered for FMA or default math; FP16 the
 * math cuDNN offered the algorithm with. */
static int math_allowed(cudnnMathType_t math, yolact_precision precision)
{
    return precision != YOLACT_PRECISION_FP32 || math == CUDNN_DEFAULT_MATH ||
           math == CUDNN_FMA_MATH;
}

static cudnnMathType_t math_for(cudnnMathType_t offered, yolact_precision precision)
{
    return precision == YOLACT_PRECISION_FP32 ? CUDNN_FMA_MATH : offered;
}

static void add_candidate(yl_dnn_conv *p, cudnnConvolutionFwdAlgo_t algo, cudnnMathType_t math)
{
    p->candidates[p->num_candidates].algo = algo;
    p->candidates[p->num_candidates].math = math;
    p->num_candidates++;
}

/* Run candidate k from now on: its math type on the descriptor. */
static yolact_status use_candidate(yl_dnn_conv *p, int k)
{
    YL_CHECK(cudnn, dnn_api.cudnnSetConvolutionMathType(p->t.conv, p->candidates[k].math));
    p->chosen = k;
    return YOLACT_OK;
}

/* The algorithms that work for the shape (cuDNN's ranking), in turn: deterministic ones (the
 * same image then gives the same bits, run after run and session after session, which users
 * comparing runs and the GPU tests rely on) that want at most WORKSPACE_PREFERRED_MAX, any
 * that want at most that, and only where there is none of those, any at all. The fused
 * call's identity activation exists only with IMPLICIT_PRECOMP_GEMM. None at all is not an
 * error here: the trial then says so. */
static yolact_status list_candidates(yl_dnn *dnn, yl_dnn_conv *p, int identity,
                                     yolact_precision precision, cudnnMathType_t math)
{
    if (identity && !p->half) { /* half tensors: a plain convolution, not the fused call */
        add_candidate(p, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, math);
        return YOLACT_OK;
    }
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int found = 0;
    YL_CHECK(cudnn, dnn_api.cudnnGetConvolutionForwardAlgorithm_v7(
        dnn->handle, p->t.in, p->t.weight, p->t.conv, p->t.out, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
        &found, perf));
    for (int preference = 0; preference < 3 && !(preference == 2 && p->num_candidates);
         preference++)
        for (int i = 0; i < found; i++) {
            const int small = perf[i].memory <= WORKSPACE_PREFERRED_MAX;
            const int deterministic = perf[i].determinism == CUDNN_DETERMINISTIC;
            const int rank = small && deterministic ? 0 : small ? 1 : 2;
            if (perf[i].status == CUDNN_STATUS_SUCCESS && rank == preference &&
                math_allowed(perf[i].mathType, precision))
                add_candidate(p, perf[i].algo, math_for(perf[i].mathType, precision));
        }
    return YOLACT_OK;
}

static yolact_status plan(yl_dnn *dnn, yl_dnn_conv *p, const yl_conv_desc *d, int batch,
                          int in_h, int in_w, yolact_precision precision)
{
    /* what the heuristics are asked for, and the identity activation's one candidate runs */
    cudnnMathType_t math = precision == YOLACT_PRECISION_FP32 ? CUDNN_FMA_MATH
                           : p->half                          ? CUDNN_TENSOR_OP_MATH
                                                : CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
    YL_TRY(describe(&p->t, d, batch, in_h, in_w, math, p->half));
    YL_CHECK(cudnn, dnn_api.cudnnCreateActivationDescriptor(&p->act_desc));
    int relu = p->act == YL_ACT_RELU;
    YL_CHECK(cudnn, dnn_api.cudnnSetActivationDescriptor(
        p->act_desc, relu ? CUDNN_ACTIVATION_RELU : CUDNN_ACTIVATION_IDENTITY,
        CUDNN_NOT_PROPAGATE_NAN, 0.0));
    YL_TRY(list_candidates(dnn, p, !relu, precision, math));
    /* Each candidate's scratch, with its math; one cuDNN cannot size it for is dropped. */
    int kept = 0;
    for (int k = 0; k < p->num_candidates; k++) {
        size_t bytes = 0;
        YL_TRY(use_candidate(p, k));
        if (dnn_api.cudnnGetConvolutionForwardWorkspaceSize(dnn->handle, p->t.in, p->t.weight,
                                                            p->t.conv, p->t.out,
                                                            p->candidates[k].algo,
                                                            &bytes) != CUDNN_STATUS_SUCCESS)
            continue;
        p->candidates[kept++] = p->candidates[k];
        p->workspace_bytes = bytes > p->workspace_bytes ? bytes : p->workspace_bytes;
    }
    p->num_candidates = kept;
    return kept ? use_candidate(p, 0) : YOLACT_OK;
}

yolact_status yl_dnn_conv_plan(yl_dnn *dnn, const yl_conv_desc *d, int batch, int in_h, int in_w,
                               yl_activation act, int has_residual, yolact_precision precision,
                               int half_tensors, yl_dnn_conv **out, size_t *workspace_bytes)
{
    yl_dnn_conv *p = calloc(1, sizeof *p);
    if (!p)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory planning a convolution");
    p->act = act;
    p->has_residual = has_residual;
    p->half = half_tensors && precision == YOLACT_PRECISION_FP16;
    yolact_status s = plan(dnn, p, d, batch, in_h, in_w, precision);
    if (s != YOLACT_OK) {
        yl_dnn_conv_free(p);
        return s;
    }
    *out = p;
    /* half tensors: the input's and the output's copies */
    *workspace_bytes = !p->half ? p->workspace_bytes
                                : aligned_bytes(p->workspace_bytes) +
                                      half_bytes(p->t.in_count) + half_bytes(p->t.out_count);
    return YOLACT_OK;
}

/* cuDNN's fused call, y = act(alpha1 * conv(x) + alpha2 * z + bias), as
 * out = act(conv(in) + residual + bias). Without a residual z is out itself with alpha2 = 0:
 * the documentation promises that a zero beta leaves the output unread, but says no such
 * thing of alpha2 and z, and 0 * NaN is NaN; so out must hold numbers (dnn.h): the CUDA
 * backend zeroes its activations once, when it makes a session, and from then on each holds
 * an earlier output. A separate zeroed z would cost an activation-sized buffer, and the
 * plain convolution plus bias and activation kernels a pass over the output. */
static cudnnStatus_t convolve(yl_dnn *dnn, const yl_dnn_conv *p, const float *in,
                              const void *weight, const float *bias, const float *residual,
                              float *out, void *workspace)
{
    const float one = 1.0f, zero = 0.0f;
    if (p->half) { /* the input's copy cast_input made, into the output's copy */
        const size_t lib = p->workspace_bytes;
        return dnn_api.cudnnConvolutionForward(
            dnn->handle, &one, p->t.in, half_copy(workspace, lib, 0), p->t.weight, weight,
            p->t.conv, p->candidates[p->chosen].algo, workspace, lib, &zero, p->t.out,
            half_copy(workspace, lib, half_bytes(p->t.in_count)));
    }
    return dnn_api.cudnnConvolutionBiasActivationForward(
        dnn->handle, &one, p->t.in, in, p->t.weight, weight, p->t.conv,
        p->candidates[p->chosen].algo, workspace, p->workspace_bytes,
        residual ? &one : &zero, p->t.out, residual ? residual : out, p->t.bias, bias,
        p->act_desc, p->t.out, out);
}

static yolact_status check_operands(const yl_dnn_conv *p, const float *bias,
                                    const float *residual, const float *out)
{
    if (!residual != !p->has_residual || !bias || (p->half && residual == out))
        return yl_fail(YOLACT_ERR_INTERNAL, "a convolution ran without its bias, or with a "
                       "residual it was not planned with (or, half, that is its output)");
    if (!p->num_candidates)
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "cuDNN offers no convolution algorithm for "
                       "this shape");
    return YOLACT_OK;
}

/* Half tensors: the input's half copy, before the convolution. */
static yolact_status cast_input(yl_dnn *dnn, const yl_dnn_conv *p, const float *in,
                                void *workspace)
{
    return p->half ? yl_float_to_half_cuda(in, p->t.in_count,
                                           half_copy(workspace, p->workspace_bytes, 0),
                                           dnn->stream)
                   : YOLACT_OK;
}

/* After the convolution: half tensors, its result widened into out, then the bias, the
 * residual and the activation in FP32; else the leaky ReLU, which the fused call lacks, as
 * our kernel. */
static yolact_status finish(yl_dnn *dnn, const yl_dnn_conv *p, const float *bias,
                            const float *residual, float *out, void *workspace)
{
    const size_t n = p->t.out_count;
    if (!p->half)
        return p->act == YL_ACT_LEAKY_RELU_0_1 ? yl_leaky_relu_cuda(out, n, dnn->stream)
                                               : YOLACT_OK;
    const float one = 1.0f;
    YL_TRY(yl_half_to_float_cuda(half_copy(workspace, p->workspace_bytes, half_bytes(p->t.in_count)), n,
                                 0, out, dnn->stream));
    YL_CHECK(cudnn, dnn_api.cudnnAddTensor(dnn->handle, &one, p->t.bias, bias, &one,
                                           p->t.out_float, out));
    if (!residual && p->act == YL_ACT_NONE)
        return YOLACT_OK;
    return yl_add_activate_cuda(out, residual, n, p->act, out, dnn->stream);
}

yolact_status yl_dnn_conv_run(yl_dnn *dnn, yl_dnn_conv *p, const float *in,
                              const void *weight, const float *bias, const float *residual,
                              float *out, void *workspace)
{
    YL_TRY(check_operands(p, bias, residual, out));
    YL_TRY(cast_input(dnn, p, in, workspace));
    YL_CHECK(cudnn, convolve(dnn, p, in, weight, bias, residual, out, workspace));
    return finish(dnn, p, bias, residual, out, workspace);
}

/* An algorithm that refuses the shape or fails to launch says so in its status; one whose
 * kernel then fails breaks the context, which no other candidate mends. */
yolact_status yl_dnn_conv_trial(yl_dnn *dnn, yl_dnn_conv *p, const float *in,
                                const void *weight, const float *bias, const float *residual,
                                float *out, void *workspace)
{
    YL_TRY(check_operands(p, bias, residual, out));
    YL_TRY(cast_input(dnn, p, in, workspace));
    cudnnStatus_t last = CUDNN_STATUS_SUCCESS;
    for (int k = 0; k < p->num_candidates; k++) {
        YL_TRY(use_candidate(p, k));
        last = convolve(dnn, p, in, weight, bias, residual, out, workspace);
        if (last == CUDNN_STATUS_SUCCESS) {
            YL_TRY(finish(dnn, p, bias, residual, out, workspace));
            YL_CHECK(cuda, cudaStreamSynchronize(dnn->stream));
            return YOLACT_OK;
        }
        if (CUDNN_STATUS_CATEGORY(last) != CUDNN_STATUS_NOT_SUPPORTED &&
            CUDNN_STATUS_CATEGORY(last) != CUDNN_STATUS_EXECUTION_FAILED)
            YL_CHECK(cudnn, last);
    }
    return yl_fail(YOLACT_ERR_UNSUPPORTED, "none of the %d algorithms cuDNN offers for this "
                   "convolution runs; the last said %s", p->num_candidates,
                   dnn_api.cudnnGetErrorString(last));
}

/* ---- the backward: cudnnConvolutionBackwardData, BackwardFilter and BackwardBias --------- */
struct yl_dnn_conv_grad {
    conv_descriptors t;
    int wants_grad_in, half;    /* half: training's half tensors */
    /* deterministic candidates, best first; the one run is the first (settled at a run) */
    cudnnConvolutionBwdDataAlgo_t data[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    cudnnConvolutionBwdFilterAlgo_t filter[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int num_data, num_filter, data_chosen, filter_chosen;
    size_t workspace_bytes;
};

void yl_dnn_conv_grad_free(yl_dnn_conv_grad *p)
{
    if (!p)
        return;
    free_descriptors(&p->t);
    free(p);
}

/* Whether the heuristics' entry may run: it works for the shape, is deterministic, and does
 * FP32 math (FMA math on the descriptor), or with half tensors any math (tensor-op math on
 * it). Those wanting at most WORKSPACE_PREFERRED_MAX (small) are taken before those wanting
 * more. */
static int grad_candidate(cudnnStatus_t status, cudnnDeterminism_t determinism,
                          cudnnMathType_t math, size_t memory, int small, int half)
{
    return status == CUDNN_STATUS_SUCCESS && determinism == CUDNN_DETERMINISTIC &&
           math_allowed(math, half ? YOLACT_PRECISION_FP16 : YOLACT_PRECISION_FP32) &&
           (memory <= WORKSPACE_PREFERRED_MAX) == small;
}

static yolact_status plan_grad(yl_dnn *dnn, yl_dnn_conv_grad *p, const yl_conv_desc *d,
                               int batch, int in_h, int in_w)
{
    YL_TRY(describe(&p->t, d, batch, in_h, in_w, p->half ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH,
                    p->half));
    cudnnConvolutionBwdDataAlgoPerf_t data[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    cudnnConvolutionBwdFilterAlgoPerf_t filter[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int found_data = 0, found_filter = 0;
    if (p->wants_grad_in)
        YL_CHECK(cudnn, dnn_api.cudnnGetConvolutionBackwardDataAlgorithm_v7(
            dnn->handle, p->t.weight, p->t.out, p->t.conv, p->t.in,
            CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &found_data, data));
    YL_CHECK(cudnn, dnn_api.cudnnGetConvolutionBackwardFilterAlgorithm_v7(
        dnn->handle, p->t.in, p->t.out, p->t.conv, p->t.weight,
        CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &found_filter, filter));
    for (int small = 1; small >= 0; small--) {
        for (int i = 0; i < found_data; i++) {
            size_t bytes;
            if (grad_candidate(data[i].status, data[i].determinism, data[i].mathType,
                               data[i].memory, small, p->half) &&
                dnn_api.cudnnGetConvolutionBackwardDataWorkspaceSize(
                    dnn->handle, p->t.weight, p->t.out, p->t.conv, p->t.in, data[i].algo,
                    &bytes) == CUDNN_STATUS_SUCCESS) {
                p->data[p->num_data++] = data[i].algo;
                p->workspace_bytes = bytes > p->workspace_bytes ? bytes : p->workspace_bytes;
            }
        }
        for (int i = 0; i < found_filter; i++) {
            size_t bytes;
            if (grad_candidate(filter[i].status, filter[i].determinism, filter[i].mathType,
                               filter[i].memory, small, p->half) &&
                dnn_api.cudnnGetConvolutionBackwardFilterWorkspaceSize(
                    dnn->handle, p->t.in, p->t.out, p->t.conv, p->t.weight, filter[i].algo,
                    &bytes) == CUDNN_STATUS_SUCCESS) {
                p->filter[p->num_filter++] = filter[i].algo;
                p->workspace_bytes = bytes > p->workspace_bytes ? bytes : p->workspace_bytes;
            }
        }
    }
    if ((p->wants_grad_in && !p->num_data) || !p->num_filter)
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "cuDNN offers no deterministic %s algorithm "
                       "for this convolution's %s gradient", p->half ? "half" : "FP32",
                       p->num_filter ? "input" : "weight");
    return YOLACT_OK;
}

/* Half tensors: the backward's copies in the workspace, in this order. */
enum { HALF_IN, HALF_GRAD_OUT, HALF_GRAD_IN, HALF_GRAD_WEIGHT, HALF_COPIES };

/* The bytes of the first k copies. */
static size_t grad_halves_bytes(const yl_dnn_conv_grad *p, int k)
{
    const size_t counts[HALF_COPIES] = {p->t.in_count, p->t.out_count, p->t.in_count,
                                        p->t.weight_count};
    size_t bytes = 0;
    for (int j = 0; j < k; j++)
        bytes += half_bytes(counts[j]);
    return bytes;
}

yolact_status yl_dnn_conv_grad_plan(yl_dnn *dnn, const yl_conv_desc *d, int batch, int in_h,
                                    int in_w, int wants_grad_in, int half_tensors,
                                    yl_dnn_conv_grad **out, size_t *workspace_bytes)
{
    yl_dnn_conv_grad *p = calloc(1, sizeof *p);
    if (!p)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory planning a convolution's "
                       "backward");
    p->wants_grad_in = wants_grad_in;
    p->half = half_tensors;
    yolact_status s = plan_grad(dnn, p, d, batch, in_h, in_w);
    if (s != YOLACT_OK) {
        yl_dnn_conv_grad_free(p);
        return s;
    }
    *out = p;
    /* half tensors: copies of the input and output gradient, then the input and weight
     * gradients (grad_half) */
    *workspace_bytes = !p->half ? p->workspace_bytes
                                : aligned_bytes(p->workspace_bytes) +
                                      grad_halves_bytes(p, HALF_COPIES);
    return YOLACT_OK;
}

static uint16_t *grad_half(const yl_dnn_conv_grad *p, void *workspace, int k)
{
    return half_copy(workspace, p->workspace_bytes, grad_halves_bytes(p, k));
}

/* A status that says the algorithm, not the call, failed: the next candidate may run. */
static int algorithm_refused(cudnnStatus_t s)
{
    return CUDNN_STATUS_CATEGORY(s) == CUDNN_STATUS_NOT_SUPPORTED ||
           CUDNN_STATUS_CATEGORY(s) == CUDNN_STATUS_EXECUTION_FAILED;
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
    const float one = 1.0f, zero = 0.0f;
    /* half tensors: cuDNN reads the half copies (the weights' the caller's) and writes half
     * gradients (beta 0), which the cast kernels then widen and add */
    const void *x = in, *dy = grad_out;
    void *dx = grad_in, *dw = grad_weight;
    if (p->half) {
        YL_TRY(yl_float_to_half_cuda(in, p->t.in_count, grad_half(p, workspace, HALF_IN),
                                     dnn->stream));
        YL_TRY(yl_float_to_half_cuda(grad_out, p->t.out_count,
                                     grad_half(p, workspace, HALF_GRAD_OUT), dnn->stream));
        x = grad_half(p, workspace, HALF_IN);
        dy = grad_half(p, workspace, HALF_GRAD_OUT);
        dx = grad_half(p, workspace, HALF_GRAD_IN);
        dw = grad_half(p, workspace, HALF_GRAD_WEIGHT);
    }
    cudnnStatus_t s = CUDNN_STATUS_SUCCESS;
    for (; grad_in && p->data_chosen < p->num_data; p->data_chosen++) {
        s = dnn_api.cudnnConvolutionBackwardData(
            dnn->handle, &one, p->t.weight, weight, p->t.out, dy, p->t.conv,
            p->data[p->data_chosen], workspace, p->workspace_bytes,
            accumulate && !p->half ? &one : &zero, p->t.in, dx);
        if (!algorithm_refused(s))
            break;
    }
    YL_CHECK(cudnn, s);
    if (grad_in && p->half)
        YL_TRY(yl_half_to_float_cuda(dx, p->t.in_count, accumulate, grad_in, dnn->stream));
    for (; p->filter_chosen < p->num_filter; p->filter_chosen++) {
        s = dnn_api.cudnnConvolutionBackwardFilter(
            dnn->handle, &one, p->t.in, x, p->t.out, dy, p->t.conv, p->filter[p->filter_chosen],
            workspace, p->workspace_bytes, p->half ? &zero : &one, p->t.weight, dw);
        if (!algorithm_refused(s))
            break;
    }
    YL_CHECK(cudnn, s);
    if (p->half)
        YL_TRY(yl_half_to_float_cuda(dw, p->t.weight_count, 1, grad_weight, dnn->stream));
    if (grad_bias)
        YL_CHECK(cudnn, dnn_api.cudnnConvolutionBackwardBias(
            dnn->handle, &one, p->half ? p->t.out_float : p->t.out, grad_out, &one, p->t.bias,
            grad_bias));
    if ((grad_in && p->data_chosen == p->num_data) || p->filter_chosen == p->num_filter)
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "none of the algorithms cuDNN offers for this "
                       "convolution's backward runs");
    return YOLACT_OK;
}
