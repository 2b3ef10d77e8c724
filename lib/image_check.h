/* The checks every image handed to the API passes (sessions, the trainer). */
#ifndef YL_IMAGE_CHECK_H
#define YL_IMAGE_CHECK_H

#include "yolact.h"

/* YOLACT_ERR_INVALID_ARGUMENT naming image `index` for no pixels, a size outside the
 * limits, a short stride, an unknown format or memory kind, or device memory for a backend
 * other than CUDA. */
yolact_status yl_image_check(const yolact_image *image, int index, yolact_backend backend);

#endif
