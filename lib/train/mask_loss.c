/* The linear-combination mask term (mask_loss.h). */
#include "train/mask_loss.h"

#include <math.h>
#include <stdlib.h>

#include "ops/boxes.h"
#include "status.h"

uint64_t yl_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* torch's binary_cross_entropy of p against t in float32, log clamped at -100, and the
 * gradient that reaches the logit through its backward and sigmoid's: zero where p rounded
 * to 0 or 1. */
static float bce_official(float p, float t, float *grad)
{
    float one_minus = (1.0f - p) * p;
    *grad = (p - t) / fmaxf(one_minus, 1e-12f) * one_minus;
    return (t - 1.0f) * fmaxf(log1pf(-p), -100.0f) - t * fmaxf(logf(p), -100.0f);
}

/* The same term from the logit x, stable: max(x, 0) - x t + log1p(exp(-|x|)). */
static double bce_stable(float x, float t, float *grad)
{
    double e = exp(-fabs((double)x));
    *grad = (float)((x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e)) - t);
    return (x > 0 ? x : 0) - (double)x * t + log1p(e);
}

/* The loss of one mask given its logits x (h * w) and target t, the crop's bounds; g gets
 * d loss / d x (0 outside the crop, where the prediction is 0). */
static double mask_term(yl_mask_loss_kind kind, const float *x, const uint8_t *t, int h, int w,
                        float x1, float x2, float y1, float y2, float *g)
{
    double sum = 0, inter = 0, sum_p = 0, sum_t = 0;
    for (int y = 0; y < h; y++)
        for (int xx = 0; xx < w; xx++) {
            size_t i = (size_t)y * w + xx;
            float ti = t[i];
            int in = xx >= x1 && xx < x2 && y >= y1 && y < y2;
            g[i] = 0;
            if (kind == YL_MASK_LOSS_DICE) {
                float p = in ? 1.0f / (1.0f + expf(-x[i])) : 0.0f;
                inter += (double)p * ti;
                sum_p += p;
                sum_t += ti;
                g[i] = p; /* finished below, once the sums are known */
            } else if (!in) {
                sum += 100.0 * ti; /* BCE of a cropped-out 0: log(0) clamped */
            } else if (kind == YL_MASK_LOSS_BCE_STABLE) {
                sum += bce_stable(x[i], ti, &g[i]);
            } else {
                sum += bce_official(1.0f / (1.0f + expf(-x[i])), ti, &g[i]);
            }
        }
    if (kind != YL_MASK_LOSS_DICE)
        return sum;
    /* 1 - (2 I + 1) / S, S = sum p + sum t + 1: d/dp = ((2 I + 1) - 2 t S) / S^2. */
    double s = sum_p + sum_t + 1;
    for (size_t i = 0; i < (size_t)h * w; i++) {
        float p = g[i];
        g[i] = (float)(((2 * inter + 1) - 2.0 * t[i] * s) / (s * s) * p * (1.0f - p));
    }
    return 1 - (2 * inter + 1) / s;
}

yolact_status yl_mask_loss(const yl_loss_config *cfg, const yl_mask_loss_image *in,
                           uint64_t *rng, float scale, float *grad_coeff, float *grad_proto,
                           double *loss)
{
    const int K = in->k, h = in->h, w = in->w;
    const size_t hw = (size_t)h * w;
    int *pos = malloc(((size_t)in->num_priors + 1) * sizeof *pos);
    float *x = malloc((2 * hw + 1) * sizeof *x);
    if (!pos || !x) {
        free(pos);
        free(x);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for the mask loss");
    }
    float *g = x + hw;
    int num_pos = 0;
    for (int p = 0; p < in->num_priors; p++)
        if (in->conf[p] > 0)
            pos[num_pos++] = p;
    int used = num_pos;
    if (cfg->mask_sampling == YL_MASK_SAMPLE_RANDOM && num_pos > cfg->masks_to_train) {
        /* The first masks_to_train of a random permutation (Fisher-Yates), as randperm. */
        used = cfg->masks_to_train > 0 ? cfg->masks_to_train : 0;
        for (int i = 0; i < used; i++) {
            int j = i + (int)(yl_splitmix64(rng) % (uint64_t)(num_pos - i));
            int keep = pos[i];
            pos[i] = pos[j];
            pos[j] = keep;
        }
    }
    const double ratio = used > 0 ? (double)num_pos / used : 0;
    double total = 0;
    for (int u = 0; u < used; u++) {
        const int p = pos[u], obj = in->idx[p];
        const float *c = in->coeff + (size_t)p * K, *box = in->gt->boxes + (size_t)obj * 4;
        for (size_t i = 0; i < hw; i++) {
            const float *pr = in->proto + i * K;
            float s = 0;
            for (int k = 0; k < K; k++)
                s += pr[k] * c[k];
            x[i] = s;
        }
        float x1, x2, y1, y2;
        yl_sanitize_padded(box[0], box[2], w, 1.0f, &x1, &x2);
        yl_sanitize_padded(box[1], box[3], h, 1.0f, &y1, &y2);
        double term = mask_term(cfg->mask_loss, x, in->gt_masks + (size_t)obj * hw, h, w, x1,
                                x2, y1, y2, g);
        /* BCE: the pixel sum over the box's area in prototype pixels (emulating RoI pooling),
         * times mask_alpha; Dice: times mask_alpha. */
        double f = cfg->mask_alpha * ratio;
        if (cfg->mask_loss != YL_MASK_LOSS_DICE)
            f /= ((double)(box[2] - box[0]) * w) * ((double)(box[3] - box[1]) * h);
        total += f * term;
        if (!grad_coeff)
            continue;
        float gs = (float)(scale * f);
        float *gc = grad_coeff + (size_t)p * K;
        for (size_t i = 0; i < hw; i++) {
            if (g[i] == 0)
                continue;
            float gi = gs * g[i];
            const float *pr = in->proto + i * K;
            float *gp = grad_proto + i * K;
            for (int k = 0; k < K; k++) {
                gc[k] += gi * pr[k];
                gp[k] += gi * c[k];
            }
        }
    }
    free(pos);
    free(x);
    *loss = total;
    return YOLACT_OK;
}
