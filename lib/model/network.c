/* The parts of the network read off the checkpoint's tensor names and shapes: the
 * backbone (ResNet or DarkNet, its depth), the FPN, the protonet, the prediction head and
 * YOLACT++'s mask-IoU net, each added to the op list with the builder's steps. */
#include <stdio.h>

#include "builder.h"

/* ---- backbones ---------------------------------------------------------------------- */

static int count_indices(const builder *b, const char *fmt_prefix, int outer)
{
    int n = 0;
    while (outer < 0 ? yl_tensor_exists(b, fmt_prefix, n)
                     : yl_tensor_exists(b, fmt_prefix, outer, n))
        n++;
    return n;
}

/* ResNet with Bottleneck blocks (torchvision layout, stride on the 3x3 conv). */
yolact_status yl_build_resnet(builder *b, int *stage_out)
{
    yolact_model_info *info = &b->m->info;
    char conv[128], bn[128];
    int x;
    YL_TRY(yl_add_conv(b, &(conv_spec){"backbone.conv1", "backbone.bn1", 2, YL_ACT_RELU, -1}, 0,
                       &x));
    const yl_buffer_desc c = b->m->buffers[x];
    int ph = yl_conv_out_size(c.height, 3, 2, 1, 1), pw = yl_conv_out_size(c.width, 3, 2, 1, 1);
    YL_TRY(yl_add_simple(b, (yl_op){.kind = YL_OP_MAXPOOL, .name = "backbone.maxpool", .in = x,
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
            if (yl_tensor_exists(b, "%s.weight", conv)) {
                snprintf(bn, sizeof bn, "backbone.layers.%d.%d.downsample.1", s, k);
                YL_TRY(yl_add_conv(b, &(conv_spec){conv, bn, stride, YL_ACT_NONE, -1}, in,
                                   &residual));
            }
            for (int i = 1; i <= 3; i++) {
                snprintf(conv, sizeof conv, "backbone.layers.%d.%d.conv%d", s, k, i);
                snprintf(bn, sizeof bn, "backbone.layers.%d.%d.bn%d", s, k, i);
                conv_spec spec = {conv, bn, i == 2 ? stride : 1, YL_ACT_RELU, i == 3 ? residual : -1};
                int src = i == 1 ? in : t, offsets = 0;
                /* YOLACT++: a 3x3 conv with a conv_offset_mask is a DCN fed by that conv. */
                if (i == 2 && yl_tensor_exists(b, "%s.conv_offset_mask.weight", conv)) {
                    char om[160];
                    snprintf(om, sizeof om, "%s.conv_offset_mask", conv);
                    YL_TRY(yl_add_conv(b, &(conv_spec){om, NULL, spec.stride, YL_ACT_NONE, -1},
                                       src, &offsets));
                    info->stage_dcn[s]++;
                }
                YL_TRY(yl_add_conv_or_dcn(b, &spec, src, offsets, &t));
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
yolact_status yl_build_darknet(builder *b, int *stage_out)
{
    yolact_model_info *info = &b->m->info;
    char conv[128], bn[128];
    int x;
    YL_TRY(yl_add_conv(b, &(conv_spec){"backbone._preconv.0", "backbone._preconv.1", 1,
                                       YL_ACT_LEAKY_RELU_0_1, -1}, 0, &x));
    info->backbone_stages = count_indices(b, "backbone.layers.%d.0.0.weight", -1);
    if (info->backbone_stages != 5)
        return yl_fail(YOLACT_ERR_MODEL, "DarkNet backbone has %d stages "
                       "('backbone.layers.N.0.0.weight'), expected 5", info->backbone_stages);
    for (int s = 0; s < 5; s++) {
        snprintf(conv, sizeof conv, "backbone.layers.%d.0.0", s);
        snprintf(bn, sizeof bn, "backbone.layers.%d.0.1", s);
        YL_TRY(yl_add_conv(b, &(conv_spec){conv, bn, 2, YL_ACT_LEAKY_RELU_0_1, -1}, x, &x));
        int depth = 0;
        while (yl_tensor_exists(b, "backbone.layers.%d.%d.conv1.0.weight", s, depth + 1))
            depth++;
        info->stage_depth[s] = depth;
        for (int k = 1; k <= depth; k++) {
            int t;
            for (int i = 1; i <= 2; i++) {
                snprintf(conv, sizeof conv, "backbone.layers.%d.%d.conv%d.0", s, k, i);
                snprintf(bn, sizeof bn, "backbone.layers.%d.%d.conv%d.1", s, k, i);
                YL_TRY(yl_add_conv(b, &(conv_spec){conv, bn, 1, YL_ACT_LEAKY_RELU_0_1, -1},
                                   i == 1 ? x : t, &t));
            }
            const yl_buffer_desc d = b->m->buffers[t];
            if (d.channels != b->m->buffers[x].channels)
                return yl_fail(YOLACT_ERR_MODEL, "'backbone.layers.%d.%d.conv2.0.weight' gives "
                               "%d channels, its block input has %d", s, k, d.channels,
                               b->m->buffers[x].channels);
            YL_TRY(yl_add_simple(b, (yl_op){.kind = YL_OP_ADD, .name = "backbone.block_add",
                                            .in = t, .residual = x}, d.channels, d.height,
                                 d.width, &x));
        }
        stage_out[s] = x;
        info->stage_channels[s] = b->m->buffers[x].channels;
    }
    return YOLACT_OK;
}

/* ---- FPN, protonet, head -------------------------------------------------------------- */

yolact_status yl_build_fpn(builder *b, const int *stage_out, int *levels)
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
            YL_TRY(yl_add_simple(b, (yl_op){.kind = YL_OP_RESIZE, .name = "fpn.upsample", .in = x,
                                            .residual = -1}, m->buffers[x].channels, d.height,
                                 d.width, &up));
        }
        snprintf(conv, sizeof conv, "fpn.lat_layers.%d", i);
        YL_TRY(yl_add_conv(b, &(conv_spec){conv, NULL, 1, YL_ACT_NONE, up}, src, &x));
        lat[j] = x;
    }
    for (int i = 0; i < n; i++) {
        int j = n - 1 - i;
        snprintf(conv, sizeof conv, "fpn.pred_layers.%d", i);
        YL_TRY(yl_add_conv(b, &(conv_spec){conv, NULL, 1, YL_ACT_RELU, -1}, lat[j], &levels[j]));
    }
    m->info.fpn_channels = m->buffers[levels[0]].channels;
    for (int k = 0; k < m->preset.num_downsample; k++) {
        snprintf(conv, sizeof conv, "fpn.downsample_layers.%d", k);
        YL_TRY(yl_add_conv(b, &(conv_spec){conv, NULL, 2, YL_ACT_NONE, -1}, levels[n + k - 1],
                           &levels[n + k]));
    }
    m->info.fpn_downsample_levels = m->preset.num_downsample;
    m->num_levels = n + m->preset.num_downsample;
    return YOLACT_OK;
}

/* proto_net is an nn.Sequential of (layer, ReLU) pairs: a convolution at every even index
 * that holds weights, a parameterless x2 bilinear upsample at an even index that holds
 * none. Every convolution is followed by a ReLU (the last by the prototype activation). */
yolact_status yl_build_protonet(builder *b, int p3, int *proto)
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
        if (yl_tensor_exists(b, "%s.weight", conv)) {
            YL_TRY(yl_add_conv(b, &(conv_spec){conv, NULL, 1, YL_ACT_RELU, -1}, x, &x));
            b->m->info.protonet_layers++;
        } else {
            const yl_buffer_desc d = b->m->buffers[x];
            YL_TRY(yl_add_simple(b, (yl_op){.kind = YL_OP_RESIZE, .name = "proto_net.upsample",
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
yolact_status yl_build_head(builder *b, const int *levels)
{
    yolact_model *m = b->m;
    static const char *const parts[] = {"bbox_layer", "conf_layer", "mask_layer"};
    const yl_tensor *w[3], *bias[3];
    char name[128];
    if (yl_tensor_exists(b, "prediction_layers.1.bbox_layer.weight"))
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "unshared prediction heads "
                       "('prediction_layers.1.*') are not supported");
    if (yl_tensor_exists(b, "prediction_layers.0.bbox_extra.0.weight") ||
        yl_tensor_exists(b, "prediction_layers.0.score_layer.weight") ||
        yl_tensor_exists(b, "prediction_layers.0.gate_layer.weight"))
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "prediction head with extra layers, mask "
                       "scoring or coefficient gates is not supported");
    int total = 0;
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "prediction_layers.0.%s.weight", parts[i]);
        YL_TRY(yl_require_tensor(b, name, 4, -1, &w[i]));
        snprintf(name, sizeof name, "prediction_layers.0.%s.bias", parts[i]);
        YL_TRY(yl_require_tensor(b, name, 1, w[i]->shape[0], &bias[i]));
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
    YL_TRY(yl_reserve_params(b, per * (size_t)total, &woff));
    YL_TRY(yl_reserve_params(b, (size_t)total, &boff));
    for (int i = 0, row = 0; i < 3; i++) {
        snprintf(name, sizeof name, "prediction_layers.0.%s", parts[i]);
        const int rows = (int)w[i]->shape[0];
        YL_TRY(yl_add_fill(b, &(yl_param_fill){name, NULL, 1, rows, per,
                                               woff + (size_t)row * per, boff + (size_t)row,
                                               YL_NO_BN_SCALE}));
        row += rows;
        m->info.num_parameters += w[i]->numel + rows;
    }

    int prior = 0;
    for (int l = 0; l < m->num_levels; l++) {
        int x = levels[l];
        for (int i = 0; yl_tensor_exists(b, "prediction_layers.0.upfeature.%d.weight", i); i += 2) {
            snprintf(name, sizeof name, "prediction_layers.0.upfeature.%d", i);
            YL_TRY(yl_add_conv(b, &(conv_spec){name, NULL, 1, YL_ACT_RELU, -1}, x, &x));
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
        YL_TRY(yl_new_buffer(b, total, d.height, d.width, &maps));
        op.out = maps;
        YL_TRY(yl_add_param_ref(b, woff, boff, YL_NO_BN_SCALE));
        YL_TRY(yl_new_op(b, &op));
        YL_TRY(yl_new_op(b, &(yl_op){.kind = YL_OP_HEAD_OUTPUT,
                                     .name = "prediction_layers.0.output", .in = maps, .out = -1,
                                     .residual = -1, .level = l}));
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
yolact_status yl_build_maskiou(builder *b)
{
    yolact_model *m = b->m;
    yl_maskiou_net *net = &m->maskiou;
    char name[128];
    int channels = 1;
    net->in_h = m->proto_h;
    net->in_w = m->proto_w;
    for (int i = 0; yl_tensor_exists(b, "maskiou_net.maskiou_net.%d.weight", i); i += 2) {
        if (net->num_layers == YL_MAX_MASKIOU_LAYERS)
            return yl_fail(YOLACT_ERR_UNSUPPORTED, "mask-IoU net with more than %d layers "
                           "('maskiou_net.maskiou_net.%d.weight')", YL_MAX_MASKIOU_LAYERS, i);
        const yl_tensor *w, *bt;
        snprintf(name, sizeof name, "maskiou_net.maskiou_net.%d.weight", i);
        YL_TRY(yl_require_tensor(b, name, 4, -1, &w));
        int o = (int)w->shape[0], k = (int)w->shape[2];
        if (w->shape[1] != channels || w->shape[3] != k || (k != 1 && k != 3))
            return yl_fail(YOLACT_ERR_MODEL, "tensor '%s' is %lldx%lldx%lldx%lld; the mask-IoU "
                           "net expects %d input channels and a 1x1 or 3x3 kernel", name,
                           (long long)w->shape[0], (long long)w->shape[1],
                           (long long)w->shape[2], (long long)w->shape[3], channels);
        snprintf(name, sizeof name, "maskiou_net.maskiou_net.%d.bias", i);
        YL_TRY(yl_require_tensor(b, name, 1, o, &bt));
        param_ref *r = &b->maskiou[net->num_layers];
        YL_TRY(yl_reserve_params(b, (size_t)w->numel, &r->weight));
        YL_TRY(yl_reserve_params(b, (size_t)o, &r->bias));
        snprintf(name, sizeof name, "maskiou_net.maskiou_net.%d", i);
        YL_TRY(yl_add_fill(b, &(yl_param_fill){name, NULL, 1, o, (size_t)(w->numel / o),
                                               r->weight, r->bias, YL_NO_BN_SCALE}));
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
