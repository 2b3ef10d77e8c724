/* Sessions: option checking, backend choice, and turning a backend's frame output into the
 * public result (sanitized boxes, class names, masks, COCO RLE). Results live in buffers
 * the session owns and reuses, so a steady stream of frames allocates nothing. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "backend_choice.h"
#include "image_check.h"
#include "ops/boxes.h"
#include "rle.h"
#include "status.h"

/* One image's result and the storage behind it. */
typedef struct result_slot {
    yolact_result result;
    yolact_detection *detections;  /* max_detections */
    uint8_t *masks;
    size_t masks_cap;
    char *rle;
    size_t rle_cap;
} result_slot;

struct yolact_session {
    const yolact_model *model;
    yolact_session_options options;
    yolact_backend backend_kind;
    const yl_backend_vtable *backend;
    void *state;
    result_slot *slots;
    int num_slots;
};

void yolact_session_options_init(yolact_session_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->backend = YOLACT_BACKEND_AUTO;
    o->precision = YOLACT_PRECISION_DEFAULT;
    o->score_threshold = 0.0f;
    o->top_k = 200;
    o->max_detections = 100;
    o->conf_threshold = 0.05f;
    o->nms_threshold = 0.5f;
    o->batch_size = 1;
}

static yolact_status check_options(const yolact_session_options *o)
{
    if (o->struct_size != sizeof *o)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "session options not set up by "
                       "yolact_session_options_init");
#define RANGE(cond, ...) \
    if (!(cond))         \
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, __VA_ARGS__);
    RANGE(o->backend >= YOLACT_BACKEND_AUTO && o->backend <= YOLACT_BACKEND_CUDA,
          "backend %d is not one of auto, cpu, cuda", (int)o->backend);
    RANGE(o->precision >= YOLACT_PRECISION_DEFAULT && o->precision <= YOLACT_PRECISION_FP16,
          "precision %d is not one of default, fp32, fp16", (int)o->precision);
    RANGE(o->device_index >= 0, "device index %d is negative", o->device_index);
    RANGE(o->num_threads >= 0 && o->num_threads <= 1024, "thread count %d is outside 0..1024",
          o->num_threads);
    RANGE(o->score_threshold >= 0 && o->score_threshold <= 1,
          "score threshold %g is outside [0, 1]", o->score_threshold);
    RANGE(o->top_k >= 1 && o->top_k <= 10000, "top-k %d is outside 1..10000", o->top_k);
    RANGE(o->max_detections >= 1 && o->max_detections <= 10000,
          "max detections %d is outside 1..10000", o->max_detections);
    RANGE(o->conf_threshold >= 0 && o->conf_threshold < 1,
          "confidence threshold %g is outside [0, 1)", o->conf_threshold);
    RANGE(o->nms_threshold > 0 && o->nms_threshold <= 1, "NMS threshold %g is outside (0, 1]",
          o->nms_threshold);
    RANGE(o->batch_size >= 1 && o->batch_size <= YOLACT_MAX_BATCH_SIZE,
          "batch size %d is outside 1..%d", o->batch_size, YOLACT_MAX_BATCH_SIZE);
#undef RANGE
    return YOLACT_OK;
}

