/* Single-threaded FP32 GEMM for the CPU convolutions: OpenBLAS's cblas_sgemm when built in,
 * and a portable cache-blocked kernel (the fallback, and the path tests compare against). */
#include "cpu/gemm.h"

#include <string.h>

#ifdef YL_HAVE_OPENBLAS
#include <cblas.h>
#endif

/* Portable kernel: a 6 x 16 register tile (12 accumulators of 8 floats), A packed per
 * block of MC x KC so it stays in L2 (36 KiB, on the stack: the convolution cannot fail, so
 * nothing here allocates), B read in place 16 columns at a time. */
enum { MR = 6, NR = 16, KC = 192, MC = 8 * MR };

typedef float v8 __attribute__((vector_size(32)));
/* The same, for loads and stores at any float-aligned address. */
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));

/* ap <- rows [0, mc) x cols [0, kc) of A, as strips of MR rows stored k-major (MR floats per
 * k); the rows past mc in the last strip are zero. A's element (i, p) is a[i * lda + p], or
 * a[p * lda + i] when trans_a (A stored transposed). */
static void pack_a(int trans_a, int mc, int kc, const float *a, int lda, float *ap)
{
    size_t row_step = trans_a ? 1 : (size_t)lda, col_step = trans_a ? (size_t)lda : 1;
    for (int i0 = 0; i0 < mc; i0 += MR, ap += (size_t)MR * kc) {
        int rows = mc - i0 < MR ? mc - i0 : MR;
        for (int p = 0; p < kc; p++) {
            for (int i = 0; i < rows; i++)
                ap[p * MR + i] = a[(i0 + i) * row_step + p * col_step];
            for (int i = rows; i < MR; i++)
                ap[p * MR + i] = 0.0f;
        }
    }
}

/* The MR x NR tile: c[0..rows) x [0..cols) (+)= ap (MR x kc, packed) * b (kc x NR). b must
 * hold NR readable columns; only `rows` x `cols` of c are written. */
static inline __attribute__((always_inline)) void
micro_tile(int kc, const float *ap, const float *b, int ldb, int load_c, float *c, int ldc,
           int rows, int cols)
{
    v8 acc[MR][2] = {{{0}}};
    for (int p = 0; p < kc; p++, b += ldb, ap += MR) {
        v8 b0 = *(const v8u *)b, b1 = *(const v8u *)(b + 8);
        for (int i = 0; i < MR; i++) {
            acc[i][0] += ap[i] * b0;
            acc[i][1] += ap[i] * b1;
        }
    }
    if (rows == MR && cols == NR) {
        for (int i = 0; i < MR; i++, c += ldc) {
            if (load_c) {
                acc[i][0] += *(const v8u *)c;
                acc[i][1] += *(const v8u *)(c + 8);
            }
            *(v8u *)c = acc[i][0];
            *(v8u *)(c + 8) = acc[i][1];
        }
        return;
    }
    float tile[MR][NR];
    for (int i = 0; i < MR; i++) {
        *(v8u *)tile[i] = acc[i][0];
        *(v8u *)(tile[i] + 8) = acc[i][1];
    }
    for (int i = 0; i < rows; i++, c += ldc)
        for (int j = 0; j < cols; j++)
            c[j] = load_c ? c[j] + tile[i][j] : tile[i][j];
}

/* The strip of B's columns [jr, jr + cols) over rows [0, kc), zero-padded to NR, for the
 * last partial strip or when B is stored transposed (B's (p, j) at b[j * ldb + p]). */
static void pack_b_strip(int trans_b, int kc, int cols, const float *b, int ldb, int jr,
                         float *strip)
{
    if (trans_b) /* B's columns are rows of b: read each along its length */
        for (int j = 0; j < cols; j++)
            for (int p = 0; p < kc; p++)
                strip[p * NR + j] = b[(size_t)(jr + j) * ldb + p];
    for (int p = 0; p < kc; p++) {
        float *s = strip + p * NR;
        if (!trans_b)
            memcpy(s, b + (size_t)p * ldb + jr, sizeof(float) * (size_t)cols);
        memset(s + cols, 0, sizeof(float) * (size_t)(NR - cols));
    }
}

