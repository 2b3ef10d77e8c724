// Input preprocess (FastBaseTransform), as yl_preprocess_cpu: bilinear resize of the 8-bit
// image to size x size, (x - mean) / std, planar RGB. One thread per output pixel.
//   image: (height, stride) bytes, 3 interleaved 8-bit channels (RGB or BGR)
//   tables: y (size) then x (size) bilinear axis tables (bilinear.cuh)
//   out:   (3, size, size) float, planes R, G, B
#include "bilinear.cuh"
#include "yl_kernels.h"

/* Per output plane p (R, G, B): the byte of the pixel it reads, its mean and std. */
struct preprocess_params {
    int src[3];
    float mean[3], std[3];
};

static __global__ void preprocess_kernel(const uint8_t *__restrict__ image, size_t stride,
                                         int size, const void *y_table, const void *x_table,
                                         preprocess_params p, float *__restrict__ out)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= size || y >= size)
        return;
    yl_axis_table ty = yl_axis_table_at(y_table, size), tx = yl_axis_table_at(x_table, size);
    const uint8_t *r0 = image + (size_t)ty.i0[y] * stride, *r1 = image + (size_t)ty.i1[y] * stride;
    const uint8_t *a = r0 + 3 * (size_t)tx.i0[x], *b = r0 + 3 * (size_t)tx.i1[x];
    const uint8_t *c = r1 + 3 * (size_t)tx.i0[x], *d = r1 + 3 * (size_t)tx.i1[x];
    const size_t plane = (size_t)size * size, at = (size_t)y * size + x;
    for (int q = 0; q < 3; q++) {
        int s = p.src[q];
        float v = yl_bilinear(a[s], b[s], c[s], d[s], tx.w0[x], tx.w1[x], ty.w0[y], ty.w1[y]);
        out[q * plane + at] = (v - p.mean[q]) / p.std[q];
    }
}

static cudaError_t preprocess_launch(const uint8_t *image, size_t stride, int size,
                                     const void *y_table, const void *x_table,
                                     const preprocess_params &p, float *out,
                                     cudaStream_t stream)
{
    dim3 block(32, 8), grid((size + 31) / 32, (size + 7) / 8);
    return YL_LAUNCH(preprocess_kernel, grid, block, 0, stream, image, stride, size, y_table,
                     x_table, p, out);
}

extern "C" size_t yl_preprocess_cuda_workspace_bytes(int size)
{
    return 2 * yl_bilinear_table_bytes(size);
}

extern "C" yolact_status yl_preprocess_cuda(const yolact_image *image, int size,
                                            yl_input_norm norm, const float mean_bgr[3],
                                            const float std_bgr[3], float *out,
                                            void *workspace, cudaStream_t stream)
{
    if (!image || !image->data || !out || !workspace || size <= 0 || size > 65535 * 8 ||
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
    char *y_table = static_cast<char *>(workspace), *x_table = y_table +
                                                               yl_bilinear_table_bytes(size);
    YL_TRY(yl_bilinear_axis_cuda(image->height, size, y_table, stream));
    YL_TRY(yl_bilinear_axis_cuda(image->width, size, x_table, stream));
    YL_CUDA_CHECK(preprocess_launch(image->data, image->stride, size, y_table, x_table, p, out,
                                    stream));
    return YOLACT_OK;
}
