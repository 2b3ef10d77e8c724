/* libyolact: YOLACT real-time instance segmentation as a C library.
 * An image goes in; every object comes out with its class, score, box and pixel mask.
 * This header is the whole public API: C99, no CUDA headers, no layout that depends on
 * build flags. */
#ifndef YOLACT_H
#define YOLACT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define YOLACT_API __attribute__((visibility("default")))
#else
#define YOLACT_API
#endif

#define YOLACT_VERSION_MAJOR 0
#define YOLACT_VERSION_MINOR 1
#define YOLACT_VERSION_PATCH 0
#define YOLACT_VERSION_NUMBER \
    (YOLACT_VERSION_MAJOR * 10000 + YOLACT_VERSION_MINOR * 100 + YOLACT_VERSION_PATCH)

/* YOLACT_VERSION_NUMBER of the library actually linked (may differ from the header's). */
YOLACT_API int yolact_version_number(void);
/* "MAJOR.MINOR.PATCH" of the library actually linked; static storage. */
YOLACT_API const char *yolact_version_string(void);

/* Every call returns one of these. Values are pinned: new ones are only appended. */
typedef enum yolact_status {
    YOLACT_OK = 0,
    YOLACT_ERR_INVALID_ARGUMENT = 1, /* NULL where a value is needed, option out of range */
    YOLACT_ERR_OUT_OF_MEMORY = 2,
    YOLACT_ERR_IO = 3,               /* a file could not be opened, read or written */
    YOLACT_ERR_FORMAT = 4,           /* a weight or image file is malformed or truncated */
    YOLACT_ERR_UNSAFE_PICKLE = 5,    /* a .pth pickle asks for a global or opcode a state_dict never needs */
    YOLACT_ERR_UNSUPPORTED = 6,      /* well-formed, but a feature this library does not handle */
    YOLACT_ERR_MODEL = 7,            /* tensors missing, or shapes that contradict each other or the preset */
    YOLACT_ERR_LIMIT = 8,            /* a declared size beyond the limits below */
    YOLACT_ERR_BACKEND_UNAVAILABLE = 9, /* the backend asked for is not built in, or no usable GPU */
    YOLACT_ERR_DEVICE = 10,          /* the GPU or its runtime failed */
    YOLACT_ERR_INTERNAL = 11         /* a bug in libyolact: please report it */
} yolact_status;

/* A short constant text for a status ("invalid argument", ...); never NULL. */
YOLACT_API const char *yolact_status_string(yolact_status status);
/* The detail of the last failing call made by this thread (which file, which tensor, which
 * global...), or "" after a success. Valid until this thread's next libyolact call. */
YOLACT_API const char *yolact_last_error(void);

/* Limits applied to untrusted input before anything is allocated: a weight file larger than
 * max_weights_bytes (or a zip entry or tensor claiming more), an image whose header claims a
 * side over max_image_side or more than max_image_pixels pixels, are refused with
 * YOLACT_ERR_LIMIT. These are the defaults; yolact_limits_set changes them for the whole
 * process (any thread, any time; a check in progress sees the old or the new value). */
#define YOLACT_MAX_IMAGE_PIXELS ((int64_t)1 << 28)   /* 268 Mpixel, e.g. 16384 x 16384 */
#define YOLACT_MAX_IMAGE_SIDE 65535
#define YOLACT_MAX_WEIGHTS_BYTES ((int64_t)4 << 30)   /* 4 GiB of weight file */

typedef struct yolact_limits {
    int max_image_side;           /* 1..65535 */
    int64_t max_image_pixels;     /* 1..65535 * 65535 */
    int64_t max_weights_bytes;    /* 1..2^40 */
} yolact_limits;

/* The limits in force. */
YOLACT_API void yolact_limits_get(yolact_limits *limits);
/* Replace them all; a value outside its range is refused (YOLACT_ERR_INVALID_ARGUMENT) and
 * nothing changes. */
YOLACT_API yolact_status yolact_limits_set(const yolact_limits *limits);

