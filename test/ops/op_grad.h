/* The backward passes' rows of the op-test table (lib/cpu/grad_ops.h): each family runs a
 * backward pass in float32 and hands its gradients to the comparer against central finite
 * differences of the op's forward computed in float64 (the families' own plain loops), of
 * the scalar L = Σ dy·f(x) for a random dy. Where the backward has a kernel
 * (kernels/yl_grad_kernels.h), the family also runs it on the same inputs and compares it
 * with the CPU's result, which is its reference. The optimizer (op_sgd: yl_sgd_step and its
 * kernel) has its rows here too. */
#ifndef YL_TEST_OP_GRAD_H
#define YL_TEST_OP_GRAD_H

#include "ops/op_harness.h"

/* A float64 forward: y (the op's outputs) from x (every input that gets a gradient, one
 * after another); ctx: the op's fixed arguments. */
typedef void op_f64_forward(const void *ctx, const double *x, double *y);

/* dL/dx_i = (L(x + h·e_i) − L(x − h·e_i)) / 2h for i = first, first + step, ... below
 * first + count (x is restored), L = Σ dy·y over ny outputs: (count + step − 1) / step
 * doubles the driver frees. step > 1 samples the larger shapes, whose every entry would
 * cost seconds of float64 forwards. */
double *op_grad_fd(op_run *r, op_f64_forward *f, const void *ctx, double *x, size_t first,
                   size_t count, size_t step, const double *dy, size_t ny, double h);

/* Entries 0, step, 2·step, ... of n floats (as op_grad_fd samples them), and of n doubles. */
float *op_sample(op_run *r, const float *a, size_t n, size_t step);
double *op_sample_f64(op_run *r, const double *a, size_t n, size_t step);

/* n floats as doubles, and as their absolute values (for sum|terms| magnitudes). */
double *op_f64(op_run *r, const float *a, size_t n);
float *op_abs(op_run *r, const float *a, size_t n);

extern const op_family op_grad_conv2d, op_grad_activation, op_grad_maxpool2d,
    op_grad_resize_bilinear, op_grad_add, op_grad_pointwise, op_grad_softmax,
    op_grad_head_output, op_grad_proto_output, op_grad_masks, op_grad_batchnorm_frozen,
    op_grad_batchnorm_train, op_sgd, op_param_fold, op_mixed_precision;

#endif
