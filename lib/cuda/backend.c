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

#include "cuda/runtime.h"
#include "cuda/session.h"

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
        s = yl_cuda_session_setup(st);
        cudaSetDevice(caller);
    }
    if (s != YOLACT_OK) {
        release(st);
        return s;
    }
    *state = st;
    return YOLACT_OK;
}

/* Whether a byte a device image claims is device memory on the session's GPU. The session
 * reads such images in place, so a host pointer or another GPU's memory marked
 * YOLACT_MEMORY_DEVICE must be refused here, not met as a fault in a kernel. */
static yolact_status check_device_byte(const cuda_state *st, int index, const uint8_t *p)
{
    struct cudaPointerAttributes a;
    YL_CHECK(cuda, cudaPointerGetAttributes(&a, p));
    if ((a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged) &&
        a.device == st->options.device_index)
        return YOLACT_OK;
    static const char *const kinds[] = {"unregistered host memory", "page-locked host memory",
                                        "device memory", "managed memory"};
    const char *kind = a.type >= 0 && a.type <= 3 ? kinds[a.type] : "memory of unknown kind";
    if (a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "image %d: byte %p is %s on GPU %d, not on "
                       "the session's GPU %d", index, (const void *)p, kind, a.device,
                       st->options.device_index);
    return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "image %d is marked YOLACT_MEMORY_DEVICE but "
                   "byte %p is %s, not device memory on GPU %d", index, (const void *)p, kind,
                   st->options.device_index);
}

/* Every device image's first and last byte, before any pass runs (no partial output). */
static yolact_status check_device_images(const cuda_state *st, const yolact_image *images,
                                         int count)
{
    for (int i = 0; i < count; i++) {
        if (images[i].memory != YOLACT_MEMORY_DEVICE)
            continue;
        YL_TRY(check_device_byte(st, i, images[i].data));
        YL_TRY(check_device_byte(st, i, images[i].data + image_block_bytes(&images[i]) - 1));
    }
    return YOLACT_OK;
}

static yolact_status run_passes(cuda_state *st, const yolact_image *images, int count,
                                yl_frame_sink sink, void *ctx)
{
    for (int first = 0; first < count; first += st->batch) {
        int n = count - first < st->batch ? count - first : st->batch;
        YL_TRY(yl_cuda_ensure_image_buffers(st, images + first, n));
        YL_TRY(yl_cuda_load_pass(st, images + first, n));
        YL_TRY(yl_cuda_run_network(st, n));
        YL_TRY(yl_cuda_finish_pass(st, images + first, n));
        st->last_image = n - 1;
        for (int b = 0; b < n; b++) {
            yl_frame_output out = yl_cuda_image_output(st, b, &images[first + b]);
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
    yolact_status s = check_device_images(st, images, count);
    if (s == YOLACT_OK)
        s = run_passes(st, images, count, sink, ctx);
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
                                              cuda_device_memory, cuda_graphs, NULL};

#ifdef YL_CUDA_EMULATION
/* The emulation has one device, and only an explicit request gets it (tests). */
static yolact_status emulated_device_check(int device_index)
{
    if (device_index != 0)
        return yl_fail(YOLACT_ERR_BACKEND_UNAVAILABLE, "no usable GPU: device index %d but the "
                       "emulation has 1", device_index);
    return YOLACT_OK;
}
const yl_cuda_backend_entry yl_cuda_backend = {&cuda_vtable, 1, emulated_device_check};
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
const yl_cuda_backend_entry yl_cuda_backend = {&cuda_vtable, 0, device_check};
#endif
