/* The official MultiBoxLoss over device outputs (train_loss.h): lib/train/multibox_loss.c's
 * orchestration with the loss kernels in place of its functions, image by image in the
 * CPU's order, the terms' per-image sums downloaded and added on the host as the CPU adds
 * them. */
#include "cuda/train_loss.h"

#include <stdlib.h>
#include <string.h>

#include "cuda/upload.h"
#include "train/gt_masks.h"
#include "yl_cuda_api.h"
#include "yl_loss_kernels.h"

enum { TERM_B, TERM_C, TERM_M, TERM_S, TERMS };

struct yl_cuda_loss {
    /* grown to the largest batch seen: the ground truth, the targets, the workspace */
    float *boxes;
    int *labels, *targets;
    uint8_t *masks;
    void *workspace;
    size_t boxes_cap, labels_cap, targets_cap, masks_cap, workspace_cap;
    uint8_t *host_masks;                /* the downsampled masks before their upload */
    size_t host_masks_cap;
    /* fixed: each image's four sums, the positives, each image's largest logit then the
     * batch's, the masks' sampling state */
    double *sums;
    int *count;
    float *shift;
    uint64_t *rng;
};

void yl_cuda_loss_destroy(yl_cuda_loss *l)
{
    if (!l)
        return;
    void *device[] = {l->boxes, l->labels, l->targets, l->masks, l->workspace, l->sums,
                      l->count, l->shift, l->rng};
    for (size_t i = 0; i < sizeof device / sizeof *device; i++)
        if (device[i])
            cudaFree(device[i]);
    free(l->host_masks);
    free(l);
}

yolact_status yl_cuda_loss_create(yl_cuda_loss **out)
{
    *out = NULL;
    yl_cuda_loss *l = calloc(1, sizeof *l);
    if (!l)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for the loss");
    yolact_status s = yl_cuda_alloc(&l->sums, TERMS * YOLACT_MAX_BATCH_SIZE * sizeof(double),
                                    "the loss's sums");
    if (s == YOLACT_OK)
        s = yl_cuda_alloc(&l->count, sizeof(int), "the loss's positives");
    if (s == YOLACT_OK)
        s = yl_cuda_alloc(&l->shift, (YOLACT_MAX_BATCH_SIZE + 1) * sizeof(float),
                          "the loss's shift");
    if (s == YOLACT_OK)
        s = yl_cuda_alloc(&l->rng, sizeof(uint64_t), "the masks' sampling state");
    if (s != YOLACT_OK) {
        yl_cuda_loss_destroy(l);
        return s;
    }
    *out = l;
    return YOLACT_OK;
}

/* *buf (device) of at least need bytes; a smaller one is freed once the stream is done. */
static yolact_status grow(void *buf, size_t *cap, size_t need, cudaStream_t stream,
                          const char *what)
{
    void **p = buf;
    if (need <= *cap && *p)
        return YOLACT_OK;
    YL_CHECK(cuda, cudaStreamSynchronize(stream));
    if (*p)
        cudaFree(*p);
    *p = NULL;
    *cap = 0;
    YL_TRY(yl_cuda_alloc(p, need, what));
    *cap = need;
    return YOLACT_OK;
}

static yolact_status upload(void *device, const void *host, size_t bytes, cudaStream_t stream,
                            const char *what)
{
    return bytes ? yl_cuda_upload(device, host, bytes, stream, what) : YOLACT_OK;
}

/* The batch's ground truth in device memory: d_gt[b] (its boxes and labels), each image's
 * masks at the prototypes' size then at the segmentation's (the CPU loss's downsampling) at
 * proto_masks[b], segm_masks[b]. */
