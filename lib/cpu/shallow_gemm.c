/* The output tiles of a convolution whose GEMM is shallow (a 1x1 on few channels, the 7x7
 * stem over its im2col columns) in one AVX-512 pass: each output's products summed in
 * depth order by fused multiply-adds from zero and added to zero, as OpenBLAS's sgemm sums
 * them into its zeroed tile when the depth is one block of its own (256 is, 512 is not) and
 * the tile is past its small-matrix size (so the same bits: test/test_dense_ops.c checks it
 * against sgemm), then the epilogue's operations in registers. With so few terms a GEMM
 * spends more on its output than on its products: sgemm zeroes the tile, adds the products
 * into it, and the epilogue reads it again; here each output is written once, row block by
 * row block along the rows. A convolution other than a pointwise one (the stem, a stride-2
 * 1x1) may skip its im2col copy: its columns are gathered from the input as a strip packs
 * them (yl_shallow_conv_tile), the same floats in the same places. */
#include "cpu/conv.h"


#if defined(__GNUC__) && defined(__x86_64__)
#define YL_SHALLOW_AVX512 1
#include <immintrin.h>
#include <stddef.h>

enum {
    ROWS = 8,  /* output channels a microtile: 16 accumulators with COLS */
    COLS = 32, /* output columns a microtile: two vectors */
    PACKED = 16384 /* floats of inputs packed at a time (64 KiB, in L2): depth x a strip */
};

/* Rows [m, m + rows) x columns [n, n + 32) of the output (cols of them real: a mask past
 * the end), from x (k rows of stride ldx) and w (rows of k). */
static inline __attribute__((always_inline, target("avx512f"))) void
micro(int rows, int k, const float *w, const float *x, size_t ldx, const float *bias,
      const float *residual, yl_activation act, float *out, size_t ldo, __mmask16 m0,
      __mmask16 m1)
{
    __m512 acc[ROWS][2];
    for (int i = 0; i < rows; i++) {
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
        /* the tile's output and residual lines, for the epilogue after the sums: with a
         * plane or more between rows, each is a miss the prefetcher does not foresee */
        _mm_prefetch((const char *)(out + (size_t)i * ldo), _MM_HINT_ET0);
        _mm_prefetch((const char *)(out + (size_t)i * ldo + 16), _MM_HINT_ET0);
        if (residual) {
            _mm_prefetch((const char *)(residual + (size_t)i * ldo), _MM_HINT_T0);
            _mm_prefetch((const char *)(residual + (size_t)i * ldo + 16), _MM_HINT_T0);
        }
    }
    for (int p = 0; p < k; p++, x += ldx) {
        const __m512 x0 = _mm512_load_ps(x), x1 = _mm512_load_ps(x + 16);
        for (int i = 0; i < rows; i++) {
            const __m512 wi = _mm512_set1_ps(w[(size_t)i * k + p]);
            acc[i][0] = _mm512_fmadd_ps(wi, x0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(wi, x1, acc[i][1]);
        }
    }
    const __m512 zero = _mm512_setzero_ps();
    for (int i = 0; i < rows; i++) {
        const __m512 b = _mm512_set1_ps(bias ? bias[i] : 0.0f);
        for (int h = 0; h < 2; h++) {
            const __mmask16 mask = h ? m1 : m0;
            /* sgemm's output: its zeroed tile plus the sum (-0 becomes +0 as there) */
            __m512 v = _mm512_add_ps(_mm512_add_ps(zero, acc[i][h]), b);
            if (residual)
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, residual + (size_t)i * ldo +
                                                                     16 * h));
            if (act == YL_ACT_RELU)
                v = _mm512_max_ps(zero, v); /* v < 0 ? 0 : v: -0 and NaN kept */
            _mm512_mask_storeu_ps(out + (size_t)i * ldo + 16 * h, mask, v);
        }
    }
}

/* Where a strip's inputs come from: a matrix x (k rows of stride ldx, the tile's column 0 at
 * x), or a convolution's input read in place (conv non-NULL: the im2col matrix's column
 * n0 + j for the tile's column j, gathered as it is packed). */
