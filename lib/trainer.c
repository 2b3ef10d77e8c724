/* The public trainer (yolact_trainer_*): the official train.py's iteration over a backend's
 * gradient pass (backend.h: the CPU's, or the CUDA backend's). The checkpoint's float32 state dict is the weights SGD updates;
 * after each step the network's parameters are made from it again in place (BatchNorm
 * folded anew, yl_model_refill), bit for bit what building it from the checkpoint just
 * written would give, without building the network and its pass again. With trainable
 * BatchNorm the convolutions are made without it, and the pass reads its weight and bias
 * and moves its running statistics in the state dict itself (lib/cpu/train_batchnorm.c).
 * A pass with a device optimizer (the CUDA backend's) holds the parameters, gradients and
 * momentum buffers in device memory and runs SGD and the refolding there itself; the state
 * dict, momentum and gradients here are then copies fetched only when read.
 * In FP16 (mixed precision, CUDA only) the steps scale the loss as torch.cuda.amp's
 * GradScaler does with its defaults: the loss's gradients times the scale, the step's
 * gradients divided by it, a step with any gradient not finite skipped and the scale
 * halved, the scale doubled after LOSS_SCALE_INTERVAL good steps in a row. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "backend_choice.h"
#include "image_check.h"
#include "model/fresh_network.h"
#include "status.h"
#include "train/lr_schedule.h"
#include "train/sgd.h"
#include "trainer.h"
#include "weights/train_state.h"

/* torch.cuda.amp.GradScaler's defaults. */
#define LOSS_SCALE_INIT 65536.0
#define LOSS_SCALE_GROWTH 2.0
#define LOSS_SCALE_BACKOFF 0.5
#define LOSS_SCALE_INTERVAL 2000

/* The semantic segmentation conv's keys: trained, but not part of the inference network. */
static const char *const segm_keys[2] = {"semantic_seg_conv.weight", "semantic_seg_conv.bias"};

struct yolact_trainer {
    yolact_trainer_options opt;   /* opt.preset not kept */
    const yl_preset *preset;
    yolact_preset_source preset_source;
    yl_tensor_table weights;      /* the state dict: what SGD updates, what is saved */
    yl_tensor_table momentum;     /* momentum buffers under their parameters' keys */
    yl_tensor_table grads;        /* the last step's gradients, one per trainable parameter */
    int have_grads;
    yolact_model *model;          /* made from weights; NULL after a failed rebuild */
    const yl_train_pass_ops *pass_ops; /* the backend's (options.backend) */
    yl_train_pass *pass;
    int host_optimizer;           /* SGD on the host though the pass has it on the device */
    /* With the device optimizer, the steps' parameters, momentum and gradients live in the
     * pass; weights, momentum and grads are their host copies, fetched when read
     * (fetch_state) and behind them since the last step until then. */
    int host_behind;
    yl_lr_schedule schedule;
    int64_t iteration;
    double last_lr;
    /* FP16's loss scaling: the scale (0 in FP32), the good steps since it last changed, and
     * how many double it (LOSS_SCALE_INTERVAL; tests shorten it) */
    double loss_scale;
    int64_t good_steps;
    int growth_interval;
    /* The classes' names and category ids, one a line (the checkpoint metadata's layout),
     * or NULL: written into what the trainer saves. */
    char *class_names, *category_ids;
    char notes[512];              /* what creation changed (yolact_trainer_notes) */
};

void yolact_trainer_options_init(yolact_trainer_options *o)
{
    if (!o)
        return;
    static const int official_steps[4] = {280000, 600000, 700000, 750000};
    *o = (yolact_trainer_options){.struct_size = sizeof *o, .lr = 1e-3, .momentum = 0.9,
                                  .weight_decay = 5e-4, .lr_warmup_init = 1e-4,
                                  .lr_warmup_until = 500, .gamma = 0.1, .num_lr_steps = 4,
                                  .backend = YOLACT_BACKEND_CPU,
                                  .precision = YOLACT_PRECISION_FP32};
    memcpy(o->lr_steps, official_steps, sizeof official_steps);
}

