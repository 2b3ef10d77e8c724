/* yolact-train's run over a COCO data set (train_loop.h). */
#include "train_loop.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/cli_error.h"
#include "checkpoint_files.h"
#include "sample_loader.h"
#include "train_batch.h"
#include "train_dataset.h"
#include "train_history.h"
#include "train_validate.h"

#define PROGRAM "yolact-train"

typedef struct run {
    const train_config *c;
    train_dataset data;
    yolact_trainer *trainer;
    sample_loader *loader;
    train_batch batch;
    train_history history;
    train_validation val;
    int have_val;
    char weights_path[4096];       /* the last checkpoint's weights */
    long weights_iteration;        /* its iteration; -1: none yet */
    double sums[TRAIN_NUM_LOSSES]; /* the losses since the last progress line */
    int summed;
    double seconds;                /* the steps' time since the last progress line */
    char err[1024];
} run;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char *out_path(const run *r, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", r->c->out, name);
    return buf;
}

/* The trainer: a checkpoint trained for the data set's classes, or a fresh network; the
 * classes' names and ids set; a state resumed. */
static int make_trainer(run *r)
{
    const train_config *c = r->c;
    const coco_dataset *coco = &r->data.coco;
    yolact_trainer_options o = c->trainer;
    o.preset = c->preset;
    o.num_classes = (int)coco->num_categories + 1;
    yolact_status s = c->weights
                          ? yolact_trainer_create(c->weights, &o, &r->trainer)
                          : yolact_trainer_create_fresh(c->preset, o.num_classes, &o,
                                                        &r->trainer);
    if (s != YOLACT_OK)
        return cli_error(PROGRAM, c->weights ? c->weights : c->preset, s);
    if (yolact_trainer_notes(r->trainer)[0])
        fprintf(stderr, PROGRAM ": %s: %s\n", c->weights, yolact_trainer_notes(r->trainer));
    const int n = (int)coco->num_categories;
    const char **names = calloc((size_t)n, sizeof *names);
    int *ids = calloc((size_t)n, sizeof *ids);
    char (*unnamed)[24] = calloc((size_t)n, sizeof *unnamed);
    if (!names || !ids || !unnamed) {
        s = YOLACT_ERR_OUT_OF_MEMORY;
    } else {
        for (int k = 0; k < n; k++) {
            /* A category without a name is called by its id: a name is one non-empty line. */
            snprintf(unnamed[k], sizeof unnamed[k], "category %lld",
                     (long long)coco->categories[k].id);
            const char *name = coco->categories[k].name;
            names[k] = name[0] && !strpbrk(name, "\r\n") ? name : unnamed[k];
            ids[k] = coco->categories[k].id <= 0x7fffffff ? (int)coco->categories[k].id : 0;
        }
        s = yolact_trainer_set_classes(r->trainer, n, names, ids);
    }
    free(names);
    free(ids);
    free(unnamed);
    if (s != YOLACT_OK)
        return cli_error(PROGRAM, c->annotations, s);
    if (c->resume && (s = yolact_trainer_load_state(r->trainer, c->resume)) != YOLACT_OK)
        return cli_error(PROGRAM, c->resume, s);
    return 0;
}

/* Weights (.safetensors, and .pth when asked) named as the official train.py names them,
 * <preset>_<epoch>_<iteration>, so that loaders take the preset from the name; and the
 * state to resume from. With keep_latest, the folder's latest checkpoint before this one
 * (of this run or of the one it resumes) goes once this one is written. */
static int save_checkpoint(run *r, long iteration)
{
    const train_config *c = r->c;
    const char *preset = yolact_trainer_preset(r->trainer);
    long epoch = (long)((uint64_t)iteration * (uint64_t)c->batch / r->data.num_samples);
    char name[512], path[4096], old[512];
    long old_iteration = -1;
    if (c->keep_latest) {
        int found = checkpoint_latest(c->out, preset, iteration, old, sizeof old,
                                      &old_iteration, r->err, sizeof r->err);
        if (found < 0) {
            fprintf(stderr, PROGRAM ": %s\n", r->err);
            return TRAIN_FAILED;
        }
        if (found > 0 || (c->keep_latest_interval > 0 &&
                          old_iteration % c->keep_latest_interval == 0))
            old_iteration = -1;
    }
    snprintf(name, sizeof name, "%s_%ld_%ld.safetensors", preset, epoch, iteration);
    out_path(r, name, r->weights_path, sizeof r->weights_path);
    yolact_status s = yolact_trainer_save_weights(r->trainer, r->weights_path);
    if (s == YOLACT_OK && r->c->save_pth) {
        snprintf(name, sizeof name, "%s_%ld_%ld.pth", preset, epoch, iteration);
        s = yolact_trainer_save_weights(r->trainer, out_path(r, name, path, sizeof path));
    }
    if (s == YOLACT_OK)
        s = yolact_trainer_save_state(r->trainer, out_path(r, "state.safetensors", path,
                                                             sizeof path));
    if (s != YOLACT_OK)
        return cli_error(PROGRAM, "saving a checkpoint", s);
    r->weights_iteration = iteration;
    printf("checkpoint %s (state: %s)\n", r->weights_path, path);
    if (old_iteration >= 0) {
        if (checkpoint_remove(c->out, old, r->err, sizeof r->err) != 0) {
            fprintf(stderr, PROGRAM ": --keep-latest: %s\n", r->err);
            return TRAIN_FAILED;
        }
        printf("removed the checkpoint before it, %s (--keep-latest)\n", old);
    }
    return 0;
}

