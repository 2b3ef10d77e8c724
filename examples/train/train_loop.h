/* yolact-train's run over a COCO data set: the training set's samples (sample_loader, the
 * official augmentation) in batches through the trainer under the official schedule, a
 * progress line every log_every iterations, a checkpoint (weights with the classes' names
 * and ids, the training state to resume from) every save_every and at the end, a validation
 * pass (box and mask AP) every val_every, the log and the curves PNG. */
#ifndef TRAIN_LOOP_H
#define TRAIN_LOOP_H

#include <stdint.h>

#include "yolact.h"

/* The exit statuses of a run. */
enum { TRAIN_OK = 0, TRAIN_FAILED = 1, TRAIN_BAD_DATA = 3 };

typedef struct train_config {
    const char *images, *annotations;      /* the training set */
    const char *weights;                   /* start from this checkpoint, or NULL: */
    const char *preset;                    /* a fresh network of this preset (or -m's) */
    const char *resume;                    /* a state file of an earlier run, or NULL */
    const char *out;                       /* the run's folder (exists) */
    const char *val_images, *val_annotations; /* the validation set, or NULL */
    long val_max_images;                   /* <= 0: all */
    int batch, iterations, workers, augment, save_pth;
    int log_every, save_every, val_every;  /* 0: only at the end */
    /* Non-zero: each checkpoint removes the folder's latest before it (train.py's
     * --keep_latest), except one whose iteration is a multiple of keep_latest_interval
     * (> 0; train.py's --keep_latest_interval). */
    int keep_latest;
    long keep_latest_interval;
    yolact_trainer_options trainer;        /* the schedule, threads, seed, network size */
} train_config;

/* The run; its exit status (TRAIN_*), after saying on stderr what failed. */
int train_run(const train_config *c);

#endif
