/* The CUDA backend: the model's op list on the GPU, batch_size images at a time. Per pass:
 * one upload of each 8-bit image (none when the caller's image is already in device memory),
 * preprocess, then the network on the pass's images: backbone and FPN convolutions through
 * cuDNN (lib/cuda/dnn.h), the protonet and prediction-head convolutions, YOLACT++'s
 * deformable convolutions and every other op as our kernels (kernels/). Then Detect on all
 * the pass's images in one set of launches, the score threshold, one read-back of their
 * counts, then the masks of up to YL_MASK_PASS_IMAGES images at once: one assembly launch,
 * YOLACT++'s mask re-scoring for each image (lib/cuda/rescore.h), one resize and threshold
 * launch; and one download of all the detections (with their mask scores) and masks, into
 * page-locked memory: 2 synchronisations a pass. The op list with Detect and the score
 * threshold runs as one CUDA graph, captured at the second pass of each planned pass size
 * (MAX_PASS_SIZES); the first runs it op by op. Every device buffer is allocated when the
 * session is created, except the uploads and the download, which grow when an image larger
 * than any before arrives, and the masks at prototype resolution, which grow when a pass
 * has more detections than any before (a session starts with room for max_detections).
 *
 * The same file builds against test/emu's runtime (-DYL_CUDA_EMULATION), where it runs on the
 * host with the emulated kernels, so CI runs the whole CUDA path without a GPU. */
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"
#include "cuda/conv_timing.h"
#include "yl_cuda_api.h"
#include "cuda/dnn.h"
#include "cuda/rescore.h"
#include "cuda/runtime.h"
#include "cuda/upload.h"
#include "cuda/weights.h"
#include "yl_kernels.h"

/* The pass sizes a session plans its network for: the powers of two below batch_size, and
 * batch_size (<= YOLACT_MAX_BATCH_SIZE = 256: at most 1, 2, .., 128 and 256), so a pass
 * of n images costs the network of at most 2n, not of batch_size. */
#define MAX_PASS_SIZES 9

/* What one op needs on the device besides its buffers. */
typedef struct cuda_op {
    const float *weight, *bias; /* device copies of the folded parameters */
    const void *packed;         /* our convolution's (or DCN's) packed weights, or NULL */
    yolact_precision precision; /* what our kernel computes it in */
    /* A library convolution's plans for each pass size (else NULL): its calls take at most
     * dnn_images images (the library's tensor limit), so a pass runs dnn_plan on as many
     * as it can, then dnn_tail on the rest (NULL when none are left). */
    yl_dnn_conv *dnn_plan[MAX_PASS_SIZES], *dnn_tail[MAX_PASS_SIZES];
    int dnn_images;
} cuda_op;

typedef struct cuda_state {
    const yolact_model *model;
    yolact_session_options options;
    yolact_precision precision;     /* resolved, never DEFAULT */
    int batch;                      /* images a pass of the network holds */
    cudaStream_t stream;
    yl_dnn *dnn;

    float *arena;                   /* every network buffer, planned */
    float **buffers;
    cuda_op *ops;
    const yl_cuda_weights *weights; /* shared with the model's other sessions on the device */
    void *net_workspace;            /* the network ops' scratch: fixed, the graph holds it */
    size_t net_workspace_bytes;
    void *own_packed;               /* packed weights of the convolutions cuDNN cannot run */
    /* The pass sizes the network is planned for (pass_size_index) and, for each, whether an
     * unprofiled pass of that size has run op by op, and the op list captured at the next,
     * or whether that capture failed (the size then runs op by op: capture_network). */
    int pass_sizes[MAX_PASS_SIZES], num_pass_sizes;
    int warmed_up[MAX_PASS_SIZES];
    cudaGraphExec_t network_graphs[MAX_PASS_SIZES];
    int capture_failed[MAX_PASS_SIZES];
    char capture_failure[256];      /* why the first failed capture failed */

    float *loc, *conf, *coeff, *proto; /* the network's outputs, batch images each */
    float *priors;
    /* Per image of a pass, a row of result_stride detections: Detect's list and, for
     * YOLACT++, the mask scores after it (room for max_detections of each), so one download
     * brings both. */
    yl_raw_detection *results;
    int result_stride;
    int *counts;                    /* Detect's count for each image of a pass */
    float *proto_masks;             /* a pass's masks at prototype resolution, dense */
    size_t mask_capacity;           /* masks proto_masks holds */
    yl_cuda_maskiou *maskiou;       /* YOLACT++'s mask re-scoring, or NULL */

    uint8_t *image;                 /* the uploaded images, batch slots of slot_bytes */
    size_t slot_bytes;
    /* What a pass brings to the host in one copy: its images' rows of results, copied there
     * from `results` (which the network's graph writes, so it cannot move when this grows),
     * then their bit masks at image resolution, one image's after another's. */
    uint8_t *download;
    size_t download_capacity;       /* bytes of download and host_download */
    size_t *mask_offsets;           /* where image b's masks start in download */
    /* Page-locked, so the downloads run asynchronously. */
    uint8_t *host_download;         /* download, as on the device */
    int *host_counts;
    int last_image;                 /* the last image's place in its pass */

    float *host_outputs;            /* network_outputs' copies, made on first use */

    yl_profile *profile;            /* borrowed; NULL: time nothing */
    cudaEvent_t *events;            /* stage boundaries: num_ops + 6 */
    yl_device_memory memory;        /* what device_alloc holds now, and the most it held */
} cuda_state;

