// The FP16 convolution for the protonet's and the heads' 3x3 layers (yl_conv_reads_nhwc):
// the input is first copied to an (H, W, C) half tensor in the caller's workspace, so that
// with k = (ky, kx, ci) each 8 consecutive k of a pixel are 16 contiguous bytes. The
// implicit GEMM then stages its X tiles as 16-byte asynchronous copies straight from that
// copy (zero-filled in the padding and past K) instead of gathering, converting and storing
// every element, and keeps NHWC_STAGES tiles in flight. The warp tiling, the packed weights
// and the epilogue are conv.cuh's, shared with conv.cu's kernels.
#include "conv.cuh"
#include "transpose.cuh"

#define NHWC_STAGES 4

/* Where a thread's group of 8 channels of k sits: tap (ky, kx), first channel ci. A group
 * advances by TILE_K a tile (ky == kh: past K). */
struct nhwc_tap {
    int ci, kx, ky;
};

static __device__ __forceinline__ nhwc_tap nhwc_tap_of(const conv_geom &g, int k)
{
    const int tap = k / g.in_c;
    return nhwc_tap{k - tap * g.in_c, tap % g.kw, tap / g.kw};
}

static __device__ __forceinline__ void nhwc_tap_advance(const conv_geom &g, nhwc_tap *t)
{
    t->ci += TILE_K;
    while (t->ci >= g.in_c) {   /* once for in_c >= TILE_K */
        t->ci -= g.in_c;
        if (++t->kx == g.kw) {
            t->kx = 0;
            t->ky++;
        }
    }
}

/* Thread t stages pixel column t % TILE_N, groups t / TILE_N and t / TILE_N + 2 of the four
 * 8-channel groups of a tile's k. */
#define NHWC_GROUP_STEP (F16_THREADS / TILE_N)

static __global__ void __launch_bounds__(F16_THREADS)
conv_nhwc_f16_kernel(conv_geom g, const yl_half *__restrict__ in,
                     const uint32_t *__restrict__ weight, const float *bias,
                     const float *residual, yl_activation act, float *out)
{
    __shared__ __align__(16) uint32_t s_w[NHWC_STAGES][TILE_M][F16_ROW_WORDS];
    __shared__ __align__(16) uint32_t s_x[NHWC_STAGES][TILE_N][F16_ROW_WORDS];
    to_block_image(g, in, out, residual);
    const int t = threadIdx.x, m0 = blockIdx.y * TILE_M, n0 = blockIdx.x * TILE_N;
    const int ln = t % TILE_N, group = t / TILE_N;
    int iy0, ix0;
    pixel_origin(g, n0 + ln, &iy0, &ix0);
    nhwc_tap taps[2] = {nhwc_tap_of(g, 8 * group), nhwc_tap_of(g, 8 * (group + NHWC_GROUP_STEP))};
    const uint32_t *tiles = weight + (size_t)blockIdx.y * g.k_tiles * (TILE_ELEMS / 2);

    /* Tile kt into stage buffer s: the weights, then this thread's two 16-byte X groups. */
    auto stage = [&](int kt, int s) {
        stage_weights(&s_w[s][0][0], F16_ROW_WORDS, tiles + (size_t)kt * (TILE_ELEMS / 2),
                      TILE_K / 2, TILE_ELEMS / 2, t, F16_THREADS);
        YL_UNROLL
        for (int q = 0; q < 2; q++) {
            nhwc_tap &tp = taps[q];
            const int iy = iy0 + tp.ky * g.dil, ix = ix0 + tp.kx * g.dil;
            const bool valid = tp.ky < g.kh && (unsigned)iy < (unsigned)g.in_h &&
                               (unsigned)ix < (unsigned)g.in_w;
            const yl_half *src = valid ? in + ((size_t)iy * g.in_w + ix) * g.in_c + tp.ci : in;
            yl_cp_async_16_zfill(&s_x[s][ln][4 * (group + NHWC_GROUP_STEP * q)], src, valid);
            nhwc_tap_advance(g, &tp);
        }
    };

    const f16_warp w = f16_warp_of(t);
    float acc[2 * 4][4];
    f16_zero(acc);
    /* NHWC_STAGES - 1 tiles in flight before the first multiply; each step waits for its own
     * tile, then refills the buffer the previous step read (every thread is past it: the
     * barrier), one commit a step (empty past the end) so the wait count stays exact. */
    for (int s = 0; s < NHWC_STAGES - 1; s++) {
        if (s < g.k_tiles)
            stage(s, s);
        yl_cp_async_commit();
    }
    for (int kt = 0; kt < g.k_tiles; kt++) {
        yl_cp_async_wait_group(NHWC_STAGES - 2);
        __syncthreads();
        const int ahead = kt + NHWC_STAGES - 1;
        if (ahead < g.k_tiles)
            stage(ahead, ahead % NHWC_STAGES);
        yl_cp_async_commit();
        f16_tile_mma(s_w[kt % NHWC_STAGES], s_x[kt % NHWC_STAGES], w, acc);
    }
    yl_cp_async_wait_group(0);  /* only the empty groups are left */
    f16_store(g, w, m0, n0, acc, bias, residual, act, out);
}

cudaError_t yl_conv_nhwc_f16_launch(const conv_geom &g, int batch, const float *in,
                                    void *workspace, const uint32_t *packed, const float *bias,
                                    const float *residual, yl_activation act, float *out,
                                    cudaStream_t stream)
{
    yl_half *copy = static_cast<yl_half *>(workspace);
    cudaError_t e = chw_to_hwc(in, g.in_c, g.in_h * g.in_w, batch, copy, stream);
    if (e != cudaSuccess)
        return e;
    dim3 grid((g.n + TILE_N - 1) / TILE_N, (g.m + TILE_M - 1) / TILE_M, batch);
    return YL_LAUNCH(conv_nhwc_f16_kernel, grid, F16_THREADS, 0, stream, g,
                     static_cast<const yl_half *>(copy), packed, bias, residual, act, out);
}
