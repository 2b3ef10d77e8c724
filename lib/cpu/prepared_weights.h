/* The CPU backend's per-model state: each convolution's weights in its fast layout, and
 * each convolution's algorithm as timed on this machine per thread count (conv_choice.h),
 * made once and kept in the model's cache (model/cache.h) for all its CPU sessions. */
#ifndef YL_CPU_PREPARED_WEIGHTS_H
#define YL_CPU_PREPARED_WEIGHTS_H

#include "model/model.h"

typedef struct yl_cpu_prepared {
    const float **op;           /* per op of the model: its prepared weights, or NULL where
                                   its shape has none */
    float *block;               /* all of them, one block */
    struct yl_cpu_timed *timed; /* the per-op algorithms timed so far, by thread count */
} yl_cpu_prepared;

/* The CPU's prepared (Winograd) weights of m: made by the first call (the first CPU
 * session; a CUDA-only process never holds them, 4x a 3x3 convolution's weights), shared by
 * the later ones, and kept until the model is freed, so sessions made and freed one after
 * another do not each pay the transform. Thread-safe; on failure nothing is left made and a
 * later call tries again. */
yolact_status yl_cpu_prepared_acquire(const yolact_model *m, const yl_cpu_prepared **prepared);

/* Give back what acquire gave (NULL is fine). */
void yl_cpu_prepared_release(const yolact_model *m, const yl_cpu_prepared *prepared);

/* Transform m's weights again after they changed in place (yl_model_refill; nothing runs
 * on m meanwhile). */
void yl_cpu_prepared_refresh(const yolact_model *m, const yl_cpu_prepared *prepared);

/* The choice of each op of m (num_ops bytes, the caller's meaning) for a thread count: the
 * one made before, or made now by time(ctx, choice) and kept until the model is freed.
 * Under the prepared weights' lock, so sessions created at once time one after another
 * (never on each other's cores) and the later ones take the first one's result. */
yolact_status yl_cpu_prepared_choice(const yl_cpu_prepared *p, const yolact_model *m,
                                     int threads,
                                     yolact_status (*time)(void *ctx, unsigned char *choice),
                                     void *ctx, const unsigned char **choice);

#endif
