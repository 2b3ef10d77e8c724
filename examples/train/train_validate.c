/* A training run's validation pass (train_validate.h). */
#include "train_validate.h"

#include <stdio.h>
#include <stdlib.h>

#include "coco_eval.h"
#include "coco_load.h"
#include "dataset_run.h"
#include "yolact.h"

int train_validation_open(train_validation *v, const char *annotations, const char *images_dir,
                          long max_images, int threads, char *err, size_t err_size)
{
    *v = (train_validation){.images_dir = images_dir, .max_images = max_images,
                            .threads = threads};
    return coco_load_annotations(annotations, COCO_WANT_BOXES | COCO_WANT_MASKS, &v->gt, err,
                                 err_size);
}

/* The model's detections on the validation images as a results file, rewound; NULL with
 * the reason in err. run->ran says which images ran. */
static FILE *detect(train_validation *v, const char *weights, const char *preset,
                    dataset_run *run, char *err, size_t err_size)
{
    yolact_model_options mo;
    yolact_model_options_init(&mo);
    mo.preset = preset;
    yolact_model *model = NULL;
    yolact_session *session = NULL;
    yolact_status s = yolact_model_load(weights, &mo, &model);
    yolact_session_options so;
    yolact_session_options_init(&so);
    so.backend = YOLACT_BACKEND_CPU;
    so.num_threads = v->threads;
    so.want_rle = 1;
    if (s == YOLACT_OK)
        s = yolact_session_create(model, &so, &session);
    FILE *f = s == YOLACT_OK ? tmpfile() : NULL;
    if (s != YOLACT_OK)
        snprintf(err, err_size, "%s: %s", weights, yolact_last_error());
    else if (!f)
        snprintf(err, err_size, "cannot make a temporary file for the detections");
    else if (dataset_run_detect(run, session, &v->gt, f) != 0 || fflush(f) != 0) {
        snprintf(err, err_size, "the validation images could not be run (said above)");
        fclose(f);
        f = NULL;
    }
    yolact_session_free(session);
    yolact_model_free(model);
    if (f)
        rewind(f);
    return f;
}

int train_validate(train_validation *v, const char *weights, const char *preset, double ap[2],
                   char *err, size_t err_size)
{
    dataset_run run = {.images_dir = v->images_dir, .max_images = v->max_images, .batch = 1,
                       .require_images = 1};
    if (!(run.ran = calloc(v->gt.num_images + 1, 1))) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    FILE *f = detect(v, weights, preset, &run, err, err_size);
    coco_objects dt = {0};
    int status = f ? coco_load_results(f, "the validation detections", &v->gt,
                                       COCO_WANT_BOXES | COCO_WANT_MASKS, &dt, err, err_size)
                   : -1;
    if (f)
        fclose(f);
    if (status == 0)
        coco_keep_images(&v->gt, run.ran);
    for (int type = 0; status == 0 && type < 2; type++) {
        coco_eval e = {0};
        if (coco_evaluate(&v->gt, &dt, (coco_iou_type)type, 0, &e) != 0) {
            snprintf(err, err_size, "out of memory in the evaluation");
            status = -1;
        } else {
            ap[type] = e.stats[0];
        }
        coco_eval_free(&e);
    }
    coco_objects_free(&dt);
    free(run.ran);
    return status;
}

void train_validation_close(train_validation *v)
{
    coco_dataset_free(&v->gt);
}
