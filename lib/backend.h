/* The interface between a session and the backend that runs its frames (lib/cpu/,
 * lib/cuda/). A backend turns one image into the detections (relative boxes as Detect
 * gives them) and their masks at image resolution; the session turns that into the public
 * result. */
#ifndef YL_BACKEND_H
#define YL_BACKEND_H

#include "model/model.h"
#include "ops/detect.h"
#include "profile.h"
#include "train/multibox_loss.h"
#include "train/sgd.h"
#include "yolact.h"

/* One image's output, in buffers the backend owns and reuses from frame to frame. */
typedef struct yl_frame_output {
    int count;
    const yl_raw_detection *detections;   /* by descending score */
    const uint8_t *masks;                 /* count masks, each height * mask_stride bytes */
    size_t mask_stride;                   /* bytes a mask row: (width + 7) / 8 */
    const float *mask_scores;             /* YOLACT++: count re-scored confidences (score x
                                             predicted mask IoU); NULL: the scores */
} yl_frame_output;

/* The network's outputs of the last frame, as Detect receives them, on the host: loc
 * (P, 4), conf (P, C) softmaxed, coeff (P, K) after tanh, proto (H, W, K). */
typedef struct yl_network_outputs {
    const float *loc, *conf, *coeff, *proto;
} yl_network_outputs;

/* Takes one image's output (images[index] of a run) as soon as it is ready, in image order;
 * the buffers behind out are the backend's, reused once the sink returns. A status other
 * than YOLACT_OK stops the run and is its status. */
typedef yolact_status (*yl_frame_sink)(void *ctx, int index, const yl_frame_output *out);

typedef struct yl_backend_vtable {
    const char *name;
    yolact_status (*create)(const yolact_model *model, const yolact_session_options *options,
                            void **state);
    void (*destroy)(void *state);
    /* Every image of images[0 .. count - 1] (checked by the session), each output handed to
     * sink(ctx, ...) in order. A backend may run several images through the network at
     * once (the CUDA backend's batch_size). */
    yolact_status (*run)(void *state, const yolact_image *images, int count,
                         yl_frame_sink sink, void *ctx);
    /* For tests and debugging: the network outputs of the last image run. */
    yolact_status (*network_outputs)(void *state, yl_network_outputs *out);
    /* Add each stage's time of every later frame to *profile (borrowed); NULL: time nothing. */
    void (*set_profile)(void *state, yl_profile *profile);
    /* The device memory the session holds through its own allocations; NULL: none (CPU). */
    void (*device_memory)(void *state, yl_device_memory *out);
    /* How it runs the network as CUDA graphs; NULL: it has none (CPU). */
    void (*graphs)(void *state, yl_graphs *out);
    /* Its convolutions' algorithms (yl_session_conv_algorithms); NULL: no choice (CUDA). */
    void (*conv_algorithms)(void *state, char *out, size_t n);
} yl_backend_vtable;

extern const yl_backend_vtable yl_cpu_backend;

/* The CUDA backend as this build has it: lib/cuda/backend.c on a GPU, the same code on the
 * emulated runtime in the test runner, or nothing (lib/cuda/none.c: vtable NULL). */
typedef struct yl_cuda_backend_entry {
    const yl_backend_vtable *vtable;
    int emulated;                    /* runs on the host, for tests: AUTO never picks it */
    /* YOLACT_OK when device_index is a GPU it runs on, else why not. */
    yolact_status (*device_check)(int device_index);
} yl_cuda_backend_entry;

extern const yl_cuda_backend_entry yl_cuda_backend;

/* Training's gradient pass, as a backend runs it: each image of a batch through the training
 * forward and semantic_seg_conv, the batch's MultiBoxLoss, then the backward pass, whose
 * parameter gradients are the sum over the images. Keeps every image's activations until
 * the next run. Borrows the model and segm_weight until destroy. Each backend defines its
 * own struct yl_train_pass behind its table of functions (yl_train_pass_ops). */
typedef struct yl_train_pass yl_train_pass;

