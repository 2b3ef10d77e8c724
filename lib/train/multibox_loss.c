/* The official MultiBoxLoss, total and gradients (multibox_loss.h). */
#include "train/multibox_loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "train/box_loss.h"
#include "train/class_loss.h"
#include "train/gt_masks.h"
#include "train/mask_loss.h"
#include "train/match.h"
#include "train/segm_loss.h"

/* What the batch's matching produced: per image, conf and idx (num_priors each). */
typedef struct matched {
    int *conf, *idx;
} matched;

static void zero_grads(const yl_loss_dims *d, const yl_loss_outputs *out,
                       const yl_loss_grads *g)
{
    size_t P = (size_t)d->num_priors;
    memset(g->loc, 0, P * 4 * sizeof(float));
    memset(g->conf, 0, P * d->num_classes * sizeof(float));
    memset(g->coeff, 0, P * d->num_prototypes * sizeof(float));
    memset(g->proto, 0, (size_t)d->proto_h * d->proto_w * d->num_prototypes * sizeof(float));
    if (out->segm && g->segm)
        memset(g->segm, 0, (size_t)(d->num_classes - 1) * d->segm_h * d->segm_w * sizeof(float));
}

/* M and S of image b, their gradients at the given scales: both need the image's masks at a
 * smaller size. */
static yolact_status mask_terms(const yl_loss_config *cfg, const yl_loss_dims *d,
                                const yl_loss_outputs *out, const yl_gt *gt, const matched *mt,
                                uint64_t *rng, float m_scale, float s_scale,
                                const yl_loss_grads *g, double *m, double *s)
{
    const int n = gt->num_objects;
    size_t proto_hw = (size_t)d->proto_h * d->proto_w, segm_hw = (size_t)d->segm_h * d->segm_w;
    size_t most = proto_hw > segm_hw ? proto_hw : segm_hw;
    uint8_t *masks = malloc((size_t)n * most + 1);
    if (!masks)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for %d ground-truth masks", n);
    yolact_status st = yl_gt_masks_downsample(gt->masks, n, gt->mask_h, gt->mask_w, d->proto_h,
                                              d->proto_w, masks);
    if (st == YOLACT_OK) {
        yl_mask_loss_image in = {out->proto, out->coeff, mt->conf, mt->idx, gt, masks,
                                 d->num_priors, d->num_prototypes, d->proto_h, d->proto_w};
        st = yl_mask_loss(cfg, &in, rng, m_scale, g ? g->coeff : NULL, g ? g->proto : NULL, m);
    }
    if (st == YOLACT_OK && out->segm)
        st = yl_gt_masks_downsample(gt->masks, n, gt->mask_h, gt->mask_w, d->segm_h, d->segm_w,
                                    masks);
    if (st == YOLACT_OK && out->segm)
        *s = yl_segm_loss(out->segm, d->num_classes - 1, d->segm_h, d->segm_w, gt, masks,
                          s_scale, g ? g->segm : NULL);
    free(masks);
    return st;
}

yolact_status yl_multibox_loss(const yl_loss_config *cfg, const yl_loss_dims *dims, int batch,
                               const yl_loss_outputs *out, const yl_gt *gt, yl_losses *losses,
                               const yl_loss_grads *grads)
{
    const size_t P = (size_t)dims->num_priors, C = (size_t)dims->num_classes;
    *losses = (yl_losses){0};
    int *targets = malloc(2 * P * (size_t)batch * sizeof *targets + 1);
    matched *mt = malloc((size_t)batch * sizeof *mt + 1);
    if (!targets || !mt) {
        free(targets);
        free(mt);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory matching %d images", batch);
    }
    int num_pos = 0;
    float shift = -INFINITY;
    for (int b = 0; b < batch; b++) {
        mt[b] = (matched){targets + 2 * P * b, targets + 2 * P * b + P};
        yolact_status s = yl_match(cfg, dims->priors, dims->num_priors, &gt[b], mt[b].conf,
                                   mt[b].idx);
        if (s != YOLACT_OK) {
            free(targets);
            free(mt);
            return s;
        }
        for (size_t p = 0; p < P; p++)
            num_pos += mt[b].conf[p] > 0;
        for (size_t i = 0; i < P * C; i++)
            shift = out[b].conf[i] > shift ? out[b].conf[i] : shift;
        if (grads)
            zero_grads(dims, &out[b], &grads[b]);
    }
    losses->num_positives = num_pos;
    /* The divisors: positives (none: the terms they divide are 0 sums, kept at 0), batch. */
    const double per_pos = num_pos > 0 ? 1.0 / num_pos : 0;
    const double per_image = 1.0 / batch;
    const double s_norm = cfg->semantic_segmentation_alpha * per_image /
                          ((double)dims->segm_h * dims->segm_w);
    uint64_t rng = cfg->seed;
    yolact_status st = YOLACT_OK;
    double B = 0, Cl = 0, M = 0, S = 0;
    for (int b = 0; b < batch && st == YOLACT_OK; b++) {
        const yl_loss_grads *g = grads ? &grads[b] : NULL;
        B += yl_box_loss(out[b].loc, dims->priors, dims->num_priors, mt[b].conf, mt[b].idx,
                         &gt[b], (float)(cfg->bbox_alpha * per_pos), g ? g->loc : NULL);
        double c = 0, m = 0, s = 0;
        st = yl_class_loss(out[b].conf, mt[b].conf, dims->num_priors, dims->num_classes,
                           cfg->negpos_ratio, shift, (float)(cfg->conf_alpha * per_pos),
                           g ? g->conf : NULL, &c);
        Cl += c;
        const yl_loss_outputs ob = {out[b].loc, out[b].conf, out[b].coeff, out[b].proto,
                                    dims->segm_h > 0 ? out[b].segm : NULL};
        if (st == YOLACT_OK)
            st = mask_terms(cfg, dims, &ob, &gt[b], &mt[b], &rng, (float)per_pos,
                            (float)s_norm, g, &m, &s);
        M += m;
        S += s;
    }
    free(targets);
    free(mt);
    losses->B = B * cfg->bbox_alpha * per_pos;
    losses->C = Cl * cfg->conf_alpha * per_pos;
    losses->M = M * per_pos;
    losses->S = S * s_norm;
    losses->total = losses->B + losses->C + losses->M + losses->S;
    return st;
}
