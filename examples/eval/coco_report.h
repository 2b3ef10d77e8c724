/* What yolact-eval prints and writes: pycocotools' 12 summary lines, a per-category AP table
 * and the machine-readable JSON of both. */
#ifndef COCO_REPORT_H
#define COCO_REPORT_H

#include <stdio.h>

#include "coco_eval.h"

/* "Evaluate annotation type *bbox*" and the 12 lines exactly as COCOeval.summarize prints. */
void coco_print_summary(FILE *f, const coco_eval *e);

/* One line per category: id, name, AP .50:.95 (all areas, 100 detections). */
void coco_print_classes(FILE *f, const coco_dataset *gt, const coco_eval *e);

/* evals[0..n) with the image counts as JSON at path (stats with 17 significant digits, enough
 * to read back the same double). 0, or -1 with the reason in err. */
int coco_write_json(const char *path, const coco_dataset *gt, const coco_eval *evals, int n,
                    long images_evaluated, long images_missing, char *err, size_t err_size);

#endif
