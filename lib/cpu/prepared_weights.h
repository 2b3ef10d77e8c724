/* The CPU backend's per-model state: each convolution's weights in its fast layout, made
 * once and kept in the model (op->prepared, prepared_params) for all its CPU sessions. */
#ifndef YL_CPU_PREPARED_WEIGHTS_H
#define YL_CPU_PREPARED_WEIGHTS_H

#include "model/model.h"

/* The CPU's prepared (Winograd) weights of every convolution that has them, made once for
 * the model by the first call (the CPU backend's session creation); later calls return at
 * once. Thread-safe. On failure nothing is left prepared and a later call tries again. */
yolact_status yl_model_prepare_cpu(const yolact_model *model);

#endif
