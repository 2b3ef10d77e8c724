/* The CUDA backend's session, planned and allocated: the activations' arena, the library
 * convolutions' plans for each pass size (tried once, our convolution where none runs), the
 * network's scratch and outputs, all at creation; and the buffers that grow with the
 * images and detections a pass brings (uploads, masks, download). */
#include <stdlib.h>

#include "cuda/session.h"
#include "cuda/upload.h"
#include "yl_kernels.h"

static void count_held(cuda_state *st, size_t bytes)
{
    st->memory.current_bytes += bytes;
    if (st->memory.current_bytes > st->memory.peak_bytes)
        st->memory.peak_bytes = st->memory.current_bytes;
}

/* Every device allocation of the session's own goes through here and is counted in
 * st->memory; device_free takes back the same count (release() frees without counting). */
static yolact_status device_alloc(cuda_state *st, void *ptr, size_t bytes, const char *what)
{
    bytes = bytes ? bytes : 1;
    YL_TRY(yl_cuda_alloc(ptr, bytes, what));
    count_held(st, bytes);
    return YOLACT_OK;
}

static void device_free(cuda_state *st, void *p, size_t bytes)
{
    if (!p)
        return;
    cudaFree(p);
    st->memory.current_bytes -= bytes ? bytes : 1;
}

static void need_bytes(size_t *have, size_t bytes)
{
    *have = bytes > *have ? bytes : *have;
}

/* The activations, zeroed: a cuDNN call may read its output before writing it (dnn.h), so
 * every activation holds numbers from the start, and an earlier op's output after. */
static yolact_status arena_alloc(void *state, size_t bytes, void **arena)
{
    cuda_state *st = state;
    YL_TRY(device_alloc(st, arena, bytes, "the activations"));
    YL_CHECK(cuda, cudaMemsetAsync(*arena, 0, bytes, st->stream));
    return YOLACT_OK;
}

/* YOLACT++'s deformable convolutions sample a column matrix an image into the network's
 * scratch (22 MB an image for yolact_plus_base's widest): a pass runs each on as many images
 * at once as fit in DCN_SCRATCH_BYTES (at least one), so a batch's DCN layers take a few
 * launches without a batch-sized scratch. */
#define DCN_SCRATCH_BYTES ((size_t)128 << 20)

int yl_cuda_dcn_images_at_once(const cuda_state *st, const yl_op *op, const yl_buffer_desc *in)
{
    size_t one = yl_dcn2d_cuda_workspace_bytes(&op->conv, in->height, in->width, 1);
    size_t fit = one && one < DCN_SCRATCH_BYTES ? DCN_SCRATCH_BYTES / one : 1;
    return fit < (size_t)st->batch ? (int)fit : st->batch;
}

/* A library plan of a convolution for `images` at once; the scratch it needs noted. */
static yolact_status plan_library_conv(cuda_state *st, int i, int images, yl_dnn_conv **plan)
{
    const yl_op *op = &st->model->ops[i];
    const yl_buffer_desc *in = &st->model->buffers[op->in];
    size_t ws = 0;
    YL_TRY(yl_dnn_conv_plan(st->dnn, &op->conv, images, in->height, in->width, op->act,
                            op->residual >= 0, st->precision, 0, plan, &ws));
    need_bytes(&st->net_workspace_bytes, ws);
    return YOLACT_OK;
}

/* For each pass size, a library convolution's plans: one call for the whole pass where its
 * tensors fit the library's limit, else calls of as many images as fit and one of the rest. */
static yolact_status plan_library_conv_passes(cuda_state *st, int i)
{
    const yl_op *op = &st->model->ops[i];
    const size_t in = yl_buffer_floats(&st->model->buffers[op->in]);
    const size_t out = yl_buffer_floats(&st->model->buffers[op->out]);
    const size_t largest = in > out ? in : out, fit = yl_dnn_max_tensor_elements() / largest;
    if (fit == 0)
        return yl_fail(YOLACT_ERR_LIMIT, "convolution %s: one image's tensor of %zu elements "
                       "is past the convolution library's %zu", op->name, largest,
                       yl_dnn_max_tensor_elements());
    cuda_op *c = &st->ops[i];
    c->dnn_images = fit < (size_t)st->batch ? (int)fit : st->batch;
    for (int k = 0; k < st->num_pass_sizes; k++) {
        const int images = st->pass_sizes[k], at_once = images < c->dnn_images ? images
                                                                                : c->dnn_images;
        YL_TRY(plan_library_conv(st, i, at_once, &c->dnn_plan[k]));
        if (images % at_once)
            YL_TRY(plan_library_conv(st, i, images % at_once, &c->dnn_tail[k]));
    }
    return YOLACT_OK;
}

