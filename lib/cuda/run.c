/* The CUDA backend's pass: its images uploaded and preprocessed, then the op list and Detect,
 * op by op or as the CUDA graph captured for the pass size, with the profile's events
 * between the stages. */
#include <stdio.h>

#include "cuda/session.h"
#include "yl_kernels.h"

/* One op on the first pass_sizes[size] images: buffers hold st->batch (C, H, W) tensors one
 * after another, so the element-wise and per-channel ops see images x C channels. */
static yolact_status run_op(cuda_state *st, int i, int size)
{
    const yolact_model *m = st->model;
    const yl_op *op = &m->ops[i];
    const cuda_op *c = &st->ops[i];
    const yl_buffer_desc *in = &m->buffers[op->in];
    const yl_buffer_desc *out = op->out >= 0 ? &m->buffers[op->out] : NULL;
    float *src = st->buffers[op->in], *dst = op->out >= 0 ? st->buffers[op->out] : NULL;
    const float *residual = op->residual >= 0 ? st->buffers[op->residual] : NULL;
    const int B = st->pass_sizes[size];
    switch (op->kind) {
    case YL_OP_CONV:
        if (c->dnn_plan[size]) {
            const int at_once = B < c->dnn_images ? B : c->dnn_images;
            const size_t in_step = yl_buffer_floats(in), out_step = yl_buffer_floats(out);
            for (int b = 0; b < B; b += at_once)
                YL_TRY(yl_dnn_conv_run(st->dnn, B - b < at_once ? c->dnn_tail[size]
                                                               : c->dnn_plan[size],
                                       src + b * in_step, c->weight, c->bias,
                                       residual ? residual + b * out_step : NULL,
                                       dst + b * out_step, st->net_workspace));
            return YOLACT_OK;
        }
        return yl_conv2d_cuda(&op->conv, src, B, in->height, in->width, c->packed,
                              c->precision, c->bias, residual, op->act, dst, st->net_workspace,
                              st->stream);
    case YL_OP_DCN: {
        const yl_buffer_desc *offsets = &m->buffers[op->offsets];
        const int at_once = yl_cuda_dcn_images_at_once(st, op, in);
        for (int b = 0; b < B; b += at_once)
            YL_TRY(yl_dcn2d_cuda(&op->conv, src + b * yl_buffer_floats(in),
                                 B - b < at_once ? B - b : at_once, in->height, in->width,
                                 st->buffers[op->offsets] + b * yl_buffer_floats(offsets),
                                 c->packed, c->precision, c->bias, op->act,
                                 dst + b * yl_buffer_floats(out), st->net_workspace, st->stream));
        return YOLACT_OK;
    }
    case YL_OP_MAXPOOL:
        return yl_maxpool2d_cuda(src, B * in->channels, in->height, in->width, op->pool_kernel,
                                 op->pool_stride, op->pool_pad, dst, out->height, out->width,
                                 st->stream);
    case YL_OP_RESIZE:
        return yl_resize_bilinear_cuda(src, B * in->channels, in->height, in->width, dst,
                                       out->height, out->width, st->net_workspace, st->stream);
    case YL_OP_ADD:
        return yl_add_cuda(src, residual, B * yl_buffer_floats(out), dst, st->stream);
    case YL_OP_HEAD_OUTPUT: {
        const yl_level *lv = &m->levels[op->level];
        size_t p = (size_t)lv->first_prior;
        return yl_head_output_cuda(src, m->anchors_per_cell, m->num_classes, m->num_prototypes,
                                   lv->height, lv->width, B, (size_t)m->num_priors,
                                   st->loc + p * 4, st->conf + p * m->num_classes,
                                   st->coeff + p * m->num_prototypes, st->stream);
    }
    case YL_OP_PROTO_OUTPUT:
        return yl_proto_output_cuda(src, in->channels, in->height, in->width, B, st->proto,
                                    st->stream);
    }
    return yl_fail(YOLACT_ERR_INTERNAL, "op %d has an unknown kind %d", i, (int)op->kind);
}

/* With a profile, mark the end of a stage: event k closes what began at event k - 1. */
yolact_status yl_cuda_mark(cuda_state *st, int k)
{
    if (st->profile)
        YL_CHECK(cuda, cudaEventRecord(st->events[k], st->stream));
    return YOLACT_OK;
}

/* Detect on the first `images` of a pass (one set of launches), then the official
 * score_threshold, before the masks, so none is made for a dropped detection. */
static yolact_status detect_pass(cuda_state *st, int images)
{
    const yolact_model *m = st->model;
    yl_detect_params dp = detect_params(st);
    YL_TRY(yl_detect_cuda(st->loc, st->conf, st->priors, m->num_priors, &dp, images,
                          st->results, st->result_stride, st->counts, st->net_workspace,
                          st->stream));
    if (st->options.score_threshold > 0)
        YL_TRY(yl_keep_scores_above_cuda(st->results, st->result_stride, st->counts, images,
                                         st->options.score_threshold, st->stream));
    return YOLACT_OK;
}

/* Where a pass of n images runs: the smallest planned pass size that holds them. */
static int pass_size_index(const cuda_state *st, int n)
{
    int k = 0;
    while (st->pass_sizes[k] < n)
        k++;
    return k;
}

