/* yolact-train-bench: one CPU training step timed phase by phase (forward, MultiBoxLoss,
 * backward, SGD update) on a checkpoint or a random-weight network, with the process's peak
 * memory. The step is the library trainer's: the batch goes through the network one image
 * at a time (each image's forward kept for its backward), the loss is the batch's, and the
 * backward passes, image by image, accumulate the parameter gradients; the update is SGD
 * (lr 1e-4, the official warm-up's first rate, which keeps repeated steps on one batch from
 * diverging; momentum 0.9, weight decay 5e-4) on the unfolded weights, then the network's
 * parameters made again from them in place (BatchNorm folded again, the prepared weights
 * transformed again), as the trainer does after every step.
 *   yolact-train-bench [-m W.pth] [-c PRESET] [--backend cpu|cuda] [--precision fp32|fp16]
 *                      [--batch N] [--threads N] [--warmup N] [--iters N] [--json OUT.json]
 * Without -m, a random-weight network of -c (bench/support/random_weights.h). The images
 * and their ground truth (three objects each: box, mask, label) are generated, the same on
 * every run. --backend cuda times the library's trainer on the GPU through the public API
 * instead (library_trainer.h): two phases, the forward with the loss
 * (yolact_trainer_evaluate) and the whole step (yolact_trainer_step: the whole batch at once
 * on the device); without -m its network is a fresh one of -c (yolact_trainer_create_fresh),
 * not the random weights; --precision fp16 (cuda only) times its mixed-precision step. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../bench_util.h"
#include "../support/bench_cli.h"
#include "../support/cuda_facts.h"
#include "../support/random_weights.h"
#include "cpu/conv.h"
#include "cpu/dense_ops.h"
#include "cpu/training_backward.h"
#include "cpu/training_forward.h"
#include "library_trainer.h"
#include "model/model.h"
#include "ops/input.h"
#include "train/multibox_loss.h"
#include "train/sgd.h"
#include "weights/tensor_table.h"

enum { PHASE_FORWARD, PHASE_LOSS, PHASE_BACKWARD, PHASE_UPDATE, PHASE_TOTAL, NUM_PHASES };
static const char *const phase_names[NUM_PHASES] = {"forward", "loss", "backward", "update",
                                                    "total"};
enum { OBJECTS_PER_IMAGE = 3 };
static const char *const segm_keys[2] = {"semantic_seg_conv.weight", "semantic_seg_conv.bias"};

static void die(const char *what, yolact_status s)
{
    fprintf(stderr, "yolact-train-bench: %s: %s (%s)\n", what, yolact_status_string(s),
            yolact_last_error());
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "yolact-train-bench: out of memory\n");
        exit(1);
    }
    return p;
}

/* The batch's generated data: images (size x size RGB) and their objects, each a filled
 * ellipse (its mask) inside its box, placed by the image's and object's index. */
typedef struct batch_data {
    yolact_image *images;
    uint8_t **pixels, **masks;   /* per image; masks: OBJECTS_PER_IMAGE (size, size) */
    yl_gt *gt;                   /* the loss's, prepared */
    yolact_gt_object *objects;   /* the same objects for the public trainer, per image */
    yolact_ground_truth *truth;
} batch_data;