/* The scratch op i needs as our convolution, on a whole pass. */
static size_t own_conv_workspace_bytes(const cuda_state *st, int i)
{
    const yl_op *op = &st->model->ops[i];
    const yl_buffer_desc *in = &st->model->buffers[op->in];
    return yl_conv2d_cuda_workspace_bytes(&op->conv, st->batch, in->height, in->width,
                                          st->ops[i].precision);
}

/* A library plan for every other convolution; every op's scratch need. */
static yolact_status plan_ops(cuda_state *st)
{
    const yolact_model *m = st->model;
    for (int i = 0; i < m->num_ops; i++) {
        const yl_op *op = &m->ops[i];
        const yl_buffer_desc *in = &m->buffers[op->in];
        if (op->kind == YL_OP_CONV && !yl_cuda_is_own_conv(op)) {
            YL_TRY(plan_library_conv_passes(st, i));
        } else if (op->kind == YL_OP_CONV) {
            need_bytes(&st->net_workspace_bytes, own_conv_workspace_bytes(st, i));
        } else if (op->kind == YL_OP_DCN) {
            need_bytes(&st->net_workspace_bytes,
                       yl_dcn2d_cuda_workspace_bytes(&op->conv, in->height, in->width,
                                                     yl_cuda_dcn_images_at_once(st, op, in)));
        } else if (op->kind == YL_OP_RESIZE) {
            const yl_buffer_desc *out = &m->buffers[op->out];
            need_bytes(&st->net_workspace_bytes,
                       yl_resize_cuda_workspace_bytes(out->height, out->width));
        }
    }
    yl_detect_params dp = detect_params(st);
    /* Detect runs after the network ops, in their graph, on their (then free) scratch. */
    need_bytes(&st->net_workspace_bytes, yl_detect_cuda_workspace_bytes(m->num_priors, &dp,
                                                                        st->batch));
    return YOLACT_OK;
}

/* A library plan's trial run on op i's buffers (each plan's images from the first on). */
static yolact_status trial_library_conv(cuda_state *st, int i, yl_dnn_conv *plan)
{
    const yl_op *op = &st->model->ops[i];
    const cuda_op *c = &st->ops[i];
    return yl_dnn_conv_trial(st->dnn, plan, st->buffers[op->in], c->weight, c->bias,
                             op->residual >= 0 ? st->buffers[op->residual] : NULL,
                             st->buffers[op->out], st->net_workspace);
}

/* Each library plan run once, now, outside any capture, keeping the library's first
 * algorithm that runs (yl_dnn_conv_trial). A convolution with a plan none of whose
 * algorithms runs becomes our convolution at every pass size: its weights packed here, the
 * scratch grown where it needs more. */
