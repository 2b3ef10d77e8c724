/* Turns a tensor table and a preset into the network as a list of ops over buffers:
 * the architecture (backbone kind and depth, FPN, protonet, head) is read off the tensor
 * names and shapes, BatchNorm is folded into the preceding convolutions, and every shape
 * is checked against its neighbours so a contradicting checkpoint is refused with the
 * name of the tensor at fault. */
#include "model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/cache.h"
#include "status.h"

#define BN_EPS 1e-5

/* Where an op's folded weights live; shared modules (the head, used by every level) are
 * stored once and referenced by each op that runs them. */
typedef struct param_ref {
    int op;
    size_t weight, bias; /* offsets into the parameter block */
} param_ref;

typedef struct builder {
    const yl_tensor_table *table;
    unsigned char *used;
    yolact_model *m;
    int cap_ops, cap_buffers;
    float *params;
    size_t num_params, cap_params;
    param_ref *refs;
    int num_refs, cap_refs;
    param_ref maskiou[YL_MAX_MASKIOU_LAYERS]; /* the mask-IoU layers' parameter offsets */
    yl_op_part part;                          /* of the ops being added */
} builder;

/* ---- growable arrays --------------------------------------------------------------- */

static yolact_status grow(void **p, int *cap, int need, size_t item)
{
    if (need <= *cap)
        return YOLACT_OK;
    int n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, (size_t)n * item);
    if (!q)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory building the network");
    *p = q;
    *cap = n;
    return YOLACT_OK;
}

static yolact_status new_buffer(builder *b, int channels, int height, int width, int *index)
{
    yolact_model *m = b->m;
    YL_TRY(grow((void **)&m->buffers, &b->cap_buffers, m->num_buffers + 1, sizeof *m->buffers));
    m->buffers[m->num_buffers] = (yl_buffer_desc){channels, height, width};
    *index = m->num_buffers++;
    return YOLACT_OK;
}

static yolact_status new_op(builder *b, const yl_op *op)
{
    yolact_model *m = b->m;
    YL_TRY(grow((void **)&m->ops, &b->cap_ops, m->num_ops + 1, sizeof *m->ops));
    m->ops[m->num_ops] = *op;
    m->ops[m->num_ops].name = op->name ? strdup(op->name) : NULL;
    m->ops[m->num_ops].part = b->part;
    m->ops[m->num_ops].engine = op->kind == YL_OP_CONV && (b->part == YL_PART_BACKBONE ||
                                                           b->part == YL_PART_FPN)
                                    ? YL_ENGINE_LIBRARY
                                    : YL_ENGINE_OWN;
    if (op->name && !m->ops[m->num_ops].name)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory building the network");
    m->num_ops++;
    return YOLACT_OK;
}

static yolact_status reserve_params(builder *b, size_t count, size_t *offset)
{
    if (b->num_params + count > b->cap_params) {
        size_t n = b->cap_params ? b->cap_params * 2 : (size_t)1 << 20;
        while (n < b->num_params + count)
            n *= 2;
        float *q = realloc(b->params, n * sizeof *q);
        if (!q)
            return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for the weights");
        b->params = q;
        b->cap_params = n;
    }
    *offset = b->num_params;
    b->num_params += count;
    return YOLACT_OK;
}

static yolact_status add_ref(builder *b, size_t weight, size_t bias)
{
    YL_TRY(grow((void **)&b->refs, &b->cap_refs, b->num_refs + 1, sizeof *b->refs));
    b->refs[b->num_refs++] = (param_ref){b->m->num_ops, weight, bias};
    return YOLACT_OK;
}

/* The parameters of an op already built from the same module, or NULL. */
static const param_ref *find_ref(const builder *b, const char *module)
{
    for (int i = 0; i < b->num_refs; i++)
        if (strcmp(b->m->ops[b->refs[i].op].name, module) == 0)
            return &b->refs[i];
    return NULL;
}

/* ---- tensor look-up ------------------------------------------------------------------ */

static const yl_tensor *lookup(builder *b, const char *name)
{
    const yl_tensor *t = yl_tensor_table_find(b->table, name);
    if (t)
        b->used[t - b->table->tensors] = 1;
    return t;
}

static int exists(const builder *b, const char *fmt, ...) YL_PRINTF(2, 3);
static int exists(const builder *b, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return yl_tensor_table_find(b->table, name) != NULL;
}

/* A required floating tensor of the given rank; shape[0] checked when expect0 >= 0. */
static yolact_status require(builder *b, const char *name, int ndim, int64_t expect0,
                             const yl_tensor **out)
{
    const yl_tensor *t = lookup(b, name);
    if (!t)
        return yl_fail(YOLACT_ERR_MODEL, "missing tensor '%s'", name);
    if (!t->data)
        return yl_fail(YOLACT_ERR_MODEL, "tensor '%s' is %s, expected floating point", name,
                       yl_dtype_name(t->dtype));
    if (t->ndim != ndim)
        return yl_fail(YOLACT_ERR_MODEL, "tensor '%s' has %d dimensions, expected %d", name,
                       t->ndim, ndim);
    if (expect0 >= 0 && t->shape[0] != expect0)
        return yl_fail(YOLACT_ERR_MODEL, "tensor '%s' has %lld elements in dimension 0, "
                       "expected %lld", name, (long long)t->shape[0], (long long)expect0);
    *out = t;
    return YOLACT_OK;
}