static yolact_status check_options(const yolact_trainer_options *o)
{
    if (o->struct_size != sizeof *o)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "trainer options not set up by yolact_trainer_options_init");
    if (!(o->lr >= 0) || !(o->momentum >= 0) || !(o->weight_decay >= 0) ||
        !(o->lr_warmup_init >= 0) || !(o->gamma >= 0) || !isfinite(o->lr) ||
        !isfinite(o->momentum) || !isfinite(o->weight_decay) || !isfinite(o->gamma) ||
        !isfinite(o->lr_warmup_init))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "trainer options: lr, momentum, "
                       "weight_decay, lr_warmup_init and gamma must be finite and >= 0");
    if (o->num_threads < 0 || o->lr_warmup_until < 0 || o->num_lr_steps < 0 ||
        o->num_lr_steps > YOLACT_MAX_LR_STEPS)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "trainer options: num_threads and "
                       "lr_warmup_until must be >= 0, num_lr_steps 0..%d", YOLACT_MAX_LR_STEPS);
    for (int i = 1; i < o->num_lr_steps; i++)
        if (o->lr_steps[i] < o->lr_steps[i - 1])
            return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "trainer options: lr_steps must "
                           "ascend");
    if (o->num_classes != 0 && (o->num_classes < 2 || o->num_classes > YOLACT_MAX_CLASSES))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "trainer options: num_classes %d is not "
                       "0 or 2..%d (background included)", o->num_classes, YOLACT_MAX_CLASSES);
    int given = 0;
    for (int i = 0; i < 4; i++) {
        if (o->backbone_blocks[i] < 0 || o->backbone_blocks[i] > 64)
            return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "trainer options: backbone_blocks[%d] "
                           "is %d, not 0..64", i, o->backbone_blocks[i]);
        given += o->backbone_blocks[i] > 0;
    }
    if (given != 0 && given != 4)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "trainer options: backbone_blocks must be "
                       "all 0 (the preset's) or all at least 1");
    if (o->backbone_width < 0 || o->backbone_width > 1024)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "trainer options: backbone_width %d is "
                       "not 0..1024", o->backbone_width);
    if (o->features < 0 || o->features > 4096)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "trainer options: features %d is not "
                       "0..4096", o->features);
    if ((unsigned)o->mask_loss > YOLACT_MASK_LOSS_DICE)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "trainer options: mask_loss %d is not a "
                       "yolact_mask_loss", (int)o->mask_loss);
    if (o->sub_batches < 0 || o->sub_batches > YOLACT_MAX_BATCH_SIZE)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "trainer options: sub_batches %d is not "
                       "0..%d", o->sub_batches, YOLACT_MAX_BATCH_SIZE);
    if (o->backend != YOLACT_BACKEND_AUTO && o->backend != YOLACT_BACKEND_CPU &&
        o->backend != YOLACT_BACKEND_CUDA)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "trainer options: backend %d is not AUTO, "
                       "CPU or CUDA", (int)o->backend);
    if (o->device_index < 0)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "trainer options: device index %d is "
                       "negative", o->device_index);
    if (o->precision != YOLACT_PRECISION_DEFAULT && o->precision != YOLACT_PRECISION_FP32 &&
        o->precision != YOLACT_PRECISION_FP16)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "trainer options: precision %d is not "
                       "DEFAULT, FP32 or FP16", (int)o->precision);
    return YOLACT_OK;
}

/* The gradient pass of the options' backend. */
static yolact_status choose_pass(const yolact_trainer_options *o,
                                 const yl_train_pass_ops **ops)
{
    int cuda;
    YL_TRY(yl_use_cuda(o->backend, o->device_index, &cuda));
    *ops = cuda ? yl_cuda_train_pass : &yl_cpu_train_pass;
    return YOLACT_OK;
}

/* The name of trainable parameter i: the network's, semantic_seg_conv's two, then with
 * trainable BatchNorm its weights and biases. */
static const char *param_name(const yolact_trainer *t, int i)
{
    int n;
    const yl_trainable *list = t->pass_ops->trainables(t->pass, &n);
    return i < n ? list[i].name : i < n + 2 ? segm_keys[i - n]
                                            : t->pass_ops->batchnorm_param(t->pass, i - n - 2);
}

static int num_params(const yolact_trainer *t)
{
    int n;
    t->pass_ops->trainables(t->pass, &n);
    return n + 2 + t->pass_ops->batchnorm_params(t->pass);
}

/* A zeroed float32 tensor shaped as like, appended to table. */
static yolact_status table_add(yl_tensor_table *table, const yl_tensor *like, yl_tensor **out)
{
    yl_tensor *grown = realloc(table->tensors, (table->count + 1) * sizeof *grown);
    if (!grown)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for tensor '%s'", like->name);
    table->tensors = grown;
    yl_tensor *t = &grown[table->count];
    *t = *like;
    t->dtype = YL_DTYPE_F32;
    t->name = strdup(like->name);
    t->data = calloc((size_t)like->numel, sizeof(float));
    if (!t->name || !t->data) {
        free(t->name);
        free(t->data);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for tensor '%s'", like->name);
    }
    table->count++;
    *out = t;
    return YOLACT_OK;
}

/* The learning-rate schedule from the options, its state at the start: the next step's
 * iteration sets the rate as train.py does when a run starts or resumes there. */
static void restart_schedule(yolact_trainer *t)
{
    yl_lr_schedule_init(&t->schedule, t->opt.lr, t->opt.gamma, t->opt.lr_warmup_init,
                        t->opt.lr_warmup_until, t->opt.lr_steps, t->opt.num_lr_steps);
}

static void drop_network(yolact_trainer *t)
{
    if (t->pass)
        t->pass_ops->destroy(t->pass);
    yolact_model_free(t->model);
    t->pass = NULL;
    t->model = NULL;
}

/* Whether SGD runs in the pass, on the device. */
static int device_sgd(const yolact_trainer *t)
{
    return t->pass_ops->sgd_step && !t->host_optimizer;
}

static int fp16(const yolact_trainer *t)
{
    return t->opt.precision == YOLACT_PRECISION_FP16;
}

