/* The op-test harness: a table of cases (op_cases.c), each run through an op family's CPU
 * reference and CUDA kernel (op_<family>.c) by one driver (op_run_case) and compared by one
 * comparer (op_compare.h). Adding an op to the tests is adding its family and its rows. */
#ifndef YL_TEST_OP_HARNESS_H
#define YL_TEST_OP_HARNESS_H

#include <float.h>
#include <stdint.h>

#include "ops/op_compare.h"
#include "yl_cuda_test.h"

#define OP_MAX_DIMS 14
#define OP_MAX_OUTPUTS 8

typedef struct op_case op_case;
typedef struct op_run op_run;

/* An op family: how to make a row's inputs, run the reference and the kernel, and hand
 * their outputs to the driver (op_output). */
typedef struct op_family {
    const char *name;
    void (*run)(const op_case *c, op_run *r);
} op_family;

/* A row of the table. dims: the family's shape parameters, in the order its file names;
 * list: a family's per-image or per-item parameters where it takes any (list_len ints).
 * check[0]: the comparison of the family's main output, check[1] of its second where it
 * has one (the others are exact by nature: counts, indices, bytes that must stay as they
 * were). data: a file of outside reference data (.npz) the family reads, or NULL; a row
 * whose file is absent is skipped with a line saying so. */
struct op_case {
    const char *name;
    const op_family *family;
    int dims[OP_MAX_DIMS];
    yolact_precision precision;
    op_check check[2];
    const int *list;
    int list_len;
    const char *data;
};

extern const op_case op_cases[], op_large_cases[];
extern const int op_num_cases, op_num_large_cases;

/* A row through its family and the comparer; a failure is a Check failure naming the row. */
void op_run_case(const op_case *c);

/* ---- for the families ----------------------------------------------------------------- */
/* The row's random numbers (seeded from its name). */
uint64_t *op_rng(op_run *r);
/* Host and device buffers the driver frees after the comparison. */
void *op_host(op_run *r, size_t bytes);
void *op_dev(op_run *r, size_t bytes);
void *op_to_dev(op_run *r, const void *host, size_t bytes);
void *op_host_copy(op_run *r, const void *host, size_t bytes);
/* A host copy of bytes of device memory. */
void *op_from_dev(op_run *r, const void *dev, size_t bytes);
float *op_rand_floats(op_run *r, size_t n, float lo, float hi);
/* An output to compare: check NULL for the row's check[0], or &op_exact, or &c->check[1]. */
void op_output(op_run *r, const char *name, op_dtype dtype, size_t count, const void *got,
               const void *want, const double *mag, const op_check *check);
extern const op_check op_exact;
/* An output whose reference is exact, in double. */
void op_output_f64(op_run *r, const char *name, size_t count, const float *got,
                   const double *want, const double *mag, const op_check *check);

/* Each output's sum|terms| of a convolution (op_conv.c), for the families that build on it:
 * the outputs of batch images in (h, w) by weight, bias and residual (either may be NULL). */
double *op_conv_sum_terms(op_run *r, const yl_conv_desc *d, const float *in, int batch, int h,
                          int w, const float *weight, const float *bias, const float *residual);

/* The families (one file each, op_<name>.c). */
extern const op_family op_bilinear_axis, op_preprocess, op_masks_assemble,
    op_mask_resize_threshold, op_fast_nms, op_detect, op_keep_scores_above, op_maxpool2d,
    op_resize_bilinear, op_add, op_leaky_relu, op_add_activate, op_head_output,
    op_proto_output, op_conv2d, op_dcn2d, op_mask_rescore, op_conv_algo, op_loss_match,
    op_loss_box, op_loss_class, op_loss_segm, op_loss_mask,
    op_loss_multibox;

#endif