/* ---- ops ---------------------------------------------------------------------------- */

typedef struct conv_spec {
    const char *conv;      /* module holding .weight (and .bias unless bn) */
    const char *bn;        /* BatchNorm module folded into it, or NULL */
    int stride;
    yl_activation act;
    int residual;          /* buffer added before the activation, or -1 */
} conv_spec;

void yl_fold_batchnorm(float *weight, float *bias, int out_channels, size_t per_channel,
                       const float *conv_bias, const float *gamma, const float *beta,
                       const float *mean, const float *var, double eps)
{
    for (int o = 0; o < out_channels; o++) {
        double scale = gamma[o] / sqrt((double)var[o] + eps);
        for (size_t i = 0; i < per_channel; i++)
            weight[(size_t)o * per_channel + i] = (float)(weight[(size_t)o * per_channel + i] * scale);
        bias[o] = conv_bias ? (float)(beta[o] + ((double)conv_bias[o] - mean[o]) * scale)
                            : (float)(beta[o] - mean[o] * scale);
    }
}

static yolact_status fold_bn(builder *b, const char *bn, int out_channels, float *weight,
                             size_t per_channel, const float *conv_bias, float *bias)
{
    static const char *const parts[] = {"weight", "bias", "running_mean", "running_var"};
    const yl_tensor *t[4];
    char name[256];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.%s", bn, parts[i]);
        YL_TRY(require(b, name, 1, out_channels, &t[i]));
    }
    b->m->info.num_parameters += 2 * out_channels;
    yl_fold_batchnorm(weight, bias, out_channels, per_channel, conv_bias, t[0]->data, t[1]->data,
                      t[2]->data, t[3]->data, BN_EPS);
    return YOLACT_OK;
}

/* Add a convolution reading buffer `in`; its output buffer index goes to *out. The weight's
 * input channels must match the buffer; padding is "same" for odd kernels as every YOLACT
 * convolution uses. offsets > 0 makes it a DCN sampling where that buffer (its offset/mask
 * convolution's output) says; 0 a plain convolution (buffer 0 is the image, never that). */
static yolact_status add_conv_or_dcn(builder *b, const conv_spec *s, int in, int offsets,
                                     int *out)
{
    char name[256];
    const yl_tensor *w;
    snprintf(name, sizeof name, "%s.weight", s->conv);
    YL_TRY(require(b, name, 4, -1, &w));
    const yl_buffer_desc src = b->m->buffers[in];
    int o = (int)w->shape[0], kh = (int)w->shape[2], kw = (int)w->shape[3];
    if (w->shape[1] != src.channels)
        return yl_fail(YOLACT_ERR_MODEL, "tensor '%s' expects %lld input channels but its "
                       "input has %d", name, (long long)w->shape[1], src.channels);
    if (kh != kw || kh % 2 == 0)
        return yl_fail(YOLACT_ERR_MODEL, "tensor '%s' has a %dx%d kernel; only square odd "
                       "kernels occur in YOLACT", name, kh, kw);

    const param_ref *shared = find_ref(b, s->conv);
    size_t woff = 0, boff = 0;
    if (shared) {
        woff = shared->weight;
        boff = shared->bias;
    } else {
        YL_TRY(reserve_params(b, (size_t)w->numel, &woff));
        YL_TRY(reserve_params(b, (size_t)o, &boff));
        float *weight = b->params + woff, *bias = b->params + boff;
        memcpy(weight, w->data, (size_t)w->numel * sizeof *weight);
        b->m->info.num_parameters += w->numel;
        /* Plain convolutions before a BN have no bias; DCN layers do. */
        const yl_tensor *bt = NULL;
        if (!s->bn || offsets > 0) {
            snprintf(name, sizeof name, "%s.bias", s->conv);
            YL_TRY(require(b, name, 1, o, &bt));
            b->m->info.num_parameters += o;
        }
        if (s->bn)
            YL_TRY(fold_bn(b, s->bn, o, weight, (size_t)(w->numel / o), bt ? bt->data : NULL,
                           bias));
        else
            memcpy(bias, bt->data, (size_t)o * sizeof *bias);
    }

    yl_op op = {.kind = offsets > 0 ? YL_OP_DCN : YL_OP_CONV, .name = s->conv, .in = in,
                .residual = s->residual, .offsets = offsets, .act = s->act,
                .conv = {.in_channels = src.channels, .out_channels = o, .kernel_h = kh,
                         .kernel_w = kw, .stride = s->stride, .pad = kh / 2, .dilation = 1}};
    int oh = yl_conv_out_size(src.height, kh, s->stride, kh / 2, 1);
    int ow = yl_conv_out_size(src.width, kw, s->stride, kw / 2, 1);
    if (offsets > 0) {
        const yl_buffer_desc om = b->m->buffers[offsets];
        if (om.channels != 3 * kh * kw || om.height != oh || om.width != ow)
            return yl_fail(YOLACT_ERR_MODEL, "'%s.conv_offset_mask.weight' gives %dx%dx%d but "
                           "the %dx%d deformable convolution '%s.weight' needs %dx%dx%d "
                           "(offsets and modulation of every tap)", s->conv, om.channels,
                           om.height, om.width, kh, kw, s->conv, 3 * kh * kw, oh, ow);
    }
    if (s->residual >= 0) {
        const yl_buffer_desc r = b->m->buffers[s->residual];
        if (r.channels != o || r.height != oh || r.width != ow)
            return yl_fail(YOLACT_ERR_MODEL, "tensor '%s' gives %dx%dx%d but the residual it "
                           "is added to is %dx%dx%d", name, o, oh, ow, r.channels, r.height,
                           r.width);
    }
    YL_TRY(new_buffer(b, o, oh, ow, &op.out));
    YL_TRY(add_ref(b, woff, boff));
    YL_TRY(new_op(b, &op));
    *out = op.out;
    return YOLACT_OK;
}

