/* yl_cuda_time_convs (conv_timing.h) for a build with the CUDA backend: real, or on the
 * emulated runtime in the test runner, where the times mean nothing but every step runs. */
#include "conv_timing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "yl_cuda_api.h"
#include "cuda/dnn.h"
#include "cuda/upload.h"
#include "cuda/weights.h"
#include "model/model.h"
#include "profile.h"
#include "yl_kernels.h"

/* What one shape's timing holds on the device; zeroed, then freed by release_shape. */
typedef struct shape_run {
    float *in, *out, *weight, *bias;
    void *packed, *workspace;   /* packed: the block holding packed_weight; workspace:
                                   cuDNN's and ours, the larger */
    const void *packed_weight;
    yl_dnn_conv *plan;
} shape_run;

static void release_shape(shape_run *r)
{
    void *device[] = {r->in, r->out, r->weight, r->bias, r->packed, r->workspace};
    for (size_t i = 0; i < sizeof device / sizeof device[0]; i++)
        if (device[i])
            cudaFree(device[i]);
    yl_dnn_conv_free(r->plan);
}

/* Median milliseconds of iters calls of one side (own: our kernel; else cuDNN's plan). */
static yolact_status time_side(const yl_op *op, const yl_buffer_desc *in, int batch,
                               yolact_precision precision, shape_run *r, int own, yl_dnn *dnn,
                               cudaStream_t stream, cudaEvent_t ev[2], int iters,
                               double *samples, double *median_ms)
{
    for (int i = -1; i < iters; i++) { /* i == -1: the untimed call */
        YL_CHECK(cuda, cudaEventRecord(ev[0], stream));
        if (own)
            YL_TRY(yl_conv2d_cuda(&op->conv, r->in, batch, in->height, in->width, r->packed_weight,
                                  precision, r->bias, NULL, op->act, r->out, r->workspace,
                                  stream));
        else
            YL_TRY(yl_dnn_conv_run(dnn, r->plan, r->in, r->weight, r->bias, NULL, r->out,
                                   r->workspace));
        YL_CHECK(cuda, cudaEventRecord(ev[1], stream));
        YL_CHECK(cuda, cudaEventSynchronize(ev[1]));
        float ms = 0;
        YL_CHECK(cuda, cudaEventElapsedTime(&ms, ev[0], ev[1]));
        if (i >= 0)
            samples[i] = ms;
    }
    *median_ms = yl_quantile(samples, iters, 0.5, samples);
    return YOLACT_OK;
}

/* Both sides on one shape, on operands of their own: the input a fixed pattern in [-1, 1),
 * the op's weights and bias. */
static yolact_status time_shape(const yolact_model *m, const yl_op *op, int batch,
                                yolact_precision precision, yl_dnn *dnn, cudaStream_t stream,
                                cudaEvent_t ev[2], int iters, double *samples,
                                yl_conv_timing *t, shape_run *r)
{
    const yl_buffer_desc *in = &m->buffers[op->in];
    const yl_conv_desc *d = &op->conv;
    size_t in_n = (size_t)batch * d->in_channels * in->height * in->width;
    size_t out_n = (size_t)batch * d->out_channels * t->out_h * t->out_w;
    size_t w_n = (size_t)d->out_channels * d->in_channels * d->kernel_h * d->kernel_w;
    float *pattern = malloc(in_n * sizeof *pattern);
    if (!pattern)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a timing input");
    for (size_t i = 0; i < in_n; i++)
        pattern[i] = (float)(i * 2654435761u % 1024) / 512.0f - 1.0f;
    yolact_status s = yl_cuda_alloc(&r->in, in_n * sizeof(float), "a timing input");
    if (s == YOLACT_OK)
        s = yl_cuda_upload(r->in, pattern, in_n * sizeof(float), stream, "a timing input");
    free(pattern);
    YL_TRY(s);
    YL_TRY(yl_cuda_alloc(&r->out, out_n * sizeof(float), "a timing output"));
    /* numbers: cuDNN may read its output (dnn.h) */
    YL_CHECK(cuda, cudaMemsetAsync(r->out, 0, out_n * sizeof(float), stream));
    YL_TRY(yl_cuda_alloc(&r->weight, w_n * sizeof(float), "the cuDNN weights"));
    YL_TRY(yl_cuda_alloc(&r->bias, (size_t)d->out_channels * sizeof(float), "the bias"));
    YL_TRY(yl_cuda_upload(r->weight, op->weight, w_n * sizeof(float), stream,
                          "the cuDNN weights"));
    if (op->bias) /* cuDNN's fused call wants one: zeros stand in for none */
        YL_TRY(yl_cuda_upload(r->bias, op->bias, (size_t)d->out_channels * sizeof(float), stream,
                              "the bias"));
    else
        YL_CHECK(cuda,
                 cudaMemsetAsync(r->bias, 0, (size_t)d->out_channels * sizeof(float), stream));
    yl_cuda_pack_item item = {d, op->weight, 0, precision, &r->packed_weight};
    size_t packed_bytes = 0;
    YL_TRY(yl_cuda_pack_weights(&item, 1, &r->packed, &packed_bytes, stream,
                                "the packed weights"));
    size_t ws = 0;
    YL_TRY(yl_dnn_conv_plan(dnn, d, batch, in->height, in->width, op->act, 0, precision, 0,
                            &r->plan, &ws));
    size_t own_ws = yl_conv2d_cuda_workspace_bytes(d, batch, in->height, in->width, precision);
    YL_TRY(yl_cuda_alloc(&r->workspace, ws > own_ws ? ws : own_ws, "the convolutions' scratch"));
    YL_TRY(yl_dnn_conv_trial(dnn, r->plan, r->in, r->weight, r->bias, NULL, r->out,
                             r->workspace)); /* the algorithm timed is one that runs */
    YL_TRY(time_side(op, in, batch, precision, r, 1, dnn, stream, ev, iters, samples,
                     &t->own_ms));
    return time_side(op, in, batch, precision, r, 0, dnn, stream, ev, iters, samples,
                     &t->dnn_ms);
}

