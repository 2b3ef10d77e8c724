/* The library's trainer timed through the public API (library_trainer.h). */
#include "library_trainer.h"

#include "../support/bench_cli.h"

/* The CPU bench's SGD (yolact-train-bench.c): a constant 1e-4, no warm-up, no steps. */
static void options_for(const library_trainer_run *run, yolact_trainer_options *o)
{
    yolact_trainer_options_init(o);
    o->preset = run->preset;
    o->num_threads = run->threads;
    o->backend = run->backend;
    o->precision = run->precision;
    o->lr = 1e-4;
    o->lr_warmup_until = 0;
    o->num_lr_steps = 0;
    o->momentum = 0.9;
    o->weight_decay = 5e-4;
}

static yolact_status time_steps(yolact_trainer *t, const library_trainer_run *run,
                                const yolact_image *images, const yolact_ground_truth *truth,
                                double *forward_loss, double *total, yolact_losses *last)
{
    for (int i = -run->warmup; i < run->iters; i++) {
        yolact_losses evaluated;
        const double t0 = bench_now();
        yolact_status s = yolact_trainer_evaluate(t, images, truth, run->batch, &evaluated);
        const double t1 = bench_now();
        if (s == YOLACT_OK)
            s = yolact_trainer_step(t, images, truth, run->batch, last);
        const double t2 = bench_now();
        if (s != YOLACT_OK)
            return s;
        if (i >= 0) {
            forward_loss[i] = t1 - t0;
            total[i] = t2 - t1;
        }
    }
    return YOLACT_OK;
}

yolact_status library_trainer_time(const library_trainer_run *run, const yolact_image *images,
                                   const yolact_ground_truth *truth, double *forward_loss,
                                   double *total, yolact_losses *last)
{
    yolact_trainer_options o;
    options_for(run, &o);
    yolact_trainer *t = NULL;
    yolact_status s = run->weights
                          ? yolact_trainer_create(run->weights, &o, &t)
                          : yolact_trainer_create_fresh(run->preset, run->num_classes, &o, &t);
    if (s == YOLACT_OK)
        s = time_steps(t, run, images, truth, forward_loss, total, last);
    yolact_trainer_destroy(t);
    return s;
}
