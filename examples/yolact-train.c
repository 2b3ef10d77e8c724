/* yolact-train: training through the public trainer. --parity-step takes the official
 * train.py's step on a parity case (the layout of the parity-train set) and writes what the
 * reference holds: the losses, every trainable parameter's gradient and, with --sgd-steps,
 * the losses along that many SGD steps. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/atomic_file.h"
#include "common/cli_error.h"
#include "common/cli_options.h"
#include "train/parity_case.h"
#include "yolact.h"

#define PROGRAM "yolact-train"

static const char usage[] =
    "usage: yolact-train --parity-step --weights W.pth -c PRESET --images DIR --gt GT.json\n"
    "                    --out OUT [--sgd-steps N] [--lr LR] [--momentum M]\n"
    "                    [--weight-decay D] [--train-batchnorm] [--threads N]\n"
    "  --parity-step       one step of the official train.py (frozen BatchNorm, no\n"
    "                      augmentation, every positive's mask) on the case's batch:\n"
    "                      OUT/losses.json (B, C, M, S, total), OUT/grads.safetensors\n"
    "                      (float32 gradient of every trainable parameter, state-dict keys)\n"
    "  -w, --weights FILE  checkpoint (.pth or .safetensors) with semantic_seg_conv\n"
    "  -c, --config NAME   preset (default: from the file name, else guessed)\n"
    "      --images DIR    the batch's images, DIR/<name>.png (or .jpg) for each name of\n"
    "                      GT.json's \"images\", in its order\n"
    "      --gt FILE       gt.json: per image, objects {label, box, crowd, mask (RLE)}\n"
    "  -o, --out DIR       output folder (created if missing)\n"
    "      --sgd-steps N   also N steps of SGD on the batch: OUT/sgd.json with the losses\n"
    "                      before each step and after the last, as the reference's\n"
    "      --lr LR         the SGD steps' learning rate (default 1e-4)\n"
    "      --momentum M    their momentum, 0..1 (default 0.9, train.py's)\n"
    "      --weight-decay D  their weight decay, 0..1 (default 5e-4, train.py's)\n"
    "      --train-batchnorm  trainable BatchNorm (batch statistics, running averages\n"
    "                      moved, weight and bias trained), as train.py at 6 or more\n"
    "                      images per GPU; its gradients join grads.safetensors\n"
    "      --threads N     CPU threads (default: every core)\n"
    "  -h, --help\n";

typedef struct cli {
    int parity_step;
    const char *weights, *preset, *images, *gt, *out;
    int sgd_steps;
    double lr, momentum, weight_decay;
    int train_batchnorm;
    int threads;
} cli;

static int parse_args(int argc, char **argv, cli *c)
{
    enum { O_PARITY = 256, O_IMAGES, O_GT, O_SGD_STEPS, O_LR, O_MOMENTUM, O_WEIGHT_DECAY,
           O_TRAIN_BN, O_THREADS };
    static const struct option longs[] = {
        {"parity-step", no_argument, 0, O_PARITY}, {"weights", required_argument, 0, 'w'},
        {"config", required_argument, 0, 'c'},     {"images", required_argument, 0, O_IMAGES},
        {"gt", required_argument, 0, O_GT},        {"out", required_argument, 0, 'o'},
        {"sgd-steps", required_argument, 0, O_SGD_STEPS},
        {"lr", required_argument, 0, O_LR},        {"threads", required_argument, 0, O_THREADS},
        {"momentum", required_argument, 0, O_MOMENTUM},
        {"weight-decay", required_argument, 0, O_WEIGHT_DECAY},
        {"train-batchnorm", no_argument, 0, O_TRAIN_BN},
        {"help", no_argument, 0, 'h'},             {0, 0, 0, 0}};
    *c = (cli){.lr = 1e-4, .momentum = 0.9, .weight_decay = 5e-4};
    double v;
    int opt;
    while ((opt = getopt_long(argc, argv, "w:c:o:h", longs, NULL)) != -1) {
        switch (opt) {
        case O_PARITY: c->parity_step = 1; break;
        case 'w': c->weights = optarg; break;
        case 'c': c->preset = optarg; break;
        case O_IMAGES: c->images = optarg; break;
        case O_GT: c->gt = optarg; break;
        case 'o': c->out = optarg; break;
        case O_SGD_STEPS:
            if (cli_number(PROGRAM, "--sgd-steps", optarg, 1, 100000, &v) != 0)
                return -1;
            if (v != (int)v) {
                fprintf(stderr, PROGRAM ": --sgd-steps wants a whole number, got '%s'\n",
                        optarg);
                return -1;
            }
            c->sgd_steps = (int)v;
            break;
        case O_LR:
            if (cli_number(PROGRAM, "--lr", optarg, 0, 1e3, &v) != 0)
                return -1;
            c->lr = v;
            break;
        case O_MOMENTUM:
            if (cli_number(PROGRAM, "--momentum", optarg, 0, 1, &v) != 0)
                return -1;
            c->momentum = v;
            break;
        case O_WEIGHT_DECAY:
            if (cli_number(PROGRAM, "--weight-decay", optarg, 0, 1, &v) != 0)
                return -1;
            c->weight_decay = v;
            break;
        case O_THREADS:
            if (cli_number(PROGRAM, "--threads", optarg, 0, 4096, &v) != 0)
                return -1;
            c->threads = (int)v;
            break;
        case O_TRAIN_BN: c->train_batchnorm = 1; break;
        case 'h': fputs(usage, stdout); exit(0);
        default: fputs(usage, stderr); return -1;
        }
    }
    const char *missing = !c->parity_step ? "--parity-step (the only mode so far)"
                          : !c->weights   ? "--weights"
                          : !c->images    ? "--images"
                          : !c->gt        ? "--gt"
                          : !c->out       ? "--out"
                                          : NULL;
    if (optind < argc) {
        fprintf(stderr, PROGRAM ": unexpected argument '%s'\n%s", argv[optind], usage);
        return -1;
    }
    if (missing) {
        fprintf(stderr, PROGRAM ": %s is required\n%s", missing, usage);
        return -1;
    }
    return 0;
}

/* OUT/name into buf. */
static const char *out_path(const cli *c, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", c->out, name);
    return buf;
}

