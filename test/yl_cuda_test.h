/* Helpers of the kernel suites (test_kernels.c, test_network_kernels.c,
 * test_plus_kernels.c): device buffers that fail the test when the runtime fails, float
 * comparisons (bit for bit, or within a few ulps where a kernel calls expf or tanhf), and the
 * mask kernels' pass descriptions. The runtime API is the emulation's (test/emu) when
 * built with YL_CUDA_EMULATION, else CUDA's. */
#ifndef YL_CUDA_TEST_H
#define YL_CUDA_TEST_H

#include <math.h>
#include <stdint.h>
#include <string.h>

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

#endif
