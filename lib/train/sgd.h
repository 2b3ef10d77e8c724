/* SGD with momentum, weight decay and Nesterov, as torch.optim.SGD (PyTorch 1.13, CPU,
 * foreach=False) updates a float32 parameter, bit for bit; and the accumulation of a
 * gradient over sub-batches, as repeated backward() calls accumulate .grad. */
#ifndef YL_TRAIN_SGD_H
#define YL_TRAIN_SGD_H

#include <stddef.h>

#include "yolact.h"

#ifdef __cplusplus
extern "C" {  /* its check is called from the SGD kernel too */
#endif

typedef struct yl_sgd_options {
    double lr;              /* the step's learning rate (lr_schedule.h gives the official one) */
    double momentum;        /* 0: no buffer is read or written */
    double dampening;
    double weight_decay;
    int nesterov;           /* needs momentum > 0 and dampening == 0, as torch demands */
} yl_sgd_options;

/* One step on one tensor of n elements, in place:
 *   d = g + wd·p;  buf = d on the first step (*first non-zero, then cleared), else
 *   buf = momentum·buf + (1 − dampening)·d;  d = nesterov ? d + momentum·buf : buf;
 *   p −= lr·d
 * with each `a + α·b` one fused multiply-add and every scalar rounded to float first, as
 * torch's vectorised add(alpha=) computes it. param, grad: (n); buf: (n), unused (may be
 * NULL) when momentum is 0. grad is not modified. YOLACT_ERR_INVALID_ARGUMENT for Nesterov
 * without momentum or with dampening, a negative rate or a missing buffer. */
yolact_status yl_sgd_step(const yl_sgd_options *opt, size_t n, float *param, const float *grad,
                          float *buf, int *first);

/* yl_sgd_step's refusals, without the step: the check its GPU kernel makes too. */
yolact_status yl_sgd_check(const yl_sgd_options *opt, size_t n, const float *param,
                           const float *grad, const float *buf, const int *first);

/* acc += g over n elements, in float32: the gradient of a batch from its sub-batches' (scale
 * each sub-batch's loss, e.g. by its share of the batch, before its backward pass). */
void yl_grad_accumulate(size_t n, float *acc, const float *g);

#ifdef __cplusplus
}
#endif

#endif
