/* pycocotools' COCOeval.evaluateImg: one image, one category, one area range: the greedy
 * matching of detections (best score first) to ground truths at each IoU threshold. */
#ifndef COCO_MATCH_H
#define COCO_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "coco_data.h"
#include "coco_params.h"

/* A detection's outcome at one threshold. */
enum {
    COCO_MATCHED = 1,   /* matched a ground truth whose id is not 0 (pycocotools' dtMatches) */
    COCO_IGNORED = 2    /* matched an ignored ground truth, or unmatched outside the range */
};

/* Per threshold scratch the matching needs for at most g ground truths. */
typedef struct coco_match_scratch {
    size_t *order;      /* ground truths, those in range first */
    uint8_t *ignore;    /* per ground truth, file order */
    uint8_t *taken;     /* [COCO_T][g] */
    size_t capacity;
} coco_match_scratch;

int coco_match_scratch_reserve(coco_match_scratch *s, size_t g);
void coco_match_scratch_free(coco_match_scratch *s);

/* Match dts[0..nd) (sorted by score, best first) to gts[0..ng) (file order) given
 * ious[d * ng + g], for the area range [lo, hi]: flags[d * COCO_T + t] gets COCO_MATCHED and
 * COCO_IGNORED bits. Returns the number of ground truths not ignored. */
size_t coco_match_image(const coco_object *const *gts, size_t ng, const coco_object *const *dts,
                        size_t nd, const double *ious, double lo, double hi,
                        coco_match_scratch *s, uint8_t *flags);

#endif
