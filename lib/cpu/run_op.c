/* The network's dense ops on the CPU (run_op.h). */
#include "cpu/run_op.h"

#include "cpu/dcn.h"
#include "cpu/dense_ops.h"
#include "cpu/head_ops.h"

void yl_cpu_op_scratch_sizes(const yolact_model *m, size_t *conv_floats, size_t *resize_bytes)
{
    size_t conv_ws = 0, resize_ws = 0;
    for (int i = 0; i < m->num_ops; i++) {
        const yl_op *op = &m->ops[i];
        const yl_buffer_desc *in = &m->buffers[op->in];
        if (op->kind == YL_OP_CONV || op->kind == YL_OP_DCN) {
            size_t w = op->kind == YL_OP_CONV
                           ? yl_conv2d_workspace_floats(&op->conv, in->height, in->width)
                           : yl_dcn2d_workspace_floats(&op->conv, in->height, in->width);
            conv_ws = w > conv_ws ? w : conv_ws;
        } else if (op->kind == YL_OP_RESIZE) {
            const yl_buffer_desc *out = &m->buffers[op->out];
            size_t w = yl_resize_workspace_bytes(out->height, out->width);
            resize_ws = w > resize_ws ? w : resize_ws;
        }
    }
    *conv_floats = conv_ws;
    *resize_bytes = resize_ws;
}

yolact_status yl_cpu_run_op(const yolact_model *m, int i, float *const *buffers,
                            const yl_cpu_prepared *prepared, const yl_cpu_convs *convs,
                            const yl_cpu_op_scratch *scratch, const yl_cpu_head_outputs *heads,
                            int threads)
{
    const yl_op *op = &m->ops[i];
    const yl_buffer_desc *in = &m->buffers[op->in];
    const yl_buffer_desc *out = op->out >= 0 ? &m->buffers[op->out] : NULL;
    float *src = buffers[op->in], *dst = op->out >= 0 ? buffers[op->out] : NULL;
    const int block = yl_cpu_buffer_block(convs, op->in); /* its output's too; 0: CHW */
    switch (op->kind) {
    case YL_OP_CONV:
        return yl_cpu_conv_op(convs, m, i, buffers, prepared, scratch->conv, threads);
    case YL_OP_DCN:
        return yl_dcn2d_cpu(&op->conv, src, 1, in->height, in->width, buffers[op->offsets],
                            op->weight, YOLACT_PRECISION_FP32, op->bias, op->act, dst,
                            scratch->conv, threads);
    case YL_OP_MAXPOOL:
        yl_maxpool2d_blocked_cpu(src, in->channels, block, in->height, in->width,
                                 op->pool_kernel, op->pool_stride, op->pool_pad, dst,
                                 out->height, out->width);
        break;
    case YL_OP_RESIZE:
        yl_resize_bilinear_blocked_cpu(src, in->channels, block, in->height, in->width, dst,
                                       out->height, out->width, scratch->resize);
        break;
    case YL_OP_ADD:
        yl_add_cpu(src, buffers[op->residual], yl_buffer_floats(out), dst);
        break;
    case YL_OP_HEAD_OUTPUT: {
        const yl_level *lv = &m->levels[op->level];
        const size_t p = (size_t)lv->first_prior;
        float *loc = heads->loc + p * 4, *conf = heads->conf + p * m->num_classes,
              *coeff = heads->coeff + p * m->num_prototypes;
        if (heads->logits)
            yl_head_output_logits_cpu(src, m->anchors_per_cell, m->num_classes,
                                      m->num_prototypes, lv->height, lv->width, loc, conf, coeff,
                                      threads);
        else
            yl_head_output_cpu(src, m->anchors_per_cell, m->num_classes, m->num_prototypes,
                               lv->height, lv->width, 1, (size_t)m->num_priors, loc, conf, coeff,
                               threads);
        break;
    }
    case YL_OP_PROTO_OUTPUT:
        yl_proto_output_cpu(src, in->channels, in->height, in->width, 1, heads->proto);
        break;
    }
    return YOLACT_OK;
}
