// Convolution for the protonet and the prediction heads as an implicit GEMM: the im2col
// matrix is never stored, each tile of it is gathered from the input when it is staged in
// shared memory. With m an output channel, p an output pixel and k = (ci, ky, kx):
//   out[m][p] = act(sum_k W[m][k] * X[k][p] + bias[m] + residual[m][p])
//   in:       (in_channels, in_h, in_w) float; for output pixel p = (y, x)
//             X[k][p] = in[ci][y*stride - pad + ky*dil][x*stride - pad + kx*dil], 0 outside
//   weight:   packed by yl_conv2d_cuda_pack (tiles of W, zero-padded; see below)
//   bias:     (out_channels) or NULL
//   residual: (out_channels, out_h, out_w) or NULL, may alias out
//   out:      (out_channels, out_h, out_w) float
// A batch of images is the grid's z: image z's in, residual and out follow image z - 1's.
// A block computes a TILE_M x TILE_N tile of out (channels x pixels), TILE_K of k at a time.
//   FP32: 256 threads, each a 4 x 4 register tile of float multiply-adds (SIMT, no FMA).
//   FP16: 4 warps, each a 32 x 32 sub-tile as 2 x 4 tensor-core m16n8k16 MMAs per k16 step,
//         W and X converted to half when staged, accumulated in float. Shapes with channels
//         in groups of 8 and more than one tap (the 3x3 layers) take conv_nhwc.cu's kernel
//         instead, on an (H, W, C) half copy of the input in the caller's workspace.
#include <string.h>

#include "conv.cuh"

#define F32_THREADS 256

static int out_side(int in, int kernel, int stride, int pad, int dil)
{
    long long span = (long long)in + 2LL * pad - (long long)dil * (kernel - 1) - 1;
    return span < 0 ? 0 : (int)(span / stride + 1);
}

static bool desc_ok(const yl_conv_desc *d)
{
    return d && d->in_channels > 0 && d->out_channels > 0 && d->kernel_h > 0 &&
           d->kernel_w > 0 && d->stride > 0 && d->pad >= 0 && d->dilation > 0 &&
           (long long)d->in_channels * d->kernel_h * d->kernel_w <= (1LL << 28) &&
           (d->out_channels + TILE_M - 1) / TILE_M <= 65535;
}

static int k_tiles(const yl_conv_desc *d)
{
    return (d->in_channels * d->kernel_h * d->kernel_w + TILE_K - 1) / TILE_K;
}

static int m_tiles(const yl_conv_desc *d) { return (d->out_channels + TILE_M - 1) / TILE_M; }

/* k = (ci, ky, kx) as a running position: a thread stages k, k + step, k + 2 step, ... so
 * it decomposes k once and then only adds, without a division per element (on a GPU the
 * divisions by runtime kernel sizes would cost more instructions than the tile's MMAs). */
struct conv_tap {
    int ci, ky, kx;
};

static __device__ __forceinline__ conv_tap tap_of(const conv_geom &g, int k)
{
    int taps = g.kh * g.kw, ci = k / taps, r = k - ci * taps, ky = r / g.kw;
    return conv_tap{ci, ky, r - ky * g.kw};
}

/* t += step, where step = tap_of(g, s) for some s (so step.kx < kw, step.ky < kh: one carry
 * each at most). */
static __device__ __forceinline__ void tap_advance(const conv_geom &g, conv_tap *t,
                                                   const conv_tap &step)
{
    t->kx += step.kx;
    if (t->kx >= g.kw) {
        t->kx -= g.kw;
        t->ky++;
    }
    t->ky += step.ky;
    if (t->ky >= g.kh) {
        t->ky -= g.kh;
        t->ci++;
    }
    t->ci += step.ci;
}

/* X[k][p] for tap t of the pixel whose window starts at (iy0, ix0): 0 in the padding and
 * past K (ci >= in_c). */
static __device__ __forceinline__ float im2col_at(const float *__restrict__ in,
                                                  const conv_geom &g, const conv_tap &t,
                                                  int iy0, int ix0)
{
    int iy = iy0 + t.ky * g.dil, ix = ix0 + t.kx * g.dil;
    if (t.ci >= g.in_c || (unsigned)iy >= (unsigned)g.in_h || (unsigned)ix >= (unsigned)g.in_w)
        return 0.0f;
    return in[((size_t)t.ci * g.in_h + iy) * g.in_w + ix];
}

