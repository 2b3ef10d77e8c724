/* The training backward pass (training_backward.h). Ops run in reverse order, so when an op
 * is reached every op reading its output has added its share to that output's gradient. */
#include "cpu/training_backward.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/dense_ops.h"
#include "cpu/grad_ops.h"
#include "status.h"

static size_t buffer_floats(const yolact_model *m, int b)
{
    return yl_buffer_floats(&m->buffers[b]);
}

void yl_cpu_training_backward_destroy(yl_training_backward *bw)
{
    if (!bw)
        return;
    for (int b = 0; bw->grads && b < bw->model->num_buffers; b++)
        free(bw->grads[b]);
    free(bw->grads);
    free(bw->scratch);
    free(bw->conv_ws);
    free(bw->resize_ws);
    free(bw->param_grads);
    free(bw->trainables);
    free(bw->segm_weight_grad);
    free(bw->segm_bias_grad);
    free(bw);
}

/* The 1x1 semantic_seg_conv on P3. */
static yl_conv_desc segm_conv(const yolact_model *m, int p3)
{
    return (yl_conv_desc){m->buffers[p3].channels, m->num_classes - 1, 1, 1, 1, 0, 1};
}

yolact_status yl_cpu_training_backward_create(const yolact_model *m, const float *segm_weight,
                                              int threads, yl_training_backward **out)
{
    yl_training_backward *bw = calloc(1, sizeof *bw);
    if (!bw)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a training backward");
    bw->model = m;
    bw->threads = threads > 0 ? threads : omp_get_num_procs();
    bw->segm_weight = segm_weight;
    size_t block;
    yolact_status s = yl_model_trainables(m, &bw->trainables, &bw->num_trainables, &block);
    if (s != YOLACT_OK) {
        yl_cpu_training_backward_destroy(bw);
        return s;
    }
    size_t largest = 0, conv_ws = 0, resize_ws = 0;
    for (int b = 0; b < m->num_buffers; b++)
        largest = buffer_floats(m, b) > largest ? buffer_floats(m, b) : largest;
    for (int i = 0; i < m->num_ops; i++) {
        const yl_op *op = &m->ops[i];
        const yl_buffer_desc *in = &m->buffers[op->in];
        if (op->kind == YL_OP_CONV) {
            size_t w = yl_conv2d_grad_workspace_floats(&op->conv, in->height, in->width);
            conv_ws = w > conv_ws ? w : conv_ws;
        } else if (op->kind == YL_OP_RESIZE) {
            const yl_buffer_desc *o = &m->buffers[op->out];
            size_t w = yl_resize_workspace_bytes(o->height, o->width);
            resize_ws = w > resize_ws ? w : resize_ws;
        }
    }
    bw->grads = calloc((size_t)m->num_buffers, sizeof *bw->grads);
    bw->scratch = malloc((largest + 1) * sizeof(float));
    bw->conv_ws = malloc((conv_ws + 1) * sizeof(float));
    bw->resize_ws = malloc(resize_ws + 1);
    bw->param_grads = calloc(block + 1, sizeof(float));
    int ok = bw->grads && bw->scratch && bw->conv_ws && bw->resize_ws && bw->param_grads;
    for (int b = 0; ok && b < m->num_buffers; b++)
        ok = (bw->grads[b] = malloc((buffer_floats(m, b) + 1) * sizeof(float))) != NULL;
    int p3 = yl_training_p3(m);
    if (ok && segm_weight && p3 >= 0) {
        yl_conv_desc d = segm_conv(m, p3);
        bw->segm_weight_grad = calloc((size_t)d.out_channels * d.in_channels, sizeof(float));
        bw->segm_bias_grad = calloc((size_t)d.out_channels, sizeof(float));
        ok = bw->segm_weight_grad && bw->segm_bias_grad;
    }
    if (!ok) {
        yl_cpu_training_backward_destroy(bw);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a training backward");
    }
    *out = bw;
    return YOLACT_OK;
}

void yl_cpu_training_backward_zero(yl_training_backward *bw)
{
    const yl_trainable *t = bw->trainables;
    for (int i = 0; i < bw->num_trainables; i++)
        memset(bw->param_grads + t[i].offset, 0, t[i].rows * t[i].per_row * sizeof(float));
    if (bw->segm_weight_grad) {
        yl_conv_desc d = segm_conv(bw->model, yl_training_p3(bw->model));
        memset(bw->segm_weight_grad, 0, (size_t)d.out_channels * d.in_channels * sizeof(float));
        memset(bw->segm_bias_grad, 0, (size_t)d.out_channels * sizeof(float));
    }
}

