/* The optimizer's kernel (yl_sgd_step_cuda) against yl_sgd_step (itself bit for bit
 * torch.optim.SGD: test_sgd.c): three steps on the same random parameters and gradients,
 * the first making the momentum buffer; the parameters and the buffer after the last step
 * bit for bit. dims: n, momentum (per mille), dampening (per mille), weight decay (per
 * million), Nesterov. */
#include "ops/op_grad.h"
#include "yl_grad_kernels.h"

enum { SGD_STEPS = 3 };

static void sgd_run(const op_case *c, op_run *r)
{
    const int *v = c->dims;
    const size_t n = (size_t)v[0];
    const yl_sgd_options opt = {.lr = 3e-3, .momentum = v[1] * 1e-3, .dampening = v[2] * 1e-3,
                                .weight_decay = v[3] * 1e-6, .nesterov = v[4]};
    float *param = op_rand_floats(r, n, -1.0f, 1.0f), *buf = op_host(r, n * sizeof *buf);
    float *d_param = op_to_dev(r, param, n * sizeof *param), *d_buf = op_dev(r, n * sizeof *buf);
    int first = 1, d_first = 1;
    for (int step = 0; step < SGD_STEPS; step++) {
        float *grad = op_rand_floats(r, n, -0.5f, 0.5f);
        ck_assert_status(yl_sgd_step(&opt, n, param, grad, buf, &first), YOLACT_OK);
        ck_assert_status(yl_sgd_step_cuda(&opt, n, d_param, op_to_dev(r, grad, n * sizeof *grad),
                                          d_buf, &d_first, NULL), YOLACT_OK);
        ck_assert_int_eq(d_first, first);
    }
    op_output(r, "param", OP_F32, n, op_from_dev(r, d_param, n * sizeof *param), param, NULL,
              &op_exact);
    if (opt.momentum != 0.0)
        op_output(r, "momentum buffer", OP_F32, n, op_from_dev(r, d_buf, n * sizeof *buf), buf,
                  NULL, &op_exact);
}
const op_family op_sgd = {"sgd", sgd_run};
