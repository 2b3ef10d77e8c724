/* The CPU backend: runs the model's op list with the CPU ops, then Detect and the masks.
 * Every buffer is planned and allocated when the session is created (buffers whose
 * lifetimes do not overlap share memory); only the bit masks' buffer grows, when an image
 * larger than any before arrives. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "backend.h"
#include "cpu/conv_choice.h"
#include "cpu/dense_ops.h"
#include "cpu/maskiou.h"
#include "cpu/post_ops.h"
#include "cpu/prepared_weights.h"
#include "cpu/run_op.h"
#include "status.h"

typedef struct cpu_state {
    const yolact_model *model;
    yolact_session_options options;
    int threads;

    float *arena;               /* every network buffer, planned */
    float **buffers;            /* model buffer index -> its place in the arena */
    const yl_cpu_prepared *prepared; /* the model's, shared with its other CPU sessions */
    yl_cpu_convs *convs;        /* each convolution's algorithm, and oneDNN's primitives */
    float *conv_workspace;
    void *resize_workspace;

    float *loc, *conf, *coeff, *proto; /* Detect's inputs: (P,4) (P,C) (P,K) (H,W,K) */
    void *detect_workspace;
    yl_raw_detection *detections;
    float *proto_masks;                /* (max_detections, proto_h, proto_w) */
    float *maskiou_maps;               /* YOLACT++ mask re-scoring: the net's last maps, */
    float *mask_scores;                /* and the re-scored confidences */
    float *maskiou_workspace;

    int mask_w, mask_h;                /* image size the mask buffers are sized for */
    uint8_t *mask_bits;

    yl_profile *profile;               /* borrowed; NULL: no timing */
} cpu_state;

static yolact_status host_alloc(void *ctx, size_t bytes, void **arena)
{
    (void)ctx;
    if (!(*arena = malloc(bytes ? bytes : 1)))
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for %zu MB of activations",
                       bytes >> 20);
    return YOLACT_OK;
}

static void cpu_destroy(void *state)
{
    cpu_state *st = state;
    if (!st)
        return;
    yl_cpu_convs_destroy(st->convs);
    yl_cpu_prepared_release(st->model, st->prepared);
    free(st->arena);
    free(st->buffers);
    free(st->conv_workspace);
    free(st->resize_workspace);
    free(st->loc);
    free(st->conf);
    free(st->coeff);
    free(st->proto);
    free(st->detect_workspace);
    free(st->detections);
    free(st->proto_masks);
    free(st->maskiou_maps);
    free(st->mask_scores);
    free(st->maskiou_workspace);
    free(st->mask_bits);
    free(st);
}

static yl_detect_params detect_params(const cpu_state *st)
{
    return (yl_detect_params){st->model->num_classes, st->options.conf_threshold,
                              st->options.top_k, st->options.nms_threshold,
                              st->options.max_detections};
}

