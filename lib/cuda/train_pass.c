/* Training's gradient pass on the GPU (backend.h's yl_train_pass_ops, yl_cuda_train_pass):
 * the CPU pass's walk over the op list (lib/cpu/train_pass.c, training_forward.c,
 * training_backward.c) with the whole batch at once in device memory. Every network buffer
 * is kept, (batch, C, H, W) each, with a gradient buffer of its own; the convolutions, and
 * semantic_seg_conv on P3, run through cuDNN (lib/cuda/dnn.h, forward and backward), every
 * other op and its backward as our kernels (kernels/yl_kernels.h, yl_grad_kernels.h). The
 * images are uploaded and preprocessed on the device as inference's are.
 *
 * The loss runs on the device too (cuda/train_loss.h: MultiBoxLoss through the loss kernels
 * on the outputs where the forward left them, the gradients written where the backward
 * reads them); only the ground truth goes up, the positives' count and the terms' sums
 * come back. Deformable convolutions are refused.
 *
 * BatchNorm frozen is folded into the model's parameters; trainable, each layer
 * (yl_model_batchnorms) runs after its convolution as the CPU's does (lib/cpu/
 * train_batchnorm.c): the convolution alone into the layer's input, the batch statistics and
 * the normalisation (kernels/grad_batchnorm.cu), then the residual and the activation the
 * convolution fuses in inference; its weight, bias and running statistics are the state
 * dict's (host memory), uploaded at each run (the weight and bias the device optimizer's
 * once it holds them), the running statistics downloaded after it.
 *
 * The parameter gradients are summed over the batch by cuDNN's reductions (the CPU sums
 * image by image), so they agree with the CPU's to rounding, not bit for bit.
 *
 * The optimizer runs here too once the trainer uploads its state (state_upload): the
 * parameters it optimises (the state dict's layout: the trainables unfolded, semantic_seg_
 * conv's, trainable BatchNorm's weight and bias), their momentum buffers and step's
 * gradients live in device memory; after a backward the gradients are unfolded into the
 * step's there (kernels/param_fold.cu), yl_sgd_step_cuda updates each tensor, and the
 * parameters the ops read are made again from them (frozen BatchNorm folded as
 * yl_model_refill folds it, by the same doubles; else copied), so nothing goes down after
 * a backward nor up before a run but the images, the ground truth and the running
 * statistics. The trainer downloads the state only when it is read (state_download). Each
 * of these is the host path's float operations, so both give the same bits in the
 * emulation.
 *
 * FP16 (mixed precision, as PyTorch's autocast with GradScaler): the convolutions, forward
 * and both gradients, run on half copies of their operands with float accumulation (dnn.h's
 * half tensors: cast kernels in the convolutions' workspace, kernels/mixed_precision.cu);
 * the activations, gradients and parameters stay FP32 buffers, and everything else (trainable
 * BatchNorm, the loss, the heads' ops, SGD on the FP32 master weights) is the FP32 pass's.
 * The convolutions read a half copy of the ops' parameters (half_params, and semantic_seg_
 * conv's weight in half_segm), made again whenever those change: uploaded, or after an SGD
 * step.
 * The trainer scales the loss (scale_loss: the loss kernels' gradient factors times the
 * scale), gathers the step's gradients divided by it, and asks grads_finite (one reduction
 * over them) whether to step. */
#include <stdlib.h>
#include <string.h>

#include "cuda/session.h" /* image_block_bytes */
#include "cuda/train_loss.h"
#include "cuda/upload.h"
#include "yl_grad_kernels.h"
#include "yl_kernels.h"

/* The loss's five per-image arrays, in this order in each block below. */
enum { LOC, CONF, COEFF, PROTO, SEGM, NUM_OUTPUTS };

/* The convolutions' plans for one batch size. A trainer alternates at most two sizes (a
 * ragged last sub-batch, an evaluation's remainder), and planning (cuDNN's heuristics, each
 * forward's trial of its candidates) is what a step must not repeat: PLAN_SETS are kept,
 * the one used longest ago replaced. */
enum { PLAN_SETS = 2 };
typedef struct plan_set {
    int batch;                          /* 0: empty */
    /* per op (convolutions only), then semantic_seg_conv at index num_ops */
    yl_dnn_conv **forward;
    yl_dnn_conv_grad **backward;
    unsigned char *tried;               /* forward plan k has run its trial */
    size_t workspace;                   /* the most its plans want */
    unsigned long used;                 /* when it was last chosen */
} plan_set;

struct yl_train_pass {
    const yolact_model *model;          /* borrowed */
    const float *segm_weight_host, *segm_bias_host; /* borrowed: the trainer's tensors */
    int device, p3;
    int half;                           /* FP16: the convolutions on half tensors */
    double loss_grad_factor;            /* the loss's gradients times this (scale_loss) */
    int *nonfinite;                     /* device: grads_finite's flag (FP16) */
    uint16_t *half_params, *half_segm;  /* FP16: half copies of params, semantic_seg_conv's
                                           weight (IEEE binary16), which the convolutions read */
    int batch;                          /* the run's batch, that of plans; 0: none yet */
    int capacity;                       /* the batch the buffers below hold at most */
    cudaStream_t stream;
    yl_dnn *dnn;
    plan_set sets[PLAN_SETS], *plans;   /* plans: the run's, one of sets */
    unsigned long plans_chosen;         /* the sets' clock */
    void *dnn_workspace, *resize_workspace;
    size_t dnn_workspace_bytes;
    float *params, *param_grads;        /* m->params (folded) and d loss / d them */
    size_t num_params;
    float *segm_params, *segm_grads;    /* semantic_seg_conv: weight then bias */
    size_t segm_weights;                /* its weight's floats; the bias follows */
    float **act, **grad;                /* per buffer, the batch's */
    float *scratch;                     /* the largest buffer's batch: backwards that write */
    size_t per_image[NUM_OUTPUTS];      /* floats of each loss array, one image */
    float *outputs, *output_grads;      /* device: the batch's loss arrays, array by array */
    float *priors;                      /* device: m->priors */
    yl_cuda_loss *loss;
    unsigned char *image;               /* device: one image's 8-bit upload */
    size_t image_bytes;
    yl_trainable *trainables;
    int num_trainables;
    float *host_param_grads, *host_segm_grads; /* the last backward's, downloaded */
    /* trainable BatchNorm (num_bn 0: frozen): the layers, each op's layer or -1, each
     * layer's device arrays (BN_ARRAYS of its channels, at bn_at[l] in bn_block), its input
     * (the convolution's output for the batch), and the weight and bias gradients
     * downloaded, layer after layer (weight, then bias) */
    yl_bn_desc *bn;
    int num_bn;
    int *layer_of_op;
    size_t *bn_at;
    float *bn_block, **bn_input, *host_bn_grads;
    /* The device optimizer (after state_upload; opt_at NULL: none yet). Parameter i (grad's
     * i) in the state dict's layout at opt_at[i] of opt_params, its step's gradient and its
     * momentum buffer at the same place of opt_grads and opt_momentum; first[i]: no buffer
     * yet. A trainable with BatchNorm scales (bn_scale) has them at scale_at[i] of
     * unfold_scales (bn_scale's floats, which unfold its gradient) and, where frozen
     * BatchNorm is folded into it (folded[i]), of fold_scales (the doubles the fold
     * multiplies by). */
    int num_opt;
    size_t *opt_at, *scale_at;
    int *first, *folded;
    float *opt_params, *opt_grads, *opt_momentum, *unfold_scales;
    double *fold_scales;
};

