/* YOLACT++'s test problems (DCNv2, the mask-IoU net) and their direct loops in double
 * precision, shared by the CPU ops' tests (test_plus_ops.c) and the CUDA ones' (the
 * op-test harness's DCN family, test/ops/op_dcn.c; test_plus_kernels.c). */
#ifndef YL_TEST_PLUS_REF_H
#define YL_TEST_PLUS_REF_H

#include <stdint.h>

#include "cpu/dense_ops.h"
#include "cpu/maskiou.h"

typedef struct dcn_case {
    int c, o, h, w, kernel, stride, pad, dilation; /* kernel x kernel taps */
    float offset_range;   /* offsets uniform in [-range, range) */
    int integer_offsets;  /* rounded to integers (samples on pixel centres and borders) */
} dcn_case;

/* Stride 1 and 2, offsets from 2 to 13 px (far outside the image), integer offsets on the
 * borders, padding and dilation 2, odd sizes, channels and pixels for several tiles. */
extern const dcn_case dcn_cases[];
extern const int num_dcn_cases;

/* A case's inputs (in, offset_mask, weight, bias: random, seeded) and the direct loop's
 * exact output (ref) with each output's sum of |terms| (mag): the sum over channels, taps
 * and the four neighbours of |weight x modulation x bilinear weight x input|, plus |bias|. */
typedef struct dcn_problem {
    yl_conv_desc d;
    int h, w, oh, ow;
    float *in, *offset_mask, *weight, *bias;
    double *ref, *mag;
} dcn_problem;

void dcn_problem_make(dcn_problem *p, const dcn_case *k, uint64_t seed);
/* Recompute ref and mag after changing the inputs. */
void dcn_problem_reference(dcn_problem *p);
void dcn_problem_free(dcn_problem *p);

/* A mask-IoU net of 4 layers, unpadded, ReLU after each: 3x3 stride 2 to 4, 6 and 8 channels,
 * then 1x1 to MASKIOU_CLASSES; n masks of size x size (zeros and values in (0, 1), as
 * cropped sigmoid masks), their classes and box scores in (0, 1). Random, seeded. */
enum { MASKIOU_CLASSES = 5, NUM_MASKIOU_SIZES = 3 };
extern const int maskiou_sizes[NUM_MASKIOU_SIZES]; /* odd, even, YOLACT-550's 138 */
typedef struct maskiou_problem {
    yl_maskiou_net net;
    float *params[2 * 4];
    int n;
    float *masks;
    int *classes;
    float *scores;
} maskiou_problem;

void maskiou_problem_make(maskiou_problem *p, int size, int n, uint64_t seed);
/* Mask i through the net in double: the max of its class's map (the predicted IoU); *mag
 * (may be NULL) receives the max over that map of each output's bound of sum|terms| through
 * the layers (the net run on |weights|, |biases| and the mask, no ReLU needed), so that a net
 * whose layers each err by at most r sum|terms| errs by at most layers x r x *mag. */
double maskiou_problem_reference(const maskiou_problem *p, int i, double *mag);
void maskiou_problem_free(maskiou_problem *p);

#endif