static int draw_curves(run *r)
{
    char path[4096];
    if (train_history_draw(&r->history, out_path(r, "curves.png", path, sizeof path), r->err,
                           sizeof r->err) != 0) {
        fprintf(stderr, PROGRAM ": %s\n", r->err);
        return 1;
    }
    return 0;
}

/* The validation set's AP under the checkpoint of this iteration (saved first if need be). */
static int validate(run *r, long iteration)
{
    if (r->weights_iteration != iteration && save_checkpoint(r, iteration) != 0)
        return 1;
    double ap[2];
    double t0 = now();
    if (train_validate(&r->val, r->weights_path, yolact_trainer_preset(r->trainer), ap,
                       r->err, sizeof r->err) != 0) {
        fprintf(stderr, PROGRAM ": validation: %s\n", r->err);
        return 1;
    }
    printf("validation at %ld: box AP %.4f, mask AP %.4f (%.1f s)\n", iteration, ap[0], ap[1],
           now() - t0);
    if (train_history_add_ap(&r->history, iteration, ap[0], ap[1], r->err, sizeof r->err)) {
        fprintf(stderr, PROGRAM ": %s\n", r->err);
        return 1;
    }
    return draw_curves(r);
}

/* "1:02:03" */
static const char *clock_text(double seconds, char *buf, size_t size)
{
    long s = seconds > 0 ? (long)(seconds + 0.5) : 0;
    snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    return buf;
}

/* The progress line of the iterations since the last: their mean losses. */
static int progress(run *r, long iteration)
{
    double mean[TRAIN_NUM_LOSSES];
    for (int k = 0; k < TRAIN_NUM_LOSSES; k++)
        mean[k] = r->sums[k] / r->summed;
    const double per_iteration = r->seconds / r->summed;
    char eta[32], scale[40] = "";
    if (yolact_trainer_loss_scale(r->trainer) > 0) /* FP16 */
        snprintf(scale, sizeof scale, "  scale %g", yolact_trainer_loss_scale(r->trainer));
    printf("[%6ld/%d] lr %.3g  B %.4f C %.4f M %.4f S %.4f total %.4f  %.2f s/iter  "
           "%.1f img/s  ETA %s%s\n", iteration, r->c->iterations,
           yolact_trainer_lr(r->trainer), mean[0], mean[1], mean[2], mean[3], mean[4],
           per_iteration, r->c->batch / per_iteration,
           clock_text(per_iteration * (r->c->iterations - iteration), eta, sizeof eta), scale);
    fflush(stdout);
    memset(r->sums, 0, sizeof r->sums);
    r->summed = 0;
    r->seconds = 0;
    if (train_history_add_losses(&r->history, iteration, yolact_trainer_lr(r->trainer), mean,
                                 r->err, sizeof r->err) != 0) {
        fprintf(stderr, PROGRAM ": %s\n", r->err);
        return 1;
    }
    return 0;
}

