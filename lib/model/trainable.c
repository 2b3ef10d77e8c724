/* The network's trainable parameters under their state-dict keys (model.h's yl_trainable),
 * read off the op list: training computes gradients of the folded weights the ops hold and
 * hands them out unfolded, as the official code's parameters are. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "status.h"
#include "train/param_fold.h"

/* Whether op i's output is read by a HEAD_OUTPUT: the head's concatenated convolution. */
static int is_head_conv(const yolact_model *m, int i)
{
    for (int j = i + 1; j < m->num_ops; j++)
        if (m->ops[j].kind == YL_OP_HEAD_OUTPUT && m->ops[j].in == m->ops[i].out)
            return 1;
    return 0;
}

static void add(yl_trainable *list, int *n, const char *module, const char *suffix,
                const yolact_model *m, const float *at, size_t rows, const yl_conv_desc *d,
                const float *bn_scale)
{
    yl_trainable *t = &list[(*n)++];
    snprintf(t->name, sizeof t->name, "%s.%s", module, suffix);
    t->offset = (size_t)(at - m->params);
    t->rows = rows;
    t->bn_scale = bn_scale;
    if (d) {
        t->ndim = 4;
        t->per_row = (size_t)d->in_channels * d->kernel_h * d->kernel_w;
        t->shape[0] = (int64_t)rows, t->shape[1] = d->in_channels;
        t->shape[2] = d->kernel_h, t->shape[3] = d->kernel_w;
    } else {
        t->ndim = 1;
        t->per_row = 1;
        t->shape[0] = (int64_t)rows;
    }
}

yolact_status yl_model_trainables(const yolact_model *m, yl_trainable **out, int *count,
                                  size_t *block_floats)
{
    yl_trainable *list = malloc(sizeof *list * (size_t)(3 * 2 * m->num_ops + 1));
    if (!list)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory listing the parameters");
    int n = 0;
    size_t end = 0;
    for (int i = 0; i < m->num_ops; i++) {
        const yl_op *op = &m->ops[i];
        if (op->kind != YL_OP_CONV && op->kind != YL_OP_DCN)
            continue;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = m->ops[j].weight == op->weight;
        if (seen)
            continue;
        const yl_conv_desc *d = &op->conv;
        size_t per_row = (size_t)d->in_channels * d->kernel_h * d->kernel_w;
        size_t e = (size_t)(op->bias - m->params) + (size_t)d->out_channels;
        end = e > end ? e : end;
        if (is_head_conv(m, i)) {
            static const char *const parts[3] = {"bbox_layer", "conf_layer", "mask_layer"};
            const int A = m->anchors_per_cell;
            const int rows[3] = {4 * A, m->num_classes * A, m->num_prototypes * A};
            char module[128];
            for (int p = 0, r = 0; p < 3; r += rows[p], p++) {
                snprintf(module, sizeof module, "%s.%s", op->name, parts[p]);
                add(list, &n, module, "weight", m, op->weight + (size_t)r * per_row, rows[p], d,
                    NULL);
                add(list, &n, module, "bias", m, op->bias + r, rows[p], NULL, NULL);
            }
            continue;
        }
        add(list, &n, op->name, "weight", m, op->weight, d->out_channels, d, op->bn_scale);
        /* A convolution before a BatchNorm has no bias of its own (DCN layers do). */
        if (!op->bn_scale || op->kind == YL_OP_DCN)
            add(list, &n, op->name, "bias", m, op->bias, d->out_channels, NULL, op->bn_scale);
    }
    *out = list;
    *count = n;
    *block_floats = end;
    return YOLACT_OK;
}

void yl_trainable_unfold_grad(const yl_trainable *t, const float *block, float *out)
{
    yl_scale_rows(block + t->offset, t->rows, t->per_row, t->bn_scale, 0, 1.0f, out);
}
