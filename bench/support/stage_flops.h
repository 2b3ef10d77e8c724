/* Each stage's floating-point work, counted from the model's convolution shapes, and the
 * CPU's FP32 peak, so yolact-bench prints each stage's achieved GFLOP/s beside it (issue 27:
 * how near the dense work is to what the CPU allows). */
#ifndef YL_STAGE_FLOPS_H
#define YL_STAGE_FLOPS_H

#include <stdio.h>

#include "model/model.h"
#include "profile.h"

/* The nominal FP32 peak of one core: GHz x FMA units x FP32 lanes x 2 (an FMA is two
 * operations), at the clock /proc/cpuinfo lists. What the bench divides by is measured
 * (stage_flops.c), since turbo clocks run above the listed one. */
typedef struct cpu_peak {
    double ghz;                 /* /proc/cpuinfo's "cpu MHz" of the first core; 0: unknown */
    const char *isa;            /* the widest FMA vectors it has: "avx512", "avx2", "none" */
    int lanes, fma_units;
    double core_gflops;         /* nominal, with isa's vectors */
} cpu_peak;

typedef struct stage_flops {
    double gflop[YL_STAGE_COUNT];  /* per image: 2 x MACs of the convolutions (DCN included,
                                      its sampling not); other ops are not counted */
    cpu_peak peak;
} stage_flops;

void stage_flops_count(const yolact_model *m, stage_flops *w);

/* Op i's work as stage_flops_count counts it: 2 x the MACs of a convolution (DCN included),
 * 0 for every other op. */
double op_gflop(const yolact_model *m, int i);

/* The lines under a CPU run's stage table: per stage with convolutions, its GFLOP and
 * achieved GFLOP/s against the peak of `threads` cores (measured the first time a thread
 * count is printed: ~0.6 s), for a batch of `batch` images. */
void stage_flops_print(const stage_flops *w, const double median_ms[YL_STAGE_COUNT], int threads,
                      int batch);

/* ",\n     \"fp32_throughput\": {...}" of a CPU run. */
void stage_flops_json(FILE *f, const stage_flops *w, const double median_ms[YL_STAGE_COUNT],
                     int threads, int batch);

/* Where a CPU run's network time goes (yolact-bench --per-op): a line per op of the network
 * with its median ms per call (op_ms, one per op), share of the network's time, and for a
 * convolution its algorithm (conv_algorithms: a letter per YL_OP_CONV in op order, as
 * yl_session_conv_algorithms gives them), GFLOP and achieved GFLOP/s against the peak. */
void op_flops_print(const yolact_model *m, const stage_flops *w, const double *op_ms,
                    const char *conv_algorithms, int threads, int batch);

/* ",\n     \"per_op\": [...]" of the same: one object per op. */
void op_flops_json(FILE *f, const yolact_model *m, const stage_flops *w, const double *op_ms,
                   const char *conv_algorithms, int threads, int batch);

#endif
