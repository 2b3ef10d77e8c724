// The official postprocess's score_threshold on the device (yl_keep_scores_above_cpu), for
// a batch of Detect's lists at once: each image's count cut to the prefix scoring above the
// threshold, before the masks are made, so no mask is made or downloaded for a detection
// that is dropped. A thread per image; a list is at most max_detections long.
#include "yl_device.h"
#include "yl_kernels.h"

#define FILTER_THREADS 64

static __global__ void __launch_bounds__(FILTER_THREADS)
keep_scores_above_kernel(const yl_raw_detection *__restrict__ detections, int stride,
                         int *__restrict__ counts, int batch, float threshold)
{
    const int b = blockIdx.x * FILTER_THREADS + threadIdx.x;
    if (b >= batch)
        return;
    const yl_raw_detection *list = detections + (size_t)b * stride;
    const int n = counts[b];
    int kept = 0;
    while (kept < n && list[kept].score > threshold)
        kept++;
    counts[b] = kept;
}

extern "C" yolact_status yl_keep_scores_above_cuda(const yl_raw_detection *detections,
                                                   int stride, int *counts, int batch,
                                                   float threshold, cudaStream_t stream)
{
    if (batch < 0 || stride < 0 || (batch && (!detections || !counts)))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_keep_scores_above_cuda: batch %d, stride %d, detections %p, "
                       "counts %p", batch, stride, (const void *)detections, (void *)counts);
    if (batch)
        YL_CHECK(cuda, YL_LAUNCH(keep_scores_above_kernel, (batch + FILTER_THREADS - 1) /
                                FILTER_THREADS, FILTER_THREADS, 0, stream, detections, stride,
                                counts, batch, threshold));
    return YOLACT_OK;
}