/* The runtime's current device is per thread and the caller's: every entry point makes the
 * session's current for its length and gives the caller's back. */
static yolact_status use_session_device(const cuda_state *st, int *caller)
{
    YL_CHECK(cuda, cudaGetDevice(caller));
    YL_CHECK(cuda, cudaSetDevice(st->options.device_index));
    return YOLACT_OK;
}

static void release(cuda_state *st)
{
    if (!st)
        return;
    int caller; /* the session's device for the frees below, quietly: a failure may be why */
    if (cudaGetDevice(&caller) != cudaSuccess)
        caller = -1;
    cudaSetDevice(st->options.device_index);
    if (st->ops)
        for (int i = 0; i < st->model->num_ops; i++)
            for (int k = 0; k < st->num_pass_sizes; k++) {
                yl_dnn_conv_free(st->ops[i].dnn_plan[k]);
                yl_dnn_conv_free(st->ops[i].dnn_tail[k]);
            }
    if (st->events)
        for (int i = 0; i < st->model->num_ops + 6; i++)
            if (st->events[i])
                cudaEventDestroy(st->events[i]);
    for (int k = 0; k < st->num_pass_sizes; k++)
        if (st->network_graphs[k])
            cudaGraphExecDestroy(st->network_graphs[k]);
    yl_cuda_weights_release(st->model, st->weights);
    void *device[] = {st->arena, st->net_workspace, st->loc, st->conf, st->coeff, st->proto,
                      st->priors, st->results, st->counts, st->proto_masks, st->image,
                      st->download, st->own_packed};
    for (size_t i = 0; i < sizeof device / sizeof device[0]; i++)
        if (device[i])
            cudaFree(device[i]);
    yl_cuda_maskiou_destroy(st->maskiou);
    yl_dnn_destroy(st->dnn);
    if (st->stream)
        cudaStreamDestroy(st->stream);
    cudaFreeHost(st->host_counts);
    cudaFreeHost(st->host_download);
    free(st->mask_offsets);
    free(st->events);
    free(st->ops);
    free(st->buffers);
    free(st->host_outputs);
    free(st);
    if (caller >= 0)
        cudaSetDevice(caller);
}

static void cuda_destroy(void *state)
{
    release(state);
}

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

static yl_detect_params detect_params(const cuda_state *st)
{
    return (yl_detect_params){st->model->num_classes, st->options.conf_threshold,
                              st->options.top_k, st->options.nms_threshold,
                              st->options.max_detections};
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

static int dcn_images_at_once(const cuda_state *st, const yl_op *op, const yl_buffer_desc *in)
{
    size_t one = yl_dcn2d_cuda_workspace_bytes(&op->conv, in->height, in->width, 1);
    size_t fit = one && one < DCN_SCRATCH_BYTES ? DCN_SCRATCH_BYTES / one : 1;
    return fit < (size_t)st->batch ? (int)fit : st->batch;
}

static size_t buffer_floats(const yl_buffer_desc *b)
{
    return (size_t)b->channels * b->height * b->width;
}

/* A library plan of a convolution for `images` at once; the scratch it needs noted. */
static yolact_status plan_library_conv(cuda_state *st, int i, int images, yl_dnn_conv **plan)
{
    const yl_op *op = &st->model->ops[i];
    const yl_buffer_desc *in = &st->model->buffers[op->in];
    size_t ws = 0;
    YL_TRY(yl_dnn_conv_plan(st->dnn, &op->conv, images, in->height, in->width, op->act,
                            op->residual >= 0, st->precision, plan, &ws));
    need_bytes(&st->net_workspace_bytes, ws);
    return YOLACT_OK;
}

/* For each pass size, a library convolution's plans: one call for the whole pass where its
 * tensors fit the library's limit, else calls of as many images as fit and one of the rest. */
static yolact_status plan_library_conv_passes(cuda_state *st, int i)
{
    const yl_op *op = &st->model->ops[i];
    const size_t in = buffer_floats(&st->model->buffers[op->in]);
    const size_t out = buffer_floats(&st->model->buffers[op->out]);
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
                                                     dcn_images_at_once(st, op, in)));
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

