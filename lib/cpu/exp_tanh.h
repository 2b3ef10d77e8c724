/* expf and tanhf over arrays, for the head's softmax and coefficients: each element the
 * value glibc's scalar expf and tanhf give it (the head's outputs keep their bits), eight at
 * a time where the processor has AVX2 and FMA. */
#ifndef YL_CPU_EXP_TANH_H
#define YL_CPU_EXP_TANH_H

#include <stddef.h>

/* x[i] = expf(x[i]) for i < n, in place. */
void yl_expf_inplace(float *x, size_t n);

/* x[i] = tanhf(x[i]) for i < n, in place. */
void yl_tanhf_inplace(float *x, size_t n);

#endif
