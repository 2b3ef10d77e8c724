// The head permutes, as yl_head_output_cpu and yl_proto_output_cpu (cpu/head_ops.h).
//   head:  maps (A * (4 + C + K), H, W) float -> loc (H*W*A, 4), conf (H*W*A, C) softmax,
//          coeff (H*W*A, K) tanh; one thread per prior (cell, anchor), which reads its
//          channels at stride H*W (consecutive threads: consecutive cells, coalesced). A
//          block's priors are consecutive rows of each output, one block of memory: the
//          threads put their values in shared memory, ROW_CHUNK columns at a time, and the
//          block stores them as consecutive words, so each output element is written once
//          and coalesced (a thread storing its own row would touch a cache line a lane).
//   proto: in (K, H, W) float -> out (H, W, K); 32 x 32 tiles transposed through shared memory
// Both take a batch of images in one launch, the image as the grid's last dimension.
#include "yl_kernels.h"

#include <math.h>

#include "transpose.cuh"
#include "yl_device.h"

#define HEAD_THREADS 128
#define ROW_CHUNK 32

/* out rows [p0, p0 + count) of `width` columns, column c of the thread's row being
 * value(c) (called by the threads t < count). Every thread of the block calls it. */
template <typename Value>
static __device__ __forceinline__ void store_rows(float *out, int width, size_t p0, int count,
                                                  float (*chunk)[HEAD_THREADS + 1],
                                                  Value value)
{
    const int t = threadIdx.x;
    for (int c0 = 0; c0 < width; c0 += ROW_CHUNK) {
        const int w = width - c0 < ROW_CHUNK ? width - c0 : ROW_CHUNK;
        if (t < count)
            for (int j = 0; j < w; j++)
                chunk[j][t] = value(c0 + j);
        __syncthreads();
        for (int e = t; e < count * w; e += HEAD_THREADS)
            out[(p0 + e / w) * width + c0 + e % w] = chunk[e % w][e / w];
        __syncthreads();
    }
}

/* The CPU's loop body for prior p = cell * A + a, operation for operation: the softmax's
 * exponentials are computed twice (for the sum, then for the store), the same bits. Without
 * Softmax, conf gets the logits (training's yl_head_output_logits_cpu). */
template <bool Softmax>
static __global__ void __launch_bounds__(HEAD_THREADS)
head_output_kernel(const float *__restrict__ maps, int anchors, int classes, int prototypes,
                   size_t plane, size_t image_priors, float *__restrict__ loc,
                   float *__restrict__ conf, float *__restrict__ coeff)
{
    __shared__ float chunk[ROW_CHUNK][HEAD_THREADS + 1];
    const size_t priors = plane * anchors, p0 = (size_t)blockIdx.x * HEAD_THREADS;
    const int count = priors - p0 < HEAD_THREADS ? (int)(priors - p0) : HEAD_THREADS;
    const size_t p = p0 + ((int)threadIdx.x < count ? threadIdx.x : 0);
    const size_t cell = p / anchors, image = blockIdx.y;
    const int a = (int)(p % anchors), C = classes, K = prototypes;
    maps += image * (4 + C + K) * anchors * plane;
    const float *loc_maps = maps, *conf_maps = maps + (size_t)4 * anchors * plane,
                *coeff_maps = conf_maps + (size_t)C * anchors * plane;
    auto loc_at = [&](int d) { return loc_maps[((size_t)a * 4 + d) * plane + cell]; };
    auto conf_at = [&](int c) { return conf_maps[((size_t)a * C + c) * plane + cell]; };
    store_rows(loc + image * image_priors * 4, 4, p0, count, chunk, loc_at);
    if (!Softmax)
        store_rows(conf + image * image_priors * C, C, p0, count, chunk, conf_at);
    if (Softmax) {
        float max = -INFINITY, sum = 0.0f;
        for (int c = 0; c < C; c++)
            max = conf_at(c) > max ? conf_at(c) : max;
        for (int c = 0; c < C; c++)
            sum += expf(conf_at(c) - max);
        const float inv = 1.0f / sum;
        store_rows(conf + image * image_priors * C, C, p0, count, chunk,
                   [&](int c) { return expf(conf_at(c) - max) * inv; });
    }
    store_rows(coeff + image * image_priors * K, K, p0, count, chunk,
               [&](int k) { return tanhf(coeff_maps[((size_t)a * K + k) * plane + cell]); });
}

