/* Helpers of the kernel suites (test_kernels.c, test_network_kernels.c): device buffers that
 * fail the test when the runtime fails, and a bit-for-bit float comparison. The runtime API
 * is the emulation's (test/emu) when built with YL_CUDA_EMULATION, else CUDA's. */
#ifndef YL_CUDA_TEST_H
#define YL_CUDA_TEST_H

#include <math.h>
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

/* Compare n floats bit for bit (NaN equal to NaN), reporting the first difference and how
 * many elements differ. */
static inline void assert_floats_equal(const float *got, const float *want, size_t n,
                                       const char *what)
{
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(float)) != 0 && !(isnan(got[i]) && isnan(want[i])))
            if (!bad++)
                first = i;
    if (bad)
        ck_abort_msg("%s: %zu of %zu elements differ; the first, element %zu, is %.9g, the "
                     "CPU's %.9g", what, bad, n, first, got[first], want[first]);
}

#endif