/* Each trainable BatchNorm layer's device arrays, in this order. */
enum { BN_GAMMA, BN_BETA, BN_RUNNING_MEAN, BN_RUNNING_VAR, BN_SAVE_MEAN, BN_SAVE_INVSTD,
       BN_GRAD_GAMMA, BN_GRAD_BETA, BN_ARRAYS };

static size_t buffer_floats(const yolact_model *m, int b)
{
    return yl_buffer_floats(&m->buffers[b]);
}

/* The 1x1 semantic_seg_conv on P3. */
static yl_conv_desc segm_conv(const yolact_model *m, int p3)
{
    return (yl_conv_desc){m->buffers[p3].channels, m->num_classes - 1, 1, 1, 1, 0, 1};
}

/* The runtime's current device is per thread and the caller's: each entry point makes the
 * pass's current for its length and gives the caller's back. */
static yolact_status use_device(const yl_train_pass *p, int *caller)
{
    YL_CHECK(cuda, cudaGetDevice(caller));
    YL_CHECK(cuda, cudaSetDevice(p->device));
    return YOLACT_OK;
}

static void free_device(void *ptr)
{
    if (ptr)
        cudaFree(ptr);
}

static void release_plans(const yolact_model *m, plan_set *set)
{
    for (int k = 0; set->forward && k <= m->num_ops; k++) {
        yl_dnn_conv_free(set->forward[k]);
        yl_dnn_conv_grad_free(set->backward[k]);
        set->forward[k] = NULL;
        set->backward[k] = NULL;
        set->tried[k] = 0;
    }
    set->batch = 0;
}

/* What holds a batch: the buffers, the loss arrays and the convolutions' workspace. */
static void release_buffers(yl_train_pass *p)
{
    const yolact_model *m = p->model;
    for (int b = 0; p->act && b < m->num_buffers; b++) {
        free_device(p->act[b]);
        free_device(p->grad[b]);
        p->act[b] = p->grad[b] = NULL;
    }
    for (int l = 0; p->bn_input && l < p->num_bn; l++) {
        free_device(p->bn_input[l]);
        p->bn_input[l] = NULL;
    }
    free_device(p->dnn_workspace);
    free_device(p->scratch);
    free_device(p->outputs);
    free_device(p->output_grads);
    p->dnn_workspace = NULL;
    p->dnn_workspace_bytes = 0;
    p->scratch = p->outputs = p->output_grads = NULL;
    p->capacity = 0;
}

static void destroy(yl_train_pass *p)
{
    if (!p)
        return;
    int caller; /* the pass's device for the frees, quietly: a failure may be why */
    if (cudaGetDevice(&caller) != cudaSuccess)
        caller = -1;
    cudaSetDevice(p->device);
    for (int k = 0; p->model && k < PLAN_SETS; k++)
        release_plans(p->model, &p->sets[k]);
    if (p->model)
        release_buffers(p);
    free_device(p->resize_workspace);
    free_device(p->params);
    free_device(p->param_grads);
    free_device(p->segm_params);
    free_device(p->segm_grads);
    free_device(p->image);
    free_device(p->bn_block);
    free_device(p->priors);
    free_device(p->opt_params);
    free_device(p->opt_grads);
    free_device(p->opt_momentum);
    free_device(p->unfold_scales);
    free_device(p->fold_scales);
    free_device(p->nonfinite);
    free_device(p->half_params);
    free_device(p->half_segm);
    yl_cuda_loss_destroy(p->loss);
    yl_dnn_destroy(p->dnn);
    if (p->stream)
        cudaStreamDestroy(p->stream);
    for (int k = 0; k < PLAN_SETS; k++) {
        free(p->sets[k].forward);
        free(p->sets[k].backward);
        free(p->sets[k].tried);
    }
    free(p->act);
    free(p->grad);
    free(p->trainables);
    free(p->host_param_grads);
    free(p->host_segm_grads);
    free(p->bn);
    free(p->layer_of_op);
    free(p->bn_at);
    free(p->bn_input);
    free(p->host_bn_grads);
    free(p->opt_at);
    free(p->scale_at);
    free(p->first);
    free(p->folded);
    if (caller >= 0)
        cudaSetDevice(caller);
    free(p);
}

/* The convolutions' plans for batch images into set. */
static yolact_status plan_convolutions(yl_train_pass *p, plan_set *set, int batch)
{
    const yolact_model *m = p->model;
    set->workspace = 0;
    for (int i = 0; i <= m->num_ops; i++) {
        const int segm = i == m->num_ops;
        const yl_op *op = segm ? NULL : &m->ops[i];
        if (!segm && op->kind != YL_OP_CONV)
            continue;
        const yl_conv_desc d = segm ? segm_conv(m, p->p3) : op->conv;
        const yl_buffer_desc *in = &m->buffers[segm ? p->p3 : op->in];
        /* before a trainable BatchNorm the convolution runs alone */
        const int alone = segm || p->layer_of_op[i] >= 0;
        size_t bytes;
        YL_TRY(yl_dnn_conv_plan(p->dnn, &d, batch, in->height, in->width,
                                alone ? YL_ACT_NONE : op->act, !alone && op->residual >= 0,
                                p->half ? YOLACT_PRECISION_FP16 : YOLACT_PRECISION_FP32,
                                p->half, &set->forward[i], &bytes));
        set->workspace = bytes > set->workspace ? bytes : set->workspace;
        YL_TRY(yl_dnn_conv_grad_plan(p->dnn, &d, batch, in->height, in->width,
                                     segm || op->in != 0, p->half, &set->backward[i], &bytes));
        set->workspace = bytes > set->workspace ? bytes : set->workspace;
    }
    set->batch = batch;
    return YOLACT_OK;
}

/* p->plans: the set made for batch images, else a new one in the place of an empty set or
 * the one used longest ago. */
static yolact_status choose_plans(yl_train_pass *p, int batch)
{
    plan_set *set = &p->sets[0];
    for (int k = 0; k < PLAN_SETS; k++) {
        plan_set *s = &p->sets[k];
        if (s->batch == batch) {
            set = s;
            break;
        }
        if (s->batch == 0 || (set->batch != 0 && s->used < set->used))
            set = s;
    }
    if (set->batch != batch) {
        release_plans(p->model, set);
        yolact_status s = plan_convolutions(p, set, batch);
        if (s != YOLACT_OK) {
            release_plans(p->model, set);
            return s;
        }
    }
    set->used = ++p->plans_chosen;
    p->plans = set;
    return YOLACT_OK;
}