/* ---- pipeline ------------------------------------------------------------------------------
 * Both kernels double-buffer their shared tiles: while a block multiplies tile kt, each
 * thread has already issued the copies of the next weight tile (cp.async into the other
 * buffer) and the loads of its part of the next X tile (into registers), which it stores
 * into the other buffer after the multiply. One __syncthreads() a tile: the buffer written
 * in step kt was last read in step kt - 1, which every thread finished before the barrier
 * that ended it. */

/* The FP32 kernel's staging: thread t gathers pixel column t % 64 for k rows t / 64 + 4 i
 * (consecutive threads, consecutive pixels: coalesced for stride 1). */
#define F32_K_STEP (F32_THREADS / TILE_N)
#define F32_X_PER_THREAD (TILE_K / F32_K_STEP)
/* The FP16 kernel's: pairs of k of pixel column t % 64, pair rows t / 64 + 2 i. */
#define F16_PAIR_STEP (F16_THREADS / TILE_N)
#define F16_X_PER_THREAD (2 * (TILE_K / 2) / F16_PAIR_STEP)

/* The next n values of this thread's progression of taps into x: from x[i] to x[i + 1] the
 * tap advances by even_step for even i, odd_step for odd i. */
static __device__ __forceinline__ void gather(const float *__restrict__ in, const conv_geom &g,
                                              conv_tap *tap, const conv_tap &even_step,
                                              const conv_tap &odd_step, int iy0, int ix0,
                                              float *x, int n)
{
    YL_UNROLL
    for (int i = 0; i < n; i++) {
        x[i] = im2col_at(in, g, *tap, iy0, ix0);
        tap_advance(g, tap, i % 2 ? odd_step : even_step);
    }
}

/* ---- FP32: SIMT ---------------------------------------------------------------------------
 * Compute: thread (tm, tn) = (t / 16, t % 16) owns channels 4 tm .. 4 tm + 3 and pixels
 * 4 tn .. 4 tn + 3: per k one 16-byte shared load of its weights, one of its pixels (a
 * quarter warp reads 128 consecutive bytes: no bank conflict) and 16 fused multiply-adds.
 * Each output is summed over k in increasing order, one rounding a step (yl_fmaf). */
static __global__ void __launch_bounds__(F32_THREADS)
conv_f32_kernel(conv_geom g, const float *__restrict__ in, const float *__restrict__ weight,
                const float *bias, const float *residual, yl_activation act, float *out)
{
    __shared__ __align__(16) float s_w[2][TILE_K][TILE_M];
    __shared__ __align__(16) float s_x[2][TILE_K][TILE_N];
    to_block_image(g, in, out, residual);
    const int t = threadIdx.x, m0 = blockIdx.y * TILE_M, n0 = blockIdx.x * TILE_N;
    const int ln = t % TILE_N, lk = t / TILE_N;
    int iy0, ix0;
    pixel_origin(g, n0 + ln, &iy0, &ix0);
    conv_tap tap = tap_of(g, lk);
    const conv_tap step = tap_of(g, F32_K_STEP);
    const int tm = t / 16, tn = t % 16;
    float acc[4][4], x[F32_X_PER_THREAD];
    YL_UNROLL
    for (int i = 0; i < 4; i++)
        YL_UNROLL
        for (int j = 0; j < 4; j++)
            acc[i][j] = 0.0f;
    const uint32_t *tiles = reinterpret_cast<const uint32_t *>(weight) +
                            (size_t)blockIdx.y * g.k_tiles * TILE_ELEMS;  /* floats = words */
    stage_weights(reinterpret_cast<uint32_t *>(&s_w[0][0][0]), TILE_M, tiles, TILE_M,
                  TILE_ELEMS, t, F32_THREADS);
    gather(in, g, &tap, step, step, iy0, ix0, x, F32_X_PER_THREAD);
    YL_UNROLL
    for (int i = 0; i < F32_X_PER_THREAD; i++)
        s_x[0][lk + F32_K_STEP * i][ln] = x[i];
    yl_cp_async_wait_all();
    __syncthreads();
    for (int kt = 0; kt < g.k_tiles; kt++) {
        const int cur = kt & 1;
        const bool more = kt + 1 < g.k_tiles;
        if (more) {
            stage_weights(reinterpret_cast<uint32_t *>(&s_w[cur ^ 1][0][0]), TILE_M,
                          tiles + (size_t)(kt + 1) * TILE_ELEMS, TILE_M, TILE_ELEMS, t,
                          F32_THREADS);
            gather(in, g, &tap, step, step, iy0, ix0, x, F32_X_PER_THREAD);
        }
        for (int kk = 0; kk < TILE_K; kk++) {
            const float4 av = *reinterpret_cast<const float4 *>(&s_w[cur][kk][4 * tm]);
            const float4 bv = *reinterpret_cast<const float4 *>(&s_x[cur][kk][4 * tn]);
            const float a[4] = {av.x, av.y, av.z, av.w}, b[4] = {bv.x, bv.y, bv.z, bv.w};
            YL_UNROLL
            for (int i = 0; i < 4; i++)
                YL_UNROLL
                for (int j = 0; j < 4; j++)
                    acc[i][j] = yl_fmaf(a[i], b[j], acc[i][j]);
        }
        if (more) {
            YL_UNROLL
            for (int i = 0; i < F32_X_PER_THREAD; i++)
                s_x[cur ^ 1][lk + F32_K_STEP * i][ln] = x[i];
        }
        yl_cp_async_wait_all();
        __syncthreads();
    }
    YL_UNROLL
    for (int i = 0; i < 4; i++)
        YL_UNROLL
        for (int j = 0; j < 4; j++)
            store_out(g, m0 + 4 * tm + i, n0 + 4 * tn + j, acc[i][j], bias, residual, act, out);
}

