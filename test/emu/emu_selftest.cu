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

/* Fragments of one lane (yl_device.h's layout, or a planted error in it) for the 16x16 block
 * of row-major a (row length lda) at row m0, and the 16x8 block of row-major b ([k][n], row
 * length ldb) at column n0. */
static __device__ void load_fragments(const float *a, int lda, int m0, const float *b, int ldb,
                                      int n0, int variant, uint32_t fa[4], uint32_t fb[2])
{
    const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
    for (int i = 0; i < 4; i++) {
        /* Right: a[1] holds row g + 8, a[2] column 2t + 8; the planted error swaps them. */
        int hi_row = variant == YL_EMU_MMA_SWAPPED_A ? i >> 1 : i & 1;
        int hi_col = variant == YL_EMU_MMA_SWAPPED_A ? i & 1 : i >> 1;
        const float *p = a + (m0 + g + 8 * hi_row) * lda + 2 * t + 8 * hi_col;
        fa[i] = yl_pack_half2(p[0], p[1]);
    }
    for (int i = 0; i < 2; i++) {
        int k = 2 * t + 8 * i, n = n0 + g;
        /* Right: the k pair of column g; the planted error indexes a 16x8 B as if it were
         * stored transposed ([n][k]), as a kernel that staged it the wrong way round would. */
        fb[i] = variant == YL_EMU_MMA_TRANSPOSED_B
                    ? yl_pack_half2(b[g * 16 + k], b[g * 16 + k + 1])
                    : yl_pack_half2(b[k * ldb + n], b[(k + 1) * ldb + n]);
    }
}

/* The C/D element (row, column) of fragment register i of this lane. */
static __device__ int fragment_row(int i) { return (int)threadIdx.x / 4 + 8 * (i >> 1); }
static __device__ int fragment_col(int i) { return 2 * ((int)threadIdx.x % 4) + (i & 1); }

/* One warp: d = a * b + c, a (16x16), b (16x8), c and d (16x8) row-major, through one MMA.
 * `lanes` < 32: the other lanes exit before the MMA (misuse). */
static __global__ void mma_kernel(const float *a, const float *b, const float *c, float *d,
                                  int variant, int lanes)
{
    if ((int)threadIdx.x >= lanes)
        return;
    uint32_t fa[4], fb[2];
    float fc[4];
    load_fragments(a, 16, 0, b, 8, 0, variant, fa, fb);
    for (int i = 0; i < 4; i++)
        fc[i] = c[fragment_row(i) * 8 + fragment_col(i)];
    yl_mma_m16n8k16_f16f32(fc, fa, fb, fc);
    for (int i = 0; i < 4; i++)
        d[fragment_row(i) * 8 + fragment_col(i)] = fc[i];
}

extern "C" cudaError_t yl_emu_selftest_mma(const float *a, const float *b, const float *c,
                                           float *d, int variant, int lanes)
{
    return YL_LAUNCH(mma_kernel, 1, 32, 0, nullptr, a, b, c, d, variant, lanes);
}

/* One warp: d (16 mi x 8 ni) = a (16 mi x 16) * b (16 x 8 ni) + c through one
 * yl_mma_grid_m16n8k16_f16f32; lane 5 asks for ni - 1 columns when `disagree`. */
static __global__ void mma_grid_kernel(const float *a, const float *b, const float *c, float *d,
                                       int mi, int ni, int disagree)
{
    uint32_t fa[8][4], fb[8][2];
    float acc[64][4];
    for (int i = 0; i < mi; i++)
        for (int j = 0; j < ni; j++) {
            load_fragments(a, 16, 16 * i, b, 8 * ni, 8 * j, YL_EMU_MMA_RIGHT, fa[i], fb[j]);
            for (int e = 0; e < 4; e++)
                acc[i * ni + j][e] = c[(16 * i + fragment_row(e)) * 8 * ni + 8 * j +
                                       fragment_col(e)];
        }
    int n = disagree && threadIdx.x == 5 ? ni - 1 : ni;
    yl_mma_grid_m16n8k16_f16f32(acc, fa, mi, fb, n);
    for (int i = 0; i < mi; i++)
        for (int j = 0; j < ni; j++)
            for (int e = 0; e < 4; e++)
                d[(16 * i + fragment_row(e)) * 8 * ni + 8 * j + fragment_col(e)] =
                    acc[i * ni + j][e];
}