/* The op list and Detect are the fixed-shape part of a frame: captured once per pass size
 * as a CUDA graph and launched as one. Not at the first pass of a size, which runs them one
 * by one: cuDNN may build its plans, and the runtime load kernels, at their first call, work
 * that need not be legal inside a capture (the warm-up frameworks run before capturing).
 * Profiled frames run the ops one by one too, an event after each. */
static yolact_status run_ops(cuda_state *st, int size, int n)
{
    for (int i = 0; i < st->model->num_ops; i++) {
        YL_TRY(run_op(st, i, size));
        YL_TRY(yl_cuda_mark(st, 3 + i));
    }
    return detect_pass(st, n);
}

/* A failed capture (the runtime refused an operation it cannot capture: a library call in
 * the thread-local mode, say) is not a failed frame: the same ops ran op by op at the size's
 * first pass, so the size runs op by op from then on, without trying again. Whatever really
 * is wrong fails that run instead. The capture is ended, and the runtime's last error
 * cleared: on a GPU the next launch's check (cudaGetLastError) would report it as its own. */
static void capture_network(cuda_state *st, int size)
{
    cudaError_t e = cudaStreamBeginCapture(st->stream, cudaStreamCaptureModeThreadLocal);
    yolact_status s = YOLACT_OK;
    for (int i = 0; e == cudaSuccess && s == YOLACT_OK && i < st->model->num_ops; i++)
        s = run_op(st, i, size);
    if (e == cudaSuccess && s == YOLACT_OK) /* every image of the size: those past n unread */
        s = detect_pass(st, st->pass_sizes[size]);
    cudaGraph_t graph = NULL;
    const char *call = "cudaStreamBeginCapture";
    if (e == cudaSuccess) {
        call = "cudaStreamEndCapture";
        e = cudaStreamEndCapture(st->stream, &graph);
    }
    if (s == YOLACT_OK && e == cudaSuccess) {
        call = "cudaGraphInstantiate";
        e = cudaGraphInstantiate(&st->network_graphs[size], graph, 0);
    }
    if (graph)
        cudaGraphDestroy(graph);
    if (s == YOLACT_OK && e == cudaSuccess)
        return;
    cudaGetLastError();
    st->network_graphs[size] = NULL;
    st->capture_failed[size] = 1;
    if (!*st->capture_failure && s != YOLACT_OK)
        snprintf(st->capture_failure, sizeof st->capture_failure, "%s", yolact_last_error());
    else if (!*st->capture_failure)
        snprintf(st->capture_failure, sizeof st->capture_failure, "%s failed: %s", call,
                 cudaGetErrorName(e));
    yl_clear_error(); /* the frame goes on */
}

/* The network and Detect on the pass's n images (n or a few more: the images past n are
 * stale). */
yolact_status yl_cuda_run_network(cuda_state *st, int n)
{
    const int size = pass_size_index(st, n);
    if (!st->profile && st->warmed_up[size] && !st->network_graphs[size] &&
        !st->capture_failed[size])
        capture_network(st, size);
    if (st->profile || !st->network_graphs[size]) {
        YL_TRY(run_ops(st, size, n));
        st->warmed_up[size] = 1;
        return YOLACT_OK;
    }
    YL_CHECK(cuda, cudaGraphLaunch(st->network_graphs[size], st->stream));
    return YOLACT_OK;
}

/* Charge the time between consecutive marks to their stages (after the pass's last sync):
 * event 0 start, 1 uploads, 2 preprocess, 3 + i op i, then the pass's detect, masks,
 * downloads. */
yolact_status yl_cuda_charge_profile(cuda_state *st)
{
    const yolact_model *m = st->model;
    int n = m->num_ops;
    for (int k = 1; k < n + 6; k++) {
        float ms = 0;
        YL_CHECK(cuda, cudaEventElapsedTime(&ms, st->events[k - 1], st->events[k]));
        yl_stage stage = k == 1       ? YL_STAGE_UPLOAD
                         : k == 2     ? YL_STAGE_PREPROCESS
                         : k < n + 3  ? yl_stage_of_op(&m->ops[k - 3])
                         : k == n + 3 ? YL_STAGE_DETECT
                         : k == n + 4 ? YL_STAGE_MASKS
                                      : YL_STAGE_DOWNLOAD;
        st->profile->seconds[stage] += ms * 1e-3;
    }
    return YOLACT_OK;
}

/* Upload and preprocess a pass's images into the network's input, slot b for image b. */
yolact_status yl_cuda_load_pass(cuda_state *st, const yolact_image *images, int n)
{
    const yolact_model *m = st->model;
    const int size = m->preset.input_size;
    yolact_image on_device[YOLACT_MAX_BATCH_SIZE];
    YL_TRY(yl_cuda_mark(st, 0));
    for (int b = 0; b < n; b++) {
        on_device[b] = images[b];
        if (images[b].memory == YOLACT_MEMORY_HOST) {
            on_device[b].data = st->image + b * st->slot_bytes;
            YL_CHECK(cuda, cudaMemcpyAsync(st->image + b * st->slot_bytes, images[b].data,
                                          image_block_bytes(&images[b]), cudaMemcpyHostToDevice,
                                          st->stream));
        }
    }
    YL_TRY(yl_cuda_mark(st, 1));
    for (int b = 0; b < n; b++)
        YL_TRY(yl_preprocess_cuda(&on_device[b], size, m->preset.input_norm, yl_input_mean_bgr,
                                  yl_input_std_bgr, st->buffers[0] + (size_t)b * 3 * size * size,
                                  st->stream));
    return yl_cuda_mark(st, 2);
}
