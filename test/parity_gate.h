/* The parity gate of ../shared/tools/compare.py in C: our detections against the official
 * implementation's, with the tolerances of a precision. Shared by the CPU parity test and
 * the CUDA backend's parity tests. */
#ifndef YL_TEST_PARITY_GATE_H
#define YL_TEST_PARITY_GATE_H

#include <stddef.h>

#include "ref_json.h"
#include "yolact.h"

typedef struct parity_tolerance {
    double min_score;   /* reference detections at or above are gated: 0.1 */
    double score;       /* |score difference|: 2e-3 on the CPU and FP32, 1e-2 in FP16 */
    double box_px;      /* box corner error: 1 px */
    double mask_iou;    /* 0.97 (FP16: 0.95), or at most mask_px differing pixels */
    int mask_px;
    double mask_score_rel; /* YOLACT++: relative mask_score difference */
} parity_tolerance;

/* Compare; returns 1 on pass. report receives statistics and, on failure, the first
 * failing pairs and the largest differences. */
int parity_gate(const ref_detection *ref, int num_ref, const yolact_result *ours,
                const parity_tolerance *tol, char *report, size_t cap);

#endif
