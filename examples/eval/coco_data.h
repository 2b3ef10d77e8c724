/* A COCO data set and a results file as the evaluation reads them: images and categories
 * sorted by id, every object (annotation or detection) with the indices of its image and
 * category, and its mask as runs where masks are evaluated. */
#ifndef COCO_DATA_H
#define COCO_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "coco_rle.h"

typedef struct coco_image {
    int64_t id;
    uint32_t width, height;    /* 0 where the file gives none (only masks need them) */
    char *file_name;           /* NULL where the file gives none */
} coco_image;

typedef struct coco_category {
    int64_t id;
    char *name;                /* "" where the file gives none */
} coco_category;

typedef struct coco_object {
    int64_t id;                /* annotations: the file's; detections: position + 1 */
    size_t image, category;    /* indices into the data set's images and categories */
    double score;              /* detections */
    double mask_score;         /* detections: the score their mask is ranked by: mask_score
                                  where the file gives one (YOLACT++), else score */
    double area;               /* what the area ranges test, as pycocotools takes it */
    double box[4];             /* x, y, width, height */
    int crowd;
    coco_rle mask;             /* m == 0 unless masks are evaluated */
    double mask_box[4];        /* the mask's box (rleToBbox), for the IoU's early out */
} coco_object;

typedef struct coco_objects {
    coco_object *items;
    size_t count;
} coco_objects;

typedef struct coco_dataset {
    coco_image *images;
    size_t num_images;
    coco_category *categories;
    size_t num_categories;
    coco_objects annotations;  /* only those of listed images and categories, file order */
} coco_dataset;

/* What the loaders must read: the boxes, the masks, or both. */
enum { COCO_WANT_BOXES = 1, COCO_WANT_MASKS = 2 };

/* The index of the image or category with this id, or -1. */
long coco_image_index(const coco_dataset *d, int64_t id);
long coco_category_index(const coco_dataset *d, int64_t id);

/* Drop the annotations of the images whose keep[image] is 0: the evaluation then covers the
 * kept images only (pycocotools' params.imgIds). */
void coco_keep_images(coco_dataset *d, const unsigned char *keep);

void coco_objects_free(coco_objects *o);
void coco_dataset_free(coco_dataset *d);

#endif
