// Fast NMS of every class at once, the NMS step of yl_detect_cpu (official Detect.fast_nms):
// IoU matrix of a class's boxes (best first), upper triangle, column max <= threshold.
// A block per class; the class's boxes and areas sit in shared memory.
//   boxes: (C, top_k, 4) x1y1x2y2, counts: (C), kept: (C, top_k) uint8
#include "yl_device.h"
#include "yl_kernels.h"

#define NMS_THREADS 256
// A class's boxes and areas in the 48 KiB a launch gets without opting in.
static_assert(5 * sizeof(float) * YL_FAST_NMS_MAX_TOP_K <= 48 * 1024, "Fast NMS smem");

static __global__ void __launch_bounds__(NMS_THREADS)
fast_nms_kernel(const float *__restrict__ boxes, const int *__restrict__ counts, int top_k,
                float threshold, uint8_t *__restrict__ kept)
{
    YL_DYNAMIC_SMEM(float, s, 5 * top_k);
    float *x1 = s, *y1 = x1 + top_k, *x2 = y1 + top_k, *y2 = x2 + top_k, *area = y2 + top_k;
    const int c = blockIdx.x, t = threadIdx.x;
    int n = counts[c];
    n = n < 0 ? 0 : n > top_k ? top_k : n;
    const float *b = boxes + (size_t)c * top_k * 4;
    for (int i = t; i < n; i += NMS_THREADS) {
        x1[i] = b[4 * i];
        y1[i] = b[4 * i + 1];
        x2[i] = b[4 * i + 2];
        y2[i] = b[4 * i + 3];
        area[i] = (x2[i] - x1[i]) * (y2[i] - y1[i]);
    }
    __syncthreads();
    for (int j = t; j < top_k; j += NMS_THREADS) {
        bool keep = j < n;
        /* box_utils.jaccard's float32 operations, NaN handling included (the comparisons,
         * not fminf); !(iou <= threshold) rejects a NaN IoU as torch.max does. */
        for (int i = 0; i < j && keep; i++) {
            float iw = (x2[i] < x2[j] ? x2[i] : x2[j]) - (x1[i] > x1[j] ? x1[i] : x1[j]);
            float ih = (y2[i] < y2[j] ? y2[i] : y2[j]) - (y1[i] > y1[j] ? y1[i] : y1[j]);
            iw = iw < 0.0f ? 0.0f : iw;
            ih = ih < 0.0f ? 0.0f : ih;
            float inter = iw * ih;
            keep = inter / (area[i] + area[j] - inter) <= threshold;
        }
        kept[(size_t)c * top_k + j] = keep;
    }
}

static cudaError_t fast_nms_launch(const float *boxes, const int *counts, int num_classes,
                                   int top_k, float threshold, uint8_t *kept,
                                   cudaStream_t stream)
{
    return YL_LAUNCH(fast_nms_kernel, num_classes, NMS_THREADS, 5 * sizeof(float) * top_k,
                     stream, boxes, counts, top_k, threshold, kept);
}

extern "C" yolact_status yl_fast_nms_cuda(const float *boxes, const int *counts,
                                          int num_classes, int top_k, float threshold,
                                          uint8_t *kept, cudaStream_t stream)
{
    if (num_classes < 0 || top_k <= 0 || top_k > YL_FAST_NMS_MAX_TOP_K ||
        (num_classes && (!boxes || !counts || !kept)))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_fast_nms_cuda: %d classes, top_k %d (1..%d), pointers %p %p %p",
                       num_classes, top_k, YL_FAST_NMS_MAX_TOP_K, (const void *)boxes,
                       (const void *)counts, (void *)kept);
    if (num_classes == 0)
        return YOLACT_OK;
    YL_CHECK(cuda, fast_nms_launch(boxes, counts, num_classes, top_k, threshold, kept, stream));
    return YOLACT_OK;
}
