/* What the implicit-GEMM convolution's kernels share (conv.cu: the FP32 kernel and the FP16
 * kernel gathering from (C, H, W) floats; conv_nhwc.cu: the FP16 kernel reading an
 * (H, W, C) half copy of the input): the tiling, the packed weight tiles, the tensor-core
 * step of a tile and the epilogue. See conv.cu for the GEMM's definition. */
#ifndef YL_CONV_CUH
#define YL_CONV_CUH

#include "activate.cuh"
#include "yl_device.h"
#include "yl_kernels.h"

#define TILE_M 64
#define TILE_N 64
#define TILE_K 32
#define F16_THREADS 128
/* FP16 shared rows: TILE_K halves = 16 words, padded to 20 so that the 8 rows x 4 words a
 * fragment load touches fall in 32 distinct banks, and rows stay 16-byte aligned. */
#define F16_ROW_WORDS (TILE_K / 2 + 4)

/* Packed weights: tile (mt, kt) of W (TILE_M channels x TILE_K of k), zero past M and K, tiles
 * in the order mt * k_tiles + kt so a block streams its row of tiles; inside a tile
 *   FP32: [TILE_K][TILE_M] floats (k-major: a thread's 4 channels are one float4)
 *   FP16: [TILE_M][TILE_K] halves (k-minor: a fragment register is two adjacent halves).
 * k is (ci, ky, kx) in that order, except on the (H, W, C) path (yl_conv_reads_nhwc), where
 * it is (ky, kx, ci): 8 consecutive k are then 8 channels of one input pixel, 16 bytes.
 * A tile is 8 KiB (FP32) or 4 KiB (FP16), copied to shared memory 16 bytes at a time. */
#define TILE_ELEMS (TILE_M * TILE_K)

/* Whether an FP16 convolution runs on the (H, W, C) half copy of its input: channels in
 * 16-byte groups, and a window of more than one tap (a 1x1 reads its input once anyway). */
static inline bool yl_conv_reads_nhwc(const yl_conv_desc *d, yolact_precision precision)
{
    return precision == YOLACT_PRECISION_FP16 && d->in_channels % 8 == 0 &&
           d->kernel_h * d->kernel_w > 1;
}

struct conv_geom {
    int in_c, in_h, in_w;
    int kh, kw, stride, pad, dil;
    int out_h, out_w;
    int m, n, k;        /* GEMM sides: out channels, out pixels, in_c * kh * kw */
    int k_tiles;
};

/* The first input row/column a pixel's window reads; far outside for pixels past the end,
 * so every tap of theirs reads as padding. */
#define NO_PIXEL (-(1 << 29))

static __device__ __forceinline__ void pixel_origin(const conv_geom &g, int p, int *iy0,
                                                    int *ix0)
{
    if (p < g.n) {
        int oy = p / g.out_w, ox = p - oy * g.out_w;
        *iy0 = oy * g.stride - g.pad;
        *ix0 = ox * g.stride - g.pad;
    } else {
        *iy0 = *ix0 = NO_PIXEL;
    }
}

/* Moves a kernel's operands to its block's image (the grid's z). */
template <class In>
static __device__ __forceinline__ void to_block_image(const conv_geom &g,
                                                      const In *__restrict__ &in, float *&out,
                                                      const float *&residual)
{
    in += (size_t)blockIdx.z * g.in_c * g.in_h * g.in_w;
    out += (size_t)blockIdx.z * g.m * g.n;
    residual = residual ? residual + (size_t)blockIdx.z * g.m * g.n : NULL;
}

/* Copy one packed weight tile of `words` 32-bit words, rows of src_row_words, into shared
 * rows of dst_row_words words, 16 bytes a copy (cp.async: the caller commits and waits). */
static __device__ __forceinline__ void stage_weights(uint32_t *dst, int dst_row_words,
                                                     const uint32_t *src, int src_row_words,
                                                     int words, int t, int threads)
{
    const int chunks_per_row = src_row_words / 4;
    for (int i = t; i < words / 4; i += threads)
        yl_cp_async_16(dst + (i / chunks_per_row) * dst_row_words + 4 * (i % chunks_per_row),
                       src + 4 * i);
}

/* The CPU's epilogue (conv.c): (sum + bias) + residual, then the activation. */
static __device__ __forceinline__ void store_out(const conv_geom &g, int m, int p, float sum,
                                                 const float *bias, const float *residual,
                                                 yl_activation act, float *out)
{
    if (m >= g.m || p >= g.n)
        return;
    size_t at = (size_t)m * g.n + p;
    float v = sum + (bias ? bias[m] : 0.0f);
    if (residual)
        v += residual[at];
    out[at] = yl_activate_device(v, act);
}