/* ---- FP16: tensor cores, any shape ------------------------------------------------------
 * Staging: the weight tile (already half, [m][k]) by 16-byte copies into rows of
 * F16_ROW_WORDS words; X gathered as pairs of k of one pixel, converted, stored as one word
 * of row p (so s_x is X transposed: [p][k]). Compute and epilogue: conv.cuh's warp tiling. */
static __global__ void __launch_bounds__(F16_THREADS)
conv_f16_kernel(conv_geom g, const float *__restrict__ in, const uint32_t *__restrict__ weight,
                const float *bias, const float *residual, yl_activation act, float *out)
{
    __shared__ __align__(16) uint32_t s_w[2][TILE_M][F16_ROW_WORDS];
    __shared__ __align__(16) uint32_t s_x[2][TILE_N][F16_ROW_WORDS];
    to_block_image(g, in, out, residual);
    const int t = threadIdx.x, m0 = blockIdx.y * TILE_M, n0 = blockIdx.x * TILE_N;
    const int ln = t % TILE_N, lpair = t / TILE_N;
    int iy0, ix0;
    pixel_origin(g, n0 + ln, &iy0, &ix0);
    /* The taps k, k + 1 of pairs 2 lpair, 2 lpair + 4, ...: a progression of step 1 inside a
     * pair and 4 - 1 from one pair to the next. */
    conv_tap tap = tap_of(g, 2 * lpair);
    const conv_tap one = tap_of(g, 1), next_pair = tap_of(g, 2 * F16_PAIR_STEP - 1);
    const f16_warp w = f16_warp_of(t);
    float acc[2 * 4][4], x[F16_X_PER_THREAD];
    f16_zero(acc);
    /* A tile is TILE_ELEMS halves = TILE_ELEMS / 2 words. */
    const uint32_t *tiles = weight + (size_t)blockIdx.y * g.k_tiles * (TILE_ELEMS / 2);
    stage_weights(&s_w[0][0][0], F16_ROW_WORDS, tiles, TILE_K / 2, TILE_ELEMS / 2, t,
                  F16_THREADS);
    gather(in, g, &tap, one, next_pair, iy0, ix0, x, F16_X_PER_THREAD);
    YL_UNROLL
    for (int i = 0; i < F16_X_PER_THREAD / 2; i++)
        s_x[0][ln][lpair + F16_PAIR_STEP * i] = yl_pack_half2(x[2 * i], x[2 * i + 1]);
    yl_cp_async_wait_all();
    __syncthreads();
    for (int kt = 0; kt < g.k_tiles; kt++) {
        const int cur = kt & 1;
        const bool more = kt + 1 < g.k_tiles;
        if (more) {
            stage_weights(&s_w[cur ^ 1][0][0], F16_ROW_WORDS,
                          tiles + (size_t)(kt + 1) * (TILE_ELEMS / 2), TILE_K / 2,
                          TILE_ELEMS / 2, t, F16_THREADS);
            gather(in, g, &tap, one, next_pair, iy0, ix0, x, F16_X_PER_THREAD);
        }
        f16_tile_mma(s_w[cur], s_x[cur], w, acc);
        if (more) {
            YL_UNROLL
            for (int i = 0; i < F16_X_PER_THREAD / 2; i++)
                s_x[cur ^ 1][ln][lpair + F16_PAIR_STEP * i] = yl_pack_half2(x[2 * i],
                                                                            x[2 * i + 1]);
        }
        yl_cp_async_wait_all();
        __syncthreads();
    }
    f16_store(g, w, m0, n0, acc, bias, residual, act, out);
}

