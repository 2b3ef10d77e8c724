// The backward pass of the official training's masks (yl_grad_kernels.h), as
// lib/cpu/grad_masks.c computes it: the crop and the sigmoid into the logits' gradient, a
// thread an entry; then d P += d logits · C and d C += d logitsᵀ · P, a thread an output
// entry summing in order.
#include "yl_grad_kernels.h"

#include "crop_range.cuh"
#include "grid_stride.cuh"
#include "yl_device.h"

/* grad_logits (pixels, n): d masks · sigmoid' inside the mask's crop, 0 outside. */
static __global__ void __launch_bounds__(YL_GRID_THREADS)
logits_kernel(int proto_h, int proto_w, int n, const float *boxes, const float *masks,
              const float *grad_masks, float *grad_logits, size_t total)
{
    YL_GRID_STRIDE(i, total) {
        const int j = (int)(i % n);
        const size_t pixel = i / n;
        const int r = (int)(pixel / proto_w), x = (int)(pixel % proto_w);
        int c0, c1, r0, r1;
        yl_crop_range_device(boxes[j * 4 + 1], boxes[j * 4 + 3], proto_h, &r0, &r1);
        yl_crop_range_device(boxes[j * 4], boxes[j * 4 + 2], proto_w, &c0, &c1);
        grad_logits[i] = r >= r0 && r < r1 && x >= c0 && x < c1
                             ? grad_masks[i] * (1.0f - masks[i]) * masks[i] : 0.0f;
    }
}

/* grad_proto (pixels, k) += grad_logits (pixels, n) · coeff (n, k) */
static __global__ void __launch_bounds__(YL_GRID_THREADS)
proto_grad_kernel(const float *grad_logits, const float *coeff, int n, int k,
                  float *grad_proto, size_t total)
{
    YL_GRID_STRIDE(i, total) {
        const size_t pixel = i / k;
        const int c = (int)(i % k);
        float sum = 0.0f;
        for (int j = 0; j < n; j++)
            sum += grad_logits[pixel * n + j] * coeff[(size_t)j * k + c];
        grad_proto[i] += sum;
    }
}

/* grad_coeff (n, k) += grad_logitsᵀ (n, pixels) · proto (pixels, k) */
static __global__ void __launch_bounds__(YL_GRID_THREADS)
coeff_grad_kernel(const float *grad_logits, const float *proto, int pixels, int n, int k,
                  float *grad_coeff, size_t total)
{
    YL_GRID_STRIDE(i, total) {
        const int j = (int)(i / k), c = (int)(i % k);
        float sum = 0.0f;
        for (int p = 0; p < pixels; p++)
            sum += grad_logits[(size_t)p * n + j] * proto[(size_t)p * k + c];
        grad_coeff[i] += sum;
    }
}

extern "C" yolact_status yl_masks_backward_cuda(const float *proto, int proto_h, int proto_w,
                                                int k, const float *coeff, int n,
                                                const float *boxes, const float *masks,
                                                const float *grad_masks, float *grad_logits,
                                                float *grad_proto, float *grad_coeff,
                                                cudaStream_t stream)
{
    if (proto_h < 0 || proto_w < 0 || k < 0 || n < 0)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_masks_backward_cuda: %dx%d prototypes "
                       "of %d, %d masks", proto_h, proto_w, k, n);
    const size_t pixels = (size_t)proto_h * proto_w;
    if (pixels == 0 || n == 0)          /* the CPU's early return: nothing written */
        return YOLACT_OK;
    if (pixels > 0x7fffffff || !boxes || !masks || !grad_masks || !grad_logits ||
        (k && (!proto || !coeff || !grad_proto || !grad_coeff)))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_masks_backward_cuda: a NULL tensor or "
                       "%zu pixels", pixels);
    const size_t logits = pixels * n;
    YL_CHECK(cuda, YL_LAUNCH(logits_kernel, yl_grid_blocks(logits), YL_GRID_THREADS, 0, stream,
                             proto_h, proto_w, n, boxes, masks, grad_masks, grad_logits,
                             logits));
    if (k == 0)
        return YOLACT_OK;
    YL_CHECK(cuda, YL_LAUNCH(proto_grad_kernel,
                             yl_grid_blocks(pixels * k), YL_GRID_THREADS, 0, stream,
                             grad_logits, coeff, n, k, grad_proto, pixels * k));
    YL_CHECK(cuda, YL_LAUNCH(coeff_grad_kernel, yl_grid_blocks((size_t)n * k), YL_GRID_THREADS, 0,
                             stream, grad_logits, proto, (int)pixels, n, k, grad_coeff,
                             (size_t)n * k));
    return YOLACT_OK;
}