/* ---- the FP16 kernels' warp tiling ---------------------------------------------------------
 * 4 warps; warp w owns channels 32 (w / 2) .. + 31 and pixels 32 (w % 2) .. + 31 of the
 * block's tile, as 2 x 4 m16n8k16 MMAs (acc[i * 4 + j]: MMA (i, j)). The shared tiles are
 * s_w[TILE_M][F16_ROW_WORDS] (W, [m][k]) and s_x[TILE_N][F16_ROW_WORDS] (X transposed,
 * [p][k], the "col" layout B fragments want), each word two halves of adjacent k, both
 * 16-byte aligned (ldmatrix reads 16-byte rows). */
struct f16_warp {
    int wm, wn;             /* the warp's first channel and pixel in the tile */
    int lane, gr, tq;       /* lane, lane / 4, lane % 4 */
};

static __device__ __forceinline__ f16_warp f16_warp_of(int t)
{
    const int warp = t / 32, lane = t % 32;
    return f16_warp{32 * (warp / 2), 32 * (warp % 2), lane, lane / 4, lane % 4};
}

/* acc += the tile's W x X: per k16 step 2 A and 4 B fragments (yl_device.h's layout) by
 * four ldmatrix.x4, then the 2 x 4 MMAs. In an x4 load lane l addresses row l % 8 of
 * matrix q = l / 8. A (16 x 16 of W): matrix q is rows + 8 (q & 1), k + 8 (q >> 1), giving
 * a[0..3]. B (two 8-pixel tiles of X^T, 8 x 16 each): matrix q is tile q >> 1, k + 8 (q & 1),
 * giving b[j][0], b[j][1], b[j + 1][0], b[j + 1][1]. A row's 8 halves are 4 words from
 * word 8 ks (+ 4 for k + 8). */
static __device__ __forceinline__ void f16_tile_mma(const uint32_t (*s_w)[F16_ROW_WORDS],
                                                    const uint32_t (*s_x)[F16_ROW_WORDS],
                                                    const f16_warp &w, float (*acc)[4])
{
    const int q = w.lane / 8, r = w.lane % 8;
    for (int ks = 0; ks < TILE_K / 16; ks++) {
        const void *rows[4];
        uint32_t frag[4][4];
        YL_UNROLL
        for (int i = 0; i < 2; i++)
            rows[i] = &s_w[w.wm + 16 * i + 8 * (q & 1) + r][8 * ks + 4 * (q >> 1)];
        YL_UNROLL
        for (int p = 0; p < 2; p++)
            rows[2 + p] = &s_x[w.wn + 8 * (2 * p + (q >> 1)) + r][8 * ks + 4 * (q & 1)];
        yl_ldmatrix_x4_grid(frag, rows, 4);
        uint32_t a[2][4], b[4][2];
        YL_UNROLL
        for (int i = 0; i < 2; i++)
            YL_UNROLL
            for (int e = 0; e < 4; e++)
                a[i][e] = frag[i][e];
        YL_UNROLL
        for (int j = 0; j < 4; j++) {
            b[j][0] = frag[2 + j / 2][2 * (j % 2)];
            b[j][1] = frag[2 + j / 2][2 * (j % 2) + 1];
        }
        yl_mma_grid_m16n8k16_f16f32(acc, a, 2, b, 4);
    }
}

static __device__ __forceinline__ void f16_zero(float (*acc)[4])
{
    YL_UNROLL
    for (int i = 0; i < 2 * 4; i++)
        YL_UNROLL
        for (int e = 0; e < 4; e++)
            acc[i][e] = 0.0f;
}

/* The epilogue of the block's tile at (m0, n0): each accumulator through store_out. */
static __device__ __forceinline__ void f16_store(const conv_geom &g, const f16_warp &w, int m0,
                                                 int n0, float (*acc)[4], const float *bias,
                                                 const float *residual, yl_activation act,
                                                 float *out)
{
    YL_UNROLL
    for (int i = 0; i < 2; i++)
        YL_UNROLL
        for (int j = 0; j < 4; j++)
            YL_UNROLL
            for (int e = 0; e < 4; e++)
                store_out(g, m0 + w.wm + 16 * i + w.gr + 8 * (e / 2),
                          n0 + w.wn + 8 * j + 2 * w.tq + e % 2, acc[i * 4 + j][e], bias,
                          residual, act, out);
}

/* conv_nhwc.cu: the (H, W, C) path for a shape yl_conv_reads_nhwc accepts; workspace holds
 * batch x in_h x in_w x in_c halves (the input's copy), 16-byte aligned. */
cudaError_t yl_conv_nhwc_f16_launch(const conv_geom &g, int batch, const float *in,
                                    void *workspace, const uint32_t *packed, const float *bias,
                                    const float *residual, yl_activation act, float *out,
                                    cudaStream_t stream);

#endif