/* ---- host side ----------------------------------------------------------------------------- */
static bool precision_ok(yolact_precision p)
{
    return p == YOLACT_PRECISION_FP32 || p == YOLACT_PRECISION_FP16;
}

extern "C" size_t yl_conv2d_cuda_packed_bytes(const yl_conv_desc *d, yolact_precision precision)
{
    if (!desc_ok(d) || !precision_ok(precision))
        return 0;
    size_t elem = precision == YOLACT_PRECISION_FP16 ? sizeof(uint16_t) : sizeof(float);
    return (size_t)m_tiles(d) * k_tiles(d) * TILE_ELEMS * elem;
}

/* Where the kernel's k is in an OIHW filter's (ci, ky, kx) order: itself, or from the
 * (ky, kx, ci) order of the (H, W, C) path. */
static int oihw_k(const yl_conv_desc *d, bool nhwc, int k)
{
    if (!nhwc)
        return k;
    const int taps = d->kernel_h * d->kernel_w, tap = k / d->in_channels;
    return (k - tap * d->in_channels) * taps + tap;
}

extern "C" size_t yl_conv2d_cuda_workspace_bytes(const yl_conv_desc *d, int batch, int in_h,
                                                 int in_w, yolact_precision precision)
{
    if (!desc_ok(d) || !yl_conv_reads_nhwc(d, precision) || batch < 1 || in_h < 1 || in_w < 1)
        return 0;
    return (size_t)batch * in_h * in_w * d->in_channels * sizeof(uint16_t);
}

extern "C" void yl_conv2d_cuda_pack(const yl_conv_desc *d, const float *weight_oihw,
                                    yolact_precision precision, void *packed_host)
{
    if (!desc_ok(d) || !precision_ok(precision) || !weight_oihw || !packed_host)
        return;
    const int M = d->out_channels, K = d->in_channels * d->kernel_h * d->kernel_w;
    const int mt_count = m_tiles(d), kt_count = k_tiles(d);
    const bool half = precision == YOLACT_PRECISION_FP16, nhwc = yl_conv_reads_nhwc(d, precision);
    for (int mt = 0; mt < mt_count; mt++) {
        for (int kt = 0; kt < kt_count; kt++) {
            size_t tile = ((size_t)mt * kt_count + kt) * TILE_ELEMS;
            for (int mm = 0; mm < TILE_M; mm++) {
                for (int kk = 0; kk < TILE_K; kk++) {
                    int m = mt * TILE_M + mm, k = kt * TILE_K + kk;
                    float w = m < M && k < K ? weight_oihw[(size_t)m * K + oihw_k(d, nhwc, k)]
                                             : 0.0f;
                    if (half) {
                        yl_half h = yl_float2half(w);
                        memcpy(static_cast<uint16_t *>(packed_host) + tile + mm * TILE_K + kk,
                               &h, sizeof h);
                    } else {
                        static_cast<float *>(packed_host)[tile + kk * TILE_M + mm] = w;
                    }
                }
            }
        }
    }
}

