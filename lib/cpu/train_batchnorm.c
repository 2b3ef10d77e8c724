/* Trainable BatchNorm in the training pass (train_batchnorm.h). */
#include "cpu/train_batchnorm.h"

#include <stdlib.h>
#include <string.h>

#include "cpu/conv.h"
#include "cpu/dense_ops.h"
#include "cpu/grad_ops.h"
#include "status.h"

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
    yl_bn_desc *found = NULL;
    int count = 0;
    yolact_status s = bn->view.ops && bn->layer_of_op && bn->layers
                          ? yl_model_batchnorms(m, table, &found, &count)
                          : yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for trainable "
                                    "BatchNorm");
    if (s == YOLACT_OK) {
        memcpy(bn->view.ops, m->ops, sizeof *m->ops * (size_t)m->num_ops);
        for (int i = 0; i < m->num_ops; i++)
            bn->layer_of_op[i] = -1;
    }
    for (int l = 0; s == YOLACT_OK && l < count; l++) {
        yl_bn_layer *L = &bn->layers[l];
        const int C = found[l].channels;
        L->d = found[l];
        L->mean = malloc(C * sizeof(float));
        L->invstd = malloc(C * sizeof(float));
        L->grad_gamma = calloc(C, sizeof(float));
        L->grad_beta = calloc(C, sizeof(float));
        bn->count++;
        if (!L->mean || !L->invstd || !L->grad_gamma || !L->grad_beta)
            s = yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for BatchNorm '%s'",
                        L->d.module);
        /* the view's convolution runs alone: its activation and residual come after */
        bn->layer_of_op[L->d.op] = l;
        bn->view.ops[L->d.op].act = YL_ACT_NONE;
        bn->view.ops[L->d.op].residual = -1;
    }
    free(found);
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
        const size_t n = (size_t)L->d.channels * L->d.plane;
        largest = n > largest ? n : largest;
        float *input = realloc(L->input, (size_t)batch * n * sizeof(float));
        if (!input)
            return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for BatchNorm '%s' on "
                           "%d images", L->d.module, batch);
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
    const yl_op *op = &bn->view.ops[L->d.op];
    const size_t n = (size_t)L->d.channels * L->d.plane;
    for (int b = 0; b < batch; b++)
        memcpy(L->input + b * n, fw[b]->buffers[op->out], n * sizeof(float));
    float *y = bn->scratch[0];
    yl_batchnorm_train_forward_cpu(L->input, batch, L->d.channels, L->d.plane, L->d.gamma,
                                   L->d.beta, YL_BN_EPS, YL_BN_MOMENTUM,
                                   update_running ? L->d.running_mean : NULL,
                                   update_running ? L->d.running_var : NULL, y, L->mean,
                                   L->invstd);
    /* Then what the convolution fuses in inference: torchvision's Bottleneck adds the
     * identity to bn3's output, then the ReLU. */
    for (int b = 0; b < batch; b++)
        yl_add_activate_cpu(y + b * n,
                            L->d.residual >= 0 ? fw[b]->buffers[L->d.residual] : NULL, n,
                            L->d.act, fw[b]->buffers[op->out]);
}

void yl_train_batchnorm_zero(yl_train_batchnorm *bn)
{
    for (int l = 0; l < bn->count; l++) {
        memset(bn->layers[l].grad_gamma, 0, bn->layers[l].d.channels * sizeof(float));
        memset(bn->layers[l].grad_beta, 0, bn->layers[l].d.channels * sizeof(float));
    }
}

void yl_train_batchnorm_backward(yl_train_batchnorm *bn, int l,
                                 yl_training_forward *const *fw,
                                 yl_training_backward *const *bw, int batch)
{
    yl_bn_layer *L = &bn->layers[l];
    const yl_op *op = &bn->view.ops[L->d.op];
    const size_t n = (size_t)L->d.channels * L->d.plane;
    float *dy = bn->scratch[0], *dx = bn->scratch[1];
    for (int b = 0; b < batch; b++) {
        float *g = bw[b]->grads[op->out];
        yl_activation_backward_cpu(L->d.act, fw[b]->buffers[op->out], g, n, g);
        if (L->d.residual >= 0)
            yl_add_cpu(bw[b]->grads[L->d.residual], g, n, bw[b]->grads[L->d.residual]);
        memcpy(dy + b * n, g, n * sizeof(float));
    }
    yl_batchnorm_train_backward_cpu(L->input, dy, batch, L->d.channels, L->d.plane,
                                    L->d.gamma, L->mean, L->invstd, dx, L->grad_gamma,
                                    L->grad_beta);
    for (int b = 0; b < batch; b++)
        memcpy(bw[b]->grads[op->out], dx + b * n, n * sizeof(float));
}
