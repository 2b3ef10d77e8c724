/* Tests of the network's kernels (kernels/conv.cu, pool.cu, resize.cu, head.cu) against
 * their CPU reference ops, on random and edge-case shapes, under the CUDA emulation in CI.
 * Tolerances:
 *   maxpool, resize, add, head and proto permutes: bit-identical (the CPU's float operations
 *   in the CPU's order; expf/tanhf are the C library's in the emulation, see yl_kernels.h
 *   for the GPU's);
 *   convolution, relative to sum|terms| = sum_k |w x| + |bias| + |residual| per output:
 *   FP32 1e-5 (both sides are float sums of K products in different orders: each within
 *   ~K eps of the exact sum in the worst case, ~sqrt(K) eps typically; K <= 2304 here);
 *   FP16 2^-9 + 1e-5 absolute: w and x are rounded to half (relative error <= 2^-11 each,
 *   so each product is within ~2^-10 of its float value) and accumulated in float, so the
 *   error is below 2^-10 sum|terms| plus the float sums' ~1e-5; twice that bound, so a real
 *   indexing or fragment-layout error (of the order of the terms themselves) always fails;
 *   the absolute part covers inputs below half's normal range (flushed to 2^-24 steps).
 * Plus the emulated tensor-core MMA against a scalar matmul, and planted fragment-layout
 * errors that it must expose. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/dense_ops.h"
#include "cpu/head_ops.h"
#include "yl_kernels.h"
#include "yl_cuda_test.h"

#ifdef YL_CUDA_EMULATION
#include "emu_selftest.h"
#endif

#ifdef YL_CUDA_EMULATION
/* ---- the emulated MMA ---------------------------------------------------------------------- */
/* Runs yl_emu_selftest_mma; returns the largest |d - (a b + c)| over the 128 outputs. */
static double mma_error(int variant, const float *a, const float *b, const float *c)
{
    float *d_a = to_dev(a, 256 * 4), *d_b = to_dev(b, 128 * 4), *d_c = to_dev(c, 128 * 4);
    float *d_d = dev_alloc(128 * 4), got[128];
    ck_assert_cuda(yl_emu_selftest_mma(d_a, d_b, d_c, d_d, variant, 32));
    from_dev(got, d_d, sizeof got);
    double worst = 0.0;
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 8; j++) {
            double s = c[i * 8 + j];
            for (int k = 0; k < 16; k++)
                s += (double)a[i * 16 + k] * b[k * 8 + j];
            double e = fabs(got[i * 8 + j] - s);
            worst = e > worst ? e : worst;
        }
    cudaFree(d_a);
    cudaFree(d_b);
    cudaFree(d_c);
    cudaFree(d_d);
    return worst;
}

START_TEST(test_emu_mma)
{
    uint64_t rng = 0x6a09e667f3bcc908ull;
    float a[256], b[128], c[128];
    for (int trial = 0; trial < 4; trial++) {
        for (int i = 0; i < 256; i++)
            a[i] = floorf(yl_test_rand(&rng, -128.0f, 128.0f)) / 64.0f;  /* exact in half */
        for (int i = 0; i < 128; i++) {
            b[i] = floorf(yl_test_rand(&rng, -128.0f, 128.0f)) / 64.0f;
            c[i] = yl_test_rand(&rng, -4.0f, 4.0f);
        }
        /* Exact products of multiples of 2^-12 summed in double, one rounding to float. */
        double e = mma_error(YL_EMU_MMA_RIGHT, a, b, c);
        ck_assert_msg(e <= 8 * 0x1p-24, "emulated MMA: max |error| %g against a scalar matmul",
                      e);
        /* Planted fragment-layout errors must show as wrong results. */
        double ea = mma_error(YL_EMU_MMA_SWAPPED_A, a, b, c);
        double eb = mma_error(YL_EMU_MMA_TRANSPOSED_B, a, b, c);
        ck_assert_msg(ea > 0.1 && eb > 0.1, "planted layout errors not caught: max |error| %g "
                      "(a[1], a[2] swapped), %g (B transposed)", ea, eb);
    }
    /* Lanes that exit before the MMA: reported, not computed with stale fragments. */
    float *d = dev_alloc(512 * 4);
    cudaError_t err = yl_emu_selftest_mma(d, d, d, d, YL_EMU_MMA_RIGHT, 16);
    ck_assert_int_eq(err, cudaErrorLaunchFailure);
    ck_assert_msg(strstr(yl_emu_error_detail(), "only lanes 0x0000ffff arrived") != NULL,
                  "detail: %s", yl_emu_error_detail());
    cudaGetLastError();
    cudaFree(d);
}
END_TEST
#endif

Suite *network_kernels_suite(void)
{
    Suite *s = suite_create("network_kernels");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
#ifdef YL_CUDA_EMULATION
    tcase_add_test(tc, test_emu_mma);
#endif
    suite_add_tcase(s, tc);
    return s;
}
