// YOLACT++'s mask re-scoring after the mask-IoU net: a detection's predicted mask IoU is the
// global max of its class's map, its mask score the box score times that (the CPU's
// yl_mask_rescore_cpu), for a run of a pass's masks, whatever images they belong to.
//   maps:        (n, channels, h, w) float, the net's last (ReLU'd) output of each mask
//   detections:  each image's list, class_index selects the map, score the factor
//   mask_scores: each image's, one a detection
#include "yl_device.h"
#include "yl_kernels.h"

#define RESCORE_THREADS 128

// A thread per mask: its maps are small (3x3 for a 550 input) and the CPU's scan order
// keeps the result bit-identical, NaN propagation included.
static __global__ void __launch_bounds__(RESCORE_THREADS)
mask_rescore_kernel(const float *__restrict__ maps, int first, int n, int channels, int plane,
                    const yl_mask_pass pass, const yl_raw_detection *__restrict__ detections,
                    size_t detection_stride, float *__restrict__ mask_scores,
                    size_t score_stride)
{
    const int i = (int)(blockIdx.x * RESCORE_THREADS + threadIdx.x);
    if (i >= n)
        return;
    // The image holding mask first + i: the last whose masks start at or before it (an image
    // without masks starts where the next does, so the last is the one that holds it).
    const int g = first + i;
    int b = 0;
    while (b + 1 < pass.num_images && pass.image[b + 1].first <= g)
        b++;
    const int j = g - pass.image[b].first;
    const yl_raw_detection d = detections[b * detection_stride + j];
    float *score = &mask_scores[b * score_stride + j];
    if (d.class_index < 0 || d.class_index >= channels) {
        *score = nanf("");
        return;
    }
    const float *map = maps + ((size_t)i * channels + d.class_index) * plane;
    float best = map[0];
    for (int k = 1; k < plane; k++)
        best = map[k] > best ? map[k] : best;
    *score = d.score * best;
}

extern "C" yolact_status yl_mask_rescore_cuda(const float *maps, int first, int n,
                                              int channels, int h, int w,
                                              const yl_mask_pass *pass,
                                              const yl_raw_detection *detections,
                                              size_t detection_stride, float *mask_scores,
                                              size_t score_stride, cudaStream_t stream)
{
    // The image search below relies on the pass being dense, in image order.
    const long long masks = yl_mask_pass_masks(pass, NULL);
    const bool valid = masks >= 0;
    if (!valid || first < 0 || n < 0 || first + (long long)n > masks || channels <= 0 ||
        h <= 0 || w <= 0 || (long long)h * w > 0x7fffffffLL ||
        (n && (!maps || !detections || !mask_scores)))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_mask_rescore_cuda: masks [%d, %d + %d) of %s pass of %lld, %d "
                       "channels of %dx%d, pointers maps %p detections %p mask_scores %p",
                       first, first, n, valid ? "a" : "an invalid", masks, channels, h, w,
                       (const void *)maps, (const void *)detections, (void *)mask_scores);
    if (n)
        YL_CHECK(cuda, YL_LAUNCH(mask_rescore_kernel, (n + RESCORE_THREADS - 1) / RESCORE_THREADS,
                                RESCORE_THREADS, 0, stream, maps, first, n, channels, h * w,
                                *pass, detections, detection_stride, mask_scores,
                                score_stride));
    return YOLACT_OK;
}