/* The buffers for at least batch images (kept when they hold that many already). */
static yolact_status reserve_buffers(yl_train_pass *p, int batch)
{
    if (batch <= p->capacity)
        return YOLACT_OK;
    release_buffers(p);
    const yolact_model *m = p->model;
    size_t largest = 0;
    for (int b = 0; b < m->num_buffers; b++) {
        const size_t n = buffer_floats(m, b) * batch * sizeof(float);
        largest = n > largest ? n : largest;
        YL_TRY(yl_cuda_alloc(&p->act[b], n, "a training activation"));
        YL_TRY(yl_cuda_alloc(&p->grad[b], n, "a training gradient"));
        /* cuDNN's fused call may read its output scaled by 0 (dnn.h): numbers, not NaN */
        YL_CHECK(cuda, cudaMemsetAsync(p->act[b], 0, n, p->stream));
    }
    YL_TRY(yl_cuda_alloc(&p->scratch, largest, "the training backward's scratch"));
    for (int l = 0; l < p->num_bn; l++) {
        const size_t n = (size_t)p->bn[l].channels * p->bn[l].plane * batch * sizeof(float);
        YL_TRY(yl_cuda_alloc(&p->bn_input[l], n, "a BatchNorm's input"));
        YL_CHECK(cuda, cudaMemsetAsync(p->bn_input[l], 0, n, p->stream));
    }
    size_t all = 0;
    for (int k = 0; k < NUM_OUTPUTS; k++)
        all += p->per_image[k] * batch;
    YL_TRY(yl_cuda_alloc(&p->outputs, all * sizeof(float), "the loss's inputs"));
    YL_TRY(yl_cuda_alloc(&p->output_grads, all * sizeof(float), "the loss's gradients"));
    YL_CHECK(cuda, cudaMemsetAsync(p->outputs, 0, all * sizeof(float), p->stream));
    p->capacity = batch;
    return YOLACT_OK;
}

/* The convolutions' workspace, grown to what the run's plans want. */
static yolact_status reserve_workspace(yl_train_pass *p)
{
    if (p->plans->workspace <= p->dnn_workspace_bytes && p->dnn_workspace)
        return YOLACT_OK;
    free_device(p->dnn_workspace);
    p->dnn_workspace = NULL;
    p->dnn_workspace_bytes = 0;
    YL_TRY(yl_cuda_alloc(&p->dnn_workspace, p->plans->workspace,
                         "the convolutions' workspace"));
    p->dnn_workspace_bytes = p->plans->workspace;
    return YOLACT_OK;
}

/* Plans, buffers and workspace for a run of batch images; a smaller batch uses the front of
 * the buffers (each is batch-major). */
static yolact_status reserve(yl_train_pass *p, int batch)
{
    p->batch = 0;
    YL_TRY(choose_plans(p, batch));
    YL_TRY(reserve_buffers(p, batch));
    YL_TRY(reserve_workspace(p));
    p->batch = batch;
    return YOLACT_OK;
}

/* Array k of the batch's loss arrays in block (outputs or gradients, either side). */
static float *array_of(const yl_train_pass *p, float *block, int k)
{
    for (int j = 0; j < k; j++)
        block += p->per_image[j] * p->batch;
    return block;
}

/* FP16: the half copy of n floats the convolutions read as weights, made again whenever
 * they change. */
static yolact_status refresh_half(const yl_train_pass *p, const float *from, size_t n,
                                  uint16_t *to)
{
    return p->half ? yl_float_to_half_cuda(from, n, to, p->stream) : YOLACT_OK;
}

static yolact_status upload_params(yl_train_pass *p)
{
    YL_TRY(yl_cuda_upload(p->params, p->model->params, p->num_params * sizeof(float), p->stream,
                          "the network's parameters"));
    return refresh_half(p, p->params, p->num_params, p->half_params);
}

static yolact_status create_on_device(yl_train_pass *p)
{
    const yolact_model *m = p->model;
    YL_CHECK(cuda, cudaStreamCreateWithFlags(&p->stream, cudaStreamNonBlocking));
    YL_TRY(yl_dnn_create(p->stream, &p->dnn));
    size_t resize = 1;
    for (int i = 0; i < m->num_ops; i++)
        if (m->ops[i].kind == YL_OP_RESIZE) {
            const yl_buffer_desc *o = &m->buffers[m->ops[i].out];
            size_t w = yl_resize_cuda_workspace_bytes(o->height, o->width);
            resize = w > resize ? w : resize;
        }
    YL_TRY(yl_cuda_alloc(&p->resize_workspace, resize, "the resize's tables"));
    YL_TRY(yl_cuda_alloc(&p->params, p->num_params * sizeof(float), "the parameters"));
    YL_TRY(yl_cuda_alloc(&p->param_grads, p->num_params * sizeof(float), "their gradients"));
    const size_t segm = p->segm_weights + (size_t)m->num_classes - 1;
    YL_TRY(yl_cuda_alloc(&p->segm_params, segm * sizeof(float), "semantic_seg_conv"));
    YL_TRY(yl_cuda_alloc(&p->segm_grads, segm * sizeof(float), "its gradients"));
    if (p->half) {
        YL_TRY(yl_cuda_alloc(&p->half_params, p->num_params * sizeof(uint16_t),
                             "the parameters' half copy"));
        YL_TRY(yl_cuda_alloc(&p->half_segm, p->segm_weights * sizeof(uint16_t),
                             "semantic_seg_conv's half weight"));
    }
    if (p->num_bn)
        YL_TRY(yl_cuda_alloc(&p->bn_block, p->bn_at[p->num_bn] * sizeof(float),
                             "trainable BatchNorm"));
    YL_TRY(yl_cuda_alloc(&p->priors, (size_t)m->num_priors * 4 * sizeof(float), "the priors"));
    YL_TRY(yl_cuda_upload(p->priors, m->priors, (size_t)m->num_priors * 4 * sizeof(float),
                          p->stream, "the priors"));
    YL_TRY(yl_cuda_loss_create(&p->loss));
    return upload_params(p);
}

/* Trainable BatchNorm's layers from the state dict (batchnorm), with their device arrays'
 * offsets and each op's layer. */
static yolact_status find_batchnorms(yl_train_pass *p, const yl_tensor_table *batchnorm)
{
    const yolact_model *m = p->model;
    p->layer_of_op = malloc(sizeof *p->layer_of_op * (size_t)m->num_ops);
    if (!p->layer_of_op)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a training pass");
    for (int i = 0; i < m->num_ops; i++)
        p->layer_of_op[i] = -1;
    if (!batchnorm)
        return YOLACT_OK;
    YL_TRY(yl_model_batchnorms(m, batchnorm, &p->bn, &p->num_bn));
    p->bn_at = calloc((size_t)p->num_bn + 1, sizeof *p->bn_at);
    p->bn_input = calloc((size_t)p->num_bn + 1, sizeof *p->bn_input);
    if (!p->bn_at || !p->bn_input)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a training pass");
    for (int l = 0; l < p->num_bn; l++) {
        p->layer_of_op[p->bn[l].op] = l;
        p->bn_at[l + 1] = p->bn_at[l] + (size_t)BN_ARRAYS * p->bn[l].channels;
    }
    p->host_bn_grads = malloc((p->bn_at[p->num_bn] + 1) * sizeof(float));
    if (!p->host_bn_grads)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a training pass");
    return YOLACT_OK;
}

