/* The loss kernels' block reductions (yl_loss_kernels.h): a double sum and an argmax with
 * the CPU's tie rule, over LOSS_THREADS threads, the same tree every run (deterministic). */
#ifndef YL_LOSS_REDUCE_CUH
#define YL_LOSS_REDUCE_CUH

#include "yl_device.h"

#define LOSS_THREADS 256

/* The block's sum of each thread's v (every thread gets it); shared: LOSS_THREADS doubles. */
static __device__ __forceinline__ double loss_block_sum(double v, double *shared)
{
    shared[threadIdx.x] = v;
    __syncthreads();
    for (int half = LOSS_THREADS / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half)
            shared[threadIdx.x] += shared[threadIdx.x + half];
        __syncthreads();
    }
    const double sum = shared[0];
    __syncthreads();
    return sum;
}

/* Whether (v, i) goes before (w, k) in a scan that keeps the first strictly larger value:
 * the larger value, ties to the lower index; i < 0 is no candidate (a NaN, or none). */
static __device__ __forceinline__ int loss_arg_before(float v, int i, float w, int k)
{
    if (i < 0)
        return 0;
    return k < 0 || v > w || (v == w && i < k);
}

/* The block's best (*v, *i) by loss_arg_before (every thread gets it); shared:
 * LOSS_THREADS floats and ints. */
static __device__ __forceinline__ void loss_block_argmax(float *v, int *i, float *sv, int *si)
{
    sv[threadIdx.x] = *v;
    si[threadIdx.x] = *i;
    __syncthreads();
    for (int half = LOSS_THREADS / 2; half > 0; half /= 2) {
        const int t = (int)threadIdx.x;
        if (t < half && loss_arg_before(sv[t + half], si[t + half], sv[t], si[t])) {
            sv[t] = sv[t + half];
            si[t] = si[t + half];
        }
        __syncthreads();
    }
    *v = sv[0];
    *i = si[0];
    __syncthreads();
}

/* The exclusive prefix count of flag over the block's threads in thread order, and the
 * block's total in *total; shared: LOSS_THREADS ints. */
static __device__ __forceinline__ int loss_block_scan(int flag, int *shared, int *total)
{
    const int t = (int)threadIdx.x;
    shared[t] = flag;
    __syncthreads();
    for (int step = 1; step < LOSS_THREADS; step *= 2) {
        const int add = t >= step ? shared[t - step] : 0;
        __syncthreads();
        shared[t] += add;
        __syncthreads();
    }
    const int inclusive = shared[t];
    *total = shared[LOSS_THREADS - 1];
    __syncthreads();
    return inclusive - flag;
}

#endif
