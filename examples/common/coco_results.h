/* COCO results JSON as eval.py writes it (--output_coco_json), shared by yolact-detect and
 * yolact-eval: one entry per detection with its box, score and mask as compressed RLE. */
#ifndef COCO_RESULTS_H
#define COCO_RESULTS_H

#include <stdio.h>

#include "yolact.h"

/* s as a JSON string, with the escapes JSON requires. */
void cli_json_string(FILE *f, const char *s);

/* One image's detections as entries of the results list, image_id written as the JSON text
 * image_id (a number, or a quoted string). Detections whose truncated box has no area are
 * left out, as eval.py does. With mask re-scoring (YOLACT++) each also carries mask_score,
 * the score eval.py gives its mask result (score stays the box result's). first: no entry
 * has been written to the list yet. Returns the number written. */
int cli_write_coco_detections(FILE *f, const char *image_id, const yolact_result *r,
                              int rescored, int first);

#endif