static cudaError_t conv_launch(const conv_geom &g, int batch, const float *in,
                               const void *packed, yolact_precision precision, bool nhwc,
                               const float *bias, const float *residual, yl_activation act,
                               float *out, void *workspace, cudaStream_t stream)
{
    if (nhwc)
        return yl_conv_nhwc_f16_launch(g, batch, in, workspace,
                                       static_cast<const uint32_t *>(packed), bias, residual,
                                       act, out, stream);
    dim3 grid((g.n + TILE_N - 1) / TILE_N, (g.m + TILE_M - 1) / TILE_M, batch);
    if (precision == YOLACT_PRECISION_FP16)
        return YL_LAUNCH(conv_f16_kernel, grid, F16_THREADS, 0, stream, g, in,
                         static_cast<const uint32_t *>(packed), bias, residual, act, out);
    return YL_LAUNCH(conv_f32_kernel, grid, F32_THREADS, 0, stream, g, in,
                     static_cast<const float *>(packed), bias, residual, act, out);
}

extern "C" yolact_status yl_conv2d_cuda(const yl_conv_desc *d, const float *in, int batch,
                                        int in_h, int in_w, const void *packed_weight,
                                        yolact_precision precision, const float *bias,
                                        const float *residual, yl_activation act, float *out,
                                        void *workspace, cudaStream_t stream)
{
    /* The packed tiles and the (H, W, C) copy are read 16 bytes at a time (cp.async needs
     * the alignment). */
    const bool nhwc = desc_ok(d) && yl_conv_reads_nhwc(d, precision);
    if (!desc_ok(d) || !precision_ok(precision) || batch < 1 || batch > 65535 || in_h <= 0 ||
        in_w <= 0 || !in ||
        !packed_weight || ((uintptr_t)packed_weight & 15) || !out || (const float *)out == in ||
        (nhwc && (!workspace || ((uintptr_t)workspace & 15))) ||
        (act != YL_ACT_NONE && act != YL_ACT_RELU && act != YL_ACT_LEAKY_RELU_0_1))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_conv2d_cuda: conv %dx%dx%dx%d stride %d pad %d dilation %d, input "
                       "%d x %dx%d, precision %d, activation %d, pointers in %p weight %p out "
                       "%p workspace %p%s",
                       d ? d->out_channels : 0, d ? d->in_channels : 0, d ? d->kernel_h : 0,
                       d ? d->kernel_w : 0, d ? d->stride : 0, d ? d->pad : 0,
                       d ? d->dilation : 0, batch, in_h, in_w, (int)precision, (int)act,
                       (const void *)in, packed_weight, (void *)out, workspace,
                       nhwc ? " (this shape needs a 16-byte aligned workspace)" : "");
    conv_geom g;
    g.in_c = d->in_channels;
    g.in_h = in_h;
    g.in_w = in_w;
    g.kh = d->kernel_h;
    g.kw = d->kernel_w;
    g.stride = d->stride;
    g.pad = d->pad;
    g.dil = d->dilation;
    g.out_h = out_side(in_h, d->kernel_h, d->stride, d->pad, d->dilation);
    g.out_w = out_side(in_w, d->kernel_w, d->stride, d->pad, d->dilation);
    g.m = d->out_channels;
    g.k = d->in_channels * d->kernel_h * d->kernel_w;
    g.k_tiles = k_tiles(d);
    /* Input rows + padding must stay far from NO_PIXEL, pixel indices ints. */
    if (in_h > (1 << 24) || in_w > (1 << 24) || d->pad > (1 << 24) ||
        (long long)d->dilation * d->kernel_h > (1 << 24) ||
        (long long)d->dilation * d->kernel_w > (1 << 24) ||
        (long long)g.out_h * g.out_w > (1LL << 30) || (long long)in_h * in_w > (1LL << 30) ||
        (nhwc && d->in_channels / 32 >= 65535))     /* the copy's grid of channel tiles */
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_conv2d_cuda: input %dx%d too large",
                       in_h, in_w);
    g.n = g.out_h * g.out_w;
    if (g.n == 0)
        return YOLACT_OK;
    YL_CHECK(cuda, conv_launch(g, batch, in, packed_weight, precision, nhwc, bias, residual, act,
                              out, workspace, stream));
    return YOLACT_OK;
}
