/* Stage names and the op-to-stage rule of the per-stage profile (profile.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "profile.h"

const char *yl_stage_name(yl_stage stage)
{
    static const char *const names[YL_STAGE_COUNT] = {
        "preprocess", "upload", "backbone", "fpn", "protonet", "heads", "detect", "masks",
        "download"};
    return stage >= 0 && stage < YL_STAGE_COUNT ? names[stage] : "unknown";
}

yl_stage yl_stage_of_op(const yl_op *op)
{
    switch (op->part) {
    case YL_PART_FPN: return YL_STAGE_FPN;
    case YL_PART_PROTONET: return YL_STAGE_PROTONET;
    case YL_PART_HEADS: return YL_STAGE_HEADS;
    case YL_PART_BACKBONE: break;
    }
    return YL_STAGE_BACKBONE;
}

double yl_profile_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double yl_quantile(const double *samples, int n, double q, double *scratch)
{
    if (scratch != samples)
        memcpy(scratch, samples, (size_t)n * sizeof *scratch);
    qsort(scratch, (size_t)n, sizeof *scratch, compare_doubles);
    double at = q * (n - 1);
    int lo = (int)floor(at), hi = lo + 1 < n ? lo + 1 : lo;
    return scratch[lo] + (at - lo) * (scratch[hi] - scratch[lo]);
}