static void write_losses(FILE *f, const yolact_losses *l, const char *indent)
{
    fprintf(f, "{\n%s \"B\": %.9g,\n%s \"C\": %.9g,\n%s \"M\": %.9g,\n%s \"S\": %.9g,\n"
            "%s \"total\": %.9g\n%s}", indent, l->B, indent, l->C, indent, l->M, indent, l->S,
            indent, l->total, indent);
}

/* OUT/losses.json, complete or not at all. */
static int save_losses(const cli *c, const yolact_losses *l)
{
    char path[4096];
    atomic_file o;
    if (atomic_open(&o, PROGRAM, out_path(c, "losses.json", path, sizeof path)) != 0)
        return -1;
    write_losses(o.f, l, "");
    fputc('\n', o.f);
    return atomic_commit(&o);
}

/* OUT/sgd.json in the reference's layout. */
static int save_sgd(const cli *c, const yolact_losses *before, int steps,
                    const yolact_losses *after)
{
    char path[4096];
    atomic_file o;
    if (atomic_open(&o, PROGRAM, out_path(c, "sgd.json", path, sizeof path)) != 0)
        return -1;
    fprintf(o.f, "{\n \"lr\": %.17g,\n \"momentum\": %.15g,\n \"weight_decay\": %.15g,\n"
            " \"losses_before_each_step\": [\n  ", c->lr, c->momentum, c->weight_decay);
    for (int i = 0; i < steps; i++) {
        write_losses(o.f, &before[i], "  ");
        fputs(i + 1 < steps ? ",\n  " : "\n ],\n", o.f);
    }
    fprintf(o.f, " \"losses_after_%d_steps\": ", steps);
    write_losses(o.f, after, " ");
    fputs("\n}\n", o.f);
    return atomic_commit(&o);
}

/* The parity step on the case, then the SGD steps; each file written as soon as known. */
static int parity_step(const cli *c, const parity_case *pc)
{
    yolact_trainer_options o;
    yolact_trainer_options_init(&o);
    o.preset = c->preset;
    o.num_threads = c->threads;
    o.lr = c->lr;
    o.momentum = c->momentum;
    o.weight_decay = c->weight_decay;
    o.train_batchnorm = c->train_batchnorm;
    o.lr_warmup_until = 0;
    o.num_lr_steps = 0;
    o.all_masks = 1;
    yolact_trainer *t;
    yolact_status s = yolact_trainer_create(c->weights, &o, &t);
    if (s != YOLACT_OK)
        return cli_error(PROGRAM, c->weights, s);
    const int steps = c->sgd_steps > 0 ? c->sgd_steps : 1;
    yolact_losses *before = calloc((size_t)steps, sizeof *before), after;
    int rc = before ? 0 : (fprintf(stderr, PROGRAM ": out of memory\n"), 1);
    char path[4096];
    for (int i = 0; rc == 0 && i < steps; i++) {
        s = yolact_trainer_step(t, pc->images, pc->gt, pc->count, &before[i]);
        if (s != YOLACT_OK)
            rc = cli_error(PROGRAM, "the training step", s);
        else if (i == 0 && save_losses(c, &before[0]) != 0)
            rc = 1;
        else if (i == 0 && (s = yolact_trainer_save_gradients(
                                t, out_path(c, "grads.safetensors", path, sizeof path))) !=
                               YOLACT_OK)
            rc = cli_error(PROGRAM, path, s);
    }
    if (rc == 0 && c->sgd_steps > 0) {
        s = yolact_trainer_evaluate(t, pc->images, pc->gt, pc->count, &after);
        if (s != YOLACT_OK)
            rc = cli_error(PROGRAM, "the loss after the SGD steps", s);
        else if (save_sgd(c, before, steps, &after) != 0)
            rc = 1;
    }
    if (rc == 0)
        printf("%s: B %.6g C %.6g M %.6g S %.6g total %.6g over %d images%s\n", c->out,
               before[0].B, before[0].C, before[0].M, before[0].S, before[0].total, pc->count,
               c->sgd_steps > 0 ? "; sgd.json written" : "");
    free(before);
    yolact_trainer_destroy(t);
    return rc;
}

int main(int argc, char **argv)
{
    cli c;
    if (parse_args(argc, argv, &c) != 0)
        return 2;
    if (mkdir(c.out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, PROGRAM ": cannot create %s: %s\n", c.out, strerror(errno));
        return 1;
    }
    char probe[4096];
    if (cli_check_output(PROGRAM, out_path(&c, "losses.json", probe, sizeof probe)) != 0)
        return 1;
    parity_case pc;
    if (parity_case_read(&pc, PROGRAM, c.gt, c.images) != 0)
        return 1;
    int rc = parity_step(&c, &pc);
    parity_case_free(&pc);
    return rc;
}