/* ---------------------------------------------------------------------------------------
 * Images: interleaved 3-channel pixels, 8-bit; or float for training. */
typedef enum yolact_pixel_format {
    YOLACT_PIXEL_RGB8 = 0,
    YOLACT_PIXEL_BGR8 = 1,
    /* Three floats a pixel (host byte order), BGR on the 0..255 scale but not clipped to it,
     * as the official training augmentation leaves an image: data points to floats, stride
     * is in bytes (>= 12 * width). Only the trainer reads it (yolact_trainer_step and
     * _evaluate); sessions and the image functions refuse it (YOLACT_ERR_INVALID_ARGUMENT). */
    YOLACT_PIXEL_BGR32F = 2
} yolact_pixel_format;

/* Where an image's pixels are. */
typedef enum yolact_memory {
    YOLACT_MEMORY_HOST = 0,     /* host memory, pageable or pinned (the default) */
    YOLACT_MEMORY_DEVICE = 1    /* CUDA device memory on the session's GPU: frames already on
                                   the GPU are read in place (CUDA backend only). The work
                                   that wrote a frame must have finished (synchronise its
                                   stream) before the call: the session's stream is
                                   non-blocking and waits for no other stream */
} yolact_memory;

typedef struct yolact_image {
    const uint8_t *data;        /* borrowed: read during the call only */
    int width, height;          /* pixels, 1..YOLACT_MAX_IMAGE_SIDE */
    size_t stride;              /* bytes from one row to the next, >= 3 * width
                                   (12 * width for YOLACT_PIXEL_BGR32F) */
    yolact_pixel_format format;
    yolact_memory memory;       /* where data is; zero-initialised: host */
} yolact_image;

/* Decode a PNG or JPEG file as OpenCV's imread(path, IMREAD_COLOR) does (EXIF orientation
 * applied, gray replicated, 16-bit reduced to its high byte, alpha dropped, palettes
 * expanded) into RGB8. On success *data is malloc'ed (free with yolact_image_free_pixels)
 * and the image describes it. */
YOLACT_API yolact_status yolact_image_load(const char *path, yolact_image *image);
/* Free pixels returned by yolact_image_load; accepts an image whose data is NULL. */
YOLACT_API void yolact_image_free_pixels(yolact_image *image);
/* Write an image as an 8-bit RGB PNG. The file appears complete or not at all. */
YOLACT_API yolact_status yolact_image_save_png(const char *path, const yolact_image *image);

/* ---------------------------------------------------------------------------------------
 * Model: weights + architecture. Read-only after load; may be shared by any number of
 * threads and sessions. Must outlive every session made from it. */
typedef struct yolact_model yolact_model;

typedef struct yolact_model_options {
    size_t struct_size;        /* set by yolact_model_options_init */
    /* Preset name (see yolact_preset_names), or NULL: the one the file's metadata names
     * (YOLACT_PRESET_METADATA, which yolact-train writes), else taken from the file name as
     * the official eval.py does ("<preset>_<epoch>_<iteration>.pth"), else guessed from the
     * tensor shapes. Copied. */
    const char *preset;
    /* A text file with one class name per line replacing the preset's names (for
     * checkpoints with another class count), or NULL. Read during load. It takes precedence
     * over the names a checkpoint stores (YOLACT_CLASS_NAMES_METADATA). */
    const char *class_names_path;
} yolact_model_options;

/* The .safetensors __metadata__ keys under which a checkpoint stores its class names and
 * their COCO category ids, one a line, class by class, background excluded (as yolact-train
 * writes them); yolact_model_load applies them (without ids, categories are numbered 1..N). */
#define YOLACT_CLASS_NAMES_METADATA "class_names"
#define YOLACT_CATEGORY_IDS_METADATA "category_ids"
/* The .safetensors __metadata__ key under which a checkpoint names its preset, so that it
 * loads right under any file name (yolact_trainer_save_weights writes it); a name that is
 * not a preset fails the load (YOLACT_ERR_MODEL). */
#define YOLACT_PRESET_METADATA "preset"

YOLACT_API void yolact_model_options_init(yolact_model_options *options);

