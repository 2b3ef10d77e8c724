/* A batch of augmented samples as the trainer takes it: each image float BGR
 * (YOLACT_PIXEL_BGR32F) at S x S, each object's relative box, class, crowd flag and S x S
 * mask, all borrowed from the samples. */
#ifndef TRAIN_BATCH_H
#define TRAIN_BATCH_H

#include "augment.h"
#include "yolact.h"

typedef struct train_batch {
    int size;                   /* samples */
    augment_sample *samples;    /* owned */
    yolact_image *images;
    yolact_ground_truth *gt;
    yolact_gt_object **objects; /* per sample */
} train_batch;

/* Room for size samples. 0, or -1 when out of memory. */
int train_batch_init(train_batch *b, int size);

/* Describe samples[0 .. size) (filled by the caller) to the trainer. 0, or -1 when out of
 * memory. */
int train_batch_describe(train_batch *b);

/* Free the samples (the batch can be filled again). */
void train_batch_clear(train_batch *b);

void train_batch_free(train_batch *b);

#endif
