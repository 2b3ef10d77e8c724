/* The checks every image handed to the API passes (sessions, the trainer). */
#ifndef YL_IMAGE_CHECK_H
#define YL_IMAGE_CHECK_H

#include "yolact.h"

/* YOLACT_ERR_INVALID_ARGUMENT naming image `index` for no pixels, a size outside the
 * limits, a short stride, an unknown format or memory kind, device memory for a backend
 * other than CUDA, or float pixels (YOLACT_PIXEL_BGR32F) where float_ok is 0 (only the
 * trainer reads them). */
yolact_status yl_image_check(const yolact_image *image, int index, yolact_backend backend,
                             int float_ok);

#endif
