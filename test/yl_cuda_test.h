/* Helpers of the kernel suites (test_kernels.c, test_network_kernels.c,
 * test_plus_kernels.c, test_dcn_reference.c): device buffers that fail the test when the
 * runtime fails, float comparisons (bit for bit, or within a few ulps where a kernel calls
 * expf or tanhf), the mask kernels' pass descriptions and the DCN kernel on a problem. The
 * runtime API is the emulation's (test/emu) when built with YL_CUDA_EMULATION, else CUDA's. */
#ifndef YL_CUDA_TEST_H
#define YL_CUDA_TEST_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "plus_ref.h"
#include "yl_kernels.h"
#include "yl_test.h"

#ifdef YL_CUDA_EMULATION
#include "yl_emu_runtime.h"
#else
#include <cuda_runtime_api.h>
#endif

#define ck_assert_cuda(expr)                                                            \
    do {                                                                                \
        cudaError_t ck_e_ = (expr);                                                     \
        ck_assert_msg(ck_e_ == cudaSuccess, "%s: %s", #expr, cudaGetErrorString(ck_e_)); \
    } while (0)

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    ck_assert_msg(p != NULL, "out of memory (%zu bytes)", n);
    return p;
}

static inline void *dev_alloc(size_t n)
{
    void *p = NULL;
    ck_assert_cuda(cudaMalloc(&p, n ? n : 1));
    return p;
}

static inline void *to_dev(const void *host, size_t n)
{
    void *d = dev_alloc(n);
    if (n)
        ck_assert_cuda(cudaMemcpy(d, host, n, cudaMemcpyHostToDevice));
    return d;
}

static inline void from_dev(void *host, const void *dev, size_t n)
{
    if (n)
        ck_assert_cuda(cudaMemcpy(host, dev, n, cudaMemcpyDeviceToHost));
}

/* The device scratch yl_conv2d_cuda needs for the shape, or NULL where it needs none. */
static inline void *conv_workspace(const yl_conv_desc *d, int batch, int h, int w,
                                   yolact_precision prec)
{
    size_t bytes = yl_conv2d_cuda_workspace_bytes(d, batch, h, w, prec);
    return bytes ? dev_alloc(bytes) : NULL;
}

/* Whether the kernels' expf and tanhf are the C library's, as the CPU references' are (the
 * emulation): results made with them are then compared bit for bit; on a GPU (CUDA's, within
 * 2 ulps), or the emulation made to differ as much (`make test-gpu-math`), within the bound
 * each test gives. */
#if defined(YL_CUDA_EMULATION) && !defined(YL_EMU_GPU_MATH)
#define YL_LIBC_TRANSCENDENTALS 1
#else
#define YL_LIBC_TRANSCENDENTALS 0
#endif

/* The ulps between two finite floats: their distance in the order of all floats. */
static inline int64_t float_ulps_apart(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    int64_t oa = ia < 0 ? (int64_t)INT32_MIN - ia : ia, ob = ib < 0 ? (int64_t)INT32_MIN - ib : ib;
    return oa > ob ? oa - ob : ob - oa;
}

/* Compare n floats within `ulps` (0: bit for bit, -0 apart from +0; NaN equal to NaN),
 * reporting the first difference past it and how many there are. */
static inline void assert_floats_within_ulps(const float *got, const float *want, size_t n,
                                             int ulps, const char *what)
{
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        const int both_nan = isnan(got[i]) && isnan(want[i]);
        const int apart = ulps == 0 ? memcmp(&got[i], &want[i], sizeof(float)) != 0
                                    : isnan(got[i]) || isnan(want[i]) ||
                                          float_ulps_apart(got[i], want[i]) > ulps;
        if (!both_nan && apart && !bad++)
            first = i;
    }
    if (bad)
        ck_abort_msg("%s: %zu of %zu elements differ by more than %d ulps; the first, element "
                     "%zu, is %.9g, the CPU's %.9g", what, bad, n, ulps, first, got[first],
                     want[first]);
}

/* A pass of num_images images with these mask counts, dense in image order (sizes and
 * output offsets 0); *total: its masks, *most: the most of one image. */
static inline yl_mask_pass mask_pass_of(int num_images, const int *counts, int *total,
                                        int *most)
{
    yl_mask_pass pass = {.num_images = num_images};
    *total = *most = 0;
    for (int b = 0; b < num_images; b++) {
        pass.image[b] = (yl_mask_image){.count = counts[b], .first = *total};
        *total += counts[b];
        *most = counts[b] > *most ? counts[b] : *most;
    }
    return pass;
}

static inline void assert_floats_equal(const float *got, const float *want, size_t n,
                                       const char *what)
{
    assert_floats_within_ulps(got, want, n, 0, what);
}

/* The kernel with the problem's weights on a batch of inputs and offsets of its shape (ins[b],
 * offsets[b]), out (batch, O, oh, ow) on the host. */
static inline void dcn_cuda_batch(const dcn_problem *pr, const float *const *ins,
                                  const float *const *offsets, int batch,
                                  yolact_precision prec, yl_activation act, float *out)
{
    const yl_conv_desc *d = &pr->d;
    const size_t taps = (size_t)d->kernel_h * d->kernel_w, n = (size_t)pr->oh * pr->ow;
    const size_t n_in = (size_t)d->in_channels * pr->h * pr->w, n_om = 3 * taps * n;
    const size_t n_out = (size_t)d->out_channels * n;
    size_t packed_bytes = yl_dcn2d_cuda_packed_bytes(d, prec);
    size_t ws_bytes = yl_dcn2d_cuda_workspace_bytes(d, pr->h, pr->w, batch);
    ck_assert_uint_gt(packed_bytes, 0);
    ck_assert_uint_eq(ws_bytes, batch * (size_t)d->in_channels * taps * n * sizeof(float));
    void *packed = xmalloc(packed_bytes);
    yl_dcn2d_cuda_pack(d, pr->weight, prec, packed);
    void *d_w = to_dev(packed, packed_bytes), *d_ws = dev_alloc(ws_bytes);
    float *d_in = dev_alloc(batch * n_in * 4), *d_om = dev_alloc(batch * n_om * 4);
    for (int b = 0; b < batch; b++) {
        ck_assert_int_eq(cudaMemcpy(d_in + b * n_in, ins[b], n_in * 4, cudaMemcpyHostToDevice),
                         cudaSuccess);
        ck_assert_int_eq(cudaMemcpy(d_om + b * n_om, offsets[b], n_om * 4,
                                    cudaMemcpyHostToDevice), cudaSuccess);
    }
    float *d_bias = to_dev(pr->bias, (size_t)d->out_channels * 4);
    float *d_out = dev_alloc(batch * n_out * 4);
    ck_assert_status(yl_dcn2d_cuda(d, d_in, batch, pr->h, pr->w, d_om, d_w, prec, d_bias, act,
                                   d_out, d_ws, NULL), YOLACT_OK);
    from_dev(out, d_out, batch * n_out * 4);
    cudaFree(d_w);
    cudaFree(d_ws);
    cudaFree(d_in);
    cudaFree(d_om);
    cudaFree(d_bias);
    cudaFree(d_out);
    free(packed);
}

#endif
