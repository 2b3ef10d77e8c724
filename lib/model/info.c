/* What a built model tells about itself (yolact_model_get_info): the keys inference never
 * reads, its class names; and freeing it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "model/cache.h"

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

yolact_status yl_build_collect_unused(builder *b)
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

yolact_status yl_build_set_classes(yolact_model *m)
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
    for (int i = 0; i < m->num_fills; i++) {
        free((char *)m->fills[i].module);
        free((char *)m->fills[i].bn);
    }
    free(m->fills);
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