/* The device optimizer given the state dict's parameters and momentum buffers. */
static yolact_status upload_state(yolact_trainer *t)
{
    const int n = num_params(t);
    const float **params = calloc(2 * (size_t)n, sizeof *params), **momentum = params + n;
    if (!params)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for %d parameters", n);
    yolact_status s = YOLACT_OK;
    for (int i = 0; s == YOLACT_OK && i < n; i++) {
        const yl_tensor *w = yl_tensor_table_find(&t->weights, param_name(t, i));
        const yl_tensor *m = yl_tensor_table_find(&t->momentum, param_name(t, i));
        if (!w || !w->data || (m && (!m->data || m->numel != w->numel)))
            s = yl_fail(YOLACT_ERR_MODEL, "'%s' %s", param_name(t, i),
                        !w || !w->data ? "is missing" : "has a momentum buffer of another size");
        params[i] = w ? w->data : NULL;
        momentum[i] = m ? m->data : NULL;
    }
    if (s == YOLACT_OK)
        s = t->pass_ops->state_upload(t->pass, &t->weights, params, momentum);
    free(params);
    return s;
}

/* The host copies brought up to the device optimizer's state, where they are behind it.
 * They are a cache of the pass's, so a trainer read through a const pointer fills them. */
static yolact_status fetch_state(const yolact_trainer *read)
{
    yolact_trainer *t = (yolact_trainer *)read;
    if (!t->host_behind)
        return YOLACT_OK;
    for (int i = 0; i < num_params(t); i++) {
        yl_tensor *w = (yl_tensor *)yl_tensor_table_find(&t->weights, param_name(t, i));
        yl_tensor *m = (yl_tensor *)yl_tensor_table_find(&t->momentum, param_name(t, i));
        YL_TRY(t->pass_ops->state_download(t->pass, i, w->data, m ? m->data : NULL,
                                           t->have_grads ? t->grads.tensors[i].data : NULL));
    }
    t->host_behind = 0;
    return YOLACT_OK;
}

/* The network from the weights (trainable BatchNorm left out of its parameters), and its
 * gradient pass, given them to optimise on the device where it can. */
static yolact_status rebuild(yolact_trainer *t)
{
    drop_network(t);
    YL_TRY(yl_model_build(&t->weights, t->preset, t->preset_source, &t->model));
    for (int i = 0; i < t->model->num_ops; i++)
        if (t->model->ops[i].kind == YL_OP_DCN)
            return yl_fail(YOLACT_ERR_UNSUPPORTED, "training a network with deformable "
                           "convolutions (YOLACT++) is not supported");
    if (t->opt.train_batchnorm)
        YL_TRY(yl_model_refill(t->model, &t->weights, 0));
    YL_TRY(t->pass_ops->create(t->model, yl_tensor_table_find(&t->weights, segm_keys[0]),
                               yl_tensor_table_find(&t->weights, segm_keys[1]),
                               t->opt.train_batchnorm ? &t->weights : NULL,
                               t->opt.num_threads, t->opt.device_index,
                               fp16(t) ? YOLACT_PRECISION_FP16 : YOLACT_PRECISION_FP32,
                               &t->pass));
    return device_sgd(t) ? upload_state(t) : YOLACT_OK;
}

yolact_status yl_trainer_host_optimizer(yolact_trainer *t)
{
    if (fp16(t))
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "FP16 training scales the loss on the device: "
                       "SGD on the host is FP32 only");
    YL_TRY(fetch_state(t));
    t->host_optimizer = 1;
    return rebuild(t);
}

/* The line count of text (a last line without its newline counts). */
static int count_lines(const char *text)
{
    int n = 0;
    for (const char *at = text; *at; n++) {
        const char *end = strchr(at, '\n');
        at = end ? end + 1 : at + strlen(at);
    }
    return n;
}

/* The classes besides the background of a state dict: semantic_seg_conv's outputs (every
 * trainer's weights have it), or -1. */
static int foreground_classes(const yl_tensor_table *table)
{
    const yl_tensor *segm = yl_tensor_table_find(table, segm_keys[0]);
    return segm && segm->ndim >= 1 ? (int)segm->shape[0] : -1;
}

/* The class names and ids a table's metadata holds, where they fit its classes. */
static yolact_status adopt_stored_classes(yolact_trainer *t, const yl_tensor_table *table)
{
    const char *names = yl_tensor_table_metadata(table, YOLACT_CLASS_NAMES_METADATA);
    const char *ids = yl_tensor_table_metadata(table, YOLACT_CATEGORY_IDS_METADATA);
    const int classes = foreground_classes(table);
    char *names_copy = names && count_lines(names) == classes ? strdup(names) : NULL;
    char *ids_copy = ids && count_lines(ids) == classes ? strdup(ids) : NULL;
    if ((names && count_lines(names) == classes && !names_copy) ||
        (ids && count_lines(ids) == classes && !ids_copy)) {
        free(names_copy);
        free(ids_copy);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for the class names");
    }
    if (names_copy || ids_copy) {
        free(t->class_names);
        free(t->category_ids);
        t->class_names = names_copy;
        t->category_ids = ids_copy;
    }
    return YOLACT_OK;
}

