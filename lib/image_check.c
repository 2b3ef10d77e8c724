/* The checks every image handed to the API passes before anything reads its pixels. */
#include "image_check.h"

#include "input_limits.h"
#include "status.h"

yolact_status yl_image_check(const yolact_image *im, int index, yolact_backend backend,
                             int float_ok)
{
    if (!im->data)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "image %d has no pixels", index);
    if (im->width < 1 || im->height < 1 || im->width > yl_limit_image_side() ||
        im->height > yl_limit_image_side() ||
        (int64_t)im->width * im->height > yl_limit_image_pixels())
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "image %d is %dx%d, outside 1..%d a side "
                       "and %lld pixels", index, im->width, im->height, yl_limit_image_side(),
                       (long long)yl_limit_image_pixels());
    if (im->format != YOLACT_PIXEL_RGB8 && im->format != YOLACT_PIXEL_BGR8 &&
        im->format != YOLACT_PIXEL_BGR32F)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "image %d has unknown pixel format %d",
                       index, (int)im->format);
    if (im->format == YOLACT_PIXEL_BGR32F && !float_ok)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "image %d has float pixels "
                       "(YOLACT_PIXEL_BGR32F), which only the trainer reads", index);
    const size_t pixel_bytes = im->format == YOLACT_PIXEL_BGR32F ? 3 * sizeof(float) : 3;
    if (im->stride / pixel_bytes < (size_t)im->width)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "image %d stride %zu is smaller than a row "
                       "(%zu bytes)", index, im->stride, pixel_bytes * (size_t)im->width);
    if (im->memory != YOLACT_MEMORY_HOST && im->memory != YOLACT_MEMORY_DEVICE)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "image %d has unknown memory kind %d",
                       index, (int)im->memory);
    if (im->memory == YOLACT_MEMORY_DEVICE && backend != YOLACT_BACKEND_CUDA)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "image %d is in device memory, which only "
                       "a CUDA session reads", index);
    return YOLACT_OK;
}
