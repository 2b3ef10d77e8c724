/* pycocotools' COCOeval.accumulate for one category: the matched detections of all images
 * ranked by score into precision at 101 recall points and the recall reached. */
#ifndef COCO_ACCUMULATE_H
#define COCO_ACCUMULATE_H

#include <stddef.h>
#include <stdint.h>

#include "coco_eval.h"
#include "coco_match.h"

/* A detection's score and its position in the list being ranked. */
typedef struct coco_ranked {
    double score;
    size_t index;
} coco_ranked;

/* Sort by descending score, ties in input order (index ascending): NumPy's
 * argsort(-scores, kind='mergesort'), which pycocotools uses for every ranking. */
void coco_sort_by_score(coco_ranked *r, size_t n);

/* One category's matchings: the images that have a ground truth or a detection of it, in
 * image id order; image i's detections (best first, at most 100) are
 * [first[i], first[i + 1]) with their scores, and flags[a][d * COCO_T + t] their outcome in
 * area range a (coco_match_image); not_ignored[a]: ground truths in range a. */
typedef struct coco_category_matches {
    size_t num_images;
    const size_t *first;
    const double *scores;
    const uint8_t *flags[COCO_A];
    size_t not_ignored[COCO_A];
} coco_category_matches;

/* Fill category k's precision and recall in e. 0, or -1 when out of memory. */
int coco_accumulate_category(const coco_category_matches *c, size_t k, coco_eval *e);

#endif
