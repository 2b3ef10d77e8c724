/* COCO box or mask evaluation of a results file against a data set, with pycocotools'
 * numbers: COCOeval's evaluate, accumulate and summarize. */
#ifndef COCO_EVAL_H
#define COCO_EVAL_H

#include "coco_data.h"
#include "coco_params.h"

typedef enum { COCO_IOU_BBOX, COCO_IOU_SEGM } coco_iou_type;

typedef struct coco_eval {
    coco_iou_type type;
    size_t num_categories;
    double *precision;   /* [T][R][K][A][M], -1 where a category has no ground truth */
    double *recall;      /* [T][K][A][M] */
    double stats[12];    /* summarize()'s stats, in its order */
    double *class_ap;    /* [K]: AP .50:.95, all areas, 100 detections; -1 where undefined */
} coco_eval;

/* Evaluate dt against gt (masks must have been loaded for COCO_IOU_SEGM). Categories are
 * evaluated in parallel on OpenMP's threads, or one after another when threads is 1 (no
 * OpenMP team: safe in a process forked from one that used OpenMP, where a team would wait
 * forever, as in the Check suites). 0, or -1 when out of memory. */
int coco_evaluate(const coco_dataset *gt, const coco_objects *dt, coco_iou_type type,
                  int threads, coco_eval *out);

/* The precision element (t, r, k, a, m) and the recall element (t, k, a, m). */
size_t coco_precision_at(const coco_eval *e, int t, int r, size_t k, int a, int m);
size_t coco_recall_at(const coco_eval *e, int t, size_t k, int a, int m);

void coco_eval_free(coco_eval *e);

#endif