/* Array k (BN_GAMMA, ...) of trainable BatchNorm layer l, in device memory. */
static float *bn_array(const yl_train_pass *p, int l, int k)
{
    return p->bn_block + p->bn_at[l] + (size_t)k * p->bn[l].channels;
}

static yolact_status create(const yolact_model *m, const yl_tensor *segm_weight,
                            const yl_tensor *segm_bias, const yl_tensor_table *batchnorm,
                            int threads, int device_index, yolact_precision precision,
                            yl_train_pass **out)
{
    (void)threads;
    *out = NULL;
    for (int i = 0; i < m->num_ops; i++)
        if (m->ops[i].kind == YL_OP_DCN)
            return yl_fail(YOLACT_ERR_UNSUPPORTED, "training '%s': the deformable "
                           "convolution's backward pass is not implemented", m->ops[i].name);
    int p3 = -1;
    for (int i = 0; i < m->num_ops && p3 < 0; i++)
        if (m->ops[i].part == YL_PART_PROTONET)
            p3 = m->ops[i].in;
    if (p3 < 0)
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "the network has no protonet to train");
    const int64_t classes = m->num_classes - 1, want = classes * m->buffers[p3].channels;
    if (!segm_weight || !segm_bias || !segm_weight->data || !segm_bias->data ||
        segm_weight->numel != want || segm_bias->numel != classes)
        return yl_fail(YOLACT_ERR_MODEL, "semantic_seg_conv's weight and bias are missing or "
                       "not of (%lld, %d) and (%lld)", (long long)classes,
                       m->buffers[p3].channels, (long long)classes);
    yl_train_pass *p = calloc(1, sizeof *p);
    if (!p)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a training pass");
    p->model = m;
    p->device = device_index;
    p->p3 = p3;
    p->half = precision == YOLACT_PRECISION_FP16;
    p->loss_grad_factor = 1.0;
    p->segm_weight_host = segm_weight->data;
    p->segm_bias_host = segm_bias->data;
    p->segm_weights = (size_t)want;
    const size_t P = (size_t)m->num_priors, K = (size_t)m->num_prototypes;
    const size_t sizes[NUM_OUTPUTS] = {P * 4, P * m->num_classes, P * K,
                                       (size_t)m->proto_h * m->proto_w * K,
                                       (size_t)classes * m->buffers[p3].height *
                                           m->buffers[p3].width};
    memcpy(p->per_image, sizes, sizeof sizes);
    /* the block of m->params the trainables (every convolution's weight and bias) lie in */
    yolact_status s = yl_model_trainables(m, &p->trainables, &p->num_trainables,
                                          &p->num_params);
    int planned = 1; /* the plan sets' arrays allocated */
    for (int k = 0; k < PLAN_SETS; k++) {
        plan_set *set = &p->sets[k];
        set->forward = calloc((size_t)m->num_ops + 1, sizeof *set->forward);
        set->backward = calloc((size_t)m->num_ops + 1, sizeof *set->backward);
        set->tried = calloc((size_t)m->num_ops + 1, 1);
        planned &= set->forward && set->backward && set->tried;
    }
    p->act = calloc((size_t)m->num_buffers, sizeof *p->act);
    p->grad = calloc((size_t)m->num_buffers, sizeof *p->grad);
    p->host_param_grads = calloc(p->num_params + 1, sizeof(float));
    p->host_segm_grads = calloc(p->segm_weights + (size_t)classes, sizeof(float));
    if (s == YOLACT_OK && (!planned || !p->act || !p->grad ||
                           !p->host_param_grads || !p->host_segm_grads))
        s = yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a training pass");
    if (s == YOLACT_OK)
        s = find_batchnorms(p, batchnorm);
    int caller = -1;
    if (s == YOLACT_OK && (s = use_device(p, &caller)) == YOLACT_OK) {
        s = create_on_device(p);
        cudaSetDevice(caller);
    }
    if (s != YOLACT_OK) {
        destroy(p);
        return s;
    }
    *out = p;
    return YOLACT_OK;
}

/* Image b uploaded and preprocessed into slot b of the network's input. */
static yolact_status load_image(yl_train_pass *p, const yolact_image *image, int b)
{
    const yolact_model *m = p->model;
    const size_t bytes = image_block_bytes(image);
    if (bytes > p->image_bytes) {
        YL_CHECK(cuda, cudaStreamSynchronize(p->stream)); /* the last image's is read */
        free_device(p->image);
        p->image = NULL;
        p->image_bytes = 0;
        YL_TRY(yl_cuda_alloc(&p->image, bytes, "the images' upload"));
        p->image_bytes = bytes;
    }
    YL_TRY(yl_cuda_upload(p->image, image->data, bytes, p->stream, "an image"));
    yolact_image on_device = *image;
    on_device.data = p->image;
    const int size = m->preset.input_size;
    return yl_preprocess_cuda(&on_device, size, m->preset.input_norm, yl_input_mean_bgr,
                              yl_input_std_bgr, p->act[0] + (size_t)b * 3 * size * size,
                              p->stream);
}

/* The device copy of a parameter, from its place in the model's (host) parameter block. */
static const float *param(const yl_train_pass *p, const float *host)
{
    return p->params + (host - p->model->params);
}

/* What a convolution reads as the weights at host (in the model's parameter block): their
 * device copy, or in FP16 its half copy; and semantic_seg_conv's. */
static const void *conv_weight(const yl_train_pass *p, const float *host)
{
    const size_t at = (size_t)(host - p->model->params);
    return p->half ? (const void *)(p->half_params + at) : (const void *)(p->params + at);
}

static const void *segm_weight(const yl_train_pass *p)
{
    return p->half ? (const void *)p->half_segm : (const void *)p->segm_params;
}

/* Forward convolution k (an op, or semantic_seg_conv at num_ops): its plan's trial the
 * first time, which settles the algorithm. */
static yolact_status convolve(yl_train_pass *p, int k, const float *in, const void *weight,
                              const float *bias, const float *residual, float *out)
{
    plan_set *set = p->plans;
    if (set->tried[k])
        return yl_dnn_conv_run(p->dnn, set->forward[k], in, weight, bias, residual, out,
                               p->dnn_workspace);
    YL_TRY(yl_dnn_conv_trial(p->dnn, set->forward[k], in, weight, bias, residual, out,
                             p->dnn_workspace));
    set->tried[k] = 1;
    return YOLACT_OK;
}

/* Trainable BatchNorm layer l on its convolution's output (its input), into dst: the
 * batch's statistics, the running averages moved with update_running, then the residual
 * and the activation. */
