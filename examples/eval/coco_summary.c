/* summarize: each number the mean of the defined (> -1) entries of a slice of precision or
 * recall, -1 where none is. The mean is NumPy's: a pairwise sum (8 accumulators per block of
 * at most 128, halves above) from 0.0, divided by the count, so it matches to the bit. */
#include "coco_summary.h"

#include <stdlib.h>

const coco_stat coco_stats[12] = {
    {1, 0, 0, 2},  {1, .5, 0, 2}, {1, .75, 0, 2}, {1, 0, 1, 2},
    {1, 0, 2, 2},  {1, 0, 3, 2},  {0, 0, 0, 0},   {0, 0, 0, 1},
    {0, 0, 0, 2},  {0, 0, 1, 2},  {0, 0, 2, 2},   {0, 0, 3, 2}};

/* NumPy's pairwise_sum for float64. */
static double pairwise_sum(const double *a, size_t n)
{
    if (n < 8) {
        double s = 0.;
        for (size_t i = 0; i < n; i++)
            s += a[i];
        return s;
    }
    if (n <= 128) {
        double r[8];
        size_t i;
        for (i = 0; i < 8; i++)
            r[i] = a[i];
        for (; i < n - n % 8; i += 8)
            for (size_t j = 0; j < 8; j++)
                r[j] += a[i + j];
        double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            s += a[i];
        return s;
    }
    size_t half = n / 2;
    half -= half % 8;
    return pairwise_sum(a, half) + pairwise_sum(a + half, n - half);
}

/* np.mean(s[s > -1]) of the values gathered in buf, or -1 when there are none. */
static double mean_defined(const double *buf, size_t n)
{
    return n == 0 ? -1 : (0.0 + pairwise_sum(buf, n)) / (double)n;
}

/* The thresholds a line covers: all, or the one equal to its IoU (none if none is equal,
 * as np.where would find). */
static int covers(const coco_stat *s, int t)
{
    return s->iou == 0 || coco_iou_threshold(t) == s->iou;
}

static double stat_value(const coco_eval *e, const coco_stat *s, double *buf)
{
    size_t n = 0, K = e->num_categories;
    for (int t = 0; t < COCO_T; t++) {
        if (!covers(s, t))
            continue;
        for (int r = 0; r < (s->ap ? COCO_R : 1); r++)
            for (size_t k = 0; k < K; k++) {
                double v = s->ap ? e->precision[coco_precision_at(e, t, r, k, s->area,
                                                                  s->max_dets_index)]
                                 : e->recall[coco_recall_at(e, t, k, s->area,
                                                            s->max_dets_index)];
                if (v > -1)
                    buf[n++] = v;
            }
    }
    return mean_defined(buf, n);
}

int coco_summarize(coco_eval *e)
{
    size_t K = e->num_categories;
    double *buf = malloc(((size_t)COCO_T * COCO_R * K + 1) * sizeof *buf);
    if (!buf)
        return -1;
    for (int i = 0; i < 12; i++)
        e->stats[i] = stat_value(e, &coco_stats[i], buf);
    for (size_t k = 0; k < K; k++) {
        size_t n = 0;
        for (int t = 0; t < COCO_T; t++)
            for (int r = 0; r < COCO_R; r++) {
                double v = e->precision[coco_precision_at(e, t, r, k, 0, 2)];
                if (v > -1)
                    buf[n++] = v;
            }
        e->class_ap[k] = mean_defined(buf, n);
    }
    free(buf);
    return 0;
}
