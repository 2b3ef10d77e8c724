/* yolact-train: training through the public trainer. Over a COCO data set (the loop is
 * examples/train/train_loop.c; this file is the command line); and --parity-step, the
 * official train.py's step on a parity case (the layout of the parity-train set), writing
 * what the reference holds: the losses, every trainable parameter's gradient and, with
 * --sgd-steps, the losses along that many SGD steps. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/atomic_file.h"
#include "common/cli_error.h"
#include "common/cli_options.h"
#include "train/parity_case.h"
#include "train/train_loop.h"
#include "yolact.h"

#define PROGRAM "yolact-train"

static const char usage[] =
    "usage: yolact-train --images DIR --annotations A.json (-m START.pth | --preset NAME)\n"
    "                    --out DIR [options]\n"
    "       yolact-train --parity-step --weights W.pth -c PRESET --images DIR --gt GT.json\n"
    "                    --out OUT [--sgd-steps N] [--lr LR] [--threads N]\n"
    "Training on a COCO instance-segmentation data set (train.py's loop):\n"
    "      --images DIR        the training images (the annotations' file_name under DIR)\n"
    "      --annotations FILE  COCO instances JSON; class k is the k-th category by id\n"
    "  -m, --weights FILE      start from this checkpoint (.pth or .safetensors with\n"
    "                          semantic_seg_conv); with other classes than the data set's,\n"
    "                          the class-dependent layers are re-initialised (it says so)\n"
    "  -c, --preset NAME       the preset (with -m: default the file's metadata's, else\n"
    "                          from the file name, else guessed); alone: a fresh network\n"
    "                          of it (the YOLACT presets; DarkNet at its official size)\n"
    "      --backbone-blocks A,B,C,D  a fresh network's ResNet blocks per stage\n"
    "      --backbone-width N  a fresh network's ResNet base width (64, the official; a\n"
    "                          narrower one loads here, not in the official code)\n"
    "      --features N        a fresh network's FPN, protonet and head width (256)\n"
    "  -o, --out DIR           checkpoints <preset>_<epoch>_<iteration>.safetensors (with\n"
    "                          the classes' names and ids), state.safetensors (to resume),\n"
    "                          train_log.tsv and curves.png (created if missing)\n"
    "      --batch N           images per iteration (default 8)\n"
    "      --iterations N      the run's last iteration (default 800000, train.py's)\n"
    "      --lr LR             base learning rate (default 1e-3)\n"
    "      --warmup N          linear warm-up iterations (default 500; 0: none)\n"
    "      --warmup-lr LR      the warm-up's first rate (default 1e-4)\n"
    "      --lr-steps A,B,...  iterations where the rate is multiplied by --gamma\n"
    "                          (default 280000,600000,700000,750000)\n"
    "      --gamma G           (default 0.1)\n"
    "      --no-augment        resize only, no SSDAugmentation\n"
    "      --sub-batches N     each iteration's batch in N parts, their losses and\n"
    "                          gradients averaged: train.py's step on N GPUs, in the\n"
    "                          memory of one part (default 1)\n"
    "      --mask-loss FORM    bce (train.py's, default), bce-stable (from the logits,\n"
    "                          no saturation) or dice\n"
    "      --seed S            samples, augmentation, masks and fresh weights (default 0)\n"
    "      --workers N         threads making samples ahead (default 2)\n"
    "      --threads N         CPU threads of the network (default: every core)\n"
    "      --log-every N       a progress line every N iterations (default 10)\n"
    "      --save-every N      a checkpoint every N iterations (default 10000; and at the end)\n"
    "      --pth               also write each checkpoint's weights as .pth\n"
    "      --keep-latest       each checkpoint removes the folder's latest before it\n"
    "                          (train.py's), except at multiples of:\n"
    "      --keep-latest-interval N  (default 100000, train.py's; 0: none kept)\n"
    "      --val-images DIR, --val-annotations FILE  a validation set: box and mask AP\n"
    "      --val-every N       validate every N iterations (default 0: at the end only)\n"
    "      --val-max N         validate on the first N images only\n"
    "      --resume STATE      continue the run saved in STATE (give the same options):\n"
    "                          N iterations, resume, M more == N + M at once, bit for bit\n"
    "Parity step:\n"
    "  --parity-step       one step of the official train.py (frozen BatchNorm, no\n"
    "                      augmentation, every positive's mask) on the case's batch:\n"
    "                      OUT/losses.json (B, C, M, S, total), OUT/grads.safetensors\n"
    "                      (float32 gradient of every trainable parameter, state-dict keys)\n"
    "      --gt FILE       gt.json: per image, objects {label, box, crowd, mask (RLE)}\n"
    "      --sgd-steps N   also N steps of SGD on the batch: OUT/sgd.json with the losses\n"
    "                      before each step and after the last, as the reference's (--lr\n"
    "                      default 1e-4 here)\n"
    "Both modes:\n"
    "      --momentum M        SGD's momentum, 0..1 (default 0.9, train.py's)\n"
    "      --weight-decay D    SGD's weight decay, 0..1 (default 5e-4, train.py's)\n"
    "      --train-batchnorm   trainable BatchNorm (batch statistics, running averages\n"
    "                          moved, weight and bias trained), as train.py at 6 or more\n"
    "                          images per GPU; default frozen, as train.py under 6\n"
    "      --backend B         where the gradient pass runs: cpu (default), cuda (GPU 0;\n"
    "                          CUDA_VISIBLE_DEVICES picks it), or auto (cuda where a\n"
    "                          usable GPU is, else cpu)\n"
    "      --precision P       fp32 (default) or fp16: mixed precision on cuda only (half\n"
    "                          convolutions, float32 weights and loss, the loss scaled as\n"
    "                          torch.cuda.amp's GradScaler; the progress line shows the\n"
    "                          scale)\n"
    "Exit status: 0 done, 1 failed, 2 bad arguments, 3 the data set refused.\n"
    "  -h, --help\n";

typedef struct cli {
    int parity_step;
    const char *weights, *preset, *images, *gt, *out;
    int sgd_steps;
    double lr;                 /* NAN: the mode's default */
    int threads;
    train_config train;        /* the data-set mode's (its strings alias the ones above) */
} cli;