typedef struct source {
    const float *x;
    size_t ldx;
    const yl_conv_desc *conv;
    const float *in;
    int in_h, in_w, ow, n0;
} source;

enum {
    MAX_KERNEL = 8, /* the gather's kernel sides at most */
    MAX_SEGS = 3    /* output rows a 16-lane chunk spans at most (ow >= 8) */
};

/* What a 16-lane chunk of im2col columns reads, per segment (its lanes in one output row):
 * per kernel column kw, the input offset along the row of lane 0 (lane j at off + j *
 * stride) and the loads' masks, the lanes inside the input (stride 2: the floats of the two
 * loads whose even ones the permute keeps); per kernel row kh, the input row's offset, or
 * -1 outside the input. */
typedef struct chunk {
    int segs;
    __mmask16 lanes[MAX_SEGS];
    __mmask16 lo[MAX_SEGS][MAX_KERNEL], hi[MAX_SEGS][MAX_KERNEL];
    ptrdiff_t off[MAX_SEGS][MAX_KERNEL];
    ptrdiff_t row[MAX_SEGS][MAX_KERNEL];
} chunk;

/* Bits 0..7 of v to bits 0, 2, .., 14: lane j of a stride-2 gather is float 2j. */
static inline unsigned spread_even(unsigned v)
{
    v &= 0xff;
    v = (v | v << 4) & 0x0f0f;
    v = (v | v << 2) & 0x3333;
    return (v | v << 1) & 0x5555;
}

/* The chunk of cnt lanes (cnt <= 16) from im2col column q. */
static void chunk_plan(const source *src, size_t q, int cnt, chunk *ck)
{
    const yl_conv_desc *d = src->conv;
    const int s = d->stride, ow = src->ow;
    ck->segs = 0;
    for (int j = 0; j < cnt;) {
        const int y = (int)((q + j) / ow), x0 = (int)((q + j) % ow);
        const int e = j + (ow - x0) < cnt ? j + (ow - x0) : cnt;
        const int g = ck->segs++;
        ck->lanes[g] = (__mmask16)(((1u << e) - 1) & ~((1u << j) - 1));
        for (int kh = 0; kh < d->kernel_h; kh++) {
            const int iy = y * s - d->pad + kh * d->dilation;
            ck->row[g][kh] = iy >= 0 && iy < src->in_h ? (ptrdiff_t)iy * src->in_w : -1;
        }
        for (int kw = 0; kw < d->kernel_w; kw++) {
            /* lane i of [j, e) reads input column (x0 + i - j) * s + o: inside for output
             * columns [v0, v1), as in yl_im2col */
            const int o = kw * d->dilation - d->pad;
            const int v0 = o >= 0 ? 0 : (-o + s - 1) / s;
            const int v1 = src->in_w - 1 - o < 0 ? 0 : (src->in_w - 1 - o) / s + 1;
            int a = j + v0 - x0, b = j + v1 - x0;
            a = a > j ? a : j;
            b = b < e ? b : e;
            const unsigned lanes = a < b ? ((1u << b) - 1) & ~((1u << a) - 1) : 0;
            ck->off[g][kw] = (ptrdiff_t)(x0 - j) * s + o;
            ck->lo[g][kw] = (__mmask16)(s == 1 ? lanes : spread_even(lanes));
            ck->hi[g][kw] = (__mmask16)(s == 1 ? 0 : spread_even(lanes >> 8));
        }
        j = e;
    }
}

/* The chunk's 16 floats of im2col row (kh, kw) of the channel whose plane is plane: each
 * segment's lanes loaded (masked: lanes outside the input are +0, yl_im2col's zeros) and
 * merged. */
