/* The mask-IoU net on the device: the masks go through the layers a chunk at a time, each
 * layer one batched convolution ping-ponging between two buffers, then one re-scoring launch
 * for the chunk's masks from their last maps. */
#include "cuda/rescore.h"

#include <stdlib.h>

#include "yl_cuda_api.h"
#include "cuda/upload.h"
#include "yl_kernels.h"

struct yl_cuda_maskiou {
    yl_maskiou_net net;             /* the shapes (its weight pointers are host memory) */
    yolact_precision precision;
    int max_masks;
    int h[YL_MAX_MASKIOU_LAYERS + 1], w[YL_MAX_MASKIOU_LAYERS + 1]; /* layer l's input; [L]:
                                                                       the last output */
    const void *packed[YL_MAX_MASKIOU_LAYERS];
    const float *bias[YL_MAX_MASKIOU_LAYERS];
    void *weights;                  /* the packed weights, one device block */
    float *biases;                  /* every layer's bias, one device block */
    int chunk;                      /* masks a layer's convolution takes at once */
    float *act[2];                  /* a chunk's activations */
    float *last;                    /* (chunk, classes, h[L], w[L]): the net's outputs */
    void *scratch;                  /* the convolutions' workspace for a chunk, or NULL */
    size_t last_floats;             /* one mask's */
    size_t device_bytes;            /* all of the above on the device */
};

size_t yl_cuda_maskiou_device_bytes(const yl_cuda_maskiou *m)
{
    return m ? m->device_bytes : 0;
}

void yl_cuda_maskiou_destroy(yl_cuda_maskiou *m)
{
    if (!m)
        return;
    void *device[] = {m->weights, m->biases, m->act[0], m->act[1], m->last, m->scratch};
    for (size_t i = 0; i < sizeof device / sizeof device[0]; i++)
        if (device[i])
            cudaFree(device[i]);
    free(m);
}

static yolact_status setup(yl_cuda_maskiou *m, cudaStream_t stream)
{
    const yl_maskiou_net *net = &m->net;
    const int L = net->num_layers;
    size_t act = 1, bias_floats = 0, scratch = 0;
    yl_cuda_pack_item items[YL_MAX_MASKIOU_LAYERS];
    m->h[0] = net->in_h;
    m->w[0] = net->in_w;
    for (int l = 0; l < L; l++) {
        const yl_conv_desc *d = &net->layers[l].conv;
        m->h[l + 1] = yl_conv_out_size(m->h[l], d->kernel_h, d->stride, d->pad, d->dilation);
        m->w[l + 1] = yl_conv_out_size(m->w[l], d->kernel_w, d->stride, d->pad, d->dilation);
        size_t floats = (size_t)d->out_channels * m->h[l + 1] * m->w[l + 1];
        if (l + 1 < L && floats > act)
            act = floats;
        m->last_floats = floats;
        bias_floats += (size_t)d->out_channels;
        size_t ws = yl_conv2d_cuda_workspace_bytes(d, m->chunk, m->h[l], m->w[l], m->precision);
        scratch = ws > scratch ? ws : scratch;
        items[l] = (yl_cuda_pack_item){d, net->layers[l].weight, 0, m->precision,
                                       &m->packed[l]};
    }
    YL_TRY(yl_cuda_pack_weights(items, L, &m->weights, &m->device_bytes, stream,
                                "the mask-IoU net's weights"));
    YL_TRY(yl_cuda_alloc(&m->biases, bias_floats * sizeof(float), "the mask-IoU net's biases"));
    for (int i = 0; i < 2; i++)
        YL_TRY(yl_cuda_alloc(&m->act[i], (size_t)m->chunk * act * sizeof(float),
                             "the mask-IoU net's activations"));
    YL_TRY(yl_cuda_alloc(&m->last, (size_t)m->chunk * m->last_floats * sizeof(float),
                         "the mask-IoU net's outputs"));
    if (scratch)
        YL_TRY(yl_cuda_alloc(&m->scratch, scratch, "the mask-IoU net's scratch"));
    m->device_bytes += (bias_floats + (2 * act + m->last_floats) * (size_t)m->chunk) *
                       sizeof(float) + scratch;
    float *at = m->biases;
    for (int l = 0; l < L; l++) {
        const yl_maskiou_layer *layer = &net->layers[l];
        size_t bytes = (size_t)layer->conv.out_channels * sizeof(float);
        if (layer->bias)
            YL_TRY(yl_cuda_upload(at, layer->bias, bytes, stream, "the mask-IoU net's biases"));
        m->bias[l] = layer->bias ? at : NULL;
        at += layer->conv.out_channels;
    }
    return YOLACT_OK;
}

yolact_status yl_cuda_maskiou_create(const yl_maskiou_net *net, int max_masks,
                                     yolact_precision precision, cudaStream_t stream,
                                     yl_cuda_maskiou **out)
{
    *out = NULL;
    if (!net || net->num_layers < 1 || net->num_layers > YL_MAX_MASKIOU_LAYERS ||
        max_masks < 0 || (precision != YOLACT_PRECISION_FP32 &&
                          precision != YOLACT_PRECISION_FP16))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_cuda_maskiou_create: %d layers, %d "
                       "masks, precision %d", net ? net->num_layers : 0, max_masks,
                       (int)precision);
    yl_cuda_maskiou *m = calloc(1, sizeof *m);
    if (!m)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for the mask-IoU net");
    m->net = *net;
    m->precision = precision;
    m->max_masks = max_masks;
    /* Chunks of 64 masks bound the activations (~20 MB at the 138 x 138 prototypes of 550
     * inputs) whatever max_detections is. */
    m->chunk = max_masks < 64 ? (max_masks > 0 ? max_masks : 1) : 64;
    yolact_status s = setup(m, stream);
    if (s != YOLACT_OK) {
        yl_cuda_maskiou_destroy(m);
        return s;
    }
    *out = m;
    return YOLACT_OK;
}

yolact_status yl_cuda_maskiou_run(yl_cuda_maskiou *m, const float *masks,
                                  const yl_mask_pass *pass, const yl_raw_detection *detections,
                                  size_t detection_stride, float *mask_scores,
                                  size_t score_stride, struct CUstream_st *stream)
{
    const long long n = yl_mask_pass_masks(pass, NULL);
    if (!m || n < 0 || n > m->max_masks || (n && !masks))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_cuda_maskiou_run: %lld masks (at most "
                       "%d; -1: an invalid pass), or a NULL pointer", n, m ? m->max_masks : 0);
    const yl_maskiou_net *net = &m->net;
    const int L = net->num_layers;
    const size_t plane = (size_t)m->h[0] * m->w[0];
    for (int first = 0; first < n; first += m->chunk) {
        int count = n - first < m->chunk ? (int)n - first : m->chunk;
        const float *src = masks + plane * first;
        for (int l = 0; l < L; l++) {
            float *dst = l == L - 1 ? m->last : m->act[l % 2];
            YL_TRY(yl_conv2d_cuda(&net->layers[l].conv, src, count, m->h[l], m->w[l],
                                  m->packed[l], m->precision, m->bias[l], NULL, YL_ACT_RELU,
                                  dst, m->scratch, stream));
            src = dst;
        }
        YL_TRY(yl_mask_rescore_cuda(m->last, first, count, net->layers[L - 1].conv.out_channels,
                                    m->h[L], m->w[L], pass, detections, detection_stride,
                                    mask_scores, score_stride, stream));
    }
    return YOLACT_OK;
}