static yolact_status add_conv(builder *b, const conv_spec *s, int in, int *out)
{
    return add_conv_or_dcn(b, s, in, 0, out);
}

static yolact_status add_simple(builder *b, yl_op op, int channels, int height, int width,
                                int *out)
{
    YL_TRY(new_buffer(b, channels, height, width, &op.out));
    YL_TRY(new_op(b, &op));
    *out = op.out;
    return YOLACT_OK;
}

/* ---- backbones ---------------------------------------------------------------------- */

static int count_indices(const builder *b, const char *fmt_prefix, int outer)
{
    int n = 0;
    while (outer < 0 ? exists(b, fmt_prefix, n) : exists(b, fmt_prefix, outer, n))
        n++;
    return n;
}

/* ResNet with Bottleneck blocks (torchvision layout, stride on the 3x3 conv). */
static yolact_status build_resnet(builder *b, int *stage_out)
{
    yolact_model_info *info = &b->m->info;
    char conv[128], bn[128];
    int x;
    YL_TRY(add_conv(b, &(conv_spec){"backbone.conv1", "backbone.bn1", 2, YL_ACT_RELU, -1}, 0, &x));
    const yl_buffer_desc c = b->m->buffers[x];
    int ph = yl_conv_out_size(c.height, 3, 2, 1, 1), pw = yl_conv_out_size(c.width, 3, 2, 1, 1);
    YL_TRY(add_simple(b, (yl_op){.kind = YL_OP_MAXPOOL, .name = "backbone.maxpool", .in = x,
                                 .residual = -1, .pool_kernel = 3, .pool_stride = 2,
                                 .pool_pad = 1}, c.channels, ph, pw, &x));

    info->backbone_stages = count_indices(b, "backbone.layers.%d.0.conv1.weight", -1);
    if (info->backbone_stages != 4)
        return yl_fail(YOLACT_ERR_MODEL, "ResNet backbone has %d stages "
                       "('backbone.layers.N.0.conv1.weight'), expected 4", info->backbone_stages);
    for (int s = 0; s < 4; s++) {
        int depth = count_indices(b, "backbone.layers.%d.%d.conv1.weight", s);
        info->stage_depth[s] = depth;
        for (int k = 0; k < depth; k++) {
            int stride = (s > 0 && k == 0) ? 2 : 1, in = x, t, residual = x;
            snprintf(conv, sizeof conv, "backbone.layers.%d.%d.downsample.0", s, k);
            if (exists(b, "%s.weight", conv)) {
                snprintf(bn, sizeof bn, "backbone.layers.%d.%d.downsample.1", s, k);
                YL_TRY(add_conv(b, &(conv_spec){conv, bn, stride, YL_ACT_NONE, -1}, in, &residual));
            }
            for (int i = 1; i <= 3; i++) {
                snprintf(conv, sizeof conv, "backbone.layers.%d.%d.conv%d", s, k, i);
                snprintf(bn, sizeof bn, "backbone.layers.%d.%d.bn%d", s, k, i);
                conv_spec spec = {conv, bn, i == 2 ? stride : 1, YL_ACT_RELU, i == 3 ? residual : -1};
                int src = i == 1 ? in : t, offsets = 0;
                /* YOLACT++: a 3x3 conv with a conv_offset_mask is a DCN fed by that conv. */
                if (i == 2 && exists(b, "%s.conv_offset_mask.weight", conv)) {
                    char om[160];
                    snprintf(om, sizeof om, "%s.conv_offset_mask", conv);
                    YL_TRY(add_conv(b, &(conv_spec){om, NULL, spec.stride, YL_ACT_NONE, -1},
                                    src, &offsets));
                    info->stage_dcn[s]++;
                }
                YL_TRY(add_conv_or_dcn(b, &spec, src, offsets, &t));
            }
            x = t;
        }
        stage_out[s] = x;
        info->stage_channels[s] = b->m->buffers[x].channels;
    }
    return YOLACT_OK;
}

