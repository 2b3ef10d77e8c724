/* accumulate, as NumPy computes it: detections ranked by a stable sort on descending score
 * (images in id order, each best first), cumulative true and false positives as exact counts,
 * precision = tp / (tp + fp + eps), made non-increasing from the right, read at the first
 * rank whose recall reaches each recall point (searchsorted 'left'); 0 past the last. */
#include "coco_accumulate.h"

#include <float.h>
#include <stdlib.h>

static int by_score(const void *a, const void *b)
{
    const coco_ranked *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

void coco_sort_by_score(coco_ranked *r, size_t n)
{
    if (n > 1) /* an image without detections has no ranking buffer yet: qsort wants one */
        qsort(r, n, sizeof *r, by_score);
}

/* Precision at the recall points and the recall reached, for threshold t of the ranking. */
static void precision_curve(const coco_ranked *rank, size_t nd, const uint8_t *flags, int t,
                            size_t not_ignored, double *rc, double *pr, double *precision_out,
                            size_t precision_stride, double *recall_out)
{
    double tp = 0, fp = 0;
    for (size_t j = 0; j < nd; j++) {
        uint8_t f = flags[rank[j].index * COCO_T + t];
        if (!(f & COCO_IGNORED)) {
            tp += (f & COCO_MATCHED) != 0;
            fp += (f & COCO_MATCHED) == 0;
        }
        rc[j] = tp / (double)not_ignored;
        pr[j] = tp / (fp + tp + DBL_EPSILON);
    }
    *recall_out = nd ? rc[nd - 1] : 0;
    for (size_t j = nd; j-- > 1;)
        if (pr[j] > pr[j - 1])
            pr[j - 1] = pr[j];
    size_t j = 0;
    for (int r = 0; r < COCO_R; r++) {
        double point = coco_recall_threshold(r);
        while (j < nd && rc[j] < point)
            j++;
        precision_out[(size_t)r * precision_stride] = j < nd ? pr[j] : 0;
    }
}

int coco_accumulate_category(const coco_category_matches *c, size_t k, coco_eval *e)
{
    if (c->num_images == 0)
        return 0;
    size_t total = c->first[c->num_images];
    coco_ranked *rank = malloc((total + 1) * sizeof *rank);
    double *rc = malloc((total + 1) * sizeof *rc), *pr = malloc((total + 1) * sizeof *pr);
    int status = rank && rc && pr ? 0 : -1;
    for (int m = 0; m < COCO_M && status == 0; m++) {
        size_t limit = (size_t)coco_max_detections(m), nd = 0;
        for (size_t i = 0; i < c->num_images; i++)
            for (size_t d = c->first[i]; d < c->first[i + 1] && d - c->first[i] < limit; d++)
                rank[nd++] = (coco_ranked){c->scores[d], d};
        coco_sort_by_score(rank, nd);
        for (int a = 0; a < COCO_A; a++) {
            if (c->not_ignored[a] == 0)
                continue;
            for (int t = 0; t < COCO_T; t++) {
                size_t stride = coco_precision_at(e, 0, 1, 0, 0, 0);
                precision_curve(rank, nd, c->flags[a], t, c->not_ignored[a], rc, pr,
                                &e->precision[coco_precision_at(e, t, 0, k, a, m)], stride,
                                &e->recall[coco_recall_at(e, t, k, a, m)]);
            }
        }
    }
    free(rank);
    free(rc);
    free(pr);
    return status;
}