/* A whole number of the option in [lo, hi]: 0, or -1 after saying why. */
static int whole_number(const char *option, const char *arg, double lo, double hi, long *out)
{
    double v;
    if (cli_number(PROGRAM, option, arg, lo, hi, &v) != 0)
        return -1;
    if (v != floor(v)) {
        fprintf(stderr, PROGRAM ": %s wants a whole number, got '%s'\n", option, arg);
        return -1;
    }
    *out = (long)v;
    return 0;
}

/* --mask-loss's words, in yolact_mask_loss's order. */
static const char *const mask_loss_names[3] = {"bce", "bce-stable", "dice"};

/* The options that only the data-set mode takes; 1 when opt was one, -1 on a bad value. */
static int parse_train_option(int opt, const char *arg, train_config *t)
{
    enum { O_FIRST = 300 };
    yolact_trainer_options *o = &t->trainer;
    long n;
    double v;
    int list[CLI_MAX_LIST], count;
    switch (opt) {
    case O_FIRST + 0: t->annotations = arg; return 1;
    case O_FIRST + 1: return whole_number("--batch", arg, 1, YOLACT_MAX_BATCH_SIZE, &n) ? -1
                             : (t->batch = (int)n, 1);
    case O_FIRST + 2: return whole_number("--iterations", arg, 1, 1e9, &n) ? -1
                             : (t->iterations = (int)n, 1);
    case O_FIRST + 5: return whole_number("--warmup", arg, 0, 1e9, &n) ? -1
                             : (o->lr_warmup_until = (int)n, 1);
    case O_FIRST + 6: return cli_number(PROGRAM, "--warmup-lr", arg, 0, 1e3, &o->lr_warmup_init)
                             ? -1 : 1;
    case O_FIRST + 7:
        if (cli_number_list(PROGRAM, "--lr-steps", arg, 0, 1e9, list, &count) != 0)
            return -1;
        if (count > YOLACT_MAX_LR_STEPS) {
            fprintf(stderr, PROGRAM ": --lr-steps takes at most %d steps, got %d\n",
                    YOLACT_MAX_LR_STEPS, count);
            return -1;
        }
        for (int i = 1; i < count; i++)
            if (list[i] < list[i - 1]) {
                fprintf(stderr, PROGRAM ": --lr-steps must ascend, got '%s'\n", arg);
                return -1;
            }
        o->num_lr_steps = count;
        memcpy(o->lr_steps, list, (size_t)count * sizeof *list);
        return 1;
    case O_FIRST + 8: return cli_number(PROGRAM, "--gamma", arg, 0, 1e3, &o->gamma) ? -1 : 1;
    case O_FIRST + 9: t->augment = 0; return 1;
    case O_FIRST + 10:
        if (cli_number(PROGRAM, "--seed", arg, 0, 9007199254740992.0, &v) != 0)
            return -1;
        o->seed = (uint64_t)v;
        return 1;
    case O_FIRST + 11: return whole_number("--workers", arg, 1, 64, &n) ? -1
                              : (t->workers = (int)n, 1);
    case O_FIRST + 12: return whole_number("--log-every", arg, 1, 1e9, &n) ? -1
                              : (t->log_every = (int)n, 1);
    case O_FIRST + 13: return whole_number("--save-every", arg, 0, 1e9, &n) ? -1
                              : (t->save_every = (int)n, 1);
    case O_FIRST + 14: t->save_pth = 1; return 1;
    case O_FIRST + 15: t->val_images = arg; return 1;
    case O_FIRST + 16: t->val_annotations = arg; return 1;
    case O_FIRST + 17: return whole_number("--val-every", arg, 0, 1e9, &n) ? -1
                              : (t->val_every = (int)n, 1);
    case O_FIRST + 18: return whole_number("--val-max", arg, 1, 1e12, &n) ? -1
                              : (t->val_max_images = n, 1);
    case O_FIRST + 19: t->resume = arg; return 1;
    case O_FIRST + 20:
        if (cli_number_list(PROGRAM, "--backbone-blocks", arg, 1, 64, list, &count) != 0)
            return -1;
        if (count != 4) {
            fprintf(stderr, PROGRAM ": --backbone-blocks wants 4 numbers (one a ResNet "
                    "stage), got %d\n", count);
            return -1;
        }
        memcpy(o->backbone_blocks, list, sizeof o->backbone_blocks);
        return 1;
    case O_FIRST + 21: return whole_number("--features", arg, 1, 4096, &n) ? -1
                              : (o->features = (int)n, 1);
    case O_FIRST + 22: return whole_number("--sub-batches", arg, 1, YOLACT_MAX_BATCH_SIZE, &n)
                              ? -1 : (o->sub_batches = (int)n, 1);
    case O_FIRST + 23:
        for (int k = 0; k < 3; k++)
            if (strcmp(arg, mask_loss_names[k]) == 0) {
                o->mask_loss = (yolact_mask_loss)k;
                return 1;
            }
        fprintf(stderr, PROGRAM ": --mask-loss is bce, bce-stable or dice, got '%s'\n", arg);
        return -1;
    case O_FIRST + 24: return whole_number("--backbone-width", arg, 1, 1024, &n) ? -1
                              : (o->backbone_width = (int)n, 1);
    case O_FIRST + 25: t->keep_latest = 1; return 1;
    case O_FIRST + 26: return whole_number("--keep-latest-interval", arg, 0, 1e12, &n) ? -1
                              : (t->keep_latest_interval = n, 1);
    default: return 0;
    }
}