static yolact_status batchnorm_forward(yl_train_pass *p, int l, float *dst, int update_running)
{
    const yl_bn_desc *d = &p->bn[l];
    YL_TRY(yl_batchnorm_train_forward_cuda(
        p->bn_input[l], p->batch, d->channels, d->plane, bn_array(p, l, BN_GAMMA),
        bn_array(p, l, BN_BETA), YL_BN_EPS, YL_BN_MOMENTUM,
        update_running ? bn_array(p, l, BN_RUNNING_MEAN) : NULL,
        update_running ? bn_array(p, l, BN_RUNNING_VAR) : NULL, dst,
        bn_array(p, l, BN_SAVE_MEAN), bn_array(p, l, BN_SAVE_INVSTD), p->stream));
    return yl_add_activate_cuda(dst, d->residual >= 0 ? p->act[d->residual] : NULL,
                                (size_t)d->channels * d->plane * p->batch, d->act, dst,
                                p->stream);
}

static yolact_status forward_op(yl_train_pass *p, int i, int update_running)
{
    const yolact_model *m = p->model;
    const yl_op *op = &m->ops[i];
    const yl_buffer_desc *in = &m->buffers[op->in];
    const yl_buffer_desc *out = op->out >= 0 ? &m->buffers[op->out] : NULL;
    const int B = p->batch, C = m->num_classes, K = m->num_prototypes;
    float *src = p->act[op->in], *dst = op->out >= 0 ? p->act[op->out] : NULL;
    switch (op->kind) {
    case YL_OP_CONV: {
        const int l = p->layer_of_op[i];
        if (l < 0)
            return convolve(p, i, src, conv_weight(p, op->weight), param(p, op->bias),
                            op->residual >= 0 ? p->act[op->residual] : NULL, dst);
        YL_TRY(convolve(p, i, src, conv_weight(p, op->weight), param(p, op->bias), NULL,
                        p->bn_input[l]));
        return batchnorm_forward(p, l, dst, update_running);
    }
    case YL_OP_DCN:
        break; /* refused at creation */
    case YL_OP_MAXPOOL:
        return yl_maxpool2d_cuda(src, in->channels * B, in->height, in->width, op->pool_kernel,
                                 op->pool_stride, op->pool_pad, dst, out->height, out->width,
                                 p->stream);
    case YL_OP_RESIZE:
        return yl_resize_bilinear_cuda(src, in->channels * B, in->height, in->width, dst,
                                       out->height, out->width, p->resize_workspace, p->stream);
    case YL_OP_ADD:
        return yl_add_cuda(src, p->act[op->residual], buffer_floats(m, op->out) * B, dst,
                           p->stream);
    case YL_OP_HEAD_OUTPUT: {
        const yl_level *lv = &m->levels[op->level];
        const size_t first = (size_t)lv->first_prior;
        return yl_head_output_logits_cuda(
            src, m->anchors_per_cell, C, K, lv->height, lv->width, B, (size_t)m->num_priors,
            array_of(p, p->outputs, LOC) + first * 4, array_of(p, p->outputs, CONF) + first * C,
            array_of(p, p->outputs, COEFF) + first * K, p->stream);
    }
    case YL_OP_PROTO_OUTPUT:
        return yl_proto_output_cuda(src, in->channels, in->height, in->width, B,
                                    array_of(p, p->outputs, PROTO), p->stream);
    }
    return YOLACT_OK;
}

/* Trainable BatchNorm's running statistics from the state dict, and its weights and biases
 * unless the device optimizer holds them. */
static yolact_status upload_batchnorms(yl_train_pass *p)
{
    for (int l = 0; l < p->num_bn; l++) {
        const yl_bn_desc *d = &p->bn[l];
        const float *from[4] = {d->gamma, d->beta, d->running_mean, d->running_var};
        for (int k = p->opt_at ? BN_RUNNING_MEAN : BN_GAMMA; k <= BN_RUNNING_VAR; k++)
            YL_TRY(yl_cuda_upload(bn_array(p, l, k), from[k], d->channels * sizeof(float),
                                  p->stream, "a BatchNorm's tensors"));
    }
    return YOLACT_OK;
}

/* The batch through the network and semantic_seg_conv into the loss's inputs (and with
 * update_running, the running statistics downloaded into the state dict). */
static yolact_status forward(yl_train_pass *p, const yolact_image *images, int update_running)
{
    const yolact_model *m = p->model;
    YL_TRY(upload_batchnorms(p));
    for (int b = 0; b < p->batch; b++)
        YL_TRY(load_image(p, &images[b], b));
    for (int i = 0; i < m->num_ops; i++)
        YL_TRY(forward_op(p, i, update_running));
    if (!p->opt_at) { /* else the device optimizer's, where its last step left them */
        YL_TRY(yl_cuda_upload(p->segm_params, p->segm_weight_host,
                              p->segm_weights * sizeof(float), p->stream,
                              "semantic_seg_conv's weight"));
        YL_TRY(yl_cuda_upload(p->segm_params + p->segm_weights, p->segm_bias_host,
                              ((size_t)m->num_classes - 1) * sizeof(float), p->stream,
                              "semantic_seg_conv's bias"));
        YL_TRY(refresh_half(p, p->segm_params, p->segm_weights, p->half_segm));
    }
    YL_TRY(convolve(p, m->num_ops, p->act[p->p3], segm_weight(p),
                    p->segm_params + p->segm_weights, NULL, array_of(p, p->outputs, SEGM)));
    for (int l = 0; update_running && l < p->num_bn; l++) {
        const size_t bytes = p->bn[l].channels * sizeof(float);
        YL_CHECK(cuda, cudaMemcpyAsync(p->bn[l].running_mean, bn_array(p, l, BN_RUNNING_MEAN),
                                      bytes, cudaMemcpyDeviceToHost, p->stream));
        YL_CHECK(cuda, cudaMemcpyAsync(p->bn[l].running_var, bn_array(p, l, BN_RUNNING_VAR),
                                      bytes, cudaMemcpyDeviceToHost, p->stream));
    }
    YL_CHECK(cuda, cudaStreamSynchronize(p->stream));
    return YOLACT_OK;
}

/* grad[b] += scratch, for the backwards that write their input's gradient. */
static yolact_status add_scratch(yl_train_pass *p, int b)
{
    return yl_add_cuda(p->grad[b], p->scratch, buffer_floats(p->model, b) * p->batch,
                       p->grad[b], p->stream);
}

