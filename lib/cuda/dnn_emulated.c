/* yl_dnn for the emulated build: the emulation's device memory is host memory, so the CPU
 * backend's exact convolution (on all cores) stands in for cuDNN. */
#include <stdlib.h>

#include "cuda/dnn.h"
#include "status.h"

struct yl_dnn {
    int unused;
};

struct yl_dnn_conv {
    yl_conv_desc desc;
    int in_h, in_w;
    yl_activation act;
    int has_residual;
};

yolact_status yl_dnn_create(struct CUstream_st *stream, yl_dnn **dnn)
{
    (void)stream; /* every emulated stream is synchronous */
    if (!(*dnn = calloc(1, sizeof **dnn)))
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory creating the dnn handle");
    return YOLACT_OK;
}

void yl_dnn_destroy(yl_dnn *dnn)
{
    free(dnn);
}

yolact_status yl_dnn_conv_plan(yl_dnn *dnn, const yl_conv_desc *d, int in_h, int in_w,
                               yl_activation act, int has_residual, yolact_precision precision,
                               yl_dnn_conv **plan, size_t *workspace_bytes)
{
    (void)dnn;
    (void)precision; /* the CPU computes FP32 whatever the precision */
    yl_dnn_conv *p = malloc(sizeof *p);
    if (!p)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory planning a convolution");
    *p = (yl_dnn_conv){*d, in_h, in_w, act, has_residual};
    *plan = p;
    *workspace_bytes = yl_conv2d_workspace_floats(d, in_h, in_w) * sizeof(float);
    return YOLACT_OK;
}

void yl_dnn_conv_free(yl_dnn_conv *plan)
{
    free(plan);
}

yolact_status yl_dnn_conv_run(yl_dnn *dnn, const yl_dnn_conv *p, const float *in,
                              const float *weight, const float *bias, const float *residual,
                              float *out, void *workspace)
{
    (void)dnn;
    if (!residual != !p->has_residual)
        return yl_fail(YOLACT_ERR_INTERNAL, "a convolution planned %s a residual ran %s one",
                       p->has_residual ? "with" : "without", residual ? "with" : "without");
    yl_conv2d_cpu(&p->desc, in, p->in_h, p->in_w, weight, bias, residual, p->act, out,
                  workspace, 0);
    return YOLACT_OK;
}
