/* The protocol's parameters, computed the way NumPy computes pycocotools' arrays so that the
 * thresholds compare equal bit for bit. */
#include "coco_params.h"

static double linspace(double start, double stop, int num, int i)
{
    if (i == num - 1)
        return stop;
    double step = (stop - start) / (num - 1);
    return i * step + start;
}

double coco_iou_threshold(int t)
{
    return linspace(.5, .95, COCO_T, t);
}

double coco_recall_threshold(int r)
{
    return linspace(0, 1, COCO_R, r);
}

void coco_area_range(int a, double *lo, double *hi)
{
    static const double ranges[COCO_A][2] = {
        {0, 1e10}, {0, 32 * 32}, {32 * 32, 96 * 96}, {96 * 96, 1e10}};
    *lo = ranges[a][0];
    *hi = ranges[a][1];
}

const char *coco_area_label(int a)
{
    static const char *const labels[COCO_A] = {"all", "small", "medium", "large"};
    return labels[a];
}

int coco_max_detections(int m)
{
    static const int limits[COCO_M] = {1, 10, 100};
    return limits[m];
}