/* DarkNet-53: conv+BN+LeakyReLU(0.1) layers; a block is two of them plus its input, added
 * after the activation. */
static yolact_status build_darknet(builder *b, int *stage_out)
{
    yolact_model_info *info = &b->m->info;
    char conv[128], bn[128];
    int x;
    YL_TRY(add_conv(b, &(conv_spec){"backbone._preconv.0", "backbone._preconv.1", 1,
                                    YL_ACT_LEAKY_RELU_0_1, -1}, 0, &x));
    info->backbone_stages = count_indices(b, "backbone.layers.%d.0.0.weight", -1);
    if (info->backbone_stages != 5)
        return yl_fail(YOLACT_ERR_MODEL, "DarkNet backbone has %d stages "
                       "('backbone.layers.N.0.0.weight'), expected 5", info->backbone_stages);
    for (int s = 0; s < 5; s++) {
        snprintf(conv, sizeof conv, "backbone.layers.%d.0.0", s);
        snprintf(bn, sizeof bn, "backbone.layers.%d.0.1", s);
        YL_TRY(add_conv(b, &(conv_spec){conv, bn, 2, YL_ACT_LEAKY_RELU_0_1, -1}, x, &x));
        int depth = 0;
        while (exists(b, "backbone.layers.%d.%d.conv1.0.weight", s, depth + 1))
            depth++;
        info->stage_depth[s] = depth;
        for (int k = 1; k <= depth; k++) {
            int t;
            for (int i = 1; i <= 2; i++) {
                snprintf(conv, sizeof conv, "backbone.layers.%d.%d.conv%d.0", s, k, i);
                snprintf(bn, sizeof bn, "backbone.layers.%d.%d.conv%d.1", s, k, i);
                YL_TRY(add_conv(b, &(conv_spec){conv, bn, 1, YL_ACT_LEAKY_RELU_0_1, -1},
                                i == 1 ? x : t, &t));
            }
            const yl_buffer_desc d = b->m->buffers[t];
            if (d.channels != b->m->buffers[x].channels)
                return yl_fail(YOLACT_ERR_MODEL, "'backbone.layers.%d.%d.conv2.0.weight' gives "
                               "%d channels, its block input has %d", s, k, d.channels,
                               b->m->buffers[x].channels);
            YL_TRY(add_simple(b, (yl_op){.kind = YL_OP_ADD, .name = "backbone.block_add",
                                         .in = t, .residual = x}, d.channels, d.height,
                              d.width, &x));
        }
        stage_out[s] = x;
        info->stage_channels[s] = b->m->buffers[x].channels;
    }
    return YOLACT_OK;
}

/* ---- FPN, protonet, head -------------------------------------------------------------- */

static yolact_status build_fpn(builder *b, const int *stage_out, int *levels)
{
    yolact_model *m = b->m;
    int n = count_indices(b, "fpn.lat_layers.%d.weight", -1);
    int first = m->preset.first_selected_layer;
    if (n < 1 || first + n > m->info.backbone_stages)
        return yl_fail(YOLACT_ERR_MODEL, "%d FPN lateral layers ('fpn.lat_layers.N.weight') "
                       "do not fit the %s backbone from stage %d", n,
                       m->preset.name, first);
    char conv[64];
    int x = -1, lat[YL_MAX_LEVELS];
    /* Lateral and prediction layers are stored in reverse level order. */
    for (int i = 0; i < n; i++) {
        int j = n - 1 - i, up = -1, src = stage_out[first + j];
        if (i > 0) {
            const yl_buffer_desc d = m->buffers[src];
            YL_TRY(add_simple(b, (yl_op){.kind = YL_OP_RESIZE, .name = "fpn.upsample", .in = x,
                                         .residual = -1}, m->buffers[x].channels, d.height,
                              d.width, &up));
        }
        snprintf(conv, sizeof conv, "fpn.lat_layers.%d", i);
        YL_TRY(add_conv(b, &(conv_spec){conv, NULL, 1, YL_ACT_NONE, up}, src, &x));
        lat[j] = x;
    }
    for (int i = 0; i < n; i++) {
        int j = n - 1 - i;
        snprintf(conv, sizeof conv, "fpn.pred_layers.%d", i);
        YL_TRY(add_conv(b, &(conv_spec){conv, NULL, 1, YL_ACT_RELU, -1}, lat[j], &levels[j]));
    }
    m->info.fpn_channels = m->buffers[levels[0]].channels;
    for (int k = 0; k < m->preset.num_downsample; k++) {
        snprintf(conv, sizeof conv, "fpn.downsample_layers.%d", k);
        YL_TRY(add_conv(b, &(conv_spec){conv, NULL, 2, YL_ACT_NONE, -1}, levels[n + k - 1],
                        &levels[n + k]));
    }
    m->info.fpn_downsample_levels = m->preset.num_downsample;
    m->num_levels = n + m->preset.num_downsample;
    return YOLACT_OK;
}

/* proto_net is an nn.Sequential of (layer, ReLU) pairs: a convolution at every even index
 * that holds weights, a parameterless x2 bilinear upsample at an even index that holds
 * none. Every convolution is followed by a ReLU (the last by the prototype activation). */
