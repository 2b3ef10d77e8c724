// Activations as ops of their own: DarkNet's leaky ReLU in place (x > 0 ? x : 0.1 * x, as
// yl_conv2d_cpu's epilogue computes it), after a library convolution that has no such
// activation; and the whole epilogue, residual then activation, after trainable BatchNorm.
#include "activate.cuh"
#include "yl_device.h"
#include "yl_kernels.h"

#define ACT_THREADS 256

static __global__ void __launch_bounds__(ACT_THREADS)
leaky_relu_kernel(float *__restrict__ x, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * ACT_THREADS + threadIdx.x; i < n;
         i += (size_t)gridDim.x * ACT_THREADS)
        x[i] = yl_activate_device(x[i], YL_ACT_LEAKY_RELU_0_1);
}

extern "C" yolact_status yl_leaky_relu_cuda(float *x, size_t n, cudaStream_t stream)
{
    if (n && !x)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_leaky_relu_cuda: NULL tensor");
    size_t blocks = (n + ACT_THREADS - 1) / ACT_THREADS;
    if (blocks)
        YL_CHECK(cuda, YL_LAUNCH(leaky_relu_kernel, blocks < 4096 ? (unsigned)blocks : 4096u,
                                ACT_THREADS, 0, stream, x, n));
    return YOLACT_OK;
}

static __global__ void __launch_bounds__(ACT_THREADS)
add_activate_kernel(const float *__restrict__ y, const float *__restrict__ residual, size_t n,
                    yl_activation act, float *out)
{
    for (size_t i = (size_t)blockIdx.x * ACT_THREADS + threadIdx.x; i < n;
         i += (size_t)gridDim.x * ACT_THREADS) {
        out[i] = yl_activate_device(residual ? y[i] + residual[i] : y[i], act);
    }
}

extern "C" yolact_status yl_add_activate_cuda(const float *y, const float *residual, size_t n,
                                              yl_activation act, float *out,
                                              cudaStream_t stream)
{
    if (n && (!y || !out))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_add_activate_cuda: NULL tensor");
    size_t blocks = (n + ACT_THREADS - 1) / ACT_THREADS;
    if (blocks)
        YL_CHECK(cuda, YL_LAUNCH(add_activate_kernel, blocks < 4096 ? (unsigned)blocks : 4096u,
                                ACT_THREADS, 0, stream, y, residual, n, act, out));
    return YOLACT_OK;
}
