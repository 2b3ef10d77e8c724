/* Training's gradient pass on the CPU (backend.h): forward every image of a batch, the
 * batch's MultiBoxLoss with its gradients, then the backward pass image by image, which sums
 * the parameter gradients over the batch as repeated backward() calls accumulate .grad.
 * With trainable BatchNorm (train_batchnorm.h) the images are joined at its layers: the op
 * list is walked layer by layer over the batch, forward and backward, each image with a
 * backward of its own, whose parameter gradients are summed at the end. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cpu/conv.h"
#include "cpu/dense_ops.h"
#include "cpu/train_batchnorm.h"
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
    yl_train_batchnorm *bn;       /* NULL: BatchNorm frozen, folded */
    yl_training_backward **bws;   /* with bn: per image (bws[0] is bw) */
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

static void destroy(yl_train_pass *p);

static yolact_status create(const yolact_model *m, const yl_tensor *segm_weight,
                            const yl_tensor *segm_bias, const yl_tensor_table *batchnorm,
                            int threads, int device_index, yolact_precision precision,
                            yl_train_pass **out)
{
    (void)device_index;
    *out = NULL;
    if (precision == YOLACT_PRECISION_FP16)
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "FP16 mixed-precision training runs on the CUDA "
                       "backend only: the CPU's training pass is FP32");
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
    yolact_status s = YOLACT_OK;
    if (batchnorm && (s = yl_train_batchnorm_create(m, batchnorm, &p->bn)) == YOLACT_OK)
        p->model = &p->bn->view;
    if (s == YOLACT_OK)
        s = yl_cpu_training_backward_create(p->model, p->segm_weight, threads, &p->bw);
    if (s != YOLACT_OK) {
        destroy(p);
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
    void *f = p->bn ? realloc(p->bws, sizeof *p->bws * count) : NULL;
    p->bws = f ? f : p->bws;
    if (!a || !b || !c || !d || !e || (p->bn && !f))
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a batch of %d", count);
    if (p->bn)
        YL_TRY(yl_train_batchnorm_reserve(p->bn, count));
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
        if (s == YOLACT_OK && p->bn) {
            if (i == 0)
                p->bws[0] = p->bw;
            else if ((s = yl_cpu_training_backward_create(m, p->segm_weight, p->threads,
                                                          &p->bws[i])) != YOLACT_OK)
                yl_cpu_training_forward_destroy(p->fw[i]);
        }
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

/* Image i into the network's input. */
static void preprocess(yl_train_pass *p, const yolact_image *image, int i)
{
    const yolact_model *m = p->model;
    yl_preprocess_cpu(image, m->preset.input_size, m->preset.input_norm, yl_input_mean_bgr,
                      yl_input_std_bgr, p->fw[i]->buffers[0]);
}

/* Image i's network output through semantic_seg_conv (1x1 with bias on P3), and the loss's
 * view of its outputs. */
static void finish_forward(yl_train_pass *p, int i)
{
    const yolact_model *m = p->model;
    yl_training_forward *f = p->fw[i];
    const yl_buffer_desc *d = &m->buffers[f->p3];
    yl_conv_gemm_columns(YL_GEMM_AUTO, m->num_classes - 1, d->height * d->width, d->channels,
                         p->segm_weight, f->buffers[f->p3], p->segm_bias, NULL, YL_ACT_NONE,
                         p->segm[i], f->threads);
    p->outputs[i] = (yl_loss_outputs){f->loc, f->conf, f->coeff, f->proto, p->segm[i]};
}

/* The batch through the network: image by image, or with trainable BatchNorm op by op over
 * the images, each BatchNorm layer joining them (its running averages moved when
 * update_running). */
static yolact_status forward(yl_train_pass *p, const yolact_image *images, int count,
                             int update_running)
{
    for (int b = 0; b < count; b++) {
        preprocess(p, &images[b], b);
        if (!p->bn) {
            YL_TRY(yl_cpu_training_forward(p->fw[b]));
            finish_forward(p, b);
        }
    }
    if (!p->bn)
        return YOLACT_OK;
    for (int i = 0; i < p->model->num_ops; i++) {
        for (int b = 0; b < count; b++)
            YL_TRY(yl_cpu_training_forward_op(p->fw[b], i));
        if (p->bn->layer_of_op[i] >= 0)
            yl_train_batchnorm_forward(p->bn, p->bn->layer_of_op[i], p->fw, count,
                                       update_running);
    }
    for (int b = 0; b < count; b++)
        finish_forward(p, b);
    return YOLACT_OK;
}

/* The backward of the batch with trainable BatchNorm: op by op over the images, each image's
 * parameter gradients in its own backward, summed into bw's at the end. */
static yolact_status backward_joined(yl_train_pass *p, int count)
{
    const yolact_model *m = p->model;
    yl_train_batchnorm_zero(p->bn);
    for (int b = 0; b < count; b++) {
        yl_cpu_training_backward_zero(p->bws[b]);
        yl_cpu_training_backward_begin(p->bws[b], p->fw[b], &p->grads[b]);
    }
    for (int i = m->num_ops - 1; i >= 0; i--) {
        if (p->bn->layer_of_op[i] >= 0)
            yl_train_batchnorm_backward(p->bn, p->bn->layer_of_op[i], p->fw, p->bws, count);
        for (int b = 0; b < count; b++)
            YL_TRY(yl_cpu_training_backward_op(p->bws[b], p->fw[b], &p->grads[b], i));
    }
    yl_training_backward *sum = p->bw;
    const yl_trainable *t = sum->trainables;
    const size_t segm = (size_t)(m->num_classes - 1) * m->buffers[yl_training_p3(m)].channels;
    for (int b = 1; b < count; b++) {
        const yl_training_backward *x = p->bws[b];
        for (int k = 0; k < sum->num_trainables; k++)
            yl_add_cpu(sum->param_grads + t[k].offset, x->param_grads + t[k].offset,
                       t[k].rows * t[k].per_row, sum->param_grads + t[k].offset);
        yl_add_cpu(sum->segm_weight_grad, x->segm_weight_grad, segm, sum->segm_weight_grad);
        yl_add_cpu(sum->segm_bias_grad, x->segm_bias_grad, (size_t)m->num_classes - 1,
                   sum->segm_bias_grad);
    }
    return YOLACT_OK;
}

static yolact_status run(yl_train_pass *p, const yl_loss_config *cfg,
                         const yolact_image *images, const yl_gt *gt, int count, int backward,
                         int update_running, yl_losses *losses)
{
    YL_TRY(reserve(p, count));
    YL_TRY(forward(p, images, count, update_running));
    const yolact_model *m = p->model;
    const yl_buffer_desc *d = &m->buffers[yl_training_p3(m)];
    const yl_loss_dims dims = {m->priors,        m->num_priors, m->num_classes,
                               m->num_prototypes, m->proto_h,   m->proto_w,
                               d->height,         d->width};
    YL_TRY(yl_multibox_loss(cfg, &dims, count, p->outputs, gt, losses,
                            backward ? p->grads : NULL));
    if (!backward)
        return YOLACT_OK;
    if (p->bn)
        return backward_joined(p, count);
    yl_cpu_training_backward_zero(p->bw);
    for (int i = 0; i < count; i++)
        YL_TRY(yl_cpu_training_backward(p->bw, p->fw[i], &p->grads[i]));
    return YOLACT_OK;
}

static yolact_status weights_changed(yl_train_pass *p)
{
    /* Every image's forward holds the model's one cache entry. */
    if (p->capacity > 0)
        yl_cpu_prepared_refresh(p->model, p->fw[0]->prepared);
    return YOLACT_OK;
}

static const yl_trainable *trainables(const yl_train_pass *p, int *count)
{
    *count = p->bw->num_trainables;
    return p->bw->trainables;
}

static int batchnorm_params(const yl_train_pass *p)
{
    return p->bn ? 2 * p->bn->count : 0;
}

static const char *batchnorm_param(const yl_train_pass *p, int j)
{
    return p->bn->layers[j / 2].d.param[j % 2];
}

static void grad(const yl_train_pass *p, int i, float *out)
{
    const yl_training_backward *bw = p->bw;
    if (i < bw->num_trainables) {
        yl_cpu_training_backward_grad(bw, &bw->trainables[i], out);
        return;
    }
    if (i >= bw->num_trainables + 2) {
        const yl_bn_layer *L = &p->bn->layers[(i - bw->num_trainables - 2) / 2];
        memcpy(out, (i - bw->num_trainables) % 2 ? L->grad_beta : L->grad_gamma,
               L->d.channels * sizeof(float));
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

static void destroy(yl_train_pass *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->capacity; i++) {
        yl_cpu_training_forward_destroy(p->fw[i]);
        free(p->segm[i]);
        free(p->grad_block[i]);
        if (p->bn && i > 0)
            yl_cpu_training_backward_destroy(p->bws[i]);
    }
    free(p->bws);
    free(p->fw);
    free(p->segm);
    free(p->grad_block);
    free(p->grads);
    free(p->outputs);
    yl_cpu_training_backward_destroy(p->bw);
    yl_train_batchnorm_destroy(p->bn); /* the view the others ran on */
    free(p);
}

/* No device optimizer (the trainer runs SGD on the host), no loss scaling (FP32 only). */
const yl_train_pass_ops yl_cpu_train_pass = {"cpu", create, run, weights_changed, trainables,
                                             batchnorm_params, batchnorm_param, grad, destroy,
                                             NULL, NULL, NULL, NULL, NULL, NULL};
