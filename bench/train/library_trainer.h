/* yolact-train-bench's --backend cuda: the library's own trainer timed through the public
 * API (yolact_trainer_step), for a backend whose internals the bench does not drive phase by
 * phase as it drives the CPU's. */
#ifndef YL_BENCH_LIBRARY_TRAINER_H
#define YL_BENCH_LIBRARY_TRAINER_H

#include "yolact.h"

/* What to time: the checkpoint (NULL: a fresh network of preset, as
 * yolact_trainer_create_fresh makes it, with num_classes classes), the backend, its
 * precision (yolact_trainer_options.precision) and CPU threads, the batch, and warmup
 * untimed iterations before iters timed ones. */
typedef struct library_trainer_run {
    const char *weights, *preset;
    int num_classes;
    yolact_backend backend;
    yolact_precision precision;
    int threads, batch, warmup, iters;
} library_trainer_run;

/* Each iteration: yolact_trainer_evaluate (the forward and the loss, no gradients) into
 * forward_loss[i], then yolact_trainer_step (forward, loss, backward and the SGD update: the
 * whole step, lr 1e-4, momentum 0.9, weight decay 5e-4 as the CPU bench's) into total[i],
 * seconds, i < iters; the last step's losses into *last. The trainer's status and message
 * when it cannot run (no GPU, a checkpoint without semantic_seg_conv, ...). */
yolact_status library_trainer_time(const library_trainer_run *run, const yolact_image *images,
                                   const yolact_ground_truth *truth, double *forward_loss,
                                   double *total, yolact_losses *last);

#endif
