// Input preprocess (FastBaseTransform), as yl_preprocess_cpu: bilinear resize of the 8-bit
// image to size x size, (x - mean) / std, planar RGB. One thread per output pixel, which
// computes its row's and column's bilinear axis entries itself (bilinear.cuh): one launch
// an image, no tables.
//   image: (height, stride) bytes, 3 interleaved 8-bit channels (RGB or BGR)
//   out:   (3, size, size) float, planes R, G, B
#include "bilinear.cuh"
#include "yl_kernels.h"

/* Per output plane p (R, G, B): the byte of the pixel it reads, its mean and std. */
struct preprocess_params {
    int src[3];
    float mean[3], std[3];
};

static __global__ void preprocess_kernel(const uint8_t *__restrict__ image, int width,
                                         int height, size_t stride, int size,
                                         preprocess_params p, float *__restrict__ out)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= size || y >= size)
        return;
    const yl_axis_entry ey = yl_axis_entry_at(height, size, y);
    const yl_axis_entry ex = yl_axis_entry_at(width, size, x);
    const uint8_t *r0 = image + (size_t)ey.i0 * stride, *r1 = image + (size_t)ey.i1 * stride;
    const uint8_t *a = r0 + 3 * (size_t)ex.i0, *b = r0 + 3 * (size_t)ex.i1;
    const uint8_t *c = r1 + 3 * (size_t)ex.i0, *d = r1 + 3 * (size_t)ex.i1;
    const size_t plane = (size_t)size * size, at = (size_t)y * size + x;
    for (int q = 0; q < 3; q++) {
        int s = p.src[q];
        float v = yl_bilinear(a[s], b[s], c[s], d[s], ex.w0, ex.w1, ey.w0, ey.w1);
        out[q * plane + at] = (v - p.mean[q]) / p.std[q];
    }
}

extern "C" yolact_status yl_preprocess_cuda(const yolact_image *image, int size,
                                            yl_input_norm norm, const float mean_bgr[3],
                                            const float std_bgr[3], float *out,
                                            cudaStream_t stream)
{
    if (!image || !image->data || !out || size <= 0 || size > 65535 * 8 ||
        (norm == YL_INPUT_MEAN_STD && (!mean_bgr || !std_bgr)))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_preprocess_cuda: NULL argument or "
                       "size %d", size);
    if (image->width <= 0 || image->height <= 0 || image->width > YOLACT_MAX_IMAGE_SIDE ||
        image->height > YOLACT_MAX_IMAGE_SIDE || image->stride < 3 * (size_t)image->width ||
        (image->format != YOLACT_PIXEL_RGB8 && image->format != YOLACT_PIXEL_BGR8))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_preprocess_cuda: image %dx%d, stride %zu, format %d", image->width,
                       image->height, image->stride, (int)image->format);
    /* mean/std of output plane q come from the BGR triplets at index 2 - q. */
    const bool rgb = image->format == YOLACT_PIXEL_RGB8;
    preprocess_params p = {{rgb ? 0 : 2, 1, rgb ? 2 : 0}, {0, 0, 0}, {255, 255, 255}};
    for (int q = 0; q < 3 && norm == YL_INPUT_MEAN_STD; q++) {
        p.mean[q] = mean_bgr[2 - q];
        p.std[q] = std_bgr[2 - q];
    }
    dim3 block(32, 8), grid((size + 31) / 32, (size + 7) / 8);
    YL_CHECK(cuda, YL_LAUNCH(preprocess_kernel, grid, block, 0, stream, image->data,
                            image->width, image->height, image->stride, size, p, out));
    return YOLACT_OK;
}
