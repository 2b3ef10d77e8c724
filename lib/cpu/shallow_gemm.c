/* The output tiles of a convolution whose GEMM is shallow (a 1x1 on few channels, the 7x7
 * stem over its im2col columns) in one AVX-512 pass: each output's products summed in
 * depth order by fused multiply-adds from zero and added to zero, as OpenBLAS's sgemm sums
 * them into its zeroed tile when the depth is one block of its own (256 is, 512 is not) and
 * the tile is past its small-matrix size (so the same bits: test/test_dense_ops.c checks it
 * against sgemm), then the epilogue's operations in registers. With so few terms a GEMM
 * spends more on its output than on its products: sgemm zeroes the tile, adds the products
 * into it, and the epilogue reads it again; here each output is written once, row block by
 * row block along the rows. */
#include "cpu/conv.h"


#if defined(__GNUC__) && defined(__x86_64__)
#define YL_SHALLOW_AVX512 1
#include <immintrin.h>

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
    for (int i = 0; i < rows; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
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

/* Columns [c0, c1) of every output channel, from x (k rows of stride ldx) into out and
 * residual (rows of stride ldo); packed: (c1 - c0) / COLS blocks of k x COLS floats,
 * 64-byte aligned (the strip's inputs, read a page a row in place). */
static __attribute__((target("avx512f"))) void
strip(int m, int k, const float *w, const float *x, size_t ldx, const float *bias,
      const float *residual, yl_activation act, float *out, size_t ldo, size_t c0, size_t c1,
      float *packed)
{
    for (size_t c = c0; c < c1; c += COLS) {
        const int cols = c1 - c < COLS ? (int)(c1 - c) : COLS;
        const __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1);
        const __mmask16 m1 = cols <= 16 ? 0 : cols >= 32 ? 0xffff
                                                         : (__mmask16)((1u << (cols - 16)) - 1);
        float *pk = packed + (c - c0) * k;
        for (int p = 0; p < k; p++) {
            const float *row = x + (size_t)p * ldx + c;
            _mm512_store_ps(pk + (size_t)p * COLS, _mm512_maskz_loadu_ps(m0, row));
            _mm512_store_ps(pk + (size_t)p * COLS + 16, _mm512_maskz_loadu_ps(m1, row + 16));
        }
    }
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

void yl_shallow_tile(int k, int n, const float *weight, const float *b, int ldb,
                     const float *bias, const float *residual, yl_activation act, float *out,
                     int m0, int mc, int n0, int nc)
{
#ifdef YL_SHALLOW_AVX512
    float packed[PACKED] __attribute__((aligned(64)));
    const int width = PACKED / k / COLS * COLS;
    const size_t at = (size_t)m0 * n + n0;
    for (int s = 0; s < nc; s += width)
        strip(mc, k, weight + (size_t)m0 * k, b, (size_t)ldb, bias ? bias + m0 : NULL,
              residual ? residual + at : NULL, act, out + at, (size_t)n, s,
              nc - s < width ? nc : s + width, packed);
#else
    (void)k, (void)n, (void)weight, (void)b, (void)ldb, (void)bias, (void)residual,
        (void)act, (void)out, (void)m0, (void)mc, (void)n0, (void)nc;
#endif
}
