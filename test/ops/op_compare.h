/* The op-test harness's one comparer: a kernel's output against its CPU reference's, by the
 * comparison a table row states (exact, ULPs, relative to sum|terms|, NMSE), with a report of
 * the worst element and the first mismatches when it fails. */
#ifndef YL_TEST_OP_COMPARE_H
#define YL_TEST_OP_COMPARE_H

#include <stddef.h>

typedef enum op_cmp_kind {
    OP_EXACT, /* bit for bit (floats: NaN equals any NaN, -0 differs from +0) */
    OP_ULPS,  /* floats within tol ulps of each other (NaN only with NaN) */
    OP_SUM,   /* |got - want| <= tol * mag + atol, mag the element's sum|terms| (NaN fails) */
    OP_NMSE   /* sum (got - want)^2 / sum want^2 <= tol, over the whole tensor */
} op_cmp_kind;

typedef struct op_check {
    op_cmp_kind kind;
    double tol, atol;
    /* Bit for bit instead where the kernels' expf and tanhf are the C library's, as the CPU
     * references' are (the emulation; not a GPU, nor `make test-gpu-math`). */
    int exact_with_libc_math;
} op_check;

typedef enum op_dtype { OP_F32, OP_I32, OP_U8 } op_dtype;

/* One output: count elements of dtype at got (the kernel's) and want (the reference's; for
 * OP_F32 it may instead be doubles at want64, an exact value); mag (OP_SUM only): each
 * element's sum|terms|, count doubles. */
typedef struct op_tensor {
    const char *name;
    op_dtype dtype;
    size_t count;
    const void *got, *want;
    const double *mag, *want64;
} op_tensor;

/* Whether t passes check; when not, report (report_size bytes) says how many elements fail,
 * the worst (index, got, want, error, bound) and the first OP_REPORT_FIRST mismatches. */
#define OP_REPORT_FIRST 5
int op_compare(const op_tensor *t, const op_check *check, char *report, size_t report_size);

/* Whether this build's kernels call the C library's expf and tanhf (the emulation without
 * EMU_MATH=gpu): op_compare then treats exact_with_libc_math checks as OP_EXACT. */
int op_libc_math(void);

#endif
