/* The model: a named preset (what weights cannot tell), the architecture inferred from the
 * tensor table, and the network described once as a list of ops over named buffers that a
 * backend runs. BatchNorm is folded into the convolutions here, at load time. */
#ifndef YL_MODEL_H
#define YL_MODEL_H

#include "ops/conv.h"
#include "ops/detect.h"
#include "ops/input.h"
#include "ops/maskiou.h"
#include "ops/priors.h"
#include "train/loss_config.h"
#include "weights/tensor_table.h"
#include "yolact.h"

#define YL_MAX_LEVELS 6
#define YL_MAX_SCALES 3
#define YL_MAX_ASPECT_RATIOS 3

/* What a preset holds: only what the weights cannot tell. */
typedef struct yl_preset {
    const char *name;
    int input_size;
    yolact_backbone_kind backbone;
    int first_selected_layer;       /* backbone stages feeding the FPN: this one and up */
    int num_downsample;             /* extra FPN levels by stride-2 convs */
    int num_scales;
    float scales[YL_MAX_LEVELS][YL_MAX_SCALES]; /* anchor scales in input pixels, per level */
    int num_aspect_ratios;
    float aspect_ratios[YL_MAX_ASPECT_RATIOS];
    int square_anchors;
    yl_input_norm input_norm;
    yl_loss_config loss;            /* the configuration's MultiBoxLoss settings */
} yl_preset;

const yl_preset *yl_preset_find(const char *name);
/* The preset the official eval.py would pick from a checkpoint's file name
 * ("<preset>_<epoch>_<iteration>.pth"), or NULL. */
const yl_preset *yl_preset_from_file_name(const char *path);

/* The 80 COCO class names and their COCO category ids, in the network's class order. */
extern const char *const yl_coco_class_names[80];
extern const int yl_coco_category_ids[80];

typedef enum yl_op_kind {
    YL_OP_CONV = 0,       /* out = act(conv(in) + bias + residual) */
    YL_OP_MAXPOOL,        /* out = maxpool(in) */
    YL_OP_RESIZE,         /* out = bilinear resize of in to out's size */
    YL_OP_ADD,            /* out = in + residual (DarkNet blocks add after the activation) */
    YL_OP_HEAD_OUTPUT,    /* permute loc/conf/coeff maps of one level into the prior rows,
                             softmax over classes, tanh on coefficients */
    YL_OP_PROTO_OUTPUT,   /* permute the prototypes (K, H, W) to (H, W, K) */
    YL_OP_DCN             /* out = act(dcn(in) + bias): YOLACT++'s modulated deformable
                             convolution, sampling where buffer `offsets` (its offset/mask
                             convolution's raw output) says; BN folded as for CONV */
} yl_op_kind;

/* The part of the network an op belongs to, recorded by the builder: the stage a profile
 * charges it to. */
typedef enum yl_op_part {
    YL_PART_BACKBONE = 0,
    YL_PART_FPN,
    YL_PART_PROTONET,           /* including the (K,H,W) -> (H,W,K) permute */
    YL_PART_HEADS               /* prediction convolutions, softmax, tanh */
} yl_op_part;

/* Who runs an op on a backend that has a vendor library (cuDNN): the library takes the
 * backbone's and the FPN's convolutions, our kernels every other op, the protonet's and the
 * heads' convolutions among them (many small shapes, with their epilogue fused). The CPU
 * backend runs every op itself. */
typedef enum yl_op_engine {
    YL_ENGINE_OWN = 0,
    YL_ENGINE_LIBRARY
} yl_op_engine;

/* A buffer is a (channels, height, width) float32 tensor; index 0 is the network input. */
typedef struct yl_buffer_desc {
    int channels, height, width;
} yl_buffer_desc;

/* Its element count, one image. */
static inline size_t yl_buffer_floats(const yl_buffer_desc *b)
{
    return (size_t)b->channels * b->height * b->width;
}

typedef struct yl_op {
    yl_op_kind kind;
    const char *name;          /* the checkpoint's module name, for messages */
    yl_op_part part;
    yl_op_engine engine;
    int in, out;               /* buffer indices */
    int residual;              /* CONV: added before the activation, or -1 */
    int offsets;               /* DCN: the buffer of its offsets and modulation logits */
    yl_conv_desc conv;
    const float *weight, *bias; /* CONV, DCN: folded, owned by the model's parameter block */
    const float *bn_scale;     /* CONV, DCN: the frozen BatchNorm's gamma / sqrt(var + eps) per
                                  output channel folded in (training unfolds with it), or NULL */
    yl_activation act;
    int pool_kernel, pool_stride, pool_pad;
    int level;                 /* HEAD_OUTPUT: the level; in/out/residual = loc/conf/coeff maps */
} yl_op;

