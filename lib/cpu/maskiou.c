/* The mask-IoU network, one mask per thread at a time: its layers ping-pong between two
 * buffers, each an im2col convolution on the calling thread (the maps are small). */
#include "cpu/maskiou.h"

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

static float run_one(const yl_maskiou_net *net, const float *mask, int cls, float *a, float *b,
                     float *ws)
{
    int h = net->in_h, w = net->in_w;
    const float *src = mask;
    float *dst = a;
    for (int l = 0; l < net->num_layers; l++) {
        const yl_maskiou_layer *L = &net->layers[l];
        yl_conv2d_cpu(&L->conv, src, h, w, L->weight, L->bias, NULL, YL_ACT_RELU, dst, ws, 1);
        h = yl_conv_out_size(h, L->conv.kernel_h, L->conv.stride, L->conv.pad, L->conv.dilation);
        w = yl_conv_out_size(w, L->conv.kernel_w, L->conv.stride, L->conv.pad, L->conv.dilation);
        src = dst;
        dst = dst == a ? b : a;
    }
    /* Global max pool of the class's map (after ReLU, so never below 0). */
    const float *map = src + (size_t)cls * h * w;
    float best = map[0];
    for (int i = 1; i < h * w; i++)
        best = map[i] > best ? map[i] : best;
    return best;
}

void yl_maskiou_cpu(const yl_maskiou_net *net, const float *masks, int n, const int *classes,
                    float *iou, float *workspace, int num_threads)
{
    size_t act, conv_ws;
    sizes(net, &act, &conv_ws);
    int threads = num_threads > 0 ? num_threads : omp_get_num_procs();
    size_t per_thread = 2 * act + conv_ws + 16, plane = (size_t)net->in_h * net->in_w;
#pragma omp parallel for num_threads(threads) schedule(dynamic)
    for (int i = 0; i < n; i++) {
        float *mine = workspace + per_thread * (size_t)omp_get_thread_num();
        iou[i] = run_one(net, masks + plane * (size_t)i, classes[i], mine, mine + act,
                         mine + 2 * act);
    }
}
