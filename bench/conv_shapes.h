/* yolact-bench --conv-shapes: the convolutions our CUDA kernels run (protonet, prediction
 * head), each shape timed with our kernel and with cuDNN on the same operands
 * (yl_cuda_time_convs), printed as a table and written into the JSON. */
#ifndef YL_BENCH_CONV_SHAPES_H
#define YL_BENCH_CONV_SHAPES_H

#include <stdio.h>

#include "support/conv_timing.h"
#include "yolact.h"

typedef struct conv_shapes_run {
    yolact_precision precision;
    int batch;
    int count;                  /* shapes timed */
    yl_conv_timing *shapes;     /* room for the model's op count */
    char skipped[512];          /* why nothing was timed (no GPU, ...), or "" */
} conv_shapes_run;

/* Time every shape of m at r->precision and r->batch, iters calls a side. A backend that
 * cannot run (no GPU, a build without CUDA) fills r->skipped and is not a failure; another
 * error is printed and returns 1. */
int conv_shapes_measure(const yolact_model *m, int iters, conv_shapes_run *r);

/* The table of one run: each shape's times, TFLOP/s and ours/cuDNN throughput, then the
 * network's total (each shape weighted by how many ops have it). */
void conv_shapes_print(const conv_shapes_run *r);

/* ",\n  \"conv_shapes\": [...]" for the JSON's top level. */
void conv_shapes_json(FILE *f, const conv_shapes_run *runs, int n);

void conv_shapes_free(conv_shapes_run *r);

#endif
