/* Cross-entropy with online hard negative mining (class_loss.h). */
#include "train/class_loss.h"

#include <math.h>
#include <stdlib.h>

#include "status.h"

typedef struct ranked {
    float loss;
    int prior;
} ranked;

/* Highest loss first; ties to the lower prior. */
static int by_loss(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->loss != y->loss)
        return x->loss > y->loss ? -1 : 1;
    return (x->prior > y->prior) - (x->prior < y->prior);
}

/* Cross-entropy of one row for target t; with grad: row_grad += scale * (softmax - onehot). */
static double row_cross_entropy(const float *x, int classes, int t, float scale, float *g)
{
    float max = x[0];
    for (int c = 1; c < classes; c++)
        max = x[c] > max ? x[c] : max;
    double sum = 0;
    for (int c = 0; c < classes; c++)
        sum += exp((double)x[c] - max);
    double lse = log(sum) + max;
    if (g)
        for (int c = 0; c < classes; c++)
            g[c] += scale * (float)(exp((double)x[c] - lse) - (c == t));
    return lse - x[t];
}

yolact_status yl_class_loss(const float *logits, const int *conf, int num_priors, int classes,
                            int negpos_ratio, float shift, float scale, float *grad,
                            double *loss)
{
    const size_t P = (size_t)num_priors, C = (size_t)classes;
    ranked *order = malloc((P + 1) * sizeof *order);
    if (!order)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory ranking %d priors", num_priors);
    int num_pos = 0;
    for (size_t p = 0; p < P; p++) {
        float rank = 0;
        if (conf[p] == 0) {
            float s = 0;
            for (size_t c = 0; c < C; c++)
                s += expf(logits[p * C + c] - shift);
            rank = logf(s) + shift - logits[p * C];
        }
        num_pos += conf[p] > 0;
        order[p] = (ranked){rank, (int)p};
    }
    qsort(order, P, sizeof *order, by_loss);
    long num_neg = (long)negpos_ratio * num_pos;
    num_neg = num_neg < (long)P - 1 ? num_neg : (long)P - 1;
    double total = 0;
    for (long r = 0; r < num_neg; r++) {
        size_t p = (size_t)order[r].prior;
        if (conf[p] == 0)
            total += row_cross_entropy(logits + p * C, classes, 0, scale,
                                       grad ? grad + p * C : NULL);
    }
    for (size_t p = 0; p < P; p++)
        if (conf[p] > 0)
            total += row_cross_entropy(logits + p * C, classes, conf[p], scale,
                                       grad ? grad + p * C : NULL);
    free(order);
    *loss = total;
    return YOLACT_OK;
}
