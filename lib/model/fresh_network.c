/* A network's state dict made from nothing, as the official Yolact.init_weights leaves it for
 * a run without a pretrained backbone: the backbone's convolutions as PyTorch's nn.Conv2d
 * initialises them (kaiming_uniform_ with a = sqrt(5): U(-1/sqrt(fan_in), 1/sqrt(fan_in))),
 * every other convolution xavier_uniform_ with a zero bias (yolact_base does not use the
 * focal loss, so the conf layer's bias is zero too), BatchNorm as PyTorch makes it (weight
 * 1, bias 0, running mean 0, variance 1). The keys and their order are the official
 * state dict's for a ResNet or DarkNet-53 backbone. */
#include "fresh_network.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "train/mask_loss.h"

typedef struct builder {
    yl_tensor_table *table;
    uint64_t rng;
    size_t capacity;
} builder;

/* A uniform draw in [-bound, bound) from the seeded stream. */
static float uniform(uint64_t *rng, double bound)
{
    double u = (double)(yl_splitmix64(rng) >> 11) * 0x1.0p-53;
    return (float)((2 * u - 1) * bound);
}

void yl_fill_xavier_uniform(yl_tensor *t, uint64_t *rng)
{
    size_t receptive = 1;
    for (int d = 2; d < t->ndim; d++)
        receptive *= (size_t)t->shape[d];
    double fan_in = (double)t->shape[1] * receptive, fan_out = (double)t->shape[0] * receptive;
    double bound = sqrt(6.0 / (fan_in + fan_out));
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = uniform(rng, bound);
}

/* A tensor named by the format, shaped dims (ndim 0..4), zero-filled, to *out. */
static yolact_status add(builder *b, yl_tensor **out, yl_dtype dtype, int ndim,
                         const int64_t *dims, const char *fmt, ...)
{
    yl_tensor_table *tab = b->table;
    if (tab->count == b->capacity) {
        size_t cap = b->capacity ? 2 * b->capacity : 256;
        yl_tensor *grown = realloc(tab->tensors, cap * sizeof *grown);
        if (!grown)
            return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a fresh network");
        tab->tensors = grown;
        b->capacity = cap;
    }
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    yl_tensor *t = &tab->tensors[tab->count];
    *t = (yl_tensor){.dtype = dtype, .ndim = ndim, .numel = 1};
    for (int d = 0; d < ndim; d++) {
        t->shape[d] = dims[d];
        t->numel *= dims[d];
    }
    t->name = strdup(name);
    t->data = dtype == YL_DTYPE_F32 ? calloc((size_t)t->numel, sizeof(float)) : NULL;
    if (!t->name || (dtype == YL_DTYPE_F32 && !t->data)) {
        free(t->name);
        free(t->data);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for '%s'", name);
    }
    tab->count++;
    if (out)
        *out = t;
    return YOLACT_OK;
}

/* A backbone convolution (no bias), PyTorch's default initialisation. */
static yolact_status backbone_conv(builder *b, const char *name, int out, int in, int k)
{
    const int64_t dims[4] = {out, in, k, k};
    yl_tensor *t;
    YL_TRY(add(b, &t, YL_DTYPE_F32, 4, dims, "%s.weight", name));
    double bound = 1.0 / sqrt((double)in * k * k);
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = uniform(&b->rng, bound);
    return YOLACT_OK;
}

/* A BatchNorm layer as PyTorch makes it: the identity on its running statistics. */
static yolact_status batchnorm(builder *b, const char *name, int channels)
{
    const int64_t dims[1] = {channels};
    static const char *const parts[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int p = 0; p < 4; p++) {
        yl_tensor *t;
        YL_TRY(add(b, &t, YL_DTYPE_F32, 1, dims, "%s.%s", name, parts[p]));
        if (p == 0 || p == 3)
            for (int c = 0; c < channels; c++)
                t->data[c] = 1.0f;
    }
    YL_TRY(add(b, NULL, YL_DTYPE_I64, 0, NULL, "%s.num_batches_tracked", name));
    return YOLACT_OK;
}

