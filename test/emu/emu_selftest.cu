// Kernels that exercise the CUDA emulation (test/emu) rather than libyolact: warp
// collectives with known answers, and deliberate misuse the emulation must report.
#include "emu_selftest.h"
#include "yl_device.h"

static __global__ void warp_kernel(const int *in, int *out)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x, lane = threadIdx.x % 32;
    const int v = in[i];
    int sum = v;
    for (int d = 16; d > 0; d /= 2)
        sum += yl_shfl_down_sync(YL_FULL_MASK, sum, d);
    int all = v;
    for (int d = 16; d > 0; d /= 2)
        all += yl_shfl_xor_sync(YL_FULL_MASK, all, d);
    int scan = v;
    for (int d = 1; d < 32; d *= 2) {
        int up = yl_shfl_up_sync(YL_FULL_MASK, scan, d);
        scan += lane >= d ? up : 0;
    }
    unsigned ballot = yl_ballot_sync(YL_FULL_MASK, v > 0);
    int rotated = yl_shfl_sync(YL_FULL_MASK, v, (lane + 3) % 32);
    int *o = out + 5 * (size_t)i;
    o[0] = lane == 0 ? sum : 0;
    o[1] = all;
    o[2] = scan;
    o[3] = (int)ballot;
    o[4] = rotated;
}

extern "C" cudaError_t yl_emu_selftest_warp(const int *in, int *out, int n, int block)
{
    return YL_LAUNCH(warp_kernel, n / block, block, 0, nullptr, in, out);
}

static __global__ void block_sum_kernel(const float *in, float *out, int sync)
{
    __shared__ float s[256];
    const int t = threadIdx.x;
    s[t] = in[blockIdx.x * 256 + t];
    for (int half = 128; half > 0; half /= 2) {
        if (sync)
            __syncthreads();
        if (t < half)
            s[t] += s[t + half];
    }
    if (t == 0)
        out[blockIdx.x] = s[0];
}

extern "C" cudaError_t yl_emu_selftest_block_sum(const float *in, float *out, int n, int sync)
{
    return YL_LAUNCH(block_sum_kernel, n / 256, 256, 0, nullptr, in, out, sync);
}

static __global__ void early_return_kernel(int *out)
{
    if (threadIdx.x >= 5)
        return;
    __syncthreads();
    out[threadIdx.x] = 1;
}

static __global__ void smem_kernel(int *out, int count, int write_past)
{
    YL_DYNAMIC_SMEM(int, s, count);
    s[threadIdx.x] = (int)threadIdx.x;
    if (write_past && threadIdx.x == 0)
        s[count] = 1;
    out[threadIdx.x] = s[threadIdx.x];
}

static __global__ void diverged_warp_kernel(int *out)
{
    int v = (int)threadIdx.x;
    if (threadIdx.x % 2)
        v = yl_shfl_xor_sync(YL_FULL_MASK, v, 1);
    else
        v = (int)yl_ballot_sync(YL_FULL_MASK, v);
    out[threadIdx.x] = v;
}

static __global__ void shfl_vs_barrier_kernel(int *out)
{
    int v = (int)threadIdx.x;
    if (threadIdx.x == 3)
        __syncthreads();
    else
        v = yl_shfl_sync(YL_FULL_MASK, v, 0);
    out[threadIdx.x] = v;
}

static __global__ void partial_warp_kernel(int *out)
{
    out[threadIdx.x] = yl_shfl_down_sync(YL_FULL_MASK, (int)threadIdx.x, 8);
}

static __global__ void divergent_barrier_kernel(int *out)
{
    if (threadIdx.x < 32) {
        out[threadIdx.x] = 1;
        __syncthreads();
    } else {
        __syncthreads();
        out[threadIdx.x] = 2;
    }
}

extern "C" cudaError_t yl_emu_selftest_misuse(int which)
{
    int *out;
    cudaError_t e = cudaMalloc((void **)&out, 2048 * sizeof(int));
    if (e != cudaSuccess)
        return e;
    switch (which) {
    case 0: e = YL_LAUNCH(early_return_kernel, 2, 64, 0, nullptr, out); break;
    case 1: e = YL_LAUNCH(early_return_kernel, 1, 1025, 0, nullptr, out); break;
    case 2: e = YL_LAUNCH(smem_kernel, 1, 32, 32 * sizeof(int), nullptr, out, 64, 0); break;
    case 3: e = YL_LAUNCH(smem_kernel, 1, 32, 32 * sizeof(int), nullptr, out, 32, 1); break;
    case 4: e = YL_LAUNCH(diverged_warp_kernel, 1, 32, 0, nullptr, out); break;
    case 5: e = YL_LAUNCH(shfl_vs_barrier_kernel, 1, 32, 0, nullptr, out); break;
    case 6: e = YL_LAUNCH(partial_warp_kernel, 1, 20, 0, nullptr, out); break;
    case 7: e = YL_LAUNCH(divergent_barrier_kernel, 1, 64, 0, nullptr, out); break;
    default: e = cudaErrorInvalidValue; break;
    }
    /* The launch's error stays the caller's to read, as after a real failed launch. */
    cudaFree(out);
    return e;
}

/* One warp: lane fragments loaded from row-major a (16x16), b (16x8 as [k][n]) and c (16x8)
 * per the layout in yl_device.h (or a planted error in it), d = a * b + c stored back from
 * the D fragments. `lanes` < 32: the other lanes exit before the MMA (misuse). */
static __global__ void mma_kernel(const float *a, const float *b, const float *c, float *d,
                                  int variant, int lanes)
{
    const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
    if (lane >= lanes)
        return;
    uint32_t fa[4], fb[2];
    float fc[4];
    for (int i = 0; i < 4; i++) {
        /* Right: a[1] holds row g + 8, a[2] column 2t + 8; the planted error swaps them. */
        int hi_row = variant == YL_EMU_MMA_SWAPPED_A ? i >> 1 : i & 1;
        int hi_col = variant == YL_EMU_MMA_SWAPPED_A ? i & 1 : i >> 1;
        const float *p = a + (g + 8 * hi_row) * 16 + 2 * t + 8 * hi_col;
        fa[i] = yl_pack_half2(p[0], p[1]);
    }
    for (int i = 0; i < 2; i++) {
        int k = 2 * t + 8 * i;
        /* Right: the k pair of column g; the planted error indexes B as if it were stored
         * transposed ([n][k]), as a kernel that staged it the wrong way round would. */
        fb[i] = variant == YL_EMU_MMA_TRANSPOSED_B
                    ? yl_pack_half2(b[g * 16 + k], b[g * 16 + k + 1])
                    : yl_pack_half2(b[k * 8 + g], b[(k + 1) * 8 + g]);
    }
    for (int i = 0; i < 4; i++)
        fc[i] = c[(g + 8 * (i >> 1)) * 8 + 2 * t + (i & 1)];
    yl_mma_m16n8k16_f16f32(fc, fa, fb, fc);
    for (int i = 0; i < 4; i++)
        d[(g + 8 * (i >> 1)) * 8 + 2 * t + (i & 1)] = fc[i];
}

extern "C" cudaError_t yl_emu_selftest_mma(const float *a, const float *b, const float *c,
                                           float *d, int variant, int lanes)
{
    return YL_LAUNCH(mma_kernel, 1, 32, 0, nullptr, a, b, c, d, variant, lanes);
}
