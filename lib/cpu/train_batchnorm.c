/* Trainable BatchNorm in the training pass (train_batchnorm.h). */
#include "cpu/train_batchnorm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/conv.h"
#include "cpu/dense_ops.h"
#include "cpu/grad_ops.h"
#include "status.h"

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f /* nn.BatchNorm2d's default, which YOLACT keeps */

void yl_train_batchnorm_destroy(yl_train_batchnorm *bn)
{
    if (!bn)
        return;
    for (int l = 0; bn->layers && l < bn->count; l++) {
        yl_bn_layer *L = &bn->layers[l];
        free(L->input);
        free(L->mean);
        free(L->invstd);
        free(L->grad_gamma);
        free(L->grad_beta);
    }
    free(bn->layers);
    free(bn->layer_of_op);
    free(bn->view.ops);
    free(bn->scratch[0]);
    free(bn->scratch[1]);
    free(bn);
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

static yolact_status add_layer(yl_train_batchnorm *bn, const yolact_model *m,
                               const yl_tensor_table *table, int i, const char *module)
{
    const yl_op *op = &m->ops[i];
    yl_bn_layer *L = &bn->layers[bn->count];
    const int C = op->conv.out_channels;
    float *gamma, *beta;
    *L = (yl_bn_layer){.op = i, .module = module, .channels = C, .act = op->act,
                       .residual = op->residual,
                       .plane = (size_t)m->buffers[op->out].height * m->buffers[op->out].width};
    snprintf(L->param[0], sizeof L->param[0], "%s.weight", module);
    snprintf(L->param[1], sizeof L->param[1], "%s.bias", module);
    YL_TRY(find(table, module, "weight", C, &gamma));
    YL_TRY(find(table, module, "bias", C, &beta));
    YL_TRY(find(table, module, "running_mean", C, &L->running_mean));
    YL_TRY(find(table, module, "running_var", C, &L->running_var));
    L->gamma = gamma;
    L->beta = beta;
    L->mean = malloc(C * sizeof(float));
    L->invstd = malloc(C * sizeof(float));
    L->grad_gamma = calloc(C, sizeof(float));
    L->grad_beta = calloc(C, sizeof(float));
    bn->count++;
    if (!L->mean || !L->invstd || !L->grad_gamma || !L->grad_beta)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for BatchNorm '%s'", module);
    bn->layer_of_op[i] = bn->count - 1;
    bn->view.ops[i].act = YL_ACT_NONE;
    bn->view.ops[i].residual = -1;
    return YOLACT_OK;
}

yolact_status yl_train_batchnorm_create(const yolact_model *m, const yl_tensor_table *table,
                                        yl_train_batchnorm **out)
{
    *out = NULL;
    yl_train_batchnorm *bn = calloc(1, sizeof *bn);
    if (!bn)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for trainable BatchNorm");
    bn->view = *m;
    bn->view.ops = malloc(sizeof *bn->view.ops * (size_t)m->num_ops);
    bn->layer_of_op = malloc(sizeof *bn->layer_of_op * (size_t)m->num_ops);
    bn->layers = calloc((size_t)m->num_ops, sizeof *bn->layers);
    yolact_status s = bn->view.ops && bn->layer_of_op && bn->layers
                          ? YOLACT_OK
                          : yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for trainable "
                                    "BatchNorm");
    if (s == YOLACT_OK)
        memcpy(bn->view.ops, m->ops, sizeof *m->ops * (size_t)m->num_ops);
    for (int i = 0; s == YOLACT_OK && i < m->num_ops; i++) {
        bn->layer_of_op[i] = -1;
        const char *module = bn_of(m, i);
        if (module)
            s = add_layer(bn, m, table, i, module);
    }
    if (s != YOLACT_OK) {
        yl_train_batchnorm_destroy(bn);
        return s;
    }
    *out = bn;
    return YOLACT_OK;
}

yolact_status yl_train_batchnorm_reserve(yl_train_batchnorm *bn, int batch)
{
    if (batch <= bn->capacity)
        return YOLACT_OK;
    size_t largest = 0;
    for (int l = 0; l < bn->count; l++) {
        yl_bn_layer *L = &bn->layers[l];
        const size_t n = (size_t)L->channels * L->plane;
        largest = n > largest ? n : largest;
        float *input = realloc(L->input, (size_t)batch * n * sizeof(float));
        if (!input)
            return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for BatchNorm '%s' on "
                           "%d images", L->module, batch);
        L->input = input;
    }
    for (int k = 0; k < 2; k++) {
        float *x = realloc(bn->scratch[k], ((size_t)batch * largest + 1) * sizeof(float));
        if (!x)
            return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for BatchNorm on %d "
                           "images", batch);
        bn->scratch[k] = x;
    }
    bn->capacity = batch;
    return YOLACT_OK;
}

void yl_train_batchnorm_forward(yl_train_batchnorm *bn, int l, yl_training_forward *const *fw,
                                int batch, int update_running)
{
    yl_bn_layer *L = &bn->layers[l];
    const yl_op *op = &bn->view.ops[L->op];
    const size_t n = (size_t)L->channels * L->plane;
    for (int b = 0; b < batch; b++)
        memcpy(L->input + b * n, fw[b]->buffers[op->out], n * sizeof(float));
    float *y = bn->scratch[0];
    yl_batchnorm_train_forward_cpu(L->input, batch, L->channels, L->plane, L->gamma, L->beta,
                                   BN_EPS, BN_MOMENTUM,
                                   update_running ? L->running_mean : NULL,
                                   update_running ? L->running_var : NULL, y, L->mean,
                                   L->invstd);
    /* Then what the convolution fuses in inference: torchvision's Bottleneck adds the
     * identity to bn3's output, then the ReLU. */
    for (int b = 0; b < batch; b++)
        yl_add_activate_cpu(y + b * n, L->residual >= 0 ? fw[b]->buffers[L->residual] : NULL,
                            n, L->act, fw[b]->buffers[op->out]);
}

void yl_train_batchnorm_zero(yl_train_batchnorm *bn)
{
    for (int l = 0; l < bn->count; l++) {
        memset(bn->layers[l].grad_gamma, 0, bn->layers[l].channels * sizeof(float));
        memset(bn->layers[l].grad_beta, 0, bn->layers[l].channels * sizeof(float));
    }
}

void yl_train_batchnorm_backward(yl_train_batchnorm *bn, int l,
                                 yl_training_forward *const *fw,
                                 yl_training_backward *const *bw, int batch)
{
    yl_bn_layer *L = &bn->layers[l];
    const yl_op *op = &bn->view.ops[L->op];
    const size_t n = (size_t)L->channels * L->plane;
    float *dy = bn->scratch[0], *dx = bn->scratch[1];
    for (int b = 0; b < batch; b++) {
        float *g = bw[b]->grads[op->out];
        yl_activation_backward_cpu(L->act, fw[b]->buffers[op->out], g, n, g);
        if (L->residual >= 0)
            yl_add_cpu(bw[b]->grads[L->residual], g, n, bw[b]->grads[L->residual]);
        memcpy(dy + b * n, g, n * sizeof(float));
    }
    yl_batchnorm_train_backward_cpu(L->input, dy, batch, L->channels, L->plane, L->gamma,
                                    L->mean, L->invstd, dx, L->grad_gamma, L->grad_beta);
    for (int b = 0; b < batch; b++)
        memcpy(bw[b]->grads[op->out], dx + b * n, n * sizeof(float));
}
