/* The CUDA backend's session (cuda_state), shared by the files that make it up: planning
 * and allocation (plan.c), the pass and its graph capture (run.c), masks and download
 * (masks.c), and the backend's entry points (backend.c). Internal to lib/cuda/. */
#ifndef YL_CUDA_SESSION_H
#define YL_CUDA_SESSION_H

#include "backend.h"
#include "cuda/dnn.h"
#include "cuda/rescore.h"
#include "cuda/weights.h"
#include "yl_cuda_api.h"

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

static inline yl_detect_params detect_params(const cuda_state *st)
{
    return (yl_detect_params){st->model->num_classes, st->options.conf_threshold,
                              st->options.top_k, st->options.nms_threshold,
                              st->options.max_detections};
}

/* Where image b of a pass finds its network outputs. */
typedef struct image_outputs {
    float *loc, *conf, *coeff, *proto;
} image_outputs;

static inline image_outputs outputs_of(const cuda_state *st, int b)
{
    const yolact_model *m = st->model;
    size_t P = (size_t)m->num_priors, K = (size_t)m->num_prototypes;
    size_t plane = (size_t)m->proto_h * m->proto_w;
    return (image_outputs){st->loc + b * P * 4, st->conf + b * P * m->num_classes,
                           st->coeff + b * P * K, st->proto + b * plane * K};
}

/* The bytes of one image's row of `results`. */
static inline size_t result_row_bytes(const cuda_state *st)
{
    return (size_t)st->result_stride * sizeof(yl_raw_detection);
}

/* The bytes of an image as one block of rows, its stride kept. */
static inline size_t image_block_bytes(const yolact_image *image)
{
    return (size_t)image->stride * (image->height - 1) + (size_t)image->width * 3;
}

/* ---- plan.c: planning and allocation ---------------------------------------------------- */

/* Everything a session holds, made on its device at its creation: stream, cuDNN handle,
 * events, the activations' arena, the shared weights, each op's plans, the outputs, the
 * scratch (st's model, options, precision, batch and pass sizes set). */
yolact_status yl_cuda_session_setup(cuda_state *st);

/* How many images of a pass one launch of a deformable convolution takes (plan.c's
 * DCN_SCRATCH_BYTES). */
int yl_cuda_dcn_images_at_once(const cuda_state *st, const yl_op *op, const yl_buffer_desc *in);

/* Grow the upload slots to the largest of a pass's host images; sizes seen before allocate
 * nothing. */
yolact_status yl_cuda_ensure_image_buffers(cuda_state *st, const yolact_image *images, int n);

/* Room for `masks` masks at prototype resolution, grown only past the most seen (a session
 * starts with max_detections). */
yolact_status yl_cuda_ensure_mask_capacity(cuda_state *st, size_t masks);

/* Room for a pass's download, `bytes` in all, on the device and the host: grown only past
 * the most seen, at least to one image's row and max_detections masks. */
yolact_status yl_cuda_ensure_download_capacity(cuda_state *st, size_t bytes,
                                               size_t one_image_max);

/* ---- run.c: the pass, op by op or as a captured graph ----------------------------------- */

/* Upload and preprocess a pass's images into the network's input, slot b for image b. */
yolact_status yl_cuda_load_pass(cuda_state *st, const yolact_image *images, int n);

/* The network and Detect on the pass's n images (n or a few more: the images past n are
 * stale). */
yolact_status yl_cuda_run_network(cuda_state *st, int n);

/* With a profile, mark the end of a stage: event k closes what began at event k - 1. */
yolact_status yl_cuda_mark(cuda_state *st, int k);

/* Charge the time between consecutive marks to their stages (after the pass's last sync):
 * event 0 start, 1 uploads, 2 preprocess, 3 + i op i, then the pass's detect, masks,
 * downloads. */
yolact_status yl_cuda_charge_profile(cuda_state *st);

/* ---- masks.c: masks and download --------------------------------------------------------- */

/* After the network and Detect: one read-back of the counts, the masks of the pass's images
 * (a few launches for up to YL_MASK_PASS_IMAGES images), and one download of all detections
 * and masks; returns once they are on the host. */
yolact_status yl_cuda_finish_pass(cuda_state *st, const yolact_image *images, int n);

/* Image b of the pass just finished, as the session takes it. */
yl_frame_output yl_cuda_image_output(const cuda_state *st, int b, const yolact_image *image);

#endif