static yolact_status cpu_create(const yolact_model *m, const yolact_session_options *options,
                                void **state)
{
    cpu_state *st = calloc(1, sizeof *st);
    if (!st)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory creating a session");
    st->model = m;
    st->options = *options;
    st->threads = options->num_threads > 0 ? options->num_threads : omp_get_num_procs();
    yl_conv_mode mode;
    yolact_status s = yl_conv_mode_from_env(&mode);
    if (s == YOLACT_OK)
        s = yl_cpu_prepared_acquire(m, &st->prepared);
    if (s == YOLACT_OK)
        s = yl_plan_arena(m, 1, host_alloc, NULL, &st->arena, &st->buffers);
    if (s != YOLACT_OK) {
        cpu_destroy(st);
        return s;
    }
    size_t conv_ws, resize_ws;
    yl_cpu_op_scratch_sizes(m, &conv_ws, &resize_ws);
    size_t P = (size_t)m->num_priors, K = (size_t)m->num_prototypes;
    size_t D = (size_t)options->max_detections;
    yl_detect_params dp = detect_params(st);
    st->conv_workspace = malloc((conv_ws ? conv_ws : 1) * sizeof(float));
    st->resize_workspace = malloc(resize_ws ? resize_ws : 1);
    st->loc = malloc(P * 4 * sizeof(float));
    st->conf = malloc(P * (size_t)m->num_classes * sizeof(float));
    st->coeff = malloc(P * K * sizeof(float));
    st->proto = malloc((size_t)m->proto_h * m->proto_w * K * sizeof(float));
    st->detect_workspace = malloc(yl_detect_workspace_bytes(m->num_priors, &dp));
    st->detections = malloc(D * sizeof *st->detections);
    st->proto_masks = malloc(D * (size_t)m->proto_h * m->proto_w * sizeof(float));
    int iou_c = 0, iou_h = 0, iou_w = 0;
    if (m->maskiou.num_layers > 0)
        yl_maskiou_out_dims(&m->maskiou, &iou_c, &iou_h, &iou_w);
    st->maskiou_maps = malloc((D * iou_c * iou_h * iou_w + 1) * sizeof(float));
    st->mask_scores = malloc(D * sizeof(float));
    st->maskiou_workspace =
        malloc((yl_maskiou_workspace_floats(&m->maskiou, st->threads) + 1) * sizeof(float));
    if (!st->conv_workspace || !st->resize_workspace || !st->loc || !st->conf || !st->coeff ||
        !st->proto || !st->detect_workspace || !st->detections || !st->proto_masks ||
        !st->maskiou_maps || !st->mask_scores || !st->maskiou_workspace) {
        cpu_destroy(st);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory creating a CPU session");
    }
    s = yl_cpu_convs_create(m, st->prepared, mode, st->threads, st->buffers, st->conv_workspace,
                            &st->convs);
    if (s != YOLACT_OK) {
        cpu_destroy(st);
        return s;
    }
    *state = st;
    return YOLACT_OK;
}

/* Grow the bit masks' buffer to an image size (nothing happens for sizes seen before). */
static yolact_status ensure_mask_buffers(cpu_state *st, int width, int height)
{
    if (width <= st->mask_w && height <= st->mask_h)
        return YOLACT_OK;
    int w = width > st->mask_w ? width : st->mask_w;
    int h = height > st->mask_h ? height : st->mask_h;
    size_t stride = ((size_t)w + 7) / 8;
    uint8_t *bits = malloc((size_t)st->options.max_detections * h * stride);
    if (!bits)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for the masks of a %dx%d image",
                       width, height);
    free(st->mask_bits);
    st->mask_bits = bits;
    st->mask_w = w;
    st->mask_h = h;
    return YOLACT_OK;
}

/* With a profile: charge the time since *mark to a stage and move the mark. */
static void lap(cpu_state *st, double *mark, yl_stage stage)
{
    if (!st->profile)
        return;
    double now = yl_profile_now();
    st->profile->seconds[stage] += now - *mark;
    *mark = now;
}

static yolact_status run_network(cpu_state *st, double *mark)
{
    const yolact_model *m = st->model;
    const yl_cpu_op_scratch scratch = {st->conv_workspace, st->resize_workspace};
    const yl_cpu_head_outputs heads = {st->loc, st->conf, st->coeff, st->proto, 0};
    for (int i = 0; i < m->num_ops; i++) {
        YL_TRY(yl_cpu_run_op(m, i, st->buffers, st->prepared, st->convs, &scratch, &heads,
                             st->threads));
        if (!st->profile)
            continue;
        const double started = *mark;
        lap(st, mark, yl_stage_of_op(&m->ops[i]));
        if (st->profile->op_seconds)
            st->profile->op_seconds[i] += *mark - started;
    }
    return YOLACT_OK;
}

