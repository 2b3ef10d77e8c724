/* A COCO instance-segmentation data set as the official data/coco.py (COCODetection) serves it
 * to train.py: only the images that have annotations; each sample's objects in the file's
 * order with the crowds moved last and labelled -1; class k is the k-th category by id (the
 * official label maps, COCO's and a custom set's 1..N, both come to that); boxes in absolute
 * pixels. Masks are read once, as runs, when the set is opened; a sample's are decoded when
 * it is taken. */
#ifndef TRAIN_DATASET_H
#define TRAIN_DATASET_H

#include <stddef.h>

#include "augment.h"
#include "coco_data.h"

typedef struct train_dataset {
    coco_dataset coco;
    char *image_dir;
    size_t num_samples;      /* images with at least one annotation */
    size_t *sample_image;    /* num_samples indices into coco.images */
    size_t *objects;         /* annotation indices, sample by sample, crowds last in each */
    size_t *first_object;    /* num_samples + 1 offsets into objects */
} train_dataset;

/* The annotations file and the folder its file_names are in. 0, or -1 with the reason in err
 * (a file that cannot be read, bad JSON or fields, no category, no annotated image). */
int train_dataset_open(const char *annotations, const char *image_dir, train_dataset *d,
                       char *err, size_t err_size);

/* Sample i (0 <= i < num_samples): its image as float BGR on the 0..255 scale, as cv2.imread
 * and ConvertFromInts give it, its masks, boxes, labels and crowds. s is initialised here
 * (free it with augment_sample_free). 0, or -1 with the reason in err (the image cannot be
 * read, or its size is not the one the annotations give, or out of memory). */
int train_dataset_sample(const train_dataset *d, size_t i, augment_sample *s, char *err,
                         size_t err_size);

void train_dataset_close(train_dataset *d);

#endif
