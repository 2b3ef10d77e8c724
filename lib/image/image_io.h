/* Image decoding (PNG through libpng, JPEG through libjpeg-turbo) with OpenCV
 * imread(IMREAD_COLOR) semantics, and PNG encoding. The public entry points
 * (yolact_image_load, yolact_image_save_png) are thin wrappers over these. */
#ifndef YL_IMAGE_IO_H
#define YL_IMAGE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "yolact.h"

/* Decode PNG or JPEG bytes (format from the magic, not the name) into malloc'ed RGB8.
 * name is used in messages only. Dimensions are checked against YOLACT_MAX_IMAGE_SIDE and
 * YOLACT_MAX_IMAGE_PIXELS before any pixel buffer is allocated. */
yolact_status yl_image_decode_memory(const uint8_t *bytes, size_t size, const char *name,
                                     yolact_image *image);

#endif