/* What the data-set mode is missing or contradicts, or NULL. */
static const char *train_args_wrong(const cli *c)
{
    const train_config *t = &c->train;
    return !c->images                               ? "--images DIR is required"
           : !t->annotations                        ? "--annotations FILE is required"
           : !c->weights && !c->preset              ? "give -m START (a checkpoint) or "
                                                      "--preset NAME (a fresh network)"
           : !c->out                                ? "--out DIR is required"
           : c->gt                                  ? "--gt is for --parity-step"
           : c->sgd_steps                           ? "--sgd-steps is for --parity-step"
           : !t->val_images != !t->val_annotations  ? "--val-images and --val-annotations "
                                                      "go together"
           : t->trainer.sub_batches > t->batch      ? "--sub-batches cannot be more than "
                                                      "--batch"
           : c->weights && (t->trainer.features || t->trainer.backbone_blocks[0] ||
                            t->trainer.backbone_width)
               ? "--features, --backbone-blocks and --backbone-width size a fresh network, "
                 "not -m's"
               : NULL;
}

static int parse_args(int argc, char **argv, cli *c)
{
    enum { O_PARITY = 256, O_IMAGES, O_GT, O_SGD_STEPS, O_LR, O_THREADS, O_MOMENTUM,
           O_WEIGHT_DECAY, O_TRAIN_BN, O_T = 300 };
    static const struct option longs[] = {
        {"parity-step", no_argument, 0, O_PARITY}, {"weights", required_argument, 0, 'm'},
        {"config", required_argument, 0, 'c'},     {"preset", required_argument, 0, 'c'},
        {"images", required_argument, 0, O_IMAGES}, {"gt", required_argument, 0, O_GT},
        {"out", required_argument, 0, 'o'},        {"sgd-steps", required_argument, 0, O_SGD_STEPS},
        {"lr", required_argument, 0, O_LR},        {"threads", required_argument, 0, O_THREADS},
        {"annotations", required_argument, 0, O_T + 0},
        {"batch", required_argument, 0, O_T + 1},  {"iterations", required_argument, 0, O_T + 2},
        {"momentum", required_argument, 0, O_MOMENTUM},
        {"weight-decay", required_argument, 0, O_WEIGHT_DECAY},
        {"train-batchnorm", no_argument, 0, O_TRAIN_BN},
        {"warmup", required_argument, 0, O_T + 5}, {"warmup-lr", required_argument, 0, O_T + 6},
        {"lr-steps", required_argument, 0, O_T + 7}, {"gamma", required_argument, 0, O_T + 8},
        {"no-augment", no_argument, 0, O_T + 9},   {"seed", required_argument, 0, O_T + 10},
        {"workers", required_argument, 0, O_T + 11},
        {"log-every", required_argument, 0, O_T + 12},
        {"save-every", required_argument, 0, O_T + 13}, {"pth", no_argument, 0, O_T + 14},
        {"val-images", required_argument, 0, O_T + 15},
        {"val-annotations", required_argument, 0, O_T + 16},
        {"val-every", required_argument, 0, O_T + 17},
        {"val-max", required_argument, 0, O_T + 18}, {"resume", required_argument, 0, O_T + 19},
        {"backbone-blocks", required_argument, 0, O_T + 20},
        {"features", required_argument, 0, O_T + 21},
        {"sub-batches", required_argument, 0, O_T + 22},
        {"mask-loss", required_argument, 0, O_T + 23},
        {"backbone-width", required_argument, 0, O_T + 24},
        {"keep-latest", no_argument, 0, O_T + 25},
        {"keep-latest-interval", required_argument, 0, O_T + 26},
        {"backend", required_argument, 0, CLI_OPT_BACKEND},
        {"precision", required_argument, 0, CLI_OPT_PRECISION},
        {"help", no_argument, 0, 'h'},             {0, 0, 0, 0}};
    *c = (cli){.lr = NAN};
    train_config *t = &c->train;
    *t = (train_config){.batch = 8, .iterations = 800000, .workers = 2, .augment = 1,
                        .log_every = 10, .save_every = 10000,
                        .keep_latest_interval = 100000};
    yolact_trainer_options_init(&t->trainer);
    int train_only = 0;
    double v;
    long n;
    int opt, r;
    while ((opt = getopt_long(argc, argv, "m:w:c:o:h", longs, NULL)) != -1) {
        switch (opt) {
        case O_PARITY: c->parity_step = 1; break;
        case 'm': case 'w': c->weights = optarg; break;
        case 'c': c->preset = optarg; break;
        case O_IMAGES: c->images = optarg; break;
        case O_GT: c->gt = optarg; break;
        case 'o': c->out = optarg; break;
        case O_SGD_STEPS:
            if (whole_number("--sgd-steps", optarg, 1, 100000, &n) != 0)
                return -1;
            c->sgd_steps = (int)n;
            break;
        case O_LR:
            if (cli_number(PROGRAM, "--lr", optarg, 0, 1e3, &v) != 0)
                return -1;
            c->lr = v;
            break;
        case O_THREADS:
            if (whole_number("--threads", optarg, 0, 4096, &n) != 0)
                return -1;
            c->threads = (int)n;
            break;
        case O_MOMENTUM:
            if (cli_number(PROGRAM, "--momentum", optarg, 0, 1, &t->trainer.momentum) != 0)
                return -1;
            break;
        case O_WEIGHT_DECAY:
            if (cli_number(PROGRAM, "--weight-decay", optarg, 0, 1,
                           &t->trainer.weight_decay) != 0)
                return -1;
            break;
        case O_TRAIN_BN: t->trainer.train_batchnorm = 1; break;
        case CLI_OPT_BACKEND:
        case CLI_OPT_PRECISION: {
            cli_options shared;
            cli_options_init(&shared, PROGRAM, 0);
            if (cli_options_parse(&shared, opt, optarg) != 1)
                return -1;
            if (opt == CLI_OPT_BACKEND)
                t->trainer.backend = shared.backends[0];
            else
                t->trainer.precision = shared.precisions[0];
            break;
        }
        case 'h': fputs(usage, stdout); exit(0);
        default:
            if ((r = parse_train_option(opt, optarg, t)) < 0)
                return -1;
            if (r == 0) {
                fputs(usage, stderr);
                return -1;
            }
            train_only = 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PROGRAM ": unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    const char *wrong;
    if (c->parity_step) {
        wrong = train_only   ? "the data-set options do not go with --parity-step"
                : !c->weights ? "--weights is required"
                : !c->images  ? "--images is required"
                : !c->gt      ? "--gt is required"
                : !c->out     ? "--out is required"
                              : NULL;
        if (isnan(c->lr))
            c->lr = 1e-4;
    } else {
        wrong = train_args_wrong(c);
        t->images = c->images, t->weights = c->weights, t->preset = c->preset, t->out = c->out;
        t->trainer.num_threads = c->threads;
        if (!isnan(c->lr))
            t->trainer.lr = c->lr;
    }
    if (wrong) {
        fprintf(stderr, PROGRAM ": %s; see --help\n", wrong);
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
            " \"losses_before_each_step\": [\n  ", c->lr, c->train.trainer.momentum,
            c->train.trainer.weight_decay);
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
    o.lr_warmup_until = 0;
    o.num_lr_steps = 0;
    o.all_masks = 1;
    o.momentum = c->train.trainer.momentum;
    o.weight_decay = c->train.trainer.weight_decay;
    o.train_batchnorm = c->train.trainer.train_batchnorm;
    o.backend = c->train.trainer.backend;
    o.precision = c->train.trainer.precision;
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
    if (cli_check_output(PROGRAM, out_path(&c, c.parity_step ? "losses.json"
                                                              : "state.safetensors",
                                           probe, sizeof probe)) != 0)
        return 1;
    if (!c.parity_step)
        return train_run(&c.train);
    parity_case pc;
    if (parity_case_read(&pc, PROGRAM, c.gt, c.images) != 0)
        return 1;
    int rc = parity_step(&c, &pc);
    parity_case_free(&pc);
    return rc;
}