/* Load a .pth (PyTorch zip or legacy format) or .safetensors checkpoint. options may be
 * NULL (defaults). The file is read during the call only. */
YOLACT_API yolact_status yolact_model_load(const char *path, const yolact_model_options *options,
                                yolact_model **model);
YOLACT_API void yolact_model_free(yolact_model *model); /* NULL is fine */

typedef enum yolact_backbone_kind {
    YOLACT_BACKBONE_RESNET = 0,   /* Bottleneck blocks */
    YOLACT_BACKBONE_DARKNET = 1
} yolact_backbone_kind;

/* How the preset was chosen. */
typedef enum yolact_preset_source {
    YOLACT_PRESET_GIVEN = 0,      /* named in the options */
    YOLACT_PRESET_FROM_FILE_NAME = 1,
    YOLACT_PRESET_GUESSED = 2,    /* from the shapes: ambiguous for base/im400/im700 */
    YOLACT_PRESET_FROM_METADATA = 3  /* YOLACT_PRESET_METADATA */
} yolact_preset_source;

/* What was loaded. All pointers are borrowed from the model. */
typedef struct yolact_model_info {
    const char *preset;
    yolact_preset_source preset_source;
    yolact_backbone_kind backbone;
    int backbone_stages;          /* 4 for ResNet, 5 for DarkNet */
    int stage_depth[5];           /* blocks per stage */
    int stage_channels[5];        /* output channels per stage */
    int fpn_channels;
    int fpn_downsample_levels;
    int num_levels;               /* prediction levels (P3..P7 -> 5) */
    int protonet_layers;          /* convolutions in the protonet */
    int protonet_channels;
    int num_prototypes;
    int anchors_per_cell;
    int num_classes;              /* including background */
    int input_size;               /* S of the S x S network input */
    int64_t num_parameters;       /* parameters used for inference, before BN folding */
    int num_unused_keys;
    const char *const *unused_keys; /* tensors in the file that inference does not use */
    const char *const *class_names; /* num_classes - 1 names, background excluded */
    /* YOLACT++ (0 for YOLACT) */
    int stage_dcn[5];             /* deformable convolutions (DCNv2) per backbone stage */
    int maskiou_layers;           /* convolutions of the mask re-scoring net */
    int maskiou_channels[8];      /* output channels of each (its first 8) */
} yolact_model_info;

YOLACT_API const yolact_model_info *yolact_model_get_info(const yolact_model *model);

/* Names of the built-in presets, NULL-terminated; static storage. */
YOLACT_API const char *const *yolact_preset_names(void);

/* ---------------------------------------------------------------------------------------
 * Session: everything one inference needs (buffers, threads, GPU stream). One session per
 * thread; a session is not thread-safe, a model shared by sessions is. */
typedef struct yolact_session yolact_session;

typedef enum yolact_backend {
    YOLACT_BACKEND_AUTO = 0,      /* CUDA when a usable GPU is present, else CPU */
    YOLACT_BACKEND_CPU = 1,
    YOLACT_BACKEND_CUDA = 2
} yolact_backend;

typedef enum yolact_precision {
    YOLACT_PRECISION_DEFAULT = 0, /* the backend's best that meets the parity tolerances */
    YOLACT_PRECISION_FP32 = 1,
    YOLACT_PRECISION_FP16 = 2
} yolact_precision;

typedef struct yolact_session_options {
    size_t struct_size;           /* set by yolact_session_options_init */
    yolact_backend backend;       /* default AUTO */
    yolact_precision precision;   /* default DEFAULT */
    int device_index;             /* GPU ordinal, default 0 */
    int num_threads;              /* CPU threads; 0 (default) = all cores */
    float score_threshold;        /* drop detections scoring at or below; default 0 (official) */
    int top_k;                    /* candidates per class kept for NMS, 1..10000, default 200 */
    int max_detections;           /* detections per image, 1..10000, default 100 */
    float conf_threshold;         /* candidate prior threshold, default 0.05 */
    float nms_threshold;          /* Fast NMS IoU threshold, (0, 1], default 0.5 */
    int want_rle;                 /* non-zero: also give each mask as COCO compressed RLE */
    int batch_size;               /* images the CUDA backend runs through the network at once,
                                     1..YOLACT_MAX_BATCH_SIZE, default 1: a detect_batch call
                                     runs in passes of this many. The network is planned for
                                     the powers of two below it and for it, and a shorter pass
                                     (the last one, or a single image) runs the smallest that
                                     holds it: a pass of n images costs the network of at most
                                     2n. Device memory for the activations grows with it. The
                                     CPU backend runs one image at a time whatever it is. */
} yolact_session_options;