yolact_status yolact_session_create(const yolact_model *model,
                                    const yolact_session_options *options,
                                    yolact_session **session)
{
    yl_clear_error();
    yolact_session_options defaults;
    yolact_session_options_init(&defaults);
    if (!options)
        options = &defaults;
    if (!model || !session)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yolact_session_create: %s is NULL",
                       model ? "session" : "model");
    *session = NULL;
    YL_TRY(check_options(options));
    int cuda;
    YL_TRY(yl_use_cuda(options->backend, options->device_index, &cuda));
    const yolact_backend kind = cuda ? YOLACT_BACKEND_CUDA : YOLACT_BACKEND_CPU;
    if (kind == YOLACT_BACKEND_CPU && options->precision == YOLACT_PRECISION_FP16)
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "the CPU backend computes in FP32 only");

    yolact_session *s = calloc(1, sizeof *s);
    if (!s)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory creating a session");
    s->model = model;
    s->options = *options;
    s->backend_kind = kind;
    s->backend = kind == YOLACT_BACKEND_CUDA ? yl_cuda_backend.vtable : &yl_cpu_backend;
    yolact_status st = s->backend->create(model, options, &s->state);
    /* AUTO runs on the CPU what the CUDA backend refuses (a top_k past what its NMS holds);
     * a CUDA session asked for by name is refused instead. */
    if (st == YOLACT_ERR_UNSUPPORTED && kind == YOLACT_BACKEND_CUDA &&
        options->backend == YOLACT_BACKEND_AUTO && options->precision != YOLACT_PRECISION_FP16) {
        yl_clear_error();
        s->backend_kind = YOLACT_BACKEND_CPU;
        s->backend = &yl_cpu_backend;
        st = s->backend->create(model, options, &s->state);
    }
    if (st != YOLACT_OK) {
        free(s);
        return st;
    }
    *session = s;
    return YOLACT_OK;
}

void yolact_session_free(yolact_session *s)
{
    if (!s)
        return;
    s->backend->destroy(s->state);
    for (int i = 0; i < s->num_slots; i++) {
        free(s->slots[i].detections);
        free(s->slots[i].masks);
        free(s->slots[i].rle);
    }
    free(s->slots);
    free(s);
}

yolact_backend yolact_session_backend(const yolact_session *s)
{
    return s ? s->backend_kind : YOLACT_BACKEND_AUTO;
}

static yolact_status ensure_slots(yolact_session *s, int count)
{
    if (count <= s->num_slots)
        return YOLACT_OK;
    result_slot *slots = realloc(s->slots, (size_t)count * sizeof *slots);
    if (!slots)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for %d results", count);
    s->slots = slots;
    for (; s->num_slots < count; s->num_slots++) {
        result_slot *slot = &s->slots[s->num_slots];
        memset(slot, 0, sizeof *slot);
        slot->detections = calloc((size_t)s->options.max_detections, sizeof *slot->detections);
        if (!slot->detections)
            return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for results");
    }
    return YOLACT_OK;
}

static yolact_status grow_bytes(void **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return YOLACT_OK;
    void *q = realloc(*p, need);
    if (!q)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for %zu bytes of masks", need);
    *p = q;
    *cap = need;
    return YOLACT_OK;
}

/* COCO RLE strings of every mask, one after another in the slot's buffer. */
static yolact_status encode_rle(result_slot *slot, int width, int height)
{
    size_t total = 0;
    yolact_result *r = &slot->result;
    for (int i = 0; i < r->count; i++) {
        const yolact_detection *d = &slot->detections[i];
        total += yl_rle_encode(d->mask, width, height, d->mask_stride, NULL, 0) + 1;
    }
    YL_TRY(grow_bytes((void **)&slot->rle, &slot->rle_cap, total ? total : 1));
    size_t at = 0;
    for (int i = 0; i < r->count; i++) {
        yolact_detection *d = &slot->detections[i];
        at += yl_rle_encode(d->mask, width, height, d->mask_stride, slot->rle + at, total - at) + 1;
    }
    at = 0;
    for (int i = 0; i < r->count; i++) {
        slot->detections[i].rle = slot->rle + at;
        at += strlen(slot->rle + at) + 1;
    }
    return YOLACT_OK;
}