/* How one module's parameters were put into the block from the checkpoint: a convolution
 * with its BatchNorm folded in, one part of the head's concatenated convolution, a mask-IoU
 * layer. Kept so a trainer can make them again after it changed the checkpoint's values
 * (yl_model_refill), by the code that made them first. */
typedef struct yl_param_fill {
    const char *module;        /* holds .weight, and .bias when has_bias; owned */
    const char *bn;            /* the BatchNorm folded in, or NULL; owned */
    int has_bias;
    int rows;                  /* output channels */
    size_t per_row;            /* weights per output channel */
    size_t weight, bias;       /* offsets into the parameter block */
    size_t bn_scale;           /* with bn: the offset of its scale (yl_op.bn_scale) */
} yl_param_fill;

typedef struct yl_level {
    int height, width;
    int first_prior, num_priors;
} yl_level;

struct yolact_model {
    yolact_model_info info;
    yl_preset preset;

    int num_buffers;
    yl_buffer_desc *buffers;
    int num_ops;
    yl_op *ops;
    float *params;              /* every folded weight and bias, one block */
    yl_param_fill *fills;       /* how the block was made from the checkpoint, module by module */
    int num_fills;
    /* What backends make of the model for their sessions (cache.h): the one part that
     * changes after load, behind its own lock. */
    struct yl_model_cache *cache;

    int num_levels;
    yl_level levels[YL_MAX_LEVELS];
    int anchors_per_cell;
    int num_classes;            /* with background */
    int num_prototypes;
    int proto_h, proto_w;
    int num_priors;
    float *priors;              /* (num_priors, 4) cx, cy, w, h */
    yl_maskiou_net maskiou;     /* YOLACT++ mask re-scoring; num_layers 0 without it */

    char **class_names;         /* num_classes - 1, owned */
    int *category_ids;
    char **unused_keys;         /* owned */
    char *preset_name;
};

/* Build a model from a tensor table and a preset. preset_source says how it was chosen.
 * On failure returns a status whose message names the tensor at fault. */
yolact_status yl_model_build(const yl_tensor_table *table, const yl_preset *preset,
                             yolact_preset_source preset_source, yolact_model **model);

/* Every network buffer of m for a batch of images in one arena that alloc allocates (host or
 * device memory; on failure it returns a status with a message): *buffers (m->num_buffers
 * pointers, malloc'ed; buffer b holds batch (C, H, W) tensors one after another) point into
 * *arena, each 64-byte aligned relative to it; buffers whose lifetimes do not
 * overlap share memory, and no op's output overlaps its inputs. The caller frees both, also
 * on failure (*arena may then be NULL). */
typedef yolact_status (*yl_arena_alloc)(void *ctx, size_t bytes, void **arena);
yolact_status yl_plan_arena(const yolact_model *m, int batch, yl_arena_alloc alloc, void *ctx,
                            float **arena, float ***buffers);

/* Fold BatchNorm (gamma, beta, running mean and variance) into the convolution before it:
 * weight (out_channels x per_channel) *= scale = gamma / sqrt(var + eps),
 * bias = beta + (conv_bias - mean) * scale (conv_bias NULL: no bias of its own, as every
 * plain convolution before a BN; DCN layers have one). scale (out_channels) is written
 * unless NULL. */
/* The scale yl_fold_batchnorm folds into a weight row: gamma / sqrt(var + eps), in double. */
double yl_batchnorm_fold_scale(float gamma, float var, double eps);

void yl_fold_batchnorm(float *weight, float *bias, int out_channels, size_t per_channel,
                       const float *conv_bias, const float *gamma, const float *beta, const float *mean,
                       const float *var, double eps, float *scale);

/* Put fill's parameters into params from table: the module's weight (and bias) copied, its
 * BatchNorm folded in; without fold_batchnorm the BatchNorm is left out (the convolution
 * alone: its own bias or zeros, a scale of 1), for training it with batch statistics. A
 * tensor missing, not floating point or of another size: YOLACT_ERR_MODEL naming it. */