static inline __attribute__((always_inline, target("avx512f"))) __m512
chunk_row(const chunk *ck, int stride, const float *plane, int kh, int kw)
{
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6,
                                          4, 2, 0);
    __m512 v = _mm512_setzero_ps();
    for (int g = 0; g < ck->segs; g++) {
        if (ck->row[g][kh] < 0)
            continue;
        /* lane 0's float (masked lanes are not read: r may point before the plane) */
        const float *r = plane + ck->row[g][kh] + ck->off[g][kw];
        __m512 u;
        if (stride == 1)
            u = _mm512_maskz_loadu_ps(ck->lo[g][kw], r);
        else
            u = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(ck->lo[g][kw], r), even,
                                       _mm512_maskz_loadu_ps(ck->hi[g][kw], r + 16));
        v = _mm512_mask_mov_ps(v, ck->lanes[g], u);
    }
    return v;
}

/* The strip's inputs, columns [c0, c1) of the tile, as (c1 - c0) / COLS blocks of k x COLS
 * floats, 64-byte aligned (a matrix's read a page a row in place). */
static __attribute__((target("avx512f"))) void
pack(int k, const source *src, size_t c0, size_t c1, float *packed)
{
    for (size_t c = c0; c < c1; c += COLS) {
        const int cols = c1 - c < COLS ? (int)(c1 - c) : COLS;
        float *pk = packed + (c - c0) * k;
        if (src->conv) {
            const yl_conv_desc *d = src->conv;
            chunk ck[2];
            chunk_plan(src, (size_t)src->n0 + c, cols < 16 ? cols : 16, &ck[0]);
            chunk_plan(src, (size_t)src->n0 + c + 16, cols > 16 ? cols - 16 : 0, &ck[1]);
            const size_t plane = (size_t)src->in_h * src->in_w;
            for (int ch = 0, p = 0; ch < d->in_channels; ch++) {
                const float *in = src->in + ch * plane;
                for (int kh = 0; kh < d->kernel_h; kh++)
                    for (int kw = 0; kw < d->kernel_w; kw++, p++) {
                        _mm512_store_ps(pk + (size_t)p * COLS,
                                        chunk_row(&ck[0], d->stride, in, kh, kw));
                        _mm512_store_ps(pk + (size_t)p * COLS + 16,
                                        chunk_row(&ck[1], d->stride, in, kh, kw));
                    }
            }
            continue;
        }
        const __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1);
        const __mmask16 m1 = cols <= 16 ? 0 : cols >= 32 ? 0xffff
                                                         : (__mmask16)((1u << (cols - 16)) - 1);
        /* Each of the k rows is a stream of its own (a channel's plane), too many for the
         * hardware prefetcher: fetch this block's place in the next strip into L2 while
         * this one is used (the 1x1s on 138x138 planes spent a third of their time here) */
        const size_t ahead = c1 - c0;
        for (int p = 0; p < k; p++) {
            const float *row = src->x + (size_t)p * src->ldx + c;
            _mm_prefetch((const char *)(row + ahead), _MM_HINT_T1);
            _mm_prefetch((const char *)(row + ahead + 16), _MM_HINT_T1);
            _mm512_store_ps(pk + (size_t)p * COLS, _mm512_maskz_loadu_ps(m0, row));
            _mm512_store_ps(pk + (size_t)p * COLS + 16, _mm512_maskz_loadu_ps(m1, row + 16));
        }
    }
}

/* Columns [c0, c1) of every output channel, from src into out and residual (rows of stride
 * ldo), packed first into packed. */