/* Where image b of a pass finds its network outputs. */
typedef struct image_outputs {
    float *loc, *conf, *coeff, *proto;
} image_outputs;

static image_outputs outputs_of(const cuda_state *st, int b)
{
    const yolact_model *m = st->model;
    size_t P = (size_t)m->num_priors, K = (size_t)m->num_prototypes;
    size_t plane = (size_t)m->proto_h * m->proto_w;
    return (image_outputs){st->loc + b * P * 4, st->conf + b * P * m->num_classes,
                           st->coeff + b * P * K, st->proto + b * plane * K};
}

/* The bytes of one image's row of `results`. */
static size_t result_row_bytes(const cuda_state *st)
{
    return (size_t)st->result_stride * sizeof(yl_raw_detection);
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

static yolact_status create(cuda_state *st)
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

static yolact_status cuda_create(const yolact_model *m, const yolact_session_options *options,
                                 void **state)
{
    if (options->top_k > YL_FAST_NMS_MAX_TOP_K)
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "the CUDA backend keeps at most %d candidates "
                       "per class (top_k %d)", YL_FAST_NMS_MAX_TOP_K, options->top_k);
    cuda_state *st = calloc(1, sizeof *st);
    if (!st)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory creating a session");
    st->model = m;
    st->options = *options;
    /* FP32 until FP16 has been measured against the parity tolerances on a GPU. */
    st->precision = options->precision == YOLACT_PRECISION_DEFAULT ? YOLACT_PRECISION_FP32
                                                                    : options->precision;
    st->batch = options->batch_size;
    for (int size = 1; size < st->batch; size *= 2)
        st->pass_sizes[st->num_pass_sizes++] = size;
    st->pass_sizes[st->num_pass_sizes++] = st->batch;
    int caller;
    yolact_status s = use_session_device(st, &caller);
    if (s == YOLACT_OK) {
        s = create(st);
        cudaSetDevice(caller);
    }
    if (s != YOLACT_OK) {
        release(st);
        return s;
    }
    *state = st;
    return YOLACT_OK;
}

/* The bytes of an image as one block of rows, its stride kept. */
static size_t image_block_bytes(const yolact_image *image)
{
    return (size_t)image->stride * (image->height - 1) + (size_t)image->width * 3;
}

/* Grow the upload slots to the largest of a pass's host images; sizes seen before allocate
 * nothing. */
