/* yl_conv2d_cpu with an explicit GEMM choice, so tests and benchmarks can run the portable
 * kernel in a build that has OpenBLAS. yl_conv2d_cpu is this with YL_GEMM_AUTO. */
#ifndef YL_CPU_CONV_H
#define YL_CPU_CONV_H

#include "cpu/dense_ops.h"
#include "cpu/gemm.h"

void yl_conv2d_cpu_gemm(yl_gemm_kind kind, const yl_conv_desc *d, const float *in, int in_h,
                        int in_w, const float *weight, const float *bias, const float *residual,
                        yl_activation act, float *out, float *workspace, int num_threads);

#endif
