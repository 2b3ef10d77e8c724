/* BatchNorm folded into the convolution before it (model.h's yl_fold_batchnorm), or kept
 * apart for training (yl_model_batchnorms). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model.h"
#include "status.h"
#include "train/param_fold.h"

double yl_batchnorm_fold_scale(float gamma, float var, double eps)
{
    return gamma / sqrt((double)var + eps);
}

void yl_fold_batchnorm(float *weight, float *bias, int out_channels, size_t per_channel,
                       const float *conv_bias, const float *gamma, const float *beta,
                       const float *mean, const float *var, double eps, float *scale_out)
{
    for (int o = 0; o < out_channels; o++) {
        double scale = yl_batchnorm_fold_scale(gamma[o], var[o], eps);
        if (scale_out)
            scale_out[o] = (float)scale;
        float *row = weight + (size_t)o * per_channel;
        yl_fold_rows(row, 1, per_channel, &scale, row);
        bias[o] = conv_bias ? (float)(beta[o] + ((double)conv_bias[o] - mean[o]) * scale)
                            : (float)(beta[o] - mean[o] * scale);
    }
}

/* module.part, a floating tensor of n values (its float32 data), from table. */
static yolact_status find(const yl_tensor_table *table, const char *module, const char *part,
                          int n, float **data)
{
    char name[256];
    snprintf(name, sizeof name, "%s.%s", module, part);
    const yl_tensor *t = yl_tensor_table_find(table, name);
    if (!t || !t->data || t->numel != n)
        return yl_fail(YOLACT_ERR_MODEL, "BatchNorm tensor '%s' is %s", name,
                       !t ? "missing" : t->numel != n ? "of another size"
                                                      : "not floating point");
    *data = t->data;
    return YOLACT_OK;
}

/* The BatchNorm folded into op i of m (its fill's), or NULL. */
static const char *bn_of(const yolact_model *m, int i)
{
    const yl_op *op = &m->ops[i];
    if (op->kind != YL_OP_CONV || !op->bn_scale)
        return NULL;
    for (int f = 0; f < m->num_fills; f++)
        if (m->fills[f].bn && m->params + m->fills[f].weight == op->weight)
            return m->fills[f].bn;
    return NULL;
}

static yolact_status describe(const yolact_model *m, const yl_tensor_table *table, int i,
                              const char *module, yl_bn_desc *d)
{
    const yl_op *op = &m->ops[i];
    const int C = op->conv.out_channels;
    float *gamma, *beta;
    *d = (yl_bn_desc){.op = i, .module = module, .channels = C, .act = op->act,
                      .residual = op->residual,
                      .plane = (size_t)m->buffers[op->out].height * m->buffers[op->out].width};
    snprintf(d->param[0], sizeof d->param[0], "%s.weight", module);
    snprintf(d->param[1], sizeof d->param[1], "%s.bias", module);
    YL_TRY(find(table, module, "weight", C, &gamma));
    YL_TRY(find(table, module, "bias", C, &beta));
    YL_TRY(find(table, module, "running_mean", C, &d->running_mean));
    YL_TRY(find(table, module, "running_var", C, &d->running_var));
    d->gamma = gamma;
    d->beta = beta;
    return YOLACT_OK;
}

yolact_status yl_model_batchnorms(const yolact_model *m, const yl_tensor_table *table,
                                  yl_bn_desc **list, int *count)
{
    *list = calloc((size_t)m->num_ops + 1, sizeof **list);
    *count = 0;
    if (!*list)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for trainable BatchNorm");
    for (int i = 0; i < m->num_ops; i++) {
        const char *module = bn_of(m, i);
        yolact_status s = module ? describe(m, table, i, module, &(*list)[*count]) : YOLACT_OK;
        if (s != YOLACT_OK) {
            free(*list);
            *list = NULL;
            *count = 0;
            return s;
        }
        *count += module != NULL;
    }
    return YOLACT_OK;
}