static yolact_status head_output(bool softmax, const float *maps, int anchors, int classes,
                                 int prototypes, int height, int width, int batch,
                                 size_t image_priors, float *loc, float *conf, float *coeff,
                                 cudaStream_t stream)
{
    const size_t plane = (size_t)(height > 0 ? height : 0) * (width > 0 ? width : 0);
    const size_t priors = plane * (anchors > 0 ? anchors : 0);
    if (anchors < 0 || classes < 0 || prototypes < 0 || height < 0 || width < 0 ||
        batch < 1 || batch > 65535 || image_priors < priors ||
        priors / HEAD_THREADS >= 0x7fffffffu ||
        (priors && (!maps || !loc || (classes && !conf) || (prototypes && !coeff))))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_head_output%s_cuda: %d anchors, %d classes, %d prototypes, %dx%d, "
                       "batch %d (1..65535) of %zu priors, maps %p loc %p conf %p coeff %p",
                       softmax ? "" : "_logits", anchors, classes, prototypes, height, width,
                       batch, image_priors, (const void *)maps, (void *)loc, (void *)conf, (void *)coeff);
    if (priors == 0)
        return YOLACT_OK;
    dim3 grid((unsigned)((priors + HEAD_THREADS - 1) / HEAD_THREADS), batch);
    if (softmax)
        YL_CHECK(cuda, YL_LAUNCH(head_output_kernel<true>, grid, HEAD_THREADS, 0, stream, maps,
                                anchors, classes, prototypes, plane, image_priors, loc, conf,
                                coeff));
    else
        YL_CHECK(cuda, YL_LAUNCH(head_output_kernel<false>, grid, HEAD_THREADS, 0, stream, maps,
                                anchors, classes, prototypes, plane, image_priors, loc, conf,
                                coeff));
    return YOLACT_OK;
}

extern "C" yolact_status yl_head_output_cuda(const float *maps, int anchors, int classes,
                                             int prototypes, int height, int width, int batch,
                                             size_t image_priors, float *loc, float *conf,
                                             float *coeff, cudaStream_t stream)
{
    return head_output(true, maps, anchors, classes, prototypes, height, width, batch,
                       image_priors, loc, conf, coeff, stream);
}

extern "C" yolact_status yl_head_output_logits_cuda(const float *maps, int anchors,
                                                    int classes, int prototypes, int height,
                                                    int width, int batch, size_t image_priors,
                                                    float *loc, float *conf, float *coeff,
                                                    cudaStream_t stream)
{
    return head_output(false, maps, anchors, classes, prototypes, height, width, batch,
                       image_priors, loc, conf, coeff, stream);
}

extern "C" yolact_status yl_proto_output_cuda(const float *in, int channels, int height,
                                              int width, int batch, float *out,
                                              cudaStream_t stream)
{
    if (channels < 0 || height < 0 || width < 0 || batch < 1 || batch > 65535 ||
        (long long)height * width > 0x7fffffffLL - TRANSPOSE_TILE ||
        (channels + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE > 65535 ||
        ((long long)channels * height * width != 0 && (!in || !out)))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_proto_output_cuda: %d channels %dx%d, batch %d (1..65535), in %p "
                       "out %p", channels, height, width, batch, (const void *)in, (void *)out);
    const int plane = height * width;
    if (plane == 0 || channels == 0)
        return YOLACT_OK;
    YL_CHECK(cuda, chw_to_hwc(in, channels, plane, batch, out, stream));
    return YOLACT_OK;
}