static void make_batch(int batch, int size, int num_classes, batch_data *d)
{
    d->images = xmalloc(batch * sizeof *d->images);
    d->pixels = xmalloc(batch * sizeof *d->pixels);
    d->masks = xmalloc(batch * sizeof *d->masks);
    d->gt = xmalloc(batch * sizeof *d->gt);
    d->objects = xmalloc((size_t)batch * OBJECTS_PER_IMAGE * sizeof *d->objects);
    d->truth = xmalloc(batch * sizeof *d->truth);
    for (int b = 0; b < batch; b++) {
        uint8_t *px = d->pixels[b] = xmalloc((size_t)size * size * 3);
        uint8_t *m = d->masks[b] = calloc((size_t)OBJECTS_PER_IMAGE * size * size, 1);
        if (!m)
            die("ground truth masks", YOLACT_ERR_OUT_OF_MEMORY);
        for (int i = 0; i < size * size * 3; i++)
            px[i] = (uint8_t)((i * 7 + b * 31) % 251);
        yl_gt_object obj[OBJECTS_PER_IMAGE];
        for (int k = 0; k < OBJECTS_PER_IMAGE; k++) {
            const float x1 = 0.05f + 0.3f * k, y1 = 0.1f + 0.07f * ((b + k) % 5);
            const float w = 0.2f + 0.02f * (b % 3), h = 0.3f + 0.05f * k;
            uint8_t *mk = m + (size_t)k * size * size;
            const float cx = (x1 + w / 2) * size, cy = (y1 + h / 2) * size;
            const float rx = w / 2 * size, ry = h / 2 * size;
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++) {
                    float u = (x + 0.5f - cx) / rx, v = (y + 0.5f - cy) / ry;
                    mk[(size_t)y * size + x] = u * u + v * v <= 1;
                    if (mk[(size_t)y * size + x])
                        px[((size_t)y * size + x) * 3 + k] = 200;
                }
            const int label = (b * 7 + k * 13) % (num_classes - 1);
            obj[k] = (yl_gt_object){{x1, y1, x1 + w, y1 + h}, label, 0, mk};
            d->objects[b * OBJECTS_PER_IMAGE + k] =
                (yolact_gt_object){x1, y1, x1 + w, y1 + h, label, 0, mk};
        }
        d->truth[b] = (yolact_ground_truth){OBJECTS_PER_IMAGE,
                                            d->objects + b * OBJECTS_PER_IMAGE, size, size};
        d->images[b] = (yolact_image){px, size, size, (size_t)size * 3, YOLACT_PIXEL_RGB8, 0};
        yolact_status s = yl_gt_prepare(obj, OBJECTS_PER_IMAGE, size, size, num_classes, &d->gt[b]);
        if (s != YOLACT_OK)
            die("ground truth", s);
    }
}

static void free_batch(int batch, batch_data *d)
{
    for (int b = 0; b < batch; b++) {
        free(d->pixels[b]);
        free(d->masks[b]);
        yl_gt_free(&d->gt[b]);
    }
    free(d->images), free(d->pixels), free(d->masks), free(d->gt), free(d->objects);
    free(d->truth);
}

/* The network and its training state for one step; refilled after every update. */
typedef struct trainer_state {
    yl_tensor_table table;        /* the unfolded weights the update changes */
    const yl_preset *preset;
    yolact_model *model;
    yl_training_forward **fw;     /* per image */
    float **segm;                 /* semantic_seg_conv's output per image */
    yl_loss_grads *grads;
    float **grad_block;
    yl_training_backward *bw;
    float **momentum;             /* per parameter: trainables, then semantic_seg_conv's */
    float *grad;                  /* the largest parameter's gradient */
    int threads, batch, first_step;
} trainer_state;

static const yl_tensor *find(const trainer_state *t, const char *name)
{
    const yl_tensor *p = yl_tensor_table_find(&t->table, name);
    if (!p) {
        fprintf(stderr, "yolact-train-bench: the weights have no '%s' (a training checkpoint "
                        "has semantic_seg_conv)\n", name);
        exit(1);
    }
    return p;
}

/* Model, forwards and backward from t->table. */
static void build(trainer_state *t)
{
    yolact_status s = yl_model_build(&t->table, t->preset, YOLACT_PRESET_GIVEN, &t->model);
    if (s != YOLACT_OK)
        die("network", s);
    for (int b = 0; b < t->batch; b++)
        if ((s = yl_cpu_training_forward_create(t->model, t->threads, &t->fw[b])) != YOLACT_OK)
            die("training forward", s);
    s = yl_cpu_training_backward_create(t->model, find(t, segm_keys[0])->data, t->threads,
                                        &t->bw);
    if (s != YOLACT_OK)
        die("training backward", s);
}

