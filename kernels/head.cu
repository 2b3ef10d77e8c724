// The head permutes, as yl_head_output_cpu and yl_proto_output_cpu (cpu/head_ops.h).
//   head:  maps (A * (4 + C + K), H, W) float -> loc (H*W*A, 4), conf (H*W*A, C) softmax,
//          coeff (H*W*A, K) tanh; one thread per prior (cell, anchor), which reads its
//          channels at stride H*W (consecutive threads: consecutive cells, coalesced)
//   proto: in (K, H, W) float -> out (H, W, K); 32 x 32 tiles transposed through shared memory
// Both take a batch of images in one launch, the image as the grid's last dimension.
#include "yl_kernels.h"

#include <math.h>

#include "transpose.cuh"
#include "yl_device.h"

#define HEAD_THREADS 128

/* The CPU's loop body for prior p = cell * A + a, operation for operation. */
static __global__ void __launch_bounds__(HEAD_THREADS)
head_output_kernel(const float *__restrict__ maps, int anchors, int classes, int prototypes,
                   size_t plane, size_t image_priors, float *__restrict__ loc,
                   float *__restrict__ conf, float *__restrict__ coeff)
{
    const size_t p = (size_t)blockIdx.x * HEAD_THREADS + threadIdx.x;
    if (p >= plane * anchors)
        return;
    const size_t cell = p / anchors, image = blockIdx.y;
    const int a = (int)(p % anchors), C = classes, K = prototypes;
    maps += image * (4 + C + K) * anchors * plane;
    loc += image * image_priors * 4;
    conf += image * image_priors * C;
    coeff += image * image_priors * K;
    const float *loc_maps = maps, *conf_maps = maps + (size_t)4 * anchors * plane,
                *coeff_maps = conf_maps + (size_t)C * anchors * plane;
    for (int d = 0; d < 4; d++)
        loc[p * 4 + d] = loc_maps[((size_t)a * 4 + d) * plane + cell];
    float *row = conf + p * C;
    float max = -INFINITY, sum = 0.0f;
    for (int c = 0; c < C; c++) {
        row[c] = conf_maps[((size_t)a * C + c) * plane + cell];
        max = row[c] > max ? row[c] : max;
    }
    for (int c = 0; c < C; c++)
        sum += row[c] = expf(row[c] - max);
    float inv = 1.0f / sum;
    for (int c = 0; c < C; c++)
        row[c] *= inv;
    for (int k = 0; k < K; k++)
        coeff[p * K + k] = tanhf(coeff_maps[((size_t)a * K + k) * plane + cell]);
}

extern "C" yolact_status yl_head_output_cuda(const float *maps, int anchors, int classes,
                                             int prototypes, int height, int width, int batch,
                                             size_t image_priors, float *loc, float *conf,
                                             float *coeff, cudaStream_t stream)
{
    const size_t plane = (size_t)(height > 0 ? height : 0) * (width > 0 ? width : 0);
    const size_t priors = plane * (anchors > 0 ? anchors : 0);
    if (anchors < 0 || classes < 0 || prototypes < 0 || height < 0 || width < 0 ||
        batch < 1 || batch > 65535 || image_priors < priors ||
        priors / HEAD_THREADS >= 0x7fffffffu ||
        (priors && (!maps || !loc || (classes && !conf) || (prototypes && !coeff))))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_head_output_cuda: %d anchors, %d classes, %d prototypes, %dx%d, "
                       "batch %d (1..65535) of %zu priors, maps %p loc %p conf %p coeff %p",
                       anchors, classes, prototypes, height, width, batch, image_priors,
                       (const void *)maps, (void *)loc, (void *)conf, (void *)coeff);
    if (priors == 0)
        return YOLACT_OK;
    dim3 grid((unsigned)((priors + HEAD_THREADS - 1) / HEAD_THREADS), batch);
    YL_CUDA_CHECK(YL_LAUNCH(head_output_kernel, grid, HEAD_THREADS, 0, stream, maps, anchors,
                            classes, prototypes, plane, image_priors, loc, conf, coeff));
    return YOLACT_OK;
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
    YL_CUDA_CHECK(chw_to_hwc(in, channels, plane, batch, out, stream));
    return YOLACT_OK;
}
