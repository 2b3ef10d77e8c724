/* Training's gradient pass on the CPU (backend.h): forward every image of a batch, the
 * batch's MultiBoxLoss with its gradients, then the backward pass image by image, which sums
 * the parameter gradients over the batch as repeated backward() calls accumulate .grad. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cpu/conv.h"
#include "cpu/training_backward.h"
#include "cpu/training_forward.h"
#include "status.h"

struct yl_train_pass {
    const yolact_model *model;
    const float *segm_weight, *segm_bias;
    int threads;
    int capacity;                 /* images the arrays below hold */
    yl_training_forward **fw;
    float **segm;                 /* (classes - 1, P3 h, P3 w) per image */
    float **grad_block;           /* the loss's gradients per image, one block each */
    yl_loss_grads *grads;
    yl_loss_outputs *outputs;
    yl_training_backward *bw;
};

/* Floats of each of the loss's gradient buffers of one image: loc, conf, coeff, proto, segm. */
static void grad_sizes(const yolact_model *m, int p3, size_t n[5])
{
    const size_t P = (size_t)m->num_priors, K = (size_t)m->num_prototypes;
    n[0] = P * 4;
    n[1] = P * m->num_classes;
    n[2] = P * K;
    n[3] = (size_t)m->proto_h * m->proto_w * K;
    n[4] = (size_t)(m->num_classes - 1) * m->buffers[p3].height * m->buffers[p3].width;
}

yolact_status yl_train_pass_create(const yolact_model *m, const yl_tensor *segm_weight,
                                   const yl_tensor *segm_bias, int threads,
                                   yl_train_pass **out)
{
    *out = NULL;
    const int p3 = yl_training_p3(m);
    if (p3 < 0)
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "the network has no protonet to train");
    if (!segm_weight || !segm_bias || !segm_weight->data || !segm_bias->data)
        return yl_fail(YOLACT_ERR_MODEL, "the checkpoint has no semantic_seg_conv weight and "
                       "bias (train.py's checkpoints have them; inference exports may not)");
    const int64_t classes = m->num_classes - 1, want = classes * m->buffers[p3].channels;
    if (segm_weight->numel != want || segm_bias->numel != classes)
        return yl_fail(YOLACT_ERR_MODEL, "semantic_seg_conv has %lld weights and %lld biases, "
                       "the network needs %lld and %lld", (long long)segm_weight->numel,
                       (long long)segm_bias->numel, (long long)want, (long long)classes);
    yl_train_pass *p = calloc(1, sizeof *p);
    if (!p)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a training pass");
    p->model = m;
    p->segm_weight = segm_weight->data;
    p->segm_bias = segm_bias->data;
    p->threads = threads;
    yolact_status s = yl_cpu_training_backward_create(m, p->segm_weight, threads, &p->bw);
    if (s != YOLACT_OK) {
        free(p);
        return s;
    }
    *out = p;
    return YOLACT_OK;
}

/* Room for count images' forwards and gradients. */
static yolact_status reserve(yl_train_pass *p, int count)
{
    if (count <= p->capacity)
        return YOLACT_OK;
    void *a = realloc(p->fw, sizeof *p->fw * count), *b = realloc(p->segm, sizeof *p->segm * count);
    p->fw = a ? a : p->fw;
    p->segm = b ? b : p->segm;
    void *c = realloc(p->grad_block, sizeof *p->grad_block * count);
    p->grad_block = c ? c : p->grad_block;
    void *d = realloc(p->grads, sizeof *p->grads * count);
    p->grads = d ? d : p->grads;
    void *e = realloc(p->outputs, sizeof *p->outputs * count);
    p->outputs = e ? e : p->outputs;
    if (!a || !b || !c || !d || !e)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a batch of %d", count);
    const yolact_model *m = p->model;
    size_t n[5];
    grad_sizes(m, yl_training_p3(m), n);
    for (; p->capacity < count; p->capacity++) {
        const int i = p->capacity;
        p->segm[i] = malloc(n[4] * sizeof(float));
        p->grad_block[i] = malloc((n[0] + n[1] + n[2] + n[3] + n[4]) * sizeof(float));
        yolact_status s = p->segm[i] && p->grad_block[i]
                              ? yl_cpu_training_forward_create(m, p->threads, &p->fw[i])
                              : yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for image %d",
                                        i);
        if (s != YOLACT_OK) {
            free(p->segm[i]);
            free(p->grad_block[i]);
            return s;
        }
        float *x = p->grad_block[i];
        p->grads[i] = (yl_loss_grads){x, x + n[0], x + n[0] + n[1], x + n[0] + n[1] + n[2],
                                      x + n[0] + n[1] + n[2] + n[3]};
    }
    return YOLACT_OK;
}

