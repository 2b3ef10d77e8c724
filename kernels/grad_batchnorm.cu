// Trainable BatchNorm's forward and backward (yl_grad_kernels.h), as
// lib/cpu/grad_batchnorm.c computes them: a block a channel, its sums in double (strided
// over the block's threads, then a tree), its elements then written by the same block.
#include "yl_grad_kernels.h"

#include <math.h>

#include "yl_device.h"

#define BN_THREADS 256

/* The block's sum of each thread's v (every thread gets it). */
static __device__ double block_sum(double v, double *shared)
{
    shared[threadIdx.x] = v;
    __syncthreads();
    for (int half = BN_THREADS / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half)
            shared[threadIdx.x] += shared[threadIdx.x + half];
        __syncthreads();
    }
    const double sum = shared[0];
    __syncthreads();    /* shared is free again */
    return sum;
}

static __global__ void __launch_bounds__(BN_THREADS)
bn_train_forward_kernel(const float *in, int batch, int channels, size_t hw, const float *gamma,
                        const float *beta, float eps, float momentum, float *running_mean,
                        float *running_var, float *out, float *save_mean, float *save_invstd)
{
    __shared__ double shared[BN_THREADS];
    const int c = blockIdx.x;
    const size_t count = (size_t)batch * hw;
    const double m = (double)count;
#define BN_ELEMENT(j) (((j) / hw * channels + c) * hw + (j) % hw)
    double part = 0.0;
    for (size_t j = threadIdx.x; j < count; j += BN_THREADS)
        part += in[BN_ELEMENT(j)];
    const double mean = block_sum(part, shared) / m;
    part = 0.0;
    for (size_t j = threadIdx.x; j < count; j += BN_THREADS) {
        const double d = in[BN_ELEMENT(j)] - mean;
        part += d * d;
    }
    const double sq = block_sum(part, shared), var = sq / m;
    const float invstd = (float)(1.0 / sqrt(var + eps));
    if (threadIdx.x == 0) {
        save_mean[c] = (float)mean;
        save_invstd[c] = invstd;
        if (running_mean && running_var) {
            running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mean);
            const double unbiased = m > 1.0 ? sq / (m - 1.0) : var;
            running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
        }
    }
    const float scale = gamma[c] * invstd, shift = beta[c] - (float)mean * scale;
    for (size_t j = threadIdx.x; j < count; j += BN_THREADS)
        out[BN_ELEMENT(j)] = in[BN_ELEMENT(j)] * scale + shift;
}

static __global__ void __launch_bounds__(BN_THREADS)
bn_train_backward_kernel(const float *in, const float *grad_out, int batch, int channels,
                         size_t hw, const float *gamma, const float *save_mean,
                         const float *save_invstd, float *grad_in, float *grad_gamma,
                         float *grad_beta)
{
    __shared__ double shared[BN_THREADS];
    const int c = blockIdx.x;
    const size_t count = (size_t)batch * hw;
    const double m = (double)count, mean = save_mean[c], invstd = save_invstd[c];
    double part_g = 0.0, part_gx = 0.0;
    for (size_t j = threadIdx.x; j < count; j += BN_THREADS) {
        const size_t at = BN_ELEMENT(j);
        part_g += grad_out[at];
        part_gx += grad_out[at] * ((in[at] - mean) * invstd);
    }
    const double sum_g = block_sum(part_g, shared), sum_gx = block_sum(part_gx, shared);
    if (threadIdx.x == 0) {
        grad_beta[c] += (float)sum_g;
        grad_gamma[c] += (float)sum_gx;
    }
    const double k = gamma[c] * invstd, mean_g = sum_g / m, mean_gx = sum_gx / m;
    for (size_t j = threadIdx.x; j < count; j += BN_THREADS) {
        const size_t at = BN_ELEMENT(j);
        const double xhat = (in[at] - mean) * invstd;
        grad_in[at] = (float)(k * (grad_out[at] - mean_g - xhat * mean_gx));
    }
#undef BN_ELEMENT
}

/* A well-formed BatchNorm: sizes, and every tensor there when there are elements. */
static int bn_ok(int batch, int channels, const void *const *tensors, int n)
{
    if (batch < 0 || channels < 0 || channels > 65535)
        return 0;
    for (int i = 0; batch && channels && i < n; i++)
        if (!tensors[i])
            return 0;
    return 1;
}

extern "C" yolact_status yl_batchnorm_train_forward_cuda(const float *in, int batch,
                                                         int channels, size_t hw,
                                                         const float *gamma, const float *beta,
                                                         float eps, float momentum,
                                                         float *running_mean,
                                                         float *running_var, float *out,
                                                         float *save_mean, float *save_invstd,
                                                         cudaStream_t stream)
{
    const void *const tensors[] = {in, gamma, beta, out, save_mean, save_invstd};
    if (!bn_ok(batch, channels, tensors, 6) || hw == 0 || !(eps > 0.0f))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_batchnorm_train_forward_cuda: batch "
                       "%d, %d channels of %zu, eps %g, or a NULL tensor", batch, channels, hw,
                       (double)eps);
    if (batch && channels)
        YL_CHECK(cuda, YL_LAUNCH(bn_train_forward_kernel, (unsigned)channels, BN_THREADS, 0,
                                 stream, in, batch, channels, hw, gamma, beta, eps, momentum,
                                 running_mean, running_var, out, save_mean, save_invstd));
    return YOLACT_OK;
}

extern "C" yolact_status yl_batchnorm_train_backward_cuda(const float *in,
                                                          const float *grad_out, int batch,
                                                          int channels, size_t hw,
                                                          const float *gamma,
                                                          const float *save_mean,
                                                          const float *save_invstd,
                                                          float *grad_in, float *grad_gamma,
                                                          float *grad_beta, cudaStream_t stream)
{
    const void *const tensors[] = {in, grad_out, gamma, save_mean, save_invstd, grad_in,
                                   grad_gamma, grad_beta};
    if (!bn_ok(batch, channels, tensors, 8) || hw == 0)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_batchnorm_train_backward_cuda: batch "
                       "%d, %d channels of %zu, or a NULL tensor", batch, channels, hw);
    if (batch && channels)
        YL_CHECK(cuda, YL_LAUNCH(bn_train_backward_kernel, (unsigned)channels, BN_THREADS, 0,
                                 stream, in, grad_out, batch, channels, hw, gamma, save_mean,
                                 save_invstd, grad_in, grad_gamma, grad_beta));
    return YOLACT_OK;
}
