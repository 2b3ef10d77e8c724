/* yl_dnn on cuDNN (legacy convolution API): descriptors, the fastest algorithm cuDNN's
 * heuristics offer for the shape, and the fused conv + bias + residual + ReLU call.
 * FP32 precision sets CUDNN_FMA_MATH so Ampere and Hopper do not silently use TF32.
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

#include "cuda/cuda_api.h"
#include "cuda/dnn.h"
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
    X(cudnnConvolutionBiasActivationForward) X(cudnnGetVersion)

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

#define YL_DNN_CHECK(expr)                                                                 \
    do {                                                                                   \
        cudnnStatus_t yl_dnn_s_ = (expr);                                                  \
        if (yl_dnn_s_ != CUDNN_STATUS_SUCCESS)                                             \
            return yl_fail(YOLACT_ERR_DEVICE, "%s failed: %s at %s:%d", #expr,            \
                           dnn_api.cudnnGetErrorString(yl_dnn_s_), __FILE__, __LINE__);       \
    } while (0)

struct yl_dnn {
    cudnnHandle_t handle;
    cudaStream_t stream;
};

struct yl_dnn_conv {
    cudnnTensorDescriptor_t in, out, bias;
    cudnnFilterDescriptor_t weight;
    cudnnConvolutionDescriptor_t conv;
    cudnnActivationDescriptor_t act_desc;
    cudnnConvolutionFwdAlgo_t algo;
    size_t workspace_bytes;
    yl_activation act;
    int has_residual;
    size_t out_count;
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
    if (p->in)
        dnn_api.cudnnDestroyTensorDescriptor(p->in);
    if (p->out)
        dnn_api.cudnnDestroyTensorDescriptor(p->out);
    if (p->bias)
        dnn_api.cudnnDestroyTensorDescriptor(p->bias);
    if (p->weight)
        dnn_api.cudnnDestroyFilterDescriptor(p->weight);
    if (p->conv)
        dnn_api.cudnnDestroyConvolutionDescriptor(p->conv);
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

/* The best-ranked algorithm that works for the shape, preferring in turn: deterministic ones
 * (the same image then gives the same bits, run after run and session after session, which
 * users comparing runs and the GPU tests rely on) that want at most WORKSPACE_PREFERRED_MAX,
 * any that want at most that, any at all. The fused call's identity activation exists only
 * with IMPLICIT_PRECOMP_GEMM. */
static yolact_status choose_algorithm(yl_dnn *dnn, yl_dnn_conv *p, int identity)
{
    if (identity) {
        p->algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
        return YOLACT_OK;
    }
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int found = 0;
    YL_DNN_CHECK(dnn_api.cudnnGetConvolutionForwardAlgorithm_v7(
        dnn->handle, p->in, p->weight, p->conv, p->out, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found,
        perf));
    for (int preference = 0; preference < 3; preference++)
        for (int i = 0; i < found; i++) {
            const int small = perf[i].memory <= WORKSPACE_PREFERRED_MAX;
            const int deterministic = perf[i].determinism == CUDNN_DETERMINISTIC;
            if (perf[i].status == CUDNN_STATUS_SUCCESS &&
                (preference == 2 || (small && (preference == 1 || deterministic)))) {
                p->algo = perf[i].algo;
                return YOLACT_OK;
            }
        }
    return yl_fail(YOLACT_ERR_DEVICE, "cuDNN offers no convolution algorithm for this shape");
}

