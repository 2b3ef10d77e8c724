// The backward passes of the head's and the protonet's permutes and of frozen BatchNorm
// (yl_grad_kernels.h), as lib/cpu/grad_head.c and grad_batchnorm.c compute them: a thread
// an output element, each a copy or one product.
#include "yl_grad_kernels.h"

#include "grid_stride.cuh"
#include "yl_device.h"

/* grad_maps element i of (batch, A·(4 + C + K), plane): the row entry it was gathered into;
 * a coefficient's through the tanh, dy·(1 − y²). */
static __global__ void __launch_bounds__(YL_GRID_THREADS)
head_backward_kernel(const float *grad_loc, const float *grad_conf, const float *grad_coeff,
                     const float *coeff, int A, int C, int K, size_t plane, size_t image_priors,
                     float *grad_maps, size_t total)
{
    const size_t per_image = (size_t)A * (4 + C + K) * plane;
    YL_GRID_STRIDE(i, total) {
        const size_t b = i / per_image, cell = i % plane;
        int ch = (int)(i % per_image / plane);
        const size_t first = b * image_priors + cell * A;
        if (ch < 4 * A) {
            grad_maps[i] = grad_loc[(first + ch / 4) * 4 + ch % 4];
        } else if ((ch -= 4 * A) < C * A) {
            grad_maps[i] = grad_conf[(first + ch / C) * C + ch % C];
        } else {
            ch -= C * A;
            const size_t at = (first + ch / K) * K + ch % K;
            const float y = coeff[at];
            grad_maps[i] = grad_coeff[at] * (1.0f - y * y);
        }
    }
}

static __global__ void __launch_bounds__(YL_GRID_THREADS)
proto_backward_kernel(const float *__restrict__ grad_out, int channels, size_t plane,
                      float *__restrict__ grad_in, size_t total)
{
    YL_GRID_STRIDE(i, total) {
        const size_t image = plane * channels, b = i / image, k = i % image / plane;
        grad_in[i] = grad_out[b * image + i % plane * channels + k];
    }
}

static __global__ void __launch_bounds__(YL_GRID_THREADS)
bn_frozen_backward_kernel(const float *scale, int channels, size_t inner,
                          const float *grad_out, float *grad_in, size_t total)
{
    YL_GRID_STRIDE(i, total)
        grad_in[i] = grad_out[i] * scale[i / inner % channels];
}

extern "C" yolact_status yl_head_output_backward_cuda(const float *grad_loc,
                                                      const float *grad_conf,
                                                      const float *grad_coeff,
                                                      const float *coeff, int anchors,
                                                      int classes, int prototypes, int height,
                                                      int width, int batch,
                                                      size_t image_priors, float *grad_maps,
                                                      cudaStream_t stream)
{
    const size_t plane = (size_t)(height > 0 ? height : 0) * (width > 0 ? width : 0);
    const int ok = anchors > 0 && classes > 0 && prototypes >= 0 && height >= 0 && width >= 0 &&
                   batch >= 0 && image_priors >= plane * anchors;
    const size_t total = ok ? (size_t)batch * anchors * (4 + classes + prototypes) * plane : 0;
    if (!ok || (total && (!grad_loc || !grad_conf || !grad_maps ||
                          (prototypes && (!grad_coeff || !coeff)))))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_head_output_backward_cuda: %d anchors, "
                       "%d classes, %d prototypes, %dx%d, batch %d, %zu priors an image, or a "
                       "NULL tensor", anchors, classes, prototypes, height, width, batch,
                       image_priors);
    if (total)
        YL_CHECK(cuda, YL_LAUNCH(head_backward_kernel, yl_grid_blocks(total), YL_GRID_THREADS, 0,
                                 stream, grad_loc, grad_conf, grad_coeff, coeff, anchors,
                                 classes, prototypes, plane, image_priors, grad_maps, total));
    return YOLACT_OK;
}

extern "C" yolact_status yl_proto_output_backward_cuda(const float *grad_out, int channels,
                                                       int height, int width, int batch,
                                                       float *grad_in, cudaStream_t stream)
{
    if (channels < 0 || height < 0 || width < 0 || batch < 0)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_proto_output_backward_cuda: %d "
                       "channels %dx%d, batch %d", channels, height, width, batch);
    const size_t plane = (size_t)height * width, total = plane * channels * batch;
    if (total && (!grad_out || !grad_in))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_proto_output_backward_cuda: a NULL "
                       "tensor");
    if (total)
        YL_CHECK(cuda, YL_LAUNCH(proto_backward_kernel, yl_grid_blocks(total), YL_GRID_THREADS, 0,
                                 stream, grad_out, channels, plane, grad_in, total));
    return YOLACT_OK;
}

extern "C" yolact_status yl_batchnorm_frozen_backward_cuda(const float *scale, size_t outer,
                                                           int channels, size_t inner,
                                                           const float *grad_out,
                                                           float *grad_in, cudaStream_t stream)
{
    const size_t total = channels > 0 ? outer * channels * inner : 0;
    if (channels < 0 || (total && (!scale || !grad_out || !grad_in)))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_batchnorm_frozen_backward_cuda: %d "
                       "channels or a NULL tensor", channels);
    if (total)
        YL_CHECK(cuda, YL_LAUNCH(bn_frozen_backward_kernel,
                                 yl_grid_blocks(total), YL_GRID_THREADS, 0,
                                 stream, scale, channels, inner, grad_out, grad_in, total));
    return YOLACT_OK;
}