extern "C" cudaError_t yl_emu_selftest_mma_grid(const float *a, const float *b, const float *c,
                                                float *d, int mi, int ni, int disagree)
{
    if (mi < 1 || ni < 1 || mi > 8 || ni > 8)
        return cudaErrorInvalidValue;
    return YL_LAUNCH(mma_grid_kernel, 1, 32, 0, nullptr, a, b, c, d, mi, ni, disagree);
}

static __global__ void cp_async_kernel(const float *in, float *out, int variant)
{
    __shared__ __align__(16) float s[2][32][4];
    const int t = threadIdx.x;
    yl_cp_async_16_zfill(s[0][t], in + 4 * t, variant != 1 || t % 2 == 0);
    yl_cp_async_commit();
    yl_cp_async_16(s[1][t], in + 128 + 4 * t);
    yl_cp_async_commit();
    if (variant == 2)
        return;
    const float early = s[1][t][0];
    yl_cp_async_wait_group(1);
    const float mid0 = s[0][t][0], mid1 = s[1][t][0];
    yl_cp_async_wait_group(0);
    out[4 * t] = early;
    out[4 * t + 1] = mid0;
    out[4 * t + 2] = mid1;
    out[4 * t + 3] = s[1][t][0];
}

static __global__ void ldmatrix_kernel(uint32_t *out, int misaligned)
{
    __shared__ __align__(16) uint16_t s[4][8][8];
    const int l = threadIdx.x;
    for (int i = l; i < 4 * 64; i += 32)
        s[i / 64][7 - i / 8 % 8][i % 8] = (uint16_t)i;     /* row r of matrix m at 7 - r */
    __syncthreads();
    const void *rows[1] = {&s[l / 8][7 - l % 8][0]};
    if (misaligned && l == 9)
        rows[0] = &s[l / 8][7 - l % 8][2];
    uint32_t r[1][4];
    yl_ldmatrix_x4_grid(r, rows, 1);
    for (int i = 0; i < 4; i++)
        out[4 * l + i] = r[0][i];
}

extern "C" cudaError_t yl_emu_selftest_ldmatrix(uint32_t *out, int misaligned)
{
    return YL_LAUNCH(ldmatrix_kernel, 1, 32, 0, nullptr, out, misaligned);
}

extern "C" cudaError_t yl_emu_selftest_cp_async(const float *in, float *out, int variant)
{
    return YL_LAUNCH(cp_async_kernel, 1, 32, 0, nullptr, in, out, variant);
}

/* Each thread takes the next slot of a counter and writes its global index there. */
static __global__ void run_order_kernel(unsigned *counter, unsigned *order)
{
    unsigned slot = yl_atomic_add(counter, 1u);
    order[slot] = blockIdx.x * blockDim.x + threadIdx.x;
}

extern "C" cudaError_t yl_emu_selftest_run_order(unsigned *counter, unsigned *order, int blocks,
                                                 int threads)
{
    return YL_LAUNCH(run_order_kernel, blocks, threads, 0, nullptr, counter, order);
}

static __global__ void previous_thread_kernel(const int *in, int *out, int sync)
{
    __shared__ int s[256];
    const int t = threadIdx.x;
    s[t] = in[t];
    if (sync)
        __syncthreads();
    out[t] = s[t > 0 ? t - 1 : 0];
}

extern "C" cudaError_t yl_emu_selftest_previous_thread(const int *in, int *out, int sync)
{
    return YL_LAUNCH(previous_thread_kernel, 1, 256, 0, nullptr, in, out, sync);
}

static __global__ void other_warp_kernel(const int *in, int *out, int sync)
{
    __shared__ int s[64];
    const int t = threadIdx.x;
    s[t] = in[t];
    if (sync)
        __syncthreads();
    else
        yl_syncwarp(YL_FULL_MASK);
    out[t] = s[t ^ 32];
}

extern "C" cudaError_t yl_emu_selftest_other_warp(const int *in, int *out, int sync)
{
    return YL_LAUNCH(other_warp_kernel, 1, 64, 0, nullptr, in, out, sync);
}