/* A head convolution with bias: xavier_uniform_, bias zero. */
static yolact_status head_conv(builder *b, const char *name, int out, int in, int k)
{
    const int64_t dims[4] = {out, in, k, k}, bias_dims[1] = {out};
    yl_tensor *t;
    YL_TRY(add(b, &t, YL_DTYPE_F32, 4, dims, "%s.weight", name));
    yl_fill_xavier_uniform(t, &b->rng);
    YL_TRY(add(b, NULL, YL_DTYPE_F32, 1, bias_dims, "%s.bias", name));
    return YOLACT_OK;
}

/* torchvision's Bottleneck stages as the official ResNetBackbone builds them (width 64). */
static yolact_status resnet(builder *b, const int blocks[4], int width)
{
    char name[160];
    int inplanes = width;
    for (int stage = 0; stage < 4; stage++) {
        const int planes = width << stage;
        for (int k = 0; k < blocks[stage]; k++) {
            const char *prefix = "backbone.layers";
            static const char *const convs[3] = {"conv1", "conv2", "conv3"};
            const int outs[3] = {planes, planes, 4 * planes}, ins[3] = {inplanes, planes, planes};
            for (int c = 0; c < 3; c++) {
                snprintf(name, sizeof name, "%s.%d.%d.%s", prefix, stage, k, convs[c]);
                YL_TRY(backbone_conv(b, name, outs[c], ins[c], c == 1 ? 3 : 1));
                snprintf(name, sizeof name, "%s.%d.%d.bn%d", prefix, stage, k, c + 1);
                YL_TRY(batchnorm(b, name, outs[c]));
            }
            if (k == 0) {
                snprintf(name, sizeof name, "%s.%d.0.downsample.0", prefix, stage);
                YL_TRY(backbone_conv(b, name, 4 * planes, inplanes, 1));
                snprintf(name, sizeof name, "%s.%d.0.downsample.1", prefix, stage);
                YL_TRY(batchnorm(b, name, 4 * planes));
            }
            inplanes = 4 * planes;
        }
    }
    YL_TRY(backbone_conv(b, "backbone.conv1", width, 3, 7));
    return batchnorm(b, "backbone.bn1", width);
}

/* darknetconvlayer: a convolution without bias, then BatchNorm (its LeakyReLU has no
 * parameters), as modules "<name>.0" and "<name>.1". */
static yolact_status darknet_conv(builder *b, const char *name, int out, int in, int k)
{
    char part[176]; /* name (< 160) and ".0" */
    snprintf(part, sizeof part, "%s.0", name);
    YL_TRY(backbone_conv(b, part, out, in, k));
    snprintf(part, sizeof part, "%s.1", name);
    return batchnorm(b, part, out);
}

/* The official DarkNetBackbone (YOLOv3's DarkNet-53): _preconv (3 -> 32), then five stages,
 * each a stride-2 3x3 convolution to 2 * c then blocks of conv1 (1x1 to c) and conv2 (3x3
 * back to 2 * c), c = 32, 64, 128, 256, 512; in the state dict the stages come first. */
static const int darknet53_blocks[5] = {1, 2, 8, 8, 4};
enum { DARKNET_STAGES = 5, DARKNET_WIDTH = 32 };

static yolact_status darknet(builder *b)
{
    char name[160];
    int in = DARKNET_WIDTH;
    for (int stage = 0; stage < DARKNET_STAGES; stage++) {
        const int c = DARKNET_WIDTH << stage;
        snprintf(name, sizeof name, "backbone.layers.%d.0", stage);
        YL_TRY(darknet_conv(b, name, 2 * c, in, 3));
        for (int k = 1; k <= darknet53_blocks[stage]; k++) {
            snprintf(name, sizeof name, "backbone.layers.%d.%d.conv1", stage, k);
            YL_TRY(darknet_conv(b, name, c, 2 * c, 1));
            snprintf(name, sizeof name, "backbone.layers.%d.%d.conv2", stage, k);
            YL_TRY(darknet_conv(b, name, 2 * c, c, 3));
        }
        in = 2 * c;
    }
    return darknet_conv(b, "backbone._preconv", DARKNET_WIDTH, 3, 3);
}

