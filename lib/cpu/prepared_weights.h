/* The CPU backend's per-model state: each convolution's weights in its fast layout, made
 * once and kept in the model's cache (model/cache.h) for all its CPU sessions. */
#ifndef YL_CPU_PREPARED_WEIGHTS_H
#define YL_CPU_PREPARED_WEIGHTS_H

#include "model/model.h"

typedef struct yl_cpu_prepared {
    const float **op;           /* per op of the model: its prepared weights, or NULL where
                                   its shape has none */
    float *block;               /* all of them, one block */
} yl_cpu_prepared;

/* The CPU's prepared (Winograd) weights of m: made by the first call (the first CPU
 * session; a CUDA-only process never holds them, 4x a 3x3 convolution's weights), shared by
 * the later ones, and kept until the model is freed, so sessions made and freed one after
 * another do not each pay the transform. Thread-safe; on failure nothing is left made and a
 * later call tries again. */
yolact_status yl_cpu_prepared_acquire(const yolact_model *m, const yl_cpu_prepared **prepared);

/* Give back what acquire gave (NULL is fine). */
void yl_cpu_prepared_release(const yolact_model *m, const yl_cpu_prepared *prepared);

#endif