static yolact_status build_protonet(builder *b, int p3, int *proto)
{
    int last = -1;
    for (size_t i = 0; i < b->table->count; i++) {
        int idx;
        if (sscanf(b->table->tensors[i].name, "proto_net.%d.", &idx) == 1 && idx > last)
            last = idx;
    }
    if (last < 0)
        return yl_fail(YOLACT_ERR_MODEL, "missing tensor 'proto_net.0.weight'");
    int x = p3;
    char conv[64];
    for (int i = 0; i <= last; i += 2) {
        snprintf(conv, sizeof conv, "proto_net.%d", i);
        if (exists(b, "%s.weight", conv)) {
            YL_TRY(add_conv(b, &(conv_spec){conv, NULL, 1, YL_ACT_RELU, -1}, x, &x));
            b->m->info.protonet_layers++;
        } else {
            const yl_buffer_desc d = b->m->buffers[x];
            YL_TRY(add_simple(b, (yl_op){.kind = YL_OP_RESIZE, .name = "proto_net.upsample",
                                         .in = x, .residual = -1}, d.channels, 2 * d.height,
                              2 * d.width, &x));
        }
    }
    const yl_buffer_desc d = b->m->buffers[x];
    b->m->info.protonet_channels = b->m->buffers[p3].channels;
    b->m->num_prototypes = d.channels;
    b->m->proto_h = d.height;
    b->m->proto_w = d.width;
    *proto = x;
    return YOLACT_OK;
}

/* Concatenate the head's bbox, conf and mask convolutions (same input, same kernel) into
 * one, so each level runs a single GEMM; HEAD_OUTPUT splits the channels again. */
static yolact_status build_head(builder *b, const int *levels)
{
    yolact_model *m = b->m;
    static const char *const parts[] = {"bbox_layer", "conf_layer", "mask_layer"};
    const yl_tensor *w[3], *bias[3];
    char name[128];
    if (exists(b, "prediction_layers.1.bbox_layer.weight"))
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "unshared prediction heads "
                       "('prediction_layers.1.*') are not supported");
    if (exists(b, "prediction_layers.0.bbox_extra.0.weight") ||
        exists(b, "prediction_layers.0.score_layer.weight") ||
        exists(b, "prediction_layers.0.gate_layer.weight"))
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "prediction head with extra layers, mask "
                       "scoring or coefficient gates is not supported");
    int total = 0;
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "prediction_layers.0.%s.weight", parts[i]);
        YL_TRY(require(b, name, 4, -1, &w[i]));
        snprintf(name, sizeof name, "prediction_layers.0.%s.bias", parts[i]);
        YL_TRY(require(b, name, 1, w[i]->shape[0], &bias[i]));
        if (i > 0 && (w[i]->shape[1] != w[0]->shape[1] || w[i]->shape[2] != w[0]->shape[2] ||
                      w[i]->shape[3] != w[0]->shape[3]))
            return yl_fail(YOLACT_ERR_MODEL, "'prediction_layers.0.%s.weight' does not have "
                           "the shape of the bbox layer's input and kernel", parts[i]);
        total += (int)w[i]->shape[0];
    }
    if (w[0]->shape[0] % 4)
        return yl_fail(YOLACT_ERR_MODEL, "'prediction_layers.0.bbox_layer.weight' has %lld "
                       "outputs, not 4 per anchor", (long long)w[0]->shape[0]);
    int anchors = (int)w[0]->shape[0] / 4;
    int preset_anchors = m->preset.num_scales * m->preset.num_aspect_ratios;
    if (anchors != preset_anchors)
        return yl_fail(YOLACT_ERR_MODEL, "'prediction_layers.0.bbox_layer.weight' gives %d "
                       "anchors per cell, preset %s has %d", anchors, m->preset.name,
                       preset_anchors);
    if (w[1]->shape[0] % anchors || w[1]->shape[0] / anchors < 2)
        return yl_fail(YOLACT_ERR_MODEL, "'prediction_layers.0.conf_layer.weight' has %lld "
                       "outputs, not a class count per anchor", (long long)w[1]->shape[0]);
    if (w[2]->shape[0] != (int64_t)anchors * m->num_prototypes)
        return yl_fail(YOLACT_ERR_MODEL, "'prediction_layers.0.mask_layer.weight' has %lld "
                       "outputs, expected %d anchors x %d prototypes",
                       (long long)w[2]->shape[0], anchors, m->num_prototypes);
    m->anchors_per_cell = anchors;
    m->num_classes = (int)(w[1]->shape[0] / anchors);

    size_t per = (size_t)(w[0]->numel / w[0]->shape[0]);
    size_t woff = 0, boff = 0;
    YL_TRY(reserve_params(b, per * (size_t)total, &woff));
    YL_TRY(reserve_params(b, (size_t)total, &boff));
    for (int i = 0, row = 0; i < 3; i++) {
        memcpy(b->params + woff + (size_t)row * per, w[i]->data, (size_t)w[i]->numel * sizeof(float));
        memcpy(b->params + boff + row, bias[i]->data, (size_t)w[i]->shape[0] * sizeof(float));
        row += (int)w[i]->shape[0];
        m->info.num_parameters += w[i]->numel + w[i]->shape[0];
    }

    int prior = 0;
    for (int l = 0; l < m->num_levels; l++) {
        int x = levels[l];
        for (int i = 0; exists(b, "prediction_layers.0.upfeature.%d.weight", i); i += 2) {
            snprintf(name, sizeof name, "prediction_layers.0.upfeature.%d", i);
            YL_TRY(add_conv(b, &(conv_spec){name, NULL, 1, YL_ACT_RELU, -1}, x, &x));
        }
        if (m->buffers[x].channels != w[0]->shape[1])
            return yl_fail(YOLACT_ERR_MODEL, "'prediction_layers.0.bbox_layer.weight' expects "
                           "%lld input channels, its input has %d", (long long)w[0]->shape[1],
                           m->buffers[x].channels);
        const yl_buffer_desc d = m->buffers[x];
        int k = (int)w[0]->shape[2], maps;
        yl_op op = {.kind = YL_OP_CONV, .name = "prediction_layers.0", .in = x,
                    .residual = -1, .act = YL_ACT_NONE,
                    .conv = {d.channels, total, k, k, 1, k / 2, 1}};
        YL_TRY(new_buffer(b, total, d.height, d.width, &maps));
        op.out = maps;
        YL_TRY(add_ref(b, woff, boff));
        YL_TRY(new_op(b, &op));
        YL_TRY(new_op(b, &(yl_op){.kind = YL_OP_HEAD_OUTPUT, .name = "prediction_layers.0.output",
                                  .in = maps, .out = -1, .residual = -1, .level = l}));
        m->levels[l] = (yl_level){d.height, d.width, prior, d.height * d.width * anchors};
        prior += m->levels[l].num_priors;
    }
    m->num_priors = prior;
    return YOLACT_OK;
}