static yolact_status backward_op(yl_train_pass *p, int i)
{
    const yolact_model *m = p->model;
    const yl_op *op = &m->ops[i];
    const yl_buffer_desc *in = &m->buffers[op->in];
    const yl_buffer_desc *out = op->out >= 0 ? &m->buffers[op->out] : NULL;
    const int B = p->batch, C = m->num_classes, K = m->num_prototypes;
    float *gout = op->out >= 0 ? p->grad[op->out] : NULL;
    switch (op->kind) {
    case YL_OP_CONV: {
        /* the epilogue (the convolution's, or after trainable BatchNorm its layer's) */
        const int l = p->layer_of_op[i];
        const yl_activation act = l < 0 ? op->act : p->bn[l].act;
        const int residual = l < 0 ? op->residual : p->bn[l].residual;
        const size_t n = buffer_floats(m, op->out) * B;
        YL_TRY(yl_activation_backward_cuda(act, p->act[op->out], gout, n, gout, p->stream));
        if (residual >= 0)
            YL_TRY(yl_add_cuda(p->grad[residual], gout, n, p->grad[residual], p->stream));
        if (l >= 0) {   /* through the layer: the convolution's output gradient in scratch */
            const yl_bn_desc *d = &p->bn[l];
            YL_TRY(yl_batchnorm_train_backward_cuda(
                p->bn_input[l], gout, B, d->channels, d->plane, bn_array(p, l, BN_GAMMA),
                bn_array(p, l, BN_SAVE_MEAN), bn_array(p, l, BN_SAVE_INVSTD), p->scratch,
                bn_array(p, l, BN_GRAD_GAMMA), bn_array(p, l, BN_GRAD_BETA), p->stream));
            gout = p->scratch;
        }
        return yl_dnn_conv_grad_run(p->dnn, p->plans->backward[i], p->act[op->in],
                                    conv_weight(p, op->weight), gout,
                                    op->in == 0 ? NULL : p->grad[op->in], 1,
                                    p->param_grads + (op->weight - m->params),
                                    p->param_grads + (op->bias - m->params), p->dnn_workspace);
    }
    case YL_OP_DCN:
        break; /* refused at creation */
    case YL_OP_MAXPOOL:
        YL_TRY(yl_maxpool2d_backward_cuda(p->act[op->in], in->channels * B, in->height,
                                          in->width, op->pool_kernel, op->pool_stride,
                                          op->pool_pad, gout, out->height, out->width,
                                          p->scratch, p->stream));
        return add_scratch(p, op->in);
    case YL_OP_RESIZE:
        YL_TRY(yl_resize_bilinear_backward_cuda(gout, in->channels * B, in->height, in->width,
                                                out->height, out->width, p->scratch,
                                                p->resize_workspace, p->stream));
        return add_scratch(p, op->in);
    case YL_OP_ADD:
        return yl_add_backward_cuda(gout, buffer_floats(m, op->out) * B, p->grad[op->in],
                                    p->grad[op->residual], p->stream);
    case YL_OP_HEAD_OUTPUT: {
        const yl_level *lv = &m->levels[op->level];
        const size_t first = (size_t)lv->first_prior;
        YL_TRY(yl_head_output_backward_cuda(
            array_of(p, p->output_grads, LOC) + first * 4,
            array_of(p, p->output_grads, CONF) + first * C,
            array_of(p, p->output_grads, COEFF) + first * K,
            array_of(p, p->outputs, COEFF) + first * K, m->anchors_per_cell, C, K, lv->height,
            lv->width, B, (size_t)m->num_priors, p->scratch, p->stream));
        return add_scratch(p, op->in);
    }
    case YL_OP_PROTO_OUTPUT:
        YL_TRY(yl_proto_output_backward_cuda(array_of(p, p->output_grads, PROTO), in->channels,
                                             in->height, in->width, B, p->scratch, p->stream));
        return add_scratch(p, op->in);
    }
    return YOLACT_OK;
}

/* From the loss's gradients (in output_grads) to every parameter's, then downloaded unless
 * the device optimizer takes them there. */
static yolact_status backward(yl_train_pass *p)
{
    const yolact_model *m = p->model;
    for (int b = 0; b < m->num_buffers; b++)
        YL_CHECK(cuda, cudaMemsetAsync(p->grad[b], 0,
                                      buffer_floats(m, b) * p->batch * sizeof(float),
                                      p->stream));
    const size_t segm = p->segm_weights + (size_t)m->num_classes - 1;
    YL_CHECK(cuda, cudaMemsetAsync(p->param_grads, 0, p->num_params * sizeof(float), p->stream));
    YL_CHECK(cuda, cudaMemsetAsync(p->segm_grads, 0, segm * sizeof(float), p->stream));
    for (int l = 0; l < p->num_bn; l++)
        YL_CHECK(cuda, cudaMemsetAsync(bn_array(p, l, BN_GRAD_GAMMA), 0,
                                      2 * p->bn[l].channels * sizeof(float), p->stream));
    YL_TRY(yl_dnn_conv_grad_run(p->dnn, p->plans->backward[m->num_ops], p->act[p->p3],
                                segm_weight(p), array_of(p, p->output_grads, SEGM),
                                p->grad[p->p3], 1, p->segm_grads,
                                p->segm_grads + p->segm_weights, p->dnn_workspace));
    for (int i = m->num_ops - 1; i >= 0; i--)
        YL_TRY(backward_op(p, i));
    if (p->opt_at)
        return YOLACT_OK; /* the optimizer's kernels follow on the stream */
    YL_CHECK(cuda, cudaMemcpyAsync(p->host_param_grads, p->param_grads,
                                  p->num_params * sizeof(float), cudaMemcpyDeviceToHost,
                                  p->stream));
    YL_CHECK(cuda, cudaMemcpyAsync(p->host_segm_grads, p->segm_grads, segm * sizeof(float),
                                  cudaMemcpyDeviceToHost, p->stream));
    for (int l = 0; l < p->num_bn; l++) /* weight then bias: the two arrays are adjacent */
        YL_CHECK(cuda, cudaMemcpyAsync(p->host_bn_grads + 2 * (p->bn_at[l] / BN_ARRAYS),
                                      bn_array(p, l, BN_GRAD_GAMMA),
                                      2 * p->bn[l].channels * sizeof(float),
                                      cudaMemcpyDeviceToHost, p->stream));
    YL_CHECK(cuda, cudaStreamSynchronize(p->stream));
    return YOLACT_OK;
}

static yolact_status run_on_device(yl_train_pass *p, const yl_loss_config *cfg,
                                   const yolact_image *images, const yl_gt *gt, int count,
                                   int backward_too, int update_running, yl_losses *losses)
{
    const yolact_model *m = p->model;
    YL_TRY(reserve(p, count));
    YL_TRY(forward(p, images, update_running));
    yl_loss_outputs outputs[YOLACT_MAX_BATCH_SIZE];
    yl_loss_grads grads[YOLACT_MAX_BATCH_SIZE];
    float *out_at[NUM_OUTPUTS], *grad_at[NUM_OUTPUTS];
    for (int k = 0; k < NUM_OUTPUTS; k++) {
        out_at[k] = array_of(p, p->outputs, k);
        grad_at[k] = array_of(p, p->output_grads, k);
    }
    for (int b = 0; b < count; b++) {
        const size_t *n = p->per_image;
        outputs[b] = (yl_loss_outputs){out_at[LOC] + b * n[LOC], out_at[CONF] + b * n[CONF],
                                       out_at[COEFF] + b * n[COEFF],
                                       out_at[PROTO] + b * n[PROTO],
                                       out_at[SEGM] + b * n[SEGM]};
        grads[b] = (yl_loss_grads){grad_at[LOC] + b * n[LOC], grad_at[CONF] + b * n[CONF],
                                   grad_at[COEFF] + b * n[COEFF],
                                   grad_at[PROTO] + b * n[PROTO], grad_at[SEGM] + b * n[SEGM]};
    }
    const yl_buffer_desc *d = &m->buffers[p->p3];
    const yl_loss_dims dims = {p->priors,         m->num_priors, m->num_classes,
                               m->num_prototypes, m->proto_h,    m->proto_w,
                               d->height,         d->width};
    YL_TRY(yl_cuda_multibox_loss(p->loss, cfg, &dims, count, outputs, gt, losses,
                                 backward_too ? grads : NULL, p->loss_grad_factor, p->stream));
    return backward_too ? backward(p) : YOLACT_OK;
}