static yolact_status upload_ground_truth(yl_cuda_loss *l, const yl_loss_dims *d, int batch,
                                         const yl_gt *gt, yl_gt *d_gt, uint8_t **proto_masks,
                                         uint8_t **segm_masks, cudaStream_t stream)
{
    const size_t phw = (size_t)d->proto_h * d->proto_w, shw = (size_t)d->segm_h * d->segm_w;
    size_t boxes = 0, labels = 0, masks = 0;
    for (int b = 0; b < batch; b++) {
        boxes += (size_t)(gt[b].num_objects + gt[b].num_crowds) * 4;
        labels += (size_t)gt[b].num_objects;
        masks += (size_t)gt[b].num_objects * (phw + shw);
    }
    YL_TRY(grow(&l->boxes, &l->boxes_cap, boxes * sizeof(float), stream, "the loss's boxes"));
    YL_TRY(grow(&l->labels, &l->labels_cap, labels * sizeof(int), stream, "the loss's labels"));
    YL_TRY(grow(&l->masks, &l->masks_cap, masks, stream, "the loss's masks"));
    if (masks > l->host_masks_cap) {
        free(l->host_masks);
        l->host_masks_cap = 0;
        if (!(l->host_masks = malloc(masks)))
            return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for %zu bytes of masks",
                           masks);
        l->host_masks_cap = masks;
    }
    size_t at_box = 0, at_label = 0, at_mask = 0;
    for (int b = 0; b < batch; b++) {
        const int n = gt[b].num_objects;
        const size_t nb = (size_t)(n + gt[b].num_crowds) * 4;
        d_gt[b] = gt[b];
        d_gt[b].boxes = l->boxes + at_box;
        d_gt[b].labels = l->labels + at_label;
        d_gt[b].masks = NULL;
        YL_TRY(upload(d_gt[b].boxes, gt[b].boxes, nb * sizeof(float), stream, "the boxes"));
        YL_TRY(upload(d_gt[b].labels, gt[b].labels, (size_t)n * sizeof(int), stream,
                      "the labels"));
        proto_masks[b] = l->masks + at_mask;
        YL_TRY(yl_gt_masks_downsample(gt[b].masks, n, gt[b].mask_h, gt[b].mask_w, d->proto_h,
                                      d->proto_w, l->host_masks + at_mask));
        at_mask += (size_t)n * phw;
        segm_masks[b] = l->masks + at_mask;
        if (shw)
            YL_TRY(yl_gt_masks_downsample(gt[b].masks, n, gt[b].mask_h, gt[b].mask_w,
                                          d->segm_h, d->segm_w, l->host_masks + at_mask));
        at_mask += (size_t)n * shw;
        at_box += nb;
        at_label += (size_t)n;
    }
    return upload(l->masks, l->host_masks, masks, stream, "the masks");
}

static yolact_status zero(void *device, size_t bytes, cudaStream_t stream)
{
    if (bytes)
        YL_CHECK(cuda, cudaMemsetAsync(device, 0, bytes, stream));
    return YOLACT_OK;
}