/* Image i through the network and semantic_seg_conv (1x1 with bias on P3). */
static yolact_status forward(yl_train_pass *p, const yolact_image *image, int i)
{
    const yolact_model *m = p->model;
    yl_training_forward *f = p->fw[i];
    yl_preprocess_cpu(image, m->preset.input_size, m->preset.input_norm, yl_input_mean_bgr,
                      yl_input_std_bgr, f->buffers[0]);
    YL_TRY(yl_cpu_training_forward(f));
    const yl_buffer_desc *d = &m->buffers[f->p3];
    yl_conv_gemm_columns(YL_GEMM_AUTO, m->num_classes - 1, d->height * d->width, d->channels,
                         p->segm_weight, f->buffers[f->p3], p->segm_bias, NULL, YL_ACT_NONE,
                         p->segm[i], f->threads);
    p->outputs[i] = (yl_loss_outputs){f->loc, f->conf, f->coeff, f->proto, p->segm[i]};
    return YOLACT_OK;
}

yolact_status yl_train_pass_run(yl_train_pass *p, const yl_loss_config *cfg,
                                const yolact_image *images, const yl_gt *gt, int count,
                                int backward, yl_losses *losses)
{
    YL_TRY(reserve(p, count));
    for (int i = 0; i < count; i++)
        YL_TRY(forward(p, &images[i], i));
    const yolact_model *m = p->model;
    const yl_buffer_desc *d = &m->buffers[yl_training_p3(m)];
    const yl_loss_dims dims = {m->priors,        m->num_priors, m->num_classes,
                               m->num_prototypes, m->proto_h,   m->proto_w,
                               d->height,         d->width};
    YL_TRY(yl_multibox_loss(cfg, &dims, count, p->outputs, gt, losses,
                            backward ? p->grads : NULL));
    if (!backward)
        return YOLACT_OK;
    yl_cpu_training_backward_zero(p->bw);
    for (int i = 0; i < count; i++)
        YL_TRY(yl_cpu_training_backward(p->bw, p->fw[i], &p->grads[i]));
    return YOLACT_OK;
}

void yl_train_pass_weights_changed(yl_train_pass *p)
{
    /* Every image's forward holds the model's one cache entry. */
    if (p->capacity > 0)
        yl_cpu_prepared_refresh(p->model, p->fw[0]->prepared);
}

const yl_trainable *yl_train_pass_trainables(const yl_train_pass *p, int *count)
{
    *count = p->bw->num_trainables;
    return p->bw->trainables;
}

void yl_train_pass_grad(const yl_train_pass *p, int i, float *out)
{
    const yl_training_backward *bw = p->bw;
    if (i < bw->num_trainables) {
        yl_cpu_training_backward_grad(bw, &bw->trainables[i], out);
        return;
    }
    const yolact_model *m = p->model;
    const size_t classes = (size_t)m->num_classes - 1;
    if (i == bw->num_trainables)
        memcpy(out, bw->segm_weight_grad,
               classes * m->buffers[yl_training_p3(m)].channels * sizeof(float));
    else
        memcpy(out, bw->segm_bias_grad, classes * sizeof(float));
}

void yl_train_pass_destroy(yl_train_pass *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->capacity; i++) {
        yl_cpu_training_forward_destroy(p->fw[i]);
        free(p->segm[i]);
        free(p->grad_block[i]);
    }
    free(p->fw);
    free(p->segm);
    free(p->grad_block);
    free(p->grads);
    free(p->outputs);
    yl_cpu_training_backward_destroy(p->bw);
    free(p);
}