YL_CPU_CLONES
static void gemm_portable(int trans_a, int trans_b, int m, int n, int k, const float *a,
                          int lda, const float *b, int ldb, int accumulate, float *c, int ldc)
{
    float ap[MC * KC];
    float strip[KC * NR]; /* a packed column strip: the last, partial one, or any of B^T */
    for (int pc = 0; pc < k; pc += KC) {
        int kc = k - pc < KC ? k - pc : KC;
        int load_c = accumulate || pc > 0;
        const float *bp = trans_b ? b + pc : b + (size_t)pc * ldb;
        int nfull = n / NR * NR;
        if (!trans_b && nfull < n)
            pack_b_strip(0, kc, n - nfull, bp, ldb, nfull, strip);
        for (int ic = 0; ic < m; ic += MC) {
            int mc = m - ic < MC ? m - ic : MC;
            pack_a(trans_a, mc, kc, trans_a ? a + (size_t)pc * lda + ic : a + (size_t)ic * lda + pc,
                   lda, ap);
            for (int jr = 0; jr < n; jr += NR) {
                int cols = n - jr < NR ? n - jr : NR;
                if (trans_b)
                    pack_b_strip(1, kc, cols, bp, ldb, jr, strip);
                int packed = trans_b || cols < NR;
                const float *bs = packed ? strip : bp + jr;
                int lds = packed ? NR : ldb;
                for (int ir = 0; ir < mc; ir += MR) {
                    int rows = mc - ir < MR ? mc - ir : MR;
                    micro_tile(kc, ap + (size_t)ir * kc, bs, lds, load_c,
                               c + (size_t)(ic + ir) * ldc + jr, ldc, rows, cols);
                }
            }
        }
    }
}

int yl_gemm_have_openblas(void)
{
#ifdef YL_HAVE_OPENBLAS
    return 1;
#else
    return 0;
#endif
}

const char *yl_gemm_kernels(void)
{
#ifdef YL_HAVE_OPENBLAS
    return openblas_get_corename();
#else
    return "portable";
#endif
}

void yl_gemm_single_threaded_blas(void)
{
#ifdef YL_HAVE_OPENBLAS
    if (openblas_get_num_threads() != 1)
        openblas_set_num_threads(1);
#endif
}

/* C (+)= op(A) op(B), op transposing where asked: the three products below. */
static void gemm(yl_gemm_kind kind, int trans_a, int trans_b, int m, int n, int k,
                 const float *a, int lda, const float *b, int ldb, int accumulate, float *c,
                 int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        if (!accumulate)
            for (int i = 0; i < m; i++)
                memset(c + (size_t)i * ldc, 0, sizeof(float) * (size_t)n);
        return;
    }
#ifdef YL_HAVE_OPENBLAS
    if (kind != YL_GEMM_PORTABLE) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb,
                    accumulate ? 1.0f : 0.0f, c, ldc);
        return;
    }
#else
    (void)kind;
#endif
    gemm_portable(trans_a, trans_b, m, n, k, a, lda, b, ldb, accumulate, c, ldc);
}

void yl_gemm(yl_gemm_kind kind, int m, int n, int k, const float *a, int lda, const float *b,
             int ldb, int accumulate, float *c, int ldc)
{
    gemm(kind, 0, 0, m, n, k, a, lda, b, ldb, accumulate, c, ldc);
}

void yl_gemm_at(yl_gemm_kind kind, int m, int n, int k, const float *a, int lda,
                const float *b, int ldb, int accumulate, float *c, int ldc)
{
    gemm(kind, 1, 0, m, n, k, a, lda, b, ldb, accumulate, c, ldc);
}

void yl_gemm_bt(yl_gemm_kind kind, int m, int n, int k, const float *a, int lda,
                const float *b, int ldb, int accumulate, float *c, int ldc)
{
    gemm(kind, 0, 1, m, n, k, a, lda, b, ldb, accumulate, c, ldc);
}