/* A fresh tensor in t's place, its first dimension rows, its values zero. */
static yolact_status reshape_zeroed(yl_tensor *t, int64_t rows)
{
    int64_t numel = rows;
    for (int d = 1; d < t->ndim; d++)
        numel *= t->shape[d];
    float *data = calloc((size_t)numel, sizeof *data);
    if (!data)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for '%s'", t->name);
    free(t->data);
    t->data = data;
    t->dtype = YL_DTYPE_F32;
    t->shape[0] = rows;
    t->numel = numel;
    return YOLACT_OK;
}

/* Train a checkpoint for num_classes classes (background included) when it has another
 * count: the class-dependent layers (every prediction layer's conf_layer and
 * semantic_seg_conv) made again as the official init_weights makes them (xavier_uniform_
 * weights, zero biases), the rest kept; t->notes says so. */
static yolact_status reinit_class_layers(yolact_trainer *t, int num_classes)
{
    const yl_tensor *segm = yl_tensor_table_find(&t->weights, segm_keys[0]);
    if (!segm || segm->ndim != 4 || segm->shape[0] < 1)
        return yl_fail(YOLACT_ERR_MODEL, "no semantic_seg_conv.weight (out, in, 1, 1) to "
                       "tell the checkpoint's classes");
    const int old_classes = (int)segm->shape[0] + 1;
    if (old_classes == num_classes)
        return YOLACT_OK;
    uint64_t rng = t->opt.seed ^ 0x636c617373657321ULL; /* apart from the masks' stream */
    int layers = 0;
    for (size_t i = 0; i < t->weights.count; i++) {
        yl_tensor *w = &t->weights.tensors[i];
        const char *tail = strstr(w->name, ".conf_layer.");
        int conf = strncmp(w->name, "prediction_layers.", 18) == 0 && tail &&
                   (strcmp(tail, ".conf_layer.weight") == 0 ||
                    strcmp(tail, ".conf_layer.bias") == 0);
        int seg = strcmp(w->name, segm_keys[0]) == 0 || strcmp(w->name, segm_keys[1]) == 0;
        if (!conf && !seg)
            continue;
        if (w->ndim < 1 || !w->data || (conf && w->shape[0] % old_classes != 0))
            return yl_fail(YOLACT_ERR_MODEL, "'%s' does not have a multiple of the %d classes "
                           "semantic_seg_conv implies", w->name, old_classes);
        int64_t per_class = conf ? w->shape[0] / old_classes : 1;
        YL_TRY(reshape_zeroed(w, conf ? per_class * num_classes : num_classes - 1));
        if (w->ndim == 4)
            yl_fill_xavier_uniform(w, &rng), layers++;
    }
    snprintf(t->notes, sizeof t->notes, "the checkpoint has %d classes, the trainer %d: "
             "re-initialised %d class-dependent layers (prediction_layers.*.conf_layer, "
             "semantic_seg_conv)", old_classes, num_classes, layers);
    return YOLACT_OK;
}

/* What every trainer needs once its weights are in place: the network, the gradient
 * tensors, the schedule. Frees t on failure. */
static yolact_status finish_create(yolact_trainer *t, const char *source, yolact_trainer **out)
{
    yolact_status s = rebuild(t);
    for (int i = 0; s == YOLACT_OK && i < num_params(t); i++) {
        const yl_tensor *w = yl_tensor_table_find(&t->weights, param_name(t, i));
        yl_tensor *g;
        s = w ? table_add(&t->grads, w, &g)
              : yl_fail(YOLACT_ERR_INTERNAL, "no weight '%s'", param_name(t, i));
    }
    if (s == YOLACT_OK)
        s = adopt_stored_classes(t, &t->weights);
    if (s != YOLACT_OK) {
        yolact_trainer_destroy(t);
        return yl_fail_context(s, "%s: ", source);
    }
    restart_schedule(t);
    t->last_lr = t->opt.lr;
    *out = t;
    return YOLACT_OK;
}

/* A trainer with t->opt set from options (or the defaults) and the preset they name. */
static yolact_status start_create(const yolact_trainer_options *options, yolact_trainer **out)
{
    yolact_trainer_options defaults;
    yolact_trainer_options_init(&defaults);
    YL_TRY(check_options(options ? options : &defaults));
    yolact_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a trainer");
    t->opt = options ? *options : defaults;
    t->preset_source = YOLACT_PRESET_GIVEN;
    t->loss_scale = fp16(t) ? LOSS_SCALE_INIT : 0;
    t->growth_interval = LOSS_SCALE_INTERVAL;
    yolact_status s = choose_pass(&t->opt, &t->pass_ops);
    if (s == YOLACT_OK && fp16(t) && !t->pass_ops->scale_loss)
        s = yl_fail(YOLACT_ERR_UNSUPPORTED, "FP16 mixed-precision training runs on the CUDA "
                    "backend only: the %s backend trains in FP32", t->pass_ops->name);
    if (s == YOLACT_OK && t->opt.preset)
        s = yl_preset_lookup(t->opt.preset, &t->preset);
    t->opt.preset = NULL;
    if (s != YOLACT_OK) {
        free(t);
        return s;
    }
    *out = t;
    return YOLACT_OK;
}

