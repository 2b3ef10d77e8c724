/* Helpers of the suites that run kernels (the op-test harness, test/ops/, and the kernel
 * suites): device buffers that fail the test when the runtime fails, and the mask kernels'
 * pass descriptions. The runtime API is the emulation's (test/emu) when built with
 * YL_CUDA_EMULATION, else CUDA's. */
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

#endif
