/* A segmentation as a COCO file writes it (polygons, uncompressed runs, pycocotools' string)
 * into runs, as pycocotools' COCO.annToRLE does. */
#ifndef COCO_SEGM_H
#define COCO_SEGM_H

#include <jansson.h>

#include "coco_rle.h"

/* segm of an object on an h x w image (polygons need the image's size; runs carry their
 * own) into out. 0, or -1 with what is wrong in err (e.g. "polygon 2: coordinate 7 is not a
 * number"). */
int coco_segm_to_rle(const json_t *segm, uint32_t h, uint32_t w, coco_rle *out, char *err,
                     size_t err_size);

#endif