static yolact_status fill_result(yolact_session *s, result_slot *slot, const yolact_image *im,
                                 const yl_frame_output *out)
{
    const yolact_model *m = s->model;
    size_t mask_bytes = out->mask_stride * (size_t)im->height;
    YL_TRY(grow_bytes((void **)&slot->masks, &slot->masks_cap,
                      mask_bytes * (size_t)(out->count ? out->count : 1)));
    memcpy(slot->masks, out->masks, mask_bytes * (size_t)out->count);
    for (int i = 0; i < out->count; i++) {
        const yl_raw_detection *raw = &out->detections[i];
        yolact_detection *d = &slot->detections[i];
        d->class_index = raw->class_index;
        d->class_name = m->class_names[raw->class_index];
        d->category_id = m->category_ids[raw->class_index];
        d->score = raw->score;
        d->mask_score = out->mask_scores ? out->mask_scores[i] : raw->score;
        yl_sanitize_coordinates(raw->box[0], raw->box[2], im->width, &d->x1, &d->x2);
        yl_sanitize_coordinates(raw->box[1], raw->box[3], im->height, &d->y1, &d->y2);
        d->mask = slot->masks + mask_bytes * (size_t)i;
        d->mask_stride = out->mask_stride;
        d->rle = NULL;
    }
    slot->result = (yolact_result){im->width, im->height, out->count, slot->detections};
    if (s->options.want_rle)
        YL_TRY(encode_rle(slot, im->width, im->height));
    return YOLACT_OK;
}

/* Where a backend's frame outputs go: the results of one detect_batch call. */
typedef struct batch_sink {
    yolact_session *session;
    const yolact_image *images;
    const yolact_result **results;
} batch_sink;

static yolact_status take_frame(void *ctx, int index, const yl_frame_output *out)
{
    batch_sink *b = ctx;
    result_slot *slot = &b->session->slots[index];
    YL_TRY(fill_result(b->session, slot, &b->images[index], out));
    b->results[index] = &slot->result;
    return YOLACT_OK;
}

yolact_status yolact_session_detect_batch(yolact_session *s, const yolact_image *images,
                                          int count, const yolact_result **results)
{
    yl_clear_error();
    if (!s || !images || !results)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yolact_session_detect_batch: %s is NULL",
                       !s ? "session" : !images ? "images" : "results");
    if (count < 1 || count > 4096)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "batch of %d images is outside 1..4096",
                       count);
    for (int i = 0; i < count; i++)
        YL_TRY(yl_image_check(&images[i], i, s->backend_kind, 0));
    YL_TRY(ensure_slots(s, count));
    batch_sink sink = {s, images, results};
    return s->backend->run(s->state, images, count, take_frame, &sink);
}

yolact_status yolact_session_detect(yolact_session *s, const yolact_image *image,
                                    const yolact_result **result)
{
    return yolact_session_detect_batch(s, image, 1, result);
}

yolact_status yl_session_network_outputs(yolact_session *s, yl_network_outputs *out)
{
    return s->backend->network_outputs(s->state, out);
}

yolact_status yl_session_set_profile(yolact_session *s, yl_profile *profile)
{
    if (!s)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_session_set_profile: session is NULL");
    s->backend->set_profile(s->state, profile);
    return YOLACT_OK;
}

yolact_status yl_session_device_memory(const yolact_session *s, yl_device_memory *out)
{
    if (!s || !out)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_session_device_memory: %s is NULL",
                       s ? "out" : "session");
    *out = (yl_device_memory){0, 0};
    if (s->backend->device_memory)
        s->backend->device_memory(s->state, out);
    return YOLACT_OK;
}

yolact_status yl_session_conv_algorithms(const yolact_session *s, char *out, size_t n)
{
    if (!s || !out || n == 0)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_session_conv_algorithms: %s",
                       !s ? "session is NULL" : "no room for the text");
    out[0] = '\0';
    if (s->backend->conv_algorithms)
        s->backend->conv_algorithms(s->state, out, n);
    return YOLACT_OK;
}

yolact_status yl_session_graphs(const yolact_session *s, yl_graphs *out)
{
    if (!s || !out)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_session_graphs: %s is NULL",
                       s ? "out" : "session");
    *out = (yl_graphs){0};
    if (s->backend->graphs)
        s->backend->graphs(s->state, out);
    return YOLACT_OK;
}