#define YOLACT_MAX_BATCH_SIZE 256

YOLACT_API void yolact_session_options_init(yolact_session_options *options);

/* options may be NULL (defaults). Options out of range are refused here. The first CPU
 * session of a model also converts the model's 3x3 convolution weights into the CPU's fast
 * layout (host memory: about 4x those weights, held by the model and shared by its later
 * CPU sessions, on any thread), and the first with each thread count times each
 * convolution's candidate algorithms, so it takes longer than the ones after it. The
 * environment variable YOLACT_CPU_CONV (auto, fixed, gemm, winograd, onednn; README,
 * Performance) sets how a CPU session chooses them; an unknown value is refused here. */
YOLACT_API yolact_status yolact_session_create(const yolact_model *model,
                                    const yolact_session_options *options,
                                    yolact_session **session);
YOLACT_API void yolact_session_free(yolact_session *session); /* NULL is fine */

/* The backend a session runs on (never AUTO). */
YOLACT_API yolact_backend yolact_session_backend(const yolact_session *session);

/* One detection. Boxes are in image pixels, sanitized as the official postprocess does
 * (x1 = max(min(x1,x2)*w, 0), x2 = min(max(x1,x2)*w, w)), not truncated. */
typedef struct yolact_detection {
    int class_index;              /* 0..num_classes-2, background excluded */
    const char *class_name;       /* borrowed from the model */
    int category_id;              /* COCO category id from the preset's map (class_index+1 without one) */
    float score;                  /* class confidence */
    float mask_score;             /* YOLACT++: score x the mask IoU the mask re-scoring net
                                     predicts (the official rescore_mask); = score otherwise */
    float x1, y1, x2, y2;
    /* The mask at image resolution, one bit a pixel: row y starts at mask + y * mask_stride,
     * pixel x is bit (7 - x % 8) of byte x / 8 (most significant bit first). */
    const uint8_t *mask;
    size_t mask_stride;
    const char *rle;              /* COCO compressed RLE counts (column-major) or NULL */
} yolact_detection;

typedef struct yolact_result {
    int width, height;            /* the image's */
    int count;
    const yolact_detection *detections; /* by descending score */
} yolact_result;

/* 1 when pixel (x, y) of a detection's mask is set. */
static inline int yolact_mask_at(const yolact_detection *d, int x, int y)
{
    return (d->mask[(size_t)y * d->mask_stride + (size_t)(x >> 3)] >> (7 - (x & 7))) & 1;
}

/* COCO compressed RLE (pycocotools' string form: column-major runs, the first a run of 0s)
 * of a one-bit-a-pixel mask laid out as a detection's (row y at mask + y * stride, most
 * significant bit first): what yolact_detection.rle holds, for masks of one's own (ground
 * truth, a data set). Writes at most cap bytes including the terminating NUL (out may be
 * NULL when cap is 0) and returns the whole string's length without the NUL, so a first call
 * with cap 0 sizes the buffer. A negative width or height, or no mask, gives "". */
YOLACT_API size_t yolact_mask_rle(const uint8_t *mask, int width, int height, size_t stride,
                                  char *out, size_t cap);

/* Detect every object in one image. *result is owned by the session and stays valid until
 * the next detect call on it or its destruction (nothing is allocated per frame once the
 * buffers have grown to the largest image seen). */
YOLACT_API yolact_status yolact_session_detect(yolact_session *session, const yolact_image *image,
                                    const yolact_result **result);

