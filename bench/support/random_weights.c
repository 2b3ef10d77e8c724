/* Random-weight checkpoints of the presets in the official layout (random_weights.h): the
 * module names and shapes of the official Yolact() state_dict, values drawn from a seeded
 * generator so every run of a benchmark times the same network. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "random_weights.h"
#include "status.h"

#define FPN_CHANNELS 256
#define PROTO_CHANNELS 256
#define NUM_PROTOTYPES 32
#define NUM_CLASSES 81
#define NUM_DOWNSAMPLE 2

typedef struct generator {
    yl_tensor_table *table;
    size_t capacity;
    uint64_t rng;
    yolact_status status;       /* the first failure; later additions do nothing */
} generator;

/* splitmix64: a full-period generator whose consecutive seeds give unrelated streams. */
static uint64_t next_u64(generator *g)
{
    uint64_t z = (g->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(generator *g) /* (0, 1) */
{
    return ((double)(next_u64(g) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static void fill_normal(generator *g, float *x, int64_t n, double std)
{
    for (int64_t i = 0; i < n; i += 2) { /* Box-Muller: two values a draw */
        double r = std * sqrt(-2.0 * log(uniform(g))), t = 6.283185307179586 * uniform(g);
        x[i] = (float)(r * cos(t));
        if (i + 1 < n)
            x[i + 1] = (float)(r * sin(t));
    }
}

static void fill_uniform(generator *g, float *x, int64_t n, double lo, double hi)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(lo + (hi - lo) * uniform(g));
}

/* Append a tensor named by fmt; its data (NULL for an integer tensor) is left to fill. */
static yl_tensor *add(generator *g, yl_dtype dtype, int ndim, const int64_t *shape,
                      const char *fmt, ...) YL_PRINTF(5, 6);
static yl_tensor *add(generator *g, yl_dtype dtype, int ndim, const int64_t *shape,
                      const char *fmt, ...)
{
    if (g->status != YOLACT_OK)
        return NULL;
    yl_tensor_table *t = g->table;
    if (t->count == g->capacity) {
        size_t cap = g->capacity ? 2 * g->capacity : 256;
        yl_tensor *grown = realloc(t->tensors, cap * sizeof *grown);
        if (!grown) {
            g->status = yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for random weights");
            return NULL;
        }
        t->tensors = grown;
        g->capacity = cap;
    }
    yl_tensor *x = &t->tensors[t->count];
    memset(x, 0, sizeof *x);
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    x->dtype = dtype;
    x->ndim = ndim;
    x->numel = 1;
    for (int i = 0; i < ndim; i++)
        x->numel *= x->shape[i] = shape[i];
    x->name = strdup(name);
    if (dtype == YL_DTYPE_F32)
        x->data = malloc((size_t)x->numel * sizeof(float));
    if (!x->name || (dtype == YL_DTYPE_F32 && !x->data)) {
        free(x->name);
        free(x->data);
        g->status = yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for random weights "
                            "(tensor '%s')", name);
        return NULL;
    }
    t->count++;
    return x;
}

/* A convolution "<module>.weight" (and "<module>.bias" when bias is set). */
static void conv(generator *g, const char *module, int out, int in, int k, int bias)
{
    const int64_t wshape[4] = {out, in, k, k}, bshape[1] = {out};
    yl_tensor *w = add(g, YL_DTYPE_F32, 4, wshape, "%s.weight", module);
    if (w)
        fill_normal(g, w->data, w->numel, sqrt(2.0 / ((double)in * k * k)));
    yl_tensor *b = bias ? add(g, YL_DTYPE_F32, 1, bshape, "%s.bias", module) : NULL;
    if (b)
        fill_normal(g, b->data, b->numel, 0.01);
}

/* A BatchNorm2d "<module>.{weight,bias,running_mean,running_var,num_batches_tracked}". */
static void batchnorm(generator *g, const char *module, int channels)
{
    const int64_t shape[1] = {channels};
    static const char *const parts[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int i = 0; i < 4; i++) {
        yl_tensor *x = add(g, YL_DTYPE_F32, 1, shape, "%s.%s", module, parts[i]);
        if (x && (i == 0 || i == 3))
            fill_uniform(g, x->data, x->numel, 0.9, 1.1);
        else if (x)
            fill_normal(g, x->data, x->numel, 0.05);
    }
    add(g, YL_DTYPE_I64, 0, shape, "%s.num_batches_tracked", module);
}

/* Which blocks of a stage have a DCNv2 3x3 conv, as the official ResNetBackbone picks them:
 * the stage's last dcn_layers blocks, every dcn_interval-th of them (the first block when
 * dcn_layers covers the whole stage). */
static int block_has_dcn(int block, int blocks, int dcn_layers, int dcn_interval)
{
    if (block == 0)
        return dcn_layers >= blocks;
    return block + dcn_layers >= blocks && block % dcn_interval == 0;
}

/* torchvision-style Bottleneck ResNet as the official backbone.py names it, with YOLACT++'s
 * DCNv2 blocks where dcn_layers says (NULL: none); *out gets each stage's output channels. */
static void resnet(generator *g, const int *depth, const int *dcn_layers, int dcn_interval,
                   int *out)
{
    conv(g, "backbone.conv1", 64, 3, 7, 0);
    batchnorm(g, "backbone.bn1", 64);
    int inplanes = 64;
    char a[96], b[96];
    for (int s = 0; s < 4; s++) {
        int planes = 64 << s;
        for (int k = 0; k < depth[s]; k++) {
            static const int kernel[3] = {1, 3, 1};
            for (int i = 0; i < 3; i++) {
                snprintf(a, sizeof a, "backbone.layers.%d.%d.conv%d", s, k, i + 1);
                snprintf(b, sizeof b, "backbone.layers.%d.%d.bn%d", s, k, i + 1);
                int o = i == 2 ? 4 * planes : planes, in = i == 0 ? inplanes : planes;
                int dcn = i == 1 && dcn_layers &&
                          block_has_dcn(k, depth[s], dcn_layers[s], dcn_interval);
                conv(g, a, o, in, kernel[i], dcn); /* a DCN has a bias of its own */
                if (dcn) { /* its offsets and modulation: 3 x 9 channels from a 3x3 conv */
                    char om[128];
                    snprintf(om, sizeof om, "%s.conv_offset_mask", a);
                    conv(g, om, 27, in, 3, 1);
                }
                batchnorm(g, b, o);
            }
            if (k == 0) {
                snprintf(a, sizeof a, "backbone.layers.%d.0.downsample.0", s);
                snprintf(b, sizeof b, "backbone.layers.%d.0.downsample.1", s);
                conv(g, a, 4 * planes, inplanes, 1, 0);
                batchnorm(g, b, 4 * planes);
            }
            inplanes = 4 * planes;
        }
        out[s] = 4 * planes;
    }
}

/* DarkNet-53: a 3x3 stem to 32 channels, then per stage a stride-2 3x3 conv doubling the
 * channels and residual blocks of a 1x1 halving and a 3x3 restoring them. */
static void darknet(generator *g, const int *depth, int *out)
{
    conv(g, "backbone._preconv.0", 32, 3, 3, 0);
    batchnorm(g, "backbone._preconv.1", 32);
    char a[96], b[96];
    for (int s = 0; s < 5; s++) {
        int c = 64 << s;
        snprintf(a, sizeof a, "backbone.layers.%d.0.0", s);
        snprintf(b, sizeof b, "backbone.layers.%d.0.1", s);
        conv(g, a, c, c / 2, 3, 0);
        batchnorm(g, b, c);
        for (int k = 1; k <= depth[s]; k++)
            for (int i = 1; i <= 2; i++) {
                snprintf(a, sizeof a, "backbone.layers.%d.%d.conv%d.0", s, k, i);
                snprintf(b, sizeof b, "backbone.layers.%d.%d.conv%d.1", s, k, i);
                conv(g, a, i == 1 ? c / 2 : c, i == 1 ? c : c / 2, i == 1 ? 1 : 3, 0);
                batchnorm(g, b, i == 1 ? c / 2 : c);
            }
        out[s] = c;
    }
}

/* FPN over the last three backbone stages, protonet, the shared prediction head with
 * `anchors` anchors per cell and the (training-only) semantic segmentation conv. */
static void neck_and_heads(generator *g, const int *selected_channels, int anchors)
{
    char a[96];
    for (int i = 0; i < 3; i++) { /* lat_layers.0 reads the deepest stage */
        snprintf(a, sizeof a, "fpn.lat_layers.%d", i);
        conv(g, a, FPN_CHANNELS, selected_channels[2 - i], 1, 1);
    }
    for (int i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "fpn.pred_layers.%d", i);
        conv(g, a, FPN_CHANNELS, FPN_CHANNELS, 3, 1);
    }
    for (int i = 0; i < NUM_DOWNSAMPLE; i++) {
        snprintf(a, sizeof a, "fpn.downsample_layers.%d", i);
        conv(g, a, FPN_CHANNELS, FPN_CHANNELS, 3, 1);
    }
    /* proto_net: three 3x3 convs, the x2 upsample at index 6, a 3x3 conv, the 1x1 to K. */
    static const int proto_index[4] = {0, 2, 4, 8};
    for (int i = 0; i < 4; i++) {
        snprintf(a, sizeof a, "proto_net.%d", proto_index[i]);
        conv(g, a, PROTO_CHANNELS, i == 0 ? FPN_CHANNELS : PROTO_CHANNELS, 3, 1);
    }
    conv(g, "proto_net.10", NUM_PROTOTYPES, PROTO_CHANNELS, 1, 1);
    conv(g, "prediction_layers.0.upfeature.0", FPN_CHANNELS, FPN_CHANNELS, 3, 1);
    conv(g, "prediction_layers.0.bbox_layer", 4 * anchors, FPN_CHANNELS, 3, 1);
    conv(g, "prediction_layers.0.conf_layer", NUM_CLASSES * anchors, FPN_CHANNELS, 3, 1);
    conv(g, "prediction_layers.0.mask_layer", NUM_PROTOTYPES * anchors, FPN_CHANNELS, 3, 1);
    conv(g, "semantic_seg_conv", NUM_CLASSES - 1, FPN_CHANNELS, 1, 1);
}

/* YOLACT++'s mask-IoU net (maskiou_net of yolact_plus_base): 3x3 stride-2 convs of widths 8
 * to 128 from the one-channel mask, then a 1x1 to the 80 classes, ReLUs between (the odd
 * indices of the official Sequential). */
static void maskiou_net(generator *g)
{
    static const int widths[5] = {8, 16, 32, 64, 128};
    char a[64];
    for (int i = 0; i < 5; i++) {
        snprintf(a, sizeof a, "maskiou_net.maskiou_net.%d", 2 * i);
        conv(g, a, widths[i], i ? widths[i - 1] : 1, 3, 1);
    }
    conv(g, "maskiou_net.maskiou_net.10", NUM_CLASSES - 1, widths[4], 1, 1);
}

yolact_status yl_random_weights(const char *preset, uint64_t seed, yl_tensor_table *table)
{
    /* YOLACT++ (plus): the official resnet101_dcn_inter3 and resnet50_dcnv2 backbones, 9
     * anchors a cell, the mask-IoU net. */
    static const struct {
        const char *name;
        int darknet;
        int depth[5];
        int plus, dcn_layers[4], dcn_interval;
    } nets[] = {{"yolact_base", 0, {3, 4, 23, 3}, 0, {0}, 1},
                {"yolact_im400", 0, {3, 4, 23, 3}, 0, {0}, 1},
                {"yolact_im700", 0, {3, 4, 23, 3}, 0, {0}, 1},
                {"yolact_resnet50", 0, {3, 4, 6, 3}, 0, {0}, 1},
                {"yolact_darknet53", 1, {1, 2, 8, 8, 4}, 0, {0}, 1},
                {"yolact_plus_base", 0, {3, 4, 23, 3}, 1, {0, 4, 23, 3}, 3},
                {"yolact_plus_resnet50", 0, {3, 4, 6, 3}, 1, {0, 4, 6, 3}, 1}};
    if (!table)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_random_weights: table is NULL");
    *table = (yl_tensor_table){0};
    for (size_t i = 0; preset && i < sizeof nets / sizeof nets[0]; i++) {
        if (strcmp(preset, nets[i].name) != 0)
            continue;
        generator g = {table, 0, seed, YOLACT_OK};
        int stage_out[5];
        if (nets[i].darknet)
            darknet(&g, nets[i].depth, stage_out);
        else
            resnet(&g, nets[i].depth, nets[i].plus ? nets[i].dcn_layers : NULL,
                   nets[i].dcn_interval, stage_out);
        /* The FPN reads the last three stages (selected layers 1-3 of ResNet, 2-4 of DarkNet). */
        neck_and_heads(&g, stage_out + (nets[i].darknet ? 2 : 1), nets[i].plus ? 9 : 3);
        if (nets[i].plus)
            maskiou_net(&g);
        if (g.status != YOLACT_OK)
            yl_tensor_table_free(table);
        return g.status;
    }
    return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "no random network for preset '%s'",
                   preset ? preset : "(null)");
}
