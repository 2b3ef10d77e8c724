/* pycocotools' COCOeval.summarize: the 12 summary numbers, and each category's AP, from the
 * accumulated precision and recall. */
#ifndef COCO_SUMMARY_H
#define COCO_SUMMARY_H

#include "coco_eval.h"

/* One summary line: AP (ap = 1) or AR, at one IoU threshold (iou > 0) or over all, in an
 * area range, with a detection limit. */
typedef struct coco_stat {
    int ap;
    double iou;          /* 0: .50:.95 */
    int area;            /* coco_area_range's index */
    int max_dets_index;  /* coco_max_detections' index */
} coco_stat;

/* The 12 lines in summarize's order. */
extern const coco_stat coco_stats[12];

/* Fill e->stats and e->class_ap. 0, or -1 when out of memory. */
int coco_summarize(coco_eval *e);

#endif