/* The same for a batch; results[i] belongs to images[i]; same lifetime rule. */
YOLACT_API yolact_status yolact_session_detect_batch(yolact_session *session, const yolact_image *images,
                                          int count, const yolact_result **results);

/* Draw a result onto the RGB8 image it came from, in place, as the official eval.py display
 * does: translucent masks, boxes and "class: score" labels. rgb holds result->height rows
 * of stride bytes. Draws the first max_shown detections, all when max_shown <= 0. Labels
 * do not overlap: each goes above its box (as in eval.py), else inside its top edge, else
 * on its bottom edge, wherever it lies in the image clear of better detections' labels; a
 * label with no such place is left out (its mask and box are drawn). */
YOLACT_API void yolact_image_draw_detections(uint8_t *rgb, size_t stride,
                                             const yolact_result *result, int max_shown);

/* Draw one line of text in the labels' font (white, 12 pixels a character) on a black box
 * whose top-left corner is (x, y) and which is yolact_image_text_height() pixels tall, onto
 * an RGB8 image of width x height, in place, clipped to the image. For captions such as a
 * frame rate; text is copied, characters outside printable ASCII show as '?'. */
YOLACT_API void yolact_image_draw_text(uint8_t *rgb, size_t stride, int width, int height,
                                       int x, int y, const char *text);
/* The height of the box yolact_image_draw_text draws, in pixels. */
YOLACT_API int yolact_image_text_height(void);

/* ---------------------------------------------------------------------------------------
 * Training (CPU): the official train.py's step on a batch: the training forward,
 * MultiBoxLoss (box smooth-L1 B, class cross-entropy with 3:1 hard negative mining C, the
 * linear-combination mask loss M, semantic segmentation S), the backward pass with frozen
 * BatchNorm (cfg.freeze_bn, as train.py sets it for batches under 6 per GPU: its weights get
 * no gradient) or, as an option, trainable BatchNorm, and torch.optim.SGD with momentum and
 * weight decay under train.py's learning rate (linear warm-up, then a factor gamma past each
 * of lr_steps). A trainer owns its weights (float32, under the official state-dict keys),
 * their gradients, the momentum buffers and every activation the backward pass reads. It is
 * not thread-safe: one thread at a time. */
typedef struct yolact_trainer yolact_trainer;

#define YOLACT_MAX_LR_STEPS 8

/* The mask term's per-pixel loss (yolact_trainer_options.mask_loss). */
typedef enum yolact_mask_loss {
    /* The official float32 step's: p = sigmoid(x), then binary cross-entropy whose log
     * clamps at -100, so a pixel whose p rounds to 1.0 (a logit above about 16.6) with
     * target 0 adds exactly 100 and no gradient. What the parity tests reproduce. */
    YOLACT_MASK_LOSS_BCE = 0,
    /* Binary cross-entropy from the logits (max(x, 0) - x t + log1p(exp(-|x|))): the same
     * loss without the saturation. */
    YOLACT_MASK_LOSS_BCE_STABLE,
    /* The seed's Dice loss per mask, 1 - (2 sum(p t) + 1) / (sum p + sum t + 1) over the
     * cropped sigmoid mask, times mask_alpha, over the positives. */
    YOLACT_MASK_LOSS_DICE
} yolact_mask_loss;
#define YOLACT_MAX_CLASSES 10000  /* a trainer's classes, background included */

