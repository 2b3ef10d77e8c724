/* The validation pass of a training run: a checkpoint the run saved, loaded as a model,
 * through yolact-eval's detection mode (dataset_run) over the validation images, then
 * COCO's box and mask AP (coco_evaluate), all in this process. */
#ifndef TRAIN_VALIDATE_H
#define TRAIN_VALIDATE_H

#include <stddef.h>

#include "coco_data.h"

typedef struct train_validation {
    coco_dataset gt;          /* the validation annotations, masks read */
    const char *images_dir;   /* borrowed */
    long max_images;          /* the first this many images by id; <= 0: all */
    int threads;              /* CPU threads of the session; 0: all cores */
} train_validation;

/* The annotations at path (boxes and masks). 0, or -1 with the reason in err. */
int train_validation_open(train_validation *v, const char *annotations, const char *images_dir,
                          long max_images, int threads, char *err, size_t err_size);

/* AP@[.5:.95] of the checkpoint at weights (preset NULL: from its name or shapes), boxes
 * into ap[0], masks into ap[1]. 0, or -1 with the reason in err (a missing image is one). */
int train_validate(train_validation *v, const char *weights, const char *preset, double ap[2],
                   char *err, size_t err_size);

void train_validation_close(train_validation *v);

#endif