/* YOLACT++'s mask-IoU net ('maskiou_net.maskiou_net.N', N = 0, 2, 4, ...: ReLUs between):
 * unpadded convolutions from one channel (a mask) to one per foreground class. Strides are
 * not in the weights: 3x3 layers have stride 2 and 1x1 layers stride 1, as in the only
 * official configuration that has the net (maskiou_net of yolact_plus_base). */
static yolact_status build_maskiou(builder *b)
{
    yolact_model *m = b->m;
    yl_maskiou_net *net = &m->maskiou;
    char name[128];
    int channels = 1;
    net->in_h = m->proto_h;
    net->in_w = m->proto_w;
    for (int i = 0; exists(b, "maskiou_net.maskiou_net.%d.weight", i); i += 2) {
        if (net->num_layers == YL_MAX_MASKIOU_LAYERS)
            return yl_fail(YOLACT_ERR_UNSUPPORTED, "mask-IoU net with more than %d layers "
                           "('maskiou_net.maskiou_net.%d.weight')", YL_MAX_MASKIOU_LAYERS, i);
        const yl_tensor *w, *bt;
        snprintf(name, sizeof name, "maskiou_net.maskiou_net.%d.weight", i);
        YL_TRY(require(b, name, 4, -1, &w));
        int o = (int)w->shape[0], k = (int)w->shape[2];
        if (w->shape[1] != channels || w->shape[3] != k || (k != 1 && k != 3))
            return yl_fail(YOLACT_ERR_MODEL, "tensor '%s' is %lldx%lldx%lldx%lld; the mask-IoU "
                           "net expects %d input channels and a 1x1 or 3x3 kernel", name,
                           (long long)w->shape[0], (long long)w->shape[1],
                           (long long)w->shape[2], (long long)w->shape[3], channels);
        snprintf(name, sizeof name, "maskiou_net.maskiou_net.%d.bias", i);
        YL_TRY(require(b, name, 1, o, &bt));
        param_ref *r = &b->maskiou[net->num_layers];
        YL_TRY(reserve_params(b, (size_t)w->numel, &r->weight));
        YL_TRY(reserve_params(b, (size_t)o, &r->bias));
        memcpy(b->params + r->weight, w->data, (size_t)w->numel * sizeof(float));
        memcpy(b->params + r->bias, bt->data, (size_t)o * sizeof(float));
        m->info.num_parameters += w->numel + o;
        net->layers[net->num_layers].conv = (yl_conv_desc){channels, o, k, k, k == 3 ? 2 : 1, 0, 1};
        if (net->num_layers < 8)
            m->info.maskiou_channels[net->num_layers] = o;
        net->num_layers++;
        channels = o;
    }
    if (net->num_layers > 0 && channels != m->num_classes - 1)
        return yl_fail(YOLACT_ERR_MODEL, "the mask-IoU net's last layer "
                       "('maskiou_net.maskiou_net.%d.weight') has %d outputs, the head has %d "
                       "foreground classes", 2 * (net->num_layers - 1), channels,
                       m->num_classes - 1);
    int h = net->in_h, w = net->in_w;
    for (int l = 0; l < net->num_layers; l++) {
        const yl_conv_desc *d = &net->layers[l].conv;
        h = yl_conv_out_size(h, d->kernel_h, d->stride, 0, 1);
        w = yl_conv_out_size(w, d->kernel_w, d->stride, 0, 1);
        if (h < 1 || w < 1)
            return yl_fail(YOLACT_ERR_MODEL, "the mask-IoU net's layer "
                           "'maskiou_net.maskiou_net.%d' has no output left on a %dx%d mask",
                           2 * l, net->in_h, net->in_w);
    }
    m->info.maskiou_layers = net->num_layers;
    return YOLACT_OK;
}