/* grads[b] += bw->scratch, for the ops whose backward writes its input's gradient. */
static void add_scratch(yl_training_backward *bw, int b)
{
    size_t n = buffer_floats(bw->model, b);
    yl_add_cpu(bw->grads[b], bw->scratch, n, bw->grads[b]);
}

yolact_status yl_cpu_training_backward_op(yl_training_backward *bw,
                                          const yl_training_forward *f,
                                          const yl_loss_grads *g, int i)
{
    const yolact_model *m = bw->model;
    const yl_op *op = &m->ops[i];
    const yl_buffer_desc *in = &m->buffers[op->in];
    const yl_buffer_desc *out = op->out >= 0 ? &m->buffers[op->out] : NULL;
    float *const *x = f->buffers;
    float *gout = op->out >= 0 ? bw->grads[op->out] : NULL;
    switch (op->kind) {
    case YL_OP_CONV: {
        size_t n = buffer_floats(m, op->out);
        yl_activation_backward_cpu(op->act, x[op->out], gout, n, gout);
        if (op->residual >= 0)
            yl_add_cpu(bw->grads[op->residual], gout, n, bw->grads[op->residual]);
        float *gw = bw->param_grads + (op->weight - m->params);
        float *gb = bw->param_grads + (op->bias - m->params);
        yl_conv2d_backward_cpu(&op->conv, x[op->in], 1, in->height, in->width, op->weight, gout,
                               op->in == 0 ? NULL : bw->grads[op->in], 1, gw, gb, bw->conv_ws,
                               bw->threads);
        break;
    }
    case YL_OP_DCN:
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "training '%s': the deformable convolution's "
                       "backward pass is not implemented (YOLACT++ cannot be trained yet)",
                       op->name);
    case YL_OP_MAXPOOL:
        yl_maxpool2d_backward_cpu(x[op->in], in->channels, in->height, in->width,
                                  op->pool_kernel, op->pool_stride, op->pool_pad, gout,
                                  out->height, out->width, bw->scratch);
        add_scratch(bw, op->in);
        break;
    case YL_OP_RESIZE:
        yl_resize_bilinear_backward_cpu(gout, in->channels, in->height, in->width, out->height,
                                        out->width, bw->scratch, bw->resize_ws);
        add_scratch(bw, op->in);
        break;
    case YL_OP_ADD:
        yl_add_backward_cpu(gout, buffer_floats(m, op->out), bw->grads[op->in],
                            bw->grads[op->residual]);
        break;
    case YL_OP_HEAD_OUTPUT: {
        const yl_level *lv = &m->levels[op->level];
        const size_t p = (size_t)lv->first_prior;
        const int C = m->num_classes, K = m->num_prototypes;
        yl_head_output_backward_cpu(g->loc + p * 4, g->conf + p * C, g->coeff + p * K,
                                    f->coeff + p * K, m->anchors_per_cell, C, K, lv->height,
                                    lv->width, 1, (size_t)m->num_priors, bw->scratch,
                                    bw->threads);
        add_scratch(bw, op->in);
        break;
    }
    case YL_OP_PROTO_OUTPUT:
        yl_proto_output_backward_cpu(g->proto, in->channels, in->height, in->width, 1,
                                     bw->scratch);
        add_scratch(bw, op->in);
        break;
    }
    return YOLACT_OK;
}

void yl_cpu_training_backward_begin(yl_training_backward *bw, const yl_training_forward *f,
                                    const yl_loss_grads *g)
{
    const yolact_model *m = bw->model;
    omp_set_num_threads(bw->threads);
    for (int b = 0; b < m->num_buffers; b++)
        memset(bw->grads[b], 0, buffer_floats(m, b) * sizeof(float));
    if (bw->segm_weight_grad) {
        const yl_buffer_desc *d = &m->buffers[f->p3];
        yl_conv_desc sc = segm_conv(m, f->p3);
        yl_conv2d_backward_cpu(&sc, f->buffers[f->p3], 1, d->height, d->width, bw->segm_weight,
                               g->segm, bw->grads[f->p3], 1, bw->segm_weight_grad,
                               bw->segm_bias_grad, bw->conv_ws, bw->threads);
    }
}

yolact_status yl_cpu_training_backward(yl_training_backward *bw, const yl_training_forward *f,
                                       const yl_loss_grads *g)
{
    yl_cpu_training_backward_begin(bw, f, g);
    for (int i = bw->model->num_ops - 1; i >= 0; i--)
        YL_TRY(yl_cpu_training_backward_op(bw, f, g, i));
    return YOLACT_OK;
}

void yl_cpu_training_backward_grad(const yl_training_backward *bw, const yl_trainable *t,
                                   float *out)
{
    yl_trainable_unfold_grad(t, bw->param_grads, out);
}
