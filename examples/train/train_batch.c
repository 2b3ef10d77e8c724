/* Augmented samples to the trainer's images and ground truth (train_batch.h). */
#include "train_batch.h"

#include <stdlib.h>

int train_batch_init(train_batch *b, int size)
{
    *b = (train_batch){.size = size};
    b->samples = calloc((size_t)size, sizeof *b->samples);
    b->images = calloc((size_t)size, sizeof *b->images);
    b->gt = calloc((size_t)size, sizeof *b->gt);
    b->objects = calloc((size_t)size, sizeof *b->objects);
    if (!b->samples || !b->images || !b->gt || !b->objects) {
        train_batch_free(b);
        return -1;
    }
    return 0;
}

int train_batch_describe(train_batch *b)
{
    for (int i = 0; i < b->size; i++) {
        const augment_sample *s = &b->samples[i];
        free(b->objects[i]);
        b->objects[i] = malloc(((size_t)s->count + 1) * sizeof *b->objects[i]);
        if (!b->objects[i])
            return -1;
        const size_t plane = (size_t)s->width * s->height;
        for (int k = 0; k < s->count; k++) {
            const double *box = s->boxes[k];
            int crowd = s->labels[k] < 0;
            b->objects[i][k] = (yolact_gt_object){(float)box[0], (float)box[1], (float)box[2],
                                                  (float)box[3], crowd ? 0 : s->labels[k],
                                                  crowd, s->masks + plane * (size_t)k};
        }
        b->images[i] = (yolact_image){(const uint8_t *)s->image, s->width, s->height,
                                      (size_t)s->width * 3 * sizeof(float),
                                      YOLACT_PIXEL_BGR32F, YOLACT_MEMORY_HOST};
        b->gt[i] = (yolact_ground_truth){s->count, b->objects[i], s->width, s->height};
    }
    return 0;
}

void train_batch_clear(train_batch *b)
{
    for (int i = 0; b->samples && i < b->size; i++) {
        augment_sample_free(&b->samples[i]);
        b->samples[i] = (augment_sample){0};
    }
}

void train_batch_free(train_batch *b)
{
    train_batch_clear(b);
    for (int i = 0; b->objects && i < b->size; i++)
        free(b->objects[i]);
    free(b->samples);
    free(b->images);
    free(b->gt);
    free(b->objects);
    *b = (train_batch){0};
}
