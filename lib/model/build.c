/* Turns a tensor table and a preset into the model: the parts of the network in order
 * (network.c, each shape checked against its neighbours so a contradicting checkpoint is
 * refused with the name of the tensor at fault), the priors, what the model tells about
 * itself (info.c), then the ops pointed at the final parameter block; and the preset a
 * checkpoint without a telling name gets. */
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "model/cache.h"

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
    YL_TRY(yl_new_buffer(b, 3, preset->input_size, preset->input_size, &input));

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
    YL_TRY(kind == YOLACT_BACKBONE_RESNET ? yl_build_resnet(b, stage_out)
                                          : yl_build_darknet(b, stage_out));
    b->part = YL_PART_FPN;
    YL_TRY(yl_build_fpn(b, stage_out, levels));
    if (m->num_levels > YL_MAX_LEVELS || m->num_levels != 5)
        return yl_fail(YOLACT_ERR_MODEL, "the FPN gives %d levels, preset %s has anchors for 5",
                       m->num_levels, preset->name);
    b->part = YL_PART_PROTONET;
    YL_TRY(yl_build_protonet(b, levels[0], &proto));
    b->part = YL_PART_HEADS;
    YL_TRY(yl_build_head(b, levels));
    b->part = YL_PART_PROTONET;
    YL_TRY(yl_new_op(b, &(yl_op){.kind = YL_OP_PROTO_OUTPUT, .name = "proto_net.output",
                                 .in = proto, .out = -1, .residual = -1}));
    YL_TRY(yl_build_maskiou(b));
    YL_TRY(make_priors(m));
    YL_TRY(yl_build_collect_unused(b));
    YL_TRY(yl_build_set_classes(m));

    /* The parameter block is final: point the ops at it. */
    m->params = b->params;
    b->params = NULL;
    for (int i = 0; i < b->num_refs; i++) {
        m->ops[b->refs[i].op].weight = m->params + b->refs[i].weight;
        m->ops[b->refs[i].op].bias = m->params + b->refs[i].bias;
        if (b->refs[i].bn_scale != YL_NO_BN_SCALE)
            m->ops[b->refs[i].op].bn_scale = m->params + b->refs[i].bn_scale;
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