/* ---- the whole model ------------------------------------------------------------------ */

/* Keys that inference never reads: BatchNorm counters, the training-only semantic
 * segmentation head, and what the official load_weights drops (legacy 'backbone.layerN'
 * names, FPN downsample layers beyond the preset's). */
static int is_ignorable(const char *name, int num_downsample)
{
    size_t n = strlen(name);
    const char *counter = ".num_batches_tracked";
    int k;
    if (n >= strlen(counter) && strcmp(name + n - strlen(counter), counter) == 0)
        return 1;
    if (strncmp(name, "semantic_seg_conv.", 18) == 0)
        return 1;
    if (strncmp(name, "backbone.layer", 14) == 0 && strncmp(name, "backbone.layers.", 16) != 0)
        return 1;
    if (sscanf(name, "fpn.downsample_layers.%d.", &k) == 1 && k >= num_downsample)
        return 1;
    return 0;
}

static yolact_status collect_unused(builder *b)
{
    yolact_model *m = b->m;
    size_t n = 0;
    for (size_t i = 0; i < b->table->count; i++) {
        const char *name = b->table->tensors[i].name;
        if (b->used[i])
            continue;
        if (strncmp(name, "maskiou_net.", 12) == 0)
            return yl_fail(YOLACT_ERR_MODEL, "unexpected tensor '%s' in the mask-IoU net "
                           "(layers are 'maskiou_net.maskiou_net.N', N = 0, 2, 4, ...)", name);
        if (!is_ignorable(name, m->preset.num_downsample) && strncmp(name, "fpn.", 4) == 0)
            return yl_fail(YOLACT_ERR_MODEL, "unexpected tensor '%s' in the FPN", name);
        n++;
    }
    m->unused_keys = calloc(n + 1, sizeof *m->unused_keys);
    if (!m->unused_keys)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory");
    n = 0;
    for (size_t i = 0; i < b->table->count; i++)
        if (!b->used[i] && !(m->unused_keys[n++] = strdup(b->table->tensors[i].name)))
            return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory");
    m->info.num_unused_keys = (int)n;
    m->info.unused_keys = (const char *const *)m->unused_keys;
    return YOLACT_OK;
}

static yolact_status set_classes(yolact_model *m)
{
    int n = m->num_classes - 1;
    m->class_names = calloc((size_t)n, sizeof *m->class_names);
    m->category_ids = calloc((size_t)n, sizeof *m->category_ids);
    if (!m->class_names || !m->category_ids)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < n; i++) {
        char generic[32];
        snprintf(generic, sizeof generic, "class_%d", i);
        m->class_names[i] = strdup(n == 80 ? yl_coco_class_names[i] : generic);
        m->category_ids[i] = n == 80 ? yl_coco_category_ids[i] : i + 1;
        if (!m->class_names[i])
            return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    m->info.class_names = (const char *const *)m->class_names;
    return YOLACT_OK;
}

static yolact_status make_priors(yolact_model *m)
{
    const yl_preset *p = &m->preset;
    yl_prior_level levels[YL_MAX_LEVELS];
    for (int l = 0; l < m->num_levels; l++)
        levels[l] = (yl_prior_level){m->levels[l].height, m->levels[l].width, p->num_scales,
                                     p->scales[l], p->num_aspect_ratios, p->aspect_ratios};
    m->priors = malloc((size_t)m->num_priors * 4 * sizeof *m->priors);
    if (!m->priors)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for the priors");
    int n = yl_make_priors(levels, m->num_levels, p->input_size, p->square_anchors, m->priors);
    if (n != m->num_priors)
        return yl_fail(YOLACT_ERR_INTERNAL, "prior count %d differs from the head's %d", n,
                       m->num_priors);
    return YOLACT_OK;
}

