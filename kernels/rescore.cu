// YOLACT++'s mask re-scoring after the mask-IoU net: a detection's predicted mask IoU is the
// global max of its class's map, its mask score the box score times that (the CPU's
// yl_maskiou_cpu max and the backend's product).
//   maps:        (n, channels, h, w) float, the net's last (ReLU'd) output of each detection
//   detections:  (n), class_index selects the map, score the factor
//   mask_scores: (n) float
#include "yl_device.h"
#include "yl_kernels.h"

#define RESCORE_THREADS 128

// A thread per detection: its maps are small (3x3 for a 550 input) and the CPU's scan order
// keeps the result bit-identical, NaN propagation included.
static __global__ void __launch_bounds__(RESCORE_THREADS)
mask_rescore_kernel(const float *__restrict__ maps, int n, int channels, int plane,
                    const yl_raw_detection *__restrict__ detections,
                    float *__restrict__ mask_scores)
{
    const int i = (int)(blockIdx.x * RESCORE_THREADS + threadIdx.x);
    if (i >= n)
        return;
    const int cls = detections[i].class_index;
    if (cls < 0 || cls >= channels) {
        mask_scores[i] = nanf("");
        return;
    }
    const float *map = maps + ((size_t)i * channels + cls) * plane;
    float best = map[0];
    for (int j = 1; j < plane; j++)
        best = map[j] > best ? map[j] : best;
    mask_scores[i] = detections[i].score * best;
}

extern "C" yolact_status yl_mask_rescore_cuda(const float *maps, int n, int channels, int h,
                                              int w, const yl_raw_detection *detections,
                                              float *mask_scores, cudaStream_t stream)
{
    if (n < 0 || channels <= 0 || h <= 0 || w <= 0 || (long long)h * w > 0x7fffffffLL ||
        (n && (!maps || !detections || !mask_scores)))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_mask_rescore_cuda: %d maps of %d channels of %dx%d, pointers maps "
                       "%p detections %p mask_scores %p", n, channels, h, w, (const void *)maps,
                       (const void *)detections, (void *)mask_scores);
    if (n)
        YL_CUDA_CHECK(YL_LAUNCH(mask_rescore_kernel, (n + RESCORE_THREADS - 1) / RESCORE_THREADS,
                                RESCORE_THREADS, 0, stream, maps, n, channels, h * w,
                                detections, mask_scores));
    return YOLACT_OK;
}