yolact_status yolact_trainer_create(const char *path, const yolact_trainer_options *options,
                                    yolact_trainer **out)
{
    yl_clear_error();
    if (!path || !out)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yolact_trainer_create: %s is NULL",
                       path ? "trainer" : "checkpoint path");
    *out = NULL;
    yolact_trainer *t;
    YL_TRY(start_create(options, &t));
    yolact_status s = yl_weights_read(path, &t->weights);
    if (s == YOLACT_OK && !t->preset)
        s = yl_preset_untold(path, &t->weights, &t->preset, &t->preset_source);
    if (s == YOLACT_OK && t->opt.num_classes)
        s = reinit_class_layers(t, t->opt.num_classes);
    if (s != YOLACT_OK) {
        yolact_trainer_destroy(t);
        return yl_fail_context(s, "%s: ", path);
    }
    return finish_create(t, path, out);
}

yolact_status yolact_trainer_create_fresh(const char *preset, int num_classes,
                                          const yolact_trainer_options *options,
                                          yolact_trainer **out)
{
    yl_clear_error();
    if (!preset || !out)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yolact_trainer_create_fresh: %s is NULL",
                       preset ? "trainer" : "preset");
    *out = NULL;
    if (num_classes < 2 || num_classes > YOLACT_MAX_CLASSES)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yolact_trainer_create_fresh: num_classes "
                       "%d is not 2..%d (background included)", num_classes,
                       YOLACT_MAX_CLASSES);
    yolact_trainer_options o;
    yolact_trainer_options_init(&o);
    if (options)
        o = *options;
    o.preset = preset;
    yolact_trainer *t;
    YL_TRY(start_create(&o, &t));
    yl_fresh_network_size size = {.backbone_width = t->opt.backbone_width,
                                  .features = t->opt.features};
    memcpy(size.backbone_blocks, t->opt.backbone_blocks, sizeof size.backbone_blocks);
    yolact_status s = yl_fresh_network(t->preset, &size, num_classes, t->opt.seed, &t->weights);
    if (s != YOLACT_OK) {
        yolact_trainer_destroy(t);
        return s;
    }
    return finish_create(t, preset, out);
}

const char *yolact_trainer_notes(const yolact_trainer *t)
{
    return t ? t->notes : "";
}

/* text's lines joined from count strings, or NULL when out of memory. */
static char *join_lines(int count, const char *const *lines)
{
    size_t n = 1;
    for (int i = 0; i < count; i++)
        n += strlen(lines[i]) + 1;
    char *text = malloc(n), *at = text;
    for (int i = 0; text && i < count; i++)
        at += sprintf(at, "%s%s", lines[i], i + 1 < count ? "\n" : "");
    if (text)
        *at = '\0';
    return text;
}

yolact_status yolact_trainer_set_classes(yolact_trainer *t, int count,
                                         const char *const *names, const int *category_ids)
{
    yl_clear_error();
    if (!t || !names)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yolact_trainer_set_classes: %s is NULL",
                       t ? "names" : "trainer");
    if (count != foreground_classes(&t->weights))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yolact_trainer_set_classes: %d names for "
                       "a network of %d classes besides the background", count,
                       foreground_classes(&t->weights));
    for (int i = 0; i < count; i++) {
        if (!names[i] || !names[i][0] || strchr(names[i], '\n') || strchr(names[i], '\r'))
            return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yolact_trainer_set_classes: class "
                           "%d's name is %s", i, !names[i] ? "NULL" : !names[i][0] ? "empty"
                           : "more than one line");
        if (category_ids && category_ids[i] < 1)
            return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yolact_trainer_set_classes: class "
                           "%d's category id %d is not positive", i, category_ids[i]);
    }
    char *text = join_lines(count, names), *ids = NULL;
    if (text && category_ids) {
        char **numbers = calloc((size_t)count, sizeof *numbers);
        char *digits = calloc((size_t)count, 12);
        for (int i = 0; numbers && digits && i < count; i++) {
            numbers[i] = digits + 12 * (size_t)i;
            snprintf(numbers[i], 12, "%d", category_ids[i]);
        }
        ids = numbers && digits ? join_lines(count, (const char *const *)numbers) : NULL;
        free(numbers);
        free(digits);
    }
    if (!text || (category_ids && !ids)) {
        free(text);
        free(ids);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for the class names");
    }
    free(t->class_names);
    free(t->category_ids);
    t->class_names = text;
    t->category_ids = ids;
    return YOLACT_OK;
}

void yolact_trainer_destroy(yolact_trainer *t)
{
    if (!t)
        return;
    if (t->pass)
        t->pass_ops->destroy(t->pass);
    yolact_model_free(t->model);
    yl_tensor_table_free(&t->weights);
    yl_tensor_table_free(&t->momentum);
    yl_tensor_table_free(&t->grads);
    free(t->class_names);
    free(t->category_ids);
    free(t);
}

/* Check a batch and turn its ground truth into the loss's (gt: batch entries, freed by the
 * caller with yl_gt_free whatever the status). */