typedef struct yolact_trainer_options {
    size_t struct_size;       /* set by yolact_trainer_options_init */
    /* Preset name, or NULL: from the file name, else guessed, as yolact_model_load. Copied. */
    const char *preset;
    int num_threads;          /* CPU threads; 0 (default) = all cores */
    /* SGD, as train.py (yolact_base's values by default): */
    double lr;                /* default 1e-3 */
    double momentum;          /* default 0.9 */
    double weight_decay;      /* default 5e-4 */
    double lr_warmup_init;    /* default 1e-4 */
    int lr_warmup_until;      /* iterations of linear warm-up; default 500; 0: none */
    double gamma;             /* factor at each of lr_steps; default 0.1 */
    int num_lr_steps;         /* 0..YOLACT_MAX_LR_STEPS; default 4 */
    int lr_steps[YOLACT_MAX_LR_STEPS]; /* ascending iterations; default 280000, 600000,
                                          700000, 750000 */
    /* Non-zero: the mask loss uses every positive prior (deterministic; the parity set's
     * setting). 0 (default): as train.py, a random masks_to_train of them per image. */
    int all_masks;
    uint64_t seed;            /* the random masks' stream; each iteration draws its own; and
                                 the fresh or re-initialised layers' values */
    /* Classes, background included (2..YOLACT_MAX_CLASSES), or 0 (default): the
     * checkpoint's. A checkpoint with another count (an official COCO one fine-tuned on a
     * data set of its own) gets its class-dependent layers made again as
     * yolact_trainer_create_fresh makes them (prediction_layers.*.conf_layer and
     * semantic_seg_conv), and yolact_trainer_notes says so. */
    int num_classes;
    /* yolact_trainer_create_fresh's network size; zeros (default): the preset's official
     * one. Bottleneck blocks per ResNet stage (yolact_base 3, 4, 23, 3; yolact_resnet50 3,
     * 4, 6, 3), all four or none; the backbone's base width (64: stage s has 64 << s
     * planes and 4 times as many outputs; a narrower one, say 32, is a quarter of the
     * weights and multiplies, which libyolact loads and the official ResNetBackbone, whose
     * widths are fixed, does not); the width of the FPN, the protonet and the head (256). */
    int backbone_blocks[4];
    int backbone_width;
    int features;
    /* Non-zero: trainable BatchNorm, as train.py runs it at 6 or more images per GPU
     * (cfg.freeze_bn off): each BatchNorm normalises with the statistics of the whole batch
     * (a batch of one image works, its own statistics), its weight and bias get gradients
     * and SGD steps (with weight decay, as every parameter), and each step moves its
     * running_mean and running_var (momentum 0.1, the unbiased variance, as torch's
     * BatchNorm2d), which the saved weights and state hold. yolact_trainer_evaluate uses the
     * batch's statistics too and moves nothing. 0 (default): frozen, as described above. */
    int train_batchnorm;
    yolact_mask_loss mask_loss; /* default YOLACT_MASK_LOSS_BCE (train.py's) */
    /* Gradient accumulation: 0 or 1 (default), the batch is one part; N > 1 (at most the
     * batch), the batch is cut into N consecutive parts as train.py splits it over N GPUs
     * (floor(batch / N) images each, the last part the rest), each part's loss and
     * gradients computed on their own (normalised by its own positives; with trainable
     * BatchNorm, its own statistics, and only the first part's move the running averages,
     * as DataParallel keeps the first replica's), then averaged, then one SGD step: the
     * loss and the step train.py takes on N GPUs, in the memory of one part. */
    int sub_batches;
    /* Where the gradient pass runs: YOLACT_BACKEND_CPU (default); YOLACT_BACKEND_CUDA, the
     * GPU device_index (YOLACT_ERR_BACKEND_UNAVAILABLE when there is none or the library was
     * built without CUDA); YOLACT_BACKEND_AUTO, CUDA where a usable GPU is, else the CPU.
     * On CUDA, SGD runs on the device too and the weights, momentum buffers and gradients
     * stay there, copied back only when saved (the same values as SGD on the host). */
    yolact_backend backend;
    int device_index;         /* GPU ordinal, default 0 */
    /* YOLACT_PRECISION_FP32 (default; DEFAULT is FP32 here) or, on CUDA only (the CPU's pass
     * is YOLACT_ERR_UNSUPPORTED), YOLACT_PRECISION_FP16: mixed precision as PyTorch's
     * autocast with GradScaler runs it. The convolutions (forward, input and weight
     * gradients) take half operands with float accumulation; everything else (BatchNorm,
     * the loss, the heads) and the weights SGD updates stay float32. The loss's gradients
     * are multiplied by a dynamic scale (2^16 at first), the step's divided by it; a step
     * whose gradients are not all finite is skipped (yolact_losses.step_taken 0) and halves
     * the scale, 2000 good steps in a row double it (yolact_trainer_loss_scale; the state
     * files keep it). */
    yolact_precision precision;
} yolact_trainer_options;

