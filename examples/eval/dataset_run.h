/* yolact-eval's detection mode: every image a data set lists, through a session (in batches
 * of the session's size), into a COCO results file. */
#ifndef DATASET_RUN_H
#define DATASET_RUN_H

#include <stdio.h>

#include "coco_data.h"
#include "yolact.h"

typedef struct dataset_run {
    const char *images_dir;   /* the images are images_dir/file_name */
    long max_images;          /* the first this many in id order; <= 0: all */
    int batch;                /* images per detect_batch call */
    int rescored;             /* the model re-scores masks (YOLACT++): write mask_score */
    int require_images;       /* a missing or unreadable image stops the run */
    /* Out: which images were run (by index), how many were and how many could not be read. */
    unsigned char *ran;
    long images_run, images_missing;
} dataset_run;

/* Run the images of gt through session, writing the results list to out. Each unreadable
 * image is named on stderr and counted. 0, or 1 after saying on stderr what failed. */
int dataset_run_detect(dataset_run *run, yolact_session *session, const coco_dataset *gt,
                       FILE *out);

#endif