static yolact_status prepare_batch(const yolact_trainer *t, const yolact_image *images,
                                   const yolact_ground_truth *truth, int batch, yl_gt *gt)
{
    for (int b = 0; b < batch; b++) {
        YL_TRY(yl_image_check(&images[b], b, YOLACT_BACKEND_CPU, 1));
        const yolact_ground_truth *g = &truth[b];
        if (g->count < 0 || (g->count > 0 && !g->objects))
            return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "ground truth of image %d: %d objects "
                           "at %p", b, g->count, (const void *)g->objects);
        yl_gt_object *objects = malloc(sizeof *objects * (size_t)(g->count ? g->count : 1));
        if (!objects)
            return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for %d objects", g->count);
        for (int i = 0; i < g->count; i++) {
            const yolact_gt_object *o = &g->objects[i];
            objects[i] = (yl_gt_object){{o->x1, o->y1, o->x2, o->y2}, o->label, o->crowd,
                                        o->mask};
        }
        yolact_status s = yl_gt_prepare(objects, g->count, g->mask_height, g->mask_width,
                                        t->model->num_classes, &gt[b]);
        free(objects);
        if (s != YOLACT_OK)
            return yl_fail_context(s, "image %d: ", b);
    }
    return YOLACT_OK;
}

/* The loss of the batch (or of part `part` of a step's batch), with the gradients when
 * backward; trainable BatchNorm's running averages move when backward on part 0. */
static yolact_status run_batch(yolact_trainer *t, const yolact_image *images,
                               const yolact_ground_truth *truth, int batch, int backward,
                               int part, yolact_losses *out)
{
    yl_clear_error();
    if (!t || !images || !truth || batch <= 0)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s", !t ? "trainer is NULL"
                       : !images ? "images is NULL" : !truth ? "ground truth is NULL"
                       : "batch must be at least 1");
    if (!t->pass)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "the trainer's network failed to rebuild "
                       "after its last step: load a state or create it again");
    yl_gt *gt = calloc((size_t)batch, sizeof *gt);
    if (!gt)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a batch of %d", batch);
    yolact_status s = prepare_batch(t, images, truth, batch, gt);
    yl_loss_config cfg = t->preset->loss;
    if (t->opt.all_masks)
        cfg.mask_sampling = YL_MASK_SAMPLE_ALL;
    static const yl_mask_loss_kind kinds[] = {YL_MASK_LOSS_BCE_OFFICIAL,
                                              YL_MASK_LOSS_BCE_STABLE, YL_MASK_LOSS_DICE};
    cfg.mask_loss = kinds[t->opt.mask_loss];
    /* Each part of a step's batch its own stream of masks_to_train draws. */
    cfg.seed = t->opt.seed + (uint64_t)t->iteration + ((uint64_t)part << 32);
    yl_losses l = {0};
    if (s == YOLACT_OK)
        s = t->pass_ops->run(t->pass, &cfg, images, gt, batch, backward,
                             backward && part == 0, &l);
    for (int b = 0; b < batch; b++)
        yl_gt_free(&gt[b]);
    free(gt);
    if (s == YOLACT_OK && out)
        *out = (yolact_losses){l.B, l.C, l.M, l.S, l.total, l.num_positives, 0};
    return s;
}

yolact_status yolact_trainer_evaluate(yolact_trainer *t, const yolact_image *images,
                                      const yolact_ground_truth *gt, int batch,
                                      yolact_losses *losses)
{
    return run_batch(t, images, gt, batch, 0, 0, losses);
}

/* One SGD step of every parameter from the gradients, momentum buffers made on their
 * first step (on the device, their host copies too, filled when fetched). */
static yolact_status sgd_update(yolact_trainer *t, double lr)
{
    const yl_sgd_options opt = {.lr = lr, .momentum = t->opt.momentum,
                                .weight_decay = t->opt.weight_decay};
    const int device = device_sgd(t);
    for (size_t i = 0; i < t->grads.count; i++) {
        const yl_tensor *g = &t->grads.tensors[i];
        yl_tensor *p = (yl_tensor *)yl_tensor_table_find(&t->weights, g->name);
        yl_tensor *buf = (yl_tensor *)yl_tensor_table_find(&t->momentum, g->name);
        int first = buf == NULL;
        if (first && opt.momentum != 0)
            YL_TRY(table_add(&t->momentum, g, &buf));
        if (!device)
            YL_TRY(yl_sgd_step(&opt, (size_t)p->numel, p->data, g->data,
                               buf ? buf->data : NULL, &first));
    }
    return device ? t->pass_ops->sgd_step(t->pass, &opt) : YOLACT_OK;
}

/* Every part's ground truth checked before the first part runs, so a bad one changes
 * nothing. */
static yolact_status check_parts(const yolact_trainer *t, const yolact_image *images,
                                 const yolact_ground_truth *truth, int batch)
{
    yl_gt *gt = calloc((size_t)batch, sizeof *gt);
    if (!gt)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a batch of %d", batch);
    yolact_status s = prepare_batch(t, images, truth, batch, gt);
    for (int b = 0; b < batch; b++)
        yl_gt_free(&gt[b]);
    free(gt);
    return s;
}

/* What the step's gathered gradients are multiplied by to undo the loss scale (1 in FP32);
 * a power of two, so exact but where the result leaves float's range. */
static float unscale(const yolact_trainer *t)
{
    return fp16(t) ? (float)(1.0 / t->loss_scale) : 1.0f;
}

/* GradScaler.update: after a skipped step the scale backs off and the count restarts; after
 * growth_interval good steps in a row it grows. */