static void teardown(trainer_state *t)
{
    yl_cpu_training_backward_destroy(t->bw);
    for (int b = 0; b < t->batch; b++)
        yl_cpu_training_forward_destroy(t->fw[b]);
    yolact_model_free(t->model);
}

static void trainer_open(trainer_state *t, const char *weights, const char *preset, int batch,
                         int threads)
{
    memset(t, 0, sizeof *t);
    t->preset = yl_preset_find(preset);
    if (!t->preset) {
        fprintf(stderr, "yolact-train-bench: no preset '%s'\n", preset);
        exit(2);
    }
    yolact_status s = weights ? yl_weights_read(weights, &t->table)
                              : yl_random_weights(preset, 0, &t->table);
    if (s != YOLACT_OK)
        die(weights ? weights : "random weights", s);
    t->batch = batch;
    t->threads = threads;
    t->first_step = 1;
    t->fw = xmalloc(batch * sizeof *t->fw);
    t->segm = xmalloc(batch * sizeof *t->segm);
    t->grads = xmalloc(batch * sizeof *t->grads);
    t->grad_block = xmalloc(batch * sizeof *t->grad_block);
    build(t);
    const yolact_model *m = t->model;
    const yl_buffer_desc *p3 = &m->buffers[t->fw[0]->p3];
    const size_t P = m->num_priors, K = m->num_prototypes;
    const size_t n[5] = {P * 4, P * m->num_classes, P * K, (size_t)m->proto_h * m->proto_w * K,
                         (size_t)(m->num_classes - 1) * p3->height * p3->width};
    for (int b = 0; b < batch; b++) {
        t->segm[b] = xmalloc(n[4] * sizeof(float));
        float *x = t->grad_block[b] = xmalloc((n[0] + n[1] + n[2] + n[3] + n[4]) * sizeof *x);
        t->grads[b] = (yl_loss_grads){x, x + n[0], x + n[0] + n[1], x + n[0] + n[1] + n[2],
                                      x + n[0] + n[1] + n[2] + n[3]};
    }
    /* Each parameter's momentum buffer, made by the first update. */
    t->momentum = calloc(t->bw->num_trainables + 2, sizeof *t->momentum);
    if (!t->momentum)
        die("momentum", YOLACT_ERR_OUT_OF_MEMORY);
    int64_t largest = 0;
    for (size_t i = 0; i < t->table.count; i++)
        if (t->table.tensors[i].numel > largest)
            largest = t->table.tensors[i].numel;
    t->grad = xmalloc((size_t)largest * sizeof *t->grad);
}

static void trainer_close(trainer_state *t)
{
    for (int i = 0; i < t->bw->num_trainables + 2; i++)
        free(t->momentum[i]);
    teardown(t);
    for (int b = 0; b < t->batch; b++) {
        free(t->segm[b]);
        free(t->grad_block[b]);
    }
    free(t->fw), free(t->segm), free(t->grads), free(t->grad_block), free(t->momentum);
    free(t->grad);
    yl_tensor_table_free(&t->table);
}

/* Every image through the network and semantic_seg_conv (1x1 with bias on P3). */
static void forward(trainer_state *t, const batch_data *d, yl_loss_outputs *out)
{
    const yolact_model *m = t->model;
    const float *sw = find(t, segm_keys[0])->data, *sb = find(t, segm_keys[1])->data;
    for (int b = 0; b < t->batch; b++) {
        yl_training_forward *f = t->fw[b];
        yl_preprocess_cpu(&d->images[b], m->preset.input_size, m->preset.input_norm,
                          yl_input_mean_bgr, yl_input_std_bgr, f->buffers[0]);
        yolact_status s = yl_cpu_training_forward(f);
        if (s != YOLACT_OK)
            die("forward", s);
        const yl_buffer_desc *p3 = &m->buffers[f->p3];
        yl_conv_gemm_columns(YL_GEMM_AUTO, m->num_classes - 1, p3->height * p3->width,
                             p3->channels, sw, f->buffers[f->p3], sb, NULL, YL_ACT_NONE,
                             t->segm[b], f->threads);
        out[b] = (yl_loss_outputs){f->loc, f->conf, f->coeff, f->proto, t->segm[b]};
    }
}

