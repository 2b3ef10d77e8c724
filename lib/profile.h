/* Per-stage timing of a session's frames and the device memory it holds, for yolact-bench
 * and debugging; internal, not part of the public API. A caller hands a session a
 * yl_profile; the backend then adds the wall time of each stage of every frame it runs to
 * it (and on the CPU, on request, of each op). Without one the backend times nothing. */
#ifndef YL_PROFILE_H
#define YL_PROFILE_H

#include "model/model.h"
#include "yolact.h"

/* The stages of one frame, in the order they run. UPLOAD and DOWNLOAD stay zero on the CPU. */
typedef enum yl_stage {
    YL_STAGE_PREPROCESS = 0,  /* resize, normalize, planar layout */
    YL_STAGE_UPLOAD,          /* host -> device copies */
    YL_STAGE_BACKBONE,
    YL_STAGE_FPN,
    YL_STAGE_PROTONET,        /* including the (K,H,W) -> (H,W,K) permute */
    YL_STAGE_HEADS,           /* prediction convolutions, softmax, tanh */
    YL_STAGE_DETECT,          /* decode, Fast NMS, score threshold */
    YL_STAGE_MASKS,           /* assembly, crop, resize to the image, threshold */
    YL_STAGE_DOWNLOAD,        /* device -> host copies */
    YL_STAGE_COUNT
} yl_stage;

typedef struct yl_profile {
    double seconds[YL_STAGE_COUNT]; /* summed over the frames run since it was zeroed */
    int frames;
    /* NULL, or one per op of the session's model (model->num_ops), the caller's: the CPU
     * backend adds each op's wall time to it too (where a stage's time goes, layer by
     * layer); the CUDA backend leaves it alone. */
    double *op_seconds;
} yl_profile;

/* "preprocess", "backbone", ...; static storage. */
const char *yl_stage_name(yl_stage stage);

/* The stage an op of the model is charged to: its part's. */
yl_stage yl_stage_of_op(const yl_op *op);

/* A monotonic clock in seconds. */
double yl_profile_now(void);

/* The q-quantile (0..1) of n >= 1 timing samples, linearly interpolated between order
 * statistics (q = 0.5: the median); scratch has room for n (samples may be it). */
double yl_quantile(const double *samples, int n, double q, double *scratch);

/* Start adding the stage times of this session's frames to *profile (borrowed until the
 * session is freed or another profile is set); NULL stops timing. */
yolact_status yl_session_set_profile(yolact_session *session, yl_profile *profile);

/* The device memory a session holds through its own allocations (cudaMalloc): activations,
 * weights, the head weights packed, workspaces (cuDNN's included) and the image-sized
 * buffers, which grow with the largest image so far. Not counted: the CUDA context and
 * module images, cuDNN's handle, CUDA graphs, the allocator's rounding. Bytes as requested. */
typedef struct yl_device_memory {
    size_t current_bytes;   /* held now */
    size_t peak_bytes;      /* the most held at once since the session was created */
} yl_device_memory;

/* The session's yl_device_memory; zeros for a backend that holds none (the CPU). */
yolact_status yl_session_device_memory(const yolact_session *session, yl_device_memory *out);

/* How the CUDA backend runs a session's network: captured as a CUDA graph at the second
 * unprofiled pass of each pass size, or, where the runtime refused that capture (an
 * operation it cannot capture, such as a library call in the thread-local mode), op by op
 * for that size from then on. Unprofiled frames only: profiled ones always run op by op. */
typedef struct yl_graphs {
    int captured;           /* pass sizes whose network runs as a graph */
    int fallbacks;          /* pass sizes whose capture failed, run op by op */
    char fallback_reason[256]; /* why the first capture failed; "" while none has */
} yl_graphs;

/* The session's yl_graphs; zeros for a backend without graphs (the CPU). */
yolact_status yl_session_graphs(const yolact_session *session, yl_graphs *out);

/* The algorithm of each convolution of a CPU session, one letter each in op order (g: im2col
 * + GEMM, w: Winograd, o: oneDNN; cpu/conv_choice.h), in out (n bytes, cut short and always
 * terminated); "" for a backend without the choice (CUDA). */
yolact_status yl_session_conv_algorithms(const yolact_session *session, char *out, size_t n);

#endif