static void update_loss_scale(yolact_trainer *t, int good)
{
    if (!good) {
        t->loss_scale *= LOSS_SCALE_BACKOFF;
        t->good_steps = 0;
    } else if (++t->good_steps >= t->growth_interval) {
        t->loss_scale *= LOSS_SCALE_GROWTH;
        t->good_steps = 0;
    }
}

/* The batch's loss and gradients in sub_batches parts, each part's averaged as train.py's
 * over that many GPUs: summed into t->grads, or with the device optimizer into the pass's
 * (gather_grads: the same float additions, the last part's scaling the sum). */
static yolact_status accumulate_parts(yolact_trainer *t, const yolact_image *images,
                                      const yolact_ground_truth *gt, int batch, int parts,
                                      yolact_losses *sum)
{
    if (!images || !gt || batch <= 0 || !t->pass)
        return run_batch(t, images, gt, batch, 1, 0, sum); /* it says what is wrong */
    if (parts > batch)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "a batch of %d images cannot be cut into "
                       "sub_batches = %d parts", batch, parts);
    YL_TRY(check_parts(t, images, gt, batch));
    const int device = device_sgd(t);
    const float scale = 1.0f / (float)parts;
    size_t largest = 0;
    for (int i = 0; !device && i < num_params(t); i++)
        largest = (size_t)t->grads.tensors[i].numel > largest ? (size_t)t->grads.tensors[i].numel
                                                             : largest;
    float *part_grad = device ? NULL : malloc(largest * sizeof *part_grad);
    if (!device && !part_grad)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a part's gradients");
    *sum = (yolact_losses){0};
    const int each = batch / parts;
    yolact_status s = YOLACT_OK;
    for (int k = 0, start = 0; s == YOLACT_OK && k < parts; k++) {
        const int count = k + 1 < parts ? each : batch - start;
        yolact_losses l;
        s = run_batch(t, images + start, gt + start, count, 1, k, &l);
        if (s == YOLACT_OK && device)
            s = t->pass_ops->gather_grads(t->pass, k > 0,
                                          k + 1 == parts ? scale * unscale(t) : 1.0f);
        if (s != YOLACT_OK)
            break;
        for (int i = 0; !device && i < num_params(t); i++) {
            yl_tensor *g = &t->grads.tensors[i];
            t->pass_ops->grad(t->pass, i, k == 0 ? g->data : part_grad);
            float *acc = g->data;
            for (int64_t j = 0; k > 0 && j < g->numel; j++)
                acc[j] += part_grad[j];
        }
        sum->B += l.B, sum->C += l.C, sum->M += l.M, sum->S += l.S, sum->total += l.total;
        sum->num_positives += l.num_positives;
        start += count;
    }
    free(part_grad);
    if (s != YOLACT_OK) { /* the gradients hold some parts' only */
        t->have_grads = 0;
        return s;
    }
    for (int i = 0; !device && i < num_params(t); i++) {
        float *g = t->grads.tensors[i].data;
        for (int64_t j = 0; j < t->grads.tensors[i].numel; j++)
            g[j] *= scale;
    }
    sum->B /= parts, sum->C /= parts, sum->M /= parts, sum->S /= parts, sum->total /= parts;
    return YOLACT_OK;
}

yolact_status yolact_trainer_step(yolact_trainer *t, const yolact_image *images,
                                  const yolact_ground_truth *gt, int batch,
                                  yolact_losses *losses)
{
    yolact_losses l;
    const int parts = t && t->opt.sub_batches > 1 ? t->opt.sub_batches : 1;
    if (t && t->pass && fp16(t))
        t->pass_ops->scale_loss(t->pass, t->loss_scale);
    if (parts == 1) {
        YL_TRY(run_batch(t, images, gt, batch, 1, 0, &l));
        if (device_sgd(t))
            YL_TRY(t->pass_ops->gather_grads(t->pass, 0, unscale(t)));
        for (int i = 0; !device_sgd(t) && i < num_params(t); i++)
            t->pass_ops->grad(t->pass, i, t->grads.tensors[i].data);
    } else {
        YL_TRY(accumulate_parts(t, images, gt, batch, parts, &l));
    }
    t->have_grads = 1;
    t->host_behind = device_sgd(t);
    const double lr = yl_lr_schedule_at(&t->schedule, (int)t->iteration);
    t->iteration++;
    l.step_taken = isfinite(l.total);
    if (fp16(t)) {
        if (l.step_taken)
            YL_TRY(t->pass_ops->grads_finite(t->pass, &l.step_taken));
        update_loss_scale(t, l.step_taken);
    }
    if (losses)
        *losses = l;
    if (!l.step_taken)
        return YOLACT_OK;
    t->last_lr = lr;
    YL_TRY(sgd_update(t, lr));
    if (device_sgd(t))
        return YOLACT_OK; /* the pass made the ops' parameters again itself */
    yolact_status s = yl_model_refill(t->model, &t->weights, !t->opt.train_batchnorm);
    if (s != YOLACT_OK) {
        drop_network(t);
        return s;
    }
    s = t->pass_ops->weights_changed(t->pass);
    if (s != YOLACT_OK)
        drop_network(t);
    return s;
}