yolact_status yl_param_fill_run(const yl_param_fill *fill, const yl_tensor_table *table,
                                int fold_batchnorm, float *params);

/* The scales yl_param_fill_run folds into fill's weight rows from table (its BatchNorm's,
 * yl_batchnorm_fold_scale of each row) to scale (fill->rows); fill->bn must be set. A
 * tensor missing or of another size: YOLACT_ERR_MODEL naming it. */
yolact_status yl_param_fill_fold_scales(const yl_param_fill *fill, const yl_tensor_table *table,
                                        double *scale);

/* Every parameter of m made again from table (the checkpoint m was built from, its values
 * changed by training, its names and shapes the same) exactly as the build made them, bit for
 * bit, without building anything else. Only for a model nothing runs on meanwhile (a
 * trainer's own); what backends prepared from the weights is theirs to make again. On
 * failure the parameters are partly new: the model must not be run. */
yolact_status yl_model_refill(yolact_model *m, const yl_tensor_table *table,
                              int fold_batchnorm);

/* A trainable parameter of the network in the official state dict's terms: where its
 * folded values lie in the model's parameter block. The head's concatenated convolution
 * gives three (bbox_layer, conf_layer, mask_layer), a convolution folded with a frozen
 * BatchNorm its weight only (a DCN's bias too), scaled back by bn_scale. */
typedef struct yl_trainable {
    char name[160];            /* the state-dict key, e.g. "fpn.lat_layers.0.weight" */
    int ndim;
    int64_t shape[4];
    size_t offset;             /* of its first float in yolact_model.params */
    size_t rows, per_row;      /* output channels, floats per channel */
    const float *bn_scale;     /* (rows): unfolded = folded / bn_scale; NULL: not folded */
} yl_trainable;

/* The trainable parameters of m's op list (the mask-IoU net's excepted) to *list
 * (malloc'ed, *count entries), each once however many ops share it; *block_floats: the
 * floats of m->params they lie in. */
yolact_status yl_model_trainables(const yolact_model *m, yl_trainable **list, int *count,
                                  size_t *block_floats);

/* nn.BatchNorm2d's epsilon and momentum, YOLACT's: a trainable BatchNorm's. */
#define YL_BN_EPS 1e-5f
#define YL_BN_MOMENTUM 0.1f

/* A BatchNorm that training keeps apart from the convolution it follows (trainable
 * BatchNorm: yl_model_refill without folding), found through the model's fills. */
typedef struct yl_bn_desc {
    int op;                     /* the convolution it follows */
    const char *module;         /* e.g. "backbone.layers.0.0.bn1", the model's */
    char param[2][192];         /* its trainable parameters' keys: module.weight, .bias */
    int channels;
    size_t plane;               /* H·W of the convolution's output */
    const float *gamma, *beta;  /* the state dict's weight and bias, borrowed */
    float *running_mean, *running_var; /* the state dict's, updated in place */
    yl_activation act;          /* what the convolution fuses in inference, after it here */
    int residual;               /* likewise: the buffer added before the activation, or -1 */
} yl_bn_desc;

/* The BatchNorm of every convolution of m that has one (m's fills name them), in op order,
 * its tensors found in table (their float32 data): *list (malloc'ed, *count entries). A
 * tensor missing or of another size: YOLACT_ERR_MODEL naming it. */
yolact_status yl_model_batchnorms(const yolact_model *m, const yl_tensor_table *table,
                                  yl_bn_desc **list, int *count);

/* The gradient of t unfolded to out (rows x per_row floats) from the gradient of the
 * folded parameters, laid out as m->params (block): W_folded = W·s per output channel, so
 * dL/dW = dL/dW_folded · s. */
void yl_trainable_unfold_grad(const yl_trainable *t, const float *block, float *out);

/* Guess the preset from the shapes when neither the options nor the file name tell. */
const yl_preset *yl_preset_guess(const yl_tensor_table *table);
/* The preset called name, or YOLACT_ERR_INVALID_ARGUMENT listing the known ones. */
yolact_status yl_preset_lookup(const char *name, const yl_preset **preset);
/* The preset of a checkpoint whose options name none: the one its metadata names, else
 * from its file name as eval.py picks it, else guessed from the shapes; *source says which.
 * YOLACT_ERR_MODEL when the metadata names no preset there is. */
yolact_status yl_preset_untold(const char *path, const yl_tensor_table *table,
                               const yl_preset **preset, yolact_preset_source *source);

#endif