static __attribute__((target("avx512f"))) void
strip(int m, int k, const float *w, const source *src, const float *bias,
      const float *residual, yl_activation act, float *out, size_t ldo, size_t c0, size_t c1,
      float *packed)
{
    pack(k, src, c0, c1, packed);
    /* row block by row block, so each output row is written along its length */
    for (int i = 0; i < m;) {
        const int rows = m - i >= ROWS ? ROWS : 1;
        for (size_t c = c0; c < c1; c += COLS) {
            const int cols = c1 - c < COLS ? (int)(c1 - c) : COLS;
            const __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1);
            const __mmask16 m1 = cols <= 16 ? 0 : cols >= 32 ? 0xffff
                                                             : (__mmask16)((1u << (cols - 16)) - 1);
            const float *pk = packed + (c - c0) * k;
            const float *r = residual ? residual + (size_t)i * ldo + c : NULL;
            float *o = out + (size_t)i * ldo + c;
            if (rows == ROWS)
                micro(ROWS, k, w + (size_t)i * k, pk, COLS, bias ? bias + i : NULL, r, act, o,
                      ldo, m0, m1);
            else
                micro(1, k, w + (size_t)i * k, pk, COLS, bias ? bias + i : NULL, r, act, o,
                      ldo, m0, m1);
        }
        i += rows;
    }
}
#endif

int yl_shallow_gemm_applies(int k, const float *residual, const float *out,
                            yl_activation act)
{
#ifdef YL_SHALLOW_AVX512
    return k <= YL_SHALLOW_MAX_DEPTH && yl_gemm_have_openblas() && residual != out &&
           (act == YL_ACT_NONE || act == YL_ACT_RELU) && __builtin_cpu_supports("avx512f");
#else
    (void)k, (void)residual, (void)out, (void)act;
    return 0;
#endif
}

int yl_shallow_tile_applies(int mc, int nc, int k)
{
    /* OpenBLAS's small-matrix sgemm (m n k up to 100^3, its sgemm_small_kernel_permit)
     * orders some sums otherwise */
    return (double)mc * nc * k > 1e6;
}

#ifdef YL_SHALLOW_AVX512
static void tile(int k, int n, const float *weight, const source *src, const float *bias,
                 const float *residual, yl_activation act, float *out, int m0, int mc, int n0,
                 int nc)
{
    float packed[PACKED] __attribute__((aligned(64)));
    const int width = PACKED / k / COLS * COLS;
    const size_t at = (size_t)m0 * n + n0;
    for (int s = 0; s < nc; s += width)
        strip(mc, k, weight + (size_t)m0 * k, src, bias ? bias + m0 : NULL,
              residual ? residual + at : NULL, act, out + at, (size_t)n, s,
              nc - s < width ? nc : s + width, packed);
}
#endif

void yl_shallow_tile(int k, int n, const float *weight, const float *b, int ldb,
                     const float *bias, const float *residual, yl_activation act, float *out,
                     int m0, int mc, int n0, int nc)
{
#ifdef YL_SHALLOW_AVX512
    const source src = {.x = b, .ldx = (size_t)ldb};
    tile(k, n, weight, &src, bias, residual, act, out, m0, mc, n0, nc);
#else
    (void)k, (void)n, (void)weight, (void)b, (void)ldb, (void)bias, (void)residual,
        (void)act, (void)out, (void)m0, (void)mc, (void)n0, (void)nc;
#endif
}

int yl_shallow_gather_applies(const yl_conv_desc *d, int ow)
{
#ifdef YL_SHALLOW_AVX512
    return (d->stride == 1 || d->stride == 2) && d->kernel_h <= MAX_KERNEL &&
           d->kernel_w <= MAX_KERNEL && ow >= 8;
#else
    (void)d, (void)ow;
    return 0;
#endif
}

void yl_shallow_conv_tile(const yl_conv_desc *d, const float *in, int in_h, int in_w, int ow,
                          int n, const float *weight, const float *bias, const float *residual,
                          yl_activation act, float *out, int m0, int mc, int n0, int nc)
{
#ifdef YL_SHALLOW_AVX512
    const source src = {.conv = d, .in = in, .in_h = in_h, .in_w = in_w, .ow = ow, .n0 = n0};
    tile(d->in_channels * d->kernel_h * d->kernel_w, n, weight, &src, bias, residual, act, out,
         m0, mc, n0, nc);
#else
    (void)d, (void)in, (void)in_h, (void)in_w, (void)ow, (void)n, (void)weight, (void)bias,
        (void)residual, (void)act, (void)out, (void)m0, (void)mc, (void)n0, (void)nc;
#endif
}