YOLACT_API void yolact_trainer_options_init(yolact_trainer_options *options);

/* Load a checkpoint (.pth or .safetensors, as yolact_model_load) that has every tensor the
 * network needs and semantic_seg_conv's weight and bias (a checkpoint saved by train.py
 * has them; one exported for inference only does not: YOLACT_ERR_MODEL). options may be
 * NULL (defaults); out-of-range options are YOLACT_ERR_INVALID_ARGUMENT. The file is read
 * during the call only. Networks with deformable convolutions (YOLACT++) are
 * YOLACT_ERR_UNSUPPORTED. */
YOLACT_API yolact_status yolact_trainer_create(const char *checkpoint_path,
                                               const yolact_trainer_options *options,
                                               yolact_trainer **trainer);
/* A trainer for a network made from nothing: the preset's (the YOLACT presets; YOLACT++ is
 * YOLACT_ERR_UNSUPPORTED) with num_classes classes (background included,
 * 2..YOLACT_MAX_CLASSES) and options->backbone_blocks / backbone_width / features' size
 * (yolact_darknet53's DarkNet-53 only at its official size: backbone_blocks or
 * backbone_width set is YOLACT_ERR_UNSUPPORTED for it), initialised as the official
 * Yolact.init_weights does without a pretrained backbone: the backbone's convolutions as
 * PyTorch's default (U(+-1/sqrt(fan_in))), every other convolution xavier_uniform_ with zero
 * biases, BatchNorm the identity (weight 1, bias 0, mean 0, variance 1); every value drawn
 * from options->seed. options->num_classes is not read. */
YOLACT_API yolact_status yolact_trainer_create_fresh(const char *preset, int num_classes,
                                                     const yolact_trainer_options *options,
                                                     yolact_trainer **trainer);
YOLACT_API void yolact_trainer_destroy(yolact_trainer *trainer); /* NULL is fine */

/* What creating the trainer changed in its checkpoint, in words ("" when nothing): the
 * class-dependent layers re-initialised for options.num_classes. Valid until destroy. */
YOLACT_API const char *yolact_trainer_notes(const yolact_trainer *trainer);

/* The classes' names (count = num_classes - 1, background excluded, each one non-empty
 * line) and their category ids (positive, or NULL: numbered 1..count by the loader), both
 * copied. yolact_trainer_save_weights (.safetensors) and _save_state write them into the
 * file's metadata (YOLACT_CLASS_NAMES_METADATA, YOLACT_CATEGORY_IDS_METADATA), so
 * yolact_model_load names the trained classes. A trainer made from a checkpoint or loaded
 * from a state that stores them for its class count takes them from there. */
YOLACT_API yolact_status yolact_trainer_set_classes(yolact_trainer *trainer, int count,
                                                    const char *const *names,
                                                    const int *category_ids);

/* One object of an image's ground truth. */
typedef struct yolact_gt_object {
    /* Box relative to the image, (x1, y1, x2, y2) in [0, 1], x2/y2 one past the last pixel
     * (COCO's x / w, (x + bw) / w). Corners in either order; parts outside the image are
     * clipped; a box with no area inside it is refused. */
    float x1, y1, x2, y2;
    int label;                /* the class index, 0..num_classes - 2 (as a detection's
                                 class_index); unused for a crowd */
    int crowd;                /* non-zero: a crowd region (iscrowd), only its box is used */
    /* mask_height rows of mask_width bytes, nonzero = object; borrowed during the call;
     * may be NULL for a crowd. An empty mask is allowed. */
    const uint8_t *mask;
} yolact_gt_object;