static yolact_status settle_library_convs(cuda_state *st)
{
    const yolact_model *m = st->model;
    yl_cuda_pack_item *items = calloc((size_t)m->num_ops, sizeof *items);
    if (!items)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory settling the convolutions");
    int n = 0;
    size_t own_workspace = 0;
    yolact_status s = YOLACT_OK;
    for (int i = 0; s == YOLACT_OK && i < m->num_ops; i++) {
        cuda_op *c = &st->ops[i];
        for (int k = 0; s == YOLACT_OK && c->dnn_plan[0] && k < st->num_pass_sizes; k++) {
            s = trial_library_conv(st, i, c->dnn_plan[k]);
            if (s == YOLACT_OK && c->dnn_tail[k])
                s = trial_library_conv(st, i, c->dnn_tail[k]);
        }
        if (s != YOLACT_ERR_UNSUPPORTED)
            continue;
        s = YOLACT_OK;
        for (int k = 0; k < st->num_pass_sizes; k++) {
            yl_dnn_conv_free(c->dnn_plan[k]);
            yl_dnn_conv_free(c->dnn_tail[k]);
            c->dnn_plan[k] = c->dnn_tail[k] = NULL;
        }
        items[n++] = (yl_cuda_pack_item){&m->ops[i].conv, m->ops[i].weight, 0, c->precision,
                                         &c->packed};
        need_bytes(&own_workspace, own_conv_workspace_bytes(st, i));
    }
    size_t bytes = 0;
    if (s == YOLACT_OK && n > 0) {
        s = yl_cuda_pack_weights(items, n, &st->own_packed, &bytes, st->stream,
                                 "the weights of the convolutions cuDNN cannot run");
        count_held(st, bytes);
    }
    free(items);
    YL_TRY(s);
    yl_clear_error(); /* the trials' failures, now handled */
    if (own_workspace <= st->net_workspace_bytes)
        return YOLACT_OK;
    device_free(st, st->net_workspace, st->net_workspace_bytes);
    st->net_workspace = NULL;
    st->net_workspace_bytes = own_workspace;
    return device_alloc(st, &st->net_workspace, own_workspace, "the network's scratch");
}

static yolact_status allocate_outputs(cuda_state *st)
{
    const yolact_model *m = st->model;
    size_t P = (size_t)m->num_priors, K = (size_t)m->num_prototypes, B = (size_t)st->batch;
    size_t D = (size_t)st->options.max_detections, plane = (size_t)m->proto_h * m->proto_w;
    YL_TRY(device_alloc(st, &st->loc, B * P * 4 * sizeof(float), "the box offsets"));
    YL_TRY(device_alloc(st, &st->conf, B * P * (size_t)m->num_classes * sizeof(float),
                        "the scores"));
    YL_TRY(device_alloc(st, &st->coeff, B * P * K * sizeof(float), "the mask coefficients"));
    YL_TRY(device_alloc(st, &st->proto, B * plane * K * sizeof(float), "the prototypes"));
    YL_TRY(device_alloc(st, &st->priors, P * 4 * sizeof(float), "the priors"));
    st->result_stride = (int)(D + (D * sizeof(float) + sizeof(yl_raw_detection) - 1) /
                                      sizeof(yl_raw_detection));
    YL_TRY(device_alloc(st, &st->results, B * result_row_bytes(st), "the detections"));
    YL_TRY(device_alloc(st, &st->counts, B * sizeof *st->counts, "the detection counts"));
    YL_TRY(device_alloc(st, &st->proto_masks, D * plane * sizeof(float), "the masks"));
    st->mask_capacity = D;
    YL_TRY(yl_cuda_upload(st->priors, m->priors, P * 4 * sizeof(float), st->stream,
                          "the priors"));
    if (!(st->mask_offsets = malloc(B * sizeof *st->mask_offsets)))
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for the mask offsets");
    return yl_cuda_alloc_host(&st->host_counts, B * sizeof *st->host_counts,
                              "the detection counts");
}