static yolact_status run(yl_train_pass *p, const yl_loss_config *cfg,
                         const yolact_image *images, const yl_gt *gt, int count, int backward_too,
                         int update_running, yl_losses *losses)
{
    if (count < 1 || count > YOLACT_MAX_BATCH_SIZE)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "a training batch of %d images (1..%d)",
                       count, YOLACT_MAX_BATCH_SIZE);
    int caller;
    YL_TRY(use_device(p, &caller));
    yolact_status s = run_on_device(p, cfg, images, gt, count, backward_too, update_running,
                                    losses);
    cudaSetDevice(caller);
    return s;
}

static yolact_status weights_changed(yl_train_pass *p)
{
    int caller;
    YL_TRY(use_device(p, &caller));
    yolact_status s = upload_params(p);
    cudaSetDevice(caller);
    return s;
}

static const yl_trainable *trainables(const yl_train_pass *p, int *count)
{
    *count = p->num_trainables;
    return p->trainables;
}

static int batchnorm_params(const yl_train_pass *p)
{
    return 2 * p->num_bn;
}

static const char *batchnorm_param(const yl_train_pass *p, int j)
{
    return p->bn[j / 2].param[j % 2];
}

static void grad(const yl_train_pass *p, int i, float *out)
{
    if (i < p->num_trainables) {
        yl_trainable_unfold_grad(&p->trainables[i], p->host_param_grads, out);
        return;
    }
    const size_t classes = (size_t)p->model->num_classes - 1;
    if (i >= p->num_trainables + 2) {   /* BatchNorm layer j / 2's weight or bias */
        const int j = i - p->num_trainables - 2, l = j / 2;
        const size_t C = (size_t)p->bn[l].channels;
        memcpy(out, p->host_bn_grads + 2 * (p->bn_at[l] / BN_ARRAYS) + (j % 2) * C,
               C * sizeof(float));
    } else if (i == p->num_trainables) {
        memcpy(out, p->host_segm_grads, p->segm_weights * sizeof(float));
    } else {
        memcpy(out, p->host_segm_grads + p->segm_weights, classes * sizeof(float));
    }
}

/* Parameter i of the device optimizer where the ops read it (value: folded, for a
 * trainable), d loss / d it where the backward leaves it (grad), and its floats as rows of
 * per_row. */
static void opt_target(const yl_train_pass *p, int i, float **value, float **grad,
                       size_t *rows, size_t *per_row)
{
    if (i < p->num_trainables) {
        const yl_trainable *t = &p->trainables[i];
        *value = p->params + t->offset;
        *grad = p->param_grads + t->offset;
        *rows = t->rows;
        *per_row = t->per_row;
        return;
    }
    *rows = 1;
    if (i < p->num_trainables + 2) {   /* semantic_seg_conv's weight, then its bias */
        const size_t at = i == p->num_trainables ? 0 : p->segm_weights;
        *value = p->segm_params + at;
        *grad = p->segm_grads + at;
        *per_row = at ? (size_t)p->model->num_classes - 1 : p->segm_weights;
        return;
    }
    const int j = i - p->num_trainables - 2, l = j / 2;   /* BatchNorm's weight or bias */
    *value = bn_array(p, l, BN_GAMMA + j % 2);
    *grad = bn_array(p, l, BN_GRAD_GAMMA + j % 2);
    *per_row = (size_t)p->bn[l].channels;
}

/* The device optimizer's arrays, laid out once. */
static yolact_status lay_out_optimizer(yl_train_pass *p)
{
    const int n = p->num_trainables + 2 + 2 * p->num_bn;
    p->opt_at = calloc((size_t)n + 1, sizeof *p->opt_at);
    p->scale_at = calloc((size_t)n, sizeof *p->scale_at);
    p->first = calloc((size_t)n, sizeof *p->first);
    p->folded = calloc((size_t)n, sizeof *p->folded);
    if (!p->opt_at || !p->scale_at || !p->first || !p->folded)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for the device optimizer");
    size_t scales = 0;
    for (int i = 0; i < n; i++) {
        float *value, *grad;
        size_t rows, per_row;
        opt_target(p, i, &value, &grad, &rows, &per_row);
        p->opt_at[i + 1] = p->opt_at[i] + rows * per_row;
        if (i < p->num_trainables && p->trainables[i].bn_scale) {
            p->scale_at[i] = scales;
            scales += rows;
            p->folded[i] = p->num_bn == 0; /* trainable BatchNorm: the scales are 1 */
        }
    }
    p->num_opt = n;
    const size_t bytes = p->opt_at[n] * sizeof(float);
    YL_TRY(yl_cuda_alloc(&p->opt_params, bytes, "the optimised parameters"));
    YL_TRY(yl_cuda_alloc(&p->opt_grads, bytes, "their gradients"));
    YL_TRY(yl_cuda_alloc(&p->opt_momentum, bytes, "their momentum buffers"));
    YL_TRY(yl_cuda_alloc(&p->unfold_scales, scales * sizeof(float), "the BatchNorm scales"));
    YL_TRY(yl_cuda_alloc(&p->fold_scales, scales * sizeof(double), "the BatchNorm scales"));
    if (p->half)
        YL_TRY(yl_cuda_alloc(&p->nonfinite, sizeof *p->nonfinite,
                             "the finite gradients' flag"));
    /* the backward no longer downloads what the host path read */
    free(p->host_param_grads);
    free(p->host_segm_grads);
    free(p->host_bn_grads);
    p->host_param_grads = p->host_segm_grads = p->host_bn_grads = NULL;
    return YOLACT_OK;
}

/* The scales of trainable i's rows: bn_scale's floats, and the doubles yl_model_refill
 * folds in (its fill's BatchNorm in weights) where it is folded. */
static yolact_status upload_scales(yl_train_pass *p, const yl_tensor_table *weights, int i,
                                   double *host)
{
    const yl_trainable *t = &p->trainables[i];
    YL_TRY(yl_cuda_upload(p->unfold_scales + p->scale_at[i], t->bn_scale,
                          t->rows * sizeof(float), p->stream, "the BatchNorm scales"));
    if (!p->folded[i])
        return YOLACT_OK;
    const yolact_model *m = p->model;
    for (int f = 0; f < m->num_fills; f++)
        if (m->fills[f].bn && m->fills[f].weight == t->offset) {
            YL_TRY(yl_param_fill_fold_scales(&m->fills[f], weights, host));
            return yl_cuda_upload(p->fold_scales + p->scale_at[i], host,
                                  t->rows * sizeof(double), p->stream, "the BatchNorm scales");
        }
    return yl_fail(YOLACT_ERR_INTERNAL, "no BatchNorm folded into '%s'", t->name);
}

