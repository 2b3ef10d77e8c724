/* Reading a COCO annotation file and a COCO results file (jansson) into the evaluation's
 * tables, with pycocotools' rules for what each field means (COCO.loadRes's for results). */
#ifndef COCO_LOAD_H
#define COCO_LOAD_H

#include <stdio.h>

#include "coco_data.h"

/* The most categories a data set may have: the evaluation holds 97 KB of precision per
 * category (LVIS has 1,203, COCO 80). */
#define COCO_MAX_CATEGORIES 5000

/* The annotation file at path; want: COCO_WANT_BOXES and/or COCO_WANT_MASKS (what must be
 * read; the rest is not looked at). 0, or -1 with "path:line:column: ..." or
 * "path: annotations[12].bbox: ..." in err. */
int coco_load_annotations(const char *path, int want, coco_dataset *out, char *err,
                          size_t err_size);

/* The same from size bytes at data, named name in messages. */
int coco_parse_annotations(const char *data, size_t size, const char *name, int want,
                           coco_dataset *out, char *err, size_t err_size);

/* A results file (a list of detections) for the data set gt, read from f and named path in
 * messages. Detections of categories gt does not list are dropped, as pycocotools does; an
 * image it does not list is an error. The first detection decides, as in COCO.loadRes,
 * whether each takes its area from its box (it has a box) or from its mask. */
int coco_load_results(FILE *f, const char *path, const coco_dataset *gt, int want,
                      coco_objects *out, char *err, size_t err_size);

#endif