yolact_status yl_cuda_session_setup(cuda_state *st)
{
    const yolact_model *m = st->model;
    /* Non-blocking, as every stream of the library (lib/cuda/upload.h says why). */
    YL_CHECK(cuda, cudaStreamCreateWithFlags(&st->stream, cudaStreamNonBlocking));
    YL_TRY(yl_dnn_create(st->stream, &st->dnn));
    if (!(st->ops = calloc((size_t)m->num_ops, sizeof *st->ops)) ||
        !(st->events = calloc((size_t)m->num_ops + 6, sizeof *st->events)))
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory creating a CUDA session");
    for (int i = 0; i < m->num_ops + 6; i++)
        YL_CHECK(cuda, cudaEventCreate(&st->events[i]));
    YL_TRY(yl_plan_arena(m, st->batch, arena_alloc, st, &st->arena, &st->buffers));
    YL_TRY(yl_cuda_weights_acquire(m, st->options.device_index, st->precision, st->stream,
                                   &st->weights));
    for (int i = 0; i < m->num_ops; i++)
        st->ops[i] = (cuda_op){.weight = st->weights->weight[i],
                               .bias = st->weights->bias[i],
                               .packed = st->weights->packed[i],
                               .precision = yl_cuda_op_precision(&m->ops[i], st->precision)};
    YL_TRY(plan_ops(st));
    YL_TRY(allocate_outputs(st));
    if (m->maskiou.num_layers > 0) { /* a run takes make_masks' group: its images' masks */
        int images = st->batch < YL_MASK_PASS_IMAGES ? st->batch : YL_MASK_PASS_IMAGES;
        YL_TRY(yl_cuda_maskiou_create(&m->maskiou, images * st->options.max_detections,
                                      st->precision, st->stream, &st->maskiou));
    }
    YL_TRY(device_alloc(st, &st->net_workspace, st->net_workspace_bytes,
                        "the network's scratch"));
    YL_TRY(settle_library_convs(st));
    /* What the session holds besides its own, from here on: the weights (shared with the
     * model's other sessions on the device) and the mask-IoU net's. */
    size_t held = st->weights->bytes + yl_cuda_maskiou_device_bytes(st->maskiou);
    st->memory.current_bytes += held;
    st->memory.peak_bytes += held;
    YL_CHECK(cuda, cudaStreamSynchronize(st->stream));
    return YOLACT_OK;
}

/* Grow the upload slots to the largest of a pass's host images; sizes seen before allocate
 * nothing. */
yolact_status yl_cuda_ensure_image_buffers(cuda_state *st, const yolact_image *images, int n)
{
    size_t slot = st->slot_bytes;
    for (int b = 0; b < n; b++)
        if (images[b].memory == YOLACT_MEMORY_HOST && image_block_bytes(&images[b]) > slot)
            slot = image_block_bytes(&images[b]);
    if (slot <= st->slot_bytes)
        return YOLACT_OK;
    device_free(st, st->image, st->slot_bytes * st->batch);
    st->image = NULL;
    st->slot_bytes = 0;
    YL_TRY(device_alloc(st, &st->image, slot * st->batch, "the images"));
    st->slot_bytes = slot;
    return YOLACT_OK;
}

/* A growing buffer's new size: what is needed, and at least twice the old size and `floor`,
 * so a stream of frames stops allocating soon. */
static size_t grown_size(size_t old, size_t needed, size_t floor)
{
    size_t grown = 2 * old > floor ? 2 * old : floor;
    return grown > needed ? grown : needed;
}

/* Room for `masks` masks at prototype resolution, grown only past the most seen (a session
 * starts with max_detections). */
yolact_status yl_cuda_ensure_mask_capacity(cuda_state *st, size_t masks)
{
    if (masks <= st->mask_capacity) /* (0 after a failed growth) */
        return YOLACT_OK;
    const size_t plane = (size_t)st->model->proto_h * st->model->proto_w;
    const size_t grown = grown_size(st->mask_capacity, masks, 0);
    device_free(st, st->proto_masks, st->mask_capacity * plane * sizeof(float));
    st->proto_masks = NULL;
    st->mask_capacity = 0;
    YL_TRY(device_alloc(st, &st->proto_masks, grown * plane * sizeof(float), "the masks"));
    st->mask_capacity = grown;
    return YOLACT_OK;
}

/* Room for a pass's download, `bytes` in all, on the device and the host: grown only past
 * the most seen, at least to one image's row and max_detections masks. */
yolact_status yl_cuda_ensure_download_capacity(cuda_state *st, size_t bytes,
                                               size_t one_image_max)
{
    if (bytes <= st->download_capacity && st->download)
        return YOLACT_OK;
    const size_t grown = grown_size(st->download_capacity, bytes, one_image_max);
    device_free(st, st->download, st->download_capacity);
    cudaFreeHost(st->host_download);
    st->download = st->host_download = NULL;
    st->download_capacity = 0;
    YL_TRY(device_alloc(st, &st->download, grown, "the detections and masks"));
    YL_TRY(yl_cuda_alloc_host(&st->host_download, grown, "the detections and masks"));
    st->download_capacity = grown;
    return YOLACT_OK;
}