static const int resnet101_blocks[4] = {3, 4, 23, 3}, resnet50_blocks[4] = {3, 4, 6, 3};

yolact_status yl_fresh_network(const yl_preset *preset, const yl_fresh_network_size *size,
                               int num_classes, uint64_t seed, yl_tensor_table *table)
{
    *table = (yl_tensor_table){0};
    const int is_darknet = preset->backbone == YOLACT_BACKBONE_DARKNET;
    if ((preset->backbone != YOLACT_BACKBONE_RESNET && !is_darknet) ||
        preset->num_scales != 1 || !preset->square_anchors)
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "a fresh network is made for the YOLACT presets "
                       "(yolact_base, yolact_im400, yolact_im700, yolact_resnet50, "
                       "yolact_darknet53), not %s", preset->name);
    if (is_darknet && (size->backbone_blocks[0] > 0 || size->backbone_width > 0))
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "backbone_blocks and backbone_width size a "
                       "ResNet; %s's DarkNet-53 is made at its official size", preset->name);
    const int *blocks = strcmp(preset->name, "yolact_resnet50") == 0 ? resnet50_blocks
                                                                      : resnet101_blocks;
    if (size->backbone_blocks[0] > 0)
        blocks = size->backbone_blocks;
    const int width = size->backbone_width > 0 ? size->backbone_width : 64;
    const int F = size->features > 0 ? size->features : 256;
    const int A = preset->num_aspect_ratios * preset->num_scales, K = 32;
    builder b = {.table = table, .rng = seed};
    yolact_status s = is_darknet ? darknet(&b) : resnet(&b, blocks, width);
    char name[64];
    /* proto_net: 3 x (3x3 conv, ReLU), upsample, ReLU, 3x3 conv, ReLU, 1x1 conv to K. */
    static const int proto_index[5] = {0, 2, 4, 8, 10};
    for (int i = 0; s == YOLACT_OK && i < 5; i++) {
        snprintf(name, sizeof name, "proto_net.%d", proto_index[i]);
        s = head_conv(&b, name, i == 4 ? K : F, F, i == 4 ? 1 : 3);
    }
    /* lat_layers.i reads the backbone's last stage but i: ResNet's stage 3 - i, whose
     * outputs are 4 * (width << (3 - i)); DarkNet's stage 4 - i, 2 * (32 << (4 - i)). */
    for (int i = 0; s == YOLACT_OK && i < 3; i++) {
        snprintf(name, sizeof name, "fpn.lat_layers.%d", i);
        s = head_conv(&b, name, F, is_darknet ? (2 * DARKNET_WIDTH) << (4 - i)
                                              : (4 * width) << (3 - i), 1);
    }
    for (int i = 0; s == YOLACT_OK && i < 3; i++) {
        snprintf(name, sizeof name, "fpn.pred_layers.%d", i);
        s = head_conv(&b, name, F, F, 3);
    }
    for (int i = 0; s == YOLACT_OK && i < preset->num_downsample; i++) {
        snprintf(name, sizeof name, "fpn.downsample_layers.%d", i);
        s = head_conv(&b, name, F, F, 3);
    }
    if (s == YOLACT_OK)
        s = head_conv(&b, "prediction_layers.0.upfeature.0", F, F, 3);
    if (s == YOLACT_OK)
        s = head_conv(&b, "prediction_layers.0.bbox_layer", 4 * A, F, 3);
    if (s == YOLACT_OK)
        s = head_conv(&b, "prediction_layers.0.conf_layer", num_classes * A, F, 3);
    if (s == YOLACT_OK)
        s = head_conv(&b, "prediction_layers.0.mask_layer", K * A, F, 3);
    if (s == YOLACT_OK)
        s = head_conv(&b, "semantic_seg_conv", num_classes - 1, F, 1);
    if (s != YOLACT_OK)
        yl_tensor_table_free(table);
    return s;
}