static yolact_status run_image(cpu_state *st, const yolact_image *image, yl_frame_output *out)
{
    const yolact_model *m = st->model;
    YL_TRY(ensure_mask_buffers(st, image->width, image->height));
    /* The team size of every parallel region this thread opens without naming one
     * (an OpenMP setting of the calling thread only). */
    omp_set_num_threads(st->threads);
    double mark = st->profile ? yl_profile_now() : 0;

    yl_preprocess_cpu(image, m->preset.input_size, m->preset.input_norm, yl_input_mean_bgr,
                      yl_input_std_bgr, st->buffers[0]);
    lap(st, &mark, YL_STAGE_PREPROCESS);
    YL_TRY(run_network(st, &mark));

    yl_detect_params dp = detect_params(st);
    int n;
    yl_detect_cpu(st->loc, st->conf, m->priors, m->num_priors, &dp, 1, st->detections,
                  dp.max_detections, &n, st->detect_workspace);
    if (st->options.score_threshold > 0)
        yl_keep_scores_above_cpu(st->detections, dp.max_detections, &n, 1,
                                 st->options.score_threshold);
    lap(st, &mark, YL_STAGE_DETECT);

    /* This one image as a pass: its masks, and its bit masks at the start of mask_bits. */
    const yl_mask_pass pass = {1, {{n, 0, image->height, image->width, 0}}};
    yl_masks_assemble_cpu(st->proto, m->proto_h, m->proto_w, m->num_prototypes, st->coeff, 0,
                          st->detections, 0, &pass, st->proto_masks);
    /* YOLACT++ (rescore_mask): the mask-IoU net on the cropped sigmoid masks at prototype
     * resolution; mask_score = box score x the predicted IoU of the detection's class. */
    if (m->maskiou.num_layers > 0) {
        int c, h, w;
        yl_maskiou_out_dims(&m->maskiou, &c, &h, &w);
        yl_maskiou_maps_cpu(&m->maskiou, st->proto_masks, n, st->maskiou_maps,
                            st->maskiou_workspace, st->threads);
        yl_mask_rescore_cpu(st->maskiou_maps, 0, n, c, h, w, &pass, st->detections, 0,
                            st->mask_scores, 0);
    }
    yl_mask_resize_threshold_cpu(st->proto_masks, m->proto_h, m->proto_w, &pass,
                                 st->mask_bits);
    lap(st, &mark, YL_STAGE_MASKS);
    if (st->profile)
        st->profile->frames++;

    out->count = n;
    out->detections = st->detections;
    out->masks = st->mask_bits;
    out->mask_stride = ((size_t)image->width + 7) / 8;
    out->mask_scores = m->maskiou.num_layers > 0 ? st->mask_scores : NULL;
    return YOLACT_OK;
}

/* One image at a time: the network's buffers hold one. */
static yolact_status cpu_run(void *state, const yolact_image *images, int count,
                             yl_frame_sink sink, void *ctx)
{
    for (int i = 0; i < count; i++) {
        yl_frame_output out = {0};
        YL_TRY(run_image(state, &images[i], &out));
        YL_TRY(sink(ctx, i, &out));
    }
    return YOLACT_OK;
}

static yolact_status cpu_network_outputs(void *state, yl_network_outputs *out)
{
    const cpu_state *st = state;
    *out = (yl_network_outputs){st->loc, st->conf, st->coeff, st->proto};
    return YOLACT_OK;
}

static void cpu_set_profile(void *state, yl_profile *profile)
{
    ((cpu_state *)state)->profile = profile;
}

static void cpu_conv_algorithms(void *state, char *out, size_t n)
{
    const cpu_state *st = state;
    yl_cpu_convs_describe(st->convs, st->model, out, n);
}

const yl_backend_vtable yl_cpu_backend = {"cpu", cpu_create, cpu_destroy, cpu_run,
                                          cpu_network_outputs, cpu_set_profile, NULL, NULL,
                                          cpu_conv_algorithms};