/* The ops' parameters from the optimised ones: a frozen BatchNorm folded in, else copied;
 * in FP16 their half copies made again. */
static yolact_status refresh_params(yl_train_pass *p)
{
    for (int i = 0; i < p->num_opt; i++) {
        float *value, *grad;
        size_t rows, per_row;
        opt_target(p, i, &value, &grad, &rows, &per_row);
        const float *from = p->opt_params + p->opt_at[i];
        if (p->folded[i])
            YL_TRY(yl_fold_rows_cuda(from, rows, per_row, p->fold_scales + p->scale_at[i],
                                     value, p->stream));
        else
            YL_CHECK(cuda, cudaMemcpyAsync(value, from, rows * per_row * sizeof(float),
                                          cudaMemcpyDeviceToDevice, p->stream));
    }
    YL_TRY(refresh_half(p, p->params, p->num_params, p->half_params));
    return refresh_half(p, p->segm_params, p->segm_weights, p->half_segm);
}

static yolact_status upload_state_on_device(yl_train_pass *p, const yl_tensor_table *weights,
                                            const float *const *params,
                                            const float *const *momentum)
{
    if (!p->opt_at)
        YL_TRY(lay_out_optimizer(p));
    size_t rows = 1;
    for (int i = 0; i < p->num_trainables; i++)
        rows = p->trainables[i].rows > rows ? p->trainables[i].rows : rows;
    double *host = malloc(rows * sizeof *host);
    if (!host)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for the BatchNorm scales");
    yolact_status s = YOLACT_OK;
    for (int i = 0; s == YOLACT_OK && i < p->num_trainables; i++)
        if (p->trainables[i].bn_scale)
            s = upload_scales(p, weights, i, host);
    free(host);
    YL_TRY(s);
    for (int i = 0; i < p->num_opt; i++) {
        const size_t at = p->opt_at[i], bytes = (p->opt_at[i + 1] - at) * sizeof(float);
        YL_TRY(yl_cuda_upload(p->opt_params + at, params[i], bytes, p->stream,
                              "an optimised parameter"));
        p->first[i] = !momentum[i];
        if (momentum[i])
            YL_TRY(yl_cuda_upload(p->opt_momentum + at, momentum[i], bytes, p->stream,
                                  "a momentum buffer"));
    }
    YL_TRY(refresh_params(p));
    YL_CHECK(cuda, cudaStreamSynchronize(p->stream));
    return YOLACT_OK;
}

static yolact_status state_upload(yl_train_pass *p, const yl_tensor_table *weights,
                                  const float *const *params, const float *const *momentum)
{
    int caller;
    YL_TRY(use_device(p, &caller));
    yolact_status s = upload_state_on_device(p, weights, params, momentum);
    cudaSetDevice(caller);
    return s;
}

static yolact_status gather_on_device(yl_train_pass *p, int add, float factor)
{
    for (int i = 0; i < p->num_opt; i++) {
        float *value, *grad;
        size_t rows, per_row;
        opt_target(p, i, &value, &grad, &rows, &per_row);
        const int scaled = i < p->num_trainables && p->trainables[i].bn_scale;
        YL_TRY(yl_scale_rows_cuda(grad, rows, per_row,
                                  scaled ? p->unfold_scales + p->scale_at[i] : NULL, add,
                                  factor, p->opt_grads + p->opt_at[i], p->stream));
    }
    return YOLACT_OK;
}

static yolact_status gather_grads(yl_train_pass *p, int add, float factor)
{
    int caller;
    YL_TRY(use_device(p, &caller));
    yolact_status s = gather_on_device(p, add, factor);
    cudaSetDevice(caller);
    return s;
}

static yolact_status step_on_device(yl_train_pass *p, const yl_sgd_options *opt)
{
    for (int i = 0; i < p->num_opt; i++) {
        const size_t at = p->opt_at[i];
        YL_TRY(yl_sgd_step_cuda(opt, p->opt_at[i + 1] - at, p->opt_params + at,
                                p->opt_grads + at, p->opt_momentum + at, &p->first[i],
                                p->stream));
    }
    return refresh_params(p);
}

static yolact_status sgd_step(yl_train_pass *p, const yl_sgd_options *opt)
{
    int caller;
    YL_TRY(use_device(p, &caller));
    yolact_status s = step_on_device(p, opt);
    cudaSetDevice(caller);
    return s;
}

static yolact_status download_on_device(yl_train_pass *p, int i, float *param,
                                        float *momentum, float *grad)
{
    const size_t at = p->opt_at[i], bytes = (p->opt_at[i + 1] - at) * sizeof(float);
    float *const to[3] = {param, p->first[i] ? NULL : momentum, grad};
    const float *const from[3] = {p->opt_params + at, p->opt_momentum + at, p->opt_grads + at};
    for (int k = 0; k < 3; k++)
        if (to[k])
            YL_CHECK(cuda, cudaMemcpyAsync(to[k], from[k], bytes, cudaMemcpyDeviceToHost,
                                          p->stream));
    YL_CHECK(cuda, cudaStreamSynchronize(p->stream));
    return YOLACT_OK;
}

static yolact_status state_download(yl_train_pass *p, int i, float *param, float *momentum,
                                    float *grad)
{
    if (!p->opt_at || i < 0 || i >= p->num_opt)
        return yl_fail(YOLACT_ERR_INTERNAL, "no optimised parameter %d on the device", i);
    int caller;
    YL_TRY(use_device(p, &caller));
    yolact_status s = download_on_device(p, i, param, momentum, grad);
    cudaSetDevice(caller);
    return s;
}

static void scale_loss(yl_train_pass *p, double factor)
{
    p->loss_grad_factor = factor;
}

static yolact_status check_finite_on_device(yl_train_pass *p, int *finite)
{
    int nonfinite = 1;
    YL_TRY(yl_flag_nonfinite_cuda(p->opt_grads, p->opt_at[p->num_opt], p->nonfinite,
                                  p->stream));
    YL_CHECK(cuda, cudaMemcpyAsync(&nonfinite, p->nonfinite, sizeof nonfinite,
                                  cudaMemcpyDeviceToHost, p->stream));
    YL_CHECK(cuda, cudaStreamSynchronize(p->stream));
    *finite = !nonfinite;
    return YOLACT_OK;
}

static yolact_status grads_finite(yl_train_pass *p, int *finite)
{
    if (!p->opt_at || !p->nonfinite)
        return yl_fail(YOLACT_ERR_INTERNAL, "no FP16 device optimizer to check the gradients "
                       "of");
    int caller;
    YL_TRY(use_device(p, &caller));
    yolact_status s = check_finite_on_device(p, finite);
    cudaSetDevice(caller);
    return s;
}

static const yl_train_pass_ops cuda_train_pass = {
    "cuda", create, run, weights_changed, trainables, batchnorm_params, batchnorm_param, grad,
    destroy, state_upload, gather_grads, sgd_step, state_download, scale_loss, grads_finite};
const yl_train_pass_ops *const yl_cuda_train_pass = &cuda_train_pass;
