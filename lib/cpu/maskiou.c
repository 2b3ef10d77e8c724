/* The mask-IoU network, one mask per thread at a time: its layers ping-pong between two
 * buffers, each an im2col convolution on the calling thread (the maps are small); and the
 * re-scoring from its last maps. */
#include "cpu/maskiou.h"

#include <math.h>
#include <omp.h>

#include "cpu/dense_ops.h"

/* Per-thread layout: two activation buffers and the convolution's scratch, in floats. */
static void sizes(const yl_maskiou_net *net, size_t *act, size_t *conv_ws)
{
    int h = net->in_h, w = net->in_w;
    *act = (size_t)h * w;
    *conv_ws = 0;
    for (int l = 0; l < net->num_layers; l++) {
        const yl_conv_desc *d = &net->layers[l].conv;
        size_t ws = yl_conv2d_workspace_floats(d, h, w);
        *conv_ws = ws > *conv_ws ? ws : *conv_ws;
        h = yl_conv_out_size(h, d->kernel_h, d->stride, d->pad, d->dilation);
        w = yl_conv_out_size(w, d->kernel_w, d->stride, d->pad, d->dilation);
        size_t a = (size_t)d->out_channels * h * w;
        *act = a > *act ? a : *act;
    }
}

size_t yl_maskiou_workspace_floats(const yl_maskiou_net *net, int num_threads)
{
    size_t act, conv_ws;
    int threads = num_threads > 0 ? num_threads : omp_get_num_procs();
    sizes(net, &act, &conv_ws);
    return (2 * act + conv_ws + 16) * (size_t)threads;
}

/* The net on one mask: the last layer's maps (channels, h, w), written to `last` where it is
 * not NULL, else to a or b. */
static const float *run_one(const yl_maskiou_net *net, const float *mask, float *a, float *b,
                            float *ws, float *last)
{
    int h = net->in_h, w = net->in_w;
    const float *src = mask;
    float *dst = a;
    for (int l = 0; l < net->num_layers; l++) {
        const yl_maskiou_layer *L = &net->layers[l];
        if (last && l == net->num_layers - 1)
            dst = last;
        yl_conv2d_prepared_cpu(&L->conv, src, h, w, L->weight, NULL, L->bias, NULL, YL_ACT_RELU,
                               dst, ws, 1);
        h = yl_conv_out_size(h, L->conv.kernel_h, L->conv.stride, L->conv.pad, L->conv.dilation);
        w = yl_conv_out_size(w, L->conv.kernel_w, L->conv.stride, L->conv.pad, L->conv.dilation);
        src = dst;
        dst = dst == a ? b : a;
    }
    return src;
}

/* Global max pool of one map (after ReLU, so never below 0), NaN propagating as the kernel's
 * scan does. */
static float map_max(const float *map, int plane)
{
    float best = map[0];
    for (int i = 1; i < plane; i++)
        best = map[i] > best ? map[i] : best;
    return best;
}

void yl_maskiou_out_dims(const yl_maskiou_net *net, int *channels, int *h, int *w)
{
    *channels = net->layers[net->num_layers - 1].conv.out_channels;
    *h = net->in_h;
    *w = net->in_w;
    for (int l = 0; l < net->num_layers; l++) {
        const yl_conv_desc *d = &net->layers[l].conv;
        *h = yl_conv_out_size(*h, d->kernel_h, d->stride, d->pad, d->dilation);
        *w = yl_conv_out_size(*w, d->kernel_w, d->stride, d->pad, d->dilation);
    }
}

/* The net on each of n masks, in parallel: where maps is not NULL, each mask's last-layer
 * maps go there; else iou[i] is the max of channel classes[i]'s map. */
static void run_all(const yl_maskiou_net *net, const float *masks, int n, const int *classes,
                    float *iou, float *maps, float *workspace, int num_threads)
{
    size_t act, conv_ws;
    sizes(net, &act, &conv_ws);
    int threads = num_threads > 0 ? num_threads : omp_get_num_procs();
    size_t per_thread = 2 * act + conv_ws + 16, plane = (size_t)net->in_h * net->in_w;
    int channels, h, w;
    yl_maskiou_out_dims(net, &channels, &h, &w);
    const size_t out = (size_t)channels * h * w;
#pragma omp parallel for num_threads(threads) schedule(dynamic)
    for (int i = 0; i < n; i++) {
        float *mine = workspace + per_thread * (size_t)omp_get_thread_num();
        const float *last = run_one(net, masks + plane * (size_t)i, mine, mine + act,
                                    mine + 2 * act, maps ? maps + out * (size_t)i : NULL);
        if (!maps)
            iou[i] = map_max(last + (size_t)classes[i] * h * w, h * w);
    }
}

void yl_maskiou_cpu(const yl_maskiou_net *net, const float *masks, int n, const int *classes,
                    float *iou, float *workspace, int num_threads)
{
    run_all(net, masks, n, classes, iou, NULL, workspace, num_threads);
}

void yl_maskiou_maps_cpu(const yl_maskiou_net *net, const float *masks, int n, float *maps,
                         float *workspace, int num_threads)
{
    run_all(net, masks, n, NULL, NULL, maps, workspace, num_threads);
}

void yl_mask_rescore_cpu(const float *maps, int first, int n, int channels, int h, int w,
                         const yl_mask_pass *pass, const yl_raw_detection *detections,
                         size_t detection_stride, float *mask_scores, size_t score_stride)
{
    const int plane = h * w;
    int b = 0;
    for (int i = 0; i < n; i++) {
        /* The image holding mask first + i (the pass is dense, in image order). */
        const int g = first + i;
        while (b + 1 < pass->num_images && pass->image[b + 1].first <= g)
            b++;
        const int j = g - pass->image[b].first;
        const yl_raw_detection *d = &detections[b * detection_stride + j];
        float *score = &mask_scores[b * score_stride + j];
        if (d->class_index < 0 || d->class_index >= channels)
            *score = NAN;
        else
            *score = d->score * map_max(maps + ((size_t)i * channels + d->class_index) * plane,
                                        plane);
    }
}