static yolact_status ensure_image_buffers(cuda_state *st, const yolact_image *images, int n)
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
static yolact_status ensure_mask_capacity(cuda_state *st, size_t masks)
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
static yolact_status ensure_download_capacity(cuda_state *st, size_t bytes,
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
            const size_t in_step = buffer_floats(in), out_step = buffer_floats(out);
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
        const int at_once = dcn_images_at_once(st, op, in);
        for (int b = 0; b < B; b += at_once)
            YL_TRY(yl_dcn2d_cuda(&op->conv, src + b * buffer_floats(in),
                                 B - b < at_once ? B - b : at_once, in->height, in->width,
                                 st->buffers[op->offsets] + b * buffer_floats(offsets),
                                 c->packed, c->precision, c->bias, op->act,
                                 dst + b * buffer_floats(out), st->net_workspace, st->stream));
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
        return yl_add_cuda(src, residual, B * buffer_floats(out), dst, st->stream);
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
static yolact_status mark(cuda_state *st, int k)
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
        YL_TRY(mark(st, 3 + i));
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
static yolact_status run_network(cuda_state *st, int n)
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
static yolact_status charge_profile(cuda_state *st)
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
static yolact_status load_pass(cuda_state *st, const yolact_image *images, int n)
{
    const yolact_model *m = st->model;
    const int size = m->preset.input_size;
    yolact_image on_device[YOLACT_MAX_BATCH_SIZE];
    YL_TRY(mark(st, 0));
    for (int b = 0; b < n; b++) {
        on_device[b] = images[b];
        if (images[b].memory == YOLACT_MEMORY_HOST) {
            on_device[b].data = st->image + b * st->slot_bytes;
            YL_CHECK(cuda, cudaMemcpyAsync(st->image + b * st->slot_bytes, images[b].data,
                                          image_block_bytes(&images[b]), cudaMemcpyHostToDevice,
                                          st->stream));
        }
    }
    YL_TRY(mark(st, 1));
    for (int b = 0; b < n; b++)
        YL_TRY(yl_preprocess_cuda(&on_device[b], size, m->preset.input_norm, yl_input_mean_bgr,
                                  yl_input_std_bgr, st->buffers[0] + (size_t)b * 3 * size * size,
                                  st->stream));
    return mark(st, 2);
}

/* Image b's detections in a results block (device or host): max_detections of them, then
 * room for as many mask scores (mask_scores_of). */
static yl_raw_detection *detections_of(const cuda_state *st, yl_raw_detection *results, int b)
{
    return results + (size_t)b * st->result_stride;
}

static float *mask_scores_of(const cuda_state *st, yl_raw_detection *detections)
{
    return (float *)(detections + st->options.max_detections);
}

static size_t mask_stride_of(const yolact_image *image)
{
    return ((size_t)image->width + 7) / 8;
}

/* The pass's images from `first` on that one launch of the mask kernels takes (at most
 * YL_MASK_PASS_IMAGES; their counts on the host, their places in download set), and how
 * many masks they have. */
static yl_mask_pass mask_group(const cuda_state *st, const yolact_image *images, int first,
                               int n, int *masks)
{
    yl_mask_pass pass = {.num_images = n - first < YL_MASK_PASS_IMAGES ? n - first
                                                                       : YL_MASK_PASS_IMAGES};
    *masks = 0;
    for (int i = 0; i < pass.num_images; i++) {
        int b = first + i;
        pass.image[i] = (yl_mask_image){st->host_counts[b], *masks, images[b].height,
                                        images[b].width, st->mask_offsets[b]};
        *masks += st->host_counts[b];
    }
    return pass;
}

/* The masks of a group of images from `first` on (room for its masks made): two launches,
 * and YOLACT++'s re-scoring, the mask scores going after each image's detections. */
static yolact_status make_masks(cuda_state *st, int first, const yl_mask_pass *group)
{
    const yolact_model *m = st->model;
    const image_outputs o = outputs_of(st, first); /* the first image's; the rest follow */
    yl_raw_detection *detections = detections_of(st, st->results, first);
    YL_TRY(yl_masks_assemble_cuda(o.proto, m->proto_h, m->proto_w, m->num_prototypes, o.coeff,
                                  (size_t)m->num_priors * m->num_prototypes, detections,
                                  st->result_stride, group, st->proto_masks, st->stream));
    if (st->maskiou)
        YL_TRY(yl_cuda_maskiou_run(st->maskiou, st->proto_masks, group, detections,
                                   st->result_stride, mask_scores_of(st, detections),
                                   result_row_bytes(st) / sizeof(float), st->stream));
    return yl_mask_resize_threshold_cuda(st->proto_masks, m->proto_h, m->proto_w, group,
                                         st->download, st->stream);
}

/* After the network and Detect: one read-back of the counts, the masks of the pass's images
 * (a few launches for up to YL_MASK_PASS_IMAGES images), and one download of all detections
 * and masks; returns once they are on the host. */
static yolact_status finish_pass(cuda_state *st, const yolact_image *images, int n)
{
    const yolact_model *m = st->model;
    const int n_ops = m->num_ops;
    const size_t D = (size_t)st->options.max_detections;
    YL_TRY(mark(st, n_ops + 3));
    YL_CHECK(cuda, cudaMemcpyAsync(st->host_counts, st->counts, (size_t)n * sizeof *st->counts,
                                  cudaMemcpyDeviceToHost, st->stream));
    YL_CHECK(cuda, cudaStreamSynchronize(st->stream));

    const size_t rows = (size_t)n * result_row_bytes(st);
    size_t total = rows, largest = 0;
    for (int b = 0; b < n; b++) {
        size_t mask_bytes = mask_stride_of(&images[b]) * (size_t)images[b].height;
        st->mask_offsets[b] = total;
        total += (size_t)st->host_counts[b] * mask_bytes;
        largest = mask_bytes > largest ? mask_bytes : largest;
    }
    YL_TRY(ensure_download_capacity(st, total, result_row_bytes(st) + D * largest));
    yl_mask_pass groups[(YOLACT_MAX_BATCH_SIZE + YL_MASK_PASS_IMAGES - 1) / YL_MASK_PASS_IMAGES];
    int most_masks = 0;
    for (int first = 0, g = 0; first < n; first += YL_MASK_PASS_IMAGES, g++) {
        int masks;
        groups[g] = mask_group(st, images, first, n, &masks);
        most_masks = masks > most_masks ? masks : most_masks;
    }
    /* Grown before any group is enqueued: no buffer is freed under a running kernel. */
    YL_TRY(ensure_mask_capacity(st, (size_t)most_masks));
    for (int first = 0, g = 0; first < n; first += YL_MASK_PASS_IMAGES, g++)
        YL_TRY(make_masks(st, first, &groups[g]));
    YL_TRY(mark(st, n_ops + 4));
    YL_CHECK(cuda, cudaMemcpyAsync(st->download, st->results, rows, cudaMemcpyDeviceToDevice,
                                  st->stream));
    YL_CHECK(cuda, cudaMemcpyAsync(st->host_download, st->download, total,
                                  cudaMemcpyDeviceToHost, st->stream));
    YL_TRY(mark(st, n_ops + 5));
    YL_CHECK(cuda, cudaStreamSynchronize(st->stream));
    if (st->profile) {
        YL_TRY(charge_profile(st));
        st->profile->frames += n;
    }
    return YOLACT_OK;
}

/* Image b of the pass just finished, as the session takes it. */
static yl_frame_output image_output(const cuda_state *st, int b, const yolact_image *image)
{
    yl_raw_detection *dets = detections_of(st, (yl_raw_detection *)st->host_download, b);
    return (yl_frame_output){st->host_counts[b], dets, st->host_download + st->mask_offsets[b],
                             mask_stride_of(image),
                             st->maskiou ? mask_scores_of(st, dets) : NULL};
}

static yolact_status run_passes(cuda_state *st, const yolact_image *images, int count,
                                yl_frame_sink sink, void *ctx)
{
    for (int first = 0; first < count; first += st->batch) {
        int n = count - first < st->batch ? count - first : st->batch;
        YL_TRY(ensure_image_buffers(st, images + first, n));
        YL_TRY(load_pass(st, images + first, n));
        YL_TRY(run_network(st, n));
        YL_TRY(finish_pass(st, images + first, n));
        st->last_image = n - 1;
        for (int b = 0; b < n; b++) {
            yl_frame_output out = image_output(st, b, &images[first + b]);
            YL_TRY(sink(ctx, first + b, &out));
        }
    }
    return YOLACT_OK;
}

static yolact_status cuda_run(void *state, const yolact_image *images, int count,
                              yl_frame_sink sink, void *ctx)
{
    cuda_state *st = state;
    int caller;
    YL_TRY(use_session_device(st, &caller));
    yolact_status s = run_passes(st, images, count, sink, ctx);
    cudaSetDevice(caller);
    return s;
}

static yolact_status cuda_network_outputs(void *state, yl_network_outputs *out)
{
    cuda_state *st = state;
    const yolact_model *m = st->model;
    size_t P = (size_t)m->num_priors, K = (size_t)m->num_prototypes;
    size_t sizes[4] = {P * 4, P * (size_t)m->num_classes, P * K,
                       (size_t)m->proto_h * m->proto_w * K};
    image_outputs o = outputs_of(st, st->last_image);
    const float *device[4] = {o.loc, o.conf, o.coeff, o.proto};
    if (!st->host_outputs &&
        !(st->host_outputs = malloc((sizes[0] + sizes[1] + sizes[2] + sizes[3]) * sizeof(float))))
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory copying the network outputs");
    float *host = st->host_outputs, *at[4];
    for (int i = 0; i < 4; i++) {
        at[i] = host;
        YL_CHECK(cuda, cudaMemcpyAsync(host, device[i], sizes[i] * sizeof(float),
                                      cudaMemcpyDeviceToHost, st->stream));
        host += sizes[i];
    }
    YL_CHECK(cuda, cudaStreamSynchronize(st->stream));
    *out = (yl_network_outputs){at[0], at[1], at[2], at[3]};
    return YOLACT_OK;
}

static void cuda_set_profile(void *state, yl_profile *profile)
{
    ((cuda_state *)state)->profile = profile;
}

static void cuda_device_memory(void *state, yl_device_memory *out)
{
    *out = ((cuda_state *)state)->memory;
}

static void cuda_graphs(void *state, yl_graphs *out)
{
    const cuda_state *st = state;
    for (int k = 0; k < st->num_pass_sizes; k++) {
        out->captured += st->network_graphs[k] != NULL;
        out->fallbacks += st->capture_failed[k];
    }
    snprintf(out->fallback_reason, sizeof out->fallback_reason, "%s", st->capture_failure);
}

static const yl_backend_vtable cuda_vtable = {"cuda", cuda_create, cuda_destroy, cuda_run,
                                              cuda_network_outputs, cuda_set_profile,
                                              cuda_device_memory, cuda_graphs};

#ifdef YL_CUDA_EMULATION
/* The emulation has one device, and only an explicit request gets it (tests). */
static yolact_status emulated_device_check(int device_index)
{
    if (device_index != 0)
        return yl_fail(YOLACT_ERR_BACKEND_UNAVAILABLE, "no usable GPU: device index %d but the "
                       "emulation has 1", device_index);
    return YOLACT_OK;
}
static yolact_status emulated_describe(int device_index, yl_cuda_facts *f)
{
    YL_TRY(emulated_device_check(device_index));
    f->emulated = 1;
    snprintf(f->gpu_name, sizeof f->gpu_name, "CUDA emulation (test/emu, host memory)");
    yl_dnn_describe(&f->dnn_version, f->dnn_library, sizeof f->dnn_library);
    return YOLACT_OK;
}
const yl_cuda_backend_entry yl_cuda_backend = {&cuda_vtable, 1, emulated_device_check,
                                               emulated_describe, yl_cuda_backend_time_convs};
#else
/* The runtime linked into libyolact, seen through the check's table. */
static int linked_device_count(int *count) { return (int)cudaGetDeviceCount(count); }
static int linked_attribute(int *value, int attr, int device)
{
    return (int)cudaDeviceGetAttribute(value, (enum cudaDeviceAttr)attr, device);
}
static int linked_runtime_version(int *v) { return (int)cudaRuntimeGetVersion(v); }
static int linked_driver_version(int *v) { return (int)cudaDriverGetVersion(v); }
static const char *linked_error_name(int e) { return cudaGetErrorName((cudaError_t)e); }
static const char *linked_error_string(int e) { return cudaGetErrorString((cudaError_t)e); }

static const yl_cuda_runtime linked_runtime = {
    "the CUDA runtime in libyolact", linked_device_count, linked_attribute,
    linked_runtime_version, linked_driver_version, linked_error_name, linked_error_string};

static yolact_status device_check(int device_index)
{
    return yl_cuda_device_check_with(&linked_runtime, device_index, NULL);
}
static yolact_status describe(int device_index, yl_cuda_facts *f)
{
    yl_cuda_device_info info;
    YL_TRY(yl_cuda_device_check_with(&linked_runtime, device_index, &info));
    struct cudaDeviceProp prop;
    YL_CHECK(cuda, cudaGetDeviceProperties(&prop, device_index));
    snprintf(f->gpu_name, sizeof f->gpu_name, "%s", prop.name);
    f->cc_major = info.cc_major;
    f->cc_minor = info.cc_minor;
    f->memory_bytes = prop.totalGlobalMem;
    f->runtime_version = info.runtime_version;
    f->driver_version = info.driver_version;
    yl_dnn_describe(&f->dnn_version, f->dnn_library, sizeof f->dnn_library);
    return YOLACT_OK;
}
const yl_cuda_backend_entry yl_cuda_backend = {&cuda_vtable, 0, device_check, describe,
                                               yl_cuda_backend_time_convs};
#endif