/* One iteration: a batch from the loader, one step. */
static int iterate(run *r)
{
    const double t0 = now();
    train_batch_clear(&r->batch);
    for (int i = 0; i < r->c->batch; i++)
        if (sample_loader_next(r->loader, &r->batch.samples[i], r->err, sizeof r->err) != 0) {
            fprintf(stderr, PROGRAM ": %s\n", r->err);
            return TRAIN_BAD_DATA;
        }
    if (train_batch_describe(&r->batch) != 0)
        return cli_error(PROGRAM, NULL, YOLACT_ERR_OUT_OF_MEMORY);
    yolact_losses l;
    yolact_status s = yolact_trainer_step(r->trainer, r->batch.images, r->batch.gt,
                                          r->c->batch, &l);
    if (s != YOLACT_OK)
        return cli_error(PROGRAM, "the training step", s);
    if (!l.step_taken && isfinite(l.total)) /* FP16: GradScaler's skipped step */
        fprintf(stderr, PROGRAM ": iteration %lld: a gradient overflowed half precision; the "
                "step was skipped and the loss scale halved to %g\n",
                (long long)yolact_trainer_iteration(r->trainer),
                yolact_trainer_loss_scale(r->trainer));
    else if (!l.step_taken)
        fprintf(stderr, PROGRAM ": iteration %lld: the loss is not finite; as train.py does, "
                "the step was skipped\n", (long long)yolact_trainer_iteration(r->trainer));
    const double v[TRAIN_NUM_LOSSES] = {l.B, l.C, l.M, l.S, l.total};
    for (int k = 0; k < TRAIN_NUM_LOSSES; k++)
        r->sums[k] += v[k];
    r->summed++;
    r->seconds += now() - t0;
    return 0;
}

static int every(int n, long iteration)
{
    return n > 0 && iteration % n == 0;
}

static int train(run *r)
{
    const train_config *c = r->c;
    long iteration = (long)yolact_trainer_iteration(r->trainer);
    if (iteration >= c->iterations) {
        fprintf(stderr, PROGRAM ": the state is at iteration %ld, not before --iterations %d\n",
                iteration, c->iterations);
        return TRAIN_FAILED;
    }
    sample_loader_options lo = {.workers = c->workers, .ahead = 2 * c->batch + c->workers,
                                .size = yolact_trainer_input_size(r->trainer),
                                .augment = c->augment, .seed = c->trainer.seed,
                                .start = (uint64_t)iteration * (uint64_t)c->batch};
    if (sample_loader_start(&r->data, &lo, &r->loader, r->err, sizeof r->err) != 0) {
        fprintf(stderr, PROGRAM ": %s\n", r->err);
        return TRAIN_FAILED;
    }
    printf("training %s from %s on %zu images, %zu classes: iterations %ld..%d, batch %d\n",
           yolact_trainer_preset(r->trainer), c->weights ? c->weights : "fresh weights",
           r->data.num_samples, r->data.coco.num_categories, iteration, c->iterations,
           c->batch);
    int status = 0;
    while (status == 0 && iteration < c->iterations) {
        status = iterate(r);
        iteration++;
        const int last = iteration == c->iterations;
        if (status == 0 && (every(c->log_every, iteration) || last))
            status = progress(r, iteration);
        if (status == 0 && (every(c->save_every, iteration) || last))
            status = save_checkpoint(r, iteration);
        if (status == 0 && r->have_val && (every(c->val_every, iteration) || last))
            status = validate(r, iteration);
    }
    if (status == 0)
        status = draw_curves(r);
    return status;
}

int train_run(const train_config *c)
{
    run r = {.c = c, .weights_iteration = -1};
    char path[4096];
    if (train_dataset_open(c->annotations, c->images, &r.data, r.err, sizeof r.err) != 0) {
        fprintf(stderr, PROGRAM ": %s\n", r.err);
        return TRAIN_BAD_DATA;
    }
    int status = make_trainer(&r);
    if (status == 0 && c->val_annotations) {
        if (train_validation_open(&r.val, c->val_annotations, c->val_images, c->val_max_images,
                                  c->trainer.num_threads, r.err, sizeof r.err) != 0) {
            fprintf(stderr, PROGRAM ": %s\n", r.err);
            status = TRAIN_BAD_DATA;
        }
        r.have_val = status == 0;
    }
    if (status == 0 && train_batch_init(&r.batch, c->batch) != 0)
        status = cli_error(PROGRAM, NULL, YOLACT_ERR_OUT_OF_MEMORY);
    if (status == 0 &&
        train_history_open(&r.history, out_path(&r, "train_log.tsv", path, sizeof path),
                           (long)yolact_trainer_iteration(r.trainer), r.err, sizeof r.err)) {
        fprintf(stderr, PROGRAM ": %s\n", r.err);
        status = TRAIN_FAILED;
    }
    if (status == 0)
        status = train(&r);
    sample_loader_stop(r.loader);
    train_history_close(&r.history);
    train_batch_free(&r.batch);
    if (r.have_val)
        train_validation_close(&r.val);
    yolact_trainer_destroy(r.trainer);
    train_dataset_close(&r.data);
    return status;
}