/* SGD on every parameter from the accumulated gradients, then the network refilled. */
static void update(trainer_state *t)
{
    const yl_sgd_options opt = {.lr = 1e-4, .momentum = 0.9, .weight_decay = 5e-4};
    const int n = t->bw->num_trainables;
    for (int i = 0; i < n + 2; i++) {
        const char *name = i < n ? t->bw->trainables[i].name : segm_keys[i - n];
        yl_tensor *p = (yl_tensor *)find(t, name);
        if (i < n)
            yl_cpu_training_backward_grad(t->bw, &t->bw->trainables[i], t->grad);
        else
            memcpy(t->grad, i == n ? t->bw->segm_weight_grad : t->bw->segm_bias_grad,
                   (size_t)p->numel * sizeof *t->grad);
        if (t->first_step)
            t->momentum[i] = xmalloc((size_t)p->numel * sizeof(float));
        int first = t->first_step;
        yolact_status s = yl_sgd_step(&opt, (size_t)p->numel, p->data, t->grad, t->momentum[i],
                                      &first);
        if (s != YOLACT_OK)
            die("SGD", s);
    }
    t->first_step = 0;
    yolact_status s = yl_model_refill(t->model, &t->table, 1);
    if (s != YOLACT_OK)
        die("refill", s);
    yl_cpu_prepared_refresh(t->model, t->fw[0]->prepared);
}

/* One step, each phase's seconds to sec[]; the losses to *l. */
static void step(trainer_state *t, const batch_data *d, uint64_t seed, double sec[NUM_PHASES],
                 yl_losses *l)
{
    yl_loss_outputs *out = xmalloc(t->batch * sizeof *out);
    double t0 = bench_now();
    forward(t, d, out);
    double t1 = bench_now();
    const yolact_model *m = t->model;
    const yl_buffer_desc *p3 = &m->buffers[t->fw[0]->p3];
    const yl_loss_dims dims = {m->priors,         m->num_priors, m->num_classes,
                               m->num_prototypes, m->proto_h,    m->proto_w,
                               p3->height,        p3->width};
    yl_loss_config cfg = t->preset->loss;
    cfg.seed = seed;
    yolact_status s = yl_multibox_loss(&cfg, &dims, t->batch, out, d->gt, l, t->grads);
    if (s != YOLACT_OK)
        die("loss", s);
    double t2 = bench_now();
    yl_cpu_training_backward_zero(t->bw);
    for (int b = 0; b < t->batch; b++)
        if ((s = yl_cpu_training_backward(t->bw, t->fw[b], &t->grads[b])) != YOLACT_OK)
            die("backward", s);
    double t3 = bench_now();
    update(t);
    double t4 = bench_now();
    const double at[5] = {t0, t1, t2, t3, t4};
    for (int p = 0; p < PHASE_TOTAL; p++)
        sec[p] = at[p + 1] - at[p];
    sec[PHASE_TOTAL] = t4 - t0;
    free(out);
}

/* The process's peak resident memory in MiB (ru_maxrss is KiB on Linux). */
static double peak_rss_mib(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024.0;
}

/* What was timed: the phases (names and each one's iters samples), the backend and its
 * device (NULL: the CPU), the last losses. */
typedef struct timing {
    const char *backend, *device, *precision;
    int num_phases;
    const char *const *names;
    double **sec;
    yl_losses last;
} timing;

static const char *const library_phase_names[2] = {"forward_loss", "total"};