typedef struct yl_train_pass_ops {
    const char *name;                /* "cpu", "cuda" */
    /* segm_weight, segm_bias: semantic_seg_conv's tensors, (classes - 1, P3 channels, 1, 1)
     * and (classes - 1); YOLACT_ERR_MODEL when missing (NULL) or of another size.
     * batchnorm: NULL, BatchNorm frozen (folded into m's parameters); else trainable
     * BatchNorm (batch statistics, lib/cpu/train_batchnorm.h) with m's parameters made
     * without it (yl_model_refill's fold_batchnorm 0) and its tensors in this table (their
     * float32 data), borrowed until destroy: its weight and bias read at each run, its
     * running statistics moved by each run with update_running. threads: CPU threads, 0 =
     * every core; device_index: the GPU (checked by the caller); precision: FP32, or FP16
     * (half convolutions, include/yolact.h's yolact_trainer_options.precision). A backend
     * that cannot train m (or trainable BatchNorm, or in FP16) says so with
     * YOLACT_ERR_UNSUPPORTED. */
    yolact_status (*create)(const yolact_model *m, const yl_tensor *segm_weight,
                            const yl_tensor *segm_bias, const yl_tensor_table *batchnorm,
                            int threads, int device_index, yolact_precision precision,
                            yl_train_pass **pass);
    /* The loss of images[0 .. count) against gt (checked by the caller) to *losses; with
     * backward, the parameter gradients too (else they keep the last run's); with
     * update_running, trainable BatchNorm's running averages moved. */
    yolact_status (*run)(yl_train_pass *p, const yl_loss_config *cfg,
                         const yolact_image *images, const yl_gt *gt, int count, int backward,
                         int update_running, yl_losses *losses);
    /* The model's parameters changed in place (yl_model_refill after an SGD step; the
     * semantic_seg_conv tensors are read where they are): make again what the pass
     * prepared from them, so the next run computes what a pass created on the model now
     * would. */
    yolact_status (*weights_changed)(yl_train_pass *p);
    /* The network's trainable parameters (the two of semantic_seg_conv excepted), as
     * yl_model_trainables lists them. */
    const yl_trainable *(*trainables)(const yl_train_pass *p, int *count);
    /* With trainable BatchNorm, the number of its parameters (a weight and a bias per
     * layer, else 0), and the state-dict key of the j-th. */
    int (*batchnorm_params)(const yl_train_pass *p);
    const char *(*batchnorm_param)(const yl_train_pass *p, int j);
    /* The last backward's gradient of the network's trainable i, or for i == count and
     * count + 1 of semantic_seg_conv's weight and bias, for count + 2 + j of the
     * BatchNorm's parameter j, to out (unfolded). */
    void (*grad)(const yl_train_pass *p, int i, float *out);
    void (*destroy)(yl_train_pass *p); /* NULL is fine */

    /* The optimizer on the device, with the parameters resident there; all NULL in a pass
     * without it (the CPU's), whose trainer runs SGD on the host and calls weights_changed.
     * Parameter i is grad's i, in the state dict's (unfolded) layout.
     * state_upload: every parameter from params[i] and its momentum buffer from momentum[i]
     * (NULL: none yet; the first step with a momentum makes it) into device memory, and the
     * ops' (folded) parameters, semantic_seg_conv's and trainable BatchNorm's weight and
     * bias made from them there; from here on the pass reads neither the model's
     * parameters nor those tensors of the state dict, nor downloads a backward's
     * gradients, and grad is not to be called. weights: the state dict, for frozen
     * BatchNorm's statistics (its scales, as yl_model_refill folds them). */
    yolact_status (*state_upload)(yl_train_pass *p, const yl_tensor_table *weights,
                                  const float *const *params, const float *const *momentum);
    /* The last backward's gradients into the step's (unfolded as grad unfolds them; with
     * add, added to what they hold), then times factor: a step's batch in parts sums them
     * and scales the last by 1 / parts, as the host path does. */
    yolact_status (*gather_grads)(yl_train_pass *p, int add, float factor);
    /* One SGD step of every parameter from the step's gradients (yl_sgd_step's, bit for
     * bit), the ops' parameters then made from them again as yl_model_refill would. */
    yolact_status (*sgd_step)(yl_train_pass *p, const yl_sgd_options *opt);
    /* Parameter i's values, momentum buffer and step's gradient to host memory; a NULL
     * destination is skipped (momentum: only where the steps made or uploaded one). */
    yolact_status (*state_download)(yl_train_pass *p, int i, float *param, float *momentum,
                                    float *grad);

    /* Loss scaling for FP16 (GradScaler's device side), NULL in a pass without it.
     * scale_loss: the loss's gradients of the runs from now on times factor (1 at first);
     * the losses reported stay unscaled. grads_finite: *finite 1 when every step's gradient
     * gather_grads left is finite, else 0 (one reduction on the device). */
    void (*scale_loss)(yl_train_pass *p, double factor);
    yolact_status (*grads_finite)(yl_train_pass *p, int *finite);
} yl_train_pass_ops;

/* The CPU's (lib/cpu/train_pass.c); the CUDA backend's is yl_cuda_train_pass (NULL where it
 * is not built). */
extern const yl_train_pass_ops yl_cpu_train_pass;
extern const yl_train_pass_ops *const yl_cuda_train_pass;

/* The network outputs of a session's last frame (tests and debugging). */
yolact_status yl_session_network_outputs(yolact_session *session, yl_network_outputs *out);

#endif