yolact_status yl_cuda_multibox_loss(yl_cuda_loss *l, const yl_loss_config *cfg,
                                    const yl_loss_dims *dims, int batch,
                                    const yl_loss_outputs *out, const yl_gt *gt,
                                    yl_losses *losses, const yl_loss_grads *grads,
                                    double grad_factor, cudaStream_t stream)
{
    const int P = dims->num_priors, C = dims->num_classes, K = dims->num_prototypes;
    const size_t phw = (size_t)dims->proto_h * dims->proto_w;
    const size_t shw = (size_t)dims->segm_h * dims->segm_w;
    *losses = (yl_losses){0};
    if (batch < 1 || batch > YOLACT_MAX_BATCH_SIZE)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "the loss of a batch of %d images", batch);
    yl_gt d_gt[YOLACT_MAX_BATCH_SIZE];
    uint8_t *proto_masks[YOLACT_MAX_BATCH_SIZE], *segm_masks[YOLACT_MAX_BATCH_SIZE];
    YL_TRY(upload_ground_truth(l, dims, batch, gt, d_gt, proto_masks, segm_masks, stream));
    int most = 0;
    for (int b = 0; b < batch; b++)
        most = gt[b].num_objects > most ? gt[b].num_objects : most;
    size_t ws = yl_match_cuda_workspace_bytes(P, most), w;
    ws = (w = yl_class_loss_cuda_workspace_bytes(P)) > ws ? w : ws;
    ws = (w = yl_mask_loss_cuda_workspace_bytes(P)) > ws ? w : ws;
    ws = YL_LOSS_WORKSPACE_BYTES > ws ? YL_LOSS_WORKSPACE_BYTES : ws;
    YL_TRY(grow(&l->workspace, &l->workspace_cap, ws, stream, "the loss's workspace"));
    YL_TRY(grow(&l->targets, &l->targets_cap, 2 * (size_t)batch * P * sizeof(int), stream,
                "the match's targets"));
    /* the batch's conf (batch, P) then idx (batch, P) */
    int *conf = l->targets, *idx = l->targets + (size_t)batch * P;
    for (int b = 0; b < batch; b++)
        YL_TRY(yl_match_cuda(cfg, dims->priors, P, &d_gt[b], conf + (size_t)b * P,
                             idx + (size_t)b * P, l->workspace, stream));
    YL_TRY(yl_loss_count_positives_cuda(conf, (size_t)batch * P, l->count, l->workspace,
                                        stream));
    int num_pos = 0;
    YL_CHECK(cuda, cudaMemcpyAsync(&num_pos, l->count, sizeof num_pos, cudaMemcpyDeviceToHost,
                                  stream));
    /* the shift: the batch's largest logit (a maximum: any order) */
    for (int b = 0; b < batch; b++)
        YL_TRY(yl_loss_max_cuda(out[b].conf, (size_t)P * C, l->shift + b, l->workspace,
                                stream));
    YL_TRY(yl_loss_max_cuda(l->shift, (size_t)batch, l->shift + batch, l->workspace, stream));
    YL_TRY(upload(l->rng, &cfg->seed, sizeof cfg->seed, stream, "the masks' sampling state"));
    for (int b = 0; b < batch && grads; b++) {
        const yl_loss_grads *g = &grads[b];
        YL_TRY(zero(g->loc, (size_t)P * 4 * sizeof(float), stream));
        YL_TRY(zero(g->conf, (size_t)P * C * sizeof(float), stream));
        YL_TRY(zero(g->coeff, (size_t)P * K * sizeof(float), stream));
        YL_TRY(zero(g->proto, phw * K * sizeof(float), stream));
        if (out[b].segm && g->segm)
            YL_TRY(zero(g->segm, (size_t)(C - 1) * shw * sizeof(float), stream));
    }
    YL_TRY(zero(l->sums, TERMS * (size_t)batch * sizeof(double), stream));
    YL_CHECK(cuda, cudaStreamSynchronize(stream));  /* num_pos */
    losses->num_positives = num_pos;
    /* the divisors, as multibox_loss.c */
    const double per_pos = num_pos > 0 ? 1.0 / num_pos : 0;
    const double per_image = 1.0 / batch;
    const double s_norm = cfg->semantic_segmentation_alpha * per_image /
                          ((double)dims->segm_h * dims->segm_w);
    for (int b = 0; b < batch; b++) {
        const yl_loss_grads *g = grads ? &grads[b] : NULL;
        int *cb = conf + (size_t)b * P, *ib = idx + (size_t)b * P;
        double *sums = l->sums + TERMS * b;
        YL_TRY(yl_box_loss_cuda(out[b].loc, dims->priors, P, cb, ib, &d_gt[b],
                                (float)(cfg->bbox_alpha * per_pos * grad_factor),
                                g ? g->loc : NULL, sums + TERM_B, l->workspace, stream));
        YL_TRY(yl_class_loss_cuda(out[b].conf, cb, P, C, cfg->negpos_ratio, l->shift + batch,
                                  (float)(cfg->conf_alpha * per_pos * grad_factor),
                                  g ? g->conf : NULL, sums + TERM_C, l->workspace, stream));
        d_gt[b].masks = NULL;
        const yl_mask_loss_image in = {out[b].proto, out[b].coeff, cb, ib, &d_gt[b],
                                       proto_masks[b], P, K, dims->proto_h, dims->proto_w};
        YL_TRY(yl_mask_loss_cuda(cfg, &in, l->rng, (float)(per_pos * grad_factor),
                                 g ? g->coeff : NULL, g ? g->proto : NULL, sums + TERM_M,
                                 l->workspace, stream));
        if (dims->segm_h > 0 && out[b].segm)
            YL_TRY(yl_segm_loss_cuda(out[b].segm, C - 1, dims->segm_h, dims->segm_w, &d_gt[b],
                                     segm_masks[b], (float)(s_norm * grad_factor),
                                     g ? g->segm : NULL, sums + TERM_S, l->workspace, stream));
    }
    double host[TERMS * YOLACT_MAX_BATCH_SIZE];
    YL_CHECK(cuda, cudaMemcpyAsync(host, l->sums, TERMS * (size_t)batch * sizeof(double),
                                  cudaMemcpyDeviceToHost, stream));
    YL_CHECK(cuda, cudaStreamSynchronize(stream));
    double B = 0, Cl = 0, M = 0, S = 0;
    for (int b = 0; b < batch; b++) {
        B += host[TERMS * b + TERM_B];
        Cl += host[TERMS * b + TERM_C];
        M += host[TERMS * b + TERM_M];
        S += host[TERMS * b + TERM_S];
    }
    losses->B = B * cfg->bbox_alpha * per_pos;
    losses->C = Cl * cfg->conf_alpha * per_pos;
    losses->M = M * per_pos;
    losses->S = S * s_norm;
    losses->total = losses->B + losses->C + losses->M + losses->S;
    return YOLACT_OK;
}