static void write_json(const char *path, const char *weights, const char *preset, int batch,
                       int threads, int warmup, int iters, const timing *tm, double peak)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fputs("{\n  \"tool\": \"yolact-train-bench\",\n  \"model\": ", f);
    bench_json_string(f, weights ? weights : "random");
    fputs(",\n  \"config\": ", f);
    bench_json_string(f, preset);
    fputs(",\n  \"backend\": ", f);
    bench_json_string(f, tm->backend);
    fputs(",\n  \"device\": ", f);
    bench_json_string(f, tm->device);
    fputs(",\n  \"precision\": ", f);
    bench_json_string(f, tm->precision);
    fprintf(f, ",\n  \"batch\": %d,\n  \"threads\": %d,\n  \"warmup\": %d,\n  \"iters\": %d,\n"
               "  \"accumulation\": ", batch, threads, warmup, iters);
    bench_json_string(f, tm->device ? "the whole batch at once"
                                    : "images one at a time, gradients summed over the batch");
    fputs(",\n  \"phases_ms\": {", f);
    for (int p = 0; p < tm->num_phases; p++) {
        fprintf(f, "%s\n    \"%s\": {\"median\": %.3f, \"samples\": [", p ? "," : "",
                tm->names[p], bench_median(tm->sec[p], iters) * 1e3);
        for (int i = 0; i < iters; i++)
            fprintf(f, "%s%.3f", i ? ", " : "", tm->sec[p][i] * 1e3);
        fputs("]}", f);
    }
    const yl_losses *l = &tm->last;
    fprintf(f, "\n  },\n  \"peak_rss_mib\": %.1f,\n  \"last_losses\": {\"B\": %.6g, \"C\": "
               "%.6g, \"M\": %.6g, \"S\": %.6g, \"total\": %.6g, \"num_positives\": %d}\n}\n",
            peak, l->B, l->C, l->M, l->S, l->total, l->num_positives);
    fclose(f);
}

/* The CPU's step by the library's internals, phase by phase. */
static void time_cpu(const char *weights, const char *preset, int batch, int threads,
                     int warmup, int iters, timing *tm)
{
    trainer_state t;
    trainer_open(&t, weights, preset, batch, threads);
    batch_data d;
    make_batch(batch, t.model->preset.input_size, t.model->num_classes, &d);
    for (int i = -warmup; i < iters; i++) {
        double one[NUM_PHASES];
        step(&t, &d, (uint64_t)(i + warmup), one, &tm->last);
        for (int p = 0; i >= 0 && p < NUM_PHASES; p++)
            tm->sec[p][i] = one[p];
    }
    free_batch(batch, &d);
    trainer_close(&t);
}

/* The library's trainer on the GPU through the public API (library_trainer.h); facts
 * holds the device's name that tm->device points to. */
static void time_library_trainer(const char *weights, const char *preset, int batch,
                                 int threads, int warmup, int iters, yl_cuda_facts *facts,
                                 timing *tm)
{
    yolact_status s = yl_cuda_describe(0, facts);
    if (s != YOLACT_OK)
        die("--backend cuda", s);
    tm->device = facts->gpu_name;
    const yl_preset *p = yl_preset_find(preset);
    if (!p) {
        fprintf(stderr, "yolact-train-bench: no preset '%s'\n", preset);
        exit(2);
    }
    const int num_classes = 81; /* a fresh network's: COCO's, as the presets' checkpoints */
    batch_data d;
    make_batch(batch, p->input_size, num_classes, &d);
    const library_trainer_run run = {weights, preset, num_classes, YOLACT_BACKEND_CUDA,
                                     strcmp(tm->precision, "fp16") ? YOLACT_PRECISION_FP32
                                                                   : YOLACT_PRECISION_FP16,
                                     threads, batch, warmup, iters};
    yolact_losses l;
    s = library_trainer_time(&run, d.images, d.truth, tm->sec[0], tm->sec[1], &l);
    if (s != YOLACT_OK)
        die("the library's trainer", s);
    tm->last = (yl_losses){l.B, l.C, l.M, l.S, l.total, l.num_positives};
    free_batch(batch, &d);
}