static yolact_status plan(yl_dnn *dnn, yl_dnn_conv *p, const yl_conv_desc *d, int batch,
                          int in_h, int in_w, yolact_precision precision)
{
    YL_DNN_CHECK(dnn_api.cudnnCreateTensorDescriptor(&p->in));
    YL_DNN_CHECK(dnn_api.cudnnCreateTensorDescriptor(&p->out));
    YL_DNN_CHECK(dnn_api.cudnnCreateTensorDescriptor(&p->bias));
    YL_DNN_CHECK(dnn_api.cudnnCreateFilterDescriptor(&p->weight));
    YL_DNN_CHECK(dnn_api.cudnnCreateConvolutionDescriptor(&p->conv));
    YL_DNN_CHECK(dnn_api.cudnnCreateActivationDescriptor(&p->act_desc));
    YL_DNN_CHECK(dnn_api.cudnnSetTensor4dDescriptor(p->in, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                                    batch, d->in_channels, in_h, in_w));
    YL_DNN_CHECK(dnn_api.cudnnSetFilter4dDescriptor(p->weight, CUDNN_DATA_FLOAT,
                                                    CUDNN_TENSOR_NCHW, d->out_channels,
                                                    d->in_channels, d->kernel_h, d->kernel_w));
    YL_DNN_CHECK(dnn_api.cudnnSetConvolution2dDescriptor(
        p->conv, d->pad, d->pad, d->stride, d->stride, d->dilation, d->dilation,
        CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    cudnnMathType_t math = precision == YOLACT_PRECISION_FP32
                               ? CUDNN_FMA_MATH
                               : CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
    YL_DNN_CHECK(dnn_api.cudnnSetConvolutionMathType(p->conv, math));
    int n, c, h, w;
    YL_DNN_CHECK(dnn_api.cudnnGetConvolution2dForwardOutputDim(p->conv, p->in, p->weight, &n,
                                                               &c, &h, &w));
    if (h != yl_conv_out_size(in_h, d->kernel_h, d->stride, d->pad, d->dilation) ||
        w != yl_conv_out_size(in_w, d->kernel_w, d->stride, d->pad, d->dilation))
        return yl_fail(YOLACT_ERR_INTERNAL, "cuDNN's output size %dx%d is not the model's", h, w);
    YL_DNN_CHECK(dnn_api.cudnnSetTensor4dDescriptor(p->out, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                                    n, c, h, w));
    YL_DNN_CHECK(dnn_api.cudnnSetTensor4dDescriptor(p->bias, CUDNN_TENSOR_NCHW,
                                                    CUDNN_DATA_FLOAT, 1, c, 1, 1));
    p->out_count = (size_t)n * c * h * w;
    int relu = p->act == YL_ACT_RELU;
    YL_DNN_CHECK(dnn_api.cudnnSetActivationDescriptor(
        p->act_desc, relu ? CUDNN_ACTIVATION_RELU : CUDNN_ACTIVATION_IDENTITY,
        CUDNN_NOT_PROPAGATE_NAN, 0.0));
    YL_TRY(choose_algorithm(dnn, p, !relu));
    YL_DNN_CHECK(dnn_api.cudnnGetConvolutionForwardWorkspaceSize(
        dnn->handle, p->in, p->weight, p->conv, p->out, p->algo, &p->workspace_bytes));
    return YOLACT_OK;
}

yolact_status yl_dnn_conv_plan(yl_dnn *dnn, const yl_conv_desc *d, int batch, int in_h, int in_w,
                               yl_activation act, int has_residual, yolact_precision precision,
                               yl_dnn_conv **out, size_t *workspace_bytes)
{
    yl_dnn_conv *p = calloc(1, sizeof *p);
    if (!p)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory planning a convolution");
    p->act = act;
    p->has_residual = has_residual;
    yolact_status s = plan(dnn, p, d, batch, in_h, in_w, precision);
    if (s != YOLACT_OK) {
        yl_dnn_conv_free(p);
        return s;
    }
    *out = p;
    *workspace_bytes = p->workspace_bytes;
    return YOLACT_OK;
}

/* cuDNN's fused call: out = act(1 * conv(in) + 1 * residual + bias); the leaky ReLU, which it
 * lacks, runs after it as our kernel. */
yolact_status yl_dnn_conv_run(yl_dnn *dnn, yl_dnn_conv *p, const float *in,
                              const float *weight, const float *bias, const float *residual,
                              float *out, void *workspace)
{
    if (!residual != !p->has_residual || !bias)
        return yl_fail(YOLACT_ERR_INTERNAL, "a convolution ran without its bias, or with a "
                       "residual it was not planned with");
    const float one = 1.0f, zero = 0.0f;
    YL_DNN_CHECK(dnn_api.cudnnConvolutionBiasActivationForward(
        dnn->handle, &one, p->in, in, p->weight, weight, p->conv, p->algo, workspace,
        p->workspace_bytes, residual ? &one : &zero, p->out, residual ? residual : out, p->bias,
        bias, p->act_desc, p->out, out));
    if (p->act == YL_ACT_LEAKY_RELU_0_1)
        YL_TRY(yl_leaky_relu_cuda(out, p->out_count, dnn->stream));
    return YOLACT_OK;
}
