/* A training run's state in one .safetensors file, to resume the run from: what a trainer
 * holds, passed as named tensors (no model types here).
 *
 * The file (format_version 1):
 *   - each weight under its state-dict key, float32: the file is also a checkpoint that any
 *     safetensors reader, and this library's model loader, takes as weights (the loader
 *     lists the buffers among the model's unused keys);
 *   - each momentum buffer under "momentum_buffer." + its parameter's key, float32, of its
 *     parameter's shape (none for a parameter that has taken no step with momentum);
 *   - the header's __metadata__: "format": "libyolact-train-state", "format_version": "1",
 *     "iteration" (decimal), the optimizer's "lr" (the last step's), "momentum",
 *     "dampening", "weight_decay" (each "%.17g", which reads back to the same double) and
 *     "nesterov" ("0" or "1"); for an FP16 run's loss scaling "loss_scale" ("%.17g") and
 *     "loss_scale_good_steps" (decimal), absent for an FP32 run; then the caller's own pairs.
 * Everything reads back bit for bit. */
#ifndef YL_TRAIN_STATE_H
#define YL_TRAIN_STATE_H

#include <stdint.h>

#include "train/sgd.h"
#include "weights/tensor_table.h"

#define YL_TRAIN_STATE_MOMENTUM_PREFIX "momentum_buffer."

typedef struct yl_train_state {
    int64_t iteration;          /* optimizer steps taken */
    yl_sgd_options sgd;         /* the optimizer's settings; lr: the last step's rate */
    yl_tensor_table weights;    /* the network's state dict (float32 tensors, and integer
                                   ones such as num_batches_tracked, written as zeros) */
    yl_tensor_table momentum;   /* buffers under their parameters' keys: a parameter with
                                   one continues it (yl_sgd_step's *first = 0) */
    /* FP16's dynamic loss scale (positive), or 0: an FP32 run, none written or read; and
     * the good steps in a row since it last changed */
    double loss_scale;
    int64_t loss_scale_good_steps;
} yl_train_state;

/* Write state (borrowed; its tables are only read) to path, all or nothing as
 * yl_weights_write_safetensors. metadata (may be NULL): the caller's own NULL-terminated
 * key, value pairs (a preset name, a seed), none of the keys above. INVALID_ARGUMENT for a
 * negative iteration, a buffer whose parameter is not among the weights or has another
 * shape, a weight under the momentum prefix, a loss scale not finite or good steps below 0. */
yolact_status yl_train_state_write(const yl_train_state *state, const char *const *metadata,
                                   const char *path);

/* Read a state written by yl_train_state_write into *state (owned: free it with
 * yl_train_state_free). The file's metadata, the caller's pairs among it, stay in
 * state->weights.metadata. YOLACT_ERR_FORMAT for a file that is not a training state or
 * whose settings or buffers do not parse or match; on failure *state is left empty. */
yolact_status yl_train_state_read(const char *path, yl_train_state *state);

void yl_train_state_free(yl_train_state *state);

#endif