static yolact_status build(builder *b, const yl_preset *preset)
{
    yolact_model *m = b->m;
    int input, stage_out[5], levels[YL_MAX_LEVELS], proto = 0;
    YL_TRY(new_buffer(b, 3, preset->input_size, preset->input_size, &input));

    yolact_backbone_kind kind;
    if (yl_tensor_table_find(b->table, "backbone.conv1.weight"))
        kind = YOLACT_BACKBONE_RESNET;
    else if (yl_tensor_table_find(b->table, "backbone._preconv.0.weight"))
        kind = YOLACT_BACKBONE_DARKNET;
    else
        return yl_fail(YOLACT_ERR_MODEL, "no backbone: neither 'backbone.conv1.weight' (ResNet) "
                       "nor 'backbone._preconv.0.weight' (DarkNet) is present");
    if (kind != preset->backbone)
        return yl_fail(YOLACT_ERR_MODEL, "the weights hold a %s backbone but preset %s expects %s",
                       kind == YOLACT_BACKBONE_RESNET ? "ResNet" : "DarkNet", preset->name,
                       preset->backbone == YOLACT_BACKBONE_RESNET ? "ResNet" : "DarkNet");
    m->info.backbone = kind;
    b->part = YL_PART_BACKBONE;
    YL_TRY(kind == YOLACT_BACKBONE_RESNET ? build_resnet(b, stage_out) : build_darknet(b, stage_out));
    b->part = YL_PART_FPN;
    YL_TRY(build_fpn(b, stage_out, levels));
    if (m->num_levels > YL_MAX_LEVELS || m->num_levels != 5)
        return yl_fail(YOLACT_ERR_MODEL, "the FPN gives %d levels, preset %s has anchors for 5",
                       m->num_levels, preset->name);
    b->part = YL_PART_PROTONET;
    YL_TRY(build_protonet(b, levels[0], &proto));
    b->part = YL_PART_HEADS;
    YL_TRY(build_head(b, levels));
    b->part = YL_PART_PROTONET;
    YL_TRY(new_op(b, &(yl_op){.kind = YL_OP_PROTO_OUTPUT, .name = "proto_net.output",
                              .in = proto, .out = -1, .residual = -1}));
    YL_TRY(build_maskiou(b));
    YL_TRY(make_priors(m));
    YL_TRY(collect_unused(b));
    YL_TRY(set_classes(m));

    /* The parameter block is final: point the ops at it. */
    m->params = b->params;
    b->params = NULL;
    for (int i = 0; i < b->num_refs; i++) {
        m->ops[b->refs[i].op].weight = m->params + b->refs[i].weight;
        m->ops[b->refs[i].op].bias = m->params + b->refs[i].bias;
    }
    for (int l = 0; l < m->maskiou.num_layers; l++) {
        m->maskiou.layers[l].weight = m->params + b->maskiou[l].weight;
        m->maskiou.layers[l].bias = m->params + b->maskiou[l].bias;
    }

    yolact_model_info *info = &m->info;
    info->num_levels = m->num_levels;
    info->num_prototypes = m->num_prototypes;
    info->anchors_per_cell = m->anchors_per_cell;
    info->num_classes = m->num_classes;
    info->input_size = preset->input_size;
    return YOLACT_OK;
}

yolact_status yl_model_build(const yl_tensor_table *table, const yl_preset *preset,
                             yolact_preset_source preset_source, yolact_model **out)
{
    *out = NULL;
    builder b = {.table = table};
    b.used = calloc(table->count + 1, 1);
    b.m = calloc(1, sizeof *b.m);
    if (!b.used || !b.m) {
        free(b.used);
        free(b.m);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    yolact_model *m = b.m;
    m->cache = yl_model_cache_create();
    m->preset = *preset;
    m->preset_name = strdup(preset->name);
    m->info.preset = m->preset_name;
    m->info.preset_source = preset_source;
    yolact_status s = m->cache && m->preset_name
                          ? build(&b, preset)
                          : yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory");
    free(b.used);
    free(b.params);
    free(b.refs);
    if (s != YOLACT_OK) {
        yolact_model_free(m);
        return s;
    }
    *out = m;
    return YOLACT_OK;
}

/* Without a name or a file name to go by: DarkNet is yolact_darknet53; a ResNet with 23
 * blocks in stage 3 is yolact_base (im400 and im700 have the same shapes: only a name
 * tells them apart); any other ResNet gets yolact_resnet50's anchors. A mask-IoU net makes
 * it YOLACT++: yolact_plus_base or yolact_plus_resnet50 by the same rule. */
const yl_preset *yl_preset_guess(const yl_tensor_table *table)
{
    if (yl_tensor_table_find(table, "backbone._preconv.0.weight"))
        return yl_preset_find("yolact_darknet53");
    int plus = yl_tensor_table_find(table, "maskiou_net.maskiou_net.0.weight") != NULL;
    if (yl_tensor_table_find(table, "backbone.layers.2.22.conv1.weight"))
        return yl_preset_find(plus ? "yolact_plus_base" : "yolact_base");
    return yl_preset_find(plus ? "yolact_plus_resnet50" : "yolact_resnet50");
}

void yolact_model_free(yolact_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->num_ops; i++)
        free((char *)m->ops[i].name);
    free(m->ops);
    free(m->buffers);
    yl_model_cache_free(m->cache); /* before the parameters its entries were made from */
    free(m->params);
    free(m->priors);
    for (int i = 0; m->class_names && i < m->num_classes - 1; i++)
        free(m->class_names[i]);
    free(m->class_names);
    free(m->category_ids);
    for (int i = 0; m->unused_keys && m->unused_keys[i]; i++)
        free(m->unused_keys[i]);
    free(m->unused_keys);
    free(m->preset_name);
    free(m);
}

const yolact_model_info *yolact_model_get_info(const yolact_model *model)
{
    return model ? &model->info : NULL;
}
