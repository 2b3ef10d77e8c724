// The kept detections' mask coefficients and boxes, gathered by prior into the dense rows
// that the mask assembly reads (the CPU backend's copy loop after Detect).
//   coeff (P, k), detections (n), coeffs out (n, k), boxes out (n, 4)
#include "yl_device.h"
#include "yl_kernels.h"

#define GATHER_THREADS 32

// A block per detection.
static __global__ void __launch_bounds__(GATHER_THREADS)
gather_detections_kernel(const float *__restrict__ coeff, int k,
                         const yl_raw_detection *__restrict__ detections,
                         float *__restrict__ coeffs, float *__restrict__ boxes)
{
    const int i = blockIdx.x;
    const yl_raw_detection *d = &detections[i];
    const float *row = coeff + (size_t)d->prior * k;
    for (int j = threadIdx.x; j < k; j += GATHER_THREADS)
        coeffs[(size_t)i * k + j] = row[j];
    if (threadIdx.x < 4)
        boxes[(size_t)i * 4 + threadIdx.x] = d->box[threadIdx.x];
}

extern "C" yolact_status yl_gather_detections_cuda(const float *coeff, int k,
                                                   const yl_raw_detection *detections, int n,
                                                   float *coeffs, float *boxes,
                                                   cudaStream_t stream)
{
    if (k <= 0 || n < 0 || (n && (!coeff || !detections || !coeffs || !boxes)))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_gather_detections_cuda: k %d, n %d, or a NULL pointer", k, n);
    if (n)
        YL_CUDA_CHECK(YL_LAUNCH(gather_detections_kernel, n, GATHER_THREADS, 0, stream, coeff, k,
                                detections, coeffs, boxes));
    return YOLACT_OK;
}