yolact_backend yolact_trainer_backend(const yolact_trainer *t)
{
    return !t ? YOLACT_BACKEND_AUTO
              : t->pass_ops == &yl_cpu_train_pass ? YOLACT_BACKEND_CPU : YOLACT_BACKEND_CUDA;
}

int64_t yolact_trainer_iteration(const yolact_trainer *t)
{
    return t ? t->iteration : 0;
}

double yolact_trainer_lr(const yolact_trainer *t)
{
    return t ? t->last_lr : 0;
}

double yolact_trainer_loss_scale(const yolact_trainer *t)
{
    return t ? t->loss_scale : 0;
}

void yl_trainer_set_loss_scale(yolact_trainer *t, double scale, int growth_interval)
{
    t->loss_scale = scale;
    t->good_steps = 0;
    t->growth_interval = growth_interval;
}

const char *yolact_trainer_preset(const yolact_trainer *t)
{
    return t ? t->preset->name : NULL;
}

int yolact_trainer_input_size(const yolact_trainer *t)
{
    return t ? t->preset->input_size : 0;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

/* The metadata pairs yolact_model_load reads (the preset, the classes' names and ids) into
 * pairs, NULL-terminated. */
static void stored_metadata(const yolact_trainer *t, const char *pairs[7])
{
    int n = 0;
    pairs[n++] = YOLACT_PRESET_METADATA, pairs[n++] = t->preset->name;
    if (t->class_names)
        pairs[n++] = YOLACT_CLASS_NAMES_METADATA, pairs[n++] = t->class_names;
    if (t->category_ids)
        pairs[n++] = YOLACT_CATEGORY_IDS_METADATA, pairs[n++] = t->category_ids;
    pairs[n] = NULL;
}

yolact_status yolact_trainer_save_weights(const yolact_trainer *t, const char *path)
{
    yl_clear_error();
    if (!t || !path)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yolact_trainer_save_weights: %s is NULL",
                       t ? "path" : "trainer");
    YL_TRY(fetch_state(t));
    const char *metadata[7];
    stored_metadata(t, metadata);
    return ends_with(path, ".pth") ? yl_weights_write_pth(&t->weights, path)
                                   : yl_weights_write_safetensors(&t->weights, YL_DTYPE_F32,
                                                                  metadata, path);
}

yolact_status yolact_trainer_save_gradients(const yolact_trainer *t, const char *path)
{
    yl_clear_error();
    if (!t || !path)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yolact_trainer_save_gradients: %s is NULL", t ? "path" : "trainer");
    if (!t->have_grads)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "no gradients yet: take a step first");
    YL_TRY(fetch_state(t));
    return yl_weights_write_safetensors(&t->grads, YL_DTYPE_F32, NULL, path);
}

yolact_status yolact_trainer_save_state(const yolact_trainer *t, const char *path)
{
    yl_clear_error();
    if (!t || !path)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yolact_trainer_save_state: %s is NULL",
                       t ? "path" : "trainer");
    YL_TRY(fetch_state(t));
    const yl_train_state state = {
        .iteration = t->iteration,
        .sgd = {.lr = t->last_lr, .momentum = t->opt.momentum,
                .weight_decay = t->opt.weight_decay},
        .weights = t->weights,
        .momentum = t->momentum,
        .loss_scale = t->loss_scale,
        .loss_scale_good_steps = t->good_steps};
    const char *metadata[7];
    stored_metadata(t, metadata);
    return yl_train_state_write(&state, metadata, path);
}

yolact_status yolact_trainer_load_state(yolact_trainer *t, const char *path)
{
    yl_clear_error();
    if (!t || !path)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yolact_trainer_load_state: %s is NULL",
                       t ? "path" : "trainer");
    yl_train_state state;
    YL_TRY(yl_train_state_read(path, &state));
    for (size_t i = 0; i < t->grads.count; i++) {
        const yl_tensor *g = &t->grads.tensors[i];
        const yl_tensor *w = yl_tensor_table_find(&state.weights, g->name);
        if (!w || !w->data || w->numel != g->numel) {
            yl_train_state_free(&state);
            return yl_fail(YOLACT_ERR_MODEL, "%s: the state's '%s' is %s, not the trainer's "
                           "network's", path, g->name, w ? "of another shape" : "missing");
        }
    }
    yolact_status s = adopt_stored_classes(t, &state.weights);
    if (s != YOLACT_OK) {
        yl_train_state_free(&state);
        return s;
    }
    yl_tensor_table_free(&t->weights);
    yl_tensor_table_free(&t->momentum);
    t->weights = state.weights;
    t->momentum = state.momentum;
    t->host_behind = 0; /* the device's state goes with its pass */
    t->iteration = state.iteration;
    t->last_lr = state.sgd.lr;
    if (fp16(t)) { /* an FP32 run's state starts the scaling afresh */
        t->loss_scale = state.loss_scale > 0 ? state.loss_scale : LOSS_SCALE_INIT;
        t->good_steps = state.loss_scale_good_steps;
    }
    restart_schedule(t);
    s = rebuild(t);
    return s == YOLACT_OK ? s : yl_fail_context(s, "%s: ", path);
}
