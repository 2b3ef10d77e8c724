/* The single-threaded FP32 matrix product under the CPU convolutions: OpenBLAS's sgemm when
 * the build found it, else a portable cache-blocked kernel. Both are always testable. */
#ifndef YL_CPU_GEMM_H
#define YL_CPU_GEMM_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
/* One binary for every x86-64: the loader picks the AVX2+FMA or AVX-512 build of a hot
 * function at run time. */
#define YL_CPU_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define YL_CPU_CLONES
#endif

typedef enum yl_gemm_kind {
    YL_GEMM_AUTO = 0,       /* OpenBLAS when built in, else portable */
    YL_GEMM_PORTABLE,
    YL_GEMM_OPENBLAS        /* falls back to portable when not built in */
} yl_gemm_kind;

/* 1 when OpenBLAS is built in. */
int yl_gemm_have_openblas(void);

/* Which kernels the products run on: OpenBLAS's choice for this processor ("Cooperlake",
 * "Haswell", ...: it follows OPENBLAS_CORETYPE when set), or "portable". Static storage. */
const char *yl_gemm_kernels(void);

/* Make OpenBLAS single-threaded (idempotent). The CPU backend parallelises over tiles with
 * OpenMP and calls sgemm from every thread, so OpenBLAS's own pthread pool must stay idle.
 * openblas_set_num_threads is process-global: this also affects any other user of
 * OpenBLAS in the process. No-op without OpenBLAS. */
void yl_gemm_single_threaded_blas(void);

/* Row-major C = A * B, or C += A * B when accumulate is non-zero, on the calling thread.
 *   a: (m, k) with row stride lda;  b: (k, n) with row stride ldb;  c: (m, n) with row stride ldc
 * m, n, k >= 0; when k == 0, C is zeroed (or left as is when accumulating). */
void yl_gemm(yl_gemm_kind kind, int m, int n, int k, const float *a, int lda, const float *b,
             int ldb, int accumulate, float *c, int ldc);

/* The same with A stored transposed, C (+)= Aᵀ B (a: (k, m), row stride lda), and with B
 * stored transposed, C (+)= A Bᵀ (b: (n, k), row stride ldb): the convolution's backward
 * pass (input gradient Wᵀ·dY, weight gradient dY·colᵀ; cpu/grad_ops.h). */
void yl_gemm_at(yl_gemm_kind kind, int m, int n, int k, const float *a, int lda,
                const float *b, int ldb, int accumulate, float *c, int ldc);
void yl_gemm_bt(yl_gemm_kind kind, int m, int n, int k, const float *a, int lda,
                const float *b, int ldb, int accumulate, float *c, int ldc);

#endif
