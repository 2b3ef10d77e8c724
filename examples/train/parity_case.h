/* A training parity case in the layout of the parity-train set: gt.json (per image name, its
 * objects: label, box relative to the image, crowd flag, mask as COCO RLE) and the images
 * beside each other in one folder as <name>.png or .jpg, read into what yolact_trainer_step
 * takes. */
#ifndef PARITY_CASE_H
#define PARITY_CASE_H

#include "yolact.h"

typedef struct parity_case {
    int count;                     /* images, in gt.json's order */
    char **names;
    yolact_image *images;
    yolact_ground_truth *gt;
    yolact_gt_object **objects;    /* per image */
    uint8_t **masks;               /* per image: its objects' masks, one block */
} parity_case;

/* Read gt_path and each image it names from images_dir. 0, or -1 after saying why on
 * stderr as "program: ..."; *c is then empty. */
int parity_case_read(parity_case *c, const char *program, const char *gt_path,
                     const char *images_dir);
void parity_case_free(parity_case *c);

#endif