static int same_shape(const yl_conv_timing *t, const yl_op *op, const yl_buffer_desc *in)
{
    return memcmp(&t->desc, &op->conv, sizeof t->desc) == 0 && t->act == op->act &&
           t->in_h == in->height && t->in_w == in->width;
}

static yolact_status time_all(const yolact_model *m, yolact_precision precision, int batch,
                              int iters, yl_dnn *dnn, cudaStream_t stream, cudaEvent_t ev[2],
                              double *samples, yl_conv_timing *out, int *count)
{
    for (int i = 0; i < m->num_ops; i++) {
        const yl_op *op = &m->ops[i];
        if (!yl_cuda_is_own_conv(op))
            continue;
        const yl_buffer_desc *in = &m->buffers[op->in];
        int k = 0;
        while (k < *count && !same_shape(&out[k], op, in))
            k++;
        if (k < *count) {
            out[k].ops++;
            continue;
        }
        yl_conv_timing *t = &out[(*count)++];
        memset(t, 0, sizeof *t);
        snprintf(t->op, sizeof t->op, "%s", op->name);
        t->desc = op->conv;
        t->act = op->act;
        t->in_h = in->height;
        t->in_w = in->width;
        t->out_h = yl_conv_out_size(in->height, op->conv.kernel_h, op->conv.stride,
                                    op->conv.pad, op->conv.dilation);
        t->out_w = yl_conv_out_size(in->width, op->conv.kernel_w, op->conv.stride,
                                    op->conv.pad, op->conv.dilation);
        t->ops = 1;
        t->flop = 2.0 * op->conv.out_channels * t->out_h * t->out_w * op->conv.in_channels *
                  op->conv.kernel_h * op->conv.kernel_w * batch;
        shape_run r = {0};
        yolact_status s = time_shape(m, op, batch, precision, dnn, stream, ev, iters, samples,
                                     t, &r);
        release_shape(&r);
        YL_TRY(s);
    }
    return YOLACT_OK;
}

yolact_status yl_cuda_time_convs(const yolact_model *m, int device_index,
                                 yolact_precision precision, int batch, int iters,
                                 yl_conv_timing *out, int *count)
{
    *count = 0;
    if ((precision != YOLACT_PRECISION_FP32 && precision != YOLACT_PRECISION_FP16) ||
        batch < 1 || batch > YOLACT_MAX_BATCH_SIZE || iters < 1)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "conv timing: precision %d (FP32 or FP16), "
                       "batch %d (1..%d), %d calls (at least 1)", (int)precision, batch,
                       YOLACT_MAX_BATCH_SIZE, iters);
    YL_TRY(yl_cuda_backend.device_check(device_index));
    YL_CHECK(cuda, cudaSetDevice(device_index));
    cudaStream_t stream = NULL;
    cudaEvent_t ev[2] = {NULL, NULL};
    yl_dnn *dnn = NULL;
    double *samples = malloc((size_t)iters * sizeof *samples);
    yolact_status s = samples ? YOLACT_OK
                              : yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for timings");
    if (s == YOLACT_OK &&
        (cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) != cudaSuccess ||
         cudaEventCreate(&ev[0]) != cudaSuccess || cudaEventCreate(&ev[1]) != cudaSuccess))
        s = yl_fail(YOLACT_ERR_DEVICE, "creating a stream and events for the timing failed");
    if (s == YOLACT_OK)
        s = yl_dnn_create(stream, &dnn);
    if (s == YOLACT_OK)
        s = time_all(m, precision, batch, iters, dnn, stream, ev, samples, out, count);
    yl_dnn_destroy(dnn);
    for (int i = 0; i < 2; i++)
        if (ev[i])
            cudaEventDestroy(ev[i]);
    if (stream)
        cudaStreamDestroy(stream);
    free(samples);
    return s;
}
