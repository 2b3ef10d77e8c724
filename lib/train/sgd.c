/* torch.optim.SGD's update on a float32 tensor (sgd.h). */
#include "train/sgd.h"

#include <math.h>

#include "status.h"

yolact_status yl_sgd_check(const yl_sgd_options *opt, size_t n, const float *param,
                           const float *grad, const float *buf, const int *first)
{
    if (!opt || (n && (!param || !grad)) || !(opt->lr >= 0.0))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "sgd: missing tensor or bad learning rate");
    int momentum = opt->momentum != 0.0;
    if (opt->nesterov && (!momentum || opt->dampening != 0.0))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "sgd: Nesterov momentum requires a momentum and zero dampening");
    if (momentum && (!first || (n && !buf)))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "sgd: momentum without its buffer");
    return YOLACT_OK;
}

yolact_status yl_sgd_step(const yl_sgd_options *opt, size_t n, float *param, const float *grad,
                          float *buf, int *first)
{
    YL_TRY(yl_sgd_check(opt, n, param, grad, buf, first));
    int momentum = opt->momentum != 0.0;
    /* torch converts each Python float to the tensor's type before the kernel. */
    float wd = (float)opt->weight_decay, m = (float)opt->momentum;
    float keep = (float)(1.0 - opt->dampening), step = (float)-opt->lr;
    int init = momentum && *first;
    for (size_t i = 0; i < n; i++) {
        float d = opt->weight_decay != 0.0 ? fmaf(wd, param[i], grad[i]) : grad[i];
        if (momentum) {
            buf[i] = init ? d : fmaf(keep, d, buf[i] * m);
            d = opt->nesterov ? fmaf(m, buf[i], d) : buf[i];
        }
        param[i] = fmaf(step, d, param[i]);
    }
    if (init)
        *first = 0;
    return YOLACT_OK;
}

void yl_grad_accumulate(size_t n, float *acc, const float *g)
{
    for (size_t i = 0; i < n; i++)
        acc[i] += g[i];
}