/* An image's ground truth: count objects (0 is allowed: all background), their masks all
 * mask_width x mask_height. train.py resizes the masks to the network's input (S x S) with
 * the image: give them at S x S for the official values (other sizes are interpolated once,
 * straight to the loss's resolutions). */
typedef struct yolact_ground_truth {
    int count;
    const yolact_gt_object *objects;
    int mask_width, mask_height;
} yolact_ground_truth;

/* A batch's loss as train.py prints it: B, C, M divided by the batch's positive priors, S by
 * the batch size; total = B + C + M + S. */
typedef struct yolact_losses {
    double B, C, M, S, total;
    int num_positives;        /* the batch's positive priors */
    int step_taken;           /* 0: the total was not finite and, as train.py does, the
                                 weights were left as they were (yolact_trainer_step) */
} yolact_losses;

/* One training iteration on images[0 .. batch) with gt[i] for images[i]: the loss, the
 * gradients (summed over the images, as the official batch's), then one SGD step at the
 * iteration's learning rate. losses may be NULL. Hostile input (batch <= 0, NULL arrays, an
 * image with no pixels, an object whose box is not finite or has no area in the image, a
 * label out of range, a missing mask, mask sizes < 1) is YOLACT_ERR_INVALID_ARGUMENT naming
 * the image and object, and changes nothing. Images are host memory, any size. */
YOLACT_API yolact_status yolact_trainer_step(yolact_trainer *trainer, const yolact_image *images,
                                             const yolact_ground_truth *gt, int batch,
                                             yolact_losses *losses);
/* The loss of a batch under the current weights, without gradients or a step. */
YOLACT_API yolact_status yolact_trainer_evaluate(yolact_trainer *trainer,
                                                 const yolact_image *images,
                                                 const yolact_ground_truth *gt, int batch,
                                                 yolact_losses *losses);

/* Iterations taken (steps, skipped ones included), and the rate the last one used. */
YOLACT_API int64_t yolact_trainer_iteration(const yolact_trainer *trainer);

/* The backend the trainer's gradient pass runs on: CPU or CUDA (never AUTO; AUTO for NULL). */
YOLACT_API yolact_backend yolact_trainer_backend(const yolact_trainer *trainer);
YOLACT_API double yolact_trainer_lr(const yolact_trainer *trainer);
/* An FP16 trainer's loss scale now (the next step's); 0 for an FP32 trainer or NULL. */
YOLACT_API double yolact_trainer_loss_scale(const yolact_trainer *trainer);
/* The network's preset name (static storage) and its input side S (images are trained at
 * S x S); NULL and 0 for a NULL trainer. */
YOLACT_API const char *yolact_trainer_preset(const yolact_trainer *trainer);
YOLACT_API int yolact_trainer_input_size(const yolact_trainer *trainer);

/* The weights as a checkpoint: .pth (torch.save's zip, read by torch.load and the official
 * Yolact.load_weights) when path ends in ".pth", else .safetensors (float32, with the
 * classes of yolact_trainer_set_classes in its metadata). Written all or nothing: a failure
 * leaves any earlier file at path as it was. */
YOLACT_API yolact_status yolact_trainer_save_weights(const yolact_trainer *trainer,
                                                     const char *path);
/* The last step's gradient of every trainable parameter, float32 .safetensors under its
 * state-dict key (YOLACT_ERR_INVALID_ARGUMENT before any step). */
YOLACT_API yolact_status yolact_trainer_save_gradients(const yolact_trainer *trainer,
                                                       const char *path);
/* The whole training state (weights, momentum buffers, iteration, optimizer settings, an
 * FP16 run's loss scale) in one .safetensors file that is also a checkpoint; loading it into
 * a trainer made from the same network resumes bit for bit: N steps, save, load, M steps ==
 * N + M steps (an FP16 trainer given an FP32 run's state starts its scale afresh). The
 * learning-rate schedule stays the trainer's options'. */
YOLACT_API yolact_status yolact_trainer_save_state(const yolact_trainer *trainer,
                                                   const char *path);
YOLACT_API yolact_status yolact_trainer_load_state(yolact_trainer *trainer, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* YOLACT_H */