int main(int argc, char **argv)
{
    const char *weights = NULL, *preset = "yolact_resnet50", *json = NULL, *backend = "cpu";
    const char *precision = "fp32";
    int batch = 2, threads = 0, warmup = 1, iters = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "yolact-train-bench: %s needs a value (see the top of "
                            "bench/train/yolact-train-bench.c)\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "-m"))
            weights = v;
        else if (!strcmp(a, "-c"))
            preset = v;
        else if (!strcmp(a, "--json"))
            json = v;
        else if (!strcmp(a, "--backend"))
            backend = v;
        else if (!strcmp(a, "--precision"))
            precision = v;
        else if (!strcmp(a, "--batch"))
            batch = bench_int_arg("yolact-train-bench", a, v, 1);
        else if (!strcmp(a, "--threads"))
            threads = bench_int_arg("yolact-train-bench", a, v, 0);
        else if (!strcmp(a, "--warmup"))
            warmup = bench_int_arg("yolact-train-bench", a, v, 0);
        else if (!strcmp(a, "--iters"))
            iters = bench_int_arg("yolact-train-bench", a, v, 1);
        else {
            fprintf(stderr, "yolact-train-bench: unknown option %s\n", a);
            return 2;
        }
    }
    const int on_gpu = !strcmp(backend, "cuda");
    if (!on_gpu && strcmp(backend, "cpu")) {
        fprintf(stderr, "yolact-train-bench: --backend wants cpu or cuda, not '%s'\n", backend);
        return 2;
    }
    if (strcmp(precision, "fp32") && (strcmp(precision, "fp16") || !on_gpu)) {
        fprintf(stderr, "yolact-train-bench: --precision wants fp32, or fp16 with --backend "
                        "cuda, not '%s'\n", precision);
        return 2;
    }
    if (threads == 0)
        threads = omp_get_num_procs();
    timing tm = {.backend = backend,
                 .precision = precision,
                 .num_phases = on_gpu ? 2 : NUM_PHASES,
                 .names = on_gpu ? library_phase_names : phase_names};
    double *sec[NUM_PHASES];
    for (int p = 0; p < tm.num_phases; p++)
        sec[p] = xmalloc(iters * sizeof *sec[p]);
    tm.sec = sec;
    yl_cuda_facts facts;
    if (on_gpu)
        time_library_trainer(weights, preset, batch, threads, warmup, iters, &facts, &tm);
    else
        time_cpu(weights, preset, batch, threads, warmup, iters, &tm);
    const double peak = peak_rss_mib();
    if (on_gpu)
        printf("training step on %s, %s (%s), %s, batch %d (the whole batch at once), median "
               "of %d after %d warm-up:\n", tm.device, weights ? weights : "a fresh network",
               preset, precision, batch, iters, warmup);
    else
        printf("training step, %s (%s), batch %d (images one at a time, gradients "
               "accumulated), %d threads, median of %d after %d warm-up:\n",
               weights ? weights : "random weights", preset, batch, threads, iters, warmup);
    for (int p = 0; p < tm.num_phases; p++)
        printf("  %-12s %10.1f ms\n", tm.names[p], bench_median(sec[p], iters) * 1e3);
    const yl_losses *l = &tm.last;
    printf("  peak RSS     %10.1f MiB\n  last loss: total %.4g (B %.4g C %.4g M %.4g S %.4g), "
           "%d positives\n", peak, l->total, l->B, l->C, l->M, l->S, l->num_positives);
    if (json)
        write_json(json, weights, preset, batch, threads, warmup, iters, &tm, peak);
    for (int p = 0; p < tm.num_phases; p++)
        free(sec[p]);
    return 0;
}
